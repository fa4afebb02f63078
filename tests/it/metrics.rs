//! Observability, against the real binary: `--metrics-addr` serves `/metrics` with exactly the
//! calls made (by method, code and message), in a text that `promtool` accepts and a real
//! Prometheus scrapes; `/healthz` answers 503 from the start of a graceful shutdown; the JSON
//! access log is one JSON object per line.

use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::time::Duration;

use futures::channel::mpsc;
use grpcio::RpcStatusCode;
use routeguide::proto::{self, Point};
use routeguide::{MAX_LATITUDE_E7, MAX_LONGITUDE_E7, RouteGuideClient};
use routeguide_testkit::{Scrape, eventually, free_port, http_get};

use crate::common::process::{ServerProcess, expect_clean_exit, start_server};
use crate::common::prometheus::{PrometheusProcess, have};
use crate::common::{assert_status, standard_entries};

const LIMIT: Duration = Duration::from_secs(10);

/// A server with `--metrics-addr` on a free port, and `extra` flags; returns it with the metrics
/// address.
fn start_with_metrics(extra: &[&str]) -> (ServerProcess, String) {
    let metrics_addr = format!("127.0.0.1:{}", free_port().unwrap());
    let mut flags = vec!["--metrics-addr", metrics_addr.as_str()];
    flags.extend_from_slice(extra);
    (start_server(&flags), metrics_addr)
}

/// What `/metrics` answers, which must be 200 and the text format.
#[track_caller]
fn scrape(metrics_addr: &str) -> Scrape {
    Scrape::fetch(metrics_addr).unwrap_or_else(|e| panic!("{e}"))
}

/// The one sample of a RouteGuide method's series.
#[track_caller]
fn of_method(metrics: &Scrape, name: &str, method: &str) -> f64 {
    metrics.value(
        name,
        &[
            ("grpc_service", "routeguide.RouteGuide"),
            ("grpc_method", method),
        ],
    )
}

fn whole_world() -> proto::Rectangle {
    proto::rectangle(
        proto::point(-MAX_LATITUDE_E7, -MAX_LONGITUDE_E7),
        proto::point(MAX_LATITUDE_E7, MAX_LONGITUDE_E7),
    )
}

fn out_of_range() -> Point {
    proto::point(950_000_000, 0)
}

#[test]
fn metrics_count_exactly_the_calls_made_by_method_code_and_message() {
    let (server, metrics_addr) = start_with_metrics(&[]);
    let client = RouteGuideClient::connect(&server.addr());
    let features = standard_entries().len();

    // GetFeature: 3 answered, 2 refused.
    for point in [
        proto::point(409_146_138, -746_188_906),
        proto::point(0, 0),
        proto::point(1, 1),
    ] {
        client.get_feature(point).unwrap();
    }
    for _ in 0..2 {
        assert_status(
            client.get_feature(out_of_range()),
            RpcStatusCode::INVALID_ARGUMENT,
            "latitude",
        );
    }
    // ListFeatures: every feature, one message each.
    let listed = client.list_features(whole_world()).count();
    assert_eq!(listed, features);
    // RecordRoute: a stream of 7 points, one summary.
    let route: Vec<Point> = (1..=7).map(|i| proto::point(i * 1000, i * 1000)).collect();
    assert_eq!(client.record_route(route).unwrap().point_count, 7);
    // RouteChat: 4 notes at one place; each gets the notes before it back: 0 + 1 + 2 + 3.
    let notes = (0..4).map(|i| proto::route_note(proto::point(5, 5), format!("note {i}")));
    assert_eq!(client.route_chat(notes.collect::<Vec<_>>()).count(), 6);

    // A RouteChat that the client cancels after 2 notes (at two places: no replies).
    let (tx, rx) = mpsc::unbounded();
    let replies = client.route_chat_stream(rx);
    let weights = ["first", "second"].map(|m| m.len() as f64 + 64.0);
    tx.unbounded_send(proto::route_note(proto::point(6, 6), "first"))
        .unwrap();
    tx.unbounded_send(proto::route_note(proto::point(7, 7), "second"))
        .unwrap();
    let open = eventually("the chat's 2 notes are on its board", LIMIT, || {
        let metrics = scrape(&metrics_addr);
        let notes = metrics.value("routeguide_chat_notes", &[("scope", "stream")]);
        if notes == 2.0 {
            Ok(metrics)
        } else {
            Err(notes)
        }
    });
    assert_eq!(
        of_method(&open, "routeguide_calls_in_flight", "RouteChat"),
        1.0
    );
    assert_eq!(
        open.value(
            "routeguide_chat_locations",
            &[("scope", "stream"), ("backend", "memory")]
        ),
        2.0
    );
    assert_eq!(
        open.value("routeguide_chat_bytes", &[("scope", "stream")]),
        weights.iter().sum::<f64>()
    );
    drop(replies);

    let metrics = eventually("every call has ended", LIMIT, || {
        let metrics = scrape(&metrics_addr);
        let in_flight: f64 = metrics
            .all("routeguide_calls_in_flight", &[])
            .iter()
            .map(|sample| sample.value)
            .sum();
        if in_flight == 0.0 {
            Ok(metrics)
        } else {
            Err(in_flight)
        }
    });
    drop(tx);

    // (method, type, started, received, sent, [(code, count)])
    let expected = [
        (
            "GetFeature",
            "unary",
            5,
            5,
            3,
            vec![("OK", 3), ("InvalidArgument", 2)],
        ),
        (
            "ListFeatures",
            "server_stream",
            1,
            1,
            features,
            vec![("OK", 1)],
        ),
        ("RecordRoute", "client_stream", 1, 7, 1, vec![("OK", 1)]),
        (
            "RouteChat",
            "bidi_stream",
            2,
            6,
            6,
            vec![("OK", 1), ("Canceled", 1)],
        ),
    ];
    for (method, kind, started, received, sent, codes) in expected {
        let labels = [("grpc_method", method), ("grpc_type", kind)];
        for (series, want) in [
            ("grpc_server_started_total", started),
            ("grpc_server_msg_received_total", received),
            ("grpc_server_msg_sent_total", sent),
            ("grpc_server_handling_seconds_count", started),
        ] {
            assert_eq!(
                metrics.value(series, &labels),
                want as f64,
                "{method}: {series}"
            );
        }
        let codes: HashMap<&str, f64> = codes.into_iter().map(|(c, n)| (c, n as f64)).collect();
        let handled = metrics.all("grpc_server_handled_total", &labels);
        // Every code is there from the start, at zero unless a call ended with it.
        assert_eq!(handled.len(), 17, "{method}");
        for sample in handled {
            let code = sample.labels["grpc_code"].as_str();
            assert_eq!(
                sample.value,
                codes.get(code).copied().unwrap_or(0.0),
                "{method} {code}"
            );
        }
    }
    // The ended chats' boards are gone, and so is what they held.
    assert_eq!(metrics.value("routeguide_chat_notes", &[]), 0.0);
    assert_eq!(metrics.value("routeguide_chat_bytes", &[]), 0.0);
    assert_eq!(
        metrics.value("routeguide_features_loaded", &[]),
        features as f64
    );
    for name in [
        "process_resident_memory_bytes",
        "process_open_fds",
        "process_threads",
    ] {
        assert!(metrics.value(name, &[]) > 0.0, "{name}");
    }
    assert!(metrics.value("process_cpu_seconds_total", &[]) >= 0.0);
}

#[test]
fn the_shared_board_s_gauges_follow_its_notes() {
    let (server, metrics_addr) = start_with_metrics(&["--chat-scope", "shared"]);
    let client = RouteGuideClient::connect(&server.addr());
    let notes: Vec<_> = ["a", "bb", "ccc"]
        .iter()
        .enumerate()
        .map(|(i, m)| proto::route_note(proto::point(i as i32 % 2, 0), *m))
        .collect();
    assert_eq!(client.route_chat(notes).count(), 1);
    let metrics = scrape(&metrics_addr);
    let labels = [("scope", "shared"), ("backend", "memory")];
    // The shared board outlives the calls.
    assert_eq!(metrics.value("routeguide_chat_locations", &labels), 2.0);
    assert_eq!(metrics.value("routeguide_chat_notes", &labels), 3.0);
    assert_eq!(
        metrics.value("routeguide_chat_bytes", &labels),
        (1 + 2 + 3 + 3 * 64) as f64
    );
}

#[test]
fn the_metrics_pass_promtool_check_metrics() {
    if !have("promtool", "the_metrics_pass_promtool_check_metrics") {
        return;
    }
    let (server, metrics_addr) = start_with_metrics(&[]);
    let client = RouteGuideClient::connect(&server.addr());
    client.get_feature(proto::point(0, 0)).unwrap();
    let _ = client.get_feature(out_of_range());
    let text = http_get(&metrics_addr, "/metrics").unwrap().body;

    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut promtool.stdin.take().unwrap(), text.as_bytes()).unwrap();
    let output = promtool.wait_with_output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "promtool: {said}\n{text}");
    // Lint findings (a counter without `_total`, a unit out of place) are printed too.
    assert_eq!(said.trim(), "", "promtool found problems");
}

#[test]
fn a_real_prometheus_scrapes_the_grpc_series() {
    if !have("prometheus", "a_real_prometheus_scrapes_the_grpc_series") {
        return;
    }
    let (server, metrics_addr) = start_with_metrics(&[]);
    let client = RouteGuideClient::connect(&server.addr());
    client.get_feature(proto::point(0, 0)).unwrap();
    assert_status(
        client.get_feature(out_of_range()),
        RpcStatusCode::INVALID_ARGUMENT,
        "",
    );
    let prometheus = PrometheusProcess::start(
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR")),
        &[metrics_addr],
        Duration::from_millis(200),
    )
    .unwrap();

    let series = prometheus.wait_for(
        r#"grpc_server_handled_total{grpc_method="GetFeature",grpc_code!="OK",grpc_code!="InvalidArgument"}"#,
        Duration::from_secs(60),
    );
    assert_eq!(series.len(), 15, "the other codes, at 0");
    let handled = prometheus.wait_for("grpc_server_handled_total", LIMIT);
    let count = |code: &str| {
        handled
            .iter()
            .find(|s| {
                s["metric"]["grpc_method"] == "GetFeature" && s["metric"]["grpc_code"] == code
            })
            .map(|s| s["value"][1].as_str().unwrap().to_string())
    };
    assert_eq!(count("OK").as_deref(), Some("1"));
    assert_eq!(count("InvalidArgument").as_deref(), Some("1"));
    let sample = &handled[0]["metric"];
    assert_eq!(sample["job"], "routeguide");
    assert_eq!(sample["grpc_service"], "routeguide.RouteGuide");
    // The README's dashboard query runs (its value needs two scrapes to be a number).
    prometheus
        .query("histogram_quantile(0.99, sum by (le, grpc_method) (rate(grpc_server_handling_seconds_bucket[1m])))")
        .unwrap();
}

#[test]
fn healthz_answers_503_from_the_start_of_a_graceful_shutdown() {
    let (mut server, metrics_addr) = start_with_metrics(&["--grace", "10"]);
    assert_eq!(http_get(&metrics_addr, "/healthz").unwrap().status, 200);
    // A route in flight holds the server in its grace period.
    let client = RouteGuideClient::connect(&server.addr());
    let (points_tx, points_rx) = std::sync::mpsc::channel::<Point>();
    let pending = client.record_route_future(points_rx);
    points_tx.send(proto::point(1000, 1000)).unwrap();
    eventually("the route is on the server", LIMIT, || {
        let metrics = scrape(&metrics_addr);
        match of_method(&metrics, "grpc_server_msg_received_total", "RecordRoute") {
            1.0 => Ok(()),
            n => Err(n),
        }
    });

    server.terminate().unwrap();
    let answer = eventually("/healthz says 503", LIMIT, || {
        match http_get(&metrics_addr, "/healthz") {
            Ok(answer) if answer.status == 503 => Ok(answer),
            other => Err(other),
        }
    });
    assert!(answer.body.contains("shutting down"), "{}", answer.body);
    // Still draining: the route is answered, then the server exits.
    assert!(
        server.wait_for_exit(Duration::from_millis(0)).is_err(),
        "the server waited for the route"
    );
    drop(points_tx);
    assert_eq!(pending.wait().unwrap().point_count, 1);
    expect_clean_exit(&mut server);
}

#[test]
fn the_admin_server_answers_channelz_and_refuses_the_rest() {
    let (server, metrics_addr) = start_with_metrics(&[]);
    RouteGuideClient::connect(&server.addr())
        .get_feature(proto::point(0, 0))
        .unwrap();
    let answer = http_get(&metrics_addr, "/channelz").unwrap();
    assert_eq!(answer.status, 200);
    let channelz: serde_json::Value = serde_json::from_str(&answer.body).unwrap();
    let servers = channelz["servers"]["server"]
        .as_array()
        .expect("the gRPC server");
    let listeners = servers
        .iter()
        .flat_map(|s| s["listenSocket"].as_array().cloned().unwrap_or_default())
        .count();
    assert_eq!(listeners, 1, "{}", answer.body);
    assert!(
        servers.iter().any(|s| s["data"]["callsSucceeded"] == "1"),
        "{}",
        answer.body
    );
    assert_eq!(http_get(&metrics_addr, "/nothing").unwrap().status, 404);
}

#[test]
fn the_json_access_log_is_one_object_per_line_with_each_call() {
    let mut server = crate::common::process::start_server_logging(
        "info",
        &["--access-log", "--log-format", "json"],
    );
    let client = RouteGuideClient::connect(&server.addr());
    client.get_feature(proto::point(0, 0)).unwrap();
    assert_status(
        client.get_feature(out_of_range()),
        RpcStatusCode::INVALID_ARGUMENT,
        "",
    );
    let listed = client.list_features(whole_world()).count();
    server.terminate().unwrap();
    let lines = server.log_until("bye", LIMIT).unwrap();

    let records: Vec<serde_json::Value> = lines
        .iter()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    for record in &records {
        for field in ["time", "level", "target", "message"] {
            assert!(record[field].is_string(), "no {field}: {record}");
        }
    }
    let calls: Vec<_> = records
        .iter()
        .filter(|r| r["target"] == routeguide::ACCESS_LOG_TARGET)
        .collect();
    assert_eq!(calls.len(), 3, "{records:?}");
    let expected = [
        ("/routeguide.RouteGuide/GetFeature", "OK", 0, 1, 1),
        (
            "/routeguide.RouteGuide/GetFeature",
            "INVALID_ARGUMENT",
            3,
            1,
            0,
        ),
        ("/routeguide.RouteGuide/ListFeatures", "OK", 0, 1, listed),
    ];
    for (call, (method, status, code, messages_in, messages_out)) in calls.iter().zip(expected) {
        assert_eq!(call["level"], "INFO");
        assert_eq!(call["method"], method);
        assert_eq!(call["status"], status);
        assert_eq!(call["code"], code);
        assert_eq!(call["messages_in"], messages_in);
        assert_eq!(call["messages_out"], messages_out as u64);
        assert!(
            call["peer"].as_str().unwrap().contains("127.0.0.1:"),
            "{call}"
        );
        assert!(call["duration_ms"].as_f64().unwrap() >= 0.0, "{call}");
        assert!(call["time"].as_str().unwrap().ends_with('Z'), "{call}");
    }
}

#[test]
fn redis_posts_their_outcomes_and_whether_redis_is_up_are_counted() {
    let test = "redis_posts_their_outcomes_and_whether_redis_is_up_are_counted";
    let Some(mut redis) = crate::common::redis::start_redis(test) else {
        return;
    };
    let url = redis.url();
    let (server, metrics_addr) =
        start_with_metrics(&["--chat-scope", "shared", "--chat-backend", &url]);
    let client = RouteGuideClient::connect(&server.addr());
    let notes: Vec<_> = (0..3)
        .map(|i| proto::route_note(proto::point(9, 9), format!("note {i}")))
        .collect();
    assert_eq!(client.route_chat(notes).count(), 3);
    let metrics = scrape(&metrics_addr);
    assert_eq!(metrics.value("routeguide_chat_redis_up", &[]), 1.0);
    let posts = |metrics: &Scrape, outcome| {
        metrics.value("routeguide_chat_redis_posts_total", &[("outcome", outcome)])
    };
    assert_eq!(posts(&metrics, "stored"), 3.0);
    assert_eq!(
        metrics.value("routeguide_chat_redis_post_seconds_count", &[]),
        3.0
    );
    // This replica's copy of the board holds its own notes.
    let labels = [("scope", "shared"), ("backend", "redis")];
    assert_eq!(metrics.value("routeguide_chat_notes", &labels), 3.0);

    redis.stop();
    let note = proto::route_note(proto::point(9, 9), "while Redis is down");
    let lost = client.route_chat(vec![note]).collect::<Result<Vec<_>, _>>();
    assert_status(lost, RpcStatusCode::UNAVAILABLE, "unavailable");
    let metrics = scrape(&metrics_addr);
    assert_eq!(metrics.value("routeguide_chat_redis_up", &[]), 0.0);
    assert_eq!(posts(&metrics, "unreachable"), 1.0);
    assert_eq!(posts(&metrics, "stored"), 3.0);
    // The call ends on the server just after its status is sent.
    eventually("the call is counted as UNAVAILABLE", LIMIT, || {
        let metrics = scrape(&metrics_addr);
        let labels = [("grpc_method", "RouteChat"), ("grpc_code", "Unavailable")];
        match metrics.value("grpc_server_handled_total", &labels) {
            1.0 => Ok(()),
            n => Err(n),
        }
    });
}

#[test]
fn a_metrics_address_in_use_stops_the_server_naming_it() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let output = Command::new(env!("CARGO_BIN_EXE_route_guide_server"))
        .args(["--addr", "127.0.0.1:0", "--metrics-addr", &addr])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("cannot serve metrics on {addr}")),
        "{stderr}"
    );
}
