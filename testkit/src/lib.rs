//! # routeguide-testkit
//!
//! What routeguide's integration tests and its benchmark (`route_guide_bench`) share, none of
//! which belongs in the service's library:
//!
//! * [`ServerProcess`]: a RouteGuide server running as a child process, its port (from the file
//!   named by `--port-file`), its log, and what the kernel says it used (CPU time, memory,
//!   threads, file descriptors, sockets);
//! * [`RedisProcess`]: a real `redis-server` on a free port that saves nothing;
//! * [`standard_db`]: the repository's own database, `data/route_guide_db.json`;
//! * [`write_database`] and [`generated_db`]: deterministic feature databases of any size;
//! * [`PrometheusProcess`]: a real Prometheus server scraping the targets it is given;
//! * [`http_get`]: a plain HTTP GET, for `/metrics`, `/healthz` and Prometheus's API;
//! * [`Scrape`]: what `/metrics` answers, read as samples to look up by name and labels;
//! * [`free_port`], [`cpu_time_of`] and [`installed`]: small readings of the machine;
//! * [`eventually`]: waiting for a condition by looking again, not by sleeping a guessed while;
//! * [`raw`]: RouteGuide's methods with raw bytes for messages, for tests of hostile input;
//! * [`h2`]: a gRPC client from the frames up, for what no client library sends.
//!
//! Everything here is Linux-minded (`/proc`, `taskset`, `kill`), as the tests and the benchmark
//! are.

#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]

mod generate;
pub mod h2;
mod http;
mod process;
mod prometheus;
pub mod raw;
mod redis;
mod scrape;
mod wait;

pub use generate::{generated_db, standard_db, write_database};
pub use http::{HttpAnswer, http_get};
pub use process::{ServerProcess, cpu_time_of, free_port, installed};
pub use prometheus::PrometheusProcess;
pub use redis::RedisProcess;
pub use scrape::{Sample, Scrape};
pub use wait::eventually;
