//! Property-style robustness tests without extra dependencies: deterministic
//! pseudo-random mutations of valid messages must never make a decoder panic, and
//! whatever a decoder accepts must come back the same after re-encoding.

use bytes::Bytes;
use sockeye_engine::{Incoming, Message};

use super::{encode, DecodeLimits, Decoder, ParserKind};
use crate::{Packet, PacketData, ProtocolRevision, Value};

/// xorshift64*: small, deterministic, good enough to pick mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

/// Bytes that mean something to one of the formats.
const INTERESTING: &[u8] = b"[]{}\",:-/0123456789_ .e\\\x00\x7f\x80\x90\xa0\xc0\xc1\xc4\xc7\xcb\xd4\xd7\xd9\xdc\xdd\xde\xdf\xff";

fn mutate(rng: &mut Rng, input: &[u8]) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..=rng.below(4) {
        let len = out.len();
        match rng.below(7) {
            0 if len > 0 => {
                let i = rng.below(len);
                out[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                out[i] = INTERESTING[rng.below(INTERESTING.len())];
            }
            2 => {
                let i = rng.below(len + 1);
                out.insert(i, INTERESTING[rng.below(INTERESTING.len())]);
            }
            3 if len > 0 => {
                out.remove(rng.below(len));
            }
            4 => out.truncate(rng.below(len + 1)),
            5 if len > 0 => {
                let start = rng.below(len);
                let end = start + rng.below((len - start).min(16) + 1);
                let piece = out[start..end].to_vec();
                let at = rng.below(len + 1);
                out.splice(at..at, piece);
            }
            _ => {
                // Swap two bytes.
                if len > 1 {
                    let (a, b) = (rng.below(len), rng.below(len));
                    out.swap(a, b);
                }
            }
        }
    }
    out
}

/// Equality up to number representation: `2.0` re-encoded is `2`, as in JavaScript.
fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            match (x.as_i64(), y.as_i64(), x.as_u64(), y.as_u64()) {
                (Some(p), Some(q), _, _) => p == q,
                (_, _, Some(p), Some(q)) => p == q,
                _ => x.as_f64() == y.as_f64(),
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same_value(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|((kp, p), (kq, q))| kp == kq && same_value(p, q))
        }
        _ => a == b,
    }
}

fn same_args(a: &[Value], b: &[Value]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(p, q)| same_value(p, q))
}

fn same_packet(a: &Packet, b: &Packet) -> bool {
    a.nsp == b.nsp
        && a.id == b.id
        && match (&a.data, &b.data) {
            (
                PacketData::Event { name: n1, args: a1 },
                PacketData::Event { name: n2, args: a2 },
            ) => n1 == n2 && same_args(a1, a2),
            (PacketData::Ack(a1), PacketData::Ack(a2)) => same_args(a1, a2),
            (PacketData::Connect(Some(x)), PacketData::Connect(Some(y))) => same_value(x, y),
            (x, y) => x == y,
        }
}

/// Re-encodes an accepted packet and checks the decoder gives it back.
fn assert_round_trip(parser: ParserKind, rev: ProtocolRevision, p: &Packet) {
    if rev == ProtocolRevision::V4 && matches!(p.data, PacketData::Connect(Some(_))) {
        return; // v4 CONNECT carries no payload from the server.
    }
    let mut d = Decoder::new(parser, rev, DecodeLimits::default());
    let mut again = None;
    for m in encode(parser, rev, p).messages() {
        let incoming = match m {
            Message::Text(b) => Incoming::Text(b.slice(1..)),
            Message::Binary(b) => Incoming::Binary(b.clone()),
        };
        again = d
            .decode(incoming)
            .unwrap_or_else(|e| panic!("re-encoded {p:?} rejected: {e}"));
    }
    let again = again.expect("re-encoded packet complete");
    assert!(same_packet(p, &again), "{p:?} came back as {again:?}");
}

fn text_seeds() -> Vec<Vec<Incoming>> {
    let t = |s: &str| Incoming::Text(Bytes::copy_from_slice(s.as_bytes()));
    let b = |s: &[u8]| Incoming::Binary(Bytes::copy_from_slice(s));
    vec![
        vec![t("0")],
        vec![t(r#"0/admin,{"token":"abc","n":[1,2.5,-3]}"#)],
        vec![t("0/chat?token=abc&x=%41,")],
        vec![t("1/admin,")],
        vec![t(r#"2["hello","world",1,{"a":[true,null,"\u00e9\n"]}]"#)],
        vec![t(r#"2/chat,12["msg",1.5e-7,-3,"x"]"#)],
        vec![t(r#"3/chat,7["ok",{"k":[]}]"#)],
        vec![
            t(
                r#"52-5["upload",{"_placeholder":true,"num":0},{"nested":[{"_placeholder":true,"num":1}],"k":"v"}]"#,
            ),
            b(&[1, 2, 3]),
            b(b"hi"),
        ],
        vec![
            t(
                r#"63-/files,9[{"_placeholder":true,"num":0},[{"_placeholder":true,"num":1},{"_placeholder":true,"num":2}]]"#,
            ),
            b(&[0xff]),
            b(&[]),
            b(&[0, 1]),
        ],
    ]
}

fn msgpack_seeds() -> Vec<Vec<u8>> {
    let hex = |s: &str| -> Vec<u8> {
        let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap_or(0))
            .collect()
    };
    vec![
        hex("85a47479706502a46461746192a2657601a76f7074696f6e7381a8636f6d7072657373c3a2696404a36e7370a12f"),
        hex("83a47479706500a46461746181a5746f6b656ea178a36e7370a62f61646d696e"),
        hex("82a47479706501a36e7370a62f61646d696e"),
        hex("84a47479706503a4646174619281a16101c400a36e7370a52f63686174a26964cd012c"),
        hex("83a474797065 02 a464617461 95a26576 ca3fc00000 cf ffffffffffffffff d700000001b54a52c563 c7020001ff a36e7370 a12f"),
        hex("de0003 a474797065 02 a464617461 dc0002 da0002 6576 c600000001 09 a36e7370 a12f"),
    ]
}

#[test]
fn mutated_text_messages_never_panic() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut accepted = 0;
    for rev in [ProtocolRevision::V4, ProtocolRevision::V5] {
        for seed in text_seeds() {
            for _ in 0..1500 {
                let mut msgs = seed.clone();
                // Mutate one message, sometimes also drop, repeat or reorder messages.
                let i = rng.below(msgs.len());
                let (Incoming::Text(bytes) | Incoming::Binary(bytes)) = &msgs[i];
                let mutated = Bytes::from(mutate(&mut rng, bytes));
                msgs[i] = match &msgs[i] {
                    Incoming::Text(_) => Incoming::Text(mutated),
                    Incoming::Binary(_) => Incoming::Binary(mutated),
                };
                match rng.below(8) {
                    0 => {
                        msgs.remove(rng.below(msgs.len()));
                    }
                    1 => {
                        let j = rng.below(msgs.len());
                        msgs.insert(j, msgs[j].clone());
                    }
                    2 => {
                        let (a, b) = (rng.below(msgs.len()), rng.below(msgs.len()));
                        msgs.swap(a, b);
                    }
                    _ => {}
                }
                let mut d = Decoder::new(ParserKind::Default, rev, DecodeLimits::default());
                for m in msgs {
                    if let Ok(Some(p)) = d.decode(m) {
                        accepted += 1;
                        assert_round_trip(ParserKind::Default, rev, &p);
                    }
                }
            }
        }
    }
    // The mutations are mild enough that some inputs stay valid.
    assert!(
        accepted > 100,
        "only {accepted} mutated packets were accepted"
    );
}

#[test]
fn mutated_msgpack_messages_never_panic() {
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let mut accepted = 0;
    for rev in [ProtocolRevision::V4, ProtocolRevision::V5] {
        for seed in msgpack_seeds() {
            for _ in 0..2000 {
                let input = Bytes::from(mutate(&mut rng, &seed));
                let mut d = Decoder::new(ParserKind::MsgPack, rev, DecodeLimits::default());
                if let Ok(Some(p)) = d.decode(Incoming::Binary(input)) {
                    accepted += 1;
                    assert_round_trip(ParserKind::MsgPack, rev, &p);
                }
            }
        }
    }
    assert!(
        accepted > 100,
        "only {accepted} mutated packets were accepted"
    );
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = Rng(42);
    for _ in 0..5000 {
        let len = rng.below(64);
        let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        for parser in [ParserKind::Default, ParserKind::MsgPack] {
            let mut d = Decoder::new(parser, ProtocolRevision::V5, DecodeLimits::default());
            let _ = d.decode(Incoming::Text(Bytes::from(bytes.clone())));
            let _ = d.decode(Incoming::Binary(Bytes::from(bytes.clone())));
        }
    }
}
