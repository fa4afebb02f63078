//! `make bench`: starts servers pinned to one CPU, runs the load scenarios from this process
//! (pinned to the other by the Makefile), measures the server's CPU time per call from `/proc`,
//! and prints a table (also written as JSON).

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::{Value, json};

use super::generate::write_database;
use super::load::{self, ChatPace};
use super::process::ServerProcess;
use super::redis::RedisProcess;
use crate::geo::{Bounds, Coordinates, MAX_LATITUDE_E7, MAX_LONGITUDE_E7};
use crate::proto::{Point, Rectangle};
use crate::random::SplitMix64;
use crate::store::FeatureStore;

/// What the suite runs, and where.
pub struct SuiteConfig {
    pub server_binary: PathBuf,
    pub standard_db: PathBuf,
    /// Where generated databases and the JSON report go.
    pub work_dir: PathBuf,
    /// Features in the large database.
    pub big_features: usize,
    /// How long each unary scenario runs.
    pub unary_duration: Duration,
    /// The CPU the servers are pinned to, when `taskset` is available.
    pub server_cpu: Option<usize>,
    /// The servers' completion-queue threads.
    pub server_threads: usize,
    /// The interop suite's Python server, to compare with: (python, script).
    pub python_peer: Option<(PathBuf, PathBuf)>,
    /// The parts to run; all of them when empty.
    pub only: Vec<Part>,
}

/// The parts of the suite, which `--only` picks from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Part {
    /// GetFeature on the standard 100 features, 1x1 and 4x16.
    Unary,
    /// Everything on the 1,000,000-feature database: loading, GetFeature, ListFeatures,
    /// RecordRoute, RouteChat in memory.
    Big,
    /// RouteChat over Redis with two replicas (when redis-server is installed).
    Redis,
    /// GetFeature 4x16 on the Python peer server, and the ratio to ours (with `unary`).
    Peer,
}

impl SuiteConfig {
    fn runs(&self, part: Part) -> bool {
        self.only.is_empty() || self.only.contains(&part)
    }
}

/// One line of the table.
#[derive(Serialize)]
struct Row {
    scenario: String,
    figure: String,
    value: f64,
    unit: &'static str,
    target: String,
}

/// Runs every scenario, prints the table and writes it with the full reports as JSON.
pub fn run(config: &SuiteConfig) -> Result<(), String> {
    std::fs::create_dir_all(&config.work_dir).map_err(|e| e.to_string())?;
    let mut rows = Vec::new();
    let mut details = serde_json::Map::new();

    let standard = FeatureStore::load(&config.standard_db).map_err(|e| e.to_string())?;
    let standard_points = store_points(&standard);
    let ours_calls_per_sec = if config.runs(Part::Unary) {
        progress("GetFeature on the standard 100 features");
        let small_server = start_server(config, &config.standard_db)?;
        let (latency_1x1, cpu_small) = unary_pair(config, &small_server, &standard_points)?;
        figures(
            &mut rows,
            "GetFeature, 100 features, 1x1",
            &[
                ("p50 latency", latency_1x1.latency.p50_us, "us", "<= 80"),
                ("p99 latency", latency_1x1.latency.p99_us, "us", ""),
            ],
        );
        figures(
            &mut rows,
            "GetFeature, 100 features, 4x16",
            &[
                ("calls/s", cpu_small.0.calls_per_sec, "/s", ""),
                ("server CPU per call", cpu_small.1, "us", "<= 10"),
                ("p99 latency", cpu_small.0.latency.p99_us, "us", ""),
            ],
        );
        details.insert("get_feature_100_1x1".into(), json!(latency_1x1));
        details.insert(
            "get_feature_100_4x16".into(),
            json!({"report": cpu_small.0, "server_cpu_us_per_call": cpu_small.1}),
        );
        drop(small_server);
        Some(cpu_small.0.calls_per_sec)
    } else {
        None
    };

    if config.runs(Part::Big) {
        let big_db = big_database(config)?;
        progress(&format!("loading {} features", config.big_features));
        let started = Instant::now();
        let big_server = start_server(config, &big_db)?;
        let load_secs = started.elapsed().as_secs_f64();
        let (rss, peak_rss) = big_server.memory()?;
        figures(
            &mut rows,
            "Load 1M-feature database",
            &[
                ("time to listening", load_secs, "s", "< 2"),
                ("peak RSS", peak_rss as f64 / 1e6, "MB", "< 250"),
            ],
        );
        details.insert(
            "load_big".into(),
            json!({"secs": load_secs, "rss_bytes": rss, "peak_rss_bytes": peak_rss}),
        );

        let big = FeatureStore::load(&big_db).map_err(|e| e.to_string())?;
        let big_points = store_points(&big);
        progress("GetFeature on the large database");
        let (big_1x1, cpu_big) = unary_pair(config, &big_server, &big_points)?;
        figures(
            &mut rows,
            "GetFeature, 1M features, 1x1",
            &[(
                "p50 latency",
                big_1x1.latency.p50_us,
                "us",
                "within 10% of 100",
            )],
        );
        figures(
            &mut rows,
            "GetFeature, 1M features, 4x16",
            &[("server CPU per call", cpu_big.1, "us", "within 10% of 100")],
        );
        details.insert("get_feature_1m_1x1".into(), json!(big_1x1));
        details.insert(
            "get_feature_1m_4x16".into(),
            json!({"report": cpu_big.0, "server_cpu_us_per_call": cpu_big.1}),
        );

        progress("ListFeatures of the whole world");
        let world = world_rectangle();
        let (whole, cpu) = on_server(&big_server, || {
            load::list_features(&big_server.addr(), world)
        })?;
        let cpu_per_feature = per_call_us(cpu, whole.features);
        figures(
            &mut rows,
            "ListFeatures, whole world, 1M",
            &[
                ("server CPU per feature", cpu_per_feature, "us", ""),
                ("features/s", whole.features_per_sec, "/s", ">= 1,000,000"),
                ("throughput", whole.mb_per_sec, "MB/s", ""),
            ],
        );
        details.insert(
            "list_world".into(),
            json!({"report": whole, "server_cpu_us_per_feature": cpu_per_feature}),
        );

        progress("ListFeatures of a rectangle holding about 1,000 features");
        let small_rect = rectangle_holding(1_000, big.len());
        let queries = 200;
        let (small, cpu) = on_server(&big_server, || {
            load::repeated_list_features(&big_server.addr(), &small_rect, queries)
        })?;
        let cpu_per_query = per_call_us(cpu, queries);
        figures(
            &mut rows,
            "ListFeatures, ~1,000 features",
            &[
                ("p50 latency", small.latency.p50_us, "us", ""),
                ("server CPU per query", cpu_per_query, "us", "< 1000"),
            ],
        );
        details.insert(
            "list_small".into(),
            json!({"report": small, "server_cpu_us_per_query": cpu_per_query}),
        );

        progress("RecordRoute with 1,000,000 points");
        let (route, cpu) = on_server(&big_server, || {
            load::record_route(&big_server.addr(), &big_points, 1_000_000)
        })?;
        let cpu_per_point = per_call_us(cpu, route.points);
        figures(
            &mut rows,
            "RecordRoute, 1M points",
            &[
                ("server CPU per point", cpu_per_point, "us", ""),
                ("points/s", route.points_per_sec, "/s", ">= 1,000,000"),
            ],
        );
        details.insert(
            "record_route".into(),
            json!({"report": route, "server_cpu_us_per_point": cpu_per_point}),
        );

        progress("RouteChat: 1,000 chats x 100 notes");
        in_memory_chat(
            &big_server,
            ChatPace::Flat,
            ("RouteChat, 1,000 x 100", "route_chat"),
            &mut rows,
            &mut details,
        )?;
        progress("RouteChat: 1,000 chats x 100 notes, one pair per chat every 100 ms");
        in_memory_chat(
            &big_server,
            ChatPace::Every(Duration::from_millis(100)),
            ("RouteChat, 1,000 paced, 100 ms", "route_chat_paced"),
            &mut rows,
            &mut details,
        )?;
        drop(big_server);
    }

    if config.runs(Part::Redis) {
        if RedisProcess::installed() {
            redis_chat(config, &mut rows, &mut details)?;
        } else {
            progress("skipping RouteChat over Redis: redis-server is not installed");
        }
    }

    if config.runs(Part::Peer)
        && let Some((python, script)) = &config.python_peer
    {
        progress("GetFeature 4x16 on the Python peer server");
        let mut command = pinned(config.server_cpu, python);
        command.arg(script).arg("--db").arg(&config.standard_db);
        let peer = ServerProcess::start(command, Duration::from_secs(60))?;
        let (_, cpu_peer) = unary_pair(config, &peer, &standard_points)?;
        figures(
            &mut rows,
            "Python peer, 100 features, 4x16",
            &[
                ("calls/s", cpu_peer.0.calls_per_sec, "/s", ""),
                ("server CPU per call", cpu_peer.1, "us", ""),
            ],
        );
        if let Some(ours) = ours_calls_per_sec {
            figures(
                &mut rows,
                "routeguide vs Python peer",
                &[("calls/s ratio", ours / cpu_peer.0.calls_per_sec, "x", "")],
            );
        }
        details.insert(
            "python_peer_4x16".into(),
            json!({"report": cpu_peer.0, "server_cpu_us_per_call": cpu_peer.1}),
        );
    }

    print_table(&rows);
    let report = json!({"rows": rows, "details": Value::Object(details)});
    let path = config.work_dir.join("results.json");
    let file = File::create(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::to_writer_pretty(BufWriter::new(file), &report).map_err(|e| e.to_string())?;
    println!("\n(written to {})", path.display());
    Ok(())
}

/// RouteChat's 1,000 x 100 scenario over two replicas sharing their chat through one Redis, the
/// client spreading its chats over both; Redis and both replicas on the servers' CPU.
fn redis_chat(
    config: &SuiteConfig,
    rows: &mut Vec<Row>,
    details: &mut serde_json::Map<String, Value>,
) -> Result<(), String> {
    progress("RouteChat over Redis: 1,000 chats x 100 notes, two replicas");
    let redis = RedisProcess::start(&config.work_dir, config.server_cpu)?;
    let url = redis.url();
    let threads = config.server_threads.to_string();
    let flags = [
        "--threads",
        &threads,
        "--chat-scope",
        "shared",
        "--chat-backend",
        &url,
    ];
    let replicas = [
        start_pinned_server(
            &config.server_binary,
            config.server_cpu,
            &config.standard_db,
            &flags,
        )?,
        start_pinned_server(
            &config.server_binary,
            config.server_cpu,
            &config.standard_db,
            &flags,
        )?,
    ];
    let addrs = format!("{},{}", replicas[0].addr(), replicas[1].addr());
    let cpu_before = [
        replicas[0].cpu_time()?,
        replicas[1].cpu_time()?,
        redis.cpu_time()?,
    ];
    let chat = load::route_chat(&addrs, 4, 1_000, 100, ChatPace::Flat)?;
    let replicas_cpu =
        replicas[0].cpu_time()? + replicas[1].cpu_time()? - cpu_before[0] - cpu_before[1];
    let redis_cpu = redis.cpu_time()? - cpu_before[2];
    let scenario = "RouteChat over Redis, 2 replicas";
    chat_rows(rows, scenario, &chat, "");
    figures(
        rows,
        scenario,
        &[
            (
                "replicas' CPU per note",
                per_call_us(replicas_cpu, chat.notes_sent),
                "us",
                "",
            ),
            (
                "Redis CPU per note",
                per_call_us(redis_cpu, chat.notes_sent),
                "us",
                "",
            ),
        ],
    );
    details.insert("route_chat_redis".into(), json!(chat));
    Ok(())
}

/// RouteChat's 1,000 x 100 scenario at `pace` against `server`, in the table as `scenario` and in
/// the details as `key`.
fn in_memory_chat(
    server: &ServerProcess,
    pace: ChatPace,
    (scenario, key): (&str, &str),
    rows: &mut Vec<Row>,
    details: &mut serde_json::Map<String, Value>,
) -> Result<(), String> {
    let (chat, cpu) = on_server(server, || {
        load::route_chat(&server.addr(), 4, 1_000, 100, pace)
    })?;
    let cpu_per_note = per_call_us(cpu, chat.notes_sent);
    figures(
        rows,
        scenario,
        &[("server CPU per note", cpu_per_note, "us", "")],
    );
    if chat.paced_every_ms.is_some() {
        let behind = chat.pairs_behind_schedule as f64;
        figures(rows, scenario, &[("pairs behind schedule", behind, "", "")]);
    }
    chat_rows(rows, scenario, &chat, "< 5");
    details.insert(key.into(), json!(chat));
    Ok(())
}

/// A RouteChat scenario's rows: notes/s, p50 and p99 reply latency (the p99 against
/// `p99_target`), replies correct.
fn chat_rows(rows: &mut Vec<Row>, scenario: &str, chat: &load::ChatReport, p99_target: &str) {
    let correct = chat.replies_correct as f64 / chat.replies_expected.max(1) as f64 * 100.0;
    figures(
        rows,
        scenario,
        &[
            ("notes/s", chat.notes_per_sec, "/s", ""),
            (
                "p50 reply latency",
                chat.reply_latency.p50_us / 1000.0,
                "ms",
                "",
            ),
            (
                "p99 reply latency",
                chat.reply_latency.p99_us / 1000.0,
                "ms",
                p99_target,
            ),
            ("replies correct", correct, "%", "100"),
        ],
    );
}

fn progress(what: &str) {
    eprintln!("bench: {what} ...");
}

/// Adds a scenario's figures to the table: (figure, value, unit, target) each.
fn figures(rows: &mut Vec<Row>, scenario: &str, figures: &[(&str, f64, &'static str, &str)]) {
    rows.extend(figures.iter().map(|&(figure, value, unit, target)| Row {
        scenario: scenario.into(),
        figure: figure.into(),
        value,
        unit,
        target: target.into(),
    }));
}

fn print_table(rows: &[Row]) {
    println!(
        "\n{:<34} {:<22} {:>14} {:<5} target",
        "scenario", "figure", "value", "unit"
    );
    println!("{}", "-".repeat(92));
    for r in rows {
        println!(
            "{:<34} {:<22} {:>14.2} {:<5} {}",
            r.scenario, r.figure, r.value, r.unit, r.target
        );
    }
}

/// GetFeature at 1 connection x 1 call, then 4 x 16 with the server's CPU time per call.
fn unary_pair(
    config: &SuiteConfig,
    server: &ServerProcess,
    points: &[Point],
) -> Result<(load::UnaryReport, (load::UnaryReport, f64)), String> {
    let addr = server.addr();
    // Warm up connections and caches; not measured.
    load::unary(&addr, 1, 4, Duration::from_millis(300), points)?;
    let single = load::unary(&addr, 1, 1, config.unary_duration, points)?;
    let (loaded, cpu) = on_server(server, || {
        load::unary(&addr, 4, 16, config.unary_duration, points)
    })?;
    let cpu_per_call = per_call_us(cpu, loaded.calls);
    Ok((single, (loaded, cpu_per_call)))
}

/// Runs `work` against `server` and returns its result with the server CPU time it cost.
fn on_server<T>(
    server: &ServerProcess,
    work: impl FnOnce() -> Result<T, String>,
) -> Result<(T, Duration), String> {
    let before = server.cpu_time()?;
    let result = work()?;
    Ok((result, server.cpu_time()? - before))
}

fn per_call_us(cpu: Duration, calls: u64) -> f64 {
    cpu.as_secs_f64() * 1e6 / calls.max(1) as f64
}

/// `program` under `taskset`, pinned to `cpu` when there is one.
fn pinned(cpu: Option<usize>, program: &Path) -> Command {
    match cpu {
        Some(cpu) => {
            let mut command = Command::new("taskset");
            command.arg("-c").arg(cpu.to_string()).arg(program);
            command
        }
        None => Command::new(program),
    }
}

fn start_server(config: &SuiteConfig, db: &Path) -> Result<ServerProcess, String> {
    let threads = config.server_threads.to_string();
    start_pinned_server(
        &config.server_binary,
        config.server_cpu,
        db,
        &["--threads", &threads],
    )
}

/// `route_guide_server` on `db` and an ephemeral port, pinned to `cpu` when given.
pub(super) fn start_pinned_server(
    binary: &Path,
    cpu: Option<usize>,
    db: &Path,
    extra: &[&str],
) -> Result<ServerProcess, String> {
    let mut command = pinned(cpu, binary);
    command
        .args(["--addr", "127.0.0.1:0", "--db"])
        .arg(db)
        .args(extra)
        .env("RUST_LOG", "info");
    ServerProcess::start(command, Duration::from_secs(120))
}

/// The large database, generated once into the work directory.
fn big_database(config: &SuiteConfig) -> Result<PathBuf, String> {
    let path = config
        .work_dir
        .join(format!("generated-{}-seed1.json", config.big_features));
    if !path.exists() {
        progress(&format!(
            "generating {} features into {}",
            config.big_features,
            path.display()
        ));
        let partial = path.with_extension("partial");
        let file = File::create(&partial).map_err(|e| format!("{}: {e}", partial.display()))?;
        write_database(BufWriter::new(file), config.big_features, 1).map_err(|e| e.to_string())?;
        std::fs::rename(&partial, &path).map_err(|e| e.to_string())?;
    }
    Ok(path)
}

/// Every feature position of a store, as the points the load generator asks about.
fn store_points(store: &FeatureStore) -> Vec<Point> {
    let mut rng = SplitMix64::seeded(3);
    let take = store.len().min(100_000);
    (0..take)
        .map(|_| store.position(rng.index(store.len())).to_point())
        .collect()
}

fn world_rectangle() -> Rectangle {
    let corner = |sign: i32| {
        Coordinates::new(sign * MAX_LATITUDE_E7, sign * MAX_LONGITUDE_E7)
            .expect("the limits are valid")
    };
    Bounds::from_corners(corner(-1), corner(1)).to_rectangle()
}

/// A rectangle near the equator expected to hold about `wanted` of `total` features spread
/// uniformly over the world (as generated databases are).
fn rectangle_holding(wanted: usize, total: usize) -> Rectangle {
    let fraction = (wanted as f64 / total.max(1) as f64).min(1.0);
    let half_lat = f64::from(MAX_LATITUDE_E7) * fraction.sqrt();
    let half_lon = f64::from(MAX_LONGITUDE_E7) * fraction.sqrt();
    let corner = |sign: f64| {
        Coordinates::new((sign * half_lat) as i32, (sign * half_lon) as i32)
            .expect("inside the world")
    };
    Bounds::from_corners(corner(-1.0), corner(1.0)).to_rectangle()
}
