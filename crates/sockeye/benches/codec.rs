//! The default parser on the path of every event with an acknowledgement: an event
//! from a client decoded into values, and the ack carrying those values encoded back
//! (the `echo` of the benchmark servers), without the network.
//!
//! `cargo bench -p sockeye --bench codec`

use std::hint::black_box;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion};
use sockeye::parser::{encode, DecodeLimits, Decoder, ParserKind};
use sockeye::{Packet, PacketData, ProtocolRevision};
use sockeye_engine::Incoming;

/// The text of an event, as a client sends it (after the Engine.IO `4`).
fn event(i: u64) -> Bytes {
    Bytes::from(format!(
        r#"2{i}["echo",{{"c":7,"i":{i},"t":1733328000000000,"text":"echo"}}]"#
    ))
}

fn echo(c: &mut Criterion) {
    let mut group = c.benchmark_group("codec");
    let mut decoder = Decoder::new(
        ParserKind::Default,
        ProtocolRevision::V5,
        DecodeLimits::default(),
    );
    let text = event(12345);
    group.bench_function("decode an event", |b| {
        b.iter(|| decoder.decode(Incoming::Text(black_box(text.clone()))))
    });
    group.bench_function("decode an event, encode its ack", |b| {
        b.iter(|| {
            let Ok(Some(packet)) = decoder.decode(Incoming::Text(black_box(text.clone()))) else {
                panic!("the event did not decode");
            };
            let PacketData::Event { args, .. } = packet.data else {
                panic!("not an event");
            };
            let ack = Packet {
                nsp: packet.nsp,
                id: packet.id,
                data: PacketData::Ack(args),
            };
            encode(ParserKind::Default, ProtocolRevision::V5, black_box(&ack))
        })
    });
    group.finish();
}

criterion_group!(benches, echo);
criterion_main!(benches);
