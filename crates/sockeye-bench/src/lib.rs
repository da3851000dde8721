//! sockeye-bench: a load generator speaking Engine.IO v4 / Socket.IO v5, the peer
//! servers it compares (Sockeye, Node.js socket.io 4.8, socketioxide), and the report.
//!
//! The generator checks what it measures: every subscriber must receive every
//! published message exactly once and in order, every ack must carry the data sent.
//! Violations are counted in [`Checks`] and reported next to the numbers.
//!
//! Run everything with `cargo run --release -p sockeye-bench -- --all` (or `--quick`).

pub mod charts;
pub mod checks;
pub mod client;
pub mod error;
pub mod http;
pub mod latency;
pub mod median;
pub mod packet;
pub mod peer;
pub mod procfs;
pub mod report;
pub mod run;
pub mod scenario;

pub use checks::Checks;
pub use error::BenchError;
pub use scenario::Target;
