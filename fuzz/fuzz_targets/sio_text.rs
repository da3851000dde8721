//! The default Socket.IO parser (JSON text packets with binary attachments), v4 and v5.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "sio_common.rs"]
mod sio_common;

fuzz_target!(|data: &[u8]| {
    sio_common::run(sockeye::ParserKind::Default, data);
});
