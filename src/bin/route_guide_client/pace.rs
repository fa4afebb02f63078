//! RecordRoute's pause between two points (`--pace`): how it is read, and how it is taken.

use std::fmt;
use std::thread;
use std::time::Duration;

use routeguide::SplitMix64;

/// The longest pause `--pace` accepts: ten minutes.
const MAX_PACE_MS: u64 = 600_000;

/// RecordRoute's pause between two points, like a traveller's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pace {
    min_ms: u64,
    max_ms: u64,
}

impl Pace {
    pub const NONE: Pace = Pace {
        min_ms: 0,
        max_ms: 0,
    };

    /// `MIN-MAX`, `MS` or `0`, in milliseconds.
    pub fn parse(text: &str) -> Result<Pace, String> {
        let number = |s: &str| {
            s.trim()
                .parse::<u64>()
                .map_err(|_| format!("`{text}` is not MIN-MAX or a number of milliseconds"))
        };
        let (min_ms, max_ms) = match text.split_once('-') {
            Some((min, max)) => (number(min)?, number(max)?),
            None => (number(text)?, number(text)?),
        };
        if min_ms > max_ms {
            return Err(format!("`{text}`: the minimum is larger than the maximum"));
        }
        if max_ms > MAX_PACE_MS {
            return Err(format!("`{text}`: a pause of more than {MAX_PACE_MS} ms"));
        }
        Ok(Pace { min_ms, max_ms })
    }

    pub fn longest(self) -> Duration {
        Duration::from_millis(self.max_ms)
    }

    /// Sleeps for a random time in the range (on the thread that feeds the route to the call).
    pub fn pause(self, rng: &mut SplitMix64) {
        if self.max_ms > 0 {
            let ms = rng.in_range(self.min_ms as i64, self.max_ms as i64);
            thread::sleep(Duration::from_millis(ms as u64));
        }
    }
}

impl fmt::Display for Pace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.min_ms, self.max_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pace_accepts_a_range_a_number_or_zero() {
        assert_eq!(
            Pace::parse("500-1500"),
            Ok(Pace {
                min_ms: 500,
                max_ms: 1500
            })
        );
        assert_eq!(
            Pace::parse("200"),
            Ok(Pace {
                min_ms: 200,
                max_ms: 200
            })
        );
        assert_eq!(Pace::parse("0"), Ok(Pace::NONE));
        assert!(Pace::parse("9-1").is_err());
        assert!(Pace::parse("fast").is_err());
    }
}
