//! `route_guide_bench` as a user runs it: `load` against our server (the `route_guide_server`
//! binary, started here on an ephemeral port), and the suite's report.html against its
//! results.json. The interop suite (`tests/interop/`) runs `load` against the Python server too.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

use routeguide_testkit::{ServerProcess, free_port, standard_db};

/// The load generator, as cargo built it for these tests, run from the repository's root as a
/// user would (its default database is `data/route_guide_db.json`).
fn bench() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_route_guide_bench"));
    command.current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(".."));
    command
}

/// Our server's binary, built beside the load generator (`cargo test --workspace`, and so `make
/// test`, builds it; cargo cannot name another package's binary to a test).
fn server_binary() -> PathBuf {
    let binary =
        Path::new(env!("CARGO_BIN_EXE_route_guide_bench")).with_file_name("route_guide_server");
    assert!(
        binary.exists(),
        "{} is missing: build it first (`cargo build --bins`, or run `cargo test --workspace`)",
        binary.display()
    );
    binary
}

fn start_server() -> ServerProcess {
    ServerProcess::start_binary(&server_binary(), &standard_db(), "warn", &[])
        .expect("route_guide_server starts")
}

/// Runs `route_guide_bench load --addr ADDR ARGS...`.
fn load(addr: &str, args: &[&str]) -> Output {
    bench()
        .args(["load", "--addr", addr])
        .args(args)
        .output()
        .expect("route_guide_bench runs")
}

/// Runs a load that must succeed, with `--format json`, and returns its report.
fn load_json(addr: &str, args: &[&str]) -> Value {
    let output = load(addr, &[args, &["--format", "json"]].concat());
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("--format json prints one JSON object")
}

fn count(report: &Value, field: &str) -> u64 {
    report[field]
        .as_u64()
        .unwrap_or_else(|| panic!("{field} in {report}"))
}

/// The features of the standard database inside the tutorial's rectangle (40..42 N, 75..73 W),
/// counted straight from its JSON.
fn features_in_tutorial_rectangle() -> u64 {
    let text = std::fs::read_to_string(standard_db()).expect("the standard database");
    let entries: Vec<Value> = serde_json::from_str(&text).expect("a JSON list");
    entries
        .iter()
        .filter(|entry| {
            let (lat, lon) = (
                entry["location"]["latitude"].as_i64().unwrap_or(0),
                entry["location"]["longitude"].as_i64().unwrap_or(0),
            );
            (400_000_000..=420_000_000).contains(&lat)
                && (-750_000_000..=-730_000_000).contains(&lon)
        })
        .count() as u64
}

#[test]
fn calls_asked_for_are_the_calls_made_and_all_ok() {
    let server = start_server();
    let args = ["--calls", "500", "--connections", "2", "--in-flight", "8"];
    let report = load_json(&server.addr(), &args);
    assert_eq!(count(&report, "calls"), 500);
    assert_eq!(report["statuses"], serde_json::json!({"OK": 500}));
    assert_eq!(count(&report, "messages"), 500);
    assert_eq!(count(&report["latency"], "count"), 500);
    let in_histogram: u64 = report["histogram"]
        .as_array()
        .expect("a histogram")
        .iter()
        .map(|bucket| count(bucket, "count"))
        .sum();
    assert_eq!(in_histogram, 500);
    let ladder: Vec<f64> = ["p50_us", "p90_us", "p99_us", "p999_us", "max_us"]
        .iter()
        .map(|step| report["latency"][step].as_f64().expect("a latency"))
        .collect();
    assert!(ladder[0] > 0.0, "{ladder:?}");
    assert!(ladder.windows(2).all(|w| w[0] <= w[1]), "{ladder:?}");
}

#[test]
fn invalid_points_are_counted_as_invalid_argument() {
    let server = start_server();
    // Every other call asks about a latitude beyond 90 degrees.
    let args = [
        "--calls",
        "40",
        "--point",
        "409146138,-746188906",
        "--point",
        "950000000,0",
        "--format",
        "csv",
    ];
    let output = load(&server.addr(), &args);
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).expect("UTF-8");
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("section,name,value,unit"));
    let rows: Vec<Vec<&str>> = lines.map(|line| line.split(',').collect()).collect();
    assert!(rows.iter().all(|row| row.len() == 4), "{text}");
    let value = |section: &str, name: &str| -> Option<&str> {
        rows.iter()
            .find(|row| row[0] == section && row[1] == name)
            .map(|row| row[2])
    };
    assert_eq!(value("summary", "calls"), Some("40"));
    assert_eq!(value("status", "OK"), Some("20"));
    assert_eq!(value("status", "INVALID_ARGUMENT"), Some("20"));
    let p50: f64 = value("latency", "p50")
        .expect("p50")
        .parse()
        .expect("a number");
    assert!(p50 > 0.0);
}

#[test]
fn each_rpc_counts_its_messages() {
    let server = start_server();
    let addr = server.addr();

    let listed = load_json(&addr, &["--rpc", "list-features", "--calls", "20"]);
    assert_eq!(listed["statuses"], serde_json::json!({"OK": 20}));
    assert_eq!(
        count(&listed, "messages"),
        20 * features_in_tutorial_rectangle()
    );

    let args = [
        "--rpc",
        "record-route",
        "--calls",
        "30",
        "--route-points",
        "7",
    ];
    let routes = load_json(&addr, &args);
    assert_eq!(routes["statuses"], serde_json::json!({"OK": 30}));
    assert_eq!(count(&routes, "messages"), 210);

    let args = [
        "--rpc",
        "route-chat",
        "--calls",
        "12",
        "--in-flight",
        "4",
        "--chat-notes",
        "6",
    ];
    let chats = load_json(&addr, &args);
    assert_eq!(chats["statuses"], serde_json::json!({"OK": 12}));
    assert_eq!(count(&chats, "messages"), 72);
    assert_eq!(count(&chats, "replies_expected"), 36);
    assert_eq!(count(&chats, "replies_correct"), 36);
    assert_eq!(count(&chats["latency"], "count"), 36);
}

#[test]
fn paced_chats_send_every_note_when_the_lanes_do_not_share_the_chats_evenly() {
    let server = start_server();
    // 3 chats of 5 pairs over 2 lanes: one lane makes two of them, the other one.
    let args = [
        "--rpc",
        "route-chat",
        "--rate",
        "2000",
        "--calls",
        "3",
        "--in-flight",
        "2",
        "--chat-notes",
        "10",
    ];
    let chats = load_json(&server.addr(), &args);
    assert_eq!(chats["statuses"], serde_json::json!({"OK": 3}));
    assert_eq!(count(&chats, "messages"), 30);
    assert_eq!(count(&chats, "replies_expected"), 15);
    assert_eq!(count(&chats, "replies_correct"), 15);
    assert_eq!(count(&chats["latency"], "count"), 15);
}

#[test]
fn a_paced_load_makes_its_rate_times_its_duration() {
    let server = start_server();
    let args = ["--rate", "200", "--duration", "1", "--in-flight", "4"];
    let report = load_json(&server.addr(), &args);
    assert_eq!(report["statuses"], serde_json::json!({"OK": 200}));
    // The last call is due a second after the first.
    assert!(report["secs"].as_f64().expect("secs") >= 0.99, "{report}");
    assert_eq!(report["rate"].as_f64(), Some(200.0));
}

#[test]
fn the_text_report_shows_statuses_ladder_and_histogram() {
    let server = start_server();
    let output = load(&server.addr(), &["--calls", "100"]);
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).expect("UTF-8");
    assert!(text.contains("100 calls in"), "{text}");
    assert!(text.contains("  OK "), "{text}");
    for step in ["p50", "p90", "p99", "p99.9", "max"] {
        assert!(
            text.lines().any(|line| line.trim_start().starts_with(step)),
            "no {step} in {text}"
        );
    }
    let after_histogram: Vec<&str> = text
        .lines()
        .skip_while(|line| *line != "histogram")
        .skip(1)
        .collect();
    assert_eq!(after_histogram.len(), 10, "{text}");
}

#[test]
fn a_wrong_address_is_a_clear_error_with_exit_code_2() {
    let port = free_port().expect("a free port");
    let addr = format!("127.0.0.1:{port}");
    let output = load(&addr, &["--calls", "5"]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("nothing accepts connections at {addr}")),
        "{stderr}"
    );
    assert!(output.stdout.is_empty());

    let output = load("localhost", &["--calls", "5"]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("`localhost` is not HOST:PORT"), "{stderr}");
}

#[test]
fn one_wrong_address_of_a_list_is_named() {
    let server = start_server();
    let port = free_port().expect("a free port");
    let addrs = format!("{},127.0.0.1:{port}", server.addr());
    let output = load(&addrs, &["--calls", "5"]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("nothing accepts connections at 127.0.0.1:{port}")),
        "{stderr}"
    );
}

/// PEM files of a fresh CA and of a certificate it signs for `localhost`: (dir, ca, cert, key).
fn tls_files() -> (PathBuf, PathBuf, PathBuf, PathBuf) {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    // A name of its own: with rcgen's default for both, the server certificate would name
    // itself as its issuer and look self-signed.
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "route_guide_bench test CA");
    let ca =
        CertifiedIssuer::self_signed(params, KeyPair::generate().expect("a CA key")).expect("a CA");
    let key = KeyPair::generate().expect("a server key");
    let cert = CertificateParams::new(vec!["localhost".to_string()])
        .expect("server parameters")
        .signed_by(&key, &ca)
        .expect("a server certificate");
    let dir = std::env::temp_dir().join(format!("routeguide-bench-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let files = (
        dir.join("ca.pem"),
        dir.join("server.pem"),
        dir.join("server.key"),
    );
    std::fs::write(&files.0, ca.pem()).expect("ca.pem");
    std::fs::write(&files.1, cert.pem()).expect("server.pem");
    std::fs::write(&files.2, key.serialize_pem()).expect("server.key");
    (dir, files.0, files.1, files.2)
}

#[test]
fn the_tls_flags_reach_a_tls_server_and_plaintext_does_not() {
    let (dir, ca, cert, key) = tls_files();
    let (cert, key) = (cert.to_string_lossy(), key.to_string_lossy());
    let flags = ["--tls-cert", cert.as_ref(), "--tls-key", key.as_ref()];
    let server = ServerProcess::start_binary(&server_binary(), &standard_db(), "warn", &flags)
        .expect("route_guide_server starts with TLS");
    let ca = ca.to_string_lossy();
    let tls = [
        "--calls",
        "50",
        "--tls-ca",
        ca.as_ref(),
        "--tls-server-name",
        "localhost",
    ];
    let report = load_json(&server.addr(), &tls);
    assert_eq!(
        report["statuses"],
        serde_json::json!({"OK": 50}),
        "{}",
        report["first_errors"]
    );

    // Without the flags the calls are made, fail, and are counted: the report says why.
    let report = load_json(&server.addr(), &["--calls", "5"]);
    assert_eq!(report["statuses"], serde_json::json!({"UNAVAILABLE": 5}));
    let why = report["first_errors"]["UNAVAILABLE"].as_str().unwrap_or("");
    assert!(why.contains("agree on TLS"), "{why}");
    let _ = std::fs::remove_dir_all(dir);
}

/// The elements of `node`'s subtree named `name` whose `class` attribute holds `class`.
fn with_class<'a, 'input>(
    node: roxmltree::Node<'a, 'input>,
    name: &str,
    class: &str,
) -> Vec<roxmltree::Node<'a, 'input>> {
    node.descendants()
        .filter(|n| n.tag_name().name() == name)
        .filter(|n| {
            n.attribute("class")
                .is_some_and(|c| c.split(' ').any(|c| c == class))
        })
        .collect()
}

fn number(node: roxmltree::Node<'_, '_>, attribute: &str) -> f64 {
    node.attribute(attribute)
        .unwrap_or_else(|| panic!("{attribute} on {node:?}"))
        .parse()
        .expect("a number")
}

/// The same figures, read back from the page and from results.json: equal but for the last bit
/// (serde_json's default float parsing may round the other way than Rust's `parse`).
fn assert_same_figures(shown: &[f64], expected: &[f64], what: &str) {
    let same = |a: f64, b: f64| (a - b).abs() <= a.abs().max(b.abs()) * 1e-15;
    assert!(
        shown.len() == expected.len() && shown.iter().zip(expected).all(|(a, b)| same(*a, *b)),
        "{what}: the page shows {shown:?}, results.json holds {expected:?}"
    );
}

/// The points of an SVG path drawn as one line: `d="Mx,y Lx,y Lx,y..."`.
fn path_points(d: &str) -> Vec<(f64, f64)> {
    assert!(d.starts_with('M'), "{d}");
    d.split(['M', 'L'])
        .map(str::trim)
        .filter(|point| !point.is_empty())
        .map(|point| {
            let (x, y) = point.split_once(',').expect("x,y");
            let coordinate = |c: &str| c.trim().parse::<f64>().expect("a number");
            (coordinate(x), coordinate(y))
        })
        .collect()
}

/// How far along the report's x axis a percentile lies: the axis is logarithmic in 1 / (1 - p).
fn log_axis(percentile: f64) -> f64 {
    -(1.0 - percentile / 100.0).log10()
}

/// The latency chart's two scales, read from its curve's first and last points: where a
/// percentile and a latency are drawn, in SVG coordinates (y grows downwards).
struct Axes {
    /// The first point, as (percentile, us) and as drawn (x, y).
    origin: ((f64, f64), (f64, f64)),
    /// Pixels per unit of [`log_axis`], and per microsecond.
    per_axis: f64,
    per_us: f64,
}

impl Axes {
    fn x(&self, percentile: f64) -> f64 {
        let ((from, _), (x, _)) = self.origin;
        x + (log_axis(percentile) - log_axis(from)) * self.per_axis
    }

    fn y(&self, us: f64) -> f64 {
        let ((_, from), (_, y)) = self.origin;
        y + (us - from) * self.per_us
    }
}

/// How far a coordinate may be from where it should be: the page rounds each to 0.1, so a point
/// is off by 0.05 and a scale read from two rounded points by 0.15 more at the most.
const PIXEL: f64 = 0.25;

/// Checks that the path `drawn` draws `curve` (results.json's points: percentile, microseconds):
/// a point for each, left to right, the slower higher, each where the chart's scales put it
/// (the x axis logarithmic in 1 / (1 - p), the y axis linear in microseconds). Returns the scales,
/// taken from the first and last points.
fn assert_draws(drawn: &[(f64, f64)], curve: &[(f64, f64)], what: &str) -> Axes {
    assert_eq!(
        drawn.len(),
        curve.len(),
        "{what}: a point per point of the curve"
    );
    assert!(
        drawn.windows(2).all(|w| w[0].0 < w[1].0),
        "{what}: x rises strictly: {drawn:?}"
    );
    assert!(
        drawn.windows(2).all(|w| w[1].1 <= w[0].1),
        "{what}: a slower point is drawn no lower (a smaller y): {drawn:?}"
    );
    let (first, last) = (curve[0], curve[curve.len() - 1]);
    let (left, right) = (drawn[0], drawn[drawn.len() - 1]);
    assert!(
        last.1 > first.1 && right.1 < left.1,
        "{what}: p99.9 is above p50, and drawn higher: {curve:?} as {drawn:?}"
    );
    let axes = Axes {
        origin: (first, left),
        per_axis: (right.0 - left.0) / (log_axis(last.0) - log_axis(first.0)),
        per_us: (right.1 - left.1) / (last.1 - first.1),
    };
    for (&(x, y), &(percentile, us)) in drawn.iter().zip(curve) {
        assert!(
            (axes.x(percentile) - x).abs() <= PIXEL && (axes.y(us) - y).abs() <= PIXEL,
            "{what}: {percentile}%, {us} us is drawn at ({x}, {y}), off its scales"
        );
    }
    axes
}

/// Checks that a step of the ladder, marked at `at` for `percentile`, lies on the path `drawn`:
/// at its percentile's x, and between the heights of the path's points either side of it (the
/// curve between two points is no lower than the first nor higher than the second).
fn assert_on_path(at: (f64, f64), percentile: f64, drawn: &[(f64, f64)], axes: &Axes, what: &str) {
    let (x, y) = at;
    assert!(
        (axes.x(percentile) - x).abs() <= PIXEL,
        "{what}: the p{percentile} mark is at x {x}, not at its percentile"
    );
    let segment = drawn
        .windows(2)
        .find(|w| w[0].0 <= x && x <= w[1].0)
        .unwrap_or_else(|| panic!("{what}: the p{percentile} mark at x {x} is off the path"));
    assert!(
        segment[1].1 - PIXEL <= y && y <= segment[0].1 + PIXEL,
        "{what}: the p{percentile} mark at {at:?} is off the path's segment {segment:?}"
    );
}

#[test]
fn the_report_draws_every_scenario_of_results_json() {
    let out = std::env::temp_dir().join(format!("routeguide-report-{}", std::process::id()));
    let suite = bench()
        .args([
            "suite",
            "--only",
            "unary",
            "--unary-secs",
            "0.2",
            "--server",
        ])
        .arg(server_binary())
        .arg("--db")
        .arg(standard_db())
        .arg("--out")
        .arg(&out)
        .output()
        .expect("route_guide_bench runs");
    assert!(
        suite.status.success(),
        "{}",
        String::from_utf8_lossy(&suite.stderr)
    );
    let results: Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("results.json")).expect("results.json"),
    )
    .expect("JSON");
    let html = std::fs::read_to_string(out.join("report.html")).expect("report.html");
    let _ = std::fs::remove_dir_all(&out);
    // Self-contained: no script, nothing fetched (the only URLs are XML namespaces).
    assert!(!html.contains("<script"));
    assert!(!html.contains("src=") && !html.contains("<link"));
    let page = roxmltree::Document::parse_with_options(
        &html,
        roxmltree::ParsingOptions {
            allow_dtd: true,
            ..Default::default()
        },
    )
    .expect("report.html is well-formed");

    let run = &results["run"];
    for field in ["date", "commit", "machine", "kernel"] {
        let shown = with_class(page.root(), "dd", field);
        assert_eq!(shown.len(), 1, "{field}");
        assert_eq!(Some(shown[0].text().unwrap_or("")), run[field].as_str());
        assert!(!shown[0].text().unwrap_or("").is_empty(), "{field}");
    }

    let rows = results["rows"].as_array().expect("rows");
    let mut scenarios: Vec<&str> = Vec::new();
    for row in rows {
        let scenario = row["scenario"].as_str().expect("a scenario");
        if !scenarios.contains(&scenario) {
            scenarios.push(scenario);
        }
    }
    assert_eq!(
        scenarios,
        [
            "GetFeature, 100 features, 1x1",
            "GetFeature, 100 features, 4x16"
        ]
    );
    let sections = with_class(page.root(), "section", "scenario");
    let shown: Vec<&str> = sections
        .iter()
        .map(|s| s.attribute("data-scenario").unwrap_or(""))
        .collect();
    assert_eq!(shown, scenarios, "one section per scenario, in order");

    for (section, scenario) in sections.iter().zip(&scenarios) {
        // Every figure of the scenario, with its value.
        let values: Vec<f64> = with_class(*section, "td", "value")
            .iter()
            .map(|td| number(*td, "data-value"))
            .collect();
        let expected: Vec<f64> = rows
            .iter()
            .filter(|row| row["scenario"] == *scenario)
            .map(|row| row["value"].as_f64().expect("a value"))
            .collect();
        assert_same_figures(&values, &expected, scenario);

        // One latency curve, through the ladder of results.json.
        let latency = results["latency"]
            .as_array()
            .expect("latency")
            .iter()
            .find(|l| l["scenario"] == *scenario)
            .expect("each GetFeature scenario has its latency");
        let charts = with_class(*section, "svg", "latency");
        assert_eq!(charts.len(), 1, "{scenario}");
        let curve = with_class(charts[0], "path", "curve");
        assert_eq!(curve.len(), 1);
        let drawn = path_points(curve[0].attribute("d").expect("a path"));
        let points: Vec<(f64, f64)> = latency["curve"]
            .as_array()
            .expect("a curve")
            .iter()
            .map(|p| {
                let read = |field: &str| p[field].as_f64().expect("a number");
                (read("percentile"), read("us"))
            })
            .collect();
        assert!(points.len() > 10, "{scenario}: {points:?}");
        let axes = assert_draws(&drawn, &points, scenario);
        let circles = with_class(charts[0], "circle", "step");
        for circle in &circles {
            let at = (number(*circle, "cx"), number(*circle, "cy"));
            let percentile = number(*circle, "data-percentile");
            assert_on_path(at, percentile, &drawn, &axes, scenario);
        }
        let steps: Vec<f64> = circles.iter().map(|c| number(*c, "data-us")).collect();
        let summary = &latency["summary"];
        let ladder: Vec<f64> = ["p50_us", "p90_us", "p99_us", "p999_us"]
            .iter()
            .map(|step| summary[step].as_f64().expect("a latency"))
            .collect();
        assert_same_figures(&steps, &ladder, scenario);
    }

    // The 4x16 scenario's server CPU per call, as a bar against its target of 10 us.
    let cpu = rows
        .iter()
        .find(|row| row["figure"] == "server CPU per call")
        .expect("a CPU figure");
    let bars = with_class(sections[1], "rect", "bar");
    assert_eq!(bars.len(), 1);
    assert_same_figures(
        &[number(bars[0], "data-value")],
        &[cpu["value"].as_f64().expect("a value")],
        "CPU bar",
    );
    let target = with_class(sections[1], "line", "target");
    assert_eq!(number(target[0], "data-limit"), 10.0);
    assert!(with_class(sections[0], "rect", "bar").is_empty());
}
