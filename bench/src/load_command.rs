//! `route_guide_bench load`: the command line of a load against any RouteGuide server, as ghz
//! is for any gRPC service. Its flags are read here (the client's TLS flags among them), the
//! address is checked before any call, and the load itself is `load.rs`'s, its output
//! `printers.rs`'s.

use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;

use routeguide::proto::{self, Point, Rectangle};
use routeguide::{ClientOptions, ClientTls, DEFAULT_DB_PATH, FeatureStore};

use crate::load::{self, Load, Requests, Rpc, Stop};
use crate::printers::{self, Format};

/// How long the check of an address waits for a connection.
const CONNECT_CHECK: Duration = Duration::from_secs(3);

/// The tutorial's rectangle, ListFeatures' default: 40..42 N, 75..73 W.
const TUTORIAL_RECTANGLE: &str = "400000000,-750000000,420000000,-730000000";

pub(crate) const EXAMPLES: &str = "\
Examples:
  route_guide_bench load --addr localhost:50051 --rpc get-feature --connections 4 --in-flight 16 --duration 10
  route_guide_bench load --rpc list-features --calls 1000 --format json
  route_guide_bench load --rpc route-chat --in-flight 100 --rate 2000 --duration 30
  route_guide_bench load --addr a.example.com:443,b.example.com:443 --tls-ca ca.pem --calls 10000 --format csv";

/// The flags of `route_guide_bench load`.
#[derive(Args, Debug)]
#[command(after_help = EXAMPLES)]
pub(crate) struct LoadFlags {
    /// Server address, HOST:PORT; a comma-separated list spreads the calls over several servers
    /// round-robin
    #[arg(long, default_value = "localhost:50051")]
    addr: String,
    /// The RPC to call
    #[arg(long, value_enum, default_value_t = Rpc::GetFeature)]
    rpc: Rpc,
    /// Connections to open (each has its own calls in flight)
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    connections: u32,
    /// Calls outstanding on each connection at any time (RouteChat: chats open)
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    in_flight: u32,
    /// Run for this many seconds (the default: 10) ...
    #[arg(long, value_parser = positive_secs, conflicts_with = "calls")]
    duration: Option<f64>,
    /// ... or make exactly this many calls
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    calls: Option<u64>,
    /// Calls per second in all (RouteChat: notes per second), each call's latency counted from
    /// when it was due; without it each call starts as soon as the last one of its lane ends
    #[arg(long, value_parser = positive_rate)]
    rate: Option<f64>,
    /// Deadline of each call, in seconds
    #[arg(long, default_value_t = 20.0, value_parser = positive_secs)]
    timeout: f64,
    /// GetFeature asks about this point, E7 LAT,LON (repeat it to ask about several in turn;
    /// RecordRoute's routes go through them too) [default: the features of --db]
    #[arg(long, value_parser = parse_point, allow_hyphen_values = true)]
    point: Vec<Point>,
    /// The database whose features GetFeature and RecordRoute ask about when no --point is given
    #[arg(long, default_value = DEFAULT_DB_PATH)]
    db: PathBuf,
    /// ListFeatures' rectangle, E7 LAT,LON,LAT,LON of two opposite corners [default: the
    /// tutorial's, 40..42 N, 75..73 W]
    #[arg(long, value_parser = parse_rectangle, allow_hyphen_values = true, default_value = TUTORIAL_RECTANGLE, hide_default_value = true)]
    rectangle: Rectangle,
    /// Points sent by each RecordRoute
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..))]
    route_points: u32,
    /// Notes sent by each RouteChat, in pairs (an even number)
    #[arg(long, default_value_t = 10, value_parser = even_notes)]
    chat_notes: u32,
    /// Output: text for people, json or csv for programs
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Use TLS, trusting the system's root certificates (gRPC's default roots)
    #[arg(long)]
    tls: bool,
    /// Use TLS, trusting the CA certificates in this PEM file instead (any --tls-* flag turns
    /// TLS on)
    #[arg(long)]
    tls_ca: Option<PathBuf>,
    /// Mutual TLS: present this PEM certificate (needs --tls-key)
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Check the server's certificate against this name instead of the address's host
    #[arg(long)]
    tls_server_name: Option<String>,
}

/// Why a load did not run or did not end.
#[derive(Debug)]
pub(crate) enum LoadFailure {
    /// Before any call: a wrong address, an unreadable file (exit code 2, like a wrong flag).
    Setup(String),
    /// During the load (exit code 1).
    Run(String),
}

/// Runs the load the flags describe and prints its report on standard output.
pub(crate) fn run(flags: &LoadFlags) -> Result<(), LoadFailure> {
    let options = client_options(flags).map_err(LoadFailure::Setup)?;
    let load = load_of(flags).map_err(LoadFailure::Setup)?;
    check_addresses(&flags.addr).map_err(LoadFailure::Setup)?;
    let report = load::run(&flags.addr, &options, &load).map_err(LoadFailure::Run)?;
    print!("{}", printers::render(&report, &flags.addr, flags.format));
    Ok(())
}

/// The load the flags describe.
fn load_of(flags: &LoadFlags) -> Result<Load, String> {
    let needs_points = matches!(flags.rpc, Rpc::GetFeature | Rpc::RecordRoute);
    let points = if !flags.point.is_empty() || !needs_points {
        flags.point.clone()
    } else {
        let store = FeatureStore::load(&flags.db).map_err(|e| {
            format!(
                "{} (or ask about --point LAT,LON)",
                routeguide::describe(&e)
            )
        })?;
        (0..store.len())
            .map(|i| store.position(i).to_point())
            .collect()
    };
    Ok(Load {
        rpc: flags.rpc,
        connections: flags.connections as usize,
        in_flight: flags.in_flight as usize,
        stop: match flags.calls {
            Some(calls) => Stop::Calls(calls),
            None => Stop::After(Duration::from_secs_f64(flags.duration.unwrap_or(10.0))),
        },
        rate: flags.rate,
        requests: Requests {
            points: Arc::from(points),
            rectangle: flags.rectangle.clone(),
            route_points: flags.route_points as usize,
            chat_notes: flags.chat_notes as usize,
        },
        timeout: Duration::from_secs_f64(flags.timeout),
    })
}

/// How to connect: the load generator's options, with TLS when any --tls-* flag is given.
fn client_options(flags: &LoadFlags) -> Result<ClientOptions, String> {
    let identity = flags.tls_cert.as_deref().zip(flags.tls_key.as_deref());
    let tls = ClientTls::from_flags(
        flags.tls,
        flags.tls_ca.as_deref(),
        identity,
        flags.tls_server_name.clone(),
    )
    .map_err(|e| routeguide::describe(&e))?;
    Ok(ClientOptions {
        tls,
        ..ClientOptions::load_generator()
    })
}

/// Checks that each address of `addrs` (comma-separated) is HOST:PORT and accepts connections,
/// so that a wrong address is one clear error rather than a run of UNAVAILABLE calls.
fn check_addresses(addrs: &str) -> Result<(), String> {
    for addr in addrs.split(',').map(str::trim) {
        let port = addr.rsplit_once(':').map(|(_, port)| port);
        if addr.is_empty() || port.is_none_or(|port| port.parse::<u16>().is_err()) {
            return Err(format!(
                "--addr {addrs}: `{addr}` is not HOST:PORT (e.g. localhost:50051)"
            ));
        }
        let resolved: Vec<SocketAddr> = addr
            .to_socket_addrs()
            .map_err(|e| format!("--addr {addrs}: cannot resolve `{addr}`: {e}"))?
            .collect();
        let mut last_error = None;
        for socket in &resolved {
            match TcpStream::connect_timeout(socket, CONNECT_CHECK) {
                Ok(_) => {
                    last_error = None;
                    break;
                }
                Err(e) => last_error = Some(e),
            }
        }
        if let Some(e) = last_error {
            return Err(format!(
                "--addr {addrs}: nothing accepts connections at {addr} ({e}); is the server running?"
            ));
        }
    }
    Ok(())
}

fn positive_secs(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(secs) if secs.is_finite() && secs > 0.0 && secs < 1e9 => Ok(secs),
        _ => Err(format!("`{text}` is not a positive number of seconds")),
    }
}

fn positive_rate(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(rate) if rate.is_finite() && rate > 0.0 => Ok(rate),
        _ => Err(format!("`{text}` is not a positive rate per second")),
    }
}

fn even_notes(text: &str) -> Result<u32, String> {
    match text.parse::<u32>() {
        Ok(notes) if notes >= 2 && notes.is_multiple_of(2) => Ok(notes),
        _ => Err(format!(
            "`{text}` is not an even number of notes (2 or more): they are sent in pairs"
        )),
    }
}

/// E7 integers separated by commas, `expected` of them.
fn e7_list(text: &str, expected: usize) -> Result<Vec<i32>, String> {
    let numbers: Vec<i32> = text
        .split(',')
        .map(|n| n.trim().parse::<i32>())
        .collect::<Result<_, _>>()
        .map_err(|_| format!("`{text}` is not a list of E7 integers (degrees x 10^7)"))?;
    if numbers.len() != expected {
        return Err(format!(
            "`{text}`: {expected} E7 integers expected, separated by commas"
        ));
    }
    Ok(numbers)
}

/// `LAT,LON` in E7, taken as given: an invalid point is a request a server should refuse.
fn parse_point(text: &str) -> Result<Point, String> {
    let n = e7_list(text, 2)?;
    Ok(proto::point(n[0], n[1]))
}

/// `LAT,LON,LAT,LON` in E7: two opposite corners.
fn parse_rectangle(text: &str) -> Result<Rectangle, String> {
    let n = e7_list(text, 4)?;
    Ok(proto::rectangle(
        proto::point(n[0], n[1]),
        proto::point(n[2], n[3]),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_and_rectangles_are_e7_lists() {
        assert_eq!(
            parse_point("409146138,-746188906"),
            Ok(proto::point(409_146_138, -746_188_906))
        );
        assert!(parse_point("1").is_err());
        assert!(parse_point("40.9,-74.6").is_err());
        assert!(parse_rectangle("1,2,3").is_err());
        assert!(parse_rectangle(TUTORIAL_RECTANGLE).is_ok());
    }

    #[test]
    fn notes_go_in_pairs() {
        assert_eq!(even_notes("10"), Ok(10));
        assert!(even_notes("3").is_err() && even_notes("0").is_err());
    }

    #[test]
    fn an_address_without_a_port_is_refused_before_any_connection() {
        let error = check_addresses("localhost").unwrap_err();
        assert!(error.contains("is not HOST:PORT"), "{error}");
        let error = check_addresses(",127.0.0.1:1").unwrap_err();
        assert!(error.contains("is not HOST:PORT"), "{error}");
    }
}
