//! The load generator: one RPC driven against a running server (any RouteGuide server) from many
//! calls at once, with every call's status counted and its latency recorded
//! ([`crate::latency`]). `route_guide_bench load` runs one [`Load`] and prints its [`LoadReport`];
//! the suite runs its scenarios through the same [`run`]. Server-side figures (CPU time) are the
//! suite's business, not this module's.
//!
//! The load generator shares one CPU with its gRPC thread, so it must cost as little as it can
//! per message, or it, not the server, sets the pace: its clients use gRPC's minimal filter stack
//! and every lane of calls runs on the gRPC thread itself ([`RouteGuideClient::run_on_grpc_thread`]),
//! so that no message wakes another thread (what that saved is in `bench/README.md`, "How it
//! measures"). The one other thread at work is the pacer of a paced load (`pacer.rs`).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures::channel::mpsc::UnboundedReceiver;
use futures::executor::block_on;
use futures::future::{OptionFuture, join, join_all};
use futures::{SinkExt, StreamExt, stream};
use protobuf::Message;
use serde::Serialize;

use routeguide::proto::{self, Point, Rectangle, RouteNote};
use routeguide::{CallError, ClientOptions, RouteGuideClient, status_name};

use crate::latency::{Bucket, Latency, LatencySummary};
use crate::pacer::pace;

/// The RPC a load drives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Rpc {
    /// GetFeature of each point in turn.
    GetFeature,
    /// ListFeatures of one rectangle, each call read to its end.
    ListFeatures,
    /// RecordRoute of a route of points.
    RecordRoute,
    /// RouteChat: each call sends its notes in pairs, the second of a pair answered with the first.
    RouteChat,
}

impl Rpc {
    /// What one message counts: the features received, the points or notes sent.
    fn message(self) -> &'static str {
        match self {
            Rpc::GetFeature | Rpc::ListFeatures => "features",
            Rpc::RecordRoute => "points",
            Rpc::RouteChat => "notes",
        }
    }
}

/// When a load ends.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Stop {
    /// After this many calls.
    Calls(u64),
    /// When this time has passed; no call starts after it.
    After(Duration),
}

/// What the calls ask for.
#[derive(Clone, Debug)]
pub(crate) struct Requests {
    /// GetFeature asks for these in turn; RecordRoute's routes go through them.
    pub(crate) points: Arc<[Point]>,
    /// ListFeatures asks for the features inside it.
    pub(crate) rectangle: Rectangle,
    /// The points of each RecordRoute.
    pub(crate) route_points: usize,
    /// The notes of each RouteChat (an even number: they go in pairs).
    pub(crate) chat_notes: usize,
}

/// One load: an RPC called from `connections` connections with `in_flight` calls outstanding on
/// each, until it [`Stop`]s, as fast as the server answers or at `rate`.
#[derive(Clone, Debug)]
pub(crate) struct Load {
    pub(crate) rpc: Rpc,
    pub(crate) connections: usize,
    /// Calls outstanding on each connection at any time (RouteChat: chats open).
    pub(crate) in_flight: usize,
    pub(crate) stop: Stop,
    /// Calls per second (RouteChat: notes per second), spread evenly over the lanes, each call's
    /// latency counted from when it was due; `None`: each lane calls again as soon as it has its
    /// answer.
    pub(crate) rate: Option<f64>,
    pub(crate) requests: Requests,
    /// Each call's deadline.
    pub(crate) timeout: Duration,
}

/// What a load measured.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct LoadReport {
    pub(crate) rpc: Rpc,
    pub(crate) connections: usize,
    pub(crate) in_flight_per_connection: usize,
    /// The rate asked for, if any (calls or, for RouteChat, notes per second).
    pub(crate) rate: Option<f64>,
    pub(crate) calls: u64,
    pub(crate) secs: f64,
    pub(crate) calls_per_sec: f64,
    /// Calls by status code name (`OK`, `INVALID_ARGUMENT`, ...).
    pub(crate) statuses: BTreeMap<String, u64>,
    /// The first failure of each status, as the client describes it.
    pub(crate) first_errors: BTreeMap<String, String>,
    /// What a message counts, [`Rpc::message`].
    pub(crate) message: &'static str,
    /// Messages of calls that ended OK.
    pub(crate) messages: u64,
    pub(crate) messages_per_sec: f64,
    /// The encoded size of the features received (ListFeatures and GetFeature).
    pub(crate) bytes_received: u64,
    /// Latency of each call (RouteChat: of each reply), from its start or, when paced, from when
    /// it was due, whatever its status.
    pub(crate) latency: LatencySummary,
    /// The text histogram's ranges.
    pub(crate) histogram: Vec<Bucket>,
    /// Paced calls (RouteChat: pairs) started later than due, because their lane was still
    /// waiting for an answer.
    pub(crate) behind_schedule: u64,
    /// RouteChat: the replies expected, and those that were the note expected.
    pub(crate) replies_expected: Option<u64>,
    pub(crate) replies_correct: Option<u64>,
    /// The latencies themselves, for the suite's report.
    #[serde(skip)]
    pub(crate) recorded: Latency,
}

impl LoadReport {
    /// Calls that did not end OK.
    pub(crate) fn failed_calls(&self) -> u64 {
        self.calls - self.statuses.get("OK").copied().unwrap_or(0)
    }

    /// An error naming the statuses unless every call ended OK (the suite's scenarios expect
    /// nothing else).
    pub(crate) fn all_ok(&self) -> Result<(), String> {
        match self.failed_calls() {
            0 => Ok(()),
            failed => Err(format!(
                "{failed} of {} {:?} calls failed: {:?}",
                self.calls, self.rpc, self.statuses
            )),
        }
    }
}

/// Runs `load` against `addr` (one `host:port`, or several separated by commas, called
/// round-robin) with `options`.
pub(crate) fn run(addr: &str, options: &ClientOptions, load: &Load) -> Result<LoadReport, String> {
    if matches!(load.rpc, Rpc::GetFeature | Rpc::RecordRoute) && load.requests.points.is_empty() {
        return Err(format!("{:?} needs points to send", load.rpc));
    }
    let clients: Vec<RouteGuideClient> = (0..load.connections.max(1))
        .map(|_| RouteGuideClient::connect_with(addr, options).with_timeout(load.timeout))
        .collect();
    let lanes = clients.len() * load.in_flight.max(1);
    let (mut lane_ticks, pacing) = match load.rate {
        Some(rate) => {
            let (receivers, pacing) = pace(ticks_per_lane(load, lanes), tick_rate(load.rpc, rate))?;
            (receivers.into_iter().map(Some).collect(), Some(pacing))
        }
        None => (Vec::new(), None),
    };
    lane_ticks.resize_with(lanes, || None);

    let shared = Arc::new(Shared::new(load));
    let started = Instant::now();
    let lane_futures: Vec<_> = lane_ticks
        .into_iter()
        .enumerate()
        .map(|(lane, ticks)| {
            let client = clients[lane % clients.len()].clone();
            let (shared, load) = (Arc::clone(&shared), load.clone());
            async move {
                match load.rpc {
                    Rpc::RouteChat => {
                        let chats = match load.rate {
                            Some(_) => ChatNumbers::OfLane { lane, lanes },
                            None => ChatNumbers::Next,
                        };
                        chat_lane(&client, &load, &shared, chats, ticks).await
                    }
                    _ => call_lane(&client, &load, &shared, ticks).await,
                }
            }
        })
        .collect();
    let scenario = async move {
        join(join_all(lane_futures), OptionFuture::from(pacing)).await;
    };
    if block_on(clients[0].run_on_grpc_thread(scenario)).is_none() {
        return Err("gRPC stopped the load before it ended".to_string());
    }
    let secs = started.elapsed().as_secs_f64();
    let tally = shared.tally.lock().map_err(|_| "a lane panicked")?.clone();
    let recorded = shared
        .latency
        .lock()
        .map_err(|_| "a lane panicked")?
        .clone();
    let calls = tally.statuses.values().sum();
    let chat = load.rpc == Rpc::RouteChat;
    Ok(LoadReport {
        rpc: load.rpc,
        connections: clients.len(),
        in_flight_per_connection: load.in_flight.max(1),
        rate: load.rate,
        calls,
        secs,
        calls_per_sec: calls as f64 / secs,
        statuses: tally.statuses,
        first_errors: tally.first_errors,
        message: load.rpc.message(),
        messages: tally.messages,
        messages_per_sec: tally.messages as f64 / secs,
        bytes_received: tally.bytes,
        latency: recorded.summary(),
        histogram: recorded.buckets(),
        behind_schedule: tally.behind,
        replies_expected: chat.then_some(tally.replies_expected),
        replies_correct: chat.then_some(tally.replies_correct),
        recorded,
    })
}

/// Ticks per second at `rate`: a tick per call, or per pair of notes for RouteChat, whose rate
/// counts notes.
fn tick_rate(rpc: Rpc, rate: f64) -> f64 {
    match rpc {
        Rpc::RouteChat => rate / 2.0,
        _ => rate,
    }
}

/// How many ticks each of `lanes` lanes of a paced load gets: its calls (as many as asked for,
/// or as its rate fits in its time) dealt round the lanes, a tick per call or, for RouteChat, a
/// tick per pair of notes. A lane gets the ticks of whole chats only (chat `c` is lane `c mod
/// lanes`'s, [`ChatNumbers`]), so that no chat runs out of ticks before its last pair: a chat
/// load for a time makes as many whole chats as its notes fill, the last ones a little past it.
fn ticks_per_lane(load: &Load, lanes: usize) -> Vec<u64> {
    let per_call = match load.rpc {
        Rpc::RouteChat => (load.requests.chat_notes / 2).max(1) as u64,
        _ => 1,
    };
    let calls = match (load.stop, load.rate) {
        (Stop::Calls(calls), _) => calls,
        (Stop::After(duration), Some(rate)) => {
            let ticks = duration.as_secs_f64() * tick_rate(load.rpc, rate);
            (ticks / per_call as f64).ceil() as u64
        }
        (Stop::After(_), None) => 0,
    };
    let lanes = lanes.max(1) as u64;
    (0..lanes)
        .map(|lane| (calls / lanes + u64::from(lane < calls % lanes)) * per_call)
        .collect()
}

/// What every lane of a load shares: which call comes next, and what the calls found. All lanes
/// run on gRPC's one thread, so the locks are never contended; one histogram for all of them
/// keeps the memory of a load of thousands of chats small.
struct Shared {
    /// Calls started so far; also which request each asks for.
    started: AtomicU64,
    stop: Stop,
    deadline: Instant,
    /// A value of this run only, in RouteChat's note locations, so that no note of an earlier
    /// run against the same server answers one of this run.
    salt: i32,
    tally: Mutex<Tally>,
    latency: Mutex<Latency>,
}

#[derive(Clone, Default)]
struct Tally {
    statuses: BTreeMap<String, u64>,
    first_errors: BTreeMap<String, String>,
    messages: u64,
    bytes: u64,
    behind: u64,
    replies_expected: u64,
    replies_correct: u64,
}

impl Shared {
    fn new(load: &Load) -> Self {
        let deadline = match load.stop {
            Stop::After(duration) => Instant::now() + duration,
            Stop::Calls(_) => Instant::now() + Duration::from_secs(86_400 * 365),
        };
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |t| t.subsec_nanos());
        // A paced load for a time ends when its ticks run out, which the pacer spread over that
        // time from its start, a little later than now.
        let stop = match (load.stop, load.rate) {
            (Stop::After(_), Some(_)) => Stop::Calls(u64::MAX),
            (stop, _) => stop,
        };
        Shared {
            started: AtomicU64::new(0),
            stop,
            deadline,
            salt: (nanos % 1_000_000_000) as i32,
            tally: Mutex::new(Tally::default()),
            latency: Mutex::new(Latency::default()),
        }
    }

    /// The index of the next call, or `None` when the load is over.
    fn next_call(&self) -> Option<u64> {
        match self.stop {
            Stop::Calls(calls) => {
                let index = self.started.fetch_add(1, Ordering::Relaxed);
                (index < calls).then_some(index)
            }
            Stop::After(_) => (Instant::now() < self.deadline)
                .then(|| self.started.fetch_add(1, Ordering::Relaxed)),
        }
    }

    fn record_latency(&self, latency: Duration) {
        if let Ok(mut recorded) = self.latency.lock() {
            recorded.record(latency);
        }
    }

    fn tally(&self, change: impl FnOnce(&mut Tally)) {
        if let Ok(mut tally) = self.tally.lock() {
            change(&mut tally);
        }
    }

    /// Counts a call's outcome: its status and, when OK, its messages and bytes.
    fn count(&self, outcome: &Result<(u64, u64), CallError>) {
        self.tally(|tally| {
            let status = match outcome {
                Ok((messages, bytes)) => {
                    tally.messages += messages;
                    tally.bytes += bytes;
                    "OK".to_string()
                }
                Err(e) => {
                    let status = status_name(e.code()).to_string();
                    let first = tally.first_errors.entry(status.clone());
                    first.or_insert_with(|| e.to_string());
                    status
                }
            };
            *tally.statuses.entry(status).or_default() += 1;
        });
    }
}

/// The moment the next call of a paced lane is due (`Some(None)` when the lane is not paced),
/// counting it behind schedule if it was due already; `None` when its ticks have run out.
async fn next_due(
    ticks: &mut Option<UnboundedReceiver<Instant>>,
    first: bool,
    shared: &Shared,
) -> Option<Option<Instant>> {
    let Some(ticks) = ticks else {
        return Some(None);
    };
    match ticks.try_recv() {
        // A tick already waiting means this call is late: the answer to the last one took
        // longer than the interval.
        Ok(due) => {
            if !first {
                shared.tally(|tally| tally.behind += 1);
            }
            Some(Some(due))
        }
        Err(_) => ticks.next().await.map(Some),
    }
}

/// One lane of GetFeature, ListFeatures or RecordRoute calls: the next call as soon as the last
/// is answered, or when its tick comes.
async fn call_lane(
    client: &RouteGuideClient,
    load: &Load,
    shared: &Shared,
    mut ticks: Option<UnboundedReceiver<Instant>>,
) {
    let mut first = true;
    loop {
        let Some(due) = next_due(&mut ticks, first, shared).await else {
            return;
        };
        first = false;
        let Some(index) = shared.next_call() else {
            return;
        };
        let sent = Instant::now();
        let outcome = call_once(client, load, index).await;
        shared.record_latency(due.unwrap_or(sent).elapsed());
        shared.count(&outcome);
    }
}

/// Call number `index` of `load`: its messages and bytes received when it ends OK.
async fn call_once(
    client: &RouteGuideClient,
    load: &Load,
    index: u64,
) -> Result<(u64, u64), CallError> {
    let points = &load.requests.points;
    match load.rpc {
        Rpc::GetFeature => {
            let point = points[(index % points.len() as u64) as usize].clone();
            let feature = client.get_feature_future(point).await?;
            Ok((1, feature.compute_size()))
        }
        Rpc::ListFeatures => {
            let mut reading = client.list_features_stream(load.requests.rectangle.clone());
            let (mut features, mut bytes) = (0, 0);
            while let Some(feature) = reading.next().await {
                features += 1;
                bytes += feature?.compute_size();
            }
            Ok((features, bytes))
        }
        Rpc::RecordRoute => {
            let count = load.requests.route_points;
            let (points, start) = (Arc::clone(points), index as usize * count);
            let route = (0..count).map(move |i| points[(start + i) % points.len()].clone());
            let summary = client.record_route_stream(stream::iter(route)).await?;
            Ok((u64::try_from(summary.point_count).unwrap_or(0), 0))
        }
        Rpc::RouteChat => unreachable!("chats run in chat lanes"),
    }
}

/// Which chats a lane of RouteChat calls makes.
#[derive(Clone, Copy)]
enum ChatNumbers {
    /// Unpaced: the next chat of the load, taken by whichever lane is free first.
    Next,
    /// Paced: lane `lane` of `lanes` makes chats `lane`, `lane + lanes`, `lane + 2 * lanes`...,
    /// those whose ticks it was given ([`ticks_per_lane`]); a lane that took the next chat of the
    /// load could run out of ticks in the middle of it.
    OfLane { lane: usize, lanes: usize },
}

impl ChatNumbers {
    /// The number of a lane's chat after its `made` chats, or `None` when the load is over.
    fn after(self, made: u64, shared: &Shared) -> Option<u64> {
        match self {
            ChatNumbers::Next => shared.next_call(),
            ChatNumbers::OfLane { lane, lanes } => Some(lane as u64 + made * lanes as u64),
        }
    }
}

/// One lane of RouteChat calls, one chat after the other; a paced lane until its ticks run out.
async fn chat_lane(
    client: &RouteGuideClient,
    load: &Load,
    shared: &Shared,
    chats: ChatNumbers,
    mut ticks: Option<UnboundedReceiver<Instant>>,
) {
    for made in 0.. {
        // A paced chat opens when its first pair is due.
        let Some(due) = next_due(&mut ticks, made == 0, shared).await else {
            return;
        };
        let Some(chat) = chats.after(made, shared) else {
            return;
        };
        let outcome = chat_once(client, load, shared, chat, due, &mut ticks).await;
        shared.count(&outcome.map(|notes| (notes, 0)));
    }
}

/// Chat number `chat`: its notes sent in pairs at a location of their own, each pair's second
/// note answered with the first. The reply latency runs to that reply from the sending of the
/// second note or, when paced, from the moment the pair was due, so that a pair sent late,
/// whatever held it up, counts its wait. The notes sent, when the chat ends OK.
async fn chat_once(
    client: &RouteGuideClient,
    load: &Load,
    shared: &Shared,
    chat: u64,
    first_due: Option<Instant>,
    ticks: &mut Option<UnboundedReceiver<Instant>>,
) -> Result<u64, CallError> {
    let (mut notes, outgoing) = futures::channel::mpsc::channel::<RouteNote>(2);
    let mut received = client.route_chat_stream(outgoing);
    let mut sent_notes = 0;
    for pair in 0..load.requests.chat_notes / 2 {
        let due = match pair {
            0 => first_due,
            // A paced lane has the ticks of its chats' every pair (`ticks_per_lane`): none runs
            // out here unless the pacer stopped.
            _ => match next_due(ticks, false, shared).await {
                Some(due) => due,
                None => break,
            },
        };
        let at = chat_location(shared.salt, chat, pair);
        let first_note = proto::route_note(at.clone(), format!("chat {chat} pair {pair} first"));
        let second = proto::route_note(at, format!("chat {chat} pair {pair} second"));
        let expected = first_note.message.clone();
        let _ = notes.send(first_note).await;
        let sent = Instant::now();
        let _ = notes.send(second).await;
        sent_notes += 2;
        shared.tally(|tally| tally.replies_expected += 1);
        match received.next().await {
            Some(Ok(reply)) => {
                shared.record_latency(due.unwrap_or(sent).elapsed());
                if reply.message == expected {
                    shared.tally(|tally| tally.replies_correct += 1);
                }
            }
            Some(Err(e)) => return Err(e),
            None => break,
        }
    }
    notes.close_channel();
    while let Some(extra) = received.next().await {
        extra?; // no reply is expected past the last pair
    }
    Ok(sent_notes)
}

/// A location used by one pair of one chat only, so that each pair's second note gets exactly the
/// first one back, whatever the server's chat scope: the chat's number as the latitude, the
/// run's salt plus the pair's number as the longitude (both well inside their ranges).
fn chat_location(salt: i32, chat: u64, pair: usize) -> Point {
    let latitude = (chat % 800_000_000) as i32;
    proto::point(latitude, salt.saturating_add(pair as i32))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A load of `rpc` until `stop` at `rate`, on one connection, chats of 10 notes.
    fn load_of(rpc: Rpc, stop: Stop, rate: Option<f64>) -> Load {
        Load {
            rpc,
            connections: 1,
            in_flight: 1,
            stop,
            rate,
            requests: Requests {
                points: Arc::from(Vec::new()),
                rectangle: Rectangle::new(),
                route_points: 0,
                chat_notes: 10,
            },
            timeout: Duration::from_secs(1),
        }
    }

    #[test]
    fn paced_chats_get_one_tick_per_pair_and_each_lane_whole_chats() {
        let two_secs = Stop::After(Duration::from_secs(2));
        // 1,000 notes/s for 2 s is 1,000 pairs: 200 chats of 5 pairs.
        let load = load_of(Rpc::RouteChat, two_secs, Some(1000.0));
        assert_eq!(ticks_per_lane(&load, 1), [1000]);
        assert_eq!(ticks_per_lane(&load, 3), [335, 335, 330]);
        // 1,001 notes/s for 2 s fill 200.2 chats: 201 are made.
        let load = load_of(Rpc::RouteChat, two_secs, Some(1001.0));
        assert_eq!(ticks_per_lane(&load, 1), [1005]);
        // 7 chats over 2 lanes: chats 0, 2, 4, 6 and chats 1, 3, 5.
        let load = load_of(Rpc::RouteChat, Stop::Calls(7), Some(1000.0));
        assert_eq!(ticks_per_lane(&load, 2), [20, 15]);
    }

    #[test]
    fn paced_calls_are_dealt_round_the_lanes() {
        // 7 calls/s for 1.5 s: 10.5, so 11 calls.
        let timed = Stop::After(Duration::from_millis(1500));
        let load = load_of(Rpc::GetFeature, timed, Some(7.0));
        assert_eq!(ticks_per_lane(&load, 4), [3, 3, 3, 2]);
        let load = load_of(Rpc::GetFeature, Stop::Calls(5), Some(7.0));
        assert_eq!(ticks_per_lane(&load, 4), [2, 1, 1, 1]);
    }

    #[test]
    fn paced_lanes_make_their_own_chats_and_unpaced_take_the_next() {
        let shared = Shared::new(&load_of(Rpc::RouteChat, Stop::Calls(2), None));
        let lane = ChatNumbers::OfLane { lane: 1, lanes: 3 };
        let made: Vec<_> = (0..3).map(|made| lane.after(made, &shared)).collect();
        assert_eq!(made, [Some(1), Some(4), Some(7)]);
        let next = ChatNumbers::Next;
        let taken: Vec<_> = (0..3).map(|made| next.after(made, &shared)).collect();
        assert_eq!(taken, [Some(0), Some(1), None]);
    }

    #[test]
    fn chat_locations_are_valid_and_differ_per_pair() {
        let a = chat_location(999_999_999, 799_999_999, 99);
        assert!(routeguide::Coordinates::from_point(&a).is_ok());
        assert_ne!(chat_location(5, 1, 2), chat_location(5, 1, 3));
        assert_ne!(chat_location(5, 1, 2), chat_location(5, 2, 2));
    }
}
