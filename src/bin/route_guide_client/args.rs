//! The client's command line: the flags accepted before or after the subcommand, the subcommands,
//! and how coordinates and durations are read. What the subcommands do is in `session.rs`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use routeguide::ClientTls;
use routeguide::DEFAULT_DB_PATH;
use routeguide::degrees_to_e7;
use routeguide::{ClientOptions, DEFAULT_TIMEOUT};

use crate::CliError;
use crate::pace::Pace;

/// Calls a RouteGuide server. With no subcommand it runs the tutorial's tour: each of the four RPCs
/// once. Coordinates are E7 integers (degrees x 10^7, e.g. 409146138) or decimal degrees (with a
/// '.', e.g. 40.9146138).
#[derive(Parser, Debug)]
#[command(name = "route_guide_client", version, after_help = TOUR_EXAMPLES)]
pub struct ClientArgs {
    #[command(flatten)]
    pub options: Options,

    #[command(subcommand)]
    pub command: Option<Command>,
}

const TOUR_EXAMPLES: &str = "\
Examples:
  route_guide_client                                  the tour against localhost:50051
  route_guide_client --style future --pace 0          the same tour, future style, no pauses
  route_guide_client --addr 10.0.0.1:50051,10.0.0.2:50051 route-chat    round-robin over two
  route_guide_client --tls --addr routeguide.example.com:443 get-feature 40.9146138 -74.6188906";

const GET_FEATURE_EXAMPLES: &str = "\
Examples:
  route_guide_client get-feature 409146138 -746188906        E7 integers
  route_guide_client get-feature 40.9146138 -74.6188906      decimal degrees
  route_guide_client get-feature 0 0 --json                  nothing there: an unnamed feature";

const LIST_FEATURES_EXAMPLES: &str = "\
Examples:
  route_guide_client list-features 40.0 -75.0 42.0 -73.0     the tutorial's rectangle
  route_guide_client list-features 42.0 -73.0 40.0 -75.0     the same: any two opposite corners";

const RECORD_ROUTE_EXAMPLES: &str = "\
Examples:
  route_guide_client record-route --points 5 --pace 0
  echo '{\"latitude\": 1000, \"longitude\": 1000}' | route_guide_client record-route --stdin";

const ROUTE_CHAT_EXAMPLES: &str = "\
Examples:
  route_guide_client route-chat                              the tutorial's five notes
  echo '{\"location\": {\"latitude\": 1, \"longitude\": 1}, \"message\": \"hi\"}' \\
    | route_guide_client route-chat --stdin";

/// Flags accepted before or after the subcommand.
#[derive(Args, Debug)]
pub struct Options {
    /// Server address, HOST:PORT; a comma-separated list spreads the calls over several servers
    /// round-robin
    #[arg(long, global = true, default_value = "localhost:50051")]
    pub addr: String,

    /// Deadline of each call, in seconds
    #[arg(long, global = true, default_value_t = DEFAULT_TIMEOUT.as_secs_f64(), value_parser = positive_secs)]
    pub timeout: f64,

    /// Calling style: `sync` (each call blocks until its answer) or `future` (each call starts at
    /// once and its answer is collected later)
    #[arg(long, global = true, value_enum, default_value_t = Style::Sync)]
    pub style: Style,

    /// Print each response message instead of text, one a line, in the proto3 JSON mapping (what
    /// grpcurl prints for the same call, on one line)
    #[arg(long, global = true)]
    pub json: bool,

    /// RecordRoute's pause between points, in milliseconds: MIN-MAX (a random pause in that range),
    /// a single number, or 0 for none
    #[arg(long, global = true, default_value = "500-1500", value_parser = Pace::parse)]
    pub pace: Pace,

    /// The feature database the random routes are drawn from
    #[arg(long, global = true, default_value = DEFAULT_DB_PATH)]
    pub db: PathBuf,

    /// Use TLS, trusting the system's root certificates (gRPC's default roots)
    #[arg(long, global = true)]
    pub tls: bool,

    /// Use TLS, trusting the CA certificates in this PEM file instead (any --tls-* flag turns TLS
    /// on)
    #[arg(long, global = true)]
    pub tls_ca: Option<PathBuf>,

    /// Mutual TLS: present this PEM certificate (needs --tls-key)
    #[arg(long, global = true, requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// The PEM private key of --tls-cert
    #[arg(long, global = true, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// Check the server's certificate against this name instead of the address's host
    #[arg(long, global = true)]
    pub tls_server_name: Option<String>,
}

impl Options {
    /// How to connect, TLS included when any --tls-* flag is given.
    pub fn client_options(&self) -> Result<ClientOptions, CliError> {
        let identity = self.tls_cert.as_deref().zip(self.tls_key.as_deref());
        let tls = ClientTls::from_flags(
            self.tls,
            self.tls_ca.as_deref(),
            identity,
            self.tls_server_name.clone(),
        )
        .map_err(|e| CliError::Input(routeguide::describe(&e)))?;
        Ok(ClientOptions {
            tls,
            ..ClientOptions::default()
        })
    }
}

/// The two calling styles of the tutorial.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Style {
    Sync,
    Future,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// The tutorial's client: GetFeature, ListFeatures, RecordRoute and RouteChat once each (the default)
    Tour,
    /// GetFeature: the feature at a point
    #[command(allow_negative_numbers = true, after_help = GET_FEATURE_EXAMPLES)]
    GetFeature {
        /// Latitude: E7 integer (degrees x 10^7) or decimal degrees, -90 to 90
        #[arg(value_parser = parse_coordinate)]
        lat: i32,
        /// Longitude: E7 integer or decimal degrees, -180 to 180
        #[arg(value_parser = parse_coordinate)]
        lon: i32,
    },
    /// ListFeatures: the features inside the rectangle between two opposite corners
    #[command(allow_negative_numbers = true, after_help = LIST_FEATURES_EXAMPLES)]
    ListFeatures {
        /// Latitude of one corner (E7 integer or decimal degrees)
        #[arg(value_parser = parse_coordinate)]
        lo_lat: i32,
        /// Longitude of that corner
        #[arg(value_parser = parse_coordinate)]
        lo_lon: i32,
        /// Latitude of the opposite corner
        #[arg(value_parser = parse_coordinate)]
        hi_lat: i32,
        /// Longitude of the opposite corner
        #[arg(value_parser = parse_coordinate)]
        hi_lon: i32,
    },
    /// RecordRoute: send a route, print the server's summary
    #[command(after_help = RECORD_ROUTE_EXAMPLES)]
    RecordRoute {
        /// Send this many random features of the database, pausing as --pace says
        #[arg(long, default_value_t = 10)]
        points: usize,
        /// Send the points read from standard input instead: one Point a line in proto3 JSON,
        /// {"latitude": E7, "longitude": E7} (int32 as numbers or strings)
        #[arg(long, conflicts_with = "points")]
        stdin: bool,
    },
    /// RouteChat: send notes, print the replies as they arrive
    #[command(after_help = ROUTE_CHAT_EXAMPLES)]
    RouteChat {
        /// Send the notes read from standard input as they are read, instead of the tutorial's five:
        /// one RouteNote a line in proto3 JSON,
        /// {"location": {"latitude": E7, "longitude": E7}, "message": "..."}
        #[arg(long)]
        stdin: bool,
    },
}

fn positive_secs(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(secs) if secs.is_finite() && secs > 0.0 && secs < 1e9 => Ok(secs),
        _ => Err(format!("`{text}` is not a positive number of seconds")),
    }
}

/// An E7 integer (`409146138`), or decimal degrees when the text holds a '.' (`40.9146138`).
fn parse_coordinate(text: &str) -> Result<i32, String> {
    if text.contains('.') {
        let degrees: f64 = text
            .parse()
            .map_err(|_| format!("`{text}` is not a number of degrees"))?;
        degrees_to_e7(degrees)
            .ok_or_else(|| format!("`{text}` degrees is far outside any latitude or longitude"))
    } else {
        text.parse().map_err(|_| {
            format!("`{text}` is not an E7 integer (degrees x 10^7) or decimal degrees")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coordinates_are_e7_integers_or_decimal_degrees() {
        assert_eq!(parse_coordinate("409146138"), Ok(409_146_138));
        assert_eq!(parse_coordinate("-74.6188906"), Ok(-746_188_906));
        assert_eq!(parse_coordinate("0.0"), Ok(0));
        assert!(parse_coordinate("north").is_err());
        assert!(
            parse_coordinate("1e3").is_err(),
            "no '.', so it must be an integer"
        );
        assert!(parse_coordinate("9999.0").is_err());
    }

    #[test]
    fn flags_go_before_or_after_the_subcommand() {
        let before = ClientArgs::try_parse_from(["c", "--json", "get-feature", "1", "-2"]).unwrap();
        let after = ClientArgs::try_parse_from(["c", "get-feature", "1", "-2", "--json"]).unwrap();
        assert!(before.options.json && after.options.json);
        assert!(matches!(
            after.command,
            Some(Command::GetFeature { lat: 1, lon: -2 })
        ));
    }
}
