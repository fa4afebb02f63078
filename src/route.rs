//! How RecordRoute sums up a route: points counted, features passed, distance travelled and time
//! taken. The service feeds points in as they arrive; nothing here knows about gRPC streams.

use std::time::Duration;

use crate::geo::{self, Coordinates};
use crate::proto::RouteSummary;

/// The running totals of one route.
#[derive(Debug, Default)]
pub(crate) struct RouteRecorder {
    point_count: u64,
    feature_count: u64,
    /// Kept as floating point and truncated once, in [`RouteRecorder::summary`], so that rounding
    /// does not add up over many short legs.
    distance_m: f64,
    previous: Option<Coordinates>,
}

impl RouteRecorder {
    pub(crate) fn new() -> Self {
        RouteRecorder::default()
    }

    /// Adds the next point of the route; `is_feature` says whether the database has an entry there.
    pub(crate) fn record(&mut self, at: Coordinates, is_feature: bool) {
        self.point_count += 1;
        if is_feature {
            self.feature_count += 1;
        }
        if let Some(previous) = self.previous {
            self.distance_m += geo::distance_m(previous, at);
        }
        self.previous = Some(at);
    }

    /// The summary sent to the client. Counts and distance saturate at `i32::MAX`, the largest
    /// value the wire format carries; the elapsed time is in whole seconds, truncated.
    pub(crate) fn summary(&self, elapsed: Duration) -> RouteSummary {
        RouteSummary {
            point_count: saturate(self.point_count),
            feature_count: saturate(self.feature_count),
            // `as` truncates toward zero and saturates at i32::MAX, which is what we want.
            distance: self.distance_m as i32,
            elapsed_time: saturate(elapsed.as_secs()),
            ..RouteSummary::default()
        }
    }
}

fn saturate(value: u64) -> i32 {
    i32::try_from(value).unwrap_or(i32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(latitude: i32, longitude: i32) -> Coordinates {
        Coordinates::new(latitude, longitude).unwrap()
    }

    #[test]
    fn an_empty_route_is_all_zeros() {
        let summary = RouteRecorder::new().summary(Duration::from_millis(999));
        assert_eq!(summary, RouteSummary::new());
    }

    #[test]
    fn distance_is_summed_then_truncated_once() {
        let mut recorder = RouteRecorder::new();
        for (i, step) in [1000, 2000, 3000, 4000].into_iter().enumerate() {
            recorder.record(c(step, step), i % 2 == 0);
        }
        let summary = recorder.summary(Duration::from_millis(2_999));
        assert_eq!(summary.point_count, 4);
        assert_eq!(summary.feature_count, 2);
        // Each leg is about 15.7 m: truncating per leg would give 45.
        assert_eq!(summary.distance, 47);
        assert_eq!(summary.elapsed_time, 2);
    }
}
