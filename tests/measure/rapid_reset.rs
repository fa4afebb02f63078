//! HTTP/2 Rapid Reset (CVE-2023-44487): a client that opens a call and resets it at once, over and
//! over on one connection, is sent away with `GOAWAY(ENHANCE_YOUR_CALM)` before it costs the server
//! much, while another client's calls go on being answered. And a request whose headers are over
//! the limit is answered once, not once per frame of its header block.
//!
//! The attacker speaks HTTP/2 itself, from the frames up (RFC 9113), because no well-behaved
//! client library can be made to send what it sends.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use routeguide::RouteGuideClient;
use routeguide::proto;
use routeguide_testkit::h2::{
    self, ACK, CANCEL, CONTINUATION, DATA, END_HEADERS, END_STREAM, ENHANCE_YOUR_CALM, GOAWAY,
    HEADERS, MAX_FRAME, PING, RST_STREAM, SETTINGS, frame, read_frame, read_until, request_headers,
    settings_ack,
};
use routeguide_testkit::{ServerProcess, standard_db};

use crate::{alone, start_server};

/// Resets the attacker sends at most: a flood of this many on one connection cost the unpatched
/// server 2.7 s of CPU and 45 MB of memory.
const FLOOD: u32 = 20_000;

/// The header block of a GetFeature call, with `extra` headers after the usual ones.
fn get_feature_headers(extra: &[(&str, &[u8])]) -> Vec<u8> {
    request_headers("GetFeature", extra)
}

/// A GOAWAY frame: the last stream the server took, why, and its debug data.
#[derive(Debug)]
pub(crate) struct Goaway {
    last_stream: u32,
    code: u32,
    debug: String,
}

/// What the attacker saw: how many resets it wrote (to the socket, not necessarily read by the
/// server), in how long, the GOAWAY the server sent, if any, and whether the server closed the
/// connection.
pub(crate) struct Flood {
    resets_sent: u32,
    lasted: Duration,
    pub(crate) goaway: Option<Goaway>,
    closed: bool,
}

/// HEADERS then RST_STREAM(CANCEL), on streams 1, 3, 5, ... of one connection, up to `FLOOD`
/// times or until the server closes the connection; then reads what the server sent.
pub(crate) fn rapid_reset(addr: &str) -> Flood {
    rapid_reset_of(addr, FLOOD)
}

/// [`rapid_reset`] with `resets` pairs (a multiple of 100).
fn rapid_reset_of(addr: &str, resets: u32) -> Flood {
    let mut socket = h2::connect(addr);
    let mut reader = socket.try_clone().unwrap();
    reader
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let watcher = thread::spawn(move || {
        let mut goaway = None;
        loop {
            match read_frame(&mut reader) {
                Ok(Some(frame)) => match frame.kind {
                    SETTINGS if frame.flags & ACK == 0 => {
                        let _ = reader.write_all(&settings_ack());
                    }
                    GOAWAY if frame.payload.len() >= 8 => {
                        let word = |at: usize| {
                            u32::from_be_bytes(frame.payload[at..at + 4].try_into().unwrap())
                        };
                        goaway = Some(Goaway {
                            last_stream: word(0) & 0x7fff_ffff,
                            code: word(4),
                            debug: String::from_utf8_lossy(&frame.payload[8..]).into_owned(),
                        });
                    }
                    _ => {}
                },
                // The server closed the connection.
                Ok(None) => return (goaway, true),
                // Silence: the connection is still open.
                Err(_) => return (goaway, false),
            }
        }
    });
    let headers = get_feature_headers(&[]);
    let started = Instant::now();
    let mut resets_sent = 0;
    // A batch of pairs per write, as a real attacker sends them: many per TCP segment.
    'flood: for batch in 0..resets / 100 {
        let mut bytes = Vec::new();
        for i in 0..100 {
            let stream = 2 * (batch * 100 + i) + 1;
            bytes.extend(frame(HEADERS, END_HEADERS, stream, &headers));
            bytes.extend(frame(RST_STREAM, 0, stream, &CANCEL.to_be_bytes()));
        }
        if socket.write_all(&bytes).is_err() {
            break 'flood;
        }
        resets_sent += 100;
    }
    let lasted = started.elapsed();
    // The attacker keeps its end open: only the server can close the connection.
    let (goaway, closed) = watcher.join().unwrap();
    drop(socket);
    Flood {
        resets_sent,
        goaway,
        closed,
        lasted,
    }
}

/// GetFeature calls from another client, one every 5 ms, until `stop`; returns how many were
/// answered and the slowest answer.
fn bystander(addr: String, stop: Arc<AtomicBool>) -> thread::JoinHandle<(usize, Duration)> {
    thread::spawn(move || {
        let client = RouteGuideClient::connect_separately(&addr);
        let (mut answered, mut slowest) = (0, Duration::ZERO);
        while !stop.load(Ordering::Relaxed) {
            let started = Instant::now();
            let reply = client.get_feature(proto::point(409_146_138, -746_188_906));
            assert!(reply.is_ok(), "the bystander's call failed: {reply:?}");
            answered += 1;
            slowest = slowest.max(started.elapsed());
            thread::sleep(Duration::from_millis(5));
        }
        (answered, slowest)
    })
}

/// The server's CPU time once it has stopped spending any: what it queued during a flood is
/// spent after the flood.
fn settled_cpu_time(server: &ServerProcess) -> Duration {
    let mut last = server.cpu_time().unwrap();
    for _ in 0..150 {
        thread::sleep(Duration::from_millis(200));
        let now = server.cpu_time().unwrap();
        if now - last < Duration::from_millis(5) {
            return now;
        }
        last = now;
    }
    panic!("the server kept spending CPU 30 s after the flood");
}

#[test]
fn a_rapid_reset_flood_is_sent_away_with_enhance_your_calm_and_others_are_still_served() {
    let _alone = alone();
    let server = start_server(&standard_db(), &[]);
    let addr = server.addr();
    // Warm up: the first calls start threads and fill allocator pools.
    let warm = RouteGuideClient::connect(&addr);
    for _ in 0..200 {
        warm.get_feature(proto::point(0, 0)).unwrap();
    }
    drop(warm);
    let (rss_before, _) = server.memory().unwrap();
    let cpu_before = settled_cpu_time(&server);

    let stop = Arc::new(AtomicBool::new(false));
    let other = bystander(addr.clone(), Arc::clone(&stop));
    thread::sleep(Duration::from_millis(200));
    let flood = rapid_reset(&addr);
    thread::sleep(Duration::from_millis(200));
    stop.store(true, Ordering::Relaxed);
    let (answered, slowest) = other.join().unwrap();
    let cpu = settled_cpu_time(&server) - cpu_before;
    let (rss_after, _) = server.memory().unwrap();
    let grown_mb = rss_after.saturating_sub(rss_before) as f64 / 1e6;
    eprintln!(
        "rapid reset: {} resets sent in {:?}, goaway {:?}, closed {}; server CPU {cpu:?}, RSS \
         {:+.1} MB; bystander: {answered} calls answered, slowest {slowest:?}",
        flood.resets_sent, flood.lasted, flood.goaway, flood.closed, grown_mb
    );

    let goaway = flood.goaway.expect("the server sends GOAWAY");
    assert_eq!(
        (goaway.code, goaway.debug.as_str()),
        (ENHANCE_YOUR_CALM, "too_many_resets")
    );
    // Client streams are odd: stream n is the ((n + 1) / 2)th. The server stops reading at the
    // 21st reset it holds at once (20 may be pending); it takes more streams than 21 only if it
    // wound some up between two reads.
    let streams_taken = goaway.last_stream.div_ceil(2);
    assert!(
        streams_taken <= 100,
        "the server took {streams_taken} of the attacker's streams before sending it away"
    );
    assert!(flood.closed, "the server closed the attacking connection");
    // The unpatched server spent 2.7 s of CPU and grew by 45 MB on this flood; the bystander's
    // calls (one every 5 ms) account for a few milliseconds of CPU.
    assert!(cpu < Duration::from_millis(500), "server CPU {cpu:?}");
    assert!(grown_mb < 16.0, "resident memory grew by {grown_mb:.1} MB");
    assert!(answered >= 20, "{answered} bystander calls answered");
    // Unpatched, the bystander waited up to 1.65 s for an answer.
    assert!(
        slowest < Duration::from_millis(250),
        "the bystander's slowest call took {slowest:?}"
    );
}

/// How the oversized header block of a request travels.
#[derive(Clone, Copy, Debug)]
enum Shape {
    /// One HEADERS frame, as large as the server's SETTINGS allow (gRPC's: 4 MiB), so the server
    /// reads it over several reads.
    OneFrame,
    /// HEADERS and CONTINUATION frames of the size every peer must take (16 KiB).
    Continuations,
}

/// Sends a GetFeature whose 100 KB of headers are past gRPC's limit (16 KiB) on stream 1, then an
/// ordinary GetFeature on stream 3 of the same connection, and checks that stream 1 is answered
/// once and stream 3 as usual.
fn oversized_headers_are_answered_once(shape: Shape) {
    let server = start_server(&standard_db(), &[]);
    let mut socket = h2::connect(&server.addr());
    socket
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    // A frame beyond 16 KiB may only follow the server's SETTINGS.
    read_until(&mut socket, "its SETTINGS", |frame| {
        frame.kind == SETTINGS && frame.flags & ACK == 0
    });

    let big = vec![b'x'; 100_000];
    let block = get_feature_headers(&[("x-padding", &big)]);
    match shape {
        Shape::OneFrame => socket
            .write_all(&frame(HEADERS, END_HEADERS, 1, &block))
            .unwrap(),
        Shape::Continuations => {
            let chunks: Vec<&[u8]> = block.chunks(MAX_FRAME).collect();
            for (i, chunk) in chunks.iter().enumerate() {
                let kind = if i == 0 { HEADERS } else { CONTINUATION };
                let flags = if i + 1 == chunks.len() {
                    END_HEADERS
                } else {
                    0
                };
                socket.write_all(&frame(kind, flags, 1, chunk)).unwrap();
            }
        }
    }
    socket
        .write_all(&frame(DATA, END_STREAM, 1, &[0; 5]))
        .unwrap();
    // Stream 3: an ordinary GetFeature for (0, 0), an empty Point.
    socket
        .write_all(&frame(HEADERS, END_HEADERS, 3, &get_feature_headers(&[])))
        .unwrap();
    socket
        .write_all(&frame(DATA, END_STREAM, 3, &[0; 5]))
        .unwrap();

    let (mut ended, mut resets, mut after_end) = (0, 0, 0);
    let mut answer = (false, false); // stream 3: a DATA frame, then headers with END_STREAM
    let mut drain_until = None;
    loop {
        if answer.1 && drain_until.is_none() {
            // Whatever else the server sends on stream 1 follows soon after.
            drain_until = Some(Instant::now() + Duration::from_millis(300));
            socket
                .set_read_timeout(Some(Duration::from_millis(300)))
                .unwrap();
        }
        let frame = match read_frame(&mut socket) {
            Ok(Some(frame)) => frame,
            _ if drain_until.is_some() => break,
            _ => panic!("{shape:?}: the server did not answer stream 3"),
        };
        if drain_until.is_some_and(|t| Instant::now() > t) {
            break;
        }
        match (frame.stream, frame.kind) {
            (0, GOAWAY) => panic!("{shape:?}: the server sent GOAWAY"),
            (1, kind) => {
                if ended > 0 {
                    after_end += 1;
                }
                match kind {
                    HEADERS if frame.flags & END_STREAM != 0 => ended += 1,
                    RST_STREAM => resets += 1,
                    _ => {}
                }
            }
            (3, DATA) => answer.0 = true,
            (3, HEADERS) if frame.flags & END_STREAM != 0 => answer.1 = true,
            _ => {}
        }
    }
    assert_eq!(
        ended, 1,
        "{shape:?}: HEADERS with END_STREAM on the oversized stream"
    );
    assert!(
        resets <= 1,
        "{shape:?}: {resets} RST_STREAM frames on the oversized stream"
    );
    assert!(
        after_end <= 1,
        "{shape:?}: {after_end} frames on the oversized stream after its END_STREAM"
    );
    assert!(answer.0, "{shape:?}: stream 3 was answered with a message");
}

#[test]
fn a_request_with_too_large_headers_is_answered_once_and_the_connection_serves_on() {
    let _alone = alone();
    oversized_headers_are_answered_once(Shape::OneFrame);
    oversized_headers_are_answered_once(Shape::Continuations);
}

#[test]
fn the_limit_follows_max_pending_resets() {
    let _alone = alone();
    let server = start_server(&standard_db(), &["--max-pending-resets", "5"]);
    let flood = rapid_reset_of(&server.addr(), 1_000);
    let goaway = flood.goaway.expect("the server sends GOAWAY");
    assert_eq!(goaway.code, ENHANCE_YOUR_CALM);
    // The 6th reset held at once is one too many: stream 11.
    let streams_taken = goaway.last_stream.div_ceil(2);
    assert!(
        (6..=30).contains(&streams_taken),
        "with a limit of 5 the server took {streams_taken} streams"
    );

    // 0 turns the limit off: no GOAWAY, the connection stays open.
    let server = start_server(&standard_db(), &["--max-pending-resets", "0"]);
    let flood = rapid_reset_of(&server.addr(), 1_000);
    assert!(
        flood.goaway.is_none(),
        "GOAWAY without a limit: {:?}",
        flood.goaway
    );
    assert!(
        !flood.closed,
        "the server closed the connection without a limit"
    );
}

/// The calls the server at `metrics_addr` counts as in flight.
fn calls_in_flight(metrics_addr: &str) -> Result<u64, String> {
    let answer = routeguide_testkit::http_get(metrics_addr, "/metrics")?;
    answer
        .body
        .lines()
        .filter(|line| line.starts_with("routeguide_calls_in_flight"))
        .map(|line| {
            let value = line.rsplit(' ').next().unwrap_or("");
            value
                .parse::<f64>()
                .map(|v| v as u64)
                .map_err(|e| format!("{line:?}: {e}"))
        })
        .sum()
}

#[test]
fn a_client_that_cancels_many_calls_in_progress_at_once_is_not_sent_away() {
    let _alone = alone();
    let metrics_addr = format!("127.0.0.1:{}", routeguide_testkit::free_port().unwrap());
    let server = start_server(&standard_db(), &["--metrics-addr", &metrics_addr]);
    let mut socket = h2::connect(&server.addr());
    socket
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    // 64 RecordRoute calls on one connection, each open, its handler waiting for points: taken by
    // the server, and nothing sent on them yet.
    const CALLS: u32 = 64;
    let mut headers = Vec::new();
    for i in 0..CALLS {
        let block = request_headers("RecordRoute", &[]);
        headers.extend(frame(HEADERS, END_HEADERS, 2 * i + 1, &block));
    }
    socket.write_all(&headers).unwrap();
    routeguide_testkit::eventually(
        "every RecordRoute handler has started",
        Duration::from_secs(10),
        || match calls_in_flight(&metrics_addr)? {
            n if n == u64::from(CALLS) => Ok(()),
            n => Err(format!("{n} calls in flight")),
        },
    );

    // All cancelled in one write, as a client does when its user gives up; then a PING, whose ACK
    // says the server has read the resets.
    let mut resets = Vec::new();
    for i in 0..CALLS {
        resets.extend(frame(RST_STREAM, 0, 2 * i + 1, &CANCEL.to_be_bytes()));
    }
    resets.extend(frame(PING, 0, 0, b"resets!!"));
    socket.write_all(&resets).unwrap();
    read_until(&mut socket, "the PING's ACK", |frame| {
        frame.kind == PING && frame.flags & ACK != 0
    });
    // The connection still serves: a GetFeature on it is answered.
    socket
        .write_all(&frame(
            HEADERS,
            END_HEADERS,
            2 * CALLS + 1,
            &get_feature_headers(&[]),
        ))
        .unwrap();
    socket
        .write_all(&frame(DATA, END_STREAM, 2 * CALLS + 1, &[0; 5]))
        .unwrap();
    read_until(&mut socket, "the GetFeature's answer", |frame| {
        frame.stream == 2 * CALLS + 1 && frame.kind == DATA
    });
}
