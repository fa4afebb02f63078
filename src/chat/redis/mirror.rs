//! A replica's copy of the notes Redis keeps ([`Mirror`]), and the numbered notes it holds
//! ([`Kept`]).
//!
//! The mirror is built on the in-memory board's core ([`Locations`]) rather than on the board
//! itself, because it means something else: a board's history is whatever it was posted, while a
//! mirror's must be an unbroken run of the notes Redis numbered, or nothing. So its operations are
//! its own (copy a history, follow it one note at a time), and over the byte budget it gives up
//! whole locations, oldest first, where a board keeps the newest notes of one: a location the
//! mirror holds has every note the limits keep there. What is missing is fetched from Redis by the
//! next post there; keeping the copy up to date is left to the poster and the follower.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::chat::ChatLimits;
use crate::chat::board::{Locations, weight_of};
use crate::geo::Coordinates;
use crate::metrics::ChatGauges;
use crate::proto::RouteNote;

/// A note as Redis keeps it: with its number, given in the order Redis received the notes, so
/// that a copy can tell where it stands.
#[derive(Clone, Debug)]
pub(super) struct Kept {
    pub(super) number: u64,
    pub(super) note: Arc<RouteNote>,
}

impl AsRef<RouteNote> for Kept {
    fn as_ref(&self) -> &RouteNote {
        &self.note
    }
}

/// A replica's copy of the board in Redis, and what it is a copy of.
pub(super) struct Mirror {
    notes: Locations<Kept>,
    /// The epoch its numbers belong to; empty until Redis has named it.
    epoch: String,
    /// How many times it was emptied; a post made before the last time does not trust it.
    generation: u64,
}

impl Mirror {
    /// An empty mirror within `limits` (each count at least one).
    #[cfg(test)]
    pub(super) fn new(limits: ChatLimits) -> Self {
        Mirror::counted(limits, None)
    }

    /// An empty mirror within `limits` (each count at least one), whose notes are added to
    /// `gauges` when given.
    pub(super) fn counted(limits: ChatLimits, gauges: Option<ChatGauges>) -> Self {
        Mirror {
            notes: Locations::new(limits, gauges),
            epoch: String::new(),
            generation: 0,
        }
    }

    pub(super) fn epoch(&self) -> &str {
        &self.epoch
    }

    pub(super) fn generation(&self) -> u64 {
        self.generation
    }

    /// The notes kept at `at`, oldest first.
    pub(super) fn history(&self, at: Coordinates) -> Vec<Kept> {
        self.notes.at(at).cloned().collect()
    }

    /// The number of the newest note kept at `at` (0 when there are none).
    pub(super) fn newest(&self, at: Coordinates) -> u64 {
        self.notes.newest(at).map_or(0, |kept| kept.number)
    }

    /// Replaces what is kept at `at` with `history` (oldest first; only its newest
    /// `history_per_location` notes are kept), or with nothing if those are over the byte budget
    /// by themselves.
    pub(super) fn replace(&mut self, at: Coordinates, history: Vec<Kept>) {
        let skip = history
            .len()
            .saturating_sub(self.notes.limits().history_per_location);
        // Only the notes kept are weighed: an older window of as many notes could weigh more
        // than the budget and take the location with it.
        if weight_of(&history[skip..]) > self.notes.limits().max_bytes {
            // Too heavy to mirror whole, and a part would be a wrong history.
            self.notes.forget(at);
            return;
        }
        // Emptied in place: the location keeps its place in the order of creation.
        self.notes.empty(at);
        for kept in history.into_iter().skip(skip) {
            self.notes.push(at, kept);
        }
        // Only once the whole history is in: should `at` have to go, it goes whole.
        self.keep_within_bytes();
    }

    /// Adds `kept` at `at` if the newest note kept there is number `after` (0: none is kept), so
    /// that what is kept stays an unbroken run of notes; returns whether it was added.
    pub(super) fn follow(&mut self, at: Coordinates, after: u64, kept: Kept) -> bool {
        if self.newest(at) != after {
            return false;
        }
        self.notes.push(at, kept);
        self.keep_within_bytes();
        true
    }

    /// Empties the mirror: what it held may no longer be what Redis holds. Its epoch is named
    /// again by the next answer or published note.
    pub(super) fn reset(&mut self) {
        self.notes.clear();
        self.epoch.clear();
        self.generation += 1;
    }

    /// Makes the mirror one of `epoch`: emptied if it held notes of another.
    pub(super) fn enter(&mut self, epoch: &str) {
        if self.epoch == epoch {
            return;
        }
        // Only an empty mirror has no epoch: nothing to drop.
        if !self.epoch.is_empty() {
            self.reset();
        }
        self.epoch = epoch.to_string();
    }

    /// Drops whole locations, oldest first, until the notes fit in the byte budget.
    fn keep_within_bytes(&mut self) {
        while self.notes.over_budget() && self.notes.drop_oldest_location() {}
    }

    /// How many locations hold notes.
    #[cfg(test)]
    fn locations(&self) -> usize {
        self.notes.len()
    }
}

/// The mirror, also after a panic elsewhere: each of its methods leaves it consistent.
pub(super) fn lock(mirror: &Mutex<Mirror>) -> MutexGuard<'_, Mirror> {
    mirror.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::board::tests::{limits, note};

    fn kept(number: u64, text: &str) -> Kept {
        Kept {
            number,
            note: Arc::new(note(0, text).1),
        }
    }

    fn numbers(mirror: &Mirror, at: Coordinates) -> (u64, Vec<u64>) {
        let history = mirror.history(at).iter().map(|k| k.number).collect();
        (mirror.newest(at), history)
    }

    #[test]
    fn a_mirror_follows_only_an_unbroken_run_of_notes() {
        let mut mirror = Mirror::new(limits(3, 100));
        let at = note(0, "").0;
        assert!(
            mirror.follow(at, 0, kept(4, "a")),
            "a first note starts a location"
        );
        assert!(mirror.follow(at, 4, kept(9, "b")));
        assert!(!mirror.follow(at, 7, kept(12, "c")), "note 7 is missing");
        assert!(
            !mirror.follow(at, 0, kept(13, "d")),
            "not the first note there"
        );
        assert_eq!(numbers(&mirror, at), (9, vec![4, 9]));
        assert!(mirror.follow(at, 9, kept(15, "e")));
        assert!(mirror.follow(at, 15, kept(16, "f")));
        assert_eq!(numbers(&mirror, at), (16, vec![9, 15, 16]), "history of 3");

        mirror.replace(at, vec![kept(20, "g"), kept(21, "h")]);
        assert_eq!(numbers(&mirror, at), (21, vec![20, 21]));
        let elsewhere = note(5, "").0;
        assert_eq!(numbers(&mirror, elsewhere), (0, vec![]));
        assert!(!mirror.follow(elsewhere, 3, kept(22, "i")));
        assert_eq!(mirror.locations(), 1);
    }

    #[test]
    fn a_mirror_over_its_byte_budget_drops_a_location_whole() {
        // 74 bytes per ten-letter note: two fit, three do not.
        let mut mirror = Mirror::new(ChatLimits {
            max_bytes: 2 * 74,
            ..limits(10, 100)
        });
        let at = note(0, "").0;
        mirror.replace(at, vec![kept(1, "0123456789"), kept(2, "0123456789")]);
        assert_eq!(numbers(&mirror, at), (2, vec![1, 2]));
        assert!(mirror.follow(at, 2, kept(3, "0123456789")));
        assert_eq!(
            numbers(&mirror, at),
            (0, vec![]),
            "a part of the location would be a wrong history"
        );
        assert!(
            !mirror.follow(at, 3, kept(4, "0123456789")),
            "nothing to follow"
        );

        let three = vec![
            kept(1, "0123456789"),
            kept(2, "0123456789"),
            kept(3, "0123456789"),
        ];
        mirror.replace(at, three);
        assert_eq!(numbers(&mirror, at), (0, vec![]), "replaced by too much");
        assert_eq!(mirror.locations(), 0);
    }

    #[test]
    fn a_mirror_replaced_by_a_long_history_keeps_its_newest_notes_whole() {
        // Three notes per location, 400 bytes: a, b and c weigh 150 each, d 64.
        let mut mirror = Mirror::new(ChatLimits {
            max_bytes: 400,
            ..limits(3, 100)
        });
        let heavy = "x".repeat(86);
        let at = note(0, "").0;
        let history = vec![
            kept(1, &heavy),
            kept(2, &heavy),
            kept(3, &heavy),
            kept(4, ""),
        ];
        // Only b, c and d are kept (364 bytes), though a, b and c together are over the budget.
        mirror.replace(at, history);
        assert_eq!(numbers(&mirror, at), (4, vec![2, 3, 4]));
    }

    #[test]
    fn a_location_replaced_while_others_fill_the_budget_is_kept_whole_or_not_at_all() {
        // 250 bytes: a heavy note weighs 150, an empty one 64.
        let mut mirror = Mirror::new(ChatLimits {
            max_bytes: 250,
            ..limits(10, 100)
        });
        let heavy = "x".repeat(86);
        let at = note(0, "").0;
        let newer = note(1, "").0;
        mirror.replace(at, vec![kept(1, "")]);
        assert!(mirror.follow(newer, 0, kept(2, &heavy)));
        // `at`'s new history fits by itself (214 bytes), but not beside `newer`, and `at` was
        // created first: it goes, and none of its notes comes back as a shorter history.
        mirror.replace(at, vec![kept(3, &heavy), kept(4, "")]);
        assert_eq!(numbers(&mirror, at), (0, vec![]));
        assert_eq!(numbers(&mirror, newer), (2, vec![2]));
    }

    #[test]
    fn entering_another_epoch_empties_the_mirror() {
        let mut mirror = Mirror::new(limits(10, 100));
        let at = note(0, "").0;
        mirror.enter("00ab");
        assert!(mirror.follow(at, 0, kept(1, "old")));
        mirror.enter("00ab");
        assert_eq!(numbers(&mirror, at), (1, vec![1]), "the same epoch");
        let generation = mirror.generation();
        mirror.enter("00cd");
        assert_eq!(numbers(&mirror, at), (0, vec![]));
        assert_eq!(mirror.epoch(), "00cd");
        assert_eq!(mirror.generation(), generation + 1);
    }
}
