//! Benchmarking tools (`route_guide_bench`, `make bench`): a generator of large deterministic
//! databases, the load scenarios, child-process wrappers for servers and for `redis-server` (also
//! used by the tests), the suite that ties them together (`make bench`), and the soak
//! (`make soak`).

pub mod generate;
pub mod load;
pub mod process;
pub mod redis;
pub mod soak;
pub mod suite;
