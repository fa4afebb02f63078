//! The integration tests: each module checks one behaviour against a real RouteGuide server on an
//! ephemeral port of 127.0.0.1, started in-process through the library (`common::TestServer`) or
//! as the `route_guide_server` binary (`common::process`), and talked to as a user would.
//!
//! They are one test binary, not one per file: each binary links the gRPC core, and linking is
//! most of what an integration test costs to build. Tests that measure the server's CPU time or
//! memory live in `tests/measure/`, a binary of their own, so that these do not disturb them.

mod common;

mod cancellation;
mod client_cli;
mod client_errors;
mod compression;
mod get_feature;
mod health;
mod limits;
mod list_features;
mod malformed_requests;
mod metrics;
mod record_route;
mod redis_chat;
mod reflection;
mod round_robin;
mod route_chat;
mod server_process;
mod shutdown_under_load;
mod tls;
