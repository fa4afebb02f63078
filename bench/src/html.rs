//! report.html: the suite's results as a page that needs nothing but a browser (no script, no
//! network): for each scenario its figures, a latency percentile curve (50% to 99.9% on a
//! logarithmic axis) and bars of the server's CPU per message against its target, drawn as
//! inline SVG; and the run's date, commit and machine. The page is well-formed XML (XHTML), so
//! that a test can read it back. What it shows comes from [`Results`], as results.json does.

use std::fmt::Write as _;
use std::path::Path;

use crate::latency::{CurvePoint, LatencySummary, format_us, thousands};
use crate::report::{Results, Row, ScenarioLatency};

/// The latency chart's size and margins, in pixels.
const CURVE_W: f64 = 560.0;
const CURVE_H: f64 = 260.0;
const CURVE_LEFT: f64 = 64.0;
const CURVE_RIGHT: f64 = 24.0;
const CURVE_TOP: f64 = 28.0;
const CURVE_BOTTOM: f64 = 40.0;

/// The CPU bars' width, and the height of one bar's row.
const BARS_W: f64 = 520.0;
const BAR_ROW_H: f64 = 56.0;

/// The percentiles marked on the latency chart's axis.
const AXIS_PERCENTILES: [f64; 7] = [50.0, 75.0, 90.0, 95.0, 99.0, 99.5, 99.9];

const STYLE: &str = "
body { font-family: system-ui, -apple-system, 'Segoe UI', sans-serif; margin: 24px 32px; color: #1d2733; background: #f5f7fa; }
h1 { font-size: 26px; margin: 0 0 6px; }
header p { margin: 2px 0; color: #4a5866; }
.run dt { display: inline; font-weight: 600; color: #1d2733; }
.run dd { display: inline; margin: 0 18px 0 4px; }
nav ol { columns: 2; margin: 12px 0 0; padding-left: 22px; font-size: 14px; }
nav li { margin: 2px 0; }
nav a { color: #1f5fa8; text-decoration: none; }
nav .met, nav .missed { font-size: 12px; margin-left: 6px; }
.scenario { background: #fff; border: 1px solid #dde3ea; border-radius: 8px; padding: 14px 18px 10px; margin: 18px 0; }
.scenario h2 { font-size: 18px; margin: 0 0 10px; }
.charts { display: flex; flex-wrap: wrap; gap: 18px; align-items: flex-start; }
.side { flex: 1; min-width: 380px; }
table.figures { border-collapse: collapse; font-size: 14px; margin-top: 4px; }
table.figures td, table.figures th { padding: 3px 12px 3px 0; text-align: left; }
table.figures th { color: #4a5866; font-weight: 600; border-bottom: 1px solid #dde3ea; }
td.value { text-align: right; font-variant-numeric: tabular-nums; }
.met { color: #2e7d32; font-weight: 600; }
.missed { color: #c62828; font-weight: 600; }
.none { color: #4a5866; font-style: italic; font-size: 14px; padding: 40px 0; width: 560px; }
svg text { font-family: system-ui, -apple-system, 'Segoe UI', sans-serif; fill: #1d2733; }
svg .axis { font-size: 11px; fill: #4a5866; }
svg .grid { stroke: #e3e8ee; stroke-width: 1; }
svg .frame { stroke: #9aa7b4; stroke-width: 1; fill: none; }
svg .curve { stroke: #1f5fa8; stroke-width: 2.5; fill: none; }
svg .step { fill: #1f5fa8; }
svg .label { font-size: 12px; font-weight: 600; }
svg .title { font-size: 13px; font-weight: 600; }
svg .bar.met { fill: #43a047; }
svg .bar.missed { fill: #e53935; }
svg .bar.untargeted { fill: #78909c; }
svg .target { stroke: #1d2733; stroke-width: 2; stroke-dasharray: 4 3; }
";

/// Writes the page for `results` to `path`.
pub(crate) fn write(results: &Results, path: &Path) -> Result<(), String> {
    std::fs::write(path, render(results)).map_err(|e| format!("{}: {e}", path.display()))
}

/// The page for `results`.
pub(crate) fn render(results: &Results) -> String {
    let mut page = String::new();
    let _ = write!(
        page,
        "<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\">\n<head>\n\
         <meta charset=\"utf-8\"/>\n<title>routeguide benchmark, {}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        esc(&results.run.date)
    );
    header(&mut page, results);
    contents(&mut page, results);
    for (index, scenario) in results.scenarios().into_iter().enumerate() {
        section(&mut page, results, index, scenario);
    }
    page.push_str("</body>\n</html>\n");
    page
}

fn header(page: &mut String, results: &Results) {
    let run = &results.run;
    let _ = write!(
        page,
        "<header>\n<h1>routeguide benchmark</h1>\n<dl class=\"run\">\
         <dt>date</dt><dd class=\"date\">{}</dd><dt>commit</dt><dd class=\"commit\">{}</dd>\
         <dt>machine</dt><dd class=\"machine\">{}</dd><dt>kernel</dt><dd class=\"kernel\">{}</dd></dl>\n\
         <p>Each scenario: its latency percentiles from 50% to 99.9% (a logarithmic axis: each step \
         to the right is ten times rarer), the server's CPU time per message against its target \
         (the dashed line; green meets it, red misses it), and every figure of the table. \
         Written by <code>make bench</code> with <code>target/bench/results.json</code>.</p>\n</header>\n",
        esc(&run.date),
        esc(&run.commit),
        esc(&run.machine),
        esc(&run.kernel)
    );
}

/// The scenarios as links to their panels, each with how many of its targets it misses.
fn contents(page: &mut String, results: &Results) {
    page.push_str("<nav>\n<ol class=\"contents\">\n");
    for (index, scenario) in results.scenarios().into_iter().enumerate() {
        let judged: Vec<bool> = results
            .rows
            .iter()
            .filter(|row| row.scenario == scenario)
            .filter_map(meets)
            .collect();
        let missed = judged.iter().filter(|met| !**met).count();
        let verdict = match (judged.len(), missed) {
            (0, _) => String::new(),
            (_, 0) => "<span class=\"met\">targets met</span>".to_string(),
            (_, missed) => format!(
                "<span class=\"missed\">{missed} of {} targets missed</span>",
                judged.len()
            ),
        };
        let _ = writeln!(
            page,
            "<li><a href=\"#s{}\">{}</a> {verdict}</li>",
            index + 1,
            esc(scenario)
        );
    }
    page.push_str("</ol>\n</nav>\n");
}

fn section(page: &mut String, results: &Results, index: usize, scenario: &str) {
    let rows: Vec<&Row> = results
        .rows
        .iter()
        .filter(|row| row.scenario == scenario)
        .collect();
    let latency = results.latency.iter().find(|l| l.scenario == scenario);
    let _ = writeln!(
        page,
        "<section class=\"scenario\" id=\"s{}\" data-scenario=\"{}\">\n<h2>{}</h2>\n<div class=\"charts\">",
        index + 1,
        esc(scenario),
        esc(scenario)
    );
    match latency {
        Some(latency) if !latency.curve.is_empty() => curve_chart(page, latency),
        _ => page.push_str(
            "<p class=\"none\">No latency curve: this scenario is not a run of many calls.</p>\n",
        ),
    }
    page.push_str("<div class=\"side\">\n");
    let cpu: Vec<&Row> = rows
        .iter()
        .copied()
        .filter(|row| row.figure.contains("CPU per"))
        .collect();
    if !cpu.is_empty() {
        cpu_bars(page, &cpu);
    }
    figures_table(page, &rows);
    page.push_str("</div>\n</div>\n</section>\n");
}

/// The latency percentile curve: x from 50% to 99.9% on a log scale of 1 / (1 - p), y linear
/// from 0; the ladder's steps marked and labelled.
fn curve_chart(page: &mut String, latency: &ScenarioLatency) {
    let summary = &latency.summary;
    let top_us = nice_ceiling(
        latency
            .curve
            .iter()
            .map(|p| p.us)
            .fold(summary.p999_us, f64::max)
            * 1.1,
    );
    let plot_w = CURVE_W - CURVE_LEFT - CURVE_RIGHT;
    let plot_h = CURVE_H - CURVE_TOP - CURVE_BOTTOM;
    let x = |percentile: f64| CURVE_LEFT + axis_position(percentile) * plot_w;
    let y = |us: f64| CURVE_TOP + plot_h * (1.0 - us / top_us);
    let _ = writeln!(
        page,
        "<svg class=\"latency\" data-per=\"{per}\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{CURVE_W}\" height=\"{CURVE_H}\" viewBox=\"0 0 {CURVE_W} {CURVE_H}\">\n\
         <text class=\"title\" x=\"{CURVE_LEFT}\" y=\"16\">latency per {per}, by percentile ({} recorded, max {})</text>",
        thousands(summary.count),
        esc(&format_us(summary.max_us)),
        per = esc(&latency.per),
    );
    for tick in y_ticks(top_us) {
        let py = y(tick);
        let _ = writeln!(
            page,
            "<line class=\"grid\" x1=\"{CURVE_LEFT}\" x2=\"{:.1}\" y1=\"{py:.1}\" y2=\"{py:.1}\"/>\
             <text class=\"axis\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            CURVE_LEFT + plot_w,
            CURVE_LEFT - 6.0,
            py + 4.0,
            esc(&tick_label(tick, top_us)),
        );
    }
    for percentile in AXIS_PERCENTILES {
        let _ = writeln!(
            page,
            "<line class=\"grid\" x1=\"{px:.1}\" x2=\"{px:.1}\" y1=\"{CURVE_TOP}\" y2=\"{:.1}\"/>\
             <text class=\"axis\" x=\"{px:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{percentile}%</text>",
            CURVE_TOP + plot_h,
            CURVE_TOP + plot_h + 16.0,
            px = x(percentile),
        );
    }
    let _ = writeln!(
        page,
        "<rect class=\"frame\" x=\"{CURVE_LEFT}\" y=\"{CURVE_TOP}\" width=\"{plot_w}\" height=\"{plot_h}\"/>\n\
         <text class=\"axis\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">percentile (log scale of 1 / (1 - p))</text>",
        CURVE_LEFT + plot_w / 2.0,
        CURVE_H - 4.0
    );
    let path: Vec<String> = latency
        .curve
        .iter()
        .map(|&CurvePoint { percentile, us }| format!("{:.1},{:.1}", x(percentile), y(us)))
        .collect();
    let _ = writeln!(
        page,
        "<path class=\"curve\" data-points=\"{}\" d=\"M{}\"/>",
        path.len(),
        path.join(" L")
    );
    for (name, percentile, us) in ladder(summary) {
        let (px, py) = (x(percentile), y(us));
        // The curve rises to the right, so a label goes above its point or below and to its
        // right; p50's starts at its point and p99.9's ends at it, to stay inside the frame, and
        // p90's goes below, clear of p50's.
        let bottom = CURVE_TOP + plot_h - 4.0;
        let (anchor, label_x, label_y) = match percentile {
            p if p <= 50.0 => ("start", px + 4.0, py - 9.0),
            p if p <= 90.0 => ("start", px + 6.0, (py + 17.0).min(bottom)),
            p if p > 99.5 => ("end", px - 2.0, py - 9.0),
            _ => ("middle", px, py - 9.0),
        };
        let _ = writeln!(
            page,
            "<circle class=\"step\" data-percentile=\"{percentile}\" data-us=\"{us}\" cx=\"{px:.1}\" cy=\"{py:.1}\" r=\"4\"/>\
             <text class=\"label\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"{anchor}\">{name} {}</text>",
            label_x,
            label_y.max(CURVE_TOP + 12.0),
            esc(&format_us(us)),
        );
    }
    page.push_str("</svg>\n");
}

/// The ladder's steps on the curve: (name, percentile, microseconds).
fn ladder(summary: &LatencySummary) -> [(&'static str, f64, f64); 4] {
    [
        ("p50", 50.0, summary.p50_us),
        ("p90", 90.0, summary.p90_us),
        ("p99", 99.0, summary.p99_us),
        ("p99.9", 99.9, summary.p999_us),
    ]
}

/// Where `percentile` falls on the x axis, 0 at 50% to 1 at 99.9%.
fn axis_position(percentile: f64) -> f64 {
    let t = |p: f64| (1.0 / (1.0 - p / 100.0)).log10();
    (t(percentile) - t(50.0)) / (t(99.9) - t(50.0))
}

/// Bars of the server's CPU per message, one per figure, each against its target when it has
/// one (the dashed line).
fn cpu_bars(page: &mut String, rows: &[&Row]) {
    let height = 20.0 + BAR_ROW_H * rows.len() as f64;
    let (left, width) = (8.0, BARS_W - 90.0);
    let scale = rows
        .iter()
        .map(|row| {
            row.value
                .max(limit(&row.target).map_or(0.0, |(_, limit)| limit))
        })
        .fold(0.0, f64::max)
        .max(f64::MIN_POSITIVE)
        * 1.1;
    let _ = writeln!(
        page,
        "<svg class=\"cpu\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{BARS_W}\" height=\"{height}\" viewBox=\"0 0 {BARS_W} {height}\">"
    );
    for (i, row) in rows.iter().enumerate() {
        let top = 8.0 + BAR_ROW_H * i as f64;
        let bar_w = (row.value / scale * width).max(1.0);
        let target = limit(&row.target);
        // The value goes right of the bar and of the target's line, whichever ends further.
        let value_x =
            left + 6.0 + target.map_or(bar_w, |(_, limit)| bar_w.max(limit / scale * width + 2.0));
        let class = match target {
            Some(_) if meets(row) == Some(true) => "met",
            Some(_) => "missed",
            None => "untargeted",
        };
        let _ = writeln!(
            page,
            "<text class=\"label\" x=\"{left}\" y=\"{:.1}\">{}</text>\
             <rect class=\"bar {class}\" data-value=\"{}\" x=\"{left}\" y=\"{:.1}\" width=\"{bar_w:.1}\" height=\"20\" rx=\"2\"/>\
             <text class=\"label\" x=\"{:.1}\" y=\"{:.1}\">{} {}</text>",
            top + 12.0,
            esc(&row.figure),
            row.value,
            top + 18.0,
            value_x,
            top + 33.0,
            esc(&number(row.value)),
            esc(&row.unit),
        );
        if let Some((op, limit)) = target {
            let tx = left + limit / scale * width;
            let _ = writeln!(
                page,
                "<line class=\"target\" data-limit=\"{limit}\" x1=\"{tx:.1}\" x2=\"{tx:.1}\" y1=\"{:.1}\" y2=\"{:.1}\"/>\
                 <text class=\"axis\" x=\"{tx:.1}\" y=\"{:.1}\" text-anchor=\"middle\">target {} {} {}</text>",
                top + 14.0,
                top + 42.0,
                top + 52.0,
                esc(op),
                esc(&number(limit)),
                esc(&row.unit),
            );
        }
    }
    page.push_str("</svg>\n");
}

fn figures_table(page: &mut String, rows: &[&Row]) {
    page.push_str(
        "<table class=\"figures\">\n<tr><th>figure</th><th>value</th><th>target</th><th></th></tr>\n",
    );
    for row in rows {
        let (class, mark) = match meets(row) {
            Some(true) => ("met", "met"),
            Some(false) => ("missed", "missed"),
            None => ("", ""),
        };
        let _ = writeln!(
            page,
            "<tr><td class=\"figure\">{}</td><td class=\"value\" data-value=\"{}\">{} {}</td><td>{}</td><td class=\"{class}\">{mark}</td></tr>",
            esc(&row.figure),
            row.value,
            esc(&number(row.value)),
            esc(&row.unit),
            esc(&row.target),
        );
    }
    page.push_str("</table>\n");
}

/// The comparison and the number of a target (`<= 10`, `>= 1,000,000`, `within 10% of 100 (<=
/// 23.1)`); a bare number (`100`) is a floor. `None` when it holds neither.
fn limit(target: &str) -> Option<(&'static str, f64)> {
    let parse = |text: &str| -> Option<f64> {
        let number: String = text
            .trim_start()
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == ',')
            .filter(|c| *c != ',')
            .collect();
        number.parse().ok()
    };
    for (at, _) in target.match_indices(['<', '>']) {
        let rest = &target[at..];
        for op in ["<=", ">=", "<", ">"] {
            if let Some(after) = rest.strip_prefix(op) {
                return parse(after).map(|n| (op, n));
            }
        }
    }
    parse(target).map(|n| (">=", n))
}

/// Whether `row` meets its target, when it has one.
fn meets(row: &Row) -> Option<bool> {
    let (op, limit) = limit(&row.target)?;
    Some(match op {
        "<=" => row.value <= limit,
        "<" => row.value < limit,
        ">" => row.value > limit,
        _ => row.value >= limit,
    })
}

/// A figure as the page shows it: `1,234,567`, `23.4`, `0.92`.
fn number(value: f64) -> String {
    if value.abs() >= 1000.0 {
        thousands(value.round() as u64)
    } else if value.abs() >= 100.0 {
        format!("{value:.0}")
    } else if value.abs() >= 10.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    }
}

/// A round number at or above `us`: 1, 2 or 5 times a power of ten.
fn nice_ceiling(us: f64) -> f64 {
    if us <= 0.0 || !us.is_finite() {
        return 1.0;
    }
    let power = 10_f64.powf(us.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * power)
        .find(|&v| v >= us)
        .unwrap_or(10.0 * power)
}

/// A tick of the latency axis, in the unit of its top: `0`, `500 us`, `2.5 ms`.
fn tick_label(us: f64, top_us: f64) -> String {
    let (value, unit) = match top_us {
        t if t >= 1e6 => (us / 1e6, "s"),
        t if t >= 1e3 => (us / 1e3, "ms"),
        _ => (us, "us"),
    };
    // Round values: as few decimals as they need.
    let text = format!("{value:.3}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    format!("{text} {unit}")
}

/// Four or five round values from 0 to `top`.
fn y_ticks(top: f64) -> Vec<f64> {
    let step = nice_ceiling(top / 5.0);
    (0..)
        .map(|i| i as f64 * step)
        .take_while(|&v| v <= top * 1.0001)
        .collect()
}

/// `text` with XML's special characters escaped.
fn esc(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_read_their_comparison_and_number() {
        assert_eq!(limit("<= 10"), Some(("<=", 10.0)));
        assert_eq!(limit(">= 1,000,000"), Some((">=", 1e6)));
        assert_eq!(limit("< 1000"), Some(("<", 1000.0)));
        assert_eq!(limit("within 10% of 100 (<= 23.10)"), Some(("<=", 23.1)));
        assert_eq!(limit("within 10% of 100"), None);
        assert_eq!(limit("100"), Some((">=", 100.0)));
        assert_eq!(limit(""), None);
    }

    #[test]
    fn the_axis_runs_from_the_median_to_the_thousandth() {
        assert!(axis_position(50.0).abs() < 1e-12);
        assert!((axis_position(99.9) - 1.0).abs() < 1e-12);
        // 90%, 99% and 99.9% are a decade apart each.
        let decade = axis_position(99.0) - axis_position(90.0);
        assert!((axis_position(99.9) - axis_position(99.0) - decade).abs() < 1e-9);
    }

    #[test]
    fn scales_end_on_round_numbers() {
        assert_eq!(nice_ceiling(83.0), 100.0);
        assert_eq!(nice_ceiling(180.0), 200.0);
        assert_eq!(nice_ceiling(2100.0), 2500.0);
        assert_eq!(y_ticks(100.0), vec![0.0, 20.0, 40.0, 60.0, 80.0, 100.0]);
        assert_eq!(tick_label(2_500.0, 10_000.0), "2.5 ms");
        assert_eq!(tick_label(0.0, 10_000.0), "0 ms");
        assert_eq!(tick_label(40.0, 100.0), "40 us");
    }

    #[test]
    fn text_is_escaped() {
        assert_eq!(esc("a < b & \"c\""), "a &lt; b &amp; &quot;c&quot;");
    }
}
