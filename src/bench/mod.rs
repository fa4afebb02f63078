//! Benchmarking tools (`route_guide_bench`, `make bench`): a generator of large deterministic
//! databases, the load scenarios, a child-process wrapper for servers (also used by the tests),
//! the suite that ties them together (`make bench`), and the soak (`make soak`).

pub mod generate;
pub mod load;
pub mod process;
pub mod soak;
pub mod suite;
