//! The server process under churn and shutdown: many short-lived connections leave nothing behind,
//! and SIGTERM under load lets unary calls finish, cancels streams after the grace period and
//! exits 0 without a panic.

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::thread;
use std::time::Duration;

use common::process::start_server;
use grpcio::RpcStatusCode;
use routeguide::client::RouteGuideClient;
use routeguide::proto::{self, RouteNote};

#[test]
fn a_thousand_short_connections_leave_no_threads_fds_or_memory_behind() {
    let server = start_server(&[]);
    let addr = server.addr();
    let use_once = |n: usize| {
        if n % 4 == 3 {
            // Not even HTTP/2: a TCP connection that sends garbage and vanishes.
            let mut socket = TcpStream::connect(&addr).unwrap();
            let _ = socket.write_all(b"GET / HTTP/1.0\r\n\r\n");
        } else {
            let client = RouteGuideClient::connect_separately(&addr);
            let answer = client.get_feature(proto::point(0, 0));
            assert!(answer.is_ok(), "connection {n}: {answer:?}");
        }
    };
    // Warm up allocator pools and lazily started threads before measuring.
    (0..100).for_each(use_once);
    thread::sleep(Duration::from_millis(500));
    let (threads, fds, (rss, _)) = (
        server.threads().unwrap(),
        server.open_fds().unwrap(),
        server.memory().unwrap(),
    );

    (0..1_000).for_each(use_once);
    thread::sleep(Duration::from_secs(1)); // let the server notice the last hang-ups

    let threads_after = server.threads().unwrap();
    let fds_after = server.open_fds().unwrap();
    let (rss_after, _) = server.memory().unwrap();
    assert!(
        threads_after <= threads + 2,
        "threads {threads} -> {threads_after}"
    );
    assert!(
        fds_after <= fds + 8,
        "file descriptors {fds} -> {fds_after}"
    );
    let grown_mb = rss_after.saturating_sub(rss) as f64 / 1e6;
    assert!(grown_mb < 16.0, "resident memory grew by {grown_mb:.1} MB");
}

#[test]
fn sigterm_under_load_finishes_unary_calls_cancels_streams_and_exits_0() {
    let mut server = start_server(&["--grace", "1"]);
    let addr = server.addr();

    // 100 chats, each with a note sent and the stream left open.
    let client = RouteGuideClient::connect_separately(&addr);
    let mut chats = Vec::new();
    for i in 0..100 {
        let (notes, outgoing) = mpsc::channel::<RouteNote>();
        notes
            .send(proto::route_note(proto::point(i, i), "open"))
            .unwrap();
        chats.push((notes, client.route_chat(outgoing)));
    }
    // A stream of unary calls until the server is gone.
    let signalled = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let unary = {
        let (signalled, stop) = (Arc::clone(&signalled), Arc::clone(&stop));
        let client =
            RouteGuideClient::connect_separately(&addr).with_timeout(Duration::from_secs(2));
        thread::spawn(move || {
            let mut answered = 0;
            while !stop.load(Ordering::SeqCst) {
                let answer = client.get_feature(proto::point(409_146_138, -746_188_906));
                // Read after the call: one that started just before the signal may be refused.
                let signal_sent = signalled.load(Ordering::SeqCst);
                match answer {
                    Ok(feature) => {
                        assert!(!feature.get_name().is_empty());
                        answered += 1;
                    }
                    // Only calls racing with the shutdown may fail, and only by being refused
                    // or cancelled before a handler ran: never with a wrong or partial answer.
                    Err(e) => {
                        assert!(signal_sent, "a call failed before SIGTERM: {e}");
                        assert!(
                            [RpcStatusCode::UNAVAILABLE, RpcStatusCode::CANCELLED]
                                .contains(&e.code()),
                            "{e}"
                        );
                    }
                }
            }
            answered
        })
    };
    thread::sleep(Duration::from_millis(300));
    signalled.store(true, Ordering::SeqCst);
    server.terminate().unwrap();
    let status = server.wait_for_exit(Duration::from_secs(10)).unwrap();
    stop.store(true, Ordering::SeqCst);
    let answered = unary.join().unwrap();

    assert_eq!(status.code(), Some(0));
    assert!(answered > 0);
    for (notes, replies) in chats {
        // Every chat ends with an error (cut off at the end of the grace period), none hangs.
        let last = replies.last();
        assert!(matches!(last, Some(Err(_))), "{last:?}");
        drop(notes);
    }
    let log = server.remaining_log().join("\n");
    assert!(!log.contains("panicked"), "{log}");
    assert!(log.contains("cancelling them"), "{log}");
}
