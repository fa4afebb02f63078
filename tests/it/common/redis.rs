//! A real `redis-server` from the system's packages for the tests of RouteChat's Redis backend.
//! Where it is not installed those tests are skipped with one loud line, unless
//! `ROUTEGUIDE_REQUIRE_REDIS` is set (CI sets it), which makes them fail instead.

use std::path::Path;

pub use routeguide_testkit::RedisProcess;

/// Starts `redis-server` on a free port, or returns `None` after saying that `test` is skipped.
pub fn start_redis(test: &str) -> Option<RedisProcess> {
    if !RedisProcess::installed() {
        assert!(
            std::env::var_os("ROUTEGUIDE_REQUIRE_REDIS").is_none(),
            "redis-server is not installed, and ROUTEGUIDE_REQUIRE_REDIS is set"
        );
        eprintln!(
            "\n*** SKIPPED {test}: redis-server is not installed (apt-get install redis-server) ***\n"
        );
        return None;
    }
    Some(RedisProcess::start(Path::new(env!("CARGO_TARGET_TMPDIR")), None).unwrap())
}
