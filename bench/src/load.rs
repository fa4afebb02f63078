//! The load generator's scenarios: each drives one RPC against a running server through
//! [`RouteGuideClient`] and reports what it measured. Server-side figures (CPU time) are the
//! suite's business, not this module's.
//!
//! The load generator shares one CPU with its gRPC thread, so it must cost as little as it can
//! per message, or it, not the server, sets the pace: its clients use gRPC's minimal filter stack
//! and every scenario runs on the gRPC thread itself ([`RouteGuideClient::run_on_grpc_thread`]),
//! so that no message wakes another thread (what that saved is in `bench/README.md`, "How it
//! measures"). The one other thread at work is the pacer of paced chats, which wakes gRPC's
//! thread at most once per [`PACER_STEP`].

use std::future::Future;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use futures::channel::mpsc::{UnboundedReceiver, unbounded};
use futures::executor::block_on;
use futures::future::{OptionFuture, join, join_all};
use futures::{SinkExt, StreamExt, stream};
use protobuf::Message;
use serde::Serialize;

use routeguide::proto::{self, Point, Rectangle, RouteNote};
use routeguide::{CallError, ClientOptions, RouteGuideClient};

/// How often the pacer of paced chats hands the ticks that have come due to gRPC's thread, each
/// batch one wake of that thread. Waking it for every tick kept it from reading: gRPC polls its
/// sockets only when it has no other event to hand out, so replies sat unread in them (see
/// `bench/README.md`, "RouteChat tail"). A tick reaches its chat a step late
/// at most, plus the wait for gRPC's thread to run the task that hands it out, and that lateness
/// counts in the reply latency, so the step is short.
const PACER_STEP: Duration = Duration::from_micros(250);

/// Latencies of many calls, summarised.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct LatencySummary {
    pub p50_us: f64,
    pub p99_us: f64,
    pub max_us: f64,
}

impl LatencySummary {
    pub fn of(mut latencies: Vec<Duration>) -> Self {
        if latencies.is_empty() {
            return LatencySummary::default();
        }
        latencies.sort_unstable();
        let at = |q: f64| {
            let index = ((latencies.len() - 1) as f64 * q).round() as usize;
            latencies[index].as_secs_f64() * 1e6
        };
        LatencySummary {
            p50_us: at(0.50),
            p99_us: at(0.99),
            max_us: at(1.0),
        }
    }
}

/// GetFeature under a fixed concurrency.
#[derive(Clone, Debug, Serialize)]
pub struct UnaryReport {
    pub connections: usize,
    pub in_flight_per_connection: usize,
    pub calls: u64,
    pub secs: f64,
    pub calls_per_sec: f64,
    pub latency: LatencySummary,
}

/// GetFeature from `connections` connections with `in_flight` calls outstanding on each, for
/// `duration`, asking for the points of `points` in turn.
pub fn unary(
    addr: &str,
    connections: usize,
    in_flight: usize,
    duration: Duration,
    points: &[Point],
) -> Result<UnaryReport, String> {
    if points.is_empty() {
        return Err("GetFeature needs points to ask for".to_string());
    }
    let clients: Vec<RouteGuideClient> =
        (0..connections.max(1)).map(|_| load_client(addr)).collect();
    let points: Arc<[Point]> = points.into();
    let started = Instant::now();
    let deadline = started + duration;
    let workers: Vec<_> = clients
        .iter()
        .flat_map(|client| (0..in_flight).map(move |worker| (client.clone(), worker)))
        .map(|(client, worker)| {
            let points = Arc::clone(&points);
            async move {
                let mut latencies = Vec::new();
                let mut next = worker;
                while Instant::now() < deadline {
                    let point = points[next % points.len()].clone();
                    next += in_flight;
                    let sent = Instant::now();
                    client.get_feature_future(point).await?;
                    latencies.push(sent.elapsed());
                }
                Ok::<_, CallError>(latencies)
            }
        })
        .collect();
    let mut latencies = Vec::new();
    for worker in on_grpc_thread(&clients[0], all_ok(workers))? {
        latencies.extend(worker);
    }
    let secs = started.elapsed().as_secs_f64();
    Ok(UnaryReport {
        connections,
        in_flight_per_connection: in_flight,
        calls: latencies.len() as u64,
        secs,
        calls_per_sec: latencies.len() as f64 / secs,
        latency: LatencySummary::of(latencies),
    })
}

/// One ListFeatures stream read to its end.
#[derive(Clone, Debug, Serialize)]
pub struct StreamReport {
    pub features: u64,
    pub bytes: u64,
    pub secs: f64,
    pub features_per_sec: f64,
    pub mb_per_sec: f64,
}

/// Reads the whole of ListFeatures over `rectangle`, counting features and payload bytes.
pub fn list_features(addr: &str, rectangle: Rectangle) -> Result<StreamReport, String> {
    let client = load_client(addr);
    let started = Instant::now();
    let mut reading = client.list_features_stream(rectangle);
    let (features, bytes) = on_grpc_thread(&client, async move {
        let (mut features, mut bytes) = (0_u64, 0_u64);
        while let Some(feature) = reading.next().await {
            features += 1;
            bytes += feature?.compute_size();
        }
        Ok::<_, CallError>((features, bytes))
    })?;
    let secs = started.elapsed().as_secs_f64();
    Ok(StreamReport {
        features,
        bytes,
        secs,
        features_per_sec: features as f64 / secs,
        mb_per_sec: bytes as f64 / secs / 1e6,
    })
}

/// The same ListFeatures query, one after the other.
#[derive(Clone, Debug, Serialize)]
pub struct QueryReport {
    pub queries: u64,
    pub features_per_query: f64,
    pub latency: LatencySummary,
}

pub fn repeated_list_features(
    addr: &str,
    rectangle: &Rectangle,
    queries: u64,
) -> Result<QueryReport, String> {
    let client = load_client(addr);
    let (rectangle, caller) = (rectangle.clone(), client.clone());
    let (features, latencies) = on_grpc_thread(&client, async move {
        let mut latencies = Vec::new();
        let mut features = 0_u64;
        for _ in 0..queries {
            let sent = Instant::now();
            let mut reading = caller.list_features_stream(rectangle.clone());
            while let Some(feature) = reading.next().await {
                feature?;
                features += 1;
            }
            latencies.push(sent.elapsed());
        }
        Ok::<_, CallError>((features, latencies))
    })?;
    Ok(QueryReport {
        queries,
        features_per_query: features as f64 / queries.max(1) as f64,
        latency: LatencySummary::of(latencies),
    })
}

/// One RecordRoute of many points.
#[derive(Clone, Debug, Serialize)]
pub struct RouteReport {
    pub points: u64,
    pub secs: f64,
    pub points_per_sec: f64,
}

/// RecordRoute over `count` points cycling through `points`, sent as a stream (batched).
pub fn record_route(addr: &str, points: &[Point], count: usize) -> Result<RouteReport, String> {
    let client = load_client(addr);
    let route: Vec<Point> = points.iter().cycle().take(count).cloned().collect();
    let started = Instant::now();
    let recording = client.record_route_stream(stream::iter(route));
    let summary = on_grpc_thread(&client, recording)?;
    let secs = started.elapsed().as_secs_f64();
    let received = u64::try_from(summary.point_count).unwrap_or(0);
    Ok(RouteReport {
        points: received,
        secs,
        points_per_sec: received as f64 / secs,
    })
}

/// Many RouteChat calls at once.
#[derive(Clone, Debug, Serialize)]
pub struct ChatReport {
    pub chats: usize,
    pub notes_per_chat: usize,
    pub notes_sent: u64,
    pub replies_expected: u64,
    /// Replies received that are the note expected (the first of the pair).
    pub replies_correct: u64,
    pub secs: f64,
    pub notes_per_sec: f64,
    pub reply_latency: LatencySummary,
    /// How often each chat sends a pair; `None` when it sends the next as soon as it may.
    pub paced_every_ms: Option<f64>,
    /// Paced pairs sent later than due because the reply to the one before was not yet in (their
    /// latency counts from when they were due).
    pub pairs_behind_schedule: u64,
}

/// How fast each chat of [`route_chat`] sends its pairs of notes.
#[derive(Clone, Copy, Debug)]
pub enum ChatPace {
    /// The next pair as soon as the reply to the last one is in: the server's throughput, with
    /// every chat waiting on it (the reply latency is then mostly time spent in its queue).
    Flat,
    /// One pair every so often per chat, the chats' starts spread evenly over the first interval:
    /// a steady load below what the server can take, to see its latency under that load.
    Every(Duration),
}

impl ChatPace {
    /// The time between two pairs of one chat, when paced.
    fn interval(self) -> Option<Duration> {
        match self {
            ChatPace::Flat => None,
            ChatPace::Every(interval) => Some(interval),
        }
    }
}

/// `chats` concurrent RouteChat calls over `connections` connections, each sending
/// `notes_per_chat` notes in pairs at a location of its own, at `pace`: the second note of each
/// pair gets the first back. The reply latency runs to that reply from the sending of the second
/// note or, when paced, from the moment the pair was due, so that a pair sent late, whatever held
/// it up, counts its wait.
pub fn route_chat(
    addr: &str,
    connections: usize,
    chats: usize,
    notes_per_chat: usize,
    pace: ChatPace,
) -> Result<ChatReport, String> {
    let clients: Vec<RouteGuideClient> =
        (0..connections.max(1)).map(|_| load_client(addr)).collect();
    let pairs = notes_per_chat / 2;
    let (ticks, pacing) = match pace.interval() {
        None => (Vec::new(), None),
        Some(interval) => {
            let (ticks, pacing) = pace_chats(chats, pairs, interval)?;
            (ticks, Some(pacing))
        }
    };
    let mut ticks = ticks.into_iter();
    let started = Instant::now();
    let chat_calls: Vec<_> = (0..chats)
        .map(|chat| {
            let client = clients[chat % clients.len()].clone();
            let mut ticks = ticks.next();
            async move {
                let (mut notes, outgoing) = futures::channel::mpsc::channel::<RouteNote>(2);
                let mut received = client.route_chat_stream(outgoing);
                let mut latencies = Vec::with_capacity(pairs);
                let mut correct = 0_u64;
                let mut behind = 0_u64;
                for pair in 0..pairs {
                    let due = match &mut ticks {
                        None => None,
                        Some(ticks) => Some(match ticks.try_recv() {
                            // A tick already waiting means this pair is late: the reply to the
                            // last one took longer than the interval.
                            Ok(due) => {
                                behind += u64::from(pair > 0);
                                due
                            }
                            Err(_) => match ticks.next().await {
                                Some(due) => due,
                                None => break,
                            },
                        }),
                    };
                    let at = chat_location(chat, pair);
                    let first =
                        proto::route_note(at.clone(), format!("chat {chat} pair {pair} first"));
                    let second = proto::route_note(at, format!("chat {chat} pair {pair} second"));
                    let expected = first.message.clone();
                    let _ = notes.send(first).await;
                    let sent = Instant::now();
                    let _ = notes.send(second).await;
                    match received.next().await {
                        Some(Ok(reply)) => {
                            latencies.push(due.unwrap_or(sent).elapsed());
                            if reply.message == expected {
                                correct += 1;
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
                Ok((correct, behind, latencies))
            }
        })
        .collect();
    let mut latencies = Vec::new();
    let (mut replies_correct, mut pairs_behind_schedule) = (0, 0);
    let scenario = async move { join(all_ok(chat_calls), OptionFuture::from(pacing)).await.0 };
    for (correct, behind, chat_latencies) in on_grpc_thread(&clients[0], scenario)? {
        replies_correct += correct;
        pairs_behind_schedule += behind;
        latencies.extend(chat_latencies);
    }
    let secs = started.elapsed().as_secs_f64();
    let notes_sent = (chats * pairs * 2) as u64;
    Ok(ChatReport {
        chats,
        notes_per_chat: pairs * 2,
        notes_sent,
        replies_expected: (chats * pairs) as u64,
        replies_correct,
        secs,
        notes_per_sec: notes_sent as f64 / secs,
        reply_latency: LatencySummary::of(latencies),
        paced_every_ms: pace.interval().map(|interval| interval.as_secs_f64() * 1e3),
        pairs_behind_schedule,
    })
}

/// The ticks of paced chats, one receiver per chat, each tick the moment its pair is due (chat
/// `c`'s pair `k` is due `k + 1` intervals plus `c / chats` of an interval from now), and the task
/// that hands them out on gRPC's thread, to run beside the chats.
///
/// A thread of its own wakes every [`PACER_STEP`] and sends the ticks that have come due as one
/// batch; the task passes each to its chat. The task ends when the ticks run out or when it finds
/// every chat gone, and the thread at its next batch after that.
fn pace_chats(
    chats: usize,
    pairs: usize,
    interval: Duration,
) -> Result<(Vec<UnboundedReceiver<Instant>>, impl Future<Output = ()>), String> {
    let (ticks, receivers): (Vec<_>, Vec<_>) = (0..chats).map(|_| unbounded()).unzip();
    let (batches, mut due_batches) = unbounded::<Vec<(usize, Instant)>>();
    let offset = move |chat: usize| interval.mul_f64(chat as f64 / chats.max(1) as f64);
    // The first ticks come one interval from now, once every chat's call is open.
    let start = Instant::now() + interval;
    thread::Builder::new()
        .name("routeguide-bench-pacer".into())
        .spawn(move || {
            let mut schedule = (0..pairs)
                .flat_map(|pair| {
                    let first = start + interval.mul_f64(pair as f64);
                    (0..chats).map(move |chat| (chat, first + offset(chat)))
                })
                .peekable();
            while schedule.peek().is_some() {
                let now = Instant::now();
                let due: Vec<_> =
                    std::iter::from_fn(|| schedule.next_if(|&(_, at)| at <= now)).collect();
                if !due.is_empty() && batches.unbounded_send(due).is_err() {
                    return;
                }
                thread::sleep(PACER_STEP);
            }
        })
        .map_err(|e| format!("cannot start the pacer thread: {e}"))?;
    let hand_out = async move {
        while let Some(due) = due_batches.next().await {
            for (chat, at) in due {
                // A chat that has gone (it failed, or it is done) is skipped; when none is left,
                // handing out is over.
                if ticks[chat].unbounded_send(at).is_err()
                    && ticks.iter().all(|tick| tick.is_closed())
                {
                    return;
                }
            }
        }
    };
    Ok((receivers, hand_out))
}

/// A location used by one pair of one chat only, so that each pair's second note gets exactly the
/// first one back, whatever the server's chat scope.
fn chat_location(chat: usize, pair: usize) -> Point {
    proto::point(chat as i32, pair as i32)
}

/// A client of the load generator's: a connection of its own, gRPC's minimal filter stack, and a
/// deadline long enough for the longest scenario.
fn load_client(addr: &str) -> RouteGuideClient {
    RouteGuideClient::connect_with(addr, &ClientOptions::load_generator())
        .with_timeout(Duration::from_secs(600))
}

/// Runs a scenario on `client`'s gRPC thread (the one thread every client of the process shares)
/// and waits for it to end.
fn on_grpc_thread<T: Send + 'static>(
    client: &RouteGuideClient,
    scenario: impl Future<Output = Result<T, CallError>> + Send + 'static,
) -> Result<T, String> {
    match block_on(client.run_on_grpc_thread(scenario)) {
        Some(outcome) => outcome.map_err(|e| e.to_string()),
        None => Err("gRPC stopped the scenario before it ended".to_string()),
    }
}

/// Runs `tasks` together; their outputs, or the first error.
async fn all_ok<T>(
    tasks: Vec<impl Future<Output = Result<T, CallError>>>,
) -> Result<Vec<T>, CallError> {
    join_all(tasks).await.into_iter().collect()
}
