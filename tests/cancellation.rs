//! Clients that cancel, stop reading or vanish: the server stops the work, holds its memory, and
//! keeps serving others. Runs the real server binary, on a generated 1,000,000-feature database
//! where the amount of work matters.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::thread;
use std::time::Duration;

use common::process::{ServerProcess, generated_db, start_server_with_db};
use routeguide::client::RouteGuideClient;
use routeguide::proto;

const FEATURES: usize = 1_000_000;

fn whole_world() -> proto::Rectangle {
    proto::rectangle(
        proto::point(-900_000_000, -1_800_000_000),
        proto::point(900_000_000, 1_800_000_000),
    )
}

#[test]
fn a_cancelled_whole_world_listing_stops_using_cpu_within_100_ms() {
    // Two completion-queue threads, the default on this machine: with one, the thread that sends
    // is also the one that must read the client's cancel, and notices it later (about 300 ms).
    let server = start_server_with_db(&generated_db(FEATURES), &["--threads", "2"]);
    let client = RouteGuideClient::connect(&server.addr());
    let mut features = client.list_features(whole_world());
    assert!(features.next().unwrap().is_ok());
    drop(features); // cancels the call after its first message

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
    let server = start_server_with_db(&generated_db(FEATURES), &["--threads", "2"]);
    let (resident_before, _) = server.memory().unwrap();
    let stalled = RouteGuideClient::connect_separately(&server.addr());
    // Start the listing and take one feature, then read no more for a while.
    let mut features = stalled.list_features(whole_world());
    assert!(features.next().unwrap().is_ok());
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

/// A `route_guide_client` reading its notes or points from a pipe that stays open, killed with
/// SIGKILL in the middle of its call: the server must end that call (and free what it held) on
/// its own.
fn vanishing_client(server: &ServerProcess, subcommand: &str, line: &str) {
    let mut client = Command::new(env!("CARGO_BIN_EXE_route_guide_client"))
        .args(["--addr", &server.addr(), subcommand, "--stdin", "--json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut input = client.stdin.take().unwrap();
    for _ in 0..3 {
        writeln!(input, "{line}").unwrap();
    }
    input.flush().unwrap();
    // The client prints each note or point as it sends it: once one is out, the call is open.
    let mut printed = String::new();
    BufReader::new(client.stdout.take().unwrap())
        .read_line(&mut printed)
        .unwrap();
    assert!(!printed.is_empty(), "the client sent nothing");
    thread::sleep(Duration::from_millis(100));
    client.kill().unwrap();
    client.wait().unwrap();
}

#[test]
fn calls_of_a_client_that_vanished_end_on_the_server() {
    // The server logs how each call ended at debug level.
    let mut command = Command::new(env!("CARGO_BIN_EXE_route_guide_server"));
    command
        .args(["--addr", "127.0.0.1:0", "--db"])
        .arg(common::standard_db_path())
        .env("RUST_LOG", "routeguide=debug");
    let mut server = ServerProcess::start(command, Duration::from_secs(30)).unwrap();

    vanishing_client(
        &server,
        "route-chat",
        r#"{"location": {"latitude": 1, "longitude": 1}, "message": "hi"}"#,
    );
    let ended = server
        .wait_for_log("RouteChat from", Duration::from_secs(10))
        .unwrap();
    assert!(ended.contains("client went away"), "{ended}");

    vanishing_client(
        &server,
        "record-route",
        r#"{"latitude": 1, "longitude": 1}"#,
    );
    let ended = server
        .wait_for_log("RecordRoute from", Duration::from_secs(10))
        .unwrap();
    assert!(ended.contains("client went away"), "{ended}");
}
