//! The in-memory chat board ([`ChatBoard`]) and the core it is built on ([`Locations`]): the
//! notes left at each location, kept within [`ChatLimits`].
//!
//! [`Locations`] keeps notes per location, applies the two count limits (notes per location,
//! locations) and weighs what it holds; what to drop over the byte budget it leaves to its
//! owner, because that is where its two owners differ. A [`ChatBoard`] answers posts, so it keeps
//! the note just posted and gives up the oldest notes of its location; the Redis backend's mirror
//! (`redis::mirror`) copies histories kept elsewhere, so it gives up whole locations, as a part
//! of one would be a wrong history. Who shares a board is left to [`crate::chat`].

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use super::ChatLimits;
use crate::geo::Coordinates;
use crate::metrics::ChatGauges;
use crate::proto::RouteNote;

/// What a note is counted as against [`ChatLimits::max_bytes`]: its text and a fixed overhead.
fn weight(note: &RouteNote) -> usize {
    note.message.len() + 64
}

/// Notes of type `T` per location, oldest first, within the count limits of [`ChatLimits`]; the
/// byte budget is its owner's to keep, with [`Locations::over_budget`] and the `drop_` methods.
/// With gauges, every change adds what it gained or lost to them, and dropping it takes away
/// whatever it still holds, so the gauges add up every `Locations` alive.
pub(super) struct Locations<T> {
    limits: ChatLimits,
    notes: HashMap<Coordinates, VecDeque<T>>,
    /// The locations of `notes`, in the order they were created.
    created: VecDeque<Coordinates>,
    /// What the notes weigh, by [`weight`].
    bytes: usize,
    /// How many notes there are, at every location together.
    count: usize,
    gauges: Option<ChatGauges>,
    /// What the gauges have been told: locations, notes, bytes.
    reported: [i64; 3],
}

impl<T> std::fmt::Debug for Locations<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Locations")
            .field("limits", &self.limits)
            .field("locations", &self.notes.len())
            .field("notes", &self.count)
            .field("bytes", &self.bytes)
            .finish_non_exhaustive()
    }
}

impl<T: AsRef<RouteNote>> Locations<T> {
    /// Nothing kept yet, within `limits` (each count at least one); what it holds is added to
    /// `gauges`, when given.
    pub(super) fn new(limits: ChatLimits, gauges: Option<ChatGauges>) -> Self {
        Locations {
            limits: limits.at_least_one_of_each(),
            notes: HashMap::new(),
            created: VecDeque::new(),
            bytes: 0,
            count: 0,
            gauges,
            reported: [0; 3],
        }
    }

    /// Tells the gauges what changed since they were last told; nothing without gauges.
    fn report(&mut self) {
        let Some(gauges) = &self.gauges else {
            return;
        };
        let now = [self.notes.len(), self.count, self.bytes].map(|n| n as i64);
        for ((gauge, now), before) in [&gauges.locations, &gauges.notes, &gauges.bytes]
            .into_iter()
            .zip(now)
            .zip(self.reported)
        {
            if now != before {
                gauge.add(now - before);
            }
        }
        self.reported = now;
    }

    pub(super) fn limits(&self) -> ChatLimits {
        self.limits
    }

    /// The notes kept at `at`, oldest first.
    pub(super) fn at(&self, at: Coordinates) -> impl Iterator<Item = &T> {
        self.notes.get(&at).into_iter().flatten()
    }

    /// The newest note kept at `at`.
    pub(super) fn newest(&self, at: Coordinates) -> Option<&T> {
        self.notes.get(&at).and_then(VecDeque::back)
    }

    /// How many locations hold notes.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.notes.len()
    }

    /// Adds `note` as the newest at `at`, dropping the oldest note there beyond
    /// [`ChatLimits::history_per_location`] and, when `at` is new, the location created first
    /// beyond [`ChatLimits::locations`]. May leave the notes over the byte budget.
    pub(super) fn push(&mut self, at: Coordinates, note: T) {
        if !self.notes.contains_key(&at) {
            if self.created.len() == self.limits.locations {
                self.drop_oldest_location();
            }
            self.created.push_back(at);
        }
        let history = self.notes.entry(at).or_default();
        if history.len() == self.limits.history_per_location
            && let Some(dropped) = history.pop_front()
        {
            self.bytes -= weight(dropped.as_ref());
            self.count -= 1;
        }
        self.bytes += weight(note.as_ref());
        self.count += 1;
        history.push_back(note);
        self.report();
    }

    /// Whether the notes weigh more than [`ChatLimits::max_bytes`].
    pub(super) fn over_budget(&self) -> bool {
        self.bytes > self.limits.max_bytes
    }

    /// The location created first among those kept.
    pub(super) fn oldest_location(&self) -> Option<Coordinates> {
        self.created.front().copied()
    }

    /// Drops the location created first, with its notes; false if none is kept.
    pub(super) fn drop_oldest_location(&mut self) -> bool {
        let Some(oldest) = self.created.pop_front() else {
            return false;
        };
        if let Some(history) = self.notes.remove(&oldest) {
            self.bytes -= weight_of(&history);
            self.count -= history.len();
        }
        self.report();
        true
    }

    /// Drops the oldest note at `at`, unless it is the only one; whether one was dropped.
    pub(super) fn drop_oldest_note_but_the_last(&mut self, at: Coordinates) -> bool {
        let Some(history) = self.notes.get_mut(&at).filter(|h| h.len() > 1) else {
            return false;
        };
        if let Some(dropped) = history.pop_front() {
            self.bytes -= weight(dropped.as_ref());
            self.count -= 1;
        }
        self.report();
        true
    }

    /// Drops the notes at `at`; the location keeps its place in the order of creation.
    pub(super) fn empty(&mut self, at: Coordinates) {
        if let Some(history) = self.notes.get_mut(&at) {
            self.bytes -= weight_of(history.iter());
            self.count -= history.len();
            history.clear();
        }
        self.report();
    }

    /// Drops `at` and its notes.
    pub(super) fn forget(&mut self, at: Coordinates) {
        if let Some(history) = self.notes.remove(&at) {
            self.bytes -= weight_of(&history);
            self.count -= history.len();
            self.created.retain(|&location| location != at);
        }
        self.report();
    }

    /// Drops everything kept.
    pub(super) fn clear(&mut self) {
        self.notes.clear();
        self.created.clear();
        self.bytes = 0;
        self.count = 0;
        self.report();
    }
}

impl<T> Drop for Locations<T> {
    /// What it holds leaves the gauges with it.
    fn drop(&mut self) {
        if let Some(gauges) = &self.gauges {
            let [locations, notes, bytes] = self.reported;
            gauges.locations.sub(locations);
            gauges.notes.sub(notes);
            gauges.bytes.sub(bytes);
        }
    }
}

/// What `notes` weigh together against [`ChatLimits::max_bytes`].
pub(super) fn weight_of<'a, T: AsRef<RouteNote> + 'a>(
    notes: impl IntoIterator<Item = &'a T>,
) -> usize {
    notes.into_iter().map(|n| weight(n.as_ref())).sum()
}

/// The notes left at each location, oldest first: a call's own board, or the server's shared
/// one in memory. It keeps at most [`ChatLimits::history_per_location`] notes per location
/// (dropping the oldest note), at most [`ChatLimits::locations`] locations (dropping the location
/// created first) and at most [`ChatLimits::max_bytes`] of notes (dropping whole locations, oldest
/// first, then the oldest notes of the location posted to, never the note just posted).
#[derive(Debug)]
pub(crate) struct ChatBoard {
    notes: Locations<Arc<RouteNote>>,
}

impl ChatBoard {
    /// An empty board within `limits` (each count at least one).
    #[cfg(test)]
    pub(crate) fn new(limits: ChatLimits) -> Self {
        ChatBoard::counted(limits, None)
    }

    /// An empty board within `limits` (each count at least one), whose notes are added to
    /// `gauges` when given.
    pub(crate) fn counted(limits: ChatLimits, gauges: Option<ChatGauges>) -> Self {
        ChatBoard {
            notes: Locations::new(limits, gauges),
        }
    }

    /// Leaves `note` at `at` and returns the notes left there before it, oldest first.
    pub(crate) fn post(&mut self, at: Coordinates, note: RouteNote) -> Vec<Arc<RouteNote>> {
        let earlier = self.notes.at(at).cloned().collect();
        self.notes.push(at, Arc::new(note));
        self.keep_within_bytes(at);
        earlier
    }

    /// Drops whole locations, oldest first, then the oldest notes at `at`, until the notes fit in
    /// the byte budget; the note just posted at `at` always stays.
    fn keep_within_bytes(&mut self, at: Coordinates) {
        while self.notes.over_budget() {
            let dropped = match self.notes.oldest_location() {
                Some(oldest) if oldest != at => self.notes.drop_oldest_location(),
                // `at` is the oldest location left: the newer ones stay, its oldest notes go.
                _ => self.notes.drop_oldest_note_but_the_last(at),
            };
            if !dropped {
                return;
            }
        }
    }

    /// How many locations hold notes.
    #[cfg(test)]
    pub(crate) fn locations(&self) -> usize {
        self.notes.len()
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::proto;

    pub(in crate::chat) fn note(lat: i32, message: &str) -> (Coordinates, RouteNote) {
        let at = Coordinates::new(lat, 0).unwrap();
        (at, proto::route_note(at.to_point(), message))
    }

    pub(in crate::chat) fn limits(history_per_location: usize, locations: usize) -> ChatLimits {
        ChatLimits {
            history_per_location,
            locations,
            ..ChatLimits::default()
        }
    }

    pub(in crate::chat) fn messages(notes: &[Arc<RouteNote>]) -> Vec<&str> {
        notes.iter().map(|n| n.message.as_str()).collect()
    }

    #[test]
    fn a_note_gets_back_the_earlier_notes_at_its_location_only() {
        let mut board = ChatBoard::new(limits(10, 100));
        let posts = [(0, "First"), (1, "Second"), (0, "Third"), (0, "Fourth")];
        let replies: Vec<Vec<Arc<RouteNote>>> = posts
            .iter()
            .map(|&(lat, text)| {
                let (at, n) = note(lat, text);
                board.post(at, n)
            })
            .collect();
        assert!(replies[0].is_empty());
        assert!(replies[1].is_empty());
        assert_eq!(messages(&replies[2]), ["First"]);
        assert_eq!(messages(&replies[3]), ["First", "Third"]);
    }

    #[test]
    fn history_per_location_drops_the_oldest() {
        let mut board = ChatBoard::new(limits(2, 100));
        for text in ["a", "b", "c"] {
            let (at, n) = note(0, text);
            board.post(at, n);
        }
        let (at, n) = note(0, "d");
        assert_eq!(messages(&board.post(at, n)), ["b", "c"]);
    }

    #[test]
    fn the_location_created_first_is_dropped_beyond_the_limit() {
        let mut board = ChatBoard::new(limits(10, 2));
        for (lat, text) in [(1, "one"), (2, "two"), (1, "one again"), (3, "three")] {
            let (at, n) = note(lat, text);
            board.post(at, n);
        }
        assert_eq!(board.locations(), 2);
        let (at, n) = note(1, "back at one");
        assert!(
            board.post(at, n).is_empty(),
            "location 1 was dropped, notes and all"
        );
        let (at, n) = note(3, "three again");
        assert_eq!(messages(&board.post(at, n)), ["three"]);
    }

    #[test]
    fn the_byte_budget_drops_old_locations_then_old_notes() {
        // Each note weighs its text plus 64 bytes: 74 for a ten-letter text.
        let mut board = ChatBoard::new(ChatLimits {
            max_bytes: 3 * 74,
            ..limits(100, 100)
        });
        for (lat, text) in [(1, "first at 1"), (2, "first at 2"), (2, "again at 2")] {
            let (at, n) = note(lat, text);
            board.post(at, n);
        }
        // A fourth note: location 1, created first, goes to make room.
        let (at, n) = note(2, "third at 2");
        assert_eq!(messages(&board.post(at, n)), ["first at 2", "again at 2"]);
        assert_eq!(board.locations(), 1);
        // Only location 2 is left: its oldest notes go, the new one stays.
        let (at, n) = note(2, "fourth at 2");
        assert_eq!(
            messages(&board.post(at, n)),
            ["first at 2", "again at 2", "third at 2"]
        );
        // That post made room by dropping the two oldest notes at 2.
        let (at, n) = note(2, "fifth at 2");
        assert_eq!(messages(&board.post(at, n)), ["third at 2", "fourth at 2"]);
    }

    #[test]
    fn a_note_heavier_than_the_budget_is_still_kept_alone() {
        let mut board = ChatBoard::new(ChatLimits {
            max_bytes: 10,
            ..limits(100, 100)
        });
        let (at, n) = note(4, "far more than ten bytes");
        board.post(at, n);
        let (at, n) = note(4, "again");
        assert_eq!(messages(&board.post(at, n)), ["far more than ten bytes"]);
    }

    #[test]
    fn the_gauges_add_up_the_boards_alive() {
        let gauge = |name| prometheus::IntGauge::new(name, "a test gauge").unwrap();
        let gauges = ChatGauges {
            locations: gauge("locations"),
            notes: gauge("notes"),
            bytes: gauge("bytes"),
        };
        let read = || {
            (
                gauges.locations.get(),
                gauges.notes.get(),
                gauges.bytes.get(),
            )
        };
        let mut first = ChatBoard::counted(limits(2, 100), Some(gauges.clone()));
        let mut second = ChatBoard::counted(limits(2, 100), Some(gauges.clone()));
        // Three notes at one place, of which the history limit keeps two.
        for text in ["a", "b", "c"] {
            let (at, n) = note(1, text);
            first.post(at, n);
        }
        let (at, n) = note(2, "dd");
        second.post(at, n);
        assert_eq!(read(), (2, 3, 2 * (1 + 64) + (2 + 64)));
        drop(first);
        assert_eq!(read(), (1, 1, 2 + 64));
        drop(second);
        assert_eq!(read(), (0, 0, 0));
    }
}
