//! The server as a process and as a thread pool: flags, database errors, graceful shutdown on a
//! real SIGTERM, and handlers that never hold up the completion-queue thread.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use routeguide::ServerConfig;
use routeguide::proto::{self, Point, RouteSummary};
use routeguide::{Pending, RouteGuideClient};
use routeguide_testkit::{eventually, standard_db};

use crate::common;
use crate::common::TestServer;
use crate::common::process::start_server;

/// Opens a RecordRoute to `addr` and sends its first point; returns the way to send the rest and
/// the summary to come, once the server has the call.
fn open_route(addr: &str) -> (mpsc::Sender<Point>, Pending<RouteSummary>) {
    let client = RouteGuideClient::connect(addr);
    let (points_tx, points_rx) = mpsc::channel::<Point>();
    let pending = client.record_route_future(points_rx);
    points_tx.send(proto::point(1000, 1000)).unwrap();
    // A later call on the same connection has been answered, so the route has reached the server.
    assert!(client.get_feature(proto::point(0, 0)).is_ok());
    (points_tx, pending)
}

#[test]
fn sigterm_stops_an_idle_server_with_exit_code_0() {
    let mut server = start_server(&[]);
    let client = RouteGuideClient::connect(&server.addr());
    assert!(
        client
            .get_feature(proto::point(409_146_138, -746_188_906))
            .is_ok()
    );
    server.terminate().unwrap();
    common::process::expect_clean_exit(&mut server);
    assert!(
        !server
            .remaining_log()
            .iter()
            .any(|l| l.contains("panicked"))
    );
}

#[test]
fn a_call_in_flight_at_sigterm_completes_within_the_grace_period() {
    let mut server = start_server(&["--grace", "10"]);
    let (points_tx, pending) = open_route(&server.addr());
    server.terminate().unwrap();
    server
        .wait_for_log("calls in flight have", Duration::from_secs(10))
        .unwrap();
    points_tx.send(proto::point(2000, 2000)).unwrap();
    drop(points_tx);
    let summary = pending.wait().expect("the call in flight finishes");
    assert_eq!(summary.point_count, 2);
    common::process::expect_clean_exit(&mut server);
}

#[test]
fn calls_still_running_after_the_grace_period_are_cancelled() {
    let mut server = start_server(&["--grace", "0.5"]);
    let (points_tx, pending) = open_route(&server.addr());
    server.terminate().unwrap();
    common::process::expect_clean_exit(&mut server);
    assert!(pending.wait().is_err(), "the unfinished route was cut off");
    drop(points_tx);
}

#[test]
fn a_missing_database_stops_the_server_naming_the_file() {
    let output = Command::new(env!("CARGO_BIN_EXE_route_guide_server"))
        .args(["--addr", "127.0.0.1:0", "--db", "no/such/file.json"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("no/such/file.json"), "{stderr}");
}

#[test]
fn a_malformed_database_names_the_file_and_the_line() {
    let dir = std::env::temp_dir().join(format!("routeguide-db-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cases = [
        (
            "broken.json",
            "[\n{\"location\": {\"latitude\": 1, \"longitude\": 2}, \"name\": \"a\"},\n{oops}\n]",
            "line 3",
        ),
        (
            "far.json",
            r#"[{"location": {"latitude": 1, "longitude": 2}, "name": "a"},
                {"location": {"latitude": 950000000, "longitude": 2}, "name": "b"}]"#,
            "entry 1 (line 2): latitude 950000000",
        ),
    ];
    for (name, text, problem) in cases {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        let output = Command::new(env!("CARGO_BIN_EXE_route_guide_server"))
            .args(["--addr", "127.0.0.1:0", "--db"])
            .arg(&path)
            .output()
            .unwrap();
        assert!(!output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(name), "{stderr}");
        assert!(stderr.contains(problem), "{stderr}");
    }
    std::fs::remove_dir_all(dir).unwrap();
}

/// An empty folder of cargo's scratch space for tests, for this test alone.
fn scratch_dir(test: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn the_port_file_holds_the_port_while_the_server_listens() {
    let dir = scratch_dir("port-file");
    let port_file = dir.join("port");
    // As an earlier run might have left it: the server replaces it.
    std::fs::write(&port_file, "1\n").unwrap();
    // The server by hand rather than through ServerProcess, which passes a port file of its own.
    let mut server = Command::new(env!("CARGO_BIN_EXE_route_guide_server"))
        .args(["--addr", "127.0.0.1:0", "--db"])
        .arg(standard_db())
        .arg("--port-file")
        .arg(&port_file)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let text = eventually("the port file is written", Duration::from_secs(30), || {
        match std::fs::read_to_string(&port_file) {
            Ok(text) if text != "1\n" => Ok(text),
            other => Err(other),
        }
    });
    let port: u16 = text
        .strip_suffix('\n')
        .and_then(|digits| digits.parse().ok())
        .unwrap_or_else(|| panic!("{text:?} is not a port then a newline"));
    let client = RouteGuideClient::connect(&format!("127.0.0.1:{port}"));
    let feature = client
        .get_feature(proto::point(409_146_138, -746_188_906))
        .unwrap();
    assert_eq!(
        feature.name,
        "Berkshire Valley Management Area Trail, Jefferson, NJ, USA"
    );
    let files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name())
        .collect();
    assert_eq!(files, ["port"], "no temporary file is left beside it");
    let stopped = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(stopped.success());
    assert_eq!(server.wait().unwrap().code(), Some(0));
    assert!(
        !port_file.exists(),
        "a stopped server leaves no port behind"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_port_file_that_cannot_be_written_stops_the_server_naming_it() {
    let dir = scratch_dir("port-file-missing-dir");
    let port_file = dir.join("no-such-dir").join("port");
    let output = Command::new(env!("CARGO_BIN_EXE_route_guide_server"))
        .args(["--addr", "127.0.0.1:0", "--db"])
        .arg(standard_db())
        .arg("--port-file")
        .arg(&port_file)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("cannot write the port to {}", port_file.display())),
        "{stderr}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_second_signal_during_the_grace_period_stops_at_once() {
    let mut server = start_server(&["--grace", "60"]);
    let (points_tx, pending) = open_route(&server.addr());
    server.terminate().unwrap();
    // The route keeps the graceful shutdown waiting; a second signal ends the wait.
    server
        .wait_for_log("calls in flight have", Duration::from_secs(10))
        .unwrap();
    server.terminate().unwrap();
    let status = server.wait_for_exit(Duration::from_secs(10)).unwrap();
    assert_eq!(
        status.code(),
        Some(128 + 15),
        "the shell's code for SIGTERM"
    );
    assert!(pending.wait().is_err(), "the route was cut off");
    drop(points_tx);
}

/// `route_guide_server` with no flags at all, configured by `env` alone; returns it and the
/// port it wrote to the port file named there.
fn start_from_environment(env: &[(&str, &str)], flags: &[&str]) -> (std::process::Child, u16) {
    let dir = scratch_dir(&format!("env-{}", env.len() + flags.len()));
    let port_file = dir.join("port");
    let mut command = Command::new(env!("CARGO_BIN_EXE_route_guide_server"));
    command
        .args(flags)
        .env("ROUTEGUIDE_ADDR", "127.0.0.1:0")
        .env("ROUTEGUIDE_DB", routeguide_testkit::standard_db())
        .env("ROUTEGUIDE_PORT_FILE", &port_file)
        .stderr(std::process::Stdio::null());
    for (name, value) in env {
        command.env(name, value);
    }
    let server = command.spawn().unwrap();
    let port = eventually("the port file is written", Duration::from_secs(30), || {
        std::fs::read_to_string(&port_file)
            .map_err(|e| e.to_string())
            .and_then(|text| text.trim().parse::<u16>().map_err(|e| e.to_string()))
    });
    (server, port)
}

/// Whether a second chat at one location gets the first chat's note back: the shared scope.
fn chats_are_shared(port: u16) -> bool {
    let client = RouteGuideClient::connect(&format!("127.0.0.1:{port}"));
    let note = || proto::route_note(proto::point(5, 5), "hello");
    let first: Vec<_> = client.route_chat(vec![note()]).collect();
    assert!(first.iter().all(Result::is_ok), "{first:?}");
    let second: Vec<_> = client.route_chat(vec![note()]).collect();
    !second.is_empty()
}

#[test]
fn a_server_configured_by_the_environment_alone_serves_and_a_flag_wins_over_its_variable() {
    let shared = [("ROUTEGUIDE_CHAT_SCOPE", "shared")];
    let (mut server, port) = start_from_environment(&shared, &[]);
    let client = RouteGuideClient::connect(&format!("127.0.0.1:{port}"));
    let feature = client
        .get_feature(proto::point(409_146_138, -746_188_906))
        .unwrap();
    assert!(!feature.name.is_empty());
    assert!(
        chats_are_shared(port),
        "ROUTEGUIDE_CHAT_SCOPE=shared was applied"
    );
    server.kill().unwrap();
    server.wait().unwrap();

    let (mut server, port) = start_from_environment(&shared, &["--chat-scope", "stream"]);
    assert!(!chats_are_shared(port), "--chat-scope stream wins");
    server.kill().unwrap();
    server.wait().unwrap();
}

#[test]
fn a_redis_password_from_the_environment_shows_neither_in_help_nor_in_errors() {
    let run_with = |url: &str, args: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_route_guide_server"))
            .args(args)
            .env("ROUTEGUIDE_CHAT_BACKEND", url)
            .env("ROUTEGUIDE_CHAT_SCOPE", "shared")
            .output()
            .unwrap();
        let text =
            String::from_utf8_lossy(&output.stdout) + String::from_utf8_lossy(&output.stderr);
        (output.status.code(), text.into_owned())
    };
    let run = |args: &[&str]| run_with("redis://:s3cret@127.0.0.1:1", args);
    let (code, help) = run(&["--help"]);
    assert_eq!(code, Some(0));
    assert!(help.contains("ROUTEGUIDE_CHAT_BACKEND"), "{help}");
    assert!(!help.contains("s3cret"), "{help}");
    // Nothing listens on port 1: the server stops, naming Redis without its password.
    let (code, error) = run(&["--addr", "127.0.0.1:0"]);
    assert_eq!(code, Some(1), "{error}");
    assert!(error.contains("redis://:***@127.0.0.1:1"), "{error}");
    assert!(!error.contains("s3cret"), "{error}");
    // An address that does not even parse is a usage error, and its password stays hidden too.
    let (code, error) = run_with("redis://:s3cret@[bad", &["--addr", "127.0.0.1:0"]);
    assert_eq!(code, Some(2), "{error}");
    assert!(error.contains("redis://:***@[bad"), "{error}");
    assert!(!error.contains("s3cret"), "{error}");
}

#[test]
fn version_and_help_name_the_program_and_show_examples() {
    let output = Command::new(env!("CARGO_BIN_EXE_route_guide_server"))
        .arg("--version")
        .output()
        .unwrap();
    let version = String::from_utf8_lossy(&output.stdout);
    assert!(version.starts_with("route_guide_server "), "{version}");
    let output = Command::new(env!("CARGO_BIN_EXE_route_guide_server"))
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&output.stdout);
    assert!(help.contains("Examples:"), "{help}");
    assert!(help.contains("[env: ROUTEGUIDE_ADDR="), "{help}");
}

#[test]
fn help_explains_every_flag() {
    let output = Command::new(env!("CARGO_BIN_EXE_route_guide_server"))
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&output.stdout);
    for flag in [
        "--addr",
        "--db",
        "--threads",
        "--chat-scope",
        "--chat-history",
        "--chat-locations",
        "--chat-bytes",
        "--max-message-bytes",
        "--max-concurrent-streams",
        "--grace",
        "--port-file",
    ] {
        assert!(help.contains(flag), "{flag} missing from:\n{help}");
    }
}

#[test]
fn a_slow_route_on_one_thread_does_not_delay_other_calls() {
    let config = ServerConfig {
        threads: 1,
        ..ServerConfig::default()
    };
    let server = TestServer::start_with(config, common::standard_store());
    let client = server.client();
    let route_done = Arc::new(AtomicBool::new(false));
    let (first_sent_tx, first_sent_rx) = mpsc::channel();
    // One point a second, like a traveller, on the server's only completion-queue thread.
    let slow_route = (0..3).map(move |i| {
        if i == 1 {
            let _ = first_sent_tx.send(());
        }
        if i > 0 {
            thread::sleep(Duration::from_secs(1));
        }
        proto::point(i, i)
    });
    let pending = {
        let done = Arc::clone(&route_done);
        let route = client.record_route_future(slow_route);
        thread::spawn(move || {
            let summary = route.wait();
            done.store(true, Ordering::SeqCst);
            summary
        })
    };
    first_sent_rx.recv().unwrap();
    for _ in 0..5 {
        assert!(client.get_feature(proto::point(0, 0)).is_ok());
    }
    assert!(
        !route_done.load(Ordering::SeqCst),
        "GetFeature was answered while the route was still open"
    );
    assert_eq!(pending.join().unwrap().unwrap().point_count, 3);
}
