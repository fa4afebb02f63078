//! Clients that cancel or stop reading: the server stops spending CPU on the call, holds its
//! memory, and keeps serving others. On a generated 1,000,000-feature database, where the amount
//! of work matters.

use std::thread;
use std::time::Duration;

use routeguide::RouteGuideClient;
use routeguide::proto;

use crate::{alone, big_db, start_server};

fn whole_world() -> proto::Rectangle {
    proto::rectangle(
        proto::point(-900_000_000, -1_800_000_000),
        proto::point(900_000_000, 1_800_000_000),
    )
}

#[test]
fn a_cancelled_whole_world_listing_stops_using_cpu_within_100_ms() {
    let _alone = alone();
    // Two completion-queue threads, the default on this machine: with one, the thread that sends
    // is also the one that must read the client's cancel, and notices it later.
    let server = start_server(&big_db(), &["--threads", "2"]);
    let client = RouteGuideClient::connect(&server.addr());
    let mut features = client.list_features(whole_world());
    assert!(features.next().unwrap().is_ok());
    drop(features); // cancels the call after its first message

    // The claim: 100 ms after the cancel, the server spends (next to) no CPU on the listing. The
    // sleeps are the measurement's window, not a wait for an event.
    thread::sleep(Duration::from_millis(100));
    let before = server.cpu_time().unwrap();
    thread::sleep(Duration::from_millis(500));
    let spent = server.cpu_time().unwrap() - before;
    // /proc counts in 10 ms ticks; a listing still running would use most of the 500 ms.
    assert!(
        spent <= Duration::from_millis(30),
        "{spent:?} of CPU after the cancel"
    );
    assert!(client.get_feature(proto::point(0, 0)).is_ok());
}

#[test]
fn a_client_that_never_reads_does_not_make_the_server_buffer() {
    let _alone = alone();
    let server = start_server(&big_db(), &["--threads", "2"]);
    let (resident_before, _) = server.memory().unwrap();
    let stalled = RouteGuideClient::connect_separately(&server.addr());
    // Start the listing and take one feature, then read no more for a while.
    let mut features = stalled.list_features(whole_world());
    assert!(features.next().unwrap().is_ok());
    // The window in which a server that buffers would fill its memory.
    thread::sleep(Duration::from_secs(1));

    let (resident_after, _) = server.memory().unwrap();
    let grown_mb = resident_after.saturating_sub(resident_before) / 1_000_000;
    // Buffering the rest of the listing would take over 100 MB; flow control holds it back.
    assert!(grown_mb < 32, "the server grew by {grown_mb} MB");

    // Other clients are served meanwhile, on their own connection and on the stalled one.
    let other = RouteGuideClient::connect_separately(&server.addr());
    assert!(other.get_feature(proto::point(0, 0)).is_ok());
    assert!(stalled.get_feature(proto::point(0, 0)).is_ok());
    drop(features);
}
