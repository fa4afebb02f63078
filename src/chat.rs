//! RouteChat's memory: the notes left at each location, and who shares them.
//!
//! In [`ChatScope::Stream`] each call has a board of its own (as in the tutorial's server); in
//! [`ChatScope::Shared`] every call posts to one board, so clients see each other's notes. Either
//! way a board keeps at most [`ChatLimits::history_per_location`] notes per location (dropping the
//! oldest note), at most [`ChatLimits::locations`] locations (dropping the location that was
//! created first) and at most [`ChatLimits::max_bytes`] of notes (dropping whole locations, oldest
//! first, then the oldest notes of the current one), so whatever clients send, a board's memory is
//! bounded. Notes are shared (`Arc`), so handing the earlier ones to a call copies pointers only.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};

use crate::geo::Coordinates;
use crate::proto::RouteNote;

/// Whose notes a RouteChat call sees.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ChatScope {
    /// Only the notes sent earlier on the same call.
    #[default]
    Stream,
    /// The notes sent earlier by every client of this server.
    Shared,
}

/// How much a chat board keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChatLimits {
    /// Notes kept per location; the oldest goes first.
    pub history_per_location: usize,
    /// Locations kept; the one created first goes first, with its notes.
    pub locations: usize,
    /// Bytes of notes kept (message text plus a fixed overhead per note).
    pub max_bytes: usize,
}

impl Default for ChatLimits {
    fn default() -> Self {
        ChatLimits {
            history_per_location: 1000,
            locations: 10_000,
            max_bytes: 64 * 1024 * 1024,
        }
    }
}

/// The notes left at each location, oldest first.
#[derive(Debug)]
pub struct ChatBoard {
    limits: ChatLimits,
    notes: HashMap<Coordinates, VecDeque<Arc<RouteNote>>>,
    /// The locations of `notes`, in the order they were created.
    created: VecDeque<Coordinates>,
    /// What the notes weigh, by [`weight`].
    bytes: usize,
}

/// What a note is counted as against [`ChatLimits::max_bytes`]: its text and a fixed overhead.
fn weight(note: &RouteNote) -> usize {
    note.get_message().len() + 64
}

impl ChatBoard {
    /// An empty board within `limits` (each at least one).
    pub fn new(limits: ChatLimits) -> Self {
        ChatBoard {
            limits: ChatLimits {
                history_per_location: limits.history_per_location.max(1),
                locations: limits.locations.max(1),
                max_bytes: limits.max_bytes,
            },
            notes: HashMap::new(),
            created: VecDeque::new(),
            bytes: 0,
        }
    }

    /// Leaves `note` at `at` and returns the notes left there before it, oldest first.
    pub fn post(&mut self, at: Coordinates, note: RouteNote) -> Vec<Arc<RouteNote>> {
        if !self.notes.contains_key(&at) {
            if self.created.len() == self.limits.locations {
                self.drop_oldest_location();
            }
            self.created.push_back(at);
        }
        let history = self.notes.entry(at).or_default();
        let earlier = history.iter().cloned().collect();
        if history.len() == self.limits.history_per_location
            && let Some(dropped) = history.pop_front()
        {
            self.bytes -= weight(&dropped);
        }
        self.bytes += weight(&note);
        history.push_back(Arc::new(note));
        self.keep_within_bytes(at);
        earlier
    }

    /// Drops whole locations, oldest first, then the oldest notes at `at`, until the notes fit in
    /// the byte budget. The note just posted at `at` always stays.
    fn keep_within_bytes(&mut self, at: Coordinates) {
        while self.bytes > self.limits.max_bytes {
            if self.created.front().is_some_and(|&oldest| oldest != at) {
                self.drop_oldest_location();
                continue;
            }
            let Some(history) = self.notes.get_mut(&at) else {
                return;
            };
            if history.len() <= 1 {
                return;
            }
            if let Some(dropped) = history.pop_front() {
                self.bytes -= weight(&dropped);
            }
        }
    }

    fn drop_oldest_location(&mut self) {
        if let Some(oldest) = self.created.pop_front()
            && let Some(history) = self.notes.remove(&oldest)
        {
            self.bytes -= history.iter().map(|n| weight(n)).sum::<usize>();
        }
    }

    /// How many locations hold notes.
    pub fn locations(&self) -> usize {
        self.notes.len()
    }
}

/// Where one RouteChat call posts its notes: a board of its own or the server's shared one.
pub enum ChatRoom {
    Private(ChatBoard),
    Shared(Arc<Mutex<ChatBoard>>),
}

impl ChatRoom {
    /// Leaves `note` at `at` and returns the notes left there before it, oldest first. The shared
    /// board's lock is held only while copying, never while sending.
    pub fn post(&mut self, at: Coordinates, note: RouteNote) -> Vec<Arc<RouteNote>> {
        match self {
            ChatRoom::Private(board) => board.post(at, note),
            ChatRoom::Shared(board) => board
                .lock()
                // A board is consistent after every statement of `post`, so a panic elsewhere
                // while holding the lock leaves nothing half-done.
                .unwrap_or_else(PoisonError::into_inner)
                .post(at, note),
        }
    }
}

/// The server's RouteChat settings, and the shared board when the scope is shared.
#[derive(Clone)]
pub struct Chat {
    scope: ChatScope,
    limits: ChatLimits,
    shared: Arc<Mutex<ChatBoard>>,
}

impl Chat {
    pub fn new(scope: ChatScope, limits: ChatLimits) -> Self {
        Chat {
            scope,
            limits,
            shared: Arc::new(Mutex::new(ChatBoard::new(limits))),
        }
    }

    /// The room a new RouteChat call posts to.
    pub fn room(&self) -> ChatRoom {
        match self.scope {
            ChatScope::Stream => ChatRoom::Private(ChatBoard::new(self.limits)),
            ChatScope::Shared => ChatRoom::Shared(Arc::clone(&self.shared)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto;

    fn note(lat: i32, message: &str) -> (Coordinates, RouteNote) {
        let at = Coordinates::new(lat, 0).unwrap();
        (at, proto::route_note(at.to_point(), message))
    }

    fn limits(history_per_location: usize, locations: usize) -> ChatLimits {
        ChatLimits {
            history_per_location,
            locations,
            ..ChatLimits::default()
        }
    }

    fn messages(notes: &[Arc<RouteNote>]) -> Vec<&str> {
        notes.iter().map(|n| n.get_message()).collect()
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
    fn shared_rooms_see_each_other_and_stream_rooms_do_not() {
        let shared = Chat::new(ChatScope::Shared, limits(10, 100));
        let (at, n) = note(7, "from A");
        shared.room().post(at, n.clone());
        assert_eq!(messages(&shared.room().post(at, n.clone())), ["from A"]);

        let private = Chat::new(ChatScope::Stream, limits(10, 100));
        private.room().post(at, n.clone());
        assert!(private.room().post(at, n).is_empty());
    }
}
