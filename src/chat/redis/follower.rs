//! The subscription thread: it follows the notes every replica's post script publishes, and adds
//! each to the mirror when the mirror holds the note before it, so that a post here finds the
//! others' notes already at hand. It subscribes again by itself whenever Redis is lost, empties
//! the mirror then (notes were missed), and tells the poster that Redis hung up. Posting, and
//! fetching what the subscription missed, is left to the poster.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::Duration;

use log::{info, warn};
use prometheus::IntGauge;
use redis::{Client, RedisResult};

use super::CONNECT_TIMEOUT;
use super::mirror::{Mirror, lock};
use super::wire::parse_published;
use crate::geo::Coordinates;

/// How often the thread looks up from waiting, to see whether the board was dropped.
const FOLLOW_POLL: Duration = Duration::from_millis(250);
/// The longest wait between two attempts to subscribe again.
const MAX_RECONNECT_WAIT: Duration = Duration::from_secs(2);

/// The thread that follows the notes published by every replica into the mirror.
pub(super) struct Follower {
    pub(super) client: Client,
    /// Told once, when the first subscription is in place.
    pub(super) subscribed: Option<mpsc::SyncSender<()>>,
    pub(super) channel: String,
    /// The address, password hidden.
    pub(super) url: String,
    pub(super) mirror: Arc<Mutex<Mirror>>,
    /// Cleared when the board is dropped.
    pub(super) open: Arc<AtomicBool>,
    /// See [`super::poster::Poster::hung_up`].
    pub(super) hung_up: Arc<AtomicBool>,
    /// The metrics' "Redis up" gauge: 0 when the subscription is lost, 1 when it is back.
    pub(super) up: Option<IntGauge>,
}

impl Follower {
    /// Follows the channel until the board is dropped, subscribing again whenever Redis is lost.
    pub(super) fn run(mut self) {
        let mut wait = Duration::from_millis(100);
        let mut lost = false;
        while self.open.load(Ordering::Relaxed) {
            match self.follow(&mut lost) {
                Ok(()) => return,
                Err(e) => {
                    self.hung_up.store(true, Ordering::Relaxed);
                    if let Some(up) = &self.up {
                        up.set(0);
                    }
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
            lock(&self.mirror).reset();
            info!("RouteChat follows Redis at {} again", self.url);
            if let Some(up) = &self.up {
                up.set(1);
            }
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
        let Ok(at) = Coordinates::from_point(&kept.note.location) else {
            return;
        };
        let mut mirror = lock(&self.mirror);
        mirror.enter(epoch);
        mirror.follow(at, previous, kept);
    }
}
