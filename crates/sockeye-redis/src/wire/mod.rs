//! The bytes exchanged with other nodes, in the formats of `@socket.io/redis-adapter` 8.
//!
//! Checked against the published package (`dist/index.js` of 8.3.0 and its encoder
//! notepack.io), and exercised against it by the mixed-cluster end-to-end test.

pub(crate) mod ack;
pub(crate) mod broadcast;
pub(crate) mod request;
pub(crate) mod value;
