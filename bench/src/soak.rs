//! `make soak`: mixed load over all four RPCs for a long time, counting every outcome by status
//! code, recording each RPC's latency, and watching the server's resident memory, which must
//! settle after warm-up.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::json;

use routeguide::proto::{self, Point};
use routeguide::{CallError, FeatureStore, RouteGuideClient, SplitMix64, status_name};
use routeguide_testkit::ServerProcess;

use crate::latency::Latency;
use crate::servers::start_pinned_server;

/// What the soak runs.
pub struct SoakConfig {
    pub server_binary: PathBuf,
    pub db: PathBuf,
    pub duration: Duration,
    /// Client threads, each with a connection of its own.
    pub workers: usize,
    pub server_cpu: Option<usize>,
    /// Where soak.json goes.
    pub work_dir: PathBuf,
}

/// Outcomes of one worker: (RPC, status code name) -> count.
type Tally = BTreeMap<(&'static str, &'static str), u64>;

/// Latency of each RPC's calls, whatever their status.
type Latencies = BTreeMap<&'static str, Latency>;

/// Runs the soak; fails if any call ended unexpectedly or memory grew by 5% or more after warm-up.
pub fn run(config: &SoakConfig) -> Result<(), String> {
    let store = FeatureStore::load(&config.db).map_err(|e| routeguide::describe(&e))?;
    let points: Arc<Vec<Point>> = Arc::new(
        (0..store.len())
            .map(|i| store.position(i).to_point())
            .collect(),
    );
    let server = start_pinned_server(
        &config.server_binary,
        config.server_cpu,
        &config.db,
        &["--chat-scope", "shared", "--chat-history", "50"],
    )?;
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..config.workers)
        .map(|worker| {
            let (addr, points, stop) = (server.addr(), Arc::clone(&points), Arc::clone(&stop));
            thread::spawn(move || work(&addr, worker as u64, &points, &stop))
        })
        .collect();

    let started = Instant::now();
    let warm_up = config.duration / 10;
    thread::sleep(warm_up);
    let (rss_warm, _) = server.memory()?;
    eprintln!(
        "soak: warmed up after {warm_up:?}, RSS {:.1} MB",
        rss_warm as f64 / 1e6
    );
    while started.elapsed() < config.duration {
        thread::sleep(
            Duration::from_secs(10).min(config.duration.saturating_sub(started.elapsed())),
        );
        let (rss, _) = server.memory()?;
        eprintln!(
            "soak: {:>5.0} s, RSS {:.1} MB",
            started.elapsed().as_secs_f64(),
            rss as f64 / 1e6
        );
    }
    stop.store(true, Ordering::SeqCst);
    let mut tally = Tally::new();
    let mut latencies = Latencies::new();
    for worker in workers {
        let (worker_tally, worker_latencies) = worker
            .join()
            .map_err(|_| "a soak worker panicked".to_string())?;
        for (key, count) in worker_tally {
            *tally.entry(key).or_default() += count;
        }
        for (rpc, latency) in worker_latencies {
            latencies.entry(rpc).or_default().merge(&latency);
        }
    }
    let (rss_end, rss_peak) = server.memory()?;
    report(
        config,
        &server,
        (&tally, &latencies),
        rss_warm,
        rss_end,
        rss_peak,
        started.elapsed(),
    )
}

fn report(
    config: &SoakConfig,
    server: &ServerProcess,
    (tally, latencies): (&Tally, &Latencies),
    rss_warm: u64,
    rss_end: u64,
    rss_peak: u64,
    elapsed: Duration,
) -> Result<(), String> {
    let growth = (rss_end as f64 - rss_warm as f64) / rss_warm as f64 * 100.0;
    let unexpected: u64 = tally
        .iter()
        .filter(|((rpc, code), _)| !expected(rpc, code))
        .map(|(_, count)| count)
        .sum();
    let calls: u64 = tally.values().sum();
    println!(
        "\nsoak of {:.0} s, {} workers: {calls} calls",
        elapsed.as_secs_f64(),
        config.workers
    );
    println!("{:<14} {:<20} {:>10}", "rpc", "status", "calls");
    for ((rpc, code), count) in tally {
        let note = if expected(rpc, code) {
            ""
        } else {
            "  UNEXPECTED"
        };
        println!("{rpc:<14} {code:<20} {count:>10}{note}");
    }
    println!("\nlatency per call");
    for (rpc, latency) in latencies {
        println!("{rpc:<14} {}", latency.summary().line());
    }
    println!(
        "server RSS after warm-up {:.1} MB, at the end {:.1} MB ({growth:+.2}%), peak {:.1} MB; server CPU {:.1} s",
        rss_warm as f64 / 1e6,
        rss_end as f64 / 1e6,
        rss_peak as f64 / 1e6,
        server.cpu_time()?.as_secs_f64()
    );
    let path = config.work_dir.join("soak.json");
    std::fs::create_dir_all(&config.work_dir).map_err(|e| e.to_string())?;
    let outcomes: Vec<_> = tally
        .iter()
        .map(|((rpc, code), count)| json!({"rpc": rpc, "status": code, "calls": count}))
        .collect();
    let latency: serde_json::Map<_, _> = latencies
        .iter()
        .map(|(rpc, latency)| (rpc.to_string(), json!(latency.summary())))
        .collect();
    let document = json!({
        "secs": elapsed.as_secs_f64(), "workers": config.workers, "calls": calls,
        "unexpected": unexpected, "outcomes": outcomes, "latency_us": latency,
        "rss_after_warm_up": rss_warm, "rss_end": rss_end, "rss_peak": rss_peak, "rss_growth_percent": growth,
    });
    std::fs::write(
        &path,
        serde_json::to_string_pretty(&document).map_err(|e| e.to_string())?,
    )
    .map_err(|e| format!("{}: {e}", path.display()))?;
    println!("(written to {})", path.display());
    if unexpected > 0 {
        return Err(format!("{unexpected} calls ended unexpectedly"));
    }
    if growth >= 5.0 {
        return Err(format!(
            "the server's memory grew by {growth:.2}% after warm-up"
        ));
    }
    Ok(())
}

/// The only errors the soak provokes on purpose: INVALID_ARGUMENT from the probes of bad input.
fn expected(rpc: &str, code: &str) -> bool {
    code == "OK" || (rpc == "BadInput" && code == "INVALID_ARGUMENT")
}

/// One worker: rounds of every RPC until told to stop.
fn work(addr: &str, seed: u64, points: &[Point], stop: &AtomicBool) -> (Tally, Latencies) {
    let client = RouteGuideClient::connect_separately(addr);
    let mut rng = SplitMix64::seeded(seed);
    let mut tally = Tally::new();
    let mut latencies = Latencies::new();
    // Each call is timed from just before it starts: the argument, a call started.
    let mut count = |rpc: &'static str, (started, outcome): (Instant, Result<(), CallError>)| {
        latencies.entry(rpc).or_default().record(started.elapsed());
        let code = match outcome {
            Ok(()) => "OK",
            Err(e) => status_name(e.code()),
        };
        *tally.entry((rpc, code)).or_default() += 1;
    };
    let timed = |call: &dyn Fn() -> Result<(), CallError>| {
        let started = Instant::now();
        (started, call())
    };
    let random_point = |rng: &mut SplitMix64| points[rng.index(points.len())].clone();
    while !stop.load(Ordering::SeqCst) {
        for _ in 0..10 {
            let point = random_point(&mut rng);
            count(
                "GetFeature",
                timed(&|| client.get_feature(point.clone()).map(drop)),
            );
        }
        let corner = random_point(&mut rng);
        let far = proto::point(corner.latitude / 2, corner.longitude / 2);
        let area = proto::rectangle(corner, far);
        let listed = timed(&|| {
            client
                .list_features(area.clone())
                .try_for_each(|f| f.map(drop))
        });
        count("ListFeatures", listed);
        let route: Vec<Point> = (0..20).map(|_| random_point(&mut rng)).collect();
        count(
            "RecordRoute",
            timed(&|| client.record_route(route.clone()).map(drop)),
        );
        let notes: Vec<_> = (0..10)
            .map(|i| proto::route_note(random_point(&mut rng), format!("worker {seed} note {i}")))
            .collect();
        let chat = timed(&|| {
            client
                .route_chat(notes.clone())
                .try_for_each(|r| r.map(drop))
        });
        count("RouteChat", chat);
        let bad = timed(&|| client.get_feature(proto::point(i32::MAX, 0)).map(drop));
        count("BadInput", bad);
    }
    (tally, latencies)
}
