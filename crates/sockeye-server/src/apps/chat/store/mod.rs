//! Where the chat keeps presence (who is in which room, under which nickname) and
//! history (the last messages of each room).
//!
//! Two stores implement [`ChatStore`]:
//! - [`MemoryChatStore`] keeps everything in this process, bounded: at most
//!   [`MAX_ROOMS`] rooms, [`HISTORY`] messages each. For one gateway.
//! - [`RedisChatStore`] keeps everything in Redis, so any number of gateways serve
//!   the same rooms and a gateway can die without losing the history; what it keeps
//!   and for how long is described in its module.

mod memory;
mod redis;

use std::future::Future;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use self::redis::{RedisChatConfig, RedisChatStore};
pub use memory::MemoryChatStore;

/// Messages kept per room, shown to late joiners.
pub const HISTORY: usize = 100;
/// Rooms kept at once (with people or history).
pub const MAX_ROOMS: usize = 1000;
/// People in one room.
pub const MAX_MEMBERS: usize = 500;

/// One chat message as the clients see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    pub from: String,
    pub text: String,
    /// Unix time in milliseconds.
    pub at: u64,
}

/// A room in the rooms list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RoomSummary {
    pub name: String,
    pub users: usize,
}

/// What a joiner learns.
#[derive(Debug, Clone)]
pub struct Joined {
    /// The nickname granted: the one asked for, or with a `-2`, `-3`… suffix when
    /// someone in the room already has it.
    pub nick: String,
    pub users: Vec<String>,
    pub history: Vec<ChatMessage>,
}

/// Why the store could not do what was asked. The messages are shown to users.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error("too many rooms are open right now; try an existing one")]
    TooManyRooms,
    #[error("this room is full")]
    RoomFull,
    /// The shared store (Redis) did not answer; the cause is logged, not shown.
    #[error("the chat is unavailable right now; try again in a moment")]
    Unavailable,
}

/// Presence and history of the chat. Members are identified by an opaque id (the
/// socket id); nicknames are unique per room, case-insensitively.
pub trait ChatStore: Send + Sync + 'static {
    /// Adds a member to a room and returns its granted nickname, the users and history.
    fn join(
        &self,
        room: &str,
        member: &str,
        nick: &str,
    ) -> impl Future<Output = Result<Joined, StoreError>> + Send;
    /// Removes a member from a room; returns its nickname if it was there.
    fn leave(
        &self,
        room: &str,
        member: &str,
    ) -> impl Future<Output = Result<Option<String>, StoreError>> + Send;
    /// The nicknames in a room, in joining order.
    fn users(&self, room: &str) -> impl Future<Output = Result<Vec<String>, StoreError>> + Send;
    /// The member id holding a nickname (matched case-insensitively) in a room.
    fn member(
        &self,
        room: &str,
        nick: &str,
    ) -> impl Future<Output = Result<Option<String>, StoreError>> + Send;
    /// Appends a message to a room's history (dropping the oldest beyond [`HISTORY`]).
    fn push(
        &self,
        room: &str,
        message: ChatMessage,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Rooms with people or history, busiest first.
    fn rooms(&self) -> impl Future<Output = Result<Vec<RoomSummary>, StoreError>> + Send;

    /// How often [`ChatStore::sweep`] must run; `None` when the store needs no
    /// housekeeping.
    fn sweep_every(&self) -> Option<Duration> {
        None
    }

    /// Housekeeping (for a shared store: telling the others this gateway is alive and
    /// dropping the members of gateways that are not). Returns the rooms whose users
    /// changed, so their viewers can be told.
    fn sweep(&self) -> impl Future<Output = Result<Vec<String>, StoreError>> + Send {
        async { Ok(Vec::new()) }
    }
}
