//! `route_guide_client` as a user runs it: the tour in both styles, JSON output, subcommands,
//! standard input, and a server that is down.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use routeguide_testkit::standard_db;
use serde_json::{Value, json};

use crate::common;
use crate::common::TestServer;

fn client(addr: &str, args: &[&str]) -> Output {
    client_with_stdin(addr, args, "")
}

fn client_with_stdin(addr: &str, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_route_guide_client"))
        .args(["--addr", addr, "--pace", "0", "--db"])
        .arg(standard_db())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn stdout(output: &Output) -> String {
    assert!(
        output.status.success(),
        "exit {:?}, stderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn json_lines(output: &Output) -> Vec<Value> {
    stdout(output)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn the_tour_prints_every_section_and_receives_first_and_third() {
    let server = TestServer::start();
    let text = stdout(&client(&server.addr, &[]));
    for heading in ["GetFeature", "ListFeatures", "RecordRoute", "RouteChat"] {
        assert!(
            text.contains(&format!("-------------- {heading} --------------")),
            "{text}"
        );
    }
    assert!(text.contains(
        "Feature called \"Berkshire Valley Management Area Trail, Jefferson, NJ, USA\" at 40.9146138, -74.6188906"
    ));
    assert!(text.contains("Found no feature at 0, 0"), "{text}");
    assert!(
        text.contains("Looking for features between 40, -75 and 42, -73"),
        "{text}"
    );
    assert!(text.contains("Finished trip with 10 points"), "{text}");
    assert!(text.contains("Passed 10 features"), "{text}");
    let received: Vec<&str> = text.lines().filter(|l| l.starts_with("Received")).collect();
    assert_eq!(
        received,
        [
            "Received \"First message\" at 0, 0",
            "Received \"Third message\" at 0.0000001, 0"
        ]
    );
}

#[test]
fn both_styles_give_the_same_results() {
    let server = TestServer::start();
    // Under --json the tour prints only responses, in order: Features (GetFeature's two, then
    // ListFeatures'), one RouteSummary, then RouteChat's replies. The route is random, so the
    // summary is left out of the comparison.
    let responses = |style: &str| -> (Vec<Value>, Vec<Value>) {
        let lines = json_lines(&client(&server.addr, &["--json", "--style", style]));
        let summaries: Vec<usize> = (0..lines.len())
            .filter(|&i| lines[i].get("pointCount").is_some())
            .collect();
        assert_eq!(summaries.len(), 1, "one RouteSummary: {lines:?}");
        let (features, rest) = lines.split_at(summaries[0]);
        (features.to_vec(), rest[1..].to_vec())
    };
    // The notes sent are printed as text only.
    let sent = |style: &str| -> Vec<String> {
        let text = stdout(&client(&server.addr, &["--style", style]));
        text.lines()
            .filter(|l| l.starts_with("Sending"))
            .map(str::to_string)
            .collect()
    };
    let (sync_features, sync_replies) = responses("sync");
    assert_eq!(
        (sync_features.clone(), sync_replies.clone()),
        responses("future")
    );
    assert!(
        sync_features.len() > 2,
        "two GetFeature answers and the ListFeatures stream"
    );
    assert!(
        sync_features
            .iter()
            .all(|f| f.get("location").is_some() && f.get("message").is_none()),
        "{sync_features:?}"
    );
    assert_eq!(sync_replies.len(), 2);
    assert_eq!(sent("sync").len(), 5);
    assert_eq!(sent("sync"), sent("future"));
}

#[test]
fn json_output_is_one_response_message_per_line_as_the_proto3_mapping_prints_it() {
    let server = TestServer::start();
    let known = client(
        &server.addr,
        &["get-feature", "409146138", "-746188906", "--json"],
    );
    assert_eq!(
        stdout(&known),
        "{\"name\": \"Berkshire Valley Management Area Trail, Jefferson, NJ, USA\", \
         \"location\": {\"latitude\": 409146138, \"longitude\": -746188906}}\n"
    );
    // Nothing there: the name and the zero coordinates are defaults, so only the (set) location
    // is left, empty.
    let unknown = client(&server.addr, &["get-feature", "0", "0", "--json"]);
    assert_eq!(json_lines(&unknown), [json!({"location": {}})]);
}

#[test]
fn coordinates_may_be_given_in_degrees() {
    let server = TestServer::start();
    let text = stdout(&client(
        &server.addr,
        &["get-feature", "40.9146138", "-74.6188906"],
    ));
    assert!(text.contains("Berkshire Valley"), "{text}");
    let listed = stdout(&client(
        &server.addr,
        &["list-features", "42.0", "-73.0", "40.0", "-75.0", "--json"],
    ));
    assert!(listed.lines().count() > 10);
}

#[test]
fn record_route_reads_points_from_standard_input() {
    let server = TestServer::start();
    let points = (1..=4)
        .map(|s| format!("{{\"latitude\": {0}, \"longitude\": {0}}}\n", s * 1000))
        .collect::<String>();
    let lines = json_lines(&client_with_stdin(
        &server.addr,
        &["record-route", "--stdin", "--json"],
        &points,
    ));
    // The points sent are not printed: the summary is the only line.
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["pointCount"], 4);
    assert_eq!(lines[0]["distance"], 47);
}

#[test]
fn standard_input_is_proto3_json_with_int32_as_numbers_or_strings() {
    let server = TestServer::start();
    let points = "{\"latitude\": \"1000\", \"longitude\": 1000}\n\
                  {\"latitude\": 2000, \"longitude\": \"2000\"}\n";
    let lines = json_lines(&client_with_stdin(
        &server.addr,
        &["record-route", "--stdin", "--json"],
        points,
    ));
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["pointCount"], 2);
    assert_eq!(lines[0]["distance"], 15);
}

#[test]
fn route_chat_reads_notes_from_standard_input() {
    let server = TestServer::start();
    let notes = "{\"location\": {\"latitude\": 5, \"longitude\": 5}, \"message\": \"hi\"}\n\
                 {\"location\": {\"latitude\": 5, \"longitude\": 5}, \"message\": \"again\"}\n";
    for style in ["sync", "future"] {
        let lines = json_lines(&client_with_stdin(
            &server.addr,
            &["route-chat", "--stdin", "--json", "--style", style],
            notes,
        ));
        // The notes sent are not printed: each line is a reply.
        assert_eq!(
            lines,
            [json!({"location": {"latitude": 5, "longitude": 5}, "message": "hi"})]
        );
    }
}

#[test]
fn a_malformed_input_line_is_named_by_its_number() {
    let server = TestServer::start();
    let input = "{\"latitude\": 1, \"longitude\": 1}\n\nnot json\n";
    let output = client_with_stdin(&server.addr, &["record-route", "--stdin"], input);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("line 3"), "{stderr}");
    // A field the message does not have is refused too, by name.
    let input = "{\"latitude\": 1, \"longitude\": 1}\n{\"lat\": 1}\n";
    let output = client_with_stdin(&server.addr, &["record-route", "--stdin"], input);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("line 2") && stderr.contains("lat"),
        "{stderr}"
    );
}

#[test]
fn a_server_that_is_down_gives_one_clear_line_and_exit_code_2() {
    // A port that was free a moment ago: nothing listens there now.
    let addr = format!("127.0.0.1:{}", common::free_port());
    for style in ["sync", "future"] {
        let output = client(&addr, &["--style", style, "--timeout", "5"]);
        assert_eq!(output.status.code(), Some(2));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains("UNAVAILABLE"), "{stderr}");
        assert!(stderr.contains(&addr), "{stderr}");
    }
}

/// The one JSON error object a failed run under --json prints, after checking that standard
/// error stayed empty and that the run ended with `exit_code`.
fn json_error(output: &Output, exit_code: i32) -> Value {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(exit_code), "stderr: {stderr}");
    assert_eq!(stderr, "", "under --json nothing goes to standard error");
    let stdout = String::from_utf8(output.stdout.clone()).unwrap();
    let last = stdout.lines().last().expect("an error line");
    let value: Value = serde_json::from_str(last).unwrap();
    let keys: Vec<&str> = value
        .as_object()
        .map(|o| o.keys().map(String::as_str).collect())
        .unwrap_or_default();
    assert_eq!(keys, ["error"], "{last}");
    value["error"].clone()
}

#[test]
fn a_server_that_is_down_gives_one_json_error_and_exit_code_2_under_json() {
    let addr = format!("127.0.0.1:{}", common::free_port());
    for style in ["sync", "future"] {
        let output = client(&addr, &["--json", "--style", style, "--timeout", "5"]);
        let error = json_error(&output, 2);
        assert_eq!(String::from_utf8_lossy(&output.stdout).lines().count(), 1);
        assert_eq!(error["code"], 14, "{error}");
        assert_eq!(error["status"], "UNAVAILABLE", "{error}");
        assert_eq!(error["rpc"], "GetFeature", "{error}");
        assert!(
            error["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{error}"
        );
        assert!(error.get("reason").is_none(), "{error}");
    }
}

#[test]
fn a_refused_request_gives_one_json_error_with_the_servers_message_and_exit_code_1() {
    let server = TestServer::start();
    let output = client(&server.addr, &["get-feature", "950000000", "0", "--json"]);
    let error = json_error(&output, 1);
    assert_eq!(String::from_utf8_lossy(&output.stdout).lines().count(), 1);
    assert_eq!(error["code"], 3, "{error}");
    assert_eq!(error["status"], "INVALID_ARGUMENT", "{error}");
    assert_eq!(error["rpc"], "GetFeature", "{error}");
    let message = error["message"].as_str().unwrap_or_default();
    assert!(message.contains("latitude 950000000"), "{error}");
}

#[test]
fn a_local_failure_under_json_is_an_error_object_with_only_a_message() {
    let server = TestServer::start();
    // The points before the bad line are sent: their summary comes first, then the error.
    let input = "{\"latitude\": 1, \"longitude\": 1}\nnot json\n";
    let output = client_with_stdin(&server.addr, &["record-route", "--stdin", "--json"], input);
    let error = json_error(&output, 2);
    let message = error["message"].as_str().unwrap_or_default();
    assert!(message.starts_with("standard input, line 2: "), "{error}");
    assert_eq!(error.as_object().map(|o| o.len()), Some(1), "{error}");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let summary: Value = serde_json::from_str(stdout.lines().next().unwrap()).unwrap();
    assert_eq!(summary["pointCount"], 1, "{stdout}");

    let unreadable = client(
        &server.addr,
        &["record-route", "--json", "--db", "/nonexistent"],
    );
    let error = json_error(&unreadable, 2);
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.contains("/nonexistent")),
        "{error}"
    );
}

#[test]
fn bad_arguments_get_a_usage_error() {
    let output = client("127.0.0.1:1", &["get-feature", "north", "1"]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("invalid value 'north'"), "{stderr}");
}

#[test]
fn version_and_help_name_the_program_describe_arguments_and_show_examples() {
    let run = |args: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_route_guide_client"))
            .args(args)
            .output()
            .unwrap();
        assert!(output.status.success(), "{args:?}");
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    assert!(run(&["--version"]).starts_with("route_guide_client "));
    let help = run(&["get-feature", "--help"]);
    assert!(help.contains("<LAT>  Latitude: E7 integer"), "{help}");
    assert!(help.contains("Examples:"), "{help}");
    assert!(
        run(&["--help"]).contains("--tls "),
        "the --tls switch is listed"
    );
}
