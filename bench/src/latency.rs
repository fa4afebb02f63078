//! Latency, recorded into an HDR histogram (constant memory, whatever the number of calls, to
//! three significant digits), and what is shown of it: the ladder of percentiles, the curve the
//! HTML report draws, and a small text histogram. Every command of `route_guide_bench` that
//! measures latency records it here and prints it with these printers.

use std::fmt::Write as _;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// Points of the percentile curve from 50% to 99.9%, evenly spaced on the report's axis, which
/// is logarithmic in 1 / (1 - percentile): 2 at 50%, 10 at 90%, 100 at 99%, 1,000 at 99.9%.
const CURVE_POINTS: usize = 31;

/// Rows of the text histogram.
const HISTOGRAM_ROWS: usize = 10;

/// The width of the text histogram's longest bar, in characters.
const BAR_WIDTH: usize = 40;

/// Latencies recorded so far, in nanoseconds.
#[derive(Clone, Debug)]
pub(crate) struct Latency(Histogram<u64>);

impl Default for Latency {
    fn default() -> Self {
        // Three significant digits, resizing itself to the largest value recorded.
        Latency(Histogram::new(3).expect("3 significant digits is a valid precision"))
    }
}

impl Latency {
    pub(crate) fn record(&mut self, latency: Duration) {
        let nanos = u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX);
        // `record` grows the histogram as needed (`saturating_record` would clamp to its
        // current top); only a value beyond what it can ever hold is clamped.
        if self.0.record(nanos.max(1)).is_err() {
            self.0.saturating_record(nanos.max(1));
        }
    }

    /// Adds the latencies of `other` to these.
    pub(crate) fn merge(&mut self, other: &Latency) {
        // Both resize themselves, so adding cannot run out of range.
        let _ = self.0.add(&other.0);
    }

    pub(crate) fn count(&self) -> u64 {
        self.0.len()
    }

    fn us_at(&self, percentile: f64) -> f64 {
        self.0.value_at_percentile(percentile) as f64 / 1e3
    }

    /// The ladder of percentiles, with the mean and the maximum.
    pub(crate) fn summary(&self) -> LatencySummary {
        if self.0.is_empty() {
            return LatencySummary::default();
        }
        LatencySummary {
            count: self.count(),
            mean_us: self.0.mean() / 1e3,
            p50_us: self.us_at(50.0),
            p90_us: self.us_at(90.0),
            p99_us: self.us_at(99.0),
            p999_us: self.us_at(99.9),
            max_us: self.0.max() as f64 / 1e3,
        }
    }

    /// The percentile curve from 50% to 99.9%, as the HTML report draws it.
    pub(crate) fn curve(&self) -> Vec<CurvePoint> {
        if self.0.is_empty() {
            return Vec::new();
        }
        let (low, high) = (2_f64.log10(), 1000_f64.log10());
        (0..CURVE_POINTS)
            .map(|i| {
                let x = low + (high - low) * i as f64 / (CURVE_POINTS - 1) as f64;
                let percentile = 100.0 * (1.0 - 10_f64.powf(-x));
                // Rounded so that the end points read 50 and 99.9 exactly.
                let percentile = (percentile * 1e4).round() / 1e4;
                CurvePoint {
                    percentile,
                    us: self.us_at(percentile),
                }
            })
            .collect()
    }

    /// The text histogram: [`HISTOGRAM_ROWS`] ranges spaced evenly on a log scale from the
    /// fastest to the slowest call, the calls in each.
    pub(crate) fn buckets(&self) -> Vec<Bucket> {
        if self.0.is_empty() {
            return Vec::new();
        }
        let (min, max) = (self.0.min().max(1) as f64, self.0.max().max(1) as f64);
        let ratio = (max / min).max(1.0 + 1e-9);
        let edge = |i: usize| min * ratio.powf(i as f64 / HISTOGRAM_ROWS as f64);
        let mut counts = [0_u64; HISTOGRAM_ROWS];
        for value in self.0.iter_recorded() {
            // Each recorded value in the range its logarithm falls in, the maximum in the last.
            let at = (value.value_iterated_to().max(1) as f64 / min).ln() / ratio.ln();
            let row = ((at * HISTOGRAM_ROWS as f64) as usize).min(HISTOGRAM_ROWS - 1);
            counts[row] += value.count_at_value();
        }
        counts
            .iter()
            .enumerate()
            .map(|(i, &count)| Bucket {
                from_us: edge(i) / 1e3,
                to_us: edge(i + 1) / 1e3,
                count,
            })
            .collect()
    }
}

/// The ladder of percentiles of many latencies, in microseconds.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq)]
pub(crate) struct LatencySummary {
    /// How many latencies were recorded.
    pub(crate) count: u64,
    pub(crate) mean_us: f64,
    pub(crate) p50_us: f64,
    pub(crate) p90_us: f64,
    pub(crate) p99_us: f64,
    pub(crate) p999_us: f64,
    pub(crate) max_us: f64,
}

impl LatencySummary {
    /// The ladder: p50, p90, p99, p99.9, then the maximum.
    pub(crate) fn steps(&self) -> [(&'static str, f64); 5] {
        [
            ("p50", self.p50_us),
            ("p90", self.p90_us),
            ("p99", self.p99_us),
            ("p99.9", self.p999_us),
            ("max", self.max_us),
        ]
    }

    /// The ladder on one line: `p50 152 us, p90 210 us, p99 480 us, p99.9 1.21 ms, max 3.40 ms`.
    pub(crate) fn line(&self) -> String {
        let steps: Vec<String> = self
            .steps()
            .iter()
            .map(|(name, us)| format!("{name} {}", format_us(*us)))
            .collect();
        steps.join(", ")
    }
}

/// A point of the percentile curve.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq)]
pub(crate) struct CurvePoint {
    pub(crate) percentile: f64,
    pub(crate) us: f64,
}

/// A range of the text histogram and the latencies in it.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq)]
pub(crate) struct Bucket {
    pub(crate) from_us: f64,
    pub(crate) to_us: f64,
    pub(crate) count: u64,
}

/// The text histogram, one line per range: `  152 us -   210 us  ####      1,234`.
pub(crate) fn histogram_text(buckets: &[Bucket]) -> String {
    let most = buckets.iter().map(|b| b.count).max().unwrap_or(0).max(1);
    let mut text = String::new();
    for bucket in buckets {
        let bar = (bucket.count as f64 / most as f64 * BAR_WIDTH as f64).ceil() as usize;
        let _ = writeln!(
            text,
            "  {:>9} - {:>9}  {:<width$}  {}",
            format_us(bucket.from_us),
            format_us(bucket.to_us),
            "#".repeat(bar),
            thousands(bucket.count),
            width = BAR_WIDTH
        );
    }
    text
}

/// Microseconds as a person reads them: `85.2 us`, `152 us`, `1.21 ms`, `3.40 s`.
pub(crate) fn format_us(us: f64) -> String {
    if us >= 1e6 {
        format!("{:.2} s", us / 1e6)
    } else if us >= 1e3 {
        format!("{:.2} ms", us / 1e3)
    } else if us >= 100.0 {
        format!("{us:.0} us")
    } else {
        format!("{us:.1} us")
    }
}

/// `1234567` as `1,234,567`.
pub(crate) fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recorded(us: impl IntoIterator<Item = u64>) -> Latency {
        let mut latency = Latency::default();
        for us in us {
            latency.record(Duration::from_micros(us));
        }
        latency
    }

    #[test]
    fn the_ladder_reads_the_percentiles_of_what_was_recorded() {
        // 1..=1000 us: the p-th percentile is p * 10 us, to three significant digits (and one
        // recorded value either way at the edges of a bucket).
        let summary = recorded(1..=1000).summary();
        assert_eq!(summary.count, 1000);
        let close = |got: f64, want: f64| (got - want).abs() <= want * 0.002;
        assert!(close(summary.p50_us, 500.0), "{summary:?}");
        assert!(close(summary.p90_us, 900.0), "{summary:?}");
        assert!(close(summary.p99_us, 990.0), "{summary:?}");
        assert!(close(summary.p999_us, 999.0), "{summary:?}");
        assert!(close(summary.max_us, 1000.0), "{summary:?}");
        assert!(close(summary.mean_us, 500.5), "{summary:?}");
    }

    #[test]
    fn merged_latencies_count_as_one_recording() {
        let mut fast = recorded([100; 90]);
        fast.merge(&recorded([10_000; 10]));
        let summary = fast.summary();
        assert_eq!(summary.count, 100);
        assert!(
            summary.p90_us < 101.0 && summary.p99_us > 9_990.0,
            "{summary:?}"
        );
    }

    #[test]
    fn the_curve_runs_from_the_median_to_the_thousandth_slowest() {
        let curve = recorded(1..=10_000).curve();
        assert_eq!(curve.len(), CURVE_POINTS);
        assert_eq!(curve[0].percentile, 50.0);
        assert_eq!(curve[CURVE_POINTS - 1].percentile, 99.9);
        assert!(curve.windows(2).all(|w| w[0].percentile < w[1].percentile));
        assert!(curve.windows(2).all(|w| w[0].us <= w[1].us));
    }

    #[test]
    fn the_histogram_holds_every_call_once() {
        let latency = recorded((1..=500).chain([50_000, 90_000]));
        let buckets = latency.buckets();
        assert_eq!(buckets.len(), HISTOGRAM_ROWS);
        assert_eq!(buckets.iter().map(|b| b.count).sum::<u64>(), 502);
        assert!(
            buckets
                .windows(2)
                .all(|w| w[0].to_us <= w[1].from_us + 1e-9)
        );
        let text = histogram_text(&buckets);
        assert_eq!(text.lines().count(), HISTOGRAM_ROWS);
    }

    #[test]
    fn nothing_recorded_shows_nothing() {
        let latency = Latency::default();
        assert_eq!(latency.summary(), LatencySummary::default());
        assert!(latency.curve().is_empty() && latency.buckets().is_empty());
    }

    #[test]
    fn numbers_read_as_people_write_them() {
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(thousands(999), "999");
        assert_eq!(format_us(85.24), "85.2 us");
        assert_eq!(format_us(1_210.0), "1.21 ms");
        assert_eq!(format_us(3_400_000.0), "3.40 s");
    }
}
