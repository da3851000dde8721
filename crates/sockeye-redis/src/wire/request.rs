//! Requests and responses between nodes: JSON objects on `<key>-request#<nsp>#` and
//! `<key>-response#<nsp>#[<uid>#]`, typed by a number (`RequestType` in the Node.js
//! adapter). Only BROADCAST (7) requests and BROADCAST_ACK (9) responses are msgpack;
//! a message is JSON when its first byte is `{`, like the Node.js adapter decides.

use serde::Deserialize;
use serde_json::{json, Value as Json};
use sockeye::adapter::{BroadcastOptions, Room};
use sockeye::{SocketDescription, Value};

use crate::RedisAdapterError;

/// `RequestType` of the Node.js adapter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum RequestType {
    Sockets = 0,
    AllRooms = 1,
    RemoteJoin = 2,
    RemoteLeave = 3,
    RemoteDisconnect = 4,
    RemoteFetch = 5,
    ServerSideEmit = 6,
    Broadcast = 7,
    BroadcastClientCount = 8,
    BroadcastAck = 9,
}

impl RequestType {
    pub(crate) fn from_u64(n: u64) -> Option<Self> {
        use RequestType::*;
        Some(match n {
            0 => Sockets,
            1 => AllRooms,
            2 => RemoteJoin,
            3 => RemoteLeave,
            4 => RemoteDisconnect,
            5 => RemoteFetch,
            6 => ServerSideEmit,
            7 => Broadcast,
            8 => BroadcastClientCount,
            9 => BroadcastAck,
            _ => return None,
        })
    }
}

/// Whether a request or response is JSON (else msgpack).
pub(crate) fn is_json(bytes: &[u8]) -> bool {
    bytes.first() == Some(&b'{')
}

/// A JSON request from another node; which fields are set depends on its type.
#[derive(Debug, Deserialize)]
pub(crate) struct Request {
    pub uid: Option<String>,
    #[serde(rename = "requestId")]
    pub request_id: Option<String>,
    #[serde(rename = "type")]
    pub kind: u64,
    pub opts: Option<RawOpts>,
    /// REMOTE_JOIN/LEAVE with `opts`: the rooms to join or leave. SOCKETS: the rooms to list.
    #[serde(default, deserialize_with = "loose_room_list_opt")]
    pub rooms: Option<Vec<Json>>,
    /// Single-socket form of REMOTE_JOIN/LEAVE/DISCONNECT (`remoteJoin(id, room)`).
    pub sid: Option<String>,
    pub room: Option<Json>,
    #[serde(default, deserialize_with = "loose_bool")]
    pub close: Option<bool>,
    /// SERVER_SIDE_EMIT: `[event, ...args]`.
    pub data: Option<Vec<Json>>,
}

/// `{rooms, except}` of a request (flags are not forwarded in requests).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct RawOpts {
    #[serde(default, deserialize_with = "loose_room_list")]
    rooms: Vec<Json>,
    #[serde(default, deserialize_with = "loose_room_list")]
    except: Vec<Json>,
}

/// A list of rooms as emitters in other languages write it: an array, `null` or `""`
/// (none), one string or number (that room), or an object such as a PHP array with
/// gaps in its keys (its values).
fn loose_room_list<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<Json>, D::Error> {
    Ok(match Json::deserialize(d)? {
        Json::Array(list) => list,
        Json::Null => Vec::new(),
        Json::String(s) if s.is_empty() => Vec::new(),
        one @ (Json::String(_) | Json::Number(_)) => vec![one],
        Json::Object(map) => map.into_iter().map(|(_, v)| v).collect(),
        Json::Bool(_) => Vec::new(),
    })
}

fn loose_room_list_opt<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Vec<Json>>, D::Error> {
    loose_room_list(d).map(Some)
}

/// A flag as JavaScript reads it: `true`/`false`, `0`/`1`, `null` (absent).
fn loose_bool<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    Ok(match Json::deserialize(d)? {
        Json::Null => None,
        Json::Bool(b) => Some(b),
        Json::Number(n) => Some(n.as_f64().is_some_and(|v| v != 0.0)),
        Json::String(s) => Some(!s.is_empty()),
        Json::Array(_) | Json::Object(_) => Some(true),
    })
}

impl RawOpts {
    pub(crate) fn to_options(&self) -> BroadcastOptions {
        BroadcastOptions {
            rooms: rooms_of(&self.rooms),
            except: rooms_of(&self.except),
            ..Default::default()
        }
    }
}

/// Room names out of JSON: strings, or numbers written the way JavaScript would.
pub(crate) fn rooms_of(list: &[Json]) -> Vec<Room> {
    list.iter().filter_map(room_of).collect()
}

pub(crate) fn room_of(value: &Json) -> Option<Room> {
    match value {
        Json::String(s) => Some(Room::from(s.as_str())),
        Json::Number(n) => Some(Room::from(n.to_string().as_str())),
        _ => None,
    }
}

impl Request {
    pub(crate) fn parse(bytes: &[u8]) -> Result<Self, RedisAdapterError> {
        serde_json::from_slice(bytes)
            .map_err(|e| RedisAdapterError::Malformed(format!("request: {e}")))
    }
}

fn opts_json(opts: &BroadcastOptions) -> Json {
    let list = |rooms: &[Room]| rooms.iter().map(|r| Json::from(&**r)).collect::<Vec<_>>();
    json!({ "rooms": list(&opts.rooms), "except": list(&opts.except) })
}

/// REMOTE_FETCH: every node answers with its sockets matching `opts`.
pub(crate) fn fetch_request(uid: &str, request_id: &str, opts: &BroadcastOptions) -> String {
    json!({
        "uid": uid,
        "requestId": request_id,
        "type": RequestType::RemoteFetch as u8,
        "opts": opts_json(opts),
    })
    .to_string()
}

/// REMOTE_JOIN / REMOTE_LEAVE with `opts`: no answer is expected.
pub(crate) fn rooms_request(
    uid: &str,
    kind: RequestType,
    opts: &BroadcastOptions,
    rooms: &[Room],
) -> String {
    let rooms: Vec<Json> = rooms.iter().map(|r| Json::from(&**r)).collect();
    json!({ "uid": uid, "type": kind as u8, "opts": opts_json(opts), "rooms": rooms }).to_string()
}

/// REMOTE_DISCONNECT with `opts`: no answer is expected.
pub(crate) fn disconnect_request(uid: &str, opts: &BroadcastOptions, close: bool) -> String {
    json!({
        "uid": uid,
        "type": RequestType::RemoteDisconnect as u8,
        "opts": opts_json(opts),
        "close": close,
    })
    .to_string()
}

/// SERVER_SIDE_EMIT: an event for the other nodes' namespace; with a request id
/// when the emitter waits for answers.
pub(crate) fn server_side_emit_request(
    uid: &str,
    request_id: Option<&str>,
    event: &str,
    args: &[Value],
) -> String {
    let mut data = vec![Json::from(event)];
    data.extend(args.iter().map(to_json));
    let mut body = json!({ "uid": uid, "type": RequestType::ServerSideEmit as u8, "data": data });
    if let Some(id) = request_id {
        body["requestId"] = Json::from(id);
    }
    body.to_string()
}

/// One node's answer to SERVER_SIDE_EMIT (only the handler's first argument, as
/// Node.js sends it).
pub(crate) fn server_side_emit_response(request_id: &str, value: &Value) -> String {
    json!({
        "type": RequestType::ServerSideEmit as u8,
        "requestId": request_id,
        "data": to_json(value),
    })
    .to_string()
}

/// BROADCAST_CLIENT_COUNT: how many local clients a broadcast with acks reached.
pub(crate) fn client_count_response(request_id: &str, count: usize) -> String {
    json!({
        "type": RequestType::BroadcastClientCount as u8,
        "requestId": request_id,
        "clientCount": count,
    })
    .to_string()
}

/// A JSON response. Node.js gives a type only to the answers of SERVER_SIDE_EMIT and
/// broadcasts with acks; the others are told apart by their request id.
#[derive(Debug, Deserialize)]
pub(crate) struct Response {
    #[serde(rename = "type")]
    pub kind: Option<u64>,
    #[serde(rename = "requestId")]
    pub request_id: Option<Json>,
    pub sockets: Option<Vec<Json>>,
    #[serde(rename = "clientCount")]
    pub client_count: Option<u64>,
    /// SERVER_SIDE_EMIT answers: the value (absent when Node.js acked `undefined`).
    pub data: Option<Json>,
}

impl Response {
    pub(crate) fn parse(bytes: &[u8]) -> Result<Self, RedisAdapterError> {
        serde_json::from_slice(bytes)
            .map_err(|e| RedisAdapterError::Malformed(format!("response: {e}")))
    }

    /// The request id as the string we generated (Node.js ids are strings too).
    pub(crate) fn request_id(&self) -> Option<String> {
        match self.request_id.as_ref()? {
            Json::String(s) => Some(s.clone()),
            other => Some(other.to_string()),
        }
    }
}

/// The answer to REMOTE_FETCH: `{requestId, sockets: [{id, handshake, rooms, data}]}`,
/// with `handshake` shaped like the Node.js one so that a Node.js `RemoteSocket` reads
/// what it expects (`handshake.auth`, `handshake.address`, `handshake.headers`).
pub(crate) fn fetch_response(request_id: &str, sockets: &[SocketDescription]) -> String {
    let sockets: Vec<Json> = sockets
        .iter()
        .map(|s| {
            let headers: serde_json::Map<String, Json> = s
                .headers
                .iter()
                .map(|(k, v)| (k.clone(), Json::from(v.as_str())))
                .collect();
            json!({
                "id": s.id,
                "handshake": {
                    "headers": headers,
                    "address": s.address.clone().unwrap_or_default(),
                    "xdomain": false,
                    "secure": false,
                    "query": {},
                    "auth": to_json(&s.auth),
                },
                "rooms": s.rooms,
                "data": to_json(&s.data),
            })
        })
        .collect();
    json!({ "requestId": request_id, "sockets": sockets }).to_string()
}

/// The answer to SOCKETS: the ids of the matching local sockets.
pub(crate) fn sockets_response(request_id: &str, ids: &[String]) -> String {
    json!({ "requestId": request_id, "sockets": ids }).to_string()
}

/// The answer to ALL_ROOMS: the local rooms.
pub(crate) fn rooms_response(request_id: &str, rooms: &[Room]) -> String {
    let rooms: Vec<&str> = rooms.iter().map(|r| &**r).collect();
    json!({ "requestId": request_id, "rooms": rooms }).to_string()
}

/// The answer to the single-socket REMOTE_JOIN/LEAVE/DISCONNECT: just the id.
pub(crate) fn done_response(request_id: &str) -> String {
    json!({ "requestId": request_id }).to_string()
}

pub(crate) fn to_json(value: &Value) -> Json {
    serde_json::to_value(value).unwrap_or(Json::Null)
}

/// A socket of another node, out of a REMOTE_FETCH answer; `None` without an id.
pub(crate) fn socket_description(nsp: &str, socket: &Json) -> Option<SocketDescription> {
    let id = socket.get("id")?.as_str()?.to_string();
    let handshake = socket.get("handshake");
    let from_handshake = |name: &str| handshake.and_then(|h| h.get(name));
    let headers = match from_handshake("headers") {
        Some(Json::Object(map)) => map
            .iter()
            .map(|(k, v)| match v {
                Json::String(s) => (k.clone(), s.clone()),
                other => (k.clone(), other.to_string()),
            })
            .collect(),
        _ => Vec::new(),
    };
    let rooms = match socket.get("rooms") {
        Some(Json::Array(list)) => rooms_of(list).iter().map(|r| r.to_string()).collect(),
        _ => Vec::new(),
    };
    Some(SocketDescription {
        id,
        nsp: nsp.to_string(),
        rooms,
        data: socket
            .get("data")
            .cloned()
            .map(Value::from)
            .unwrap_or_default(),
        auth: from_handshake("auth")
            .cloned()
            .map(Value::from)
            .unwrap_or_default(),
        address: from_handshake("address")
            .and_then(Json::as_str)
            .map(str::to_string),
        headers,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_node_remote_join() {
        let raw = br#"{"uid":"x1","type":2,"opts":{"rooms":["a"],"except":[]},"rooms":["b",3]}"#;
        let loose = br#"{"type":4,"opts":{"rooms":null,"except":""},"close":1}"#;
        let request = Request::parse(loose).expect("null and empty-string rooms are accepted");
        let opts = request.opts.as_ref().expect("opts").to_options();
        assert!(opts.rooms.is_empty() && opts.except.is_empty());
        assert_eq!(request.close, Some(true));
        let php = br#"{"type":2,"opts":{"rooms":{"0":"a","2":"b"},"except":"c"},"rooms":"d"}"#;
        let request = Request::parse(php).expect("PHP-style maps and single rooms are accepted");
        let opts = request.opts.as_ref().expect("opts").to_options();
        assert_eq!(opts.rooms, vec![Room::from("a"), Room::from("b")]);
        assert_eq!(opts.except, vec![Room::from("c")]);
        assert_eq!(
            rooms_of(request.rooms.as_deref().unwrap_or_default()),
            vec![Room::from("d")]
        );
        let request = Request::parse(raw).expect("valid");
        assert_eq!(
            RequestType::from_u64(request.kind),
            Some(RequestType::RemoteJoin)
        );
        let opts = request.opts.expect("opts").to_options();
        assert_eq!(opts.rooms, vec![Room::from("a")]);
        let rooms = rooms_of(request.rooms.as_deref().unwrap_or_default());
        assert_eq!(rooms, vec![Room::from("b"), Room::from("3")]);
    }

    #[test]
    fn fetch_answer_round_trips() {
        let socket = SocketDescription {
            id: "s1".into(),
            nsp: "/".into(),
            rooms: vec!["s1".into(), "r".into()],
            data: Value::from("d"),
            auth: Value::Null,
            address: Some("127.0.0.1".into()),
            headers: vec![("host".into(), "h".into())],
        };
        let text = fetch_response("req", std::slice::from_ref(&socket));
        let response = Response::parse(text.as_bytes()).expect("valid");
        assert_eq!(response.request_id().as_deref(), Some("req"));
        let sockets = response.sockets.expect("sockets");
        assert_eq!(socket_description("/", &sockets[0]), Some(socket));
    }
}
