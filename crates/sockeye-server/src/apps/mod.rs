//! The built-in apps.

pub mod chat;
pub mod vote;
