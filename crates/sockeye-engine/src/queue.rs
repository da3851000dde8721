//! A session's outgoing queue: application messages and the server's own packets, in
//! the order they must reach the client, whatever transport drains them.
//!
//! The queue lives inside the session's state lock (so "is the session open?" and
//! "queue it" are one step) and its `VecDeque` allocates only once something is queued
//! and gives its memory back after a burst, so an idle session costs a few words.

use std::collections::VecDeque;

use crate::packet::Control;
use crate::stats::{Stats, STATS};
use crate::{Message, Outgoing};

/// One queued unit. A group is never split by a transport.
#[derive(Debug, Clone)]
pub(crate) enum Item {
    Control(Control),
    Out(Outgoing),
}

impl Item {
    /// Approximate size on the wire, used to cut polling batches.
    pub(crate) fn size(&self) -> usize {
        match self {
            Item::Control(c) => c.encoded().len(),
            Item::Out(o) => o.messages().iter().map(|m| m.payload_len() + 1).sum(),
        }
    }
}

/// How many server packets (pings, pongs) may sit beyond the application capacity
/// before the client is considered too slow: a client that pings (v3) but never reads
/// must not grow the queue without bound.
const CONTROL_SLACK: usize = 16;

/// The queue is at capacity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Full;

#[derive(Debug, Default)]
pub(crate) struct Queue {
    items: VecDeque<Item>,
}

impl Queue {
    /// Queues an application message or group, unless `capacity` items are queued.
    pub(crate) fn push_out(&mut self, out: Outgoing, capacity: usize) -> Result<(), Full> {
        if self.items.len() >= capacity {
            return Err(Full);
        }
        let messages = out.messages();
        let bytes: usize = messages.iter().map(Message::payload_len).sum();
        Stats::add(&STATS.messages_out, messages.len() as u64);
        Stats::add(&STATS.bytes_out, bytes as u64);
        self.items.push_back(Item::Out(out));
        Ok(())
    }

    /// Queues a server packet; these may exceed `capacity` by a small slack.
    pub(crate) fn push_control(&mut self, control: Control, capacity: usize) -> Result<(), Full> {
        if self.items.len() >= capacity.saturating_add(CONTROL_SLACK) {
            return Err(Full);
        }
        self.items.push_back(Item::Control(control));
        Ok(())
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether the queue can take one more application item.
    #[cfg(test)]
    pub(crate) fn has_room(&self, capacity: usize) -> bool {
        self.items.len() < capacity
    }

    /// Takes queued items in order until about `max_bytes` are taken (at least one item,
    /// and groups whole).
    pub(crate) fn take_batch(&mut self, max_bytes: usize, out: &mut Vec<Item>) {
        let mut taken = 0usize;
        while let Some(item) = self.items.front() {
            let size = item.size();
            if !out.is_empty() && taken.saturating_add(size) > max_bytes {
                break;
            }
            taken = taken.saturating_add(size);
            if let Some(item) = self.items.pop_front() {
                out.push(item);
            }
        }
        self.release_memory();
    }

    /// Takes every queued item.
    pub(crate) fn take_all(&mut self, out: &mut Vec<Item>) {
        out.extend(self.items.drain(..));
        self.release_memory();
    }

    /// Takes every queued item by handing over the queue's buffer (and taking `out`'s,
    /// when `out` is empty): no copy, and an idle session keeps no buffer once the
    /// taker frees it.
    pub(crate) fn take_all_into(&mut self, out: &mut VecDeque<Item>) {
        if out.is_empty() {
            std::mem::swap(&mut self.items, out);
        } else {
            out.extend(self.items.drain(..));
            self.release_memory();
        }
    }

    /// Drops every queued item (an abrupt close).
    pub(crate) fn clear(&mut self) {
        self.items = VecDeque::new();
    }

    /// An emptied queue keeps its buffer unless it grew past a small size: idle
    /// sessions should not hold the memory of an old burst.
    fn release_memory(&mut self) {
        if self.items.is_empty() && self.items.capacity() > 32 {
            self.items = VecDeque::new();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(s: &str) -> Outgoing {
        Outgoing::One(Message::text(s))
    }

    #[test]
    fn bounded_for_application_items() {
        let mut q = Queue::default();
        assert!(q.push_out(msg("a"), 2).is_ok());
        assert!(q.push_out(msg("b"), 2).is_ok());
        assert_eq!(q.push_out(msg("c"), 2), Err(Full));
        assert!(!q.has_room(2));
        // server packets get a little slack, then fail too
        for _ in 0..CONTROL_SLACK {
            assert!(q.push_control(Control::Ping, 2).is_ok());
        }
        assert_eq!(q.push_control(Control::Ping, 2), Err(Full));
    }

    #[test]
    fn batches_cut_by_size_but_never_empty() {
        let mut q = Queue::default();
        q.push_out(msg(&"x".repeat(100)), 10).ok();
        q.push_out(msg("y"), 10).ok();
        q.push_control(Control::Ping, 10).ok();
        let mut out = Vec::new();
        q.take_batch(10, &mut out);
        assert_eq!(out.len(), 1, "an oversized item is still taken alone");
        out.clear();
        q.take_batch(10, &mut out);
        assert_eq!(out.len(), 2);
        assert!(q.is_empty());
    }

    #[test]
    fn groups_count_as_one_item() {
        let mut q = Queue::default();
        let group: std::sync::Arc<[Message]> =
            vec![Message::text("a"), Message::binary(vec![1u8, 2])].into();
        q.push_out(Outgoing::from(group), 1).ok();
        assert_eq!(q.len(), 1);
        let mut out = Vec::new();
        q.take_all(&mut out);
        assert_eq!(out[0].size(), 2 + 3);
    }

    #[test]
    fn take_all_into_hands_over_the_buffer_in_order() {
        let mut q = Queue::default();
        q.push_out(msg("a"), 10).ok();
        q.push_control(Control::Ping, 10).ok();
        let mut out = VecDeque::new();
        q.take_all_into(&mut out);
        assert_eq!(q.items.capacity(), 0);
        q.push_out(msg("b"), 10).ok();
        q.take_all_into(&mut out);
        let sizes: Vec<usize> = out.iter().map(Item::size).collect();
        assert_eq!(sizes, vec![2, 1, 2]);
        assert!(q.is_empty());
    }

    #[test]
    fn releases_memory_after_a_burst() {
        let mut q = Queue::default();
        for _ in 0..100 {
            q.push_out(msg("m"), 1000).ok();
        }
        let mut out = Vec::new();
        q.take_all(&mut out);
        assert_eq!(q.items.capacity(), 0);
        q.push_out(msg("m"), 1000).ok();
        q.clear();
        assert!(q.is_empty());
    }
}
