//! The vote in this gateway's memory, bounded, for one gateway: areas are forgotten
//! [`TTL`] after their last activity (checked on access and by [`Tally::sweep_at`]).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::{
    AreaSummary, AreaView, TallyError, VoteStore, VoteView, MAX_AREAS, MAX_PLACES, MAX_VOTERS, TTL,
};

/// How often a gateway forgets the expired areas nobody looks at any more.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

#[derive(Debug)]
struct Voter {
    view: VoteView,
}

#[derive(Debug)]
struct Area {
    places: Vec<String>,
    /// By secret key; `order` keeps joining order for display.
    voters: HashMap<String, Voter>,
    order: Vec<String>,
    next_id: u64,
    last_active: Instant,
}

impl Area {
    fn new(now: Instant) -> Self {
        Area {
            places: Vec::new(),
            voters: HashMap::new(),
            order: Vec::new(),
            next_id: 1,
            last_active: now,
        }
    }

    /// The place as already listed (matched case-insensitively), or adds it.
    fn place(&mut self, name: &str) -> Result<String, TallyError> {
        let wanted = name.to_lowercase();
        if let Some(existing) = self.places.iter().find(|p| p.to_lowercase() == wanted) {
            return Ok(existing.clone());
        }
        if self.places.len() >= MAX_PLACES {
            return Err(TallyError::TooManyPlaces);
        }
        self.places.push(name.to_string());
        Ok(name.to_string())
    }

    fn view(&self, name: &str) -> AreaView {
        let votes: Vec<VoteView> = self
            .order
            .iter()
            .filter_map(|key| self.voters.get(key))
            .map(|v| v.view.clone())
            .collect();
        AreaView::new(name, self.places.clone(), votes)
    }
}

/// All areas. Every access forgets the areas idle longer than the TTL it was built
/// with; [`Tally::sweep_at`] does the same for areas nobody looks at any more.
#[derive(Debug)]
pub struct Tally {
    ttl: Duration,
    areas: Mutex<HashMap<String, Area>>,
}

impl Default for Tally {
    fn default() -> Self {
        Tally::new(TTL)
    }
}

impl Tally {
    pub fn new(ttl: Duration) -> Self {
        Tally {
            ttl,
            areas: Mutex::new(HashMap::new()),
        }
    }

    /// Forgets the areas expired at `now`; returns how many.
    pub fn sweep_at(&self, now: Instant) -> usize {
        let mut areas = self.areas.lock();
        let before = areas.len();
        areas.retain(|_, a| now.saturating_duration_since(a.last_active) < self.ttl);
        before - areas.len()
    }

    /// Runs `change` on the live area `name` (created when `create`), refreshing its
    /// activity time.
    fn with_area<T>(
        &self,
        name: &str,
        now: Instant,
        create: bool,
        change: impl FnOnce(&mut Area) -> Result<T, TallyError>,
    ) -> Result<(T, AreaView), TallyError> {
        let mut areas = self.areas.lock();
        let expired = areas
            .get(name)
            .is_some_and(|a| now.saturating_duration_since(a.last_active) >= self.ttl);
        if expired {
            areas.remove(name);
        }
        if !areas.contains_key(name) {
            if !create {
                return Err(TallyError::UnknownVoter);
            }
            if areas.len() >= MAX_AREAS {
                areas.retain(|_, a| now.saturating_duration_since(a.last_active) < self.ttl);
                if areas.len() >= MAX_AREAS {
                    return Err(TallyError::TooManyAreas);
                }
            }
        }
        let area = areas
            .entry(name.to_string())
            .or_insert_with(|| Area::new(now));
        let out = change(area)?;
        area.last_active = now;
        Ok((out, area.view(name)))
    }

    /// [`VoteStore::join`] at time `now`.
    pub fn join_at(
        &self,
        area: &str,
        key: &str,
        name: &str,
        picture: Option<String>,
        now: Instant,
    ) -> Result<(u64, AreaView), TallyError> {
        self.with_area(area, now, true, |a| {
            if let Some(voter) = a.voters.get_mut(key) {
                voter.view.name = name.to_string();
                voter.view.picture = picture;
                return Ok(voter.view.id);
            }
            if a.voters.len() >= MAX_VOTERS {
                return Err(TallyError::TooManyVoters);
            }
            let id = a.next_id;
            a.next_id += 1;
            let view = VoteView {
                id,
                name: name.to_string(),
                picture,
                place: None,
            };
            a.voters.insert(key.to_string(), Voter { view });
            a.order.push(key.to_string());
            Ok(id)
        })
    }

    /// [`VoteStore::vote`] at time `now`.
    pub fn vote_at(
        &self,
        area: &str,
        key: &str,
        place: Option<&str>,
        now: Instant,
    ) -> Result<AreaView, TallyError> {
        self.with_area(area, now, false, |a| {
            if !a.voters.contains_key(key) {
                return Err(TallyError::UnknownVoter);
            }
            let place = place.map(|p| a.place(p)).transpose()?;
            if let Some(voter) = a.voters.get_mut(key) {
                voter.view.place = place;
            }
            Ok(())
        })
        .map(|(_, view)| view)
    }

    /// [`VoteStore::add_place`] at time `now`.
    pub fn add_place_at(
        &self,
        area: &str,
        place: &str,
        now: Instant,
    ) -> Result<AreaView, TallyError> {
        self.with_area(area, now, false, |a| a.place(place).map(|_| ()))
            .map(|(_, view)| view)
    }

    /// [`VoteStore::areas`] at time `now`.
    pub fn areas_at(&self, now: Instant) -> Vec<AreaSummary> {
        let areas = self.areas.lock();
        let mut list: Vec<AreaSummary> = areas
            .iter()
            .filter(|(_, a)| now.saturating_duration_since(a.last_active) < self.ttl)
            .map(|(name, a)| AreaSummary {
                name: name.clone(),
                voters: a.voters.len(),
            })
            .collect();
        list.sort_by(|a, b| b.voters.cmp(&a.voters).then_with(|| a.name.cmp(&b.name)));
        list
    }
}

impl VoteStore for Tally {
    async fn join(
        &self,
        area: &str,
        key: &str,
        name: &str,
        picture: Option<String>,
    ) -> Result<(u64, AreaView), TallyError> {
        self.join_at(area, key, name, picture, Instant::now())
    }

    async fn vote(
        &self,
        area: &str,
        key: &str,
        place: Option<&str>,
    ) -> Result<AreaView, TallyError> {
        self.vote_at(area, key, place, Instant::now())
    }

    async fn add_place(&self, area: &str, place: &str) -> Result<AreaView, TallyError> {
        self.add_place_at(area, place, Instant::now())
    }

    async fn areas(&self) -> Result<Vec<AreaSummary>, TallyError> {
        Ok(self.areas_at(Instant::now()))
    }

    fn sweep_every(&self) -> Option<Duration> {
        Some(SWEEP_EVERY)
    }

    fn sweep(&self) -> usize {
        self.sweep_at(Instant::now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apps::vote::store::TallyLine;

    #[test]
    fn a_new_vote_replaces_the_old_one_and_the_tally_is_sorted() {
        let tally = Tally::default();
        let now = Instant::now();
        let (ann, _) = tally
            .join_at("soho", "key-ann-000", "Ann", None, now)
            .unwrap();
        let (bob, _) = tally
            .join_at("soho", "key-bob-000", "Bob", None, now)
            .unwrap();
        tally
            .join_at("soho", "key-cy-0000", "Cy", None, now)
            .unwrap();
        tally
            .vote_at("soho", "key-ann-000", Some("Pizza"), now)
            .unwrap();
        tally
            .vote_at("soho", "key-bob-000", Some("pizza"), now)
            .unwrap();
        let view = tally
            .vote_at("soho", "key-cy-0000", Some("Sushi"), now)
            .unwrap();
        assert_eq!(view.places, vec!["Pizza", "Sushi"]);
        assert_eq!(
            view.tally,
            vec![
                TallyLine {
                    place: "Pizza".into(),
                    count: 2
                },
                TallyLine {
                    place: "Sushi".into(),
                    count: 1
                }
            ]
        );
        let view = tally
            .vote_at("soho", "key-bob-000", Some("Sushi"), now)
            .unwrap();
        assert_eq!(
            view.tally[0],
            TallyLine {
                place: "Sushi".into(),
                count: 2
            }
        );
        assert_eq!(
            view.tally[1],
            TallyLine {
                place: "Pizza".into(),
                count: 1
            }
        );
        let bob_view = view.votes.iter().find(|v| v.id == bob).unwrap();
        assert_eq!(bob_view.place.as_deref(), Some("Sushi"));
        assert_ne!(ann, bob);
        // Joining again (new picture) keeps the vote and the id.
        let (again, view) = tally
            .join_at(
                "soho",
                "key-bob-000",
                "Bobby",
                Some("https://x.y/b.png".into()),
                now,
            )
            .unwrap();
        assert_eq!(again, bob);
        assert_eq!(view.votes.len(), 3);
        assert_eq!(view.tally[0].count, 2);
    }

    #[test]
    fn unknown_voters_cannot_vote() {
        let tally = Tally::default();
        let now = Instant::now();
        assert_eq!(
            tally.vote_at("soho", "nobody-key", Some("Pizza"), now),
            Err(TallyError::UnknownVoter)
        );
    }

    #[test]
    fn areas_expire_after_the_ttl() {
        let tally = Tally::new(Duration::from_secs(60));
        let start = Instant::now();
        tally
            .join_at("soho", "key-ann-000", "Ann", None, start)
            .unwrap();
        tally
            .vote_at("soho", "key-ann-000", Some("Pizza"), start)
            .unwrap();
        // Activity keeps it alive.
        let later = start + Duration::from_secs(50);
        tally.add_place_at("soho", "Tacos", later).unwrap();
        assert_eq!(tally.sweep_at(later + Duration::from_secs(30)), 0);
        // Checked on access: a stale area starts empty.
        let stale = later + Duration::from_secs(61);
        assert!(tally.areas_at(stale).is_empty());
        let (_, view) = tally
            .join_at("soho", "key-bob-000", "Bob", None, stale)
            .unwrap();
        assert_eq!(view.votes.len(), 1);
        assert!(view.tally.is_empty());
        // And the sweep forgets areas nobody touches.
        assert_eq!(tally.sweep_at(stale + Duration::from_secs(61)), 1);
    }
}
