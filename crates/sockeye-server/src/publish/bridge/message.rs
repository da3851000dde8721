//! The bridge channel's message format:
//! `{"room"?, "except"?, "event", "data"?, "namespace"?}`.

use serde::Deserialize;

use crate::publish::{fields, Publication};

/// How much of a refused message goes into the log: enough to recognise the
/// publisher, never a whole megabyte of someone's data.
const PREVIEW_CHARS: usize = 120;

/// Why a bridge message was skipped.
#[derive(Debug, thiserror::Error)]
pub enum MessageError {
    #[error("the message is {size} bytes, over the limit of {limit}")]
    TooLarge { size: usize, limit: usize },
    #[error("the message is not valid JSON for the bridge: {0}")]
    Invalid(#[from] serde_json::Error),
}

/// One bridge message. Unknown fields are refused, as in the HTTP API: a misspelt
/// `room` must not turn into a broadcast to everyone.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BridgeMessage {
    #[serde(default, deserialize_with = "fields::rooms")]
    room: Vec<String>,
    #[serde(default, deserialize_with = "fields::rooms")]
    except: Vec<String>,
    #[serde(default)]
    event: String,
    #[serde(default, deserialize_with = "fields::present")]
    data: Option<serde_json::Value>,
    namespace: Option<String>,
}

/// Reads a message; `data`, when present, becomes the event's single argument.
pub(crate) fn parse(payload: &[u8], limit: usize) -> Result<Publication, MessageError> {
    if payload.len() > limit {
        return Err(MessageError::TooLarge {
            size: payload.len(),
            limit,
        });
    }
    let message: BridgeMessage = serde_json::from_slice(payload)?;
    Ok(Publication {
        namespace: message.namespace,
        rooms: message.room,
        except: message.except,
        event: message.event,
        args: message.data.map(sockeye::Value::from).into_iter().collect(),
    })
}

/// The start of a payload for a log line, on a character boundary.
pub(crate) fn preview(payload: &[u8]) -> String {
    let text = String::from_utf8_lossy(payload);
    let mut out: String = text.chars().take(PREVIEW_CHARS).collect();
    if text.chars().nth(PREVIEW_CHARS).is_some() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use sockeye::Value;

    #[test]
    fn reads_the_documented_fields() {
        let p = parse(
            br#"{"room":"r","except":"x","event":"news","data":{"a":1},"namespace":"/n"}"#,
            1000,
        )
        .unwrap();
        assert_eq!(p.rooms, vec!["r"]);
        assert_eq!(p.except, vec!["x"]);
        assert_eq!(p.event, "news");
        assert_eq!(p.namespace.as_deref(), Some("/n"));
        assert_eq!(p.args.len(), 1);
    }

    #[test]
    fn null_data_is_one_argument_and_missing_data_none() {
        let p = parse(br#"{"event":"e","data":null}"#, 1000).unwrap();
        assert_eq!(p.args, vec![Value::Null]);
        let p = parse(br#"{"event":"e"}"#, 1000).unwrap();
        assert!(p.args.is_empty());
        assert!(p.rooms.is_empty());
    }

    #[test]
    fn refuses_misspelt_fields_bad_rooms_and_oversized_messages() {
        assert!(parse(br#"{"rooms":"r","event":"e"}"#, 1000).is_err());
        assert!(parse(br#"{"room":5,"event":"e"}"#, 1000).is_err());
        assert!(parse(br#"not json"#, 1000).is_err());
        assert!(matches!(
            parse(br#"{"event":"e"}"#, 4),
            Err(MessageError::TooLarge { .. })
        ));
    }

    #[test]
    fn previews_are_short() {
        let long = "é".repeat(1000);
        let p = preview(long.as_bytes());
        assert_eq!(p.chars().count(), PREVIEW_CHARS + 1);
    }
}
