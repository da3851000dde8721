//! Serde helpers for the fields both publish formats share.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer};

/// Keeps `null` apart from an absent field: `"data": null` is one `null` argument,
/// while a message without `data` has no argument at all. (A plain `Option` would
/// read both as `None`.) Use with `#[serde(default)]`.
pub(crate) fn present<'de, D>(deserializer: D) -> Result<Option<serde_json::Value>, D::Error>
where
    D: Deserializer<'de>,
{
    serde_json::Value::deserialize(deserializer).map(Some)
}

/// A room list: one room name or an array of them. Backends write `"room": "r"` for
/// the common case; anything else gets an error that names what is expected.
pub(crate) fn rooms<'de, D>(deserializer: D) -> Result<Vec<String>, D::Error>
where
    D: Deserializer<'de>,
{
    match serde_json::Value::deserialize(deserializer)? {
        serde_json::Value::Null => Ok(Vec::new()),
        serde_json::Value::String(room) => Ok(vec![room]),
        serde_json::Value::Array(items) => items
            .into_iter()
            .map(|item| match item {
                serde_json::Value::String(room) => Ok(room),
                _ => Err(D::Error::custom("room names must be strings")),
            })
            .collect(),
        _ => Err(D::Error::custom(
            "rooms must be a room name or an array of room names",
        )),
    }
}
