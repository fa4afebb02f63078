//! `route_guide_bench`: generates large feature databases and measures a RouteGuide server.

use std::io::{self, BufWriter};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use routeguide_testkit::write_database;

const EXAMPLES: &str = "\
Examples:
  route_guide_bench load --addr localhost:50051 --rpc get-feature --connections 4 --in-flight 16
  route_guide_bench gen-db --features 1000 --seed 7 > db.json
  taskset -c 1 route_guide_bench suite --server target/debug/route_guide_server --server-cpu 0 --only unary
  taskset -c 1 route_guide_bench soak --server target/debug/route_guide_server --server-cpu 0 --secs 60";

mod html;
mod latency;
mod load;
mod load_command;
mod pacer;
mod printers;
mod report;
mod servers;
mod soak;
mod suite;

/// Benchmarks for routeguide: `load` measures any RouteGuide server, `make bench` runs `suite`,
/// `make soak` runs `soak`.
#[derive(Parser)]
#[command(name = "route_guide_bench", version, after_help = EXAMPLES)]
struct Flags {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Load any RouteGuide server with one RPC and print calls/s, the statuses and the latency
    /// (exit code 2 when the address or a file is wrong, before any call)
    Load(Box<load_command::LoadFlags>),
    /// Write a deterministic database of random features to standard output
    GenDb {
        /// How many features
        #[arg(long, default_value_t = 1_000_000)]
        features: usize,
        /// The same seed gives the same database
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Start servers, run every scenario, print the table (and write it as JSON)
    Suite {
        /// The server binary to measure
        #[arg(long, default_value = "target/debug/route_guide_server")]
        server: PathBuf,
        /// The standard database
        #[arg(long, default_value = "data/route_guide_db.json")]
        db: PathBuf,
        /// Where generated databases and results.json go
        #[arg(long, default_value = "target/bench")]
        out: PathBuf,
        /// Features in the large database
        #[arg(long, default_value_t = 1_000_000)]
        big_features: usize,
        /// Seconds each unary scenario runs
        #[arg(long, default_value_t = 5.0)]
        unary_secs: f64,
        /// Pin the servers to this CPU with taskset
        #[arg(long)]
        server_cpu: Option<usize>,
        /// The servers' completion-queue threads
        #[arg(long, default_value_t = 1)]
        server_threads: usize,
        /// Python with grpcio, to run the interop suite's server as a peer to compare with
        #[arg(long, requires = "peer_script")]
        peer_python: Option<PathBuf>,
        /// The Python peer server's script
        #[arg(long, requires = "peer_python")]
        peer_script: Option<PathBuf>,
        /// Run only these parts, comma-separated [default: all]
        #[arg(long, value_enum, value_delimiter = ',')]
        only: Vec<suite::Part>,
    },
    /// Mixed load over all four RPCs for a long time; fails on any unexpected status or on
    /// memory growth of 5% or more after warm-up
    Soak {
        /// The server binary to run
        #[arg(long, default_value = "target/debug/route_guide_server")]
        server: PathBuf,
        /// The database it serves
        #[arg(long, default_value = "data/route_guide_db.json")]
        db: PathBuf,
        /// How long, in seconds
        #[arg(long, default_value_t = 600)]
        secs: u64,
        /// Client threads, each with a connection of its own
        #[arg(long, default_value_t = 8)]
        workers: usize,
        /// Pin the server to this CPU with taskset
        #[arg(long)]
        server_cpu: Option<usize>,
        /// Where soak.json goes
        #[arg(long, default_value = "target/bench")]
        out: PathBuf,
    },
    /// Draw report.html again from a results.json that `suite` wrote
    Report {
        /// The suite's results
        #[arg(long, default_value = "target/bench/results.json")]
        results: PathBuf,
        /// The page to write
        #[arg(long, default_value = "target/bench/report.html")]
        out: PathBuf,
    },
}

/// The exit code of a load that could not start: the address or a file is wrong (as clap's for a
/// wrong flag).
const SETUP_FAILED: u8 = 2;

fn main() -> ExitCode {
    let outcome = match Flags::parse().command {
        Command::Load(flags) => match load_command::run(&flags) {
            Ok(()) => Ok(()),
            Err(load_command::LoadFailure::Setup(e)) => {
                eprintln!("route_guide_bench: error: {e}");
                return ExitCode::from(SETUP_FAILED);
            }
            Err(load_command::LoadFailure::Run(e)) => Err(e),
        },
        Command::Report { results, out } => report::Results::read_json(&results)
            .and_then(|results| html::write(&results, &out))
            .map(|()| println!("(written to {})", out.display())),
        Command::GenDb { features, seed } => {
            write_database(BufWriter::new(io::stdout().lock()), features, seed)
                .map_err(|e| e.to_string())
        }
        Command::Suite {
            server,
            db,
            out,
            big_features,
            unary_secs,
            server_cpu,
            server_threads,
            peer_python,
            peer_script,
            only,
        } => suite::run(&suite::SuiteConfig {
            server_binary: server,
            standard_db: db,
            work_dir: out,
            big_features,
            unary_duration: Duration::from_secs_f64(unary_secs),
            server_cpu,
            server_threads,
            python_peer: peer_python.zip(peer_script),
            only,
        }),
        Command::Soak {
            server,
            db,
            secs,
            workers,
            server_cpu,
            out,
        } => soak::run(&soak::SoakConfig {
            server_binary: server,
            db,
            duration: Duration::from_secs(secs),
            workers,
            server_cpu,
            work_dir: out,
        }),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("route_guide_bench: error: {e}");
            ExitCode::FAILURE
        }
    }
}
