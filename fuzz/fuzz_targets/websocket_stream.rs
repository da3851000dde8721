//! Raw bytes from a websocket client (frame headers, masks, fragments, control
//! frames), read as the connection reads them. The first byte picks how the bytes are
//! cut into reads and the message size limit.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, stream)) = data.split_first() else {
        return;
    };
    let chunk = usize::from(mode & 0x0F) * 97 + 1;
    let max_message = 1usize << (mode >> 4);
    sockeye_engine::fuzzing::read_websocket(stream, chunk, max_message);
});
