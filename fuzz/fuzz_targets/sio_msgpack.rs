//! The msgpack Socket.IO parser (socket.io-msgpack-parser format).
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "sio_common.rs"]
mod sio_common;

fuzz_target!(|data: &[u8]| {
    sio_common::run(sockeye::ParserKind::MsgPack, data);
});
