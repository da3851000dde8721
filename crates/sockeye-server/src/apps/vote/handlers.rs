//! The vote's Socket.IO event handlers (protocol in the module docs of `vote`).

use std::collections::HashMap;
use std::sync::{Arc, Weak};

use parking_lot::Mutex;
use serde_json::json;
use sockeye::{Event, Socket, Value};

use super::store::{AreaView, TallyError, VoteStore};
use crate::apps::session;
use crate::apps::validate::{self, InvalidInput, MAX_PLACE};

fn area_key(area: &str) -> String {
    format!("vote:area:{area}")
}

/// Why an event was refused; the message goes back to the user in the ack.
#[derive(Debug, thiserror::Error)]
pub enum VoteError {
    #[error(transparent)]
    Invalid(#[from] InvalidInput),
    #[error(transparent)]
    Tally(#[from] TallyError),
    #[error("this page lost its voter key; reload it")]
    BadKey,
}

impl VoteError {
    fn to_ack(&self) -> Value {
        let code = match self {
            VoteError::Invalid(_) | VoteError::BadKey => "invalid",
            VoteError::Tally(TallyError::UnknownVoter) => "not_joined",
            VoteError::Tally(TallyError::Unavailable) => "unavailable",
            VoteError::Tally(_) => "full",
        };
        json!({ "ok": false, "error": self.to_string(), "code": code }).into()
    }
}

/// The voter key: 8–64 characters of `[A-Za-z0-9_-]`, made up by the page.
fn voter_key(arg: Option<&Value>) -> Result<String, VoteError> {
    let key = validate::text_field(arg, "key", "key").map_err(|_| VoteError::BadKey)?;
    let ok = (8..=64).contains(&key.len())
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(key.to_string())
    } else {
        Err(VoteError::BadKey)
    }
}

fn view_json(view: &AreaView) -> Value {
    match sockeye::to_value(view) {
        Ok(v) => v,
        Err(e) => {
            tracing::warn!(error = %e, "cannot encode a vote area");
            Value::Null
        }
    }
}

/// The vote app's state: the store and which area/voter each socket of this gateway
/// is (a socket lives on one gateway; the votes live in the store).
pub struct Vote<S> {
    store: S,
    /// socket id → (area, voter key)
    sockets: Mutex<HashMap<String, (String, String)>>,
}

impl<S: VoteStore> Vote<S> {
    pub fn new(store: S) -> Arc<Self> {
        let vote = Arc::new(Vote {
            store,
            sockets: Mutex::new(HashMap::new()),
        });
        Self::spawn_sweeper(Arc::downgrade(&vote));
        vote
    }

    /// Forgets expired areas every [`VoteStore::sweep_every`] (for a store that does
    /// not expire them by itself), so areas nobody visits again do not stay in memory.
    /// Stops when the app is dropped.
    fn spawn_sweeper(vote: Weak<Self>) {
        let Some(every) = vote.upgrade().and_then(|v| v.store.sweep_every()) else {
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::warn!("no tokio runtime: expired vote areas are only dropped on access");
            return;
        };
        runtime.spawn(async move {
            let mut ticks = tokio::time::interval(every);
            loop {
                ticks.tick().await;
                let Some(vote) = vote.upgrade() else { break };
                let gone = vote.store.sweep();
                if gone > 0 {
                    tracing::info!(areas = gone, "expired vote areas dropped");
                }
            }
        });
    }

    pub fn attach(self: &Arc<Self>, socket: &Socket) {
        self.on(socket, "areas", |vote, _socket, _arg| async move {
            let areas = vote.store.areas().await?;
            Ok(json!({ "ok": true, "areas": areas }).into())
        });
        self.on(socket, "join", |vote, socket, arg| async move {
            vote.join(&socket, arg.as_ref()).await
        });
        self.on(socket, "vote", |vote, socket, arg| async move {
            vote.vote(&socket, arg.as_ref()).await
        });
        self.on(socket, "place", |vote, socket, arg| async move {
            vote.add_place(&socket, arg.as_ref()).await
        });
        let vote = self.clone();
        socket.on_disconnect(move |socket, _reason| {
            let vote = vote.clone();
            async move {
                vote.sockets.lock().remove(socket.id().as_str());
            }
        });
    }

    fn on<F, Fut>(self: &Arc<Self>, socket: &Socket, name: &'static str, handler: F)
    where
        F: Fn(Arc<Self>, Socket, Option<Value>) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = Result<Value, VoteError>> + Send + 'static,
    {
        let vote = self.clone();
        let handler = Arc::new(handler);
        socket.on(name, move |socket: Socket, mut event: Event| {
            let vote = vote.clone();
            let handler = handler.clone();
            async move {
                let arg = event.args.first().cloned();
                let ack = match handler(vote, socket.clone(), arg).await {
                    Ok(body) => body,
                    Err(e) => {
                        tracing::debug!(socket = %socket.id(), event = name, error = %e, "vote event refused");
                        e.to_ack()
                    }
                };
                if let Err(e) = event.ack((ack,)) {
                    tracing::debug!(socket = %socket.id(), event = name, error = %e, "cannot acknowledge");
                }
            }
        });
    }

    /// Sends the area to everyone in it, on every gateway (through the adapter).
    fn broadcast(&self, socket: &Socket, view: &AreaView) {
        socket
            .namespace()
            .to(area_key(&view.area))
            .emit("state", (view_json(view),))
            .ok();
    }

    async fn join(&self, socket: &Socket, arg: Option<&Value>) -> Result<Value, VoteError> {
        let area = validate::room_name(validate::text_field(arg, "area", "area")?, "area")?;
        let key = voter_key(arg)?;
        let name = match session::user_name(socket) {
            Some(name) => name,
            None => validate::nickname(validate::text_field(arg, "name", "name")?)?,
        };
        let picture = match arg.and_then(|a| a.get("picture")) {
            None => None,
            Some(v) if v.is_null() => None,
            Some(v) => validate::picture_url(validate::text_arg(Some(v), "picture")?)?,
        };
        let (id, view) = self.store.join(&area, &key, &name, picture).await?;
        let previous = self
            .sockets
            .lock()
            .insert(socket.id().to_string(), (area.clone(), key));
        if let Some((old, _)) = previous.filter(|(old, _)| *old != area) {
            socket.leave(&area_key(&old));
        }
        socket.join(area_key(&area));
        self.broadcast(socket, &view);
        tracing::info!(socket = %socket.id(), %area, voter = id, "joined vote area");
        let mut body = json!({ "ok": true, "you": id });
        body["state"] = view_json(&view).into();
        Ok(body.into())
    }

    fn voter(&self, socket: &Socket) -> Result<(String, String), VoteError> {
        self.sockets
            .lock()
            .get(socket.id().as_str())
            .cloned()
            .ok_or(VoteError::Tally(TallyError::UnknownVoter))
    }

    async fn vote(&self, socket: &Socket, arg: Option<&Value>) -> Result<Value, VoteError> {
        let (area, key) = self.voter(socket)?;
        let place = match arg.and_then(|a| a.get("place")) {
            Some(v) if v.is_null() => None,
            other => Some(validate::free_text(
                validate::text_arg(other, "place")?,
                "place",
                MAX_PLACE,
            )?),
        };
        let view = self.store.vote(&area, &key, place.as_deref()).await?;
        self.broadcast(socket, &view);
        Ok(json!({ "ok": true }).into())
    }

    async fn add_place(&self, socket: &Socket, arg: Option<&Value>) -> Result<Value, VoteError> {
        let (area, _) = self.voter(socket)?;
        let place = validate::free_text(
            validate::text_field(arg, "name", "place")?,
            "place",
            MAX_PLACE,
        )?;
        let view = self.store.add_place(&area, &place).await?;
        self.broadcast(socket, &view);
        Ok(json!({ "ok": true }).into())
    }
}
