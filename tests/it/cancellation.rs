//! Clients that vanish in the middle of a call: the server ends the call on its own and logs that
//! the client went away. (Clients that cancel or stop reading, where what counts is the CPU and
//! memory the server spends afterwards, are in `tests/measure/`.)

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

use routeguide_testkit::standard_db;

use crate::common::process::ServerProcess;

/// A `route_guide_client` reading its notes or points from a pipe that stays open, killed with
/// SIGKILL in the middle of its call: the server must end that call (and free what it held) on
/// its own.
fn vanishing_client(server: &ServerProcess, subcommand: &str, line: &str) {
    let mut client = Command::new(env!("CARGO_BIN_EXE_route_guide_client"))
        .args(["--addr", &server.addr(), subcommand, "--stdin"])
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
    // In text mode (not under --json, which prints responses only) the client prints each note
    // or point just before sending it, and takes the next one only once the one before is sent:
    // a second line means that the first note or point is out.
    let mut printed = BufReader::new(client.stdout.take().unwrap()).lines();
    for _ in 0..2 {
        let line = printed.next().transpose().unwrap();
        assert!(line.is_some(), "the client stopped before sending");
    }
    client.kill().unwrap();
    client.wait().unwrap();
}

#[test]
fn calls_of_a_client_that_vanished_end_on_the_server() {
    // The server logs how each call ended at debug level.
    let mut command = Command::new(env!("CARGO_BIN_EXE_route_guide_server"));
    command
        .args(["--addr", "127.0.0.1:0", "--db"])
        .arg(standard_db())
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
