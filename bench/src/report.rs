//! The suite's report: the table's rows and, by key, each scenario's full report; printed as a
//! table and written as results.json. What is measured, and how, is `suite.rs`'s.

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

use serde::Serialize;
use serde_json::{Value, json};

/// One line of the table.
#[derive(Serialize)]
struct Row {
    scenario: String,
    figure: String,
    value: f64,
    unit: &'static str,
    target: String,
}

/// What the scenarios report: the table's rows and, by key, each scenario's full report.
#[derive(Default)]
pub(crate) struct Results {
    rows: Vec<Row>,
    details: serde_json::Map<String, Value>,
}

impl Results {
    /// Adds a scenario's figures to the table: (figure, value, unit, target) each.
    pub(crate) fn figures(&mut self, scenario: &str, figures: &[(&str, f64, &'static str, &str)]) {
        self.rows
            .extend(figures.iter().map(|&(figure, value, unit, target)| Row {
                scenario: scenario.into(),
                figure: figure.into(),
                value,
                unit,
                target: target.into(),
            }));
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

    /// Writes the rows and the full reports to `path` as JSON: `{"rows": [...], "details": {...}}`.
    pub(crate) fn write_json(&self, path: &Path) -> Result<(), String> {
        let report = json!({"rows": self.rows, "details": self.details});
        let file = File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
        serde_json::to_writer_pretty(BufWriter::new(file), &report).map_err(|e| e.to_string())
    }
}
