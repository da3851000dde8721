//! What other nodes and emitters publish on the Redis adapter's channels: msgpack
//! broadcasts, JSON or msgpack requests, responses. The first byte picks the channel.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&channel, message)) = data.split_first() else {
        return;
    };
    sockeye_redis::fuzzing::decode_message(channel, message);
});
