//! Settings of the streams adapter, with the defaults of `@socket.io/redis-streams-adapter`.

use std::time::Duration;

/// Settings shared by every namespace of a node. The defaults are those of the Node.js
/// `@socket.io/redis-streams-adapter` 0.3, so that a Sockeye node joins a Node.js
/// cluster configured with defaults without any setting.
#[derive(Clone, Debug)]
pub struct StreamsAdapterConfig {
    /// The Redis stream every node appends to and reads (`streamName`, `socket.io`).
    pub stream_name: String,
    /// Prefix of the pub/sub channels used for requests and their answers
    /// (`channelPrefix`, `socket.io`).
    pub channel_prefix: String,
    /// Approximate length the stream is trimmed to on each append (`maxLen`, 10 000).
    /// A client whose offset was trimmed away is not recovered.
    pub max_len: usize,
    /// How many entries one read returns at most (`readCount`, 100).
    pub read_count: usize,
    /// How long one blocking read waits for new entries (`blockTimeInMs`, 5 s).
    pub block_time: Duration,
    /// Prefix of the keys of disconnected sessions (`sessionKeyPrefix`, `sio:session:`).
    pub session_key_prefix: String,
    /// How long a request to the other nodes (such as `fetch_sockets`) waits for their
    /// answers (5 s, the Node.js default).
    pub request_timeout: Duration,
    /// How many missed packets a recovery reads back at most; a client that missed more
    /// gets a new socket rather than a history with a hole (10 000).
    pub max_missed_packets: usize,
}

impl Default for StreamsAdapterConfig {
    fn default() -> Self {
        StreamsAdapterConfig {
            stream_name: "socket.io".to_string(),
            channel_prefix: "socket.io".to_string(),
            max_len: 10_000,
            read_count: 100,
            block_time: Duration::from_secs(5),
            session_key_prefix: "sio:session:".to_string(),
            request_timeout: Duration::from_secs(5),
            max_missed_packets: 10_000,
        }
    }
}

impl StreamsAdapterConfig {
    /// Sets the stream name.
    pub fn stream_name(mut self, name: impl Into<String>) -> Self {
        self.stream_name = name.into();
        self
    }

    /// Sets the prefix of the pub/sub channels.
    pub fn channel_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.channel_prefix = prefix.into();
        self
    }

    /// Sets the request timeout.
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }
}
