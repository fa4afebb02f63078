//! `make bench`: the suite as a list of scenarios and a loop. Each scenario starts the servers it
//! measures (pinned to one CPU; this process is pinned to the other by the Makefile), runs the
//! load from this process and reports its figures, with the server's CPU time per call from
//! `/proc`. The load itself is `load.rs`'s (the same as `route_guide_bench load`), starting
//! processes is `servers.rs`'s, the table, results.json and report.html are `report.rs`'s and
//! `html.rs`'s.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use routeguide::proto::{Point, Rectangle};
use routeguide::{
    Bounds, ClientOptions, Coordinates, FeatureStore, MAX_LATITUDE_E7, MAX_LONGITUDE_E7, SplitMix64,
};
use routeguide_testkit::{RedisProcess, Scrape, ServerProcess, free_port, generated_db};

use crate::load::{self, Load, LoadReport, Requests, Rpc, Stop};
use crate::report::{Results, RunInfo};
use crate::servers::{start_pinned_server, start_python_peer, start_server};

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
    /// GetFeature 4x16 on two servers, without and with --metrics-addr, in alternating rounds:
    /// what counting every call costs.
    Metrics,
}

impl SuiteConfig {
    fn runs(&self, part: Part) -> bool {
        self.only.is_empty() || self.only.contains(&part)
    }
}

/// The table's scenario for our GetFeature at 4 x 16 on the standard database; the Python peer's
/// ratio reads our [`CALLS_PER_SEC`] from it.
const OURS_4X16: &str = "GetFeature, 100 features, 4x16";
/// The figure of calls per second, ours and the Python peer's.
const CALLS_PER_SEC: &str = "calls/s";

/// What a scenario does: measure, then report into the results.
type Measure<'a> = Box<dyn FnOnce(&mut Results) -> Result<(), String> + 'a>;

/// One scenario: what it says while it runs, and what it does.
struct Scenario<'a> {
    doing: String,
    run: Measure<'a>,
}

impl<'a> Scenario<'a> {
    fn new(
        doing: impl Into<String>,
        run: impl FnOnce(&mut Results) -> Result<(), String> + 'a,
    ) -> Self {
        Scenario {
            doing: doing.into(),
            run: Box::new(run),
        }
    }
}

/// Runs `scenarios` in order, saying what each does before it starts.
fn run_all(scenarios: Vec<Scenario<'_>>, results: &mut Results) -> Result<(), String> {
    for scenario in scenarios {
        progress(&scenario.doing);
        (scenario.run)(results)?;
    }
    Ok(())
}

/// Runs every part asked for, prints the table and writes it with the full reports as JSON.
pub(crate) fn run(config: &SuiteConfig) -> Result<(), String> {
    std::fs::create_dir_all(&config.work_dir).map_err(|e| e.to_string())?;
    let standard = FeatureStore::load(&config.standard_db).map_err(|e| routeguide::describe(&e))?;
    let standard_points = store_points(&standard);
    let scenarios = [
        (Part::Unary, Some(unary_part(config, &standard_points))),
        (Part::Big, Some(big_part(config))),
        (Part::Redis, Some(redis_part(config))),
        (Part::Peer, peer_part(config, &standard_points)),
        (Part::Metrics, Some(metrics_part(config, &standard_points))),
    ]
    .into_iter()
    .filter(|&(part, _)| config.runs(part))
    .filter_map(|(_, scenario)| scenario)
    .collect();

    let mut results = Results::default();
    run_all(scenarios, &mut results)?;
    results.run = RunInfo::here();
    results.print_table();
    let path = config.work_dir.join("results.json");
    results.write_json(&path)?;
    let html = config.work_dir.join("report.html");
    crate::html::write(&results, &html)?;
    println!("\n(written to {} and {})", path.display(), html.display());
    Ok(())
}

/// GetFeature on the standard 100 features, 1 x 1 and 4 x 16.
fn unary_part<'a>(config: &'a SuiteConfig, points: &'a [Point]) -> Scenario<'a> {
    Scenario::new("GetFeature on the standard 100 features", move |results| {
        let server = start_server(config, &config.standard_db)?;
        let (single, (loaded, cpu_per_call)) = unary_pair(config, &server, points)?;
        let one = "GetFeature, 100 features, 1x1";
        results.figures(
            one,
            &[
                ("p50 latency", single.latency.p50_us, "us", "<= 80"),
                ("p99 latency", single.latency.p99_us, "us", ""),
            ],
        );
        results.latency(one, "call", &single.recorded);
        results.figures(
            OURS_4X16,
            &[
                (CALLS_PER_SEC, loaded.calls_per_sec, "/s", ""),
                ("server CPU per call", cpu_per_call, "us", "<= 10"),
                ("p99 latency", loaded.latency.p99_us, "us", ""),
            ],
        );
        results.latency(OURS_4X16, "call", &loaded.recorded);
        results.detail("get_feature_100_1x1", json!(single));
        results.detail(
            "get_feature_100_4x16",
            json!({"report": loaded, "server_cpu_us_per_call": cpu_per_call}),
        );
        Ok(())
    })
}

/// Everything on the large database, generated once into the work directory: loading it, then
/// the scenarios of [`big_scenarios`] against the one server that loaded it.
fn big_part(config: &SuiteConfig) -> Scenario<'_> {
    let doing = format!(
        "the {}-feature database (generated into {} the first time)",
        config.big_features,
        config.work_dir.display()
    );
    Scenario::new(doing, move |results| {
        let db = generated_db(&config.work_dir, config.big_features).map_err(|e| e.to_string())?;
        progress(&format!("loading {} features", config.big_features));
        let started = Instant::now();
        let server = start_server(config, &db)?;
        let load_secs = started.elapsed().as_secs_f64();
        let (rss, peak_rss) = server.memory()?;
        results.figures(
            "Load 1M-feature database",
            &[
                ("time to listening", load_secs, "s", "< 2"),
                ("peak RSS", peak_rss as f64 / 1e6, "MB", "< 250"),
            ],
        );
        results.detail(
            "load_big",
            json!({"secs": load_secs, "rss_bytes": rss, "peak_rss_bytes": peak_rss}),
        );

        let store = FeatureStore::load(&db).map_err(|e| routeguide::describe(&e))?;
        let points = store_points(&store);
        run_all(
            big_scenarios(config, &server, &points, store.len()),
            results,
        )
    })
}

/// The scenarios on the large database, against `server`, which serves its `features`; `points`
/// are positions of features in it.
fn big_scenarios<'a>(
    config: &'a SuiteConfig,
    server: &'a ServerProcess,
    points: &'a [Point],
    features: usize,
) -> Vec<Scenario<'a>> {
    vec![
        Scenario::new("GetFeature on the large database", move |results| {
            let (single, (loaded, cpu_per_call)) = unary_pair(config, server, points)?;
            let (one, many) = (
                "GetFeature, 1M features, 1x1",
                "GetFeature, 1M features, 4x16",
            );
            let within = |scenario: &str, figure: &str| match results.value(scenario, figure) {
                Some(of_100) => format!("within 10% of 100 (<= {:.2})", of_100 * 1.1),
                None => "within 10% of 100".to_string(),
            };
            let (one_target, many_target) = (
                within("GetFeature, 100 features, 1x1", "p50 latency"),
                within(OURS_4X16, "server CPU per call"),
            );
            results.figures(
                one,
                &[("p50 latency", single.latency.p50_us, "us", &one_target)],
            );
            results.latency(one, "call", &single.recorded);
            results.figures(
                many,
                &[("server CPU per call", cpu_per_call, "us", &many_target)],
            );
            results.latency(many, "call", &loaded.recorded);
            results.detail("get_feature_1m_1x1", json!(single));
            results.detail(
                "get_feature_1m_4x16",
                json!({"report": loaded, "server_cpu_us_per_call": cpu_per_call}),
            );
            Ok(())
        }),
        Scenario::new("ListFeatures of the whole world", move |results| {
            let list = Load {
                requests: Requests {
                    rectangle: world_rectangle(),
                    ..requests(points)
                },
                ..load_of(Rpc::ListFeatures, (1, 1), Stop::Calls(1), points)
            };
            let (whole, cpu) = on_server(server, || measure(server, &list))?;
            let cpu_per_feature = per_call_us(cpu, whole.messages);
            let mb_per_sec = whole.bytes_received as f64 / whole.secs / 1e6;
            results.figures(
                "ListFeatures, whole world, 1M",
                &[
                    ("server CPU per feature", cpu_per_feature, "us", "<= 1.5"),
                    ("features/s", whole.messages_per_sec, "/s", ">= 1,000,000"),
                    ("throughput", mb_per_sec, "MB/s", ""),
                ],
            );
            results.detail(
                "list_world",
                json!({"report": whole, "server_cpu_us_per_feature": cpu_per_feature}),
            );
            Ok(())
        }),
        Scenario::new(
            "ListFeatures of a rectangle holding about 1,000 features",
            move |results| {
                let queries = 200;
                let list = Load {
                    requests: Requests {
                        rectangle: rectangle_holding(1_000, features),
                        ..requests(points)
                    },
                    ..load_of(Rpc::ListFeatures, (1, 1), Stop::Calls(queries), points)
                };
                let (small, cpu) = on_server(server, || measure(server, &list))?;
                let cpu_per_query = per_call_us(cpu, queries);
                let scenario = "ListFeatures, ~1,000 features";
                results.figures(
                    scenario,
                    &[
                        ("p50 latency", small.latency.p50_us, "us", ""),
                        ("server CPU per query", cpu_per_query, "us", "< 1000"),
                    ],
                );
                results.latency(scenario, "query", &small.recorded);
                results.detail(
                    "list_small",
                    json!({"report": small, "server_cpu_us_per_query": cpu_per_query}),
                );
                Ok(())
            },
        ),
        Scenario::new("RecordRoute with 1,000,000 points", move |results| {
            let record = Load {
                requests: Requests {
                    route_points: 1_000_000,
                    ..requests(points)
                },
                ..load_of(Rpc::RecordRoute, (1, 1), Stop::Calls(1), points)
            };
            let (route, cpu) = on_server(server, || measure(server, &record))?;
            let cpu_per_point = per_call_us(cpu, route.messages);
            results.figures(
                "RecordRoute, 1M points",
                &[
                    ("server CPU per point", cpu_per_point, "us", "<= 1.0"),
                    ("points/s", route.messages_per_sec, "/s", ">= 1,000,000"),
                ],
            );
            results.detail(
                "record_route",
                json!({"report": route, "server_cpu_us_per_point": cpu_per_point}),
            );
            Ok(())
        }),
        Scenario::new("RouteChat: 1,000 chats x 100 notes", move |results| {
            in_memory_chat(
                server,
                None,
                ("RouteChat, 1,000 x 100", "route_chat"),
                results,
            )
        }),
        Scenario::new(
            "RouteChat: 1,000 chats x 100 notes, one pair per chat every 100 ms",
            move |results| {
                // One pair (two notes) per chat every 100 ms.
                in_memory_chat(
                    server,
                    Some(CHATS as f64 * 2.0 / 0.1),
                    ("RouteChat, 1,000 paced, 100 ms", "route_chat_paced"),
                    results,
                )
            },
        ),
    ]
}

/// RouteChat over Redis, or a note that it is skipped when redis-server is not installed.
fn redis_part(config: &SuiteConfig) -> Scenario<'_> {
    if !RedisProcess::installed() {
        let skipping = "skipping RouteChat over Redis: redis-server is not installed";
        return Scenario::new(skipping, |_| Ok(()));
    }
    Scenario::new(
        "RouteChat over Redis: 1,000 chats x 100 notes, two replicas",
        move |results| redis_chat(config, results),
    )
}

/// GetFeature 4 x 16 on the Python peer server, and the ratio of our calls/s to its when ours
/// ran before it; nothing when there is no peer.
fn peer_part<'a>(config: &'a SuiteConfig, points: &'a [Point]) -> Option<Scenario<'a>> {
    let (python, script) = config.python_peer.as_ref()?;
    Some(Scenario::new(
        "GetFeature 4x16 on the Python peer server",
        move |results| {
            let peer = start_python_peer(config.server_cpu, (python, script), &config.standard_db)?;
            let (_, (loaded, cpu_per_call)) = unary_pair(config, &peer, points)?;
            let scenario = "Python peer, 100 features, 4x16";
            results.latency(scenario, "call", &loaded.recorded);
            results.figures(
                scenario,
                &[
                    (CALLS_PER_SEC, loaded.calls_per_sec, "/s", ""),
                    ("server CPU per call", cpu_per_call, "us", ""),
                ],
            );
            if let Some(ours) = results.value(OURS_4X16, CALLS_PER_SEC) {
                results.figures(
                    "routeguide vs Python peer",
                    &[("calls/s ratio", ours / loaded.calls_per_sec, "x", "")],
                );
            }
            results.detail(
                "python_peer_4x16",
                json!({"report": loaded, "server_cpu_us_per_call": cpu_per_call}),
            );
            Ok(())
        },
    ))
}

/// Rounds of GetFeature 4x16 on each of the two servers of [`metrics_part`].
const METRICS_ROUNDS: usize = 7;

/// GetFeature 4 x 16 on the standard features against two servers started alike but for
/// `--metrics-addr`, measured in alternating rounds (off, on, off, on, ...) so that a drift of
/// the machine lands on both: the median server CPU per call of each, and the median of the
/// rounds' ratios (each "on" round against the "off" round just before it). After each round
/// with metrics, `/metrics` must count every call the round made.
fn metrics_part<'a>(config: &'a SuiteConfig, points: &'a [Point]) -> Scenario<'a> {
    Scenario::new(
        "GetFeature 4x16 without and with --metrics-addr, alternating",
        move |results| {
            let threads = config.server_threads.to_string();
            let metrics_addr = format!("127.0.0.1:{}", free_port().map_err(|e| e.to_string())?);
            let start = |extra: &[&str]| {
                let flags = [&["--threads", threads.as_str()], extra].concat();
                start_pinned_server(
                    &config.server_binary,
                    config.server_cpu,
                    &config.standard_db,
                    &flags,
                )
            };
            let servers = [start(&[])?, start(&["--metrics-addr", &metrics_addr])?];
            let mut cpu_per_call: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
            let mut counted = 0.0;
            for round in 0..METRICS_ROUNDS {
                for (i, server) in servers.iter().enumerate() {
                    progress(&format!(
                        "round {} of {METRICS_ROUNDS}, metrics {}",
                        round + 1,
                        ["off", "on"][i]
                    ));
                    let unary =
                        |duration| load_of(Rpc::GetFeature, (4, 16), Stop::After(duration), points);
                    // Warm up connections and caches; not measured.
                    measure(server, &unary(Duration::from_millis(300)))?;
                    let (loaded, cpu) =
                        on_server(server, || measure(server, &unary(config.unary_duration)))?;
                    cpu_per_call[i].push(per_call_us(cpu, loaded.calls));
                    if i == 1 {
                        let before = counted;
                        counted = counted_get_features(&metrics_addr)?;
                        // The warm-up's calls are counted too.
                        if counted - before < loaded.calls as f64 {
                            return Err(format!(
                                "/metrics counted {} GetFeature calls, fewer than the {} of this round",
                                counted - before,
                                loaded.calls
                            ));
                        }
                    }
                }
            }
            let ratios = cpu_per_call[1]
                .iter()
                .zip(&cpu_per_call[0])
                .map(|(on, off)| on / off)
                .collect();
            let cost = (median(ratios) - 1.0) * 100.0;
            let [off, on] = cpu_per_call.clone().map(median);
            results.figures(
                "GetFeature, 100 features, 4x16, metrics off/on",
                &[
                    ("server CPU per call, metrics off", off, "us", ""),
                    ("server CPU per call, metrics on", on, "us", ""),
                    ("cost of metrics", cost, "%", "a few %"),
                ],
            );
            results.detail(
                "get_feature_metrics_off_on",
                json!({
                    "rounds": METRICS_ROUNDS,
                    "server_cpu_us_per_call_off": cpu_per_call[0],
                    "server_cpu_us_per_call_on": cpu_per_call[1],
                    "get_feature_calls_counted": counted,
                }),
            );
            Ok(())
        },
    )
}

/// The GetFeature calls that the server's `/metrics` at `addr` counts as started.
fn counted_get_features(addr: &str) -> Result<f64, String> {
    Scrape::fetch(addr)?.get(
        "grpc_server_started_total",
        &[("grpc_method", "GetFeature")],
    )
}

/// The median of `values` (the mean of the middle two for an even count).
fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    match values.len() {
        0 => f64::NAN,
        n if n % 2 == 0 => (values[mid - 1] + values[mid]) / 2.0,
        _ => values[mid],
    }
}

/// RouteChat's 1,000 x 100 scenario over two replicas sharing their chat through one Redis, the
/// client spreading its chats over both; Redis and both replicas on the servers' CPU.
fn redis_chat(config: &SuiteConfig, results: &mut Results) -> Result<(), String> {
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
    let replica = || {
        start_pinned_server(
            &config.server_binary,
            config.server_cpu,
            &config.standard_db,
            &flags,
        )
    };
    let replicas = [replica()?, replica()?];
    let addrs = format!("{},{}", replicas[0].addr(), replicas[1].addr());
    let replicas_cpu =
        || -> Result<Duration, String> { Ok(replicas[0].cpu_time()? + replicas[1].cpu_time()?) };
    let before = (replicas_cpu()?, redis.cpu_time()?);
    let chat = measure_at(&addrs, &chats(None))?;
    let replicas_cpu = replicas_cpu()? - before.0;
    let redis_cpu = redis.cpu_time()? - before.1;
    let scenario = "RouteChat over Redis, 2 replicas";
    chat_rows(results, scenario, &chat, "");
    let per_note = |cpu| per_call_us(cpu, chat.messages);
    results.figures(
        scenario,
        &[
            ("replicas' CPU per note", per_note(replicas_cpu), "us", ""),
            ("Redis CPU per note", per_note(redis_cpu), "us", ""),
        ],
    );
    results.detail("route_chat_redis", json!(chat));
    Ok(())
}

/// RouteChat's scenario: [`CHATS`] chats of 100 notes at once over 4 connections, each sending
/// its pairs as soon as the last was answered or at `notes_per_sec` in all.
fn chats(notes_per_sec: Option<f64>) -> Load {
    Load {
        rate: notes_per_sec,
        requests: Requests {
            chat_notes: 100,
            ..requests(&[])
        },
        ..load_of(
            Rpc::RouteChat,
            (4, CHATS / 4),
            Stop::Calls(CHATS as u64),
            &[],
        )
    }
}

/// RouteChat's 1,000 x 100 scenario at `notes_per_sec` (as fast as it goes when `None`) against
/// `server`, in the table as `scenario` and in the details as `key`.
fn in_memory_chat(
    server: &ServerProcess,
    notes_per_sec: Option<f64>,
    (scenario, key): (&str, &str),
    results: &mut Results,
) -> Result<(), String> {
    let (chat, cpu) = on_server(server, || measure(server, &chats(notes_per_sec)))?;
    let cpu_per_note = per_call_us(cpu, chat.messages);
    results.figures(scenario, &[("server CPU per note", cpu_per_note, "us", "")]);
    if chat.rate.is_some() {
        let behind = chat.behind_schedule as f64;
        results.figures(scenario, &[("pairs behind schedule", behind, "", "")]);
    }
    chat_rows(results, scenario, &chat, "< 5");
    results.detail(key, json!(chat));
    Ok(())
}

/// A RouteChat scenario's rows: notes/s, p50 and p99 reply latency (the p99 against
/// `p99_target`), replies correct.
fn chat_rows(results: &mut Results, scenario: &str, chat: &LoadReport, p99_target: &str) {
    let (correct, expected) = (
        chat.replies_correct.unwrap_or(0),
        chat.replies_expected.unwrap_or(0),
    );
    let correct = correct as f64 / expected.max(1) as f64 * 100.0;
    results.figures(
        scenario,
        &[
            ("notes/s", chat.messages_per_sec, "/s", ""),
            ("p50 reply latency", chat.latency.p50_us / 1000.0, "ms", ""),
            (
                "p99 reply latency",
                chat.latency.p99_us / 1000.0,
                "ms",
                p99_target,
            ),
            ("replies correct", correct, "%", "100"),
        ],
    );
    results.latency(scenario, "reply", &chat.recorded);
}

/// Says on standard error what the suite is doing.
fn progress(what: &str) {
    eprintln!("bench: {what} ...");
}

/// GetFeature at 1 connection x 1 call, then 4 x 16 with the server's CPU time per call.
fn unary_pair(
    config: &SuiteConfig,
    server: &ServerProcess,
    points: &[Point],
) -> Result<(LoadReport, (LoadReport, f64)), String> {
    let unary = |shape, duration| load_of(Rpc::GetFeature, shape, Stop::After(duration), points);
    // Warm up connections and caches; not measured.
    measure(server, &unary((1, 4), Duration::from_millis(300)))?;
    let single = measure(server, &unary((1, 1), config.unary_duration))?;
    let (loaded, cpu) = on_server(server, || {
        measure(server, &unary((4, 16), config.unary_duration))
    })?;
    let cpu_per_call = per_call_us(cpu, loaded.calls);
    Ok((single, (loaded, cpu_per_call)))
}

/// The chats of the RouteChat scenarios.
const CHATS: usize = 1_000;

/// The longest call of any scenario (RecordRoute of 1,000,000 points) fits in this deadline.
const CALL_DEADLINE: Duration = Duration::from_secs(600);

/// A load of `rpc` from (connections, calls in flight on each) until `stop`, unpaced, asking about
/// `points`; the suite's other requests are set where a scenario needs them.
fn load_of(
    rpc: Rpc,
    (connections, in_flight): (usize, usize),
    stop: Stop,
    points: &[Point],
) -> Load {
    Load {
        rpc,
        connections,
        in_flight,
        stop,
        rate: None,
        requests: requests(points),
        timeout: CALL_DEADLINE,
    }
}

/// Requests about `points`: the rest is set by the scenarios that use it.
fn requests(points: &[Point]) -> Requests {
    Requests {
        points: Arc::from(points),
        rectangle: world_rectangle(),
        route_points: 0,
        chat_notes: 0,
    }
}

/// Runs `load` against `server` with the load generator's client options, says what it
/// measured, and fails unless every call ended OK.
fn measure(server: &ServerProcess, load: &Load) -> Result<LoadReport, String> {
    measure_at(&server.addr(), load)
}

/// [`measure`] against `addr` (one address or several, round-robin).
fn measure_at(addr: &str, load: &Load) -> Result<LoadReport, String> {
    let report = load::run(addr, &ClientOptions::load_generator(), load)?;
    report.all_ok()?;
    eprintln!("bench:   {}", crate::printers::one_line(&report));
    Ok(report)
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
