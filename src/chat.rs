//! RouteChat's memory: the notes left at each location, and who shares them.
//!
//! In [`ChatScope::Stream`] each call has a board of its own (as in the tutorial's server); in
//! [`ChatScope::Shared`] every call posts to one board, so clients see each other's notes. Either
//! way a board keeps at most `history_per_location` notes per location, dropping the oldest, so a
//! client cannot make the server's memory grow without bound at one location.

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

/// The default number of notes kept per location.
pub const DEFAULT_HISTORY_PER_LOCATION: usize = 1000;

/// The notes left at each location, oldest first.
#[derive(Debug)]
pub struct ChatBoard {
    history_per_location: usize,
    notes: HashMap<Coordinates, VecDeque<RouteNote>>,
}

impl ChatBoard {
    /// A board keeping at most `history_per_location` notes per location (at least one).
    pub fn new(history_per_location: usize) -> Self {
        ChatBoard {
            history_per_location: history_per_location.max(1),
            notes: HashMap::new(),
        }
    }

    /// Leaves `note` at `at` and returns the notes left there before it, oldest first.
    pub fn post(&mut self, at: Coordinates, note: RouteNote) -> Vec<RouteNote> {
        let history = self.notes.entry(at).or_default();
        let earlier = history.iter().cloned().collect();
        if history.len() == self.history_per_location {
            history.pop_front();
        }
        history.push_back(note);
        earlier
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
    pub fn post(&mut self, at: Coordinates, note: RouteNote) -> Vec<RouteNote> {
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
    history_per_location: usize,
    shared: Arc<Mutex<ChatBoard>>,
}

impl Chat {
    pub fn new(scope: ChatScope, history_per_location: usize) -> Self {
        Chat {
            scope,
            history_per_location,
            shared: Arc::new(Mutex::new(ChatBoard::new(history_per_location))),
        }
    }

    /// The room a new RouteChat call posts to.
    pub fn room(&self) -> ChatRoom {
        match self.scope {
            ChatScope::Stream => ChatRoom::Private(ChatBoard::new(self.history_per_location)),
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

    fn messages(notes: &[RouteNote]) -> Vec<&str> {
        notes.iter().map(RouteNote::get_message).collect()
    }

    #[test]
    fn a_note_gets_back_the_earlier_notes_at_its_location_only() {
        let mut board = ChatBoard::new(10);
        let posts = [(0, "First"), (1, "Second"), (0, "Third"), (0, "Fourth")];
        let replies: Vec<Vec<RouteNote>> = posts
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
        let mut board = ChatBoard::new(2);
        for text in ["a", "b", "c"] {
            let (at, n) = note(0, text);
            board.post(at, n);
        }
        let (at, n) = note(0, "d");
        assert_eq!(messages(&board.post(at, n)), ["b", "c"]);
    }

    #[test]
    fn shared_rooms_see_each_other_and_stream_rooms_do_not() {
        let shared = Chat::new(ChatScope::Shared, 10);
        let (at, n) = note(7, "from A");
        shared.room().post(at, n.clone());
        assert_eq!(messages(&shared.room().post(at, n.clone())), ["from A"]);

        let private = Chat::new(ChatScope::Stream, 10);
        private.room().post(at, n.clone());
        assert!(private.room().post(at, n).is_empty());
    }
}
