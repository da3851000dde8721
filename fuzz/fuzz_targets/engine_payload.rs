//! Polling request bodies: v4 text, v3 text (UTF-16 length prefixes) and v3 binary
//! (XHR2). The first byte picks the protocol and content type.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, body)) = data.split_first() else {
        return;
    };
    let v3 = mode & 1 == 1;
    let binary = mode & 2 == 2;
    sockeye_engine::fuzzing::decode_payload(v3, binary, body);
});
