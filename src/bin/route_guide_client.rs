//! `route_guide_client`: calls a RouteGuide server; `--help` lists the subcommands.

use std::process::ExitCode;

use clap::Parser;
use routeguide::cli::{self, ClientArgs};

fn main() -> ExitCode {
    let args = ClientArgs::parse();
    routeguide::init_logging("warn");
    cli::run(args)
}
