//! The few Engine.IO v4 / Socket.IO v5 text frames the generator sends and reads.
//!
//! Reading is on the hot path (every delivered message of a fan-out goes through
//! [`parse_msg`]), so the messages the generator publishes have a fixed shape and are
//! scanned for their two numbers instead of being parsed as JSON.

use std::sync::OnceLock;
use std::time::Instant;

/// Engine.IO `ping` (the server's heartbeat) and the `pong` answer.
pub const PING: &str = "2";
pub const PONG: &str = "3";
/// Socket.IO CONNECT to namespace `/` without auth.
pub const CONNECT: &str = "40";

/// Microseconds since the first call in this process: the clock carried in payloads.
pub fn now_us() -> u64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    EPOCH.get_or_init(Instant::now).elapsed().as_micros() as u64
}

/// `42["pub","room",{"s":seq,"t":sent_us}]`: ask the server to emit `msg` to `room`.
pub fn publish(room: &str, seq: u64, sent_us: u64) -> String {
    format!(r#"42["pub","{room}",{{"s":{seq},"t":{sent_us}}}]"#)
}

/// `42<id>["event",args...]`: an event asking for an ack.
pub fn event_with_ack(id: u64, event: &str, args_json: &str) -> String {
    format!(r#"42{id}["{event}",{args_json}]"#)
}

/// A `msg` delivery: its sequence number and the time it was published.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivery {
    pub seq: u64,
    pub sent_us: u64,
}

const MSG_PREFIX: &str = r#"42["msg",{"#;

/// Reads `42["msg",{"s":N,"t":N}]` (keys in any order, as servers may reorder them).
/// `None` if the frame is not a `msg` event of that shape.
pub fn parse_msg(frame: &str) -> Option<Delivery> {
    let body = frame.strip_prefix(MSG_PREFIX)?;
    let seq = number_after(body, r#""s":"#)?;
    let sent_us = number_after(body, r#""t":"#)?;
    Some(Delivery { seq, sent_us })
}

fn number_after(body: &str, key: &str) -> Option<u64> {
    let start = body.find(key)? + key.len();
    let digits = &body[start..];
    let end = digits
        .bytes()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(digits.len());
    digits[..end].parse().ok()
}

/// An ack frame `43<id>[args...]`: its id and the JSON array of its arguments.
pub fn parse_ack(frame: &str) -> Option<(u64, &str)> {
    let rest = frame.strip_prefix("43")?;
    let end = rest.bytes().position(|b| !b.is_ascii_digit())?;
    let id = rest[..end].parse().ok()?;
    Some((id, &rest[end..]))
}

/// The `sid` of an Engine.IO open packet `0{"sid":...}` (or of a Socket.IO CONNECT
/// answer `40{"sid":...}`).
pub fn sid_of(json: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(json).ok()?;
    value.get("sid")?.as_str().map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn msg_frames_are_read_whatever_the_key_order() {
        let d = Delivery {
            seq: 12,
            sent_us: 345,
        };
        assert_eq!(parse_msg(r#"42["msg",{"s":12,"t":345}]"#), Some(d));
        assert_eq!(parse_msg(r#"42["msg",{"t":345,"s":12}]"#), Some(d));
        assert_eq!(parse_msg(r#"42["other",{"s":12,"t":345}]"#), None);
        assert_eq!(parse_msg(r#"42["msg",{"s":"x","t":345}]"#), None);
    }

    #[test]
    fn published_frames_are_delivered_with_the_same_numbers() {
        let frame = publish("r", 7, 99);
        assert_eq!(frame, r#"42["pub","r",{"s":7,"t":99}]"#);
        let value: serde_json::Value = serde_json::from_str(&frame[2..]).unwrap();
        let delivered = format!(r#"42["msg",{}]"#, value[2]);
        assert_eq!(
            parse_msg(&delivered),
            Some(Delivery {
                seq: 7,
                sent_us: 99
            })
        );
    }

    #[test]
    fn acks_and_sids() {
        assert_eq!(parse_ack(r#"4317[{"a":1}]"#), Some((17, r#"[{"a":1}]"#)));
        assert_eq!(parse_ack(r#"42["x"]"#), None);
        assert_eq!(
            sid_of(r#"{"sid":"abc","pingInterval":25000}"#).as_deref(),
            Some("abc")
        );
        assert_eq!(sid_of("{}"), None);
    }
}
