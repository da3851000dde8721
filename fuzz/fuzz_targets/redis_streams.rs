//! What other nodes write for the Redis streams adapter: stream entries (read back with
//! XREAD), msgpack messages on its pub/sub channels, and disconnected sessions stored
//! under `sio:session:<pid>`. The first byte picks which.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, bytes)) = data.split_first() else {
        return;
    };
    match mode % 4 {
        0 => sockeye_redis::fuzzing::decode_stream_entry(bytes, false),
        1 => sockeye_redis::fuzzing::decode_stream_entry(bytes, true),
        2 => sockeye_redis::fuzzing::decode_streams_pubsub(bytes),
        _ => sockeye_redis::fuzzing::decode_session(bytes),
    };
});
