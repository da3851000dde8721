//! A binary packet of the default parser while its attachments arrive.
//!
//! The text part announces N attachments; the next N binary messages are them, in
//! order. Each `{"_placeholder":true,"num":i}` object in the arguments is then
//! replaced by attachment `i`. The attachment is not copied: the packet keeps the
//! `Bytes` the engine handed over.

use bytes::Bytes;

use super::validate::integral_u64;
use super::ParseError;
use crate::{Packet, PacketData, Value};

#[derive(Debug)]
pub(super) struct Pending {
    /// The packet with placeholders still in its arguments.
    packet: Packet,
    expected: usize,
    buffers: Vec<Bytes>,
}

impl Pending {
    /// `expected` is at least 1 and bounded by the decode limits.
    pub(super) fn new(packet: Packet, expected: usize) -> Self {
        Pending {
            packet,
            expected,
            buffers: Vec::with_capacity(expected),
        }
    }

    /// Attachments still to come.
    pub(super) fn remaining(&self) -> usize {
        self.expected.saturating_sub(self.buffers.len())
    }

    pub(super) fn push(&mut self, attachment: Bytes) {
        self.buffers.push(attachment);
    }

    /// Replaces the placeholders once every attachment has arrived. Every placeholder
    /// must name a received attachment, and every attachment must be named (an
    /// attachment may be named twice, as the reference decoder allows).
    pub(super) fn finish(mut self) -> Result<Packet, ParseError> {
        let mut used = vec![false; self.buffers.len()];
        if let PacketData::Event { args, .. } | PacketData::Ack(args) = &mut self.packet.data {
            for arg in args {
                replace_placeholders(arg, &self.buffers, &mut used)?;
            }
        }
        match used.iter().position(|&u| !u) {
            Some(index) => Err(ParseError::UnreferencedAttachment { index }),
            None => Ok(self.packet),
        }
    }
}

/// Recursion is bounded: decoded JSON is at most 128 levels deep.
fn replace_placeholders(
    value: &mut Value,
    buffers: &[Bytes],
    used: &mut [bool],
) -> Result<(), ParseError> {
    match value {
        Value::Object(map) if map.get("_placeholder") == Some(&Value::Bool(true)) => {
            let index = placeholder_index(map.get("num"), buffers.len())?;
            if let (Some(slot), Some(buffer)) = (used.get_mut(index), buffers.get(index)) {
                *slot = true;
                *value = Value::Binary(buffer.clone());
            }
            Ok(())
        }
        Value::Object(map) => map
            .values_mut()
            .try_for_each(|v| replace_placeholders(v, buffers, used)),
        Value::Array(items) => items
            .iter_mut()
            .try_for_each(|v| replace_placeholders(v, buffers, used)),
        _ => Ok(()),
    }
}

fn placeholder_index(num: Option<&Value>, count: usize) -> Result<usize, ParseError> {
    let Some(num) = num else {
        return Err(ParseError::InvalidPlaceholder("missing num".into()));
    };
    let index = match num {
        Value::Number(n) => integral_u64(n).and_then(|i| usize::try_from(i).ok()),
        _ => None,
    };
    match index {
        Some(i) if i < count => Ok(i),
        _ => {
            // Name the offending value without echoing a possibly huge client string.
            let num = match num {
                Value::Number(n) => n.to_string(),
                other => other.kind().to_owned(),
            };
            Err(ParseError::InvalidPlaceholder(format!(
                "num {num} does not name one of the {count} attachment(s)"
            )))
        }
    }
}
