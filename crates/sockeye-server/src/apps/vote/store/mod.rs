//! Where the vote keeps its areas: the places, the voters and their votes.
//!
//! Two stores implement [`VoteStore`]:
//! - [`Tally`] keeps everything in this process, bounded ([`MAX_AREAS`] areas of
//!   [`MAX_VOTERS`] voters and [`MAX_PLACES`] places). For one gateway.
//! - [`RedisVoteStore`] keeps everything in Redis, so any number of gateways serve
//!   the same areas and a gateway can die without losing a vote.
//!
//! Both forget an area [`TTL`] (2 hours) after its last activity (a join, a vote or a
//! new place).
//!
//! A voter is known by a secret key its browser keeps (so reloading the page or
//! reconnecting keeps the same vote) and shown to others by a small public id, so
//! nobody can learn another voter's key and overwrite their vote.

mod memory;
mod redis;

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use self::redis::{RedisVoteConfig, RedisVoteStore};
pub use memory::Tally;

/// How long an area lives after its last activity.
pub const TTL: Duration = Duration::from_secs(2 * 60 * 60);
/// Areas kept at once.
pub const MAX_AREAS: usize = 500;
/// Voters per area.
pub const MAX_VOTERS: usize = 200;
/// Places per area.
pub const MAX_PLACES: usize = 50;

/// Why a change was refused. The messages are shown to users.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TallyError {
    #[error("too many areas are active right now; try again later")]
    TooManyAreas,
    #[error("this area has too many voters")]
    TooManyVoters,
    #[error("this area already has {MAX_PLACES} places; vote for one of them")]
    TooManyPlaces,
    #[error("join the area first")]
    UnknownVoter,
    /// The shared store (Redis) did not answer; the cause is logged, not shown.
    #[error("the vote is unavailable right now; try again in a moment")]
    Unavailable,
}

/// One voter as everybody sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VoteView {
    pub id: u64,
    pub name: String,
    pub picture: Option<String>,
    pub place: Option<String>,
}

/// One line of the tally.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TallyLine {
    pub place: String,
    pub count: usize,
}

/// What the page of an area shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AreaView {
    pub area: String,
    pub places: Vec<String>,
    /// Voters in joining order.
    pub votes: Vec<VoteView>,
    /// Places with at least one vote, most votes first (ties by name).
    pub tally: Vec<TallyLine>,
}

impl AreaView {
    /// The view of an area from its places (in the order they were added) and its
    /// voters (in joining order); the tally is counted here.
    pub fn new(area: &str, places: Vec<String>, votes: Vec<VoteView>) -> Self {
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for place in votes.iter().filter_map(|v| v.place.as_deref()) {
            *counts.entry(place).or_default() += 1;
        }
        let mut tally: Vec<TallyLine> = counts
            .into_iter()
            .map(|(place, count)| TallyLine {
                place: place.to_string(),
                count,
            })
            .collect();
        tally.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.place.cmp(&b.place)));
        AreaView {
            area: area.to_string(),
            places,
            votes,
            tally,
        }
    }
}

/// An area in the list of `/vote`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AreaSummary {
    pub name: String,
    pub voters: usize,
}

/// The areas of the vote. Every change returns the area as everyone should now see it.
pub trait VoteStore: Send + Sync + 'static {
    /// Enters a voter (or updates its name and picture, keeping its vote); returns its
    /// public id and the area.
    fn join(
        &self,
        area: &str,
        key: &str,
        name: &str,
        picture: Option<String>,
    ) -> impl Future<Output = Result<(u64, AreaView), TallyError>> + Send;
    /// Sets (replacing any earlier vote, atomically) or withdraws (`None`) a voter's
    /// vote; a place not listed yet (matched case-insensitively) is added.
    fn vote(
        &self,
        area: &str,
        key: &str,
        place: Option<&str>,
    ) -> impl Future<Output = Result<AreaView, TallyError>> + Send;
    /// Adds a place to an area's list.
    fn add_place(
        &self,
        area: &str,
        place: &str,
    ) -> impl Future<Output = Result<AreaView, TallyError>> + Send;
    /// The live areas, busiest first.
    fn areas(&self) -> impl Future<Output = Result<Vec<AreaSummary>, TallyError>> + Send;

    /// How often [`VoteStore::sweep`] must run; `None` when the store expires areas
    /// by itself.
    fn sweep_every(&self) -> Option<Duration> {
        None
    }

    /// Forgets expired areas; returns how many.
    fn sweep(&self) -> usize {
        0
    }
}
