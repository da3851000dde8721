//! The chat's Socket.IO event handlers (protocol in the module docs of `chat`).

use std::collections::HashMap;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;
use serde_json::json;
use sockeye::{Event, Namespace, Socket, Value};

use super::rate_limit::{TokenBucket, BURST, PERIOD};
use super::store::{ChatMessage, ChatStore, StoreError};
use crate::apps::session;
use crate::apps::validate::{self, InvalidInput, MAX_MESSAGE};

/// Socket.IO room of the sockets looking at the rooms list.
const LOBBY: &str = "chat:lobby";

/// The Socket.IO room of a chat room (prefixed so it never collides with socket ids
/// or the lobby).
fn room_key(room: &str) -> String {
    format!("chat:room:{room}")
}

/// Why an event was refused; the message goes back to the user in the ack.
#[derive(Debug, thiserror::Error)]
pub enum ChatError {
    #[error(transparent)]
    Invalid(#[from] InvalidInput),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("join a room first")]
    NotInRoom,
    #[error("slow down: at most {BURST} messages every {} seconds", PERIOD.as_secs())]
    RateLimited { retry_after: Duration },
    #[error("{0} is not in this room")]
    NoSuchUser(String),
    #[error("you cannot send a private message to yourself")]
    ToSelf,
}

impl ChatError {
    /// A stable code for the page to react on (the message is for humans).
    fn code(&self) -> &'static str {
        match self {
            ChatError::Invalid(InvalidInput::TooLong { .. }) => "too_long",
            ChatError::Invalid(_) => "invalid",
            ChatError::Store(_) => "unavailable",
            ChatError::NotInRoom => "not_in_room",
            ChatError::RateLimited { .. } => "rate_limited",
            ChatError::NoSuchUser(_) => "no_such_user",
            ChatError::ToSelf => "invalid",
        }
    }

    fn to_ack(&self) -> Value {
        let mut body = json!({ "ok": false, "error": self.to_string(), "code": self.code() });
        if let ChatError::RateLimited { retry_after } = self {
            body["retryAfterMs"] = json!(retry_after.as_millis() as u64);
        }
        body.into()
    }
}

/// What the chat knows of one connected socket.
struct Member {
    /// The room it is in and its nickname there.
    room: Option<(String, String)>,
    bucket: TokenBucket,
}

/// The chat app's state: the store plus each socket's room and rate limit.
pub struct Chat<S> {
    store: S,
    members: Mutex<HashMap<String, Member>>,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn message_json(m: &ChatMessage) -> serde_json::Value {
    json!({ "from": m.from, "text": m.text, "at": m.at })
}

impl<S: ChatStore> Chat<S> {
    pub fn new(store: S) -> Arc<Self> {
        Arc::new(Chat {
            store,
            members: Mutex::new(HashMap::new()),
        })
    }

    /// Wires a new socket's events.
    pub fn attach(self: &Arc<Self>, socket: &Socket) {
        self.members.lock().insert(
            socket.id().to_string(),
            Member {
                room: None,
                bucket: TokenBucket::for_chat(Instant::now()),
            },
        );
        self.on(socket, "session", |chat, socket, _arg| async move {
            chat.session(&socket)
        });
        self.on(socket, "rooms", |chat, socket, _arg| async move {
            chat.rooms(&socket).await
        });
        self.on(socket, "join", |chat, socket, arg| async move {
            chat.join(&socket, arg.as_ref()).await
        });
        self.on(socket, "leave", |chat, socket, _arg| async move {
            chat.leave_current(&socket).await;
            Ok(json!({ "ok": true }))
        });
        self.on(socket, "message", |chat, socket, arg| async move {
            chat.message(&socket, arg.as_ref()).await
        });
        self.on(socket, "private", |chat, socket, arg| async move {
            chat.private(&socket, arg.as_ref()).await
        });
        let chat = self.clone();
        socket.on_disconnect(move |socket, reason| {
            let chat = chat.clone();
            async move {
                chat.leave_current(&socket).await;
                chat.members.lock().remove(socket.id().as_str());
                tracing::debug!(socket = %socket.id(), %reason, "chat socket gone");
            }
        });
    }

    /// Registers `handler` for `name`: it gets the first argument and its result is
    /// the acknowledgement (refusals are logged and acknowledged with the reason).
    fn on<F, Fut>(self: &Arc<Self>, socket: &Socket, name: &'static str, handler: F)
    where
        F: Fn(Arc<Self>, Socket, Option<Value>) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = Result<serde_json::Value, ChatError>> + Send + 'static,
    {
        let chat = self.clone();
        let handler = Arc::new(handler);
        socket.on(name, move |socket: Socket, mut event: Event| {
            let chat = chat.clone();
            let handler = handler.clone();
            async move {
                let arg = event.args.first().cloned();
                let ack = match handler(chat, socket.clone(), arg).await {
                    Ok(body) => Value::from(body),
                    Err(e) => {
                        tracing::debug!(socket = %socket.id(), event = name, error = %e, "chat event refused");
                        e.to_ack()
                    }
                };
                if let Err(e) = event.ack((ack,)) {
                    tracing::debug!(socket = %socket.id(), event = name, error = %e, "cannot acknowledge");
                }
            }
        });
    }

    fn session(&self, socket: &Socket) -> Result<serde_json::Value, ChatError> {
        Ok(json!({ "ok": true, "nick": session::user_name(socket) }))
    }

    async fn rooms(&self, socket: &Socket) -> Result<serde_json::Value, ChatError> {
        let rooms = self.store.rooms().await?;
        socket.join(LOBBY);
        Ok(json!({ "ok": true, "rooms": rooms }))
    }

    fn current(&self, socket: &Socket) -> Option<(String, String)> {
        self.members
            .lock()
            .get(socket.id().as_str())
            .and_then(|m| m.room.clone())
    }

    async fn join(
        &self,
        socket: &Socket,
        arg: Option<&Value>,
    ) -> Result<serde_json::Value, ChatError> {
        let room = validate::room_name(validate::text_field(arg, "room", "room")?, "room")?;
        let nick = match session::user_name(socket) {
            Some(name) => name,
            None => validate::nickname(validate::text_field(arg, "nick", "nickname")?)?,
        };
        self.leave_current(socket).await;
        let joined = self.store.join(&room, socket.id().as_str(), &nick).await?;
        if let Some(member) = self.members.lock().get_mut(socket.id().as_str()) {
            member.room = Some((room.clone(), joined.nick.clone()));
        }
        let key = room_key(&room);
        socket.leave(LOBBY);
        socket.join(key.clone());
        let ns = socket.namespace();
        let notice = json!({ "kind": "joined", "nick": joined.nick, "at": now_ms() });
        socket
            .to(key.clone())
            .emit("notice", (Value::from(notice),))
            .ok();
        ns.to(key)
            .emit("users", (Value::from(json!(joined.users)),))
            .ok();
        self.broadcast_rooms(&ns).await;
        tracing::info!(socket = %socket.id(), %room, nick = %joined.nick, "joined chat room");
        let history: Vec<_> = joined.history.iter().map(message_json).collect();
        Ok(json!({
            "ok": true,
            "room": room,
            "nick": joined.nick,
            "users": joined.users,
            "history": history,
        }))
    }

    /// Takes the socket out of its room, telling the room and the lobby.
    async fn leave_current(&self, socket: &Socket) {
        let previous = self
            .members
            .lock()
            .get_mut(socket.id().as_str())
            .and_then(|m| m.room.take());
        let Some((room, _)) = previous else { return };
        let key = room_key(&room);
        socket.leave(&key);
        let ns = socket.namespace();
        match self.store.leave(&room, socket.id().as_str()).await {
            Ok(Some(nick)) => {
                let notice = json!({ "kind": "left", "nick": nick, "at": now_ms() });
                ns.to(key.clone())
                    .emit("notice", (Value::from(notice),))
                    .ok();
                tracing::info!(socket = %socket.id(), %room, %nick, "left chat room");
            }
            Ok(None) => {}
            // The store retries later and the room hears of it then; asking the store
            // for the lists now would only make the user wait for more failures.
            Err(e) => {
                tracing::debug!(socket = %socket.id(), %room, error = %e, "leave not recorded yet");
                return;
            }
        }
        self.broadcast_users(&ns, &room).await;
        self.broadcast_rooms(&ns).await;
    }

    /// Sends a room's user list to everyone in it, on every gateway.
    async fn broadcast_users(&self, ns: &Namespace, room: &str) {
        match self.store.users(room).await {
            Ok(users) => {
                ns.to(room_key(room))
                    .emit("users", (Value::from(json!(users)),))
                    .ok();
            }
            Err(e) => tracing::debug!(%room, error = %e, "cannot send the user list"),
        }
    }

    /// Sends the rooms list to everyone looking at it, on every gateway.
    async fn broadcast_rooms(&self, ns: &Namespace) {
        match self.store.rooms().await {
            Ok(rooms) => {
                ns.to(LOBBY)
                    .emit("rooms", (Value::from(json!(rooms)),))
                    .ok();
            }
            Err(e) => tracing::debug!(error = %e, "cannot send the rooms list"),
        }
    }

    /// Runs the store's housekeeping every [`ChatStore::sweep_every`] (if it needs
    /// any) and tells the rooms it changed (members of a dead gateway removed). Stops
    /// when the app is dropped.
    pub fn spawn_sweeper(self: &Arc<Self>, ns: Namespace) {
        let Some(every) = self.store.sweep_every() else {
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::warn!("no tokio runtime: the chat store's housekeeping does not run");
            return;
        };
        let chat: Weak<Self> = Arc::downgrade(self);
        runtime.spawn(async move {
            let mut ticks = tokio::time::interval(every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                let Some(chat) = chat.upgrade() else { break };
                match chat.store.sweep().await {
                    Ok(rooms) if !rooms.is_empty() => {
                        for room in &rooms {
                            chat.broadcast_users(&ns, room).await;
                        }
                        chat.broadcast_rooms(&ns).await;
                    }
                    Ok(_) => {}
                    Err(e) => tracing::debug!(error = %e, "chat housekeeping failed"),
                }
            }
        });
    }

    fn take_token(&self, socket: &Socket) -> Result<(), ChatError> {
        let mut members = self.members.lock();
        let member = members
            .get_mut(socket.id().as_str())
            .ok_or(ChatError::NotInRoom)?;
        member
            .bucket
            .try_take(Instant::now())
            .map_err(|retry_after| ChatError::RateLimited { retry_after })
    }

    async fn message(
        &self,
        socket: &Socket,
        arg: Option<&Value>,
    ) -> Result<serde_json::Value, ChatError> {
        let text =
            validate::free_text(validate::text_arg(arg, "message")?, "message", MAX_MESSAGE)?;
        let (room, nick) = self.current(socket).ok_or(ChatError::NotInRoom)?;
        self.take_token(socket)?;
        let message = ChatMessage {
            from: nick,
            text,
            at: now_ms(),
        };
        self.store.push(&room, message.clone()).await?;
        socket
            .namespace()
            .to(room_key(&room))
            .emit("message", (Value::from(message_json(&message)),))
            .ok();
        Ok(json!({ "ok": true }))
    }

    async fn private(
        &self,
        socket: &Socket,
        arg: Option<&Value>,
    ) -> Result<serde_json::Value, ChatError> {
        let to = validate::text_field(arg, "to", "recipient")?
            .trim()
            .to_string();
        let text = validate::free_text(
            validate::text_field(arg, "text", "message")?,
            "message",
            MAX_MESSAGE,
        )?;
        let (room, nick) = self.current(socket).ok_or(ChatError::NotInRoom)?;
        let target =
            self.store.member(&room, &to).await?.ok_or_else(|| {
                ChatError::NoSuchUser(to.chars().take(validate::MAX_NICK).collect())
            })?;
        if target == socket.id().as_str() {
            return Err(ChatError::ToSelf);
        }
        self.take_token(socket)?;
        let message = json!({ "from": nick, "to": to, "text": text, "at": now_ms() });
        socket
            .namespace()
            .to(target)
            .emit("private", (Value::from(message.clone()),))
            .ok();
        Ok(json!({ "ok": true, "message": message }))
    }
}
