//! Tests of the msgpack parser.
//!
//! Expected bytes come from socket.io-msgpack-parser 3.0.2 / notepack.io 2.2.0 in
//! `e2e/node_modules`, with packet objects built in the order the server writes them
//! (`type`, `data`, `nsp`, `id`), e.g.
//!
//! ```text
//! cd e2e && node -e 'const mp=require("socket.io-msgpack-parser");
//!   console.log(new mp.Encoder().encode({type:3,data:[{a:1},Buffer.from([])],
//!     nsp:"/chat",id:300})[0].toString("hex"))'
//! ```
//!
//! Decoder expectations were checked with `new Decoder().add(Buffer.from(hex,"hex"))`;
//! where we deliberately differ, the test says so.

use bytes::Bytes;
use sockeye_engine::{Incoming, Message, Outgoing};

use crate::parser::{encode, DecodeLimits, Decoder, MsgPackError, ParseError, ParserKind};
use crate::{Map, Packet, PacketData, ProtocolRevision, Value};

use ProtocolRevision::{V4, V5};

fn json(s: &str) -> Value {
    serde_json::from_str(s).expect("test JSON")
}

fn bin(bytes: &[u8]) -> Value {
    Value::Binary(Bytes::copy_from_slice(bytes))
}

/// Hex with optional spaces (for readability) to bytes.
fn unhex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
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

fn encoded(rev: ProtocolRevision, p: &Packet) -> Vec<u8> {
    match encode(ParserKind::MsgPack, rev, p) {
        Outgoing::One(Message::Binary(b)) => b.to_vec(),
        other => panic!("expected one binary message, got {other:?}"),
    }
}

fn decode(bytes: &[u8]) -> Result<Packet, ParseError> {
    decode_rev(V5, bytes)
}

fn decode_rev(rev: ProtocolRevision, bytes: &[u8]) -> Result<Packet, ParseError> {
    let mut d = Decoder::new(ParserKind::MsgPack, rev, DecodeLimits::default());
    d.decode(Incoming::Binary(Bytes::copy_from_slice(bytes)))
        .map(|p| p.expect("msgpack packets are always complete"))
}

// ---------------------------------------------------------------- encoding

#[test]
fn encodes_connect_and_disconnect() {
    let p = packet(
        "/",
        None,
        PacketData::Connect(Some(json(r#"{"sid":"abc"}"#))),
    );
    assert_eq!(
        encoded(V5, &p),
        unhex("83a47479706500a46461746181a3736964a3616263a36e7370a12f")
    );
    // v4 CONNECT has no data; equal to `{type:0,nsp:"/admin"}`.
    let p = packet(
        "/admin",
        None,
        PacketData::Connect(Some(json(r#"{"sid":"abc"}"#))),
    );
    assert_eq!(
        encoded(V4, &p),
        unhex("82a47479706500a36e7370a62f61646d696e")
    );
    let p = packet("/admin", None, PacketData::Connect(None));
    assert_eq!(
        encoded(V5, &p),
        unhex("82a47479706500a36e7370a62f61646d696e")
    );
    let p = packet("/admin", None, PacketData::Disconnect);
    assert_eq!(
        encoded(V5, &p),
        unhex("82a47479706501a36e7370a62f61646d696e")
    );
}

#[test]
fn encodes_event_with_inline_binary() {
    let args = vec![
        1.into(),
        (-1).into(),
        1.5.into(),
        true.into(),
        Value::Null,
        "x".repeat(40).into(),
        bin(&[1, 2, 3]),
        json(r#"{"a":{"b":[]}}"#),
    ];
    let want = unhex(
        "84a47479706502a46461746199a568656c6c6f01ffcb3ff8000000000000c3c0d928\
         78787878787878787878787878787878787878787878787878787878787878787878787878787878\
         c40301020381a16181a16290a36e7370a12fa2696403",
    );
    // Binary stays inline and the type stays EVENT (2), for both revisions.
    assert_eq!(
        encoded(V5, &event("/", Some(3), "hello", args.clone())),
        want
    );
    assert_eq!(encoded(V4, &event("/", Some(3), "hello", args)), want);
}

#[test]
fn encodes_ack() {
    let p = packet(
        "/chat",
        Some(300),
        PacketData::Ack(vec![json(r#"{"a":1}"#), bin(&[])]),
    );
    assert_eq!(
        encoded(V5, &p),
        unhex("84a47479706503a4646174619281a16101c400a36e7370a52f63686174a26964cd012c")
    );
}

#[test]
fn encodes_connect_error_as_given() {
    // notepack.encode({type:4,data:{message:"nope",data:{code:7}},nsp:"/"})
    let p = packet(
        "/",
        None,
        PacketData::ConnectError(json(r#"{"message":"nope","data":{"code":7}}"#)),
    );
    let expected = unhex(
        "83a47479706504a46461746182a76d657373616765a46e6f7065a46461746181a4636f646507a36e7370a12f",
    );
    assert_eq!(encoded(V5, &p), expected);
    assert_eq!(encoded(V4, &p), expected);
}

#[test]
fn encodes_numbers_like_notepack() {
    let nums: Vec<Value> = vec![
        127.into(),
        128.into(),
        255.into(),
        256.into(),
        65535.into(),
        65536.into(),
        (u64::from(u32::MAX)).into(),
        (1u64 << 32).into(),
        ((1u64 << 53) - 1).into(),
        (-32).into(),
        (-33).into(),
        (-128).into(),
        (-129).into(),
        (-32768).into(),
        (-32769).into(),
        (-(1i64 << 31)).into(),
        (-(1i64 << 31) - 1).into(),
        1e19.into(), // an integral float: notepack writes it as uint 64
        (-1e15).into(),
        0.5.into(),
        (-0.0).into(),
    ];
    let want = unhex(
        "83a47479706502a464617461dc0016a16e7fcc80ccffcd0100cdffffce00010000ceffffffff\
         cf0000000100000000cf001fffffffffffffe0d0dfd080d1ff7fd18000d2ffff7fffd280000000\
         d3ffffffff7fffffffcf8ac7230489e80000d3fffc72815b398000cb3fe000000000000000a36e7370a12f",
    );
    assert_eq!(encoded(V5, &event("/", None, "n", nums)), want);
    // Deviation: notepack writes integral numbers beyond 64 bits as a wrapped uint 64
    // (1e20 decodes as 7766279631452242000); we write them as float 64.
    let big = encoded(
        V5,
        &event("/", None, "n", vec![1e20.into(), (-1e19).into()]),
    );
    let mut want = unhex("83a47479706502a46461746193a16e cb");
    want.extend(1e20f64.to_be_bytes());
    want.push(0xcb);
    want.extend((-1e19f64).to_be_bytes());
    want.extend(unhex("a36e7370a12f"));
    assert_eq!(big, want);
}

#[test]
fn encodes_string_and_container_sizes_like_notepack() {
    let strings = vec![
        "".into(),
        "a".repeat(31).into(),
        "b".repeat(32).into(),
        "c".repeat(255).into(),
        "é".into(),
    ];
    let mut want = unhex("83a47479706502a46461746196a173a0bf");
    want.extend([b'a'; 31]);
    want.extend(unhex("d920"));
    want.extend([b'b'; 32]);
    want.extend(unhex("d9ff"));
    want.extend([b'c'; 255]);
    want.extend(unhex("a2c3a9a36e7370a12f"));
    assert_eq!(encoded(V5, &event("/", None, "s", strings)), want);

    let list: Value = (0..16).map(Value::from).collect();
    let map: Value = (0..16).map(|i| (format!("k{i}"), Value::from(i))).collect();
    let mut want =
        unhex("83a47479706502a46461746194a3626967dc0010000102030405060708090a0b0c0d0e0fde0010");
    for i in 0..16u8 {
        let key = format!("k{i}");
        want.push(0xa0 | key.len() as u8);
        want.extend(key.as_bytes());
        want.push(i);
    }
    want.extend(unhex("c50100"));
    want.extend([1u8; 256]);
    want.extend(unhex("a36e7370a12f"));
    let p = event("/", None, "big", vec![list, map, bin(&[1; 256])]);
    assert_eq!(encoded(V5, &p), want);
}

#[test]
fn encoded_binary_is_one_exact_allocation() {
    let p = event(
        "/",
        Some(1),
        "e",
        vec![bin(&[5; 70_000]), "s".repeat(70_000).into()],
    );
    let bytes = encoded(V5, &p);
    // The encoder debug-asserts its exact size; also check the 32-bit formats.
    assert_eq!(
        bytes.len(),
        1 + 5 + 1 + 5 + 1 + 2 + 5 + 70_000 + 5 + 70_000 + 4 + 2 + 3 + 1
    );
}

// ---------------------------------------------------------------- decoding

#[test]
fn decodes_client_packets() {
    // socket.io-client 4.x adds an `options` key; it is ignored.
    let p = decode(&unhex("85a47479706502a46461746192a2657601a76f7074696f6e7381a8636f6d7072657373c3a2696404a36e7370a12f")).unwrap();
    assert_eq!(p, event("/", Some(4), "ev", vec![1.into()]));
    let p = decode(&unhex(
        "83a47479706500a46461746181a5746f6b656ea178a36e7370a62f61646d696e",
    ))
    .unwrap();
    assert_eq!(
        p,
        packet(
            "/admin",
            None,
            PacketData::Connect(Some(json(r#"{"token":"x"}"#)))
        )
    );
    let p = decode(&unhex("82a47479706500a36e7370a62f61646d696e")).unwrap();
    assert_eq!(p, packet("/admin", None, PacketData::Connect(None)));
    let p = decode(&unhex("82a47479706501a36e7370a62f61646d696e")).unwrap();
    assert_eq!(p, packet("/admin", None, PacketData::Disconnect));
    let p = decode(&unhex(
        "84a47479706503a4646174619281a16101c400a36e7370a52f63686174a26964cd012c",
    ))
    .unwrap();
    assert_eq!(
        p,
        packet(
            "/chat",
            Some(300),
            PacketData::Ack(vec![json(r#"{"a":1}"#), bin(&[])])
        )
    );
}

#[test]
fn decodes_what_notepack_accepts() {
    // Each case was accepted by the reference decoder; the comment says what it saw.
    let ev = |args: Vec<Value>| event("/", None, "ev", args);
    let cases: Vec<(&str, Packet)> = vec![
        // type written as float 2.0: Number.isInteger(2.0)
        ("83a474797065 cb4000000000000000 a464617461 91a26576 a36e7370 a12f", ev(vec![])),
        // id: undefined (fixext 1, type 0) is an absent id
        ("84a474797065 02 a464617461 91a26576 a36e7370 a12f a26964 d40000", ev(vec![])),
        // Date → its toISOString(): 2029-07-07T19:40:46.819Z
        ("83a474797065 02 a464617461 92a26576 d700000001b54a52c563 a36e7370 a12f", ev(vec!["2029-07-07T19:40:46.819Z".into()])),
        // ext type 5 → [5, <Buffer 07>]
        ("83a474797065 02 a464617461 92a26576 d40507 a36e7370 a12f", ev(vec![Value::Array(vec![5.into(), bin(&[7])])])),
        // ext 8 type 0 → ArrayBuffer
        ("83a474797065 02 a464617461 92a26576 c7020001ff a36e7370 a12f", ev(vec![bin(&[1, 0xff])])),
        // undefined inside data → null
        ("83a474797065 02 a464617461 92a26576 d40000 a36e7370 a12f", ev(vec![Value::Null])),
        // numeric map key → "1"
        ("83a474797065 02 a464617461 92a26576 81 01 02 a36e7370 a12f", ev(vec![json(r#"{"1":2}"#)])),
        // nil and bool keys, like JS property keys
        ("83a474797065 02 a464617461 92a26576 82 c0 01 c3 02 a36e7370 a12f", ev(vec![json(r#"{"null":1,"true":2}"#)])),
        // invalid UTF-8 → U+FFFD, like Buffer#toString
        ("83a474797065 02 a464617461 92a26576 a2ff61 a36e7370 a12f", ev(vec!["\u{fffd}a".into()])),
        // a repeated key: the last value wins
        ("84a474797065 02 a464617461 91a26576 a36e7370 a12f a36e7370 a12f", ev(vec![])),
        // float 32, int 64 extremes, NaN → null
        ("83a474797065 02 a464617461 95a26576 ca3fc00000 cf ffffffffffffffff d3 8000000000000000 cb7ff8000000000000 a36e7370 a12f",
            ev(vec![1.5.into(), u64::MAX.into(), i64::MIN.into(), Value::Null])),
        // numeric event name → its string
        ("83a474797065 02 a464617461 91cb3ff8000000000000 a36e7370 a12f", event("/", None, "1.5", vec![])),
        // CONNECT data undefined → no auth
        ("83a474797065 00 a464617461 d40000 a36e7370 a12f", packet("/", None, PacketData::Connect(None))),
        // id as an integral float
        ("84a474797065 02 a464617461 91a26576 a36e7370 a12f a26964 cb4008000000000000", event("/", Some(3), "ev", vec![])),
        // map16 / array16 / str16 / bin32 forms are accepted even when small
        ("de0003 a474797065 02 a464617461 dc0002 da0002 6576 c600000001 09 a36e7370 a12f", ev(vec![bin(&[9])])),
        // a namespace that is any string (the server decides whether it exists)
        ("83a474797065 02 a464617461 91a26576 a36e7370 a3616263", event("abc", None, "ev", vec![])),
    ];
    for (input, want) in cases {
        assert_eq!(
            decode(&unhex(input)).unwrap_or_else(|e| panic!("{input}: {e}")),
            want,
            "{input}"
        );
    }
}

#[test]
fn binary_data_is_sliced_not_copied() {
    let input = Bytes::from(unhex(
        "83a474797065 02 a464617461 92a26576 c403010203 a36e7370 a12f",
    ));
    let mut d = Decoder::new(ParserKind::MsgPack, V5, DecodeLimits::default());
    let p = d.decode(Incoming::Binary(input.clone())).unwrap().unwrap();
    let PacketData::Event { args, .. } = p.data else {
        panic!()
    };
    let data = args[0].as_binary().unwrap();
    assert_eq!(&data[..], &[1, 2, 3]);
    assert_eq!(data.as_ptr(), input[18..].as_ptr());
}

#[test]
fn round_trips_every_packet_kind() {
    let mut nested = Map::default();
    nested.insert(
        "list".into(),
        Value::Array(vec![bin(&[1]), "s".into(), bin(&[2, 3])]),
    );
    nested.insert(
        "n".into(),
        Value::Array(vec![
            (-5).into(),
            70000.into(),
            0.25.into(),
            u64::MAX.into(),
        ]),
    );
    let packets = vec![
        packet("/", None, PacketData::Disconnect),
        packet(
            "/admin",
            None,
            PacketData::Connect(Some(json(r#"{"token":"t"}"#))),
        ),
        packet("/admin", None, PacketData::Connect(None)),
        event("/", None, "e", vec![]),
        event(
            "/a",
            Some(4),
            "bin",
            vec![Value::Object(nested.clone()), bin(&[]), bin(&[9; 300])],
        ),
        packet(
            "/b",
            Some(8),
            PacketData::Ack(vec![Value::Object(nested), "x".into()]),
        ),
        packet("/b", Some(9007199254740991), PacketData::Ack(vec![])),
    ];
    for rev in [V4, V5] {
        for p in &packets {
            if rev == V4 && matches!(p.data, PacketData::Connect(Some(_))) {
                continue;
            }
            let got = decode_rev(rev, &encoded(rev, p)).unwrap();
            assert_eq!(&got, p, "{rev:?}");
        }
    }
}

// ---------------------------------------------------------------- malformed

#[test]
fn rejects_what_the_reference_rejects() {
    use ParseError as E;
    type Check = fn(&ParseError) -> bool;
    let table: Vec<(&str, Check)> = vec![
        ("83a474797065 05 a464617461 91a26576 a36e7370 a12f", |e| {
            matches!(e, E::InvalidPacketType(_))
        }),
        ("83a474797065 ff a464617461 91a26576 a36e7370 a12f", |e| {
            matches!(e, E::InvalidPacketType(_))
        }),
        (
            "83a474797065 cb3ff8000000000000 a464617461 91a26576 a36e7370 a12f",
            |e| matches!(e, E::InvalidPacketType(_)),
        ),
        ("83a474797065 a132 a464617461 91a26576 a36e7370 a12f", |e| {
            matches!(e, E::InvalidPacketType(_))
        }),
        ("82a464617461 91a26576 a36e7370 a12f", |e| {
            matches!(e, E::InvalidPacketType(_))
        }),
        ("82a474797065 02 a464617461 91a26576", |e| {
            matches!(e, E::InvalidNamespace(_))
        }),
        ("83a474797065 02 a464617461 91a26576 a36e7370 01", |e| {
            matches!(e, E::InvalidNamespace(_))
        }),
        ("83a474797065 02 a464617461 91a26576 a36e7370 c0", |e| {
            matches!(e, E::InvalidNamespace(_))
        }),
        (
            "84a474797065 02 a464617461 91a26576 a36e7370 a12f a26964 cb3ff8000000000000",
            |e| matches!(e, E::InvalidAckId(_)),
        ),
        (
            "84a474797065 02 a464617461 91a26576 a36e7370 a12f a26964 c0",
            |e| matches!(e, E::InvalidAckId(_)),
        ),
        (
            "84a474797065 02 a464617461 91a26576 a36e7370 a12f a26964 a131",
            |e| matches!(e, E::InvalidAckId(_)),
        ),
        ("83a474797065 01 a464617461 90 a36e7370 a12f", |e| {
            matches!(e, E::InvalidPayload { .. })
        }),
        ("83a474797065 00 a464617461 c0 a36e7370 a12f", |e| {
            matches!(e, E::InvalidPayload { .. })
        }),
        ("83a474797065 00 a464617461 90 a36e7370 a12f", |e| {
            matches!(e, E::InvalidPayload { .. })
        }),
        ("83a474797065 02 a464617461 a26576 a36e7370 a12f", |e| {
            matches!(e, E::InvalidPayload { .. })
        }),
        ("83a474797065 03 a464617461 80 a36e7370 a12f", |e| {
            matches!(e, E::InvalidPayload { .. })
        }),
        (
            "83a474797065 02 a464617461 92a26576 c1 a36e7370 a12f",
            |e| {
                matches!(
                    e,
                    E::MsgPack(MsgPackError::InvalidMarker { byte: 0xc1, .. })
                )
            },
        ),
        (
            "83a474797065 02 a464617461 91a26576 a36e7370 a12f 00",
            |e| matches!(e, E::MsgPack(MsgPackError::TrailingBytes { count: 1 })),
        ),
        ("83a474797065 02 a464617461 91a26576 a36e7370 a1", |e| {
            matches!(e, E::MsgPack(MsgPackError::UnexpectedEof { .. }))
        }),
        ("93 02 01 02", |e| {
            matches!(e, E::MsgPack(MsgPackError::NotAMap))
        }),
        ("", |e| {
            matches!(e, E::MsgPack(MsgPackError::UnexpectedEof { .. }))
        }),
        ("c0", |e| matches!(e, E::MsgPack(MsgPackError::NotAMap))),
        // Lying lengths: no huge allocation, just the end of input.
        ("83a474797065 02 a464617461 dd ffffffff", |e| {
            matches!(e, E::MsgPack(MsgPackError::UnexpectedEof { .. }))
        }),
        ("83a474797065 02 a464617461 df ffffffff", |e| {
            matches!(e, E::MsgPack(MsgPackError::UnexpectedEof { .. }))
        }),
        ("83a474797065 02 a464617461 92a26576 db ffffffff 61", |e| {
            matches!(e, E::MsgPack(MsgPackError::UnexpectedEof { .. }))
        }),
        ("83a474797065 02 a464617461 92a26576 c6 ffffffff 61", |e| {
            matches!(e, E::MsgPack(MsgPackError::UnexpectedEof { .. }))
        }),
        (
            "83a474797065 02 a464617461 92a26576 c9 ffffffff 00 61",
            |e| matches!(e, E::MsgPack(MsgPackError::UnexpectedEof { .. })),
        ),
        ("df ffffffff", |e| {
            matches!(e, E::MsgPack(MsgPackError::UnexpectedEof { .. }))
        }),
        // Keys that JavaScript would turn into "[object Object]" and the like.
        (
            "83a474797065 02 a464617461 92a26576 81 90 01 a36e7370 a12f",
            |e| matches!(e, E::MsgPack(MsgPackError::InvalidKey { .. })),
        ),
        (
            "83a474797065 02 a464617461 92a26576 81 c40101 01 a36e7370 a12f",
            |e| matches!(e, E::MsgPack(MsgPackError::InvalidKey { .. })),
        ),
        (
            "84 80 01 a474797065 02 a464617461 91a26576 a36e7370 a12f",
            |e| matches!(e, E::MsgPack(MsgPackError::InvalidKey { .. })),
        ),
    ];
    for (input, check) in &table {
        match decode(&unhex(input)) {
            Err(e) => assert!(check(&e), "{input}: unexpected error kind {e:?}"),
            Ok(p) => panic!("{input} was accepted as {p:?}"),
        }
    }
}

#[test]
fn rejects_what_we_cannot_represent_or_trust() {
    // Each of these is accepted by the reference decoder (deviation, see module docs).
    use ParseError as E;
    type Check = fn(&ParseError) -> bool;
    let table: Vec<(&str, Check)> = vec![
        // negative ack id
        (
            "84a474797065 02 a464617461 91a26576 a36e7370 a12f a26964 ff",
            |e| matches!(e, E::InvalidAckId(_)),
        ),
        // ack id beyond 2^53 - 1
        (
            "84a474797065 02 a464617461 91a26576 a36e7370 a12f a26964 cf0020000000000000",
            |e| matches!(e, E::InvalidAckId(_)),
        ),
        // ACK without id
        ("83a474797065 03 a464617461 90 a36e7370 a12f", |e| {
            matches!(e, E::InvalidAckId(_))
        }),
        // event without a name, or with an object as name
        ("83a474797065 02 a464617461 90 a36e7370 a12f", |e| {
            matches!(e, E::InvalidPayload { .. })
        }),
        ("83a474797065 02 a464617461 9180 a36e7370 a12f", |e| {
            matches!(e, E::InvalidPayload { .. })
        }),
        // EVENT without data at all
        ("82a474797065 02 a36e7370 a12f", |e| {
            matches!(e, E::InvalidPayload { .. })
        }),
        // reserved event name
        (
            "83a474797065 02 a464617461 91a7636f6e6e656374 a36e7370 a12f",
            |e| matches!(e, E::ReservedEventName(_)),
        ),
        // CONNECT_ERROR from a client
        ("83a474797065 04 a464617461 a178 a36e7370 a12f", |e| {
            matches!(e, E::UnexpectedPacketType(_))
        }),
    ];
    for (input, check) in &table {
        match decode(&unhex(input)) {
            Err(e) => assert!(check(&e), "{input}: unexpected error kind {e:?}"),
            Ok(p) => panic!("{input} was accepted as {p:?}"),
        }
    }
}

#[test]
fn every_truncation_is_rejected() {
    let p = event(
        "/chat",
        Some(77),
        "ev",
        vec![json(r#"{"a":[1,-200,2.5,"x",null]}"#), bin(&[1, 2, 3])],
    );
    let full = encoded(V5, &p);
    assert_eq!(decode(&full).unwrap(), p);
    for end in 0..full.len() {
        assert!(decode(&full[..end]).is_err(), "prefix of {end} bytes");
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    let mut deep = unhex("83a474797065 02 a464617461 92a26576");
    deep.extend(std::iter::repeat_n(0x91u8, 100_000));
    deep.push(0xc0);
    deep.extend(unhex("a36e7370 a12f"));
    assert!(matches!(
        decode(&deep),
        Err(ParseError::MsgPack(MsgPackError::TooDeep { .. }))
    ));
    let mut maps = unhex("83a474797065 02 a464617461 92a26576");
    for _ in 0..100_000 {
        maps.extend(unhex("81a16b"));
    }
    assert!(matches!(
        decode(&maps),
        Err(ParseError::MsgPack(MsgPackError::TooDeep { .. }))
    ));
    // 100 levels are fine.
    let mut ok = unhex("83a474797065 02 a464617461 92a26576");
    ok.extend(std::iter::repeat_n(0x91u8, 100));
    ok.push(0xc0);
    ok.extend(unhex("a36e7370 a12f"));
    assert!(decode(&ok).is_ok());
}

#[test]
fn rejects_text_messages() {
    let mut d = Decoder::new(ParserKind::MsgPack, V5, DecodeLimits::default());
    let r = d.decode(Incoming::Text(Bytes::from_static(b"2[\"a\"]")));
    assert!(matches!(r, Err(ParseError::TextMessage)));
}

#[test]
fn event_name_length_is_limited() {
    let limits = DecodeLimits {
        max_event_name_len: 1,
        ..DecodeLimits::default()
    };
    let mut d = Decoder::new(ParserKind::MsgPack, V5, limits);
    let input = Bytes::from(unhex("83a474797065 02 a464617461 91a26576 a36e7370 a12f"));
    assert!(matches!(
        d.decode(Incoming::Binary(input)),
        Err(ParseError::EventNameTooLong { len: 2, max: 1 })
    ));
}
