//! The `sockeye` gateway as a library: the binary is `main.rs`; the tests build the
//! same application in-process or run the binary.

pub mod app;
pub mod apps;
pub mod auth;
pub mod client_bundle;
pub mod config;
pub mod gateway;
pub mod health;
pub mod metrics;
pub mod origin;
pub mod publish;
pub mod redis;
pub mod shutdown;
