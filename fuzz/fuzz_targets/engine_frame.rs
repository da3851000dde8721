//! One websocket frame, text or binary, v3 or v4 (the first byte picks).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, frame)) = data.split_first() else {
        return;
    };
    sockeye_engine::fuzzing::decode_frame(mode & 1 == 1, mode & 2 == 2, frame);
});
