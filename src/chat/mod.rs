//! RouteChat's memory, as the service sees it: whose notes a call sees, how much is kept, where the
//! shared notes live, and how a post fails. The boards themselves are left to modules of their
//! own: `board` for [`ChatBoard`] (in this process), `redis` for [`RedisBoard`] (in Redis).
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
//! outlives them. Only a board in Redis can fail a post, with [`ChatUnavailable`].

mod board;
mod redis;

use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, Mutex, PoisonError};

use crate::geo::Coordinates;
use crate::metrics::{ChatGauges, Metrics};
use crate::proto::RouteNote;

pub(crate) use self::board::ChatBoard;
pub(crate) use self::redis::redacted;
pub use self::redis::{RedisBoard, RedisSetupError};

/// Whose notes a RouteChat call sees, and where notes shared between calls live. Only shared
/// notes have a backend: a Redis board for per-call notes cannot even be written down.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum ChatScope {
    /// Only the notes sent earlier on the same call, kept with the call.
    #[default]
    Stream,
    /// The notes sent earlier by every client, kept in this backend (by every replica pointed
    /// at it, for Redis).
    Shared(ChatBackend),
}

impl fmt::Display for ChatScope {
    /// `stream`, or `shared in` and the backend (a Redis password hidden).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChatScope::Stream => f.write_str("stream"),
            ChatScope::Shared(backend) => write!(f, "shared in {backend}"),
        }
    }
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

impl ChatLimits {
    /// These limits with each count at least one: a board must at least hold the note just
    /// posted, wherever it is.
    fn at_least_one_of_each(self) -> Self {
        ChatLimits {
            history_per_location: self.history_per_location.max(1),
            locations: self.locations.max(1),
            max_bytes: self.max_bytes,
        }
    }
}

/// Where the shared board lives: in the server's memory, or in Redis for several replicas. Shown
/// (`Display` and `Debug` alike) with any password of a Redis address hidden.
#[derive(Clone, Default, PartialEq, Eq)]
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
                "`{}` is neither `memory` nor a `redis://HOST:PORT[/DB]` address",
                redacted(text)
            ));
        }
        redis::check_address(text)?;
        Ok(ChatBackend::Redis(text.to_string()))
    }
}

impl fmt::Debug for ChatBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChatBackend::Memory => f.write_str("Memory"),
            ChatBackend::Redis(url) => f.debug_tuple("Redis").field(&redacted(url)).finish(),
        }
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

/// A RouteChat post failed in the shared store, whichever it is; the note may or may not have
/// been kept. What it says is for the client: it names neither the store's address nor its
/// error, which the server logs instead. The service answers it with `UNAVAILABLE` and the reason
/// [`crate::status::CHAT_STORE_UNAVAILABLE`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChatUnavailable {
    /// The store cannot be reached.
    Unreachable,
    /// The store refused the note (out of memory, say); the server's log says why.
    Refused,
}

impl fmt::Display for ChatUnavailable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self {
            ChatUnavailable::Unreachable => "the chat store cannot be reached; try again",
            ChatUnavailable::Refused => "the chat store refused the note; try again",
        };
        write!(f, "RouteChat's shared notes are unavailable: {what}")
    }
}

impl std::error::Error for ChatUnavailable {}

/// Why RouteChat could not be set up.
#[derive(Debug)]
pub enum ChatSetupError {
    /// The Redis backend could not be reached or prepared.
    Redis(RedisSetupError),
}

impl fmt::Display for ChatSetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChatSetupError::Redis(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for ChatSetupError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            // Shown as its own message (see Display): its cause comes next.
            ChatSetupError::Redis(e) => e.source(),
        }
    }
}

/// The board every RouteChat call of a server posts to in [`ChatScope::Shared`]. Cloning it
/// clones a handle: every clone is the same board.
#[derive(Clone)]
pub(crate) enum SharedBoard {
    /// In this server's memory.
    Memory(Arc<Mutex<ChatBoard>>),
    /// In Redis, shared with the other replicas pointed at it.
    Redis(Arc<RedisBoard>),
}

impl SharedBoard {
    /// Leaves `note` at `at` and returns the notes left there before it, oldest first. The
    /// in-memory board's lock is held only while copying, never while sending; Redis is reached
    /// from a thread of the board's own, never from the caller's.
    pub(crate) async fn post(
        &self,
        at: Coordinates,
        note: RouteNote,
    ) -> Result<Vec<Arc<RouteNote>>, ChatUnavailable> {
        match self {
            SharedBoard::Memory(board) => Ok(board
                .lock()
                // A board is consistent after every statement of `post`, so a panic elsewhere
                // while holding the lock leaves nothing half-done.
                .unwrap_or_else(PoisonError::into_inner)
                .post(at, note)),
            SharedBoard::Redis(board) => board.post(at, note).await,
        }
    }
}

/// The server's RouteChat: what a new call posts to. In per-stream scope there is no shared
/// board at all, only the limits each call's own board is made with.
#[derive(Clone)]
pub(crate) enum Chat {
    /// Per-stream scope: each call gets a board of its own, within these limits, counted in
    /// these gauges.
    PerStream(ChatLimits, Option<ChatGauges>),
    /// Shared scope: every call posts to this board.
    Shared(SharedBoard),
}

impl Chat {
    /// RouteChat in `scope` within `limits`, its boards counted in `metrics` when given: for a
    /// Redis backend, this connects and checks that Redis answers before the server starts.
    pub(crate) fn start(
        scope: &ChatScope,
        limits: ChatLimits,
        metrics: Option<&Metrics>,
    ) -> Result<Self, ChatSetupError> {
        let gauges = metrics.map(|m| m.chat().clone());
        let board = match scope {
            ChatScope::Stream => return Ok(Chat::PerStream(limits, gauges)),
            ChatScope::Shared(ChatBackend::Memory) => {
                SharedBoard::Memory(Arc::new(Mutex::new(ChatBoard::counted(limits, gauges))))
            }
            ChatScope::Shared(ChatBackend::Redis(url)) => SharedBoard::Redis(Arc::new(
                RedisBoard::connect_counted(url, limits, gauges, metrics.and_then(Metrics::redis))
                    .map_err(ChatSetupError::Redis)?,
            )),
        };
        Ok(Chat::Shared(board))
    }

    /// The room a new RouteChat call posts to.
    pub(crate) fn room(&self) -> ChatRoom {
        match self {
            Chat::PerStream(limits, gauges) => {
                ChatRoom::Private(ChatBoard::counted(*limits, gauges.clone()))
            }
            Chat::Shared(board) => ChatRoom::Shared(board.clone()),
        }
    }
}

/// Where one RouteChat call posts its notes: a board of its own, or the server's shared one.
pub(crate) enum ChatRoom {
    /// A board of the call's own, gone when the call ends.
    Private(ChatBoard),
    /// The server's shared board.
    Shared(SharedBoard),
}

impl ChatRoom {
    /// Leaves `note` at `at` and returns the notes left there before it, oldest first; only a
    /// board in Redis can fail.
    pub(crate) async fn post(
        &mut self,
        at: Coordinates,
        note: RouteNote,
    ) -> Result<Vec<Arc<RouteNote>>, ChatUnavailable> {
        match self {
            ChatRoom::Private(board) => Ok(board.post(at, note)),
            ChatRoom::Shared(board) => board.post(at, note).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::board::tests::{limits, messages, note};
    use super::*;
    use futures::executor::block_on;

    #[test]
    fn shared_rooms_see_each_other_and_stream_rooms_do_not() {
        let post = |room: &mut ChatRoom, at, n| block_on(room.post(at, n)).unwrap();
        let shared = Chat::start(
            &ChatScope::Shared(ChatBackend::Memory),
            limits(10, 100),
            None,
        )
        .unwrap();
        let (at, n) = note(7, "from A");
        post(&mut shared.room(), at, n.clone());
        assert_eq!(
            messages(&post(&mut shared.room(), at, n.clone())),
            ["from A"]
        );

        let private = Chat::start(&ChatScope::Stream, limits(10, 100), None).unwrap();
        post(&mut private.room(), at, n.clone());
        assert!(post(&mut private.room(), at, n).is_empty());
    }

    #[test]
    fn a_redis_backend_needs_a_redis_address() {
        assert_eq!("memory".parse(), Ok(ChatBackend::Memory));
        assert_eq!(
            "redis://127.0.0.1:6379/2".parse(),
            Ok(ChatBackend::Redis("redis://127.0.0.1:6379/2".to_string()))
        );
        let wrong = "postgres://x".parse::<ChatBackend>().unwrap_err();
        assert!(wrong.contains("neither `memory` nor"), "{wrong}");
    }
}
