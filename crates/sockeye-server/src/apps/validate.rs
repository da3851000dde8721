//! Validation of what users send: room and area names, nicknames, message texts,
//! place names and picture URLs.
//!
//! Everything arriving from a socket is untrusted: each check bounds the length in
//! characters (not bytes, so non-Latin names get the same room) and the alphabet, and
//! returns a typed error whose message can be shown to the user as is.

use sockeye::Value;

/// Longest room (chat) or area (vote) name.
pub const MAX_NAME: usize = 40;
/// Longest nickname.
pub const MAX_NICK: usize = 24;
/// Longest chat message.
pub const MAX_MESSAGE: usize = 500;
/// Longest place name in the vote.
pub const MAX_PLACE: usize = 60;
/// Longest picture URL.
pub const MAX_URL: usize = 500;

/// Why an input was refused. The message is meant for the user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidInput {
    #[error("{field} is missing or is not text")]
    NotText { field: &'static str },
    #[error("{field} is empty")]
    Empty { field: &'static str },
    #[error("{field} is too long (at most {max} characters)")]
    TooLong { field: &'static str, max: usize },
    #[error("{field} may only contain {allowed}")]
    BadCharacters {
        field: &'static str,
        allowed: &'static str,
    },
    #[error("the picture must be an http:// or https:// address")]
    NotHttpUrl,
}

/// The string at `value`, or an error naming `field`.
pub fn text_arg<'a>(
    value: Option<&'a Value>,
    field: &'static str,
) -> Result<&'a str, InvalidInput> {
    value
        .and_then(Value::as_str)
        .ok_or(InvalidInput::NotText { field })
}

/// The string field `key` of the object at `value`.
pub fn text_field<'a>(
    value: Option<&'a Value>,
    key: &str,
    field: &'static str,
) -> Result<&'a str, InvalidInput> {
    text_arg(value.and_then(|v| v.get(key)), field)
}

fn bounded<'a>(raw: &'a str, field: &'static str, max: usize) -> Result<&'a str, InvalidInput> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err(InvalidInput::Empty { field });
    }
    if trimmed.chars().count() > max {
        return Err(InvalidInput::TooLong { field, max });
    }
    Ok(trimmed)
}

/// A chat room or vote area name: 1–40 letters, digits, spaces, `-` or `_`.
pub fn room_name(raw: &str, field: &'static str) -> Result<String, InvalidInput> {
    let name = bounded(raw, field, MAX_NAME)?;
    if !name
        .chars()
        .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | ' '))
    {
        return Err(InvalidInput::BadCharacters {
            field,
            allowed: "letters, digits, spaces, '-' and '_'",
        });
    }
    Ok(name.to_string())
}

fn nick_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | ' ' | '\'')
}

/// A nickname: 1–24 letters, digits, spaces, `-`, `_`, `.` or `'`.
pub fn nickname(raw: &str) -> Result<String, InvalidInput> {
    let field = "nickname";
    let nick = bounded(raw, field, MAX_NICK)?;
    if !nick.chars().all(nick_char) {
        return Err(InvalidInput::BadCharacters {
            field,
            allowed: "letters, digits, spaces, '-', '_', '.' and '''",
        });
    }
    Ok(nick.to_string())
}

/// Turns a name from a session (which we do not control) into a valid nickname by
/// dropping the characters a nickname may not hold; empty when nothing is left.
pub fn sanitize_display_name(raw: &str) -> String {
    let kept: String = raw.chars().filter(|&c| nick_char(c)).collect();
    kept.trim()
        .chars()
        .take(MAX_NICK)
        .collect::<String>()
        .trim()
        .to_string()
}

/// A free text (chat message, place name): trimmed, non-empty, at most `max`
/// characters; control characters (newlines included) become spaces, so one message
/// is one line.
pub fn free_text(raw: &str, field: &'static str, max: usize) -> Result<String, InvalidInput> {
    let text = bounded(raw, field, max)?;
    Ok(text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect())
}

/// An optional picture URL: empty means none; otherwise an absolute http(s) URL with
/// a host, at most 500 characters, without spaces or quotes.
pub fn picture_url(raw: &str) -> Result<Option<String>, InvalidInput> {
    let url = raw.trim();
    if url.is_empty() {
        return Ok(None);
    }
    if url.chars().count() > MAX_URL {
        return Err(InvalidInput::TooLong {
            field: "picture",
            max: MAX_URL,
        });
    }
    let lower = url.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"))
        .ok_or(InvalidInput::NotHttpUrl)?;
    let host_ok = rest
        .split(['/', '?', '#'])
        .next()
        .is_some_and(|host| !host.is_empty());
    let clean = url.chars().all(|c| {
        !c.is_control() && !c.is_whitespace() && !matches!(c, '"' | '\'' | '<' | '>' | '\\')
    });
    if !host_ok || !clean {
        return Err(InvalidInput::NotHttpUrl);
    }
    Ok(Some(url.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_names() {
        assert_eq!(
            room_name("  Rust fans_2-x ", "room").unwrap(),
            "Rust fans_2-x"
        );
        assert_eq!(room_name("Café", "room").unwrap(), "Café");
        assert_eq!(
            room_name("", "room"),
            Err(InvalidInput::Empty { field: "room" })
        );
        assert!(matches!(
            room_name("a/b", "room"),
            Err(InvalidInput::BadCharacters { .. })
        ));
        assert!(matches!(
            room_name("<b>", "room"),
            Err(InvalidInput::BadCharacters { .. })
        ));
        assert!(room_name(&"x".repeat(40), "room").is_ok());
        assert_eq!(
            room_name(&"x".repeat(41), "room"),
            Err(InvalidInput::TooLong {
                field: "room",
                max: 40
            })
        );
    }

    #[test]
    fn nicknames() {
        assert_eq!(nickname(" Ann O'Neil ").unwrap(), "Ann O'Neil");
        assert!(nickname("<script>").is_err());
        assert!(nickname(&"é".repeat(25)).is_err());
        assert_eq!(sanitize_display_name("<b>Bob</b>"), "bBobb");
        assert_eq!(sanitize_display_name("<>"), "");
    }

    #[test]
    fn texts() {
        assert_eq!(
            free_text(" hi\nthere ", "message", 500).unwrap(),
            "hi there"
        );
        assert!(free_text(&"a".repeat(500), "message", 500).is_ok());
        assert_eq!(
            free_text(&"a".repeat(501), "message", 500),
            Err(InvalidInput::TooLong {
                field: "message",
                max: 500
            })
        );
        assert!(free_text("   ", "message", 500).is_err());
        assert_eq!(
            text_arg(Some(&Value::from(3)), "message"),
            Err(InvalidInput::NotText { field: "message" })
        );
        assert!(text_arg(None, "message").is_err());
    }

    #[test]
    fn pictures() {
        assert_eq!(picture_url("").unwrap(), None);
        assert_eq!(
            picture_url("https://example.com/a.png").unwrap().as_deref(),
            Some("https://example.com/a.png")
        );
        assert!(picture_url("HTTP://example.com").unwrap().is_some());
        assert_eq!(
            picture_url("javascript:alert(1)"),
            Err(InvalidInput::NotHttpUrl)
        );
        assert_eq!(
            picture_url("data:image/png;base64,xx"),
            Err(InvalidInput::NotHttpUrl)
        );
        assert_eq!(picture_url("https://"), Err(InvalidInput::NotHttpUrl));
        assert_eq!(
            picture_url("https://a.b/x\" onerror=\"x"),
            Err(InvalidInput::NotHttpUrl)
        );
        assert!(picture_url(&format!("https://a.b/{}", "x".repeat(500))).is_err());
    }
}
