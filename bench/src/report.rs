//! The suite's report: the table's rows, each scenario's latency (its ladder and percentile
//! curve), its full reports by key and the run's machine and commit; printed as a table and
//! written as results.json and, drawn by `html.rs`, report.html. What is measured, and how, is
//! `suite.rs`'s.

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;
use std::process::Command;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::latency::{CurvePoint, Latency, LatencySummary};

/// One line of the table.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Row {
    pub(crate) scenario: String,
    pub(crate) figure: String,
    pub(crate) value: f64,
    pub(crate) unit: String,
    pub(crate) target: String,
}

/// A scenario's latency: what one latency is (`call`, `reply`, `query`), its ladder and its
/// percentile curve.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct ScenarioLatency {
    pub(crate) scenario: String,
    pub(crate) per: String,
    pub(crate) summary: LatencySummary,
    pub(crate) curve: Vec<CurvePoint>,
}

/// Where and on what the suite ran.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct RunInfo {
    /// When it ended, UTC (`2026-12-02T08:41:07Z`).
    pub(crate) date: String,
    /// `git describe`-like: the commit's short hash, `-dirty` when files differ from it.
    pub(crate) commit: String,
    /// The CPU model and how many CPUs.
    pub(crate) machine: String,
    /// The kernel release.
    pub(crate) kernel: String,
}

impl RunInfo {
    /// This machine and the repository's commit in the current directory, now.
    pub(crate) fn here() -> Self {
        // The machine's CPUs, not those this process is pinned to.
        let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = info
            .lines()
            .find(|line| line.starts_with("model name"))
            .and_then(|line| line.split_once(':'))
            .map_or_else(
                || "unknown CPU".to_string(),
                |(_, model)| model.trim().to_string(),
            );
        let cpus = info
            .lines()
            .filter(|line| line.starts_with("processor"))
            .count();
        let commit = output_of("git", &["rev-parse", "--short", "HEAD"]).map_or_else(
            || "unknown".to_string(),
            |hash| match output_of("git", &["status", "--porcelain", "--untracked-files=no"]) {
                Some(changes) if !changes.is_empty() => format!("{hash}-dirty"),
                _ => hash,
            },
        );
        RunInfo {
            date: output_of("date", &["-u", "+%Y-%m-%dT%H:%M:%SZ"])
                .unwrap_or_else(|| "unknown".to_string()),
            commit,
            machine: format!("{cpu}, {cpus} CPUs"),
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .map_or_else(|_| "unknown".to_string(), |r| r.trim().to_string()),
        }
    }
}

/// The trimmed standard output of `program args`, if it ran and succeeded.
fn output_of(program: &str, args: &[&str]) -> Option<String> {
    let output = Command::new(program).args(args).output().ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_string())
}

/// What the scenarios report: the table's rows, the latencies, and by key each scenario's full
/// report. results.json is this, serialized.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct Results {
    #[serde(default)]
    pub(crate) run: RunInfo,
    pub(crate) rows: Vec<Row>,
    #[serde(default)]
    pub(crate) latency: Vec<ScenarioLatency>,
    pub(crate) details: serde_json::Map<String, Value>,
}

impl Results {
    /// Adds a scenario's figures to the table: (figure, value, unit, target) each.
    pub(crate) fn figures(&mut self, scenario: &str, figures: &[(&str, f64, &str, &str)]) {
        self.rows
            .extend(figures.iter().map(|&(figure, value, unit, target)| Row {
                scenario: scenario.into(),
                figure: figure.into(),
                value,
                unit: unit.into(),
                target: target.into(),
            }));
    }

    /// Keeps a scenario's latencies, each the latency of one `per` (call, reply, query).
    pub(crate) fn latency(&mut self, scenario: &str, per: &str, latency: &Latency) {
        self.latency.push(ScenarioLatency {
            scenario: scenario.into(),
            per: per.into(),
            summary: latency.summary(),
            curve: latency.curve(),
        });
    }

    /// Keeps a scenario's full report under `key` in results.json.
    pub(crate) fn detail(&mut self, key: &str, report: Value) {
        self.details.insert(key.into(), report);
    }

    /// The value of `figure` in `scenario`'s rows, if that scenario has run.
    pub(crate) fn value(&self, scenario: &str, figure: &str) -> Option<f64> {
        self.rows
            .iter()
            .find(|row| row.scenario == scenario && row.figure == figure)
            .map(|row| row.value)
    }

    /// The scenarios, in the order of their first row.
    pub(crate) fn scenarios(&self) -> Vec<&str> {
        let mut names: Vec<&str> = Vec::new();
        for row in &self.rows {
            if !names.contains(&row.scenario.as_str()) {
                names.push(&row.scenario);
            }
        }
        names
    }

    /// Prints the rows as a table on standard output.
    pub(crate) fn print_table(&self) {
        println!(
            "\n{:<34} {:<22} {:>14} {:<5} target",
            "scenario", "figure", "value", "unit"
        );
        println!("{}", "-".repeat(92));
        for r in &self.rows {
            println!(
                "{:<34} {:<22} {:>14.2} {:<5} {}",
                r.scenario, r.figure, r.value, r.unit, r.target
            );
        }
    }

    /// Writes everything to `path` as JSON: `{"run": {...}, "rows": [...], "latency": [...],
    /// "details": {...}}`.
    pub(crate) fn write_json(&self, path: &Path) -> Result<(), String> {
        let file = File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
        serde_json::to_writer_pretty(BufWriter::new(file), self).map_err(|e| e.to_string())
    }

    /// Reads results.json back.
    pub(crate) fn read_json(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
    }
}
