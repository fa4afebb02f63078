//! Waiting for something that happens on its own time (a server noticing a hang-up, a replica
//! hearing of a note), by asking again until it is so, instead of sleeping for a guessed while.

use std::thread;
use std::time::{Duration, Instant};

/// How long to wait between two looks.
const LOOK_AGAIN: Duration = Duration::from_millis(10);

/// Calls `check` until it returns `Ok`, for up to `limit`, and returns what it returned then; or
/// panics with `what` and the last error `check` gave.
#[track_caller]
pub fn eventually<T, E: std::fmt::Debug>(
    what: &str,
    limit: Duration,
    mut check: impl FnMut() -> Result<T, E>,
) -> T {
    let deadline = Instant::now() + limit;
    loop {
        match check() {
            Ok(value) => return value,
            Err(e) if Instant::now() >= deadline => {
                panic!("{what}: still not so after {limit:?}; last: {e:?}")
            }
            Err(_) => thread::sleep(LOOK_AGAIN),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn returns_as_soon_as_the_check_passes() {
        let mut looks = 0;
        let value = eventually("the third look", Duration::from_secs(5), || {
            looks += 1;
            if looks == 3 { Ok(looks) } else { Err(looks) }
        });
        assert_eq!(value, 3);
    }

    #[test]
    #[should_panic(expected = "never: still not so")]
    fn panics_with_the_last_error_when_time_runs_out() {
        eventually("never", Duration::from_millis(30), || Err::<(), _>("no"));
    }
}
