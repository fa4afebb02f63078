//! `route_guide_client`: calls a RouteGuide server; `--help` lists the subcommands.
//!
//! The program owns its command line; the calls themselves are [`routeguide::RouteGuideClient`]'s.
//!
//! * [`args`]: the flags and subcommands;
//! * [`session`]: the tutorial's tour, and one function per subcommand;
//! * [`output`]: what is printed, as one [`output::Event`] type shown as text or JSON;
//! * [`input`]: points and notes read from standard input, one JSON object per line;
//! * [`pace`]: RecordRoute's pause between points.
//!
//! A new flag is a field of [`args::Options`] (and, if the session needs it, of
//! [`session::Session`]); a new subcommand is a variant of [`args::Command`], a line in
//! `Session::run` and a function beside the others in `session.rs`, with new [`output::Event`]s
//! if it prints something new.
//!
//! Exit codes: 0 when every call succeeded; 1 when the server answered a call with an error (an
//! `UNAVAILABLE` that carries a reason, such as a chat store that is down, is an answer); 2 when
//! the server could not be reached (`UNAVAILABLE` without a reason) or the input (flags,
//! database, standard input) was wrong. The same under `--json`, where the failure is one
//! `{"error": {...}}` line on standard output instead of text on standard error.

mod args;
mod input;
mod output;
mod pace;
mod session;

use std::fmt;
use std::process::ExitCode;

use clap::Parser;
use grpcio::RpcStatusCode;
use routeguide::CallError;
use routeguide::LoadError;

use args::{ClientArgs, Command};
use output::Output;
use session::Session;

fn main() -> ExitCode {
    let args = ClientArgs::parse();
    routeguide::init_logging("warn");
    let out = Output {
        json: args.options.json,
    };
    let outcome =
        Session::new(&args.options, out).and_then(|s| s.run(args.command.unwrap_or(Command::Tour)));
    routeguide::flush_logs();
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            out.fail(&e);
            ExitCode::from(e.exit_code())
        }
    }
}

/// Why the program failed.
#[derive(Debug)]
enum CliError {
    Call(CallError),
    Database(LoadError),
    Input(String),
}

impl CliError {
    fn exit_code(&self) -> u8 {
        match self {
            // UNAVAILABLE with a reason is the server's answer (its chat store is down, say);
            // without one, the server could not be reached.
            CliError::Call(e) if e.code() != RpcStatusCode::UNAVAILABLE || e.reason().is_some() => {
                1
            }
            _ => 2,
        }
    }
}

impl From<CallError> for CliError {
    fn from(e: CallError) -> Self {
        CliError::Call(e)
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Call(e) => e.fmt(f),
            CliError::Database(e) => e.fmt(f),
            CliError::Input(problem) => f.write_str(problem),
        }
    }
}

/// Transparent: each variant shows its error's message and passes on its cause.
impl std::error::Error for CliError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CliError::Call(e) => e.source(),
            CliError::Database(e) => e.source(),
            CliError::Input(_) => None,
        }
    }
}
