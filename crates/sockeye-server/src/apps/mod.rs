//! The built-in apps: a multi-room chat (`/chat`) and a "where to eat" vote (`/vote`).
//!
//! Each app registers its own Socket.IO namespace and returns the axum routes of its
//! pages. The pages, scripts and styles live in `assets/` and are compiled into the
//! binary, so the gateway stays a single self-contained file.

mod assets;
pub mod chat;
mod redis_script;
mod session;
pub mod validate;
pub mod vote;
