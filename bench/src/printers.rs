//! How a [`LoadReport`] is shown: as text for people (calls/s, the status distribution, the
//! latency ladder and a small histogram), as JSON or as CSV for programs, and on one line for
//! the suite's progress.

use std::fmt::Write as _;

use crate::latency::{format_us, histogram_text, thousands};
use crate::load::LoadReport;

/// The output formats of `route_guide_bench load`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Format {
    /// For people: the summary, the statuses, the latency ladder and a histogram.
    Text,
    /// The whole report as one JSON object.
    Json,
    /// `section,name,value,unit` rows: the summary, the statuses, the ladder, the histogram
    /// (each row a range of latency in microseconds, `FROM-TO`, and its calls).
    Csv,
}

/// `report` in `format`.
pub(crate) fn render(report: &LoadReport, addr: &str, format: Format) -> String {
    match format {
        Format::Text => text(report, addr),
        Format::Json => {
            let mut document = serde_json::to_value(report).unwrap_or_default();
            document["addr"] = addr.into();
            let mut text = serde_json::to_string_pretty(&document).unwrap_or_default();
            text.push('\n');
            text
        }
        Format::Csv => csv(report, addr),
    }
}

/// The suite's line for a load: `4,000 calls in 5.00 s (800/s), all OK; p50 ..., max ...`.
pub(crate) fn one_line(report: &LoadReport) -> String {
    let statuses = if report.failed_calls() == 0 {
        "all OK".to_string()
    } else {
        statuses_inline(report)
    };
    format!(
        "{} calls in {:.2} s ({:.0}/s), {statuses}; {} latency {}",
        thousands(report.calls),
        report.secs,
        report.calls_per_sec,
        per(report),
        report.latency.line()
    )
}

/// What one latency is.
fn per(report: &LoadReport) -> &'static str {
    match report.rpc {
        crate::load::Rpc::RouteChat => "reply",
        _ => "call",
    }
}

fn statuses_inline(report: &LoadReport) -> String {
    let statuses: Vec<String> = report
        .statuses
        .iter()
        .map(|(status, calls)| format!("{status} {}", thousands(*calls)))
        .collect();
    statuses.join(", ")
}

fn text(report: &LoadReport, addr: &str) -> String {
    let mut out = String::new();
    let rate = report.rate.map_or_else(String::new, |rate| {
        format!(", paced at {rate:.0} {}/s", rate_unit(report))
    });
    let _ = writeln!(
        out,
        "{:?} against {addr}: {} connection(s) x {} in flight{rate}",
        report.rpc, report.connections, report.in_flight_per_connection
    );
    let _ = writeln!(
        out,
        "{} calls in {:.2} s: {:.1} calls/s, {} {} ({:.1}/s)",
        thousands(report.calls),
        report.secs,
        report.calls_per_sec,
        thousands(report.messages),
        report.message,
        report.messages_per_sec
    );
    if report.rate.is_some() {
        let _ = writeln!(
            out,
            "{} behind schedule (latency counts from when each was due)",
            thousands(report.behind_schedule)
        );
    }
    if let (Some(correct), Some(expected)) = (report.replies_correct, report.replies_expected) {
        let _ = writeln!(
            out,
            "replies: {} of {} the note expected",
            thousands(correct),
            thousands(expected)
        );
    }
    let _ = writeln!(out, "\nstatus");
    for (status, calls) in &report.statuses {
        let share = *calls as f64 / report.calls.max(1) as f64 * 100.0;
        let _ = writeln!(
            out,
            "  {status:<20} {:>12}  {share:6.2}%",
            thousands(*calls)
        );
    }
    for (status, error) in &report.first_errors {
        let _ = writeln!(out, "  first {status}: {error}");
    }
    let _ = writeln!(
        out,
        "\nlatency per {} ({} recorded, mean {})",
        per(report),
        thousands(report.latency.count),
        format_us(report.latency.mean_us)
    );
    for (name, us) in report.latency.steps() {
        let _ = writeln!(out, "  {name:<6} {:>10}", format_us(us));
    }
    let _ = writeln!(out, "\nhistogram");
    out.push_str(&histogram_text(&report.histogram));
    out
}

/// What the rate counts.
fn rate_unit(report: &LoadReport) -> &'static str {
    match report.rpc {
        crate::load::Rpc::RouteChat => "notes",
        _ => "calls",
    }
}

fn csv(report: &LoadReport, addr: &str) -> String {
    let mut out = String::from("section,name,value,unit\n");
    let mut row = |section: &str, name: &str, value: String, unit: &str| {
        let _ = writeln!(out, "{section},{name},{value},{unit}");
    };
    // An address list holds commas: quoted.
    row("run", "addr", format!("\"{addr}\""), "");
    row("run", "rpc", format!("{:?}", report.rpc), "");
    row("run", "connections", report.connections.to_string(), "");
    row(
        "run",
        "in_flight_per_connection",
        report.in_flight_per_connection.to_string(),
        "",
    );
    if let Some(rate) = report.rate {
        row("run", "rate", format!("{rate}"), rate_unit(report));
    }
    row("summary", "calls", report.calls.to_string(), "calls");
    row("summary", "secs", format!("{:.6}", report.secs), "s");
    row(
        "summary",
        "calls_per_sec",
        format!("{:.3}", report.calls_per_sec),
        "/s",
    );
    row(
        "summary",
        "messages",
        report.messages.to_string(),
        report.message,
    );
    row(
        "summary",
        "messages_per_sec",
        format!("{:.3}", report.messages_per_sec),
        "/s",
    );
    row(
        "summary",
        "behind_schedule",
        report.behind_schedule.to_string(),
        "",
    );
    for (status, calls) in &report.statuses {
        row("status", status, calls.to_string(), "calls");
    }
    let summary = &report.latency;
    row("latency", "mean", format!("{:.3}", summary.mean_us), "us");
    for (name, us) in summary.steps() {
        row("latency", name, format!("{us:.3}"), "us");
    }
    for bucket in &report.histogram {
        let range = format!("{:.3}-{:.3}", bucket.from_us, bucket.to_us);
        row("histogram", &range, bucket.count.to_string(), "calls");
    }
    out
}
