//! Prometheus's own tools from the system's packages (Debian's `prometheus` package: the
//! `prometheus` server and `promtool`), for the tests of the metrics. Where they are not
//! installed those tests are skipped with one loud line, unless `ROUTEGUIDE_REQUIRE_PROMETHEUS`
//! is set (CI sets it), which makes them fail instead.

pub use routeguide_testkit::PrometheusProcess;
use routeguide_testkit::installed;

/// Whether `tool` (`prometheus` or `promtool`) can be run; if not, says that `test` is skipped,
/// or fails when `ROUTEGUIDE_REQUIRE_PROMETHEUS` is set.
pub fn have(tool: &str, test: &str) -> bool {
    if !installed(tool) {
        assert!(
            std::env::var_os("ROUTEGUIDE_REQUIRE_PROMETHEUS").is_none(),
            "{tool} is not installed, and ROUTEGUIDE_REQUIRE_PROMETHEUS is set"
        );
        eprintln!(
            "\n*** SKIPPED {test}: {tool} is not installed (apt-get install prometheus) ***\n"
        );
        return false;
    }
    true
}
