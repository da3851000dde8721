//! The single-channel Redis bridge.

use crate::gateway::Gateway;

/// Subscribes to the configured channel, if any.
pub fn spawn(_gateway: &Gateway) {}
