//! RouteChat's shared board in Redis ([`RedisBoard`]): every server replica pointed at one Redis
//! shares one chat, and the notes outlive the replicas. This file connects the board and hands
//! posts over; the work is done by the files beside it.
//!
//! Redis holds the truth. Each location has a list of its newest notes, each stored as `NUMBER:`
//! and the note's protobuf bytes; one counter numbers the notes in the order Redis received them,
//! within an *epoch*: a random name the first replica gives the board, which changes whenever
//! Redis loses the counter (a restart without persistence, FLUSHALL), so that numbers from before
//! are never taken for numbers from after. One Lua script (`post.lua`), which Redis runs
//! atomically, posts a note: it numbers it, answers the notes kept before it, appends it, applies
//! the limits (`--chat-history`, `--chat-locations`, `--chat-bytes`, as the in-memory board does)
//! and publishes the note, so what is stored and what is announced agree. The keys, the answer
//! and the forms of a note are read and written in [`wire`].
//!
//! Each replica keeps a [`mirror`] of the lists, fed by its subscription to the published notes.
//! A post tells the script the newest note the mirror holds at the location, and the script
//! answers only the notes after it, or the whole list when that note is no longer there. The
//! script also says how many notes Redis keeps there, so a reply never holds a note that Redis
//! dropped. The earlier notes of a reply are therefore always Redis's, whatever the subscription
//! missed; a warm mirror only saves sending the history back and forth. The mirror is emptied
//! whenever a connection to Redis is made again, since Redis may have come back with older data.
//!
//! Redis is reached from two threads of the board's own, never from a completion-queue thread:
//! the [`poster`] posts (posts waiting together go out in one pipeline), the [`follower`]
//! follows the subscription. When Redis is lost, posts fail at once with [`ChatUnavailable`],
//! and both threads reconnect by themselves. Clients are told only that the chat is unavailable;
//! the details (and the Redis [`address`], which may hold a password) go to the server's log,
//! with any password hidden.

mod address;
mod follower;
mod mirror;
mod poster;
mod wire;

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::Duration;

use futures::channel::oneshot;
use log::info;
use protobuf::Message;
use redis::{Client, Connection, RedisError, RedisResult, Script};

use self::follower::Follower;
use self::mirror::{Mirror, lock};
use self::poster::{Post, Poster};
use self::wire::Keys;
use super::{ChatLimits, ChatUnavailable};
use crate::geo::Coordinates;
use crate::metrics::{ChatGauges, RedisMetrics};
use crate::proto::RouteNote;
use crate::random::SplitMix64;

pub(super) use self::address::check_address;
pub(crate) use self::address::redacted;

/// The post script; its opening comment says what it takes and answers.
const POST_SCRIPT: &str = include_str!("post.lua");
/// How long connecting to Redis may take before the attempt counts as failed.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// How long a reply from Redis may take before the connection counts as lost.
const REPLY_TIMEOUT: Duration = Duration::from_secs(2);

/// Redis could not be reached or prepared when the server started.
#[derive(Debug)]
pub struct RedisSetupError {
    url: String,
    error: RedisError,
}

impl fmt::Display for RedisSetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cannot use Redis at {} for RouteChat (is redis-server running there?)",
            self.url
        )
    }
}

impl std::error::Error for RedisSetupError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

/// The shared RouteChat board of every replica pointed at one Redis.
pub struct RedisBoard {
    posts: mpsc::Sender<Post>,
    mirror: Arc<Mutex<Mirror>>,
    /// Cleared when the board is dropped, which stops the subscription's thread.
    open: Arc<AtomicBool>,
}

impl RedisBoard {
    /// Connects to Redis at `url`, loads the post script, starts the board's two threads and
    /// returns once the subscription is in place. Fails, naming the address, when Redis does not
    /// answer.
    pub fn connect(url: &str, limits: ChatLimits) -> Result<Self, RedisSetupError> {
        RedisBoard::connect_counted(url, limits, None, None)
    }

    /// [`RedisBoard::connect`], with the mirror counted in `gauges` and the posts in `metrics`,
    /// when given.
    pub(crate) fn connect_counted(
        url: &str,
        limits: ChatLimits,
        gauges: Option<ChatGauges>,
        metrics: Option<&RedisMetrics>,
    ) -> Result<Self, RedisSetupError> {
        let shown = redacted(url);
        let setup_error = |error| RedisSetupError {
            url: shown.clone(),
            error,
        };
        let limits = limits.at_least_one_of_each();
        let client = Client::open(url).map_err(setup_error)?;
        let keys = Keys::new(client.get_connection_info().redis_settings().db());
        let script = Script::new(POST_SCRIPT);
        let mut connection = connect(&client).map_err(setup_error)?;
        script.load(&mut connection).map_err(setup_error)?;

        let mirror = Arc::new(Mutex::new(Mirror::counted(limits, gauges)));
        let open = Arc::new(AtomicBool::new(true));
        let hung_up = Arc::new(AtomicBool::new(false));
        let (posts, waiting) = mpsc::channel();
        let poster = Poster {
            client: client.clone(),
            script,
            keys: keys.clone(),
            limits,
            epochs: SplitMix64::from_entropy(),
            url: shown.clone(),
            mirror: Arc::clone(&mirror),
            connection: Some(connection),
            hung_up: Arc::clone(&hung_up),
            metrics: metrics.cloned(),
        };
        let spawned = thread::Builder::new()
            .name("routeguide-chat-post".into())
            .spawn(move || poster.run(&waiting));
        let (subscribed, first_subscription) = mpsc::sync_channel(1);
        let follower = Follower {
            client,
            subscribed: Some(subscribed),
            channel: keys.channel,
            url: shown.clone(),
            mirror: Arc::clone(&mirror),
            open: Arc::clone(&open),
            hung_up,
            up: metrics.map(|m| m.up.clone()),
        };
        let spawned = spawned.and_then(|_| {
            thread::Builder::new()
                .name("routeguide-chat-follow".into())
                .spawn(move || follower.run())
        });
        if let Err(e) = spawned {
            return Err(setup_error(RedisError::from(e)));
        }
        // Serving starts once the subscription is in place, so that no note published from then
        // on is missed.
        if first_subscription
            .recv_timeout(CONNECT_TIMEOUT + REPLY_TIMEOUT)
            .is_err()
        {
            open.store(false, Ordering::Relaxed);
            return Err(setup_error(RedisError::from(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "could not subscribe to the notes of other replicas",
            ))));
        }
        info!("RouteChat keeps its shared notes in Redis at {shown}");
        Ok(RedisBoard {
            posts,
            mirror,
            open,
        })
    }

    /// Leaves `note` at `at` and returns the notes left there before it, oldest first, whichever
    /// replica received them. Redis is reached on the board's thread; this only waits for it.
    pub async fn post(
        &self,
        at: Coordinates,
        note: RouteNote,
    ) -> Result<Vec<Arc<RouteNote>>, ChatUnavailable> {
        let encoded = note
            .write_to_bytes()
            .map_err(|_| ChatUnavailable::Refused)?;
        let (epoch, generation, earlier) = {
            let mirror = lock(&self.mirror);
            let history = mirror.history(at);
            (mirror.epoch().to_string(), mirror.generation(), history)
        };
        let (reply, answer) = oneshot::channel();
        let post = Post {
            at,
            note: Arc::new(note),
            encoded,
            epoch,
            generation,
            earlier,
            reply,
        };
        self.posts
            .send(post)
            .map_err(|_| ChatUnavailable::Unreachable)?;
        answer.await.map_err(|_| ChatUnavailable::Unreachable)?
    }

    /// The notes this replica's mirror holds at `at`, oldest first: those it posted and those it
    /// heard of by subscription. For diagnostics and tests; replies never rely on it alone.
    pub fn mirrored(&self, at: Coordinates) -> Vec<Arc<RouteNote>> {
        let history = lock(&self.mirror).history(at);
        history.into_iter().map(|kept| kept.note).collect()
    }
}

impl Drop for RedisBoard {
    fn drop(&mut self) {
        self.open.store(false, Ordering::Relaxed);
    }
}

/// A connection to Redis that gives up on a silent server.
fn connect(client: &Client) -> RedisResult<Connection> {
    let connection = client.get_connection_with_timeout(CONNECT_TIMEOUT)?;
    connection.set_read_timeout(Some(REPLY_TIMEOUT))?;
    connection.set_write_timeout(Some(REPLY_TIMEOUT))?;
    Ok(connection)
}
