//! The in-process chat store: everything in this gateway's memory, bounded
//! ([`MAX_ROOMS`] rooms, [`MAX_MEMBERS`] people and [`HISTORY`] messages each), for
//! one gateway. A room is forgotten when its last member leaves and it has no
//! history, or to make way for a new room when [`MAX_ROOMS`] are open.

use std::collections::{HashMap, VecDeque};
use std::time::Instant;

use parking_lot::Mutex;

use super::{
    ChatMessage, ChatStore, Joined, RoomSummary, StoreError, HISTORY, MAX_MEMBERS, MAX_ROOMS,
};

#[derive(Debug)]
struct Room {
    /// (member id, nickname), in joining order.
    members: Vec<(String, String)>,
    history: VecDeque<ChatMessage>,
    last_active: Instant,
}

impl Room {
    fn new() -> Self {
        Room {
            members: Vec::new(),
            history: VecDeque::new(),
            last_active: Instant::now(),
        }
    }

    fn nicks(&self) -> Vec<String> {
        self.members.iter().map(|(_, n)| n.clone()).collect()
    }

    fn has_nick(&self, nick: &str) -> bool {
        let wanted = nick.to_lowercase();
        self.members.iter().any(|(_, n)| n.to_lowercase() == wanted)
    }

    fn unique_nick(&self, wanted: &str) -> String {
        if !self.has_nick(wanted) {
            return wanted.to_string();
        }
        (2..)
            .map(|i| format!("{wanted}-{i}"))
            .find(|candidate| !self.has_nick(candidate))
            .unwrap_or_else(|| wanted.to_string())
    }
}

/// The in-process store.
#[derive(Debug, Default)]
pub struct MemoryChatStore {
    rooms: Mutex<HashMap<String, Room>>,
}

impl MemoryChatStore {
    /// Makes room for a new room: forgets the empty room idle the longest.
    fn evict_one(rooms: &mut HashMap<String, Room>) -> bool {
        let victim = rooms
            .iter()
            .filter(|(_, r)| r.members.is_empty())
            .min_by_key(|(_, r)| r.last_active)
            .map(|(name, _)| name.clone());
        match victim {
            Some(name) => {
                rooms.remove(&name);
                true
            }
            None => false,
        }
    }
}

impl ChatStore for MemoryChatStore {
    async fn join(&self, room: &str, member: &str, nick: &str) -> Result<Joined, StoreError> {
        let mut rooms = self.rooms.lock();
        if !rooms.contains_key(room) && rooms.len() >= MAX_ROOMS && !Self::evict_one(&mut rooms) {
            return Err(StoreError::TooManyRooms);
        }
        let entry = rooms.entry(room.to_string()).or_insert_with(Room::new);
        entry.members.retain(|(id, _)| id != member);
        if entry.members.len() >= MAX_MEMBERS {
            return Err(StoreError::RoomFull);
        }
        let nick = entry.unique_nick(nick);
        entry.members.push((member.to_string(), nick.clone()));
        entry.last_active = Instant::now();
        Ok(Joined {
            nick,
            users: entry.nicks(),
            history: entry.history.iter().cloned().collect(),
        })
    }

    async fn leave(&self, room: &str, member: &str) -> Result<Option<String>, StoreError> {
        let mut rooms = self.rooms.lock();
        let Some(entry) = rooms.get_mut(room) else {
            return Ok(None);
        };
        let Some(index) = entry.members.iter().position(|(id, _)| id == member) else {
            return Ok(None);
        };
        let (_, nick) = entry.members.remove(index);
        entry.last_active = Instant::now();
        if entry.members.is_empty() && entry.history.is_empty() {
            rooms.remove(room);
        }
        Ok(Some(nick))
    }

    async fn users(&self, room: &str) -> Result<Vec<String>, StoreError> {
        Ok(self
            .rooms
            .lock()
            .get(room)
            .map(Room::nicks)
            .unwrap_or_default())
    }

    async fn member(&self, room: &str, nick: &str) -> Result<Option<String>, StoreError> {
        let wanted = nick.to_lowercase();
        let rooms = self.rooms.lock();
        Ok(rooms.get(room).and_then(|r| {
            r.members
                .iter()
                .find(|(_, n)| n.to_lowercase() == wanted)
                .map(|(id, _)| id.clone())
        }))
    }

    async fn push(&self, room: &str, message: ChatMessage) -> Result<(), StoreError> {
        let mut rooms = self.rooms.lock();
        if let Some(entry) = rooms.get_mut(room) {
            entry.history.push_back(message);
            while entry.history.len() > HISTORY {
                entry.history.pop_front();
            }
            entry.last_active = Instant::now();
        }
        Ok(())
    }

    async fn rooms(&self) -> Result<Vec<RoomSummary>, StoreError> {
        let rooms = self.rooms.lock();
        let mut list: Vec<RoomSummary> = rooms
            .iter()
            .map(|(name, r)| RoomSummary {
                name: name.clone(),
                users: r.members.len(),
            })
            .collect();
        list.sort_by(|a, b| b.users.cmp(&a.users).then_with(|| a.name.cmp(&b.name)));
        Ok(list)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(i: usize) -> ChatMessage {
        ChatMessage {
            from: "ann".into(),
            text: format!("m{i}"),
            at: i as u64,
        }
    }

    #[tokio::test]
    async fn history_keeps_the_last_hundred() {
        let store = MemoryChatStore::default();
        store.join("r", "s1", "ann").await.unwrap();
        for i in 0..150 {
            store.push("r", msg(i)).await.unwrap();
        }
        let joined = store.join("r", "s2", "bob").await.unwrap();
        assert_eq!(joined.history.len(), HISTORY);
        assert_eq!(joined.history.first().map(|m| m.text.as_str()), Some("m50"));
        assert_eq!(joined.history.last().map(|m| m.text.as_str()), Some("m149"));
    }

    #[tokio::test]
    async fn nicknames_are_unique_per_room() {
        let store = MemoryChatStore::default();
        assert_eq!(store.join("r", "s1", "Ann").await.unwrap().nick, "Ann");
        assert_eq!(store.join("r", "s2", "ann").await.unwrap().nick, "ann-2");
        assert_eq!(store.join("r", "s3", "ann").await.unwrap().nick, "ann-3");
        assert_eq!(store.join("other", "s4", "ann").await.unwrap().nick, "ann");
        assert_eq!(
            store.users("r").await.unwrap(),
            vec!["Ann", "ann-2", "ann-3"]
        );
        assert_eq!(
            store.member("r", "ANN-2").await.unwrap().as_deref(),
            Some("s2")
        );
        assert_eq!(
            store.leave("r", "s1").await.unwrap().as_deref(),
            Some("Ann")
        );
        assert_eq!(store.leave("r", "s1").await.unwrap(), None);
        assert_eq!(store.join("r", "s5", "ann").await.unwrap().nick, "ann");
    }

    #[tokio::test]
    async fn rooms_are_bounded() {
        let store = MemoryChatStore::default();
        for i in 0..MAX_ROOMS {
            store
                .join(&format!("room{i}"), &format!("s{i}"), "x")
                .await
                .unwrap();
        }
        // Every room has someone in it: no room can be forgotten.
        assert_eq!(
            store.join("one more", "z", "x").await.unwrap_err(),
            StoreError::TooManyRooms
        );
        // Once a room is empty (but has history) it can make way for a new one.
        store.push("room0", msg(0)).await.unwrap();
        store.leave("room0", "s0").await.unwrap();
        assert!(store.join("one more", "z", "x").await.is_ok());
        assert_eq!(store.rooms().await.unwrap().len(), MAX_ROOMS);
    }
}
