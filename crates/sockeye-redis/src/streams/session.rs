//! Disconnected sessions in Redis, as the Node.js streams adapter keeps them: the key
//! `<sessionKeyPrefix><pid>` holds the base64 of the msgpack map `{sid, pid, rooms,
//! data}` and expires after the recovery window.

use base64::Engine as _;
use rmpv::Value as Mp;
use sockeye::adapter::{BroadcastOptions, Room, SocketId};
use sockeye::recovery::SessionState;

use crate::wire::broadcast::{decode_msgpack, field};
use crate::wire::value::{from_msgpack, room_name, to_msgpack};
use crate::RedisAdapterError;

/// The value stored under the session key.
pub(crate) fn encode(session: &SessionState) -> Result<String, RedisAdapterError> {
    let rooms = session.rooms.iter().map(|r| Mp::from(&**r)).collect();
    let map = Mp::Map(vec![
        (Mp::from("sid"), Mp::from(session.sid.as_str())),
        (Mp::from("pid"), Mp::from(&*session.pid)),
        (Mp::from("rooms"), Mp::Array(rooms)),
        (Mp::from("data"), to_msgpack(&session.data)),
    ]);
    let mut bytes = Vec::new();
    rmpv::encode::write_value(&mut bytes, &map)
        .map_err(|e| RedisAdapterError::Malformed(format!("cannot encode a session: {e}")))?;
    Ok(base64::engine::general_purpose::STANDARD.encode(bytes))
}

/// A session out of the value stored under its key.
pub(crate) fn decode(text: &[u8]) -> Result<SessionState, RedisAdapterError> {
    let bad = |why: &str| RedisAdapterError::Malformed(format!("session: {why}"));
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text.trim_ascii())
        .map_err(|_| bad("not base64"))?;
    let value = decode_msgpack(&bytes)?;
    let text = |name: &str| field(&value, name).and_then(Mp::as_str);
    let sid = text("sid").ok_or_else(|| bad("no sid"))?;
    let pid = text("pid").ok_or_else(|| bad("no pid"))?;
    let rooms = match field(&value, "rooms") {
        Some(Mp::Array(items)) => items.iter().filter_map(room_name).map(Room::from).collect(),
        _ => Vec::new(),
    };
    Ok(SessionState {
        sid: SocketId::from(sid),
        pid: pid.into(),
        rooms,
        data: field(&value, "data")
            .cloned()
            .map(from_msgpack)
            .unwrap_or_default(),
    })
}

/// Whether a socket in `rooms` was a recipient of a broadcast with `opts`.
pub(crate) fn was_recipient(rooms: &[Room], opts: &BroadcastOptions) -> bool {
    let included = opts.rooms.is_empty() || rooms.iter().any(|r| opts.rooms.contains(r));
    included && !rooms.iter().any(|r| opts.except.contains(r))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sockeye::Value;

    #[test]
    fn sessions_round_trip_and_garbage_is_refused() {
        let session = SessionState {
            sid: SocketId::from("sid1"),
            pid: "pid1".into(),
            rooms: vec![Room::from("sid1"), Room::from("news")],
            data: Value::from("alice"),
        };
        let text = encode(&session).expect("encodable");
        assert_eq!(decode(text.as_bytes()).expect("decodable"), session);
        for bad in [&b""[..], b"***", b"wf8=", b"kQE="] {
            assert!(decode(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn recipients_follow_rooms_and_except() {
        let rooms = [Room::from("s"), Room::from("a")];
        let to = |r: &[&str], e: &[&str]| BroadcastOptions {
            rooms: r.iter().map(|x| Room::from(*x)).collect(),
            except: e.iter().map(|x| Room::from(*x)).collect(),
            ..Default::default()
        };
        assert!(was_recipient(&rooms, &to(&[], &[])));
        assert!(was_recipient(&rooms, &to(&["a", "b"], &[])));
        assert!(!was_recipient(&rooms, &to(&["b"], &[])));
        assert!(!was_recipient(&rooms, &to(&[], &["s"])));
    }
}
