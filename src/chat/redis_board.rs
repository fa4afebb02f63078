//! RouteChat's shared board in Redis: every server replica pointed at one Redis shares one chat,
//! and the notes outlive the replicas.
//!
//! Redis holds the truth. Each location has a list of its newest notes, each stored as `NUMBER:`
//! and the note's protobuf bytes; one counter numbers the notes in the order Redis received them,
//! within an *epoch*: a random name the first replica gives the board, which changes whenever
//! Redis loses the counter (a restart without persistence, FLUSHALL), so that numbers from before
//! are never taken for numbers from after. One Lua script, which Redis runs atomically, posts a
//! note: it numbers it, answers the notes kept before it, appends it, applies the limits
//! (`--chat-history`, `--chat-locations`, `--chat-bytes`, as the in-memory board does) and
//! publishes the note, so what is stored and what is announced agree.
//!
//! Each replica keeps a mirror of the lists ([`ChatBoard::mirror`]), fed by its subscription to
//! the published notes. A post tells the script the newest note the mirror holds at the location,
//! and the script answers only the notes after it, or the whole list when that note is no longer
//! there. The script also says how many notes Redis keeps there, so a reply never holds a note
//! that Redis dropped. The earlier notes of a reply are therefore always Redis's, whatever the
//! subscription missed; a warm mirror only saves sending the history back and forth. The mirror
//! is emptied whenever a connection to Redis is made again, since Redis may have come back with
//! older data.
//!
//! Redis is reached from two threads of the board's own, never from a completion-queue thread: one
//! posts (posts waiting together go out in one pipeline), one follows the subscription. When Redis
//! is lost, posts fail at once with [`ChatUnavailable`], and both threads reconnect by themselves.
//! Clients are told only that the chat is unavailable; the details (and the Redis address, which
//! may hold a password) go to the server's log, with any password hidden.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, mpsc};
use std::thread;
use std::time::Duration;

use futures::channel::oneshot;
use log::{info, warn};
use protobuf::Message;
use redis::{Client, Connection, RedisError, RedisResult, Script, Value};

use super::{ChatBoard, ChatLimits, Kept};
use crate::geo::Coordinates;
use crate::proto::RouteNote;
use crate::random::SplitMix64;

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

/// Posts a note. KEYS: the location's list, the board's state (a hash: `epoch`, `counter`,
/// `bytes`), the list of locations in order of creation.
/// ARGV: the note's bytes; the epoch and the number of the newest note the caller holds for the
/// location (number 0: none); notes kept per location; locations kept; bytes kept; the channel to
/// publish on; an epoch to start with if the board has none.
/// Answers { the note's number, 1 if the notes that follow continue the caller's (0 if they
/// replace them), the epoch, how many notes were kept at the location before this one, those
/// notes as `NUMBER:BYTES` (only those after the caller's newest when they continue it) }, and
/// publishes `EPOCH:NUMBER:PREVIOUS:BYTES`.
/// A note weighs its stored length plus 64 bytes.
const POST_SCRIPT: &str = r"
local list, state, locations = KEYS[1], KEYS[2], KEYS[3]
local function number_of(kept) return tonumber(string.match(kept, '^(%d+):')) end
local function weight(kept) return #kept + 64 end
local function decimal(n) return string.format('%d', n) end

local epoch = redis.call('HGET', state, 'epoch')
if not epoch then
  epoch = ARGV[8]
  redis.call('HSET', state, 'epoch', epoch)
end
local number = redis.call('HINCRBY', state, 'counter', 1)
local known = 0
if ARGV[2] == epoch then known = tonumber(ARGV[3]) end

local newest = redis.call('LINDEX', list, -1)
local previous = 0
if newest then previous = number_of(newest) end
local answer = {number, 0, epoch, 0}
if known > 0 and previous == known then
  answer[2] = 1
elseif newest then
  local kept = redis.call('LRANGE', list, 0, -1)
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

local bytes
local function drop_note()
  local dropped = redis.call('LPOP', list)
  bytes = redis.call('HINCRBY', state, 'bytes', -weight(dropped))
end
local function drop_oldest_location()
  local old = redis.call('LPOP', locations)
  local freed = 0
  for _, kept in ipairs(redis.call('LRANGE', old, 0, -1)) do freed = freed + weight(kept) end
  redis.call('DEL', old)
  bytes = redis.call('HINCRBY', state, 'bytes', -freed)
end

local stored = decimal(number) .. ':' .. ARGV[1]
local length = redis.call('RPUSH', list, stored)
answer[4] = length - 1
bytes = redis.call('HINCRBY', state, 'bytes', weight(stored))
for _ = tonumber(ARGV[4]) + 1, length do drop_note() end
if not newest then
  local count = redis.call('RPUSH', locations, list)
  for _ = tonumber(ARGV[5]) + 1, count do drop_oldest_location() end
end
while bytes > tonumber(ARGV[6]) do
  local first = redis.call('LINDEX', locations, 0)
  if not first then break end
  if first ~= list then
    drop_oldest_location()
  elseif redis.call('LLEN', list) > 1 then
    drop_note()
  else
    break
  end
end
-- Never below zero, should anything but this script have dropped notes.
if bytes < 0 then
  redis.call('HSET', state, 'bytes', 0)
end

redis.call('PUBLISH', ARGV[7], epoch .. ':' .. decimal(number) .. ':' .. decimal(previous) .. ':' .. ARGV[1])
return answer
";

/// The names the board uses in Redis.
#[derive(Clone, Debug)]
struct Keys {
    state: String,
    locations: String,
    /// Published notes; Redis channels ignore the database, so the name carries its number.
    channel: String,
}

impl Keys {
    fn new(database: i64) -> Self {
        Keys {
            state: "routeguide:chat:state".to_string(),
            locations: "routeguide:chat:locations".to_string(),
            channel: format!("routeguide:chat:notes:db{database}"),
        }
    }

    fn location(at: Coordinates) -> String {
        format!("routeguide:chat:at:{},{}", at.latitude(), at.longitude())
    }
}

/// A RouteChat post failed in Redis; the note may or may not have been kept. What it says is for
/// the client: it does not name Redis's address or error, which the server logs instead. The
/// service answers it with `UNAVAILABLE` and the reason
/// [`crate::status::CHAT_STORE_UNAVAILABLE`], by which clients tell it from a server that could
/// not be reached.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChatUnavailable(&'static str);

impl fmt::Display for ChatUnavailable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RouteChat's shared notes are unavailable: {}", self.0)
    }
}

impl std::error::Error for ChatUnavailable {}

/// The store cannot be reached.
const UNREACHABLE: ChatUnavailable = ChatUnavailable("the chat store cannot be reached; try again");
/// The store refused the note (out of memory, say); the server's log says why.
const REFUSED: ChatUnavailable = ChatUnavailable("the chat store refused the note; try again");

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

/// `url` with any password replaced by `***`, for logs and error messages.
pub fn redacted(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    match rest.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split(':').next().unwrap_or("");
            if userinfo.contains(':') {
                format!("{scheme}://{user}:***@{host}")
            } else {
                format!("{scheme}://***@{host}")
            }
        }
        None => url.to_string(),
    }
}

/// A replica's copy of the board, and what it is a copy of.
struct Mirror {
    board: ChatBoard,
    /// The epoch its numbers belong to; empty until Redis has named it.
    epoch: String,
    /// How many times it was emptied; a post made before the last time does not trust it.
    generation: u64,
}

impl Mirror {
    /// Empties the mirror, for the epoch `epoch`.
    fn reset(&mut self, epoch: String) {
        self.board.clear();
        self.epoch = epoch;
        self.generation += 1;
    }

    /// Makes the mirror one of `epoch`: emptied if it held notes of another.
    fn enter(&mut self, epoch: &str) {
        if self.epoch == epoch {
            return;
        }
        if self.epoch.is_empty() {
            // Only an empty mirror has no epoch: nothing to drop.
            self.epoch = epoch.to_string();
        } else {
            self.reset(epoch.to_string());
        }
    }
}

/// One post on its way to Redis, with what the mirror held at its location when it was made.
struct Post {
    at: Coordinates,
    note: Arc<RouteNote>,
    encoded: Vec<u8>,
    epoch: String,
    generation: u64,
    earlier: Vec<Kept>,
    reply: oneshot::Sender<Result<Vec<Arc<RouteNote>>, ChatUnavailable>>,
}

impl Post {
    /// The number of the newest note the mirror held at the location (0: none), which Redis
    /// is asked to continue from.
    fn known(&self) -> u64 {
        self.earlier.last().map_or(0, |kept| kept.number)
    }
}

/// What the script answered for one post.
struct Posted {
    number: u64,
    continues: bool,
    epoch: String,
    /// How many notes Redis kept at the location before this one.
    kept_before: usize,
    after: Vec<Kept>,
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
        let shown = redacted(url);
        let setup_error = |error| RedisSetupError {
            url: shown.clone(),
            error,
        };
        let limits = ChatLimits {
            history_per_location: limits.history_per_location.max(1),
            locations: limits.locations.max(1),
            max_bytes: limits.max_bytes,
        };
        let client = Client::open(url).map_err(setup_error)?;
        let keys = Keys::new(client.get_connection_info().redis_settings().db());
        let script = Script::new(POST_SCRIPT);
        let mut connection = connect(&client).map_err(setup_error)?;
        script.load(&mut connection).map_err(setup_error)?;

        let mirror = Arc::new(Mutex::new(Mirror {
            board: ChatBoard::mirror(limits),
            epoch: String::new(),
            generation: 0,
        }));
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
        let encoded = note.write_to_bytes().map_err(|_| REFUSED)?;
        let (epoch, generation, earlier) = {
            let mirror = lock(&self.mirror);
            let history = mirror.board.history(at);
            (mirror.epoch.clone(), mirror.generation, history)
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
        self.posts.send(post).map_err(|_| UNREACHABLE)?;
        answer.await.map_err(|_| UNREACHABLE)?
    }

    /// The notes this replica's mirror holds at `at`, oldest first: those it posted and those it
    /// heard of by subscription. For diagnostics and tests; replies never rely on it alone.
    pub fn mirrored(&self, at: Coordinates) -> Vec<Arc<RouteNote>> {
        let history = lock(&self.mirror).board.history(at);
        history.into_iter().map(|kept| kept.note).collect()
    }
}

impl Drop for RedisBoard {
    fn drop(&mut self) {
        self.open.store(false, Ordering::Relaxed);
    }
}

/// The mirror, also after a panic elsewhere: each of its methods leaves it consistent.
fn lock(mirror: &Mutex<Mirror>) -> MutexGuard<'_, Mirror> {
    mirror.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A connection to Redis that gives up on a silent server.
fn connect(client: &Client) -> RedisResult<Connection> {
    let connection = client.get_connection_with_timeout(CONNECT_TIMEOUT)?;
    connection.set_read_timeout(Some(REPLY_TIMEOUT))?;
    connection.set_write_timeout(Some(REPLY_TIMEOUT))?;
    Ok(connection)
}

fn is_no_script(error: &RedisError) -> bool {
    error.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::NoScript)
}

/// The thread that sends posts to Redis.
struct Poster {
    client: Client,
    script: Script,
    keys: Keys,
    limits: ChatLimits,
    /// Names the epoch this replica proposes, fresh for each post, if the board has none.
    epochs: SplitMix64,
    /// The address, password hidden.
    url: String,
    mirror: Arc<Mutex<Mirror>>,
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
            match self.send(&mut batch) {
                Ok(answers) => {
                    for (post, answer) in batch.into_iter().zip(answers) {
                        match answer {
                            Ok(answer) => self.deliver(post, answer),
                            Err(e) => {
                                warn!("RouteChat: Redis at {} refused a note: {e}", self.url);
                                let _ = post.reply.send(Err(REFUSED));
                            }
                        }
                    }
                }
                Err(e) => {
                    if self.connection.take().is_some() {
                        warn!("RouteChat lost Redis at {}: {e}", self.url);
                    }
                    for post in batch {
                        let _ = post.reply.send(Err(UNREACHABLE));
                    }
                }
            }
        }
    }

    /// Runs the post script for every post of `batch`, in order, and returns what it answered
    /// for each; fails as a whole only when Redis cannot be reached.
    fn send(&mut self, batch: &mut [Post]) -> RedisResult<Vec<RedisResult<Posted>>> {
        if self.hung_up.swap(false, Ordering::Relaxed) {
            self.connection = None;
        }
        if self.connection.is_none() {
            let connection = connect(&self.client)?;
            // Redis may be back with older data: what the mirror holds no longer counts.
            lock(&self.mirror).reset(String::new());
            info!("RouteChat reached Redis at {} again", self.url);
            self.connection = Some(connection);
        }
        let generation = lock(&self.mirror).generation;
        for post in batch.iter_mut() {
            if post.generation != generation {
                post.earlier.clear();
                post.generation = generation;
            }
        }
        let mut answers = self.run_scripts(batch.iter())?;
        // Redis forgets its scripts when it restarts: load it, and send again those posts that
        // did not run (only those: the others were stored).
        let not_run: Vec<usize> = (0..answers.len())
            .filter(|&i| matches!(&answers[i], Err(e) if is_no_script(e)))
            .collect();
        if !not_run.is_empty() {
            let connection = self.connection.as_mut().expect("connected above");
            let again = self
                .script
                .load(connection)
                .and_then(|_| self.run_scripts(not_run.iter().map(|&i| &batch[i])));
            match again {
                Ok(again) => {
                    for (i, answer) in not_run.into_iter().zip(again) {
                        answers[i] = answer;
                    }
                }
                // The posts that ran are answered; only those that did not fail.
                Err(e) => {
                    warn!("RouteChat: Redis at {} lost its script: {e}", self.url);
                    self.connection = None;
                    for i in not_run {
                        answers[i] = Err(RedisError::from((
                            redis::ErrorKind::Io,
                            "the post script could not be sent again",
                        )));
                    }
                }
            }
        }
        Ok(answers
            .into_iter()
            .map(|answer| answer.and_then(parse_answer))
            .collect())
    }

    /// One pipeline of EVALSHA, one per post; each answer or error in order.
    fn run_scripts<'a>(
        &mut self,
        posts: impl Iterator<Item = &'a Post>,
    ) -> RedisResult<Vec<RedisResult<Value>>> {
        let mut pipeline = redis::pipe();
        for post in posts {
            pipeline.cmd("EVALSHA").arg(self.script.get_hash()).arg(3);
            pipeline
                .arg(Keys::location(post.at))
                .arg(&self.keys.state)
                .arg(&self.keys.locations);
            pipeline
                .arg(&post.encoded)
                .arg(&post.epoch)
                .arg(post.known())
                .arg(self.limits.history_per_location)
                .arg(self.limits.locations)
                .arg(self.limits.max_bytes)
                .arg(&self.keys.channel)
                // A new name each time: a board started again (after FLUSHALL, say) must never
                // get the name of one that was.
                .arg(format!("{:016x}", self.epochs.next_u64()));
        }
        let connection = self.connection.as_mut().expect("connected before sending");
        pipeline.ignore_errors().query(connection)
    }

    /// Answers one post, and puts what Redis holds at its location into the mirror.
    fn deliver(&self, post: Post, answer: Posted) {
        let known = post.known();
        let earlier: &[Kept] = if answer.continues { &post.earlier } else { &[] };
        // Only what Redis still keeps (another replica may keep fewer notes per location), and
        // no more than this replica keeps.
        let keep = answer.kept_before.min(self.limits.history_per_location);
        let skip = (earlier.len() + answer.after.len()).saturating_sub(keep);
        let replies = earlier
            .iter()
            .chain(&answer.after)
            .skip(skip)
            .map(|kept| Arc::clone(&kept.note))
            .collect();
        let own = Kept {
            number: answer.number,
            note: post.note,
        };
        {
            let mut mirror = lock(&self.mirror);
            // A mirror emptied since the post was sent (Redis was reached again) takes nothing
            // from before.
            if mirror.generation == post.generation {
                mirror.enter(&answer.epoch);
                if answer.continues && mirror.board.newest(post.at) == known {
                    // The usual case: the mirror still ends where the post found it, so only
                    // the notes Redis sent and this one are added, not the whole history again.
                    let mut previous = known;
                    for kept in answer.after.into_iter().chain([own]) {
                        let number = kept.number;
                        mirror.board.follow(post.at, previous, kept);
                        previous = number;
                    }
                } else {
                    let mut history = if answer.continues {
                        post.earlier
                    } else {
                        Vec::new()
                    };
                    history.extend(answer.after);
                    history.push(own);
                    mirror.board.replace(post.at, history);
                }
            }
        }
        let _ = post.reply.send(Ok(replies));
    }
}

/// Reads the post script's answer: `{number, continues, epoch, kept before, NUMBER:BYTES...}`.
fn parse_answer(answer: Value) -> RedisResult<Posted> {
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
    let (
        Some(Value::Int(number)),
        Some(Value::Int(continues)),
        Some(Value::BulkString(epoch)),
        Some(Value::Int(kept_before)),
    ) = (items.next(), items.next(), items.next(), items.next())
    else {
        return Err(malformed("no note number and epoch"));
    };
    let after = items
        .map(|item| match item {
            Value::BulkString(bytes) => parse_kept(&bytes).ok_or_else(|| malformed("a bad note")),
            _ => Err(malformed("a note that is not a string")),
        })
        .collect::<Result<_, _>>()?;
    Ok(Posted {
        number: u64::try_from(number).unwrap_or(0),
        continues: continues == 1,
        epoch: String::from_utf8_lossy(&epoch).into_owned(),
        kept_before: usize::try_from(kept_before).unwrap_or(0),
        after,
    })
}

/// Splits `FIELD:` from the front of `bytes`.
fn split_field(bytes: &[u8]) -> Option<(&str, &[u8])> {
    let colon = bytes.iter().position(|&b| b == b':')?;
    let field = std::str::from_utf8(&bytes[..colon]).ok()?;
    Some((field, &bytes[colon + 1..]))
}

/// Splits `NUMBER:` from the front of `bytes`.
fn split_number(bytes: &[u8]) -> Option<(u64, &[u8])> {
    let (number, rest) = split_field(bytes)?;
    Some((number.parse().ok()?, rest))
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

/// A published note: `EPOCH:NUMBER:PREVIOUS:BYTES`.
fn parse_published(message: &[u8]) -> Option<(&str, u64, Kept)> {
    let (epoch, rest) = split_field(message)?;
    let (number, rest) = split_number(rest)?;
    let (previous, bytes) = split_number(rest)?;
    let note = RouteNote::parse_from_bytes(bytes).ok()?;
    let kept = Kept {
        number,
        note: Arc::new(note),
    };
    Some((epoch, previous, kept))
}

/// The thread that follows the notes published by every replica into the mirror.
struct Follower {
    client: Client,
    /// Told once, when the first subscription is in place.
    subscribed: Option<mpsc::SyncSender<()>>,
    channel: String,
    /// The address, password hidden.
    url: String,
    mirror: Arc<Mutex<Mirror>>,
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
    fn follow(&mut self, lost: &mut bool) -> RedisResult<()> {
        let mut connection = self.client.get_connection_with_timeout(CONNECT_TIMEOUT)?;
        let mut subscription = connection.as_pubsub();
        subscription.set_read_timeout(Some(FOLLOW_POLL))?;
        subscription.subscribe(&self.channel)?;
        if let Some(subscribed) = self.subscribed.take() {
            let _ = subscribed.send(());
        }
        if std::mem::take(lost) {
            // Notes were missed, and Redis may be back with older data.
            lock(&self.mirror).reset(String::new());
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

    /// Adds a published note to the mirror if the mirror holds the note before it at its
    /// location; otherwise the next post there fetches what is missing.
    fn apply(&self, message: &[u8]) {
        let Some((epoch, previous, kept)) = parse_published(message) else {
            return;
        };
        let Ok(at) = Coordinates::from_point(kept.note.get_location()) else {
            return;
        };
        let mut mirror = lock(&self.mirror);
        mirror.enter(epoch);
        mirror.board.follow(at, previous, kept);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto;

    #[test]
    fn a_kept_note_is_its_number_then_its_bytes() {
        let note = proto::route_note(proto::point(1, 2), "a:b");
        let mut bytes = b"42:".to_vec();
        bytes.extend(note.write_to_bytes().unwrap());
        let kept = parse_kept(&bytes).unwrap();
        assert_eq!(kept.number, 42);
        assert_eq!(*kept.note, note);
        assert!(parse_kept(b"x:").is_none());
        assert!(parse_kept(b"no colon").is_none());
    }

    #[test]
    fn a_published_note_is_epoch_number_previous_then_bytes() {
        let note = proto::route_note(proto::point(1, 2), "x");
        let mut bytes = b"00ab:7:3:".to_vec();
        bytes.extend(note.write_to_bytes().unwrap());
        let (epoch, previous, kept) = parse_published(&bytes).unwrap();
        assert_eq!((epoch, previous, kept.number), ("00ab", 3, 7));
        assert_eq!(*kept.note, note);
        assert!(parse_published(b"00ab:7:").is_none());
    }

    #[test]
    fn passwords_are_hidden_from_logs() {
        assert_eq!(
            redacted("redis://127.0.0.1:6379/2"),
            "redis://127.0.0.1:6379/2"
        );
        assert_eq!(
            redacted("redis://:secret@db:6379"),
            "redis://:***@db:6379",
            "password only"
        );
        assert_eq!(
            redacted("redis://me:secret@db:6379/1"),
            "redis://me:***@db:6379/1"
        );
        assert_eq!(redacted("redis://token@db"), "redis://***@db");
    }
}
