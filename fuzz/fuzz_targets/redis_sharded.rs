//! What other nodes publish on the Redis sharded adapter's shard channels: cluster
//! messages as JSON text, or msgpack when they carry binary.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    sockeye_redis::fuzzing::decode_sharded_message(data);
});
