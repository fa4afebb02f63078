//! RouteChat's memory: the notes left at each location, and who shares them.
//!
//! In [`ChatScope::Stream`] each call has a board of its own (as in the tutorial's server); in
//! [`ChatScope::Shared`] every call posts to one board, so clients see each other's notes. Either
//! way a board keeps at most [`ChatLimits::history_per_location`] notes per location (dropping the
//! oldest note), at most [`ChatLimits::locations`] locations (dropping the location that was
//! created first) and at most [`ChatLimits::max_bytes`] of notes (dropping whole locations, oldest
//! first, then the oldest notes of the current one), so whatever clients send, a board's memory is
//! bounded. Notes are shared (`Arc`), so handing the earlier ones to a call copies pointers only.
//!
//! The shared board lives in this process ([`ChatBackend::Memory`]) or in Redis
//! ([`ChatBackend::Redis`], see [`RedisBoard`]), where several server replicas share it and it
//! outlives them.

mod redis_board;

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, Mutex, PoisonError};

use crate::geo::Coordinates;
use crate::proto::RouteNote;

pub use self::redis_board::{ChatUnavailable, RedisBoard, RedisSetupError, redacted};

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

/// A note kept on a board, with its number: notes are numbered in the order they were posted, so
/// that a board that copies another one (a replica's mirror of Redis) can tell where it stands.
#[derive(Clone, Debug)]
pub struct Kept {
    pub number: u64,
    pub note: Arc<RouteNote>,
}

/// The notes left at each location, oldest first.
#[derive(Debug)]
pub struct ChatBoard {
    limits: ChatLimits,
    notes: HashMap<Coordinates, VecDeque<Kept>>,
    /// The locations of `notes`, in the order they were created.
    created: VecDeque<Coordinates>,
    /// What the notes weigh, by [`weight`].
    bytes: usize,
    /// The number of the last note posted with [`ChatBoard::post`].
    posted: u64,
    /// Whether the byte budget may drop the oldest notes of a location and keep the newer ones.
    /// A mirror may not: it holds a location's whole history or none of it.
    keeps_part_of_a_location: bool,
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
            posted: 0,
            keeps_part_of_a_location: true,
        }
    }

    /// An empty board that mirrors notes kept elsewhere ([`ChatBoard::history`],
    /// [`ChatBoard::replace`], [`ChatBoard::follow`]): to stay within `limits.max_bytes` it drops
    /// whole locations only, so a location it holds has every note the limits keep.
    pub fn mirror(limits: ChatLimits) -> Self {
        ChatBoard {
            keeps_part_of_a_location: false,
            ..ChatBoard::new(limits)
        }
    }

    /// Leaves `note` at `at` and returns the notes left there before it, oldest first.
    pub fn post(&mut self, at: Coordinates, note: RouteNote) -> Vec<Arc<RouteNote>> {
        let earlier = self.notes.get(&at).map_or_else(Vec::new, |history| {
            history.iter().map(|kept| Arc::clone(&kept.note)).collect()
        });
        self.posted += 1;
        let kept = Kept {
            number: self.posted,
            note: Arc::new(note),
        };
        self.push(at, kept);
        earlier
    }

    /// The notes kept at `at`, oldest first.
    pub fn history(&self, at: Coordinates) -> Vec<Kept> {
        self.notes
            .get(&at)
            .map_or_else(Vec::new, |history| history.iter().cloned().collect())
    }

    /// The number of the newest note kept at `at` (0 when there are none).
    pub fn newest(&self, at: Coordinates) -> u64 {
        self.notes
            .get(&at)
            .and_then(|history| history.back())
            .map_or(0, |kept| kept.number)
    }

    /// Replaces what is kept at `at` with `history` (oldest first; only its newest
    /// `history_per_location` notes are kept).
    pub fn replace(&mut self, at: Coordinates, history: Vec<Kept>) {
        let kept = history.len().min(self.limits.history_per_location);
        let bytes: usize = history[history.len() - kept..]
            .iter()
            .map(|k| weight(&k.note))
            .sum();
        if !self.keeps_part_of_a_location && bytes > self.limits.max_bytes {
            // Too heavy to mirror whole, and a part would be a wrong history.
            self.forget(at);
            return;
        }
        if let Some(old) = self.notes.get_mut(&at) {
            // Emptied in place: the location keeps its place in the order of creation.
            self.bytes -= old.iter().map(|kept| weight(&kept.note)).sum::<usize>();
            old.clear();
        }
        // Only the notes kept: an older window of as many notes could weigh more than the budget
        // and take the location with it.
        let skip = history.len() - kept;
        for kept in history.into_iter().skip(skip) {
            self.push(at, kept);
        }
    }

    /// Adds `kept` at `at` if the newest note kept there is number `after` (0: none is kept), so
    /// that what is kept stays an unbroken run of notes; returns whether it was added.
    pub fn follow(&mut self, at: Coordinates, after: u64, kept: Kept) -> bool {
        if self.newest(at) != after {
            return false;
        }
        self.push(at, kept);
        true
    }

    /// Adds `kept` as the newest note at `at`, then drops what the limits do not keep.
    fn push(&mut self, at: Coordinates, kept: Kept) {
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
            self.bytes -= weight(&dropped.note);
        }
        self.bytes += weight(&kept.note);
        history.push_back(kept);
        self.keep_within_bytes(at);
    }

    /// Drops whole locations, oldest first, then the oldest notes at `at` (or, on a mirror, `at`
    /// itself), until the notes fit in the byte budget. On a board that is not a mirror, the note
    /// just posted at `at` always stays.
    fn keep_within_bytes(&mut self, at: Coordinates) {
        while self.bytes > self.limits.max_bytes {
            if self.created.front().is_some_and(|&oldest| oldest != at) {
                self.drop_oldest_location();
                continue;
            }
            if !self.keeps_part_of_a_location {
                // `at` is the oldest location left.
                self.drop_oldest_location();
                return;
            }
            let Some(history) = self.notes.get_mut(&at) else {
                return;
            };
            if history.len() <= 1 {
                return;
            }
            if let Some(dropped) = history.pop_front() {
                self.bytes -= weight(&dropped.note);
            }
        }
    }

    /// Drops everything kept, as a new board would hold nothing.
    pub fn clear(&mut self) {
        self.notes.clear();
        self.created.clear();
        self.bytes = 0;
    }

    /// Drops everything kept at `at`.
    fn forget(&mut self, at: Coordinates) {
        if let Some(history) = self.notes.remove(&at) {
            self.bytes -= history.iter().map(|kept| weight(&kept.note)).sum::<usize>();
            self.created.retain(|&location| location != at);
        }
    }

    fn drop_oldest_location(&mut self) {
        if let Some(oldest) = self.created.pop_front()
            && let Some(history) = self.notes.remove(&oldest)
        {
            self.bytes -= history.iter().map(|kept| weight(&kept.note)).sum::<usize>();
        }
    }

    /// How many locations hold notes.
    pub fn locations(&self) -> usize {
        self.notes.len()
    }
}

/// Where the shared board lives: in the server's memory, or in Redis for several replicas.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum ChatBackend {
    /// A board in this server's memory; its notes end with the process.
    #[default]
    Memory,
    /// A board in Redis at this `redis://HOST:PORT[/DB]` address, shared by every server
    /// pointed at it, and kept across their restarts.
    Redis(String),
}

impl FromStr for ChatBackend {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        if text == "memory" {
            return Ok(ChatBackend::Memory);
        }
        if !text.starts_with("redis://") {
            return Err(format!(
                "`{text}` is neither `memory` nor a `redis://HOST:PORT[/DB]` address"
            ));
        }
        redis::Client::open(text)
            .map(|_| ChatBackend::Redis(text.to_string()))
            .map_err(|e| format!("`{}` is not a Redis address: {e}", redacted(text)))
    }
}

impl fmt::Display for ChatBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChatBackend::Memory => f.write_str("memory"),
            ChatBackend::Redis(url) => f.write_str(&redacted(url)),
        }
    }
}

/// Why RouteChat could not be set up.
#[derive(Debug)]
pub enum ChatSetupError {
    /// `--chat-backend redis://...` without `--chat-scope shared`.
    RedisNeedsSharedScope,
    /// The Redis backend could not be reached or prepared.
    Redis(RedisSetupError),
}

impl fmt::Display for ChatSetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChatSetupError::RedisNeedsSharedScope => f.write_str(
                "a Redis chat backend holds the notes every client shares: it needs \
                 --chat-scope shared",
            ),
            ChatSetupError::Redis(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for ChatSetupError {}

/// Where one RouteChat call posts its notes: a board of its own, the server's shared one, or the
/// one in Redis.
pub enum ChatRoom {
    Private(ChatBoard),
    Shared(Arc<Mutex<ChatBoard>>),
    Redis(Arc<RedisBoard>),
}

impl ChatRoom {
    /// Leaves `note` at `at` and returns the notes left there before it, oldest first. The shared
    /// board's lock is held only while copying, never while sending; the Redis board is reached
    /// from a thread of its own, never from the caller's.
    pub async fn post(
        &mut self,
        at: Coordinates,
        note: RouteNote,
    ) -> Result<Vec<Arc<RouteNote>>, ChatUnavailable> {
        match self {
            ChatRoom::Private(board) => Ok(board.post(at, note)),
            ChatRoom::Shared(board) => Ok(post_shared(board, at, note)),
            ChatRoom::Redis(board) => board.post(at, note).await,
        }
    }
}

fn post_shared(board: &Mutex<ChatBoard>, at: Coordinates, note: RouteNote) -> Vec<Arc<RouteNote>> {
    board
        .lock()
        // A board is consistent after every statement of `post`, so a panic elsewhere while
        // holding the lock leaves nothing half-done.
        .unwrap_or_else(PoisonError::into_inner)
        .post(at, note)
}

/// The server's RouteChat settings, and the shared board when the scope is shared.
#[derive(Clone)]
pub struct Chat {
    scope: ChatScope,
    limits: ChatLimits,
    shared: Arc<Mutex<ChatBoard>>,
    redis: Option<Arc<RedisBoard>>,
}

impl Chat {
    /// RouteChat with its shared board (if any) in memory.
    pub fn new(scope: ChatScope, limits: ChatLimits) -> Self {
        Chat {
            scope,
            limits,
            shared: Arc::new(Mutex::new(ChatBoard::new(limits))),
            redis: None,
        }
    }

    /// RouteChat with its shared board in `backend`: for Redis, this connects and checks that
    /// Redis answers before the server starts.
    pub fn with_backend(
        scope: ChatScope,
        limits: ChatLimits,
        backend: &ChatBackend,
    ) -> Result<Self, ChatSetupError> {
        match (backend, scope) {
            (ChatBackend::Memory, _) => Ok(Chat::new(scope, limits)),
            (ChatBackend::Redis(_), ChatScope::Stream) => {
                Err(ChatSetupError::RedisNeedsSharedScope)
            }
            (ChatBackend::Redis(url), ChatScope::Shared) => {
                let board = RedisBoard::connect(url, limits).map_err(ChatSetupError::Redis)?;
                Ok(Chat {
                    redis: Some(Arc::new(board)),
                    ..Chat::new(scope, limits)
                })
            }
        }
    }

    /// The room a new RouteChat call posts to.
    pub fn room(&self) -> ChatRoom {
        match (self.scope, &self.redis) {
            (ChatScope::Stream, _) => ChatRoom::Private(ChatBoard::new(self.limits)),
            (ChatScope::Shared, Some(redis)) => ChatRoom::Redis(Arc::clone(redis)),
            (ChatScope::Shared, None) => ChatRoom::Shared(Arc::clone(&self.shared)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto;
    use futures::executor::block_on;

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
        let post = |room: &mut ChatRoom, at, n| block_on(room.post(at, n)).unwrap();
        let shared = Chat::new(ChatScope::Shared, limits(10, 100));
        let (at, n) = note(7, "from A");
        post(&mut shared.room(), at, n.clone());
        assert_eq!(
            messages(&post(&mut shared.room(), at, n.clone())),
            ["from A"]
        );

        let private = Chat::new(ChatScope::Stream, limits(10, 100));
        post(&mut private.room(), at, n.clone());
        assert!(post(&mut private.room(), at, n).is_empty());
    }

    fn kept(number: u64, text: &str) -> Kept {
        Kept {
            number,
            note: Arc::new(note(0, text).1),
        }
    }

    fn numbers(board: &ChatBoard, at: Coordinates) -> (u64, Vec<u64>) {
        let history = board.history(at).iter().map(|k| k.number).collect();
        (board.newest(at), history)
    }

    #[test]
    fn a_mirror_follows_only_an_unbroken_run_of_notes() {
        let mut mirror = ChatBoard::mirror(limits(3, 100));
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
        let mut mirror = ChatBoard::mirror(ChatLimits {
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
        let mut mirror = ChatBoard::mirror(ChatLimits {
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
}
