//! RouteChat's shared board in Redis: every server replica pointed at one Redis shares one chat,
//! and the notes outlive the replicas.
//!
//! Redis holds the truth. Each location has a list of its newest notes (`--chat-history`), each
//! stored as `NUMBER:` and the note's protobuf bytes; one counter numbers the notes in the order
//! Redis received them. One Lua script, which Redis runs atomically, posts a note: it numbers it,
//! answers the notes kept before it, appends it, trims the list, drops the oldest location beyond
//! `--chat-locations`, and publishes the note, so what is stored and what is announced agree.
//!
//! Each replica keeps a mirror of the lists ([`ChatBoard::mirror`]), fed by its subscription to
//! the published notes. A post tells the script the number of the newest note the mirror holds at
//! the location, and the script answers only the notes after it (or the whole list, when that note
//! is no longer there). The earlier notes of a reply are therefore always Redis's, whatever the
//! subscription missed; a warm mirror only saves sending the history back and forth.
//!
//! Redis is reached from two threads of the board's own, never from a completion-queue thread: one
//! posts (posts waiting together go out in one pipeline), one follows the subscription. When Redis
//! is lost, posts fail at once with [`ChatUnavailable`], and both threads reconnect by themselves.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, mpsc};
use std::thread;
use std::time::Duration;

use futures::channel::oneshot;
use log::{info, warn};
use protobuf::Message;
use redis::{Client, Connection, RedisError, Script, Value};

use super::{ChatBoard, ChatLimits, Kept};
use crate::geo::Coordinates;
use crate::proto::RouteNote;

/// How long connecting to Redis may take before the attempt counts as failed.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// How long a reply from Redis may take before the connection counts as lost.
const REPLY_TIMEOUT: Duration = Duration::from_secs(2);
/// How often the subscription's thread looks up from waiting, to see whether the board was dropped.
const FOLLOW_POLL: Duration = Duration::from_millis(250);
/// The longest wait between two attempts to subscribe again.
const MAX_RECONNECT_WAIT: Duration = Duration::from_secs(2);
/// The most posts sent to Redis in one pipeline.
const MAX_PIPELINE: usize = 256;

/// Posts a note. KEYS: the location's list, the note counter, the list of locations in order of
/// creation. ARGV: the note's bytes, the number of the newest note the caller holds for the
/// location (0: none), notes kept per location, locations kept, the channel to publish on.
/// Answers { number of the note, 1 if what follows continues the caller's notes (0 if it replaces
/// them), the notes kept before this one as `NUMBER:BYTES`... }.
const POST_SCRIPT: &str = r"
local number = redis.call('INCR', KEYS[2])
local known = tonumber(ARGV[2])
local function number_of(kept) return tonumber(string.match(kept, '^(%d+):')) end
local newest = redis.call('LINDEX', KEYS[1], -1)
local previous = 0
if newest then previous = number_of(newest) end
local answer = {number, 0}
if known > 0 and previous == known then
  answer[2] = 1
elseif newest then
  local kept = redis.call('LRANGE', KEYS[1], 0, -1)
  local from = 1
  for i = #kept, 1, -1 do
    local n = number_of(kept[i])
    if n == known then
      from = i + 1
      answer[2] = 1
      break
    end
    if n < known then break end
  end
  for i = from, #kept do answer[#answer + 1] = kept[i] end
end
redis.call('RPUSH', KEYS[1], number .. ':' .. ARGV[1])
redis.call('LTRIM', KEYS[1], -tonumber(ARGV[3]), -1)
if not newest then
  redis.call('RPUSH', KEYS[3], KEYS[1])
  while redis.call('LLEN', KEYS[3]) > tonumber(ARGV[4]) do
    redis.call('DEL', redis.call('LPOP', KEYS[3]))
  end
end
redis.call('PUBLISH', ARGV[5], number .. ':' .. previous .. ':' .. ARGV[1])
return answer
";

/// The names the board uses in Redis.
#[derive(Clone, Debug)]
struct Keys {
    counter: String,
    locations: String,
    /// Published notes; Redis channels ignore the database, so the name carries its number.
    channel: String,
}

impl Keys {
    fn new(database: i64) -> Self {
        Keys {
            counter: "routeguide:chat:counter".to_string(),
            locations: "routeguide:chat:locations".to_string(),
            channel: format!("routeguide:chat:notes:db{database}"),
        }
    }

    fn location(at: Coordinates) -> String {
        format!("routeguide:chat:at:{},{}", at.latitude(), at.longitude())
    }
}

/// How the message of every [`ChatUnavailable`] begins, so that clients can tell a server that
/// answered `UNAVAILABLE` from one that could not be reached.
pub const CHAT_UNAVAILABLE: &str = "RouteChat's shared notes are unavailable";

/// A RouteChat post failed because Redis could not be reached; the note may not have been kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChatUnavailable(String);

impl fmt::Display for ChatUnavailable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ChatUnavailable {}

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
            "cannot use Redis at {} for RouteChat: {} (is redis-server running there?)",
            self.url, self.error
        )
    }
}

impl std::error::Error for RedisSetupError {}

/// One post on its way to Redis.
struct Post {
    at: Coordinates,
    note: Arc<RouteNote>,
    encoded: Vec<u8>,
    /// The mirror's notes at `at` when the post was made, and the number of the newest.
    known: u64,
    earlier: Vec<Kept>,
    reply: oneshot::Sender<Result<Vec<Arc<RouteNote>>, ChatUnavailable>>,
}

/// What the script answered for one post.
struct Posted {
    number: u64,
    continues: bool,
    earlier: Vec<Kept>,
}

/// The shared RouteChat board of every replica pointed at one Redis.
pub struct RedisBoard {
    posts: mpsc::Sender<Post>,
    mirror: Arc<Mutex<ChatBoard>>,
    /// Cleared when the board is dropped, which stops the subscription's thread.
    open: Arc<AtomicBool>,
    url: String,
}

impl RedisBoard {
    /// Connects to Redis at `url`, loads the post script and starts the board's two threads.
    /// Fails, naming the address, when Redis does not answer.
    pub fn connect(url: &str, limits: ChatLimits) -> Result<Self, RedisSetupError> {
        let setup_error = |error| RedisSetupError {
            url: url.to_string(),
            error,
        };
        let client = Client::open(url).map_err(setup_error)?;
        let keys = Keys::new(client.get_connection_info().redis_settings().db());
        let script = Script::new(POST_SCRIPT);
        let connection = connect(&client, &script).map_err(setup_error)?;

        let mirror = Arc::new(Mutex::new(ChatBoard::mirror(limits)));
        let open = Arc::new(AtomicBool::new(true));
        let (posts, waiting) = mpsc::channel();
        let hung_up = Arc::new(AtomicBool::new(false));
        let poster = Poster {
            client: client.clone(),
            script,
            keys: keys.clone(),
            limits,
            url: url.to_string(),
            mirror: Arc::clone(&mirror),
            connection: Some(connection),
            hung_up: Arc::clone(&hung_up),
        };
        let spawned = thread::Builder::new()
            .name("routeguide-chat-post".into())
            .spawn(move || poster.run(&waiting));
        let (subscribed, first_subscription) = mpsc::sync_channel(1);
        let follower = Follower {
            client,
            subscribed: Some(subscribed),
            channel: keys.channel,
            url: url.to_string(),
            mirror: Arc::clone(&mirror),
            open: Arc::clone(&open),
            hung_up,
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
        info!("RouteChat keeps its shared notes in Redis at {url}");
        Ok(RedisBoard {
            posts,
            mirror,
            open,
            url: url.to_string(),
        })
    }

    /// Leaves `note` at `at` and returns the notes left there before it, oldest first, whichever
    /// replica received them. Redis is reached on the board's thread; this only waits for it.
    pub async fn post(
        &self,
        at: Coordinates,
        note: RouteNote,
    ) -> Result<Vec<Arc<RouteNote>>, ChatUnavailable> {
        let encoded = note.write_to_bytes().map_err(|e| {
            ChatUnavailable(format!(
                "{CHAT_UNAVAILABLE}: a note could not be encoded: {e}"
            ))
        })?;
        let (known, earlier) = lock(&self.mirror).history(at);
        let (reply, answer) = oneshot::channel();
        let post = Post {
            at,
            note: Arc::new(note),
            encoded,
            known,
            earlier,
            reply,
        };
        let stopped = || {
            ChatUnavailable(format!(
                "{CHAT_UNAVAILABLE}: the link to Redis at {} stopped",
                self.url
            ))
        };
        self.posts.send(post).map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

impl RedisBoard {
    /// The notes this replica's mirror holds at `at`, oldest first: those it posted and those it
    /// heard of by subscription. For diagnostics and tests; replies never rely on it alone.
    pub fn mirrored(&self, at: Coordinates) -> Vec<Arc<RouteNote>> {
        let (_, history) = lock(&self.mirror).history(at);
        history.into_iter().map(|kept| kept.note).collect()
    }
}

impl Drop for RedisBoard {
    fn drop(&mut self) {
        self.open.store(false, Ordering::Relaxed);
    }
}

/// The mirror, also after a panic elsewhere: each of its methods leaves it consistent.
fn lock(mirror: &Mutex<ChatBoard>) -> MutexGuard<'_, ChatBoard> {
    mirror.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A connection to Redis that gives up on a silent server, with the post script loaded.
fn connect(client: &Client, script: &Script) -> Result<Connection, RedisError> {
    let mut connection = client.get_connection_with_timeout(CONNECT_TIMEOUT)?;
    connection.set_read_timeout(Some(REPLY_TIMEOUT))?;
    connection.set_write_timeout(Some(REPLY_TIMEOUT))?;
    load_script(&mut connection, script)?;
    Ok(connection)
}

fn load_script(connection: &mut Connection, script: &Script) -> Result<(), RedisError> {
    let hash: String = redis::cmd("SCRIPT")
        .arg("LOAD")
        .arg(POST_SCRIPT)
        .query(connection)?;
    debug_assert_eq!(hash, script.get_hash());
    Ok(())
}

/// The thread that sends posts to Redis.
struct Poster {
    client: Client,
    script: Script,
    keys: Keys,
    limits: ChatLimits,
    url: String,
    mirror: Arc<Mutex<ChatBoard>>,
    /// `None` after Redis was lost, until the next post connects again.
    connection: Option<Connection>,
    /// Set by the subscription's thread when Redis hung up on it: this thread's connection is
    /// then most likely dead too, and is replaced before it fails a post.
    hung_up: Arc<AtomicBool>,
}

impl Poster {
    /// Sends the posts as they come, those waiting together in one pipeline, until the board is
    /// dropped.
    fn run(mut self, waiting: &mpsc::Receiver<Post>) {
        while let Ok(first) = waiting.recv() {
            let mut batch = vec![first];
            while batch.len() < MAX_PIPELINE {
                match waiting.try_recv() {
                    Ok(post) => batch.push(post),
                    Err(_) => break,
                }
            }
            match self.send(&batch) {
                Ok(answers) => {
                    for (post, answer) in batch.into_iter().zip(answers) {
                        self.deliver(post, answer);
                    }
                }
                Err(e) => {
                    if self.connection.take().is_some() {
                        warn!("RouteChat lost Redis at {}: {e}", self.url);
                    }
                    let unavailable =
                        ChatUnavailable(format!("{CHAT_UNAVAILABLE}: Redis at {}: {e}", self.url));
                    for post in batch {
                        let _ = post.reply.send(Err(unavailable.clone()));
                    }
                }
            }
        }
    }

    /// Runs the post script for every post of `batch`, in order, and returns what it answered.
    fn send(&mut self, batch: &[Post]) -> Result<Vec<Posted>, RedisError> {
        if self.hung_up.swap(false, Ordering::Relaxed) {
            self.connection = None;
        }
        let connection = match &mut self.connection {
            Some(connection) => connection,
            slot @ None => {
                let connection = connect(&self.client, &self.script)?;
                info!("RouteChat reached Redis at {} again", self.url);
                slot.insert(connection)
            }
        };
        let mut pipeline = redis::pipe();
        for post in batch {
            pipeline.cmd("EVALSHA").arg(self.script.get_hash()).arg(3);
            pipeline
                .arg(Keys::location(post.at))
                .arg(&self.keys.counter)
                .arg(&self.keys.locations);
            pipeline
                .arg(&post.encoded)
                .arg(post.known)
                .arg(self.limits.history_per_location)
                .arg(self.limits.locations)
                .arg(&self.keys.channel);
        }
        let answers: Vec<Value> = match pipeline.query(connection) {
            // Redis forgets its scripts when it restarts; none of the batch ran then.
            Err(e) if e.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::NoScript) => {
                load_script(connection, &self.script)?;
                pipeline.query(connection)?
            }
            answers => answers?,
        };
        answers.into_iter().map(parse_answer).collect()
    }

    /// Answers one post, and puts what Redis holds at its location into the mirror.
    fn deliver(&self, post: Post, answer: Posted) {
        let mut history = if answer.continues {
            post.earlier
        } else {
            Vec::new()
        };
        history.extend(answer.earlier);
        let keep = self.limits.history_per_location.max(1);
        let skip = history.len().saturating_sub(keep);
        let earlier = history[skip..]
            .iter()
            .map(|kept| Arc::clone(&kept.note))
            .collect();
        history.push(Kept {
            number: answer.number,
            note: post.note,
        });
        lock(&self.mirror).replace(post.at, history);
        let _ = post.reply.send(Ok(earlier));
    }
}

/// Reads the post script's answer: `{number, continues, NUMBER:BYTES...}`.
fn parse_answer(answer: Value) -> Result<Posted, RedisError> {
    let malformed = |what: &str| {
        RedisError::from((
            redis::ErrorKind::Parse,
            "the RouteChat post script answered",
            what.to_string(),
        ))
    };
    let Value::Array(items) = answer else {
        return Err(malformed("something other than a list"));
    };
    let mut items = items.into_iter();
    let (Some(Value::Int(number)), Some(Value::Int(continues))) = (items.next(), items.next())
    else {
        return Err(malformed("no note number"));
    };
    let earlier = items
        .map(|item| match item {
            Value::BulkString(bytes) => parse_kept(&bytes).ok_or_else(|| malformed("a bad note")),
            _ => Err(malformed("a note that is not a string")),
        })
        .collect::<Result<_, _>>()?;
    Ok(Posted {
        number: number.try_into().unwrap_or(0),
        continues: continues == 1,
        earlier,
    })
}

/// Splits `NUMBER:` from the front of `bytes`.
fn split_number(bytes: &[u8]) -> Option<(u64, &[u8])> {
    let colon = bytes.iter().position(|&b| b == b':')?;
    let number = std::str::from_utf8(&bytes[..colon]).ok()?.parse().ok()?;
    Some((number, &bytes[colon + 1..]))
}

/// A note as kept in a location's list: `NUMBER:BYTES`.
fn parse_kept(bytes: &[u8]) -> Option<Kept> {
    let (number, note) = split_number(bytes)?;
    let note = RouteNote::parse_from_bytes(note).ok()?;
    Some(Kept {
        number,
        note: Arc::new(note),
    })
}

/// The thread that follows the notes published by every replica into the mirror.
struct Follower {
    client: Client,
    /// Told once, when the first subscription is in place.
    subscribed: Option<mpsc::SyncSender<()>>,
    channel: String,
    url: String,
    mirror: Arc<Mutex<ChatBoard>>,
    open: Arc<AtomicBool>,
    /// See [`Poster::hung_up`].
    hung_up: Arc<AtomicBool>,
}

impl Follower {
    /// Follows the channel until the board is dropped, subscribing again whenever Redis is lost.
    fn run(mut self) {
        let mut wait = Duration::from_millis(100);
        let mut lost = false;
        while self.open.load(Ordering::Relaxed) {
            match self.follow(&mut lost) {
                Ok(()) => return,
                Err(e) => {
                    self.hung_up.store(true, Ordering::Relaxed);
                    if !lost {
                        warn!(
                            "RouteChat's subscription to Redis at {} ended ({e}); subscribing again",
                            self.url
                        );
                        lost = true;
                    }
                    thread::sleep(wait);
                    wait = (wait * 2).min(MAX_RECONNECT_WAIT);
                }
            }
        }
    }

    /// Subscribes and applies every published note to the mirror; returns when the board is
    /// dropped, or with the error that ended the subscription.
    fn follow(&mut self, lost: &mut bool) -> Result<(), RedisError> {
        let mut connection = self.client.get_connection_with_timeout(CONNECT_TIMEOUT)?;
        let mut subscription = connection.as_pubsub();
        subscription.set_read_timeout(Some(FOLLOW_POLL))?;
        subscription.subscribe(&self.channel)?;
        if let Some(subscribed) = self.subscribed.take() {
            let _ = subscribed.send(());
        }
        if std::mem::take(lost) {
            info!("RouteChat follows Redis at {} again", self.url);
        }
        while self.open.load(Ordering::Relaxed) {
            match subscription.get_message() {
                Ok(message) => self.apply(message.get_payload_bytes()),
                Err(e) if e.is_timeout() => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Adds a published note (`NUMBER:PREVIOUS:BYTES`) to the mirror, if the mirror holds the
    /// note before it at its location; otherwise the next post there fetches what is missing.
    fn apply(&self, message: &[u8]) {
        let Some((number, rest)) = split_number(message) else {
            return;
        };
        let Some((previous, bytes)) = split_number(rest) else {
            return;
        };
        let Ok(note) = RouteNote::parse_from_bytes(bytes) else {
            return;
        };
        let Ok(at) = Coordinates::from_point(note.get_location()) else {
            return;
        };
        let kept = Kept {
            number,
            note: Arc::new(note),
        };
        lock(&self.mirror).follow(at, previous, kept);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kept_note_is_its_number_then_its_bytes() {
        let note = crate::proto::route_note(crate::proto::point(1, 2), "a:b");
        let mut bytes = b"42:".to_vec();
        bytes.extend(note.write_to_bytes().unwrap());
        let kept = parse_kept(&bytes).unwrap();
        assert_eq!(kept.number, 42);
        assert_eq!(*kept.note, note);
        assert!(parse_kept(b"x:").is_none());
        assert!(parse_kept(b"no colon").is_none());
    }
}
