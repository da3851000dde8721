//! Tests of the default (text) parser.
//!
//! Expected encodings were produced by the reference implementations in
//! `e2e/node_modules`: socket.io-parser 4.2.7 (`new Encoder().encode(packet)`) for v5,
//! and socket.io-parser 3.3.6 (the copy under `socket.io-client-v2`) for v4, e.g.
//!
//! ```text
//! cd e2e && node -e 'const p=require("socket.io-parser");
//!   console.log(new p.Encoder().encode({type:2,nsp:"/",id:5,
//!     data:["upload",Buffer.from([1,2,3]),{nested:[Buffer.from("hi")],k:"v"}]}))'
//! ```
//!
//! Decoder expectations were checked against `new Decoder().add(str)` of 4.2.7; where
//! we deliberately differ, the test says so.

use bytes::Bytes;
use sockeye_engine::{Incoming, Message, Outgoing};

use crate::parser::{encode, DecodeLimits, Decoder, ParseError, ParserKind};
use crate::{Map, Packet, PacketData, ProtocolRevision, Value};

use ProtocolRevision::{V4, V5};

fn json(s: &str) -> Value {
    serde_json::from_str(s).expect("test JSON")
}

fn bin(bytes: &[u8]) -> Value {
    Value::Binary(Bytes::copy_from_slice(bytes))
}

fn packet(nsp: &str, id: Option<u64>, data: PacketData) -> Packet {
    Packet {
        nsp: nsp.into(),
        id,
        data,
    }
}

fn event(nsp: &str, id: Option<u64>, name: &str, args: Vec<Value>) -> Packet {
    packet(
        nsp,
        id,
        PacketData::Event {
            name: name.into(),
            args,
        },
    )
}

/// The messages of an encoded packet: text frames as their text (with the leading
/// Engine.IO `4`), binary ones as `BIN:<hex>` like the node script printed them.
fn encoded(rev: ProtocolRevision, p: &Packet) -> Vec<String> {
    let out = encode(ParserKind::Default, rev, p);
    let messages = out.messages();
    if let Outgoing::One(_) = out {
        assert_eq!(messages.len(), 1);
    }
    messages
        .iter()
        .map(|m| match m {
            Message::Text(b) => String::from_utf8(b.to_vec()).expect("UTF-8 frame"),
            Message::Binary(b) => format!("BIN:{}", hex(b)),
        })
        .collect()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn decoder(rev: ProtocolRevision) -> Decoder {
    Decoder::new(ParserKind::Default, rev, DecodeLimits::default())
}

fn text(s: &str) -> Incoming {
    Incoming::Text(Bytes::copy_from_slice(s.as_bytes()))
}

fn binary(b: &[u8]) -> Incoming {
    Incoming::Binary(Bytes::copy_from_slice(b))
}

/// Decodes one complete text packet.
fn decode_one(rev: ProtocolRevision, s: &str) -> Result<Packet, ParseError> {
    let mut d = decoder(rev);
    let p = d.decode(text(s))?;
    Ok(p.expect("complete packet"))
}

/// Feeds messages; returns the packet the last one completes.
fn decode_seq(rev: ProtocolRevision, msgs: Vec<Incoming>) -> Result<Option<Packet>, ParseError> {
    let mut d = decoder(rev);
    let mut last = None;
    for m in msgs {
        last = d.decode(m)?;
    }
    Ok(last)
}

/// Turns encoder output into decoder input (drops the Engine.IO `4`).
fn to_incoming(out: &Outgoing) -> Vec<Incoming> {
    out.messages()
        .iter()
        .map(|m| match m {
            Message::Text(b) => Incoming::Text(b.slice(1..)),
            Message::Binary(b) => Incoming::Binary(b.clone()),
        })
        .collect()
}

// ---------------------------------------------------------------- encoding

#[test]
fn encodes_connect() {
    let sid = Some(json(r#"{"sid":"abc"}"#));
    let p = packet("/", None, PacketData::Connect(sid.clone()));
    assert_eq!(encoded(V5, &p), [r#"40{"sid":"abc"}"#]);
    let p = packet(
        "/admin",
        None,
        PacketData::Connect(Some(json(r#"{"sid":"abc","pid":"x"}"#))),
    );
    assert_eq!(encoded(V5, &p), [r#"40/admin,{"sid":"abc","pid":"x"}"#]);
    // v4 (socket.io-parser 3.x): no payload, whatever the data.
    assert_eq!(
        encoded(V4, &packet("/", None, PacketData::Connect(sid.clone()))),
        ["40"]
    );
    assert_eq!(
        encoded(V4, &packet("/admin", None, PacketData::Connect(sid))),
        ["40/admin,"]
    );
    assert_eq!(
        encoded(V5, &packet("/", None, PacketData::Connect(None))),
        ["40"]
    );
}

#[test]
fn encodes_disconnect() {
    for rev in [V4, V5] {
        assert_eq!(
            encoded(rev, &packet("/", None, PacketData::Disconnect)),
            ["41"]
        );
        assert_eq!(
            encoded(rev, &packet("/admin", None, PacketData::Disconnect)),
            ["41/admin,"]
        );
        // An empty namespace is the main one, as in the reference (`obj.nsp && …`).
        assert_eq!(
            encoded(rev, &packet("", None, PacketData::Disconnect)),
            ["41"]
        );
    }
}

#[test]
fn encodes_events_identically_for_both_revisions() {
    let p = event(
        "/",
        None,
        "hello",
        vec!["world".into(), 1.into(), json(r#"{"a":[true,null]}"#)],
    );
    for rev in [V4, V5] {
        assert_eq!(
            encoded(rev, &p),
            [r#"42["hello","world",1,{"a":[true,null]}]"#]
        );
    }
}

#[test]
fn escapes_strings_like_json_stringify() {
    let s = "é\n\"\u{1}\u{1f}\u{7f}\u{2028}😀\\/";
    let p = event(
        "/chat",
        Some(12),
        "msg",
        vec![1.5.into(), (-3).into(), s.into()],
    );
    assert_eq!(
        encoded(V5, &p),
        ["42/chat,12[\"msg\",1.5,-3,\"é\\n\\\"\\u0001\\u001f\u{7f}\u{2028}😀\\\\/\"]"]
    );
}

#[test]
fn writes_numbers_like_javascript() {
    let args = [
        1e21,
        0.1,
        1.5e-7,
        -0.0,
        123456789012345680000.0,
        -1e-7,
        9007199254740992.0,
        18446744073709551616.0,
    ]
    .into_iter()
    .map(Value::from)
    .collect();
    assert_eq!(
        encoded(V5, &event("/", None, "f", args)),
        [
            r#"42["f",1e+21,0.1,1.5e-7,0,123456789012345680000,-1e-7,9007199254740992,18446744073709552000]"#
        ]
    );
    let ints = vec![
        Value::from(u64::MAX),
        Value::from(i64::MIN),
        Value::from(2.0),
        f64::NAN.into(),
    ];
    assert_eq!(
        encoded(V5, &event("/", None, "i", ints)),
        [r#"42["i",18446744073709551615,-9223372036854775808,2,null]"#]
    );
}

#[test]
fn encodes_acks() {
    let p = packet("/chat", Some(7), PacketData::Ack(vec!["ok".into()]));
    assert_eq!(encoded(V5, &p), [r#"43/chat,7["ok"]"#]);
    assert_eq!(
        encoded(V4, &packet("/", Some(0), PacketData::Ack(vec![]))),
        ["430[]"]
    );
}

#[test]
fn encodes_connect_error_as_given() {
    // The server picks the form per revision (client.rs); the encoder writes it as is.
    let err = json(r#"{"message":"Not authorized","data":{"code":1}}"#);
    let p = packet("/", None, PacketData::ConnectError(err));
    assert_eq!(
        encoded(V5, &p),
        [r#"44{"message":"Not authorized","data":{"code":1}}"#]
    );
    assert_eq!(
        encoded(V4, &p),
        [r#"44{"message":"Not authorized","data":{"code":1}}"#]
    );
    let p = packet(
        "/admin",
        None,
        PacketData::ConnectError("Not authorized".into()),
    );
    assert_eq!(encoded(V4, &p), [r#"44/admin,"Not authorized""#]);
}

#[test]
fn encodes_binary_event_with_nested_attachments() {
    let p = event(
        "/",
        Some(5),
        "upload",
        vec![bin(&[1, 2, 3]), json(r#"{"nested":[null],"k":"v"}"#)],
    );
    let mut p = p;
    if let PacketData::Event { args, .. } = &mut p.data {
        args[1].as_object_mut().unwrap()["nested"] = Value::Array(vec![bin(b"hi")]);
    }
    let want = [
        r#"452-5["upload",{"_placeholder":true,"num":0},{"nested":[{"_placeholder":true,"num":1}],"k":"v"}]"#,
        "BIN:010203",
        "BIN:6869",
    ];
    // Same bytes for v4 (3.3.6) and v5 (4.2.7).
    assert_eq!(encoded(V5, &p), want);
    assert_eq!(encoded(V4, &p), want);
    assert!(matches!(
        encode(ParserKind::Default, V5, &p),
        Outgoing::Group(_)
    ));
}

#[test]
fn encodes_binary_ack_and_namespaced_binary_event() {
    let p = packet(
        "/files",
        Some(9),
        PacketData::Ack(vec![
            bin(&[0xff]),
            Value::Array(vec![bin(&[]), bin(&[0, 1])]),
        ]),
    );
    assert_eq!(
        encoded(V5, &p),
        [
            r#"463-/files,9[{"_placeholder":true,"num":0},[{"_placeholder":true,"num":1},{"_placeholder":true,"num":2}]]"#,
            "BIN:ff",
            "BIN:",
            "BIN:0001"
        ]
    );
    let mut inner = Map::default();
    inner.insert("c".into(), bin(&[8]));
    let mut outer = Map::default();
    outer.insert("a".into(), bin(&[7]));
    outer.insert("b".into(), Value::Object(inner));
    let p = event("/x", None, "b", vec![Value::Object(outer), bin(&[9])]);
    assert_eq!(
        encoded(V5, &p),
        [
            r#"453-/x,["b",{"a":{"_placeholder":true,"num":0},"b":{"c":{"_placeholder":true,"num":1}}},{"_placeholder":true,"num":2}]"#,
            "BIN:07",
            "BIN:08",
            "BIN:09"
        ]
    );
}

#[test]
fn attachments_share_the_packet_buffers() {
    let data = Bytes::from(vec![42u8; 1000]);
    let p = event("/", None, "big", vec![Value::Binary(data.clone())]);
    let out = encode(ParserKind::Default, V5, &p);
    let Message::Binary(sent) = &out.messages()[1] else {
        panic!("attachment expected")
    };
    assert_eq!(
        sent.as_ptr(),
        data.as_ptr(),
        "attachment must not be copied"
    );
}

#[test]
fn frame_capacity_bound_holds_for_awkward_payloads() {
    // The encoder debug-asserts its single-allocation bound; exercise it.
    let nasty = "\u{0}\u{1f}\"\\\n".repeat(50);
    let args = vec![
        nasty.as_str().into(),
        Value::from(f64::MIN_POSITIVE),
        Value::from(-0.000001234567890123),
        Value::from(i64::MIN),
        json(r#"{"\u0000\"":[[[{"x":-1.5e300}]]]}"#),
        bin(&[1]),
    ];
    for rev in [V4, V5] {
        encoded(rev, &event("/n\"s", Some(u64::MAX), &nasty, args.clone()));
        encoded(
            rev,
            &packet(
                "/",
                None,
                PacketData::ConnectError(Value::Array(args.clone())),
            ),
        );
        encoded(
            rev,
            &packet(
                "/",
                None,
                PacketData::Connect(Some(Value::Array(args.clone()))),
            ),
        );
    }
}

// ---------------------------------------------------------------- decoding

#[test]
fn decodes_client_packets() {
    for rev in [V4, V5] {
        let cases: Vec<(&str, Packet)> = vec![
            ("0", packet("/", None, PacketData::Connect(None))),
            (
                "0/admin,",
                packet("/admin", None, PacketData::Connect(None)),
            ),
            (
                r#"0{"token":"x"}"#,
                packet(
                    "/",
                    None,
                    PacketData::Connect(Some(json(r#"{"token":"x"}"#))),
                ),
            ),
            (
                r#"0/admin,{"a":1}"#,
                packet(
                    "/admin",
                    None,
                    PacketData::Connect(Some(json(r#"{"a":1}"#))),
                ),
            ),
            ("1", packet("/", None, PacketData::Disconnect)),
            ("1/admin,", packet("/admin", None, PacketData::Disconnect)),
            (
                r#"2["hello","world",1,{"a":[true,null]}]"#,
                event(
                    "/",
                    None,
                    "hello",
                    vec!["world".into(), 1.into(), json(r#"{"a":[true,null]}"#)],
                ),
            ),
            (r#"2/chat,["a"]"#, event("/chat", None, "a", vec![])),
            (r#"2/,["a"]"#, event("/", None, "a", vec![])),
            (r#"212["a"]"#, event("/", Some(12), "a", vec![])),
            (
                r#"2/chat,9007199254740991["a"]"#,
                event("/chat", Some(9007199254740991), "a", vec![]),
            ),
            (r#"2[1]"#, event("/", None, "1", vec![])),
            (r#"2[1.0,2]"#, event("/", None, "1", vec![2.into()])),
            (r#"2[1.5]"#, event("/", None, "1.5", vec![])),
            (r#"2["connection"]"#, event("/", None, "connection", vec![])),
            (
                r#"31[1]"#,
                packet("/", Some(1), PacketData::Ack(vec![1.into()])),
            ),
            (
                r#"3/chat,7["ok"]"#,
                packet("/chat", Some(7), PacketData::Ack(vec!["ok".into()])),
            ),
            (r#"30[]"#, packet("/", Some(0), PacketData::Ack(vec![]))),
            // JSON.parse accepts surrounding whitespace, and so do we.
            ("2 [\"a\"] \n", event("/", None, "a", vec![])),
        ];
        for (input, want) in cases {
            assert_eq!(
                decode_one(rev, input).unwrap_or_else(|e| panic!("{input}: {e}")),
                want,
                "{input}"
            );
        }
    }
}

#[test]
fn v4_connect_query_becomes_auth_data() {
    // socket.io-client 2.x sends the handshake query with the namespace.
    let p = decode_one(V4, "0/chat?token=abc&x=1+2&x=%41%zz&flag,").unwrap();
    assert_eq!(p.nsp, "/chat");
    assert_eq!(
        p.data,
        PacketData::Connect(Some(json(
            r#"{"token":"abc","x":["1 2","A%zz"],"flag":""}"#
        )))
    );
    let p = decode_one(V4, "0/?a=%C3%A9,").unwrap();
    assert_eq!(p.nsp, "/");
    assert_eq!(p.data, PacketData::Connect(Some(json(r#"{"a":"é"}"#))));
    // v5 clients send auth as JSON; a `?` is just part of the namespace.
    let p = decode_one(V5, "0/chat?token=1,").unwrap();
    assert_eq!(p.nsp, "/chat?token=1");
    assert_eq!(p.data, PacketData::Connect(None));
}

#[test]
fn decodes_binary_event_from_reference_encoding() {
    let msgs = vec![
        text(
            r#"52-5["upload",{"_placeholder":true,"num":0},{"nested":[{"_placeholder":true,"num":1}],"k":"v"}]"#,
        ),
        binary(&[1, 2, 3]),
        binary(b"hi"),
    ];
    for rev in [V4, V5] {
        let mut d = decoder(rev);
        let mut results = Vec::new();
        for m in msgs.clone() {
            results.push(d.decode(m).unwrap());
        }
        assert!(results[0].is_none() && results[1].is_none());
        let mut nested = json(r#"{"nested":[null],"k":"v"}"#);
        nested.as_object_mut().unwrap()["nested"] = Value::Array(vec![bin(b"hi")]);
        assert_eq!(
            results[2].clone().unwrap(),
            event("/", Some(5), "upload", vec![bin(&[1, 2, 3]), nested])
        );
        assert!(!d.is_waiting_for_attachments());
    }
}

#[test]
fn decodes_binary_ack_with_placeholders_in_any_order() {
    // Placeholders need not be in order, and one attachment may be used twice
    // (the reference decoder allows both).
    let got = decode_seq(
        V5,
        vec![
            text(r#"62-/files,9[{"_placeholder":true,"num":1},[{"_placeholder":true,"num":0}],{"_placeholder":true,"num":1}]"#),
            binary(&[0xaa]),
            binary(&[0xbb]),
        ],
    )
    .unwrap()
    .unwrap();
    assert_eq!(
        got,
        packet(
            "/files",
            Some(9),
            PacketData::Ack(vec![
                bin(&[0xbb]),
                Value::Array(vec![bin(&[0xaa])]),
                bin(&[0xbb])
            ])
        )
    );
}

#[test]
fn attachments_are_not_copied_on_decode() {
    let data = Bytes::from(vec![7u8; 100]);
    let mut d = decoder(V5);
    assert!(d
        .decode(text(r#"51-["x",{"_placeholder":true,"num":0}]"#))
        .unwrap()
        .is_none());
    let p = d.decode(Incoming::Binary(data.clone())).unwrap().unwrap();
    let PacketData::Event { args, .. } = p.data else {
        panic!()
    };
    assert_eq!(args[0].as_binary().unwrap().as_ptr(), data.as_ptr());
}

#[test]
fn round_trips_every_packet_kind() {
    let mut nested = Map::default();
    nested.insert(
        "list".into(),
        Value::Array(vec![bin(&[1]), "s".into(), bin(&[2, 3])]),
    );
    let packets = vec![
        packet("/", None, PacketData::Disconnect),
        packet("/admin", None, PacketData::Disconnect),
        packet(
            "/admin",
            None,
            PacketData::Connect(Some(json(r#"{"token":"t","n":[1,2]}"#))),
        ),
        event("/", None, "e", vec![]),
        event(
            "/a",
            Some(3),
            "e",
            vec![json(r#"{"x":[1,"y",null,false,1.25]}"#)],
        ),
        event(
            "/a",
            Some(4),
            "bin",
            vec![Value::Object(nested.clone()), bin(&[]), bin(&[9; 300])],
        ),
        packet("/", Some(8), PacketData::Ack(vec![])),
        packet(
            "/b",
            Some(8),
            PacketData::Ack(vec![Value::Object(nested), "x".into()]),
        ),
    ];
    for rev in [V4, V5] {
        for p in &packets {
            if rev == V4 && matches!(p.data, PacketData::Connect(_)) {
                continue; // v4 CONNECT carries no payload server → client.
            }
            let out = encode(ParserKind::Default, rev, p);
            let got = decode_seq(rev, to_incoming(&out)).unwrap();
            assert_eq!(got.as_ref(), Some(p), "{rev:?} {p:?}");
        }
    }
}

// ---------------------------------------------------------------- malformed

/// Each input must be rejected with the given error kind (checked loosely by a
/// predicate, so the table documents *why* each is rejected).
#[test]
fn rejects_malformed_text_packets() {
    use ParseError as E;
    type Check = fn(&ParseError) -> bool;
    let json_err: Check = |e| matches!(e, E::Json(_));
    let payload: Check = |e| matches!(e, E::InvalidPayload { .. });
    let ty: Check = |e| matches!(e, E::InvalidPacketType(_));
    let ack: Check = |e| matches!(e, E::InvalidAckId(_));
    let att: Check = |e| matches!(e, E::InvalidAttachmentCount(_));
    let too_many: Check = |e| matches!(e, E::TooManyAttachments { .. });
    let reserved: Check = |e| matches!(e, E::ReservedEventName(_));
    let table: Vec<(&str, Check)> = vec![
        // Deviation: the reference reads "" and " " as CONNECT to "/".
        ("", |e| matches!(e, E::Empty)),
        (" ", ty),
        ("7", ty),
        ("9[]", ty),
        ("a", ty),
        ("-1", ty),
        ("\u{e9}", ty),
        ("0[]", payload),
        ("0\"x\"", payload),
        ("0null", payload),
        ("0{", json_err),
        ("0{}x", json_err),
        ("1{}", payload),
        ("1/admin,{}", payload),
        ("1[]", payload),
        // Deviation: the reference accepts an EVENT/ACK without payload.
        ("2", payload),
        ("2/chat,", payload),
        ("2/chat[\"a\"]", payload), // no comma: the rest is the namespace
        ("212", payload),
        ("2[]", payload),
        ("2{}", payload),
        ("2\"str\"", payload),
        ("2[{}]", payload),
        ("2[null]", payload),
        ("2[true]", payload),
        ("2[[\"a\"]]", payload),
        ("2[\"connect\"]", reserved),
        ("2[\"connect_error\"]", reserved),
        ("2[\"disconnect\"]", reserved),
        ("2/chat,1[\"disconnecting\"]", reserved),
        ("2[\"newListener\"]", reserved),
        ("2[\"removeListener\",1]", reserved),
        ("2[\"a\"", json_err),
        ("2[\"a\"]x", json_err),
        ("2[\"a\",]", json_err),
        ("2[NaN]", json_err),
        ("2['a']", json_err),
        ("2[\"\\x\"]", json_err),
        // Deviation: a lone surrogate escape parses in JS, not in serde_json.
        ("2[\"\\ud800\"]", json_err),
        ("212a[\"a\"]", json_err),
        ("2abc[\"a\"]", json_err),
        ("2,[\"a\"]", json_err),
        ("2/chat,,[\"a\"]", json_err),
        // Ack ids: above 2^53 - 1, or too many digits (the reference rounds them).
        ("29007199254740992[\"a\"]", ack),
        ("212345678901234567890[\"a\"]", ack),
        ("2000000000000000001[\"a\"]", ack),
        ("299999999999999999999999999999[\"a\"]", ack),
        // Deviation: an ACK must carry its id.
        ("3[1]", ack),
        ("31", payload),
        ("3", ack),
        ("31{}", payload),
        ("31\"x\"", payload),
        ("31null", payload),
        // A client must not send CONNECT_ERROR (the reference decoder would accept it).
        ("4\"x\"", |e| matches!(e, E::UnexpectedPacketType(_))),
        ("4{\"message\":\"x\"}", |e| {
            matches!(e, E::UnexpectedPacketType(_))
        }),
        // Attachment counts.
        ("5-[\"a\"]", att),
        ("50-[\"a\"]", att),
        ("5[\"a\"]", att),
        ("51[\"a\"]", att),
        ("5", att),
        ("51", att),
        ("5a-[\"a\"]", att),
        ("51e1-[\"a\"]", att), // deviation: the reference reads 1e1 as 10
        ("5 1-[\"a\"]", att),
        ("5+1-[\"a\"]", att),
        ("511-[\"a\"]", too_many),
        ("5999999999999999999999999999-[\"a\"]", too_many),
        ("6-1[]", att),
        ("61-[{\"_placeholder\":true,\"num\":0}]", ack),
        ("61-1{}", payload),
        ("51-[]", payload),
        ("51-[{\"_placeholder\":true,\"num\":0}]", payload),
    ];
    for rev in [V4, V5] {
        for (input, check) in &table {
            match decode_one_or_pending(rev, input) {
                Err(e) => assert!(check(&e), "{input:?}: unexpected error kind {e:?}"),
                Ok(p) => panic!("{input:?} was accepted as {p:?}"),
            }
        }
    }
}

/// Like `decode_one`, but a packet waiting for attachments counts as accepted.
fn decode_one_or_pending(rev: ProtocolRevision, s: &str) -> Result<Option<Packet>, ParseError> {
    decoder(rev).decode(text(s))
}

#[test]
fn every_truncation_of_an_event_is_rejected() {
    let full = r#"2/chat,12["msg",{"a":[1,2,"x"]},true]"#;
    assert!(decode_one(V5, full).is_ok());
    for end in 1..full.len() {
        assert!(
            decode_one_or_pending(V5, &full[..end]).is_err(),
            "{:?}",
            &full[..end]
        );
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    let open = format!("2[\"a\",{}", "[".repeat(100_000));
    assert!(matches!(decode_one(V5, &open), Err(ParseError::Json(_))));
    let closed = format!("2[\"a\",{}{}]", "[".repeat(200), "]".repeat(200));
    assert!(matches!(decode_one(V5, &closed), Err(ParseError::Json(_))));
    let objects = format!(
        "2[\"a\",{}1{}]",
        "{\"k\":".repeat(100_000),
        "}".repeat(100_000)
    );
    assert!(matches!(decode_one(V5, &objects), Err(ParseError::Json(_))));
    // Within serde_json's limit of 128 levels it is fine.
    let ok = format!("2[\"a\",{}{}]", "[".repeat(100), "]".repeat(100));
    assert!(decode_one(V5, &ok).is_ok());
}

#[test]
fn event_name_length_is_limited() {
    let limits = DecodeLimits {
        max_event_name_len: 8,
        ..DecodeLimits::default()
    };
    let mut d = Decoder::new(ParserKind::Default, V5, limits);
    assert!(d.decode(text(r#"2["12345678"]"#)).is_ok());
    assert!(matches!(
        d.decode(text(r#"2["123456789"]"#)),
        Err(ParseError::EventNameTooLong { len: 9, max: 8 })
    ));
    let long = format!("2[\"{}\"]", "n".repeat(2000));
    assert!(matches!(
        decode_one(V5, &long),
        Err(ParseError::EventNameTooLong { .. })
    ));
}

#[test]
fn attachment_count_limit_is_configurable() {
    let limits = DecodeLimits {
        max_attachments: 2,
        ..DecodeLimits::default()
    };
    let mut d = Decoder::new(ParserKind::Default, V5, limits);
    assert!(matches!(
        d.decode(text(r#"53-["a"]"#)),
        Err(ParseError::TooManyAttachments { count: 3, max: 2 })
    ));
    assert!(d
        .decode(text(
            r#"52-["a",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#
        ))
        .unwrap()
        .is_none());
}

#[test]
fn rejects_bad_attachment_sequences() {
    let head = r#"52-["a",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#;
    type Check = fn(&ParseError) -> bool;
    let cases: Vec<(Vec<Incoming>, Check)> = vec![
        // Binary before any binary packet ("wrong order").
        (vec![binary(&[1]), text(head)], |e| {
            matches!(e, ParseError::UnexpectedBinary)
        }),
        (vec![binary(&[1])], |e| {
            matches!(e, ParseError::UnexpectedBinary)
        }),
        // A text packet while attachments are pending.
        (vec![text(head), binary(&[1]), text(r#"2["b"]"#)], |e| {
            matches!(e, ParseError::UnexpectedText { remaining: 1 })
        }),
        (vec![text(head), text(head)], |e| {
            matches!(e, ParseError::UnexpectedText { remaining: 2 })
        }),
        // One attachment too many.
        (
            vec![text(head), binary(&[1]), binary(&[2]), binary(&[3])],
            |e| matches!(e, ParseError::UnexpectedBinary),
        ),
    ];
    for (msgs, check) in cases {
        match decode_seq(V5, msgs) {
            Err(e) => assert!(check(&e), "unexpected error {e:?}"),
            Ok(p) => panic!("accepted: {p:?}"),
        }
    }
}

#[test]
fn rejects_bad_placeholders() {
    let bad = [
        r#"51-["a",{"_placeholder":true,"num":1}]"#,
        r#"51-["a",{"_placeholder":true,"num":-1}]"#,
        r#"51-["a",{"_placeholder":true,"num":0.5}]"#,
        r#"51-["a",{"_placeholder":true,"num":"0"}]"#,
        r#"51-["a",{"_placeholder":true,"num":null}]"#,
        r#"51-["a",{"_placeholder":true}]"#,
        r#"51-["a",{"_placeholder":true,"num":18446744073709551616}]"#,
        r#"51-["a",[{"x":{"_placeholder":true,"num":7}}]]"#,
        r#"61-3[{"_placeholder":true,"num":1e400}]"#,
    ];
    for head in bad {
        let r = decode_seq(V5, vec![text(head), binary(&[1])]);
        assert!(
            matches!(
                r,
                Err(ParseError::InvalidPlaceholder(_)) | Err(ParseError::Json(_))
            ),
            "{head}: {r:?}"
        );
    }
    // Attachments nobody refers to (the reference silently drops them).
    let unreferenced = [
        r#"51-["a"]"#,
        r#"51-["a",{"_placeholder":false,"num":0}]"#,
        r#"51-["a",{"_placeholder":"true","num":0}]"#,
        r#"52-["a",{"_placeholder":true,"num":1},{"_placeholder":true,"num":1}]"#,
    ];
    for head in unreferenced {
        let msgs = vec![text(head), binary(&[1]), binary(&[2])];
        let take = if head.starts_with("52") { 3 } else { 2 };
        let r = decode_seq(V5, msgs.into_iter().take(take).collect());
        assert!(
            matches!(r, Err(ParseError::UnreferencedAttachment { .. })),
            "{head}: {r:?}"
        );
    }
    // `num` written as an integral float is a number like any other in JavaScript.
    let r = decode_seq(
        V5,
        vec![
            text(r#"51-["a",{"_placeholder":true,"num":0.0}]"#),
            binary(&[1]),
        ],
    );
    assert_eq!(r.unwrap().unwrap(), event("/", None, "a", vec![bin(&[1])]));
}

#[test]
fn decoder_recovers_after_an_error() {
    let mut d = decoder(V5);
    assert!(d
        .decode(text(r#"51-["a",{"_placeholder":true,"num":0}]"#))
        .unwrap()
        .is_none());
    assert!(d.decode(text(r#"2["b"]"#)).is_err());
    assert!(!d.is_waiting_for_attachments());
    assert_eq!(
        d.decode(text(r#"2["b"]"#)).unwrap(),
        Some(event("/", None, "b", vec![]))
    );
    assert!(d.decode(binary(&[1])).is_err());
    assert!(d
        .decode(text(r#"51-["a",{"_placeholder":true,"num":0}]"#))
        .unwrap()
        .is_none());
    d.reset();
    assert!(d.decode(binary(&[1])).is_err());
}

#[test]
fn rejects_invalid_utf8_defensively() {
    let mut d = decoder(V5);
    let r = d.decode(Incoming::Text(Bytes::from_static(b"2[\"\xff\"]")));
    assert!(matches!(r, Err(ParseError::InvalidUtf8)));
}
