//! The posting thread: it takes the posts of every RouteChat call on this replica, sends them to
//! Redis (those waiting together in one pipeline of the post script), answers each call, and
//! puts what Redis answered into the mirror. It owns the connection it posts on: it reconnects
//! after Redis was lost, loads the script again after Redis forgot it, and empties the mirror
//! whenever it reaches Redis again. Following the other replicas' notes is left to the
//! follower, reading the script's answer to [`super::wire`].

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Instant;

use futures::channel::oneshot;
use log::{info, warn};
use redis::{Client, Connection, RedisError, RedisResult, Script, Value};

use super::connect;
use super::mirror::{Kept, Mirror, lock};
use super::wire::{Keys, Posted, parse_answer};
use crate::chat::{ChatLimits, ChatUnavailable};
use crate::geo::Coordinates;
use crate::metrics::RedisMetrics;
use crate::proto::RouteNote;
use crate::random::SplitMix64;

/// The most posts sent to Redis in one pipeline.
const MAX_PIPELINE: usize = 256;

/// One post on its way to Redis, with what the mirror held at its location when it was made.
pub(super) struct Post {
    pub(super) at: Coordinates,
    pub(super) note: Arc<RouteNote>,
    pub(super) encoded: Vec<u8>,
    pub(super) epoch: String,
    pub(super) generation: u64,
    pub(super) earlier: Vec<Kept>,
    pub(super) reply: oneshot::Sender<Result<Vec<Arc<RouteNote>>, ChatUnavailable>>,
}

impl Post {
    /// The number of the newest note the mirror held at the location (0: none), which Redis
    /// is asked to continue from.
    fn known(&self) -> u64 {
        self.earlier.last().map_or(0, |kept| kept.number)
    }
}

/// The thread that sends posts to Redis.
pub(super) struct Poster {
    pub(super) client: Client,
    pub(super) script: Script,
    pub(super) keys: Keys,
    pub(super) limits: ChatLimits,
    /// Names the epoch this replica proposes, fresh for each post, if the board has none.
    pub(super) epochs: SplitMix64,
    /// The address, password hidden.
    pub(super) url: String,
    pub(super) mirror: Arc<Mutex<Mirror>>,
    /// `None` after Redis was lost, until the next post connects again.
    pub(super) connection: Option<Connection>,
    /// Set by the subscription's thread when Redis hung up on it: this thread's connection is
    /// then most likely dead too, and is replaced before it fails a post.
    pub(super) hung_up: Arc<AtomicBool>,
    /// Where each post's outcome and time are counted, when the server has metrics.
    pub(super) metrics: Option<RedisMetrics>,
}

impl Poster {
    /// Sends the posts as they come, those waiting together in one pipeline, until the board is
    /// dropped.
    pub(super) fn run(mut self, waiting: &mpsc::Receiver<Post>) {
        while let Ok(first) = waiting.recv() {
            let mut batch = vec![first];
            while batch.len() < MAX_PIPELINE {
                match waiting.try_recv() {
                    Ok(post) => batch.push(post),
                    Err(_) => break,
                }
            }
            let sent = Instant::now();
            let outcome = self.send(&mut batch);
            self.count(&batch, &outcome, sent);
            match outcome {
                Ok(answers) => {
                    for (post, answer) in batch.into_iter().zip(answers) {
                        match answer {
                            Ok(answer) => self.deliver(post, answer),
                            Err(e) => {
                                warn!("RouteChat: Redis at {} refused a note: {e}", self.url);
                                let _ = post.reply.send(Err(ChatUnavailable::Refused));
                            }
                        }
                    }
                }
                Err(e) => {
                    if self.connection.take().is_some() {
                        warn!("RouteChat lost Redis at {}: {e}", self.url);
                    }
                    for post in batch {
                        let _ = post.reply.send(Err(ChatUnavailable::Unreachable));
                    }
                }
            }
        }
    }

    /// Counts a batch sent at `sent` in the metrics, if there are any: each post's outcome, and
    /// the time Redis took to answer (or to fail) for each post of it.
    fn count(
        &self,
        batch: &[Post],
        outcome: &RedisResult<Vec<RedisResult<Posted>>>,
        sent: Instant,
    ) {
        let Some(metrics) = &self.metrics else {
            return;
        };
        let seconds = sent.elapsed().as_secs_f64();
        for _ in batch {
            metrics.post_seconds.observe(seconds);
        }
        match outcome {
            Ok(answers) => {
                metrics.up.set(1);
                for answer in answers {
                    match answer {
                        Ok(_) => metrics.stored.inc(),
                        Err(_) => metrics.refused.inc(),
                    }
                }
            }
            Err(_) => {
                metrics.up.set(0);
                metrics.unreachable.inc_by(batch.len() as u64);
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
            lock(&self.mirror).reset();
            info!("RouteChat reached Redis at {} again", self.url);
            self.connection = Some(connection);
        }
        let generation = lock(&self.mirror).generation();
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

    /// One pipeline of EVALSHA, one per post; each answer or error in order. The keys and
    /// arguments are those `post.lua` opens with.
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
            if mirror.generation() == post.generation {
                mirror.enter(&answer.epoch);
                if answer.continues && mirror.newest(post.at) == known {
                    // The usual case: the mirror still ends where the post found it, so only
                    // the notes Redis sent and this one are added, not the whole history again.
                    let mut previous = known;
                    for kept in answer.after.into_iter().chain([own]) {
                        let number = kept.number;
                        mirror.follow(post.at, previous, kept);
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
                    mirror.replace(post.at, history);
                }
            }
        }
        let _ = post.reply.send(Ok(replies));
    }
}

fn is_no_script(error: &RedisError) -> bool {
    error.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::NoScript)
}
