//! The server process under load at shutdown: SIGTERM with chats open and unary calls streaming
//! in lets the unary calls finish, cancels the streams after the grace period and exits 0 without
//! a panic.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::thread;
use std::time::Duration;

use crate::common::process::start_server;
use grpcio::RpcStatusCode;
use routeguide::RouteGuideClient;
use routeguide::proto::{self, RouteNote};
use routeguide_testkit::eventually;

#[test]
fn sigterm_under_load_finishes_unary_calls_cancels_streams_and_exits_0() {
    let mut server = start_server(&["--grace", "1"]);
    let addr = server.addr();

    // 100 chats, each open on the server: its second note got the first one back, and the
    // stream is left open.
    let client = RouteGuideClient::connect_separately(&addr);
    let mut chats = Vec::new();
    for i in 0..100 {
        let (notes, outgoing) = mpsc::channel::<RouteNote>();
        for text in ["open", "still open"] {
            notes
                .send(proto::route_note(proto::point(i, i), text))
                .unwrap();
        }
        let mut replies = client.route_chat(outgoing);
        let first = replies.next();
        assert!(
            matches!(&first, Some(Ok(note)) if note.message == "open"),
            "{first:?}"
        );
        chats.push((notes, replies));
    }
    // A stream of unary calls until the server is gone.
    let signalled = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(AtomicUsize::new(0));
    let unary = {
        let (signalled, stop) = (Arc::clone(&signalled), Arc::clone(&stop));
        let answered = Arc::clone(&answered);
        let client =
            RouteGuideClient::connect_separately(&addr).with_timeout(Duration::from_secs(2));
        thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                let answer = client.get_feature(proto::point(409_146_138, -746_188_906));
                // Read after the call: one that started just before the signal may be refused.
                let signal_sent = signalled.load(Ordering::SeqCst);
                match answer {
                    Ok(feature) => {
                        assert!(!feature.name.is_empty());
                        answered.fetch_add(1, Ordering::SeqCst);
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
        })
    };
    // SIGTERM once unary calls are flowing.
    eventually(
        "100 unary calls answered",
        Duration::from_secs(10),
        || match answered.load(Ordering::SeqCst) {
            n if n >= 100 => Ok(()),
            n => Err(n),
        },
    );
    signalled.store(true, Ordering::SeqCst);
    server.terminate().unwrap();
    let status = server.wait_for_exit(Duration::from_secs(10)).unwrap();
    stop.store(true, Ordering::SeqCst);
    unary.join().unwrap();

    assert_eq!(status.code(), Some(0));
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
