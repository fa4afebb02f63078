//! A real Prometheus server (`prometheus`, from the system's packages) as a child process on a
//! free port of 127.0.0.1, with a scrape configuration of its own, for the tests that check
//! that what the RouteGuide server exports is what Prometheus reads.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::http::http_get;
use crate::process::free_port;
use crate::wait::eventually;

/// How long a starting Prometheus may take to say it is ready.
const START_LIMIT: Duration = Duration::from_secs(60);

/// A `prometheus` child process scraping the targets it was started with; killed when dropped.
pub struct PrometheusProcess {
    child: Child,
    port: u16,
    /// Its configuration and its database, removed when dropped.
    dir: PathBuf,
}

impl PrometheusProcess {
    /// Starts `prometheus` on a free port, its configuration and database in a directory of
    /// its own under `dir`, scraping `targets` (`HOST:PORT`, path `/metrics`) every
    /// `scrape_interval`; returns once it says it is ready.
    pub fn start(
        dir: &Path,
        targets: &[String],
        scrape_interval: Duration,
    ) -> Result<Self, String> {
        let port =
            free_port().map_err(|e| format!("cannot find a free port for prometheus: {e}"))?;
        let dir = dir.join(format!("prometheus-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let interval = format!("{}ms", scrape_interval.as_millis().max(1));
        let targets: Vec<String> = targets.iter().map(|t| format!("'{t}'")).collect();
        let config = format!(
            "global:\n  scrape_interval: {interval}\n  scrape_timeout: {interval}\n\
             scrape_configs:\n  - job_name: routeguide\n    static_configs:\n      - targets: [{}]\n",
            targets.join(", ")
        );
        let config_file = dir.join("prometheus.yml");
        std::fs::write(&config_file, config)
            .map_err(|e| format!("{}: {e}", config_file.display()))?;
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config_file.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start prometheus: {e}"))?;
        let mut prometheus = PrometheusProcess { child, port, dir };
        let addr = prometheus.addr();
        let started = std::time::Instant::now();
        loop {
            if let Some(status) = prometheus.child.try_wait().map_err(|e| e.to_string())? {
                return Err(format!("prometheus exited at start ({status})"));
            }
            match http_get(&addr, "/-/ready") {
                Ok(answer) if answer.status == 200 => return Ok(prometheus),
                _ if started.elapsed() > START_LIMIT => {
                    return Err(format!("prometheus was not ready within {START_LIMIT:?}"));
                }
                _ => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }

    /// `127.0.0.1:PORT`, where its web interface and API listen.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The answer of its instant-query API (`/api/v1/query`) to `query`: the `result` array of
    /// a successful answer, as JSON.
    pub fn query(&self, query: &str) -> Result<Vec<serde_json::Value>, String> {
        let path = format!("/api/v1/query?query={}", url_encoded(query));
        let answer = http_get(&self.addr(), &path)?;
        let json: serde_json::Value = serde_json::from_str(&answer.body)
            .map_err(|e| format!("{query}: the answer is not JSON ({e}): {}", answer.body))?;
        if json["status"] != "success" {
            return Err(format!("{query}: {}", answer.body));
        }
        json["data"]["result"]
            .as_array()
            .cloned()
            .ok_or_else(|| format!("{query}: no result in {}", answer.body))
    }

    /// Waits up to `limit` until `query` answers at least one series, and returns them.
    pub fn wait_for(&self, query: &str, limit: Duration) -> Vec<serde_json::Value> {
        eventually(&format!("prometheus answers {query}"), limit, || {
            let result = self.query(query)?;
            if result.is_empty() {
                Err("no series yet".to_string())
            } else {
                Ok(result)
            }
        })
    }
}

impl Drop for PrometheusProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `text` with everything but unreserved characters percent-encoded, as a query parameter.
fn url_encoded(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_is_percent_encoded() {
        assert_eq!(
            url_encoded(r#"rate(x{a="b"}[1m])"#),
            "rate%28x%7Ba%3D%22b%22%7D%5B1m%5D%29"
        );
    }
}
