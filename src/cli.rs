//! The client program (`route_guide_client`): its flags, the tutorial's tour, one subcommand per RPC,
//! and how results are printed, for people or (with `--json`) as one JSON object per line.
//!
//! Exit codes: 0 when every call succeeded; 1 when the server answered a call with an error; 2 when
//! the server could not be reached (`UNAVAILABLE`) or the input (flags, database, standard input)
//! was wrong.

use std::fmt;
use std::io::{self, BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use futures::executor::{block_on, block_on_stream};
use futures::stream::{BoxStream, StreamExt};
use grpcio::RpcStatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::client::{CallError, ClientOptions, DEFAULT_TIMEOUT, RouteGuideClient};
use crate::geo::{Degrees, degrees_to_e7};
use crate::proto::{self, Feature, Point, Rectangle, RouteNote, RouteSummary};
use crate::random::SplitMix64;
use crate::server::DEFAULT_DB_PATH;
use crate::store::{FeatureStore, LoadError};
use crate::tls::ClientTls;

/// Calls a RouteGuide server. With no subcommand it runs the tutorial's tour: each of the four RPCs
/// once. Coordinates are E7 integers (degrees x 10^7, e.g. 409146138) or decimal degrees (with a
/// '.', e.g. 40.9146138).
#[derive(Parser, Debug)]
#[command(name = "route_guide_client", version)]
pub struct ClientArgs {
    #[command(flatten)]
    pub options: Options,

    #[command(subcommand)]
    pub command: Option<Command>,
}

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

    /// Print one JSON object per line instead of text
    #[arg(long, global = true)]
    pub json: bool,

    /// RecordRoute's pause between points, in milliseconds: MIN-MAX (a random pause in that range),
    /// a single number, or 0 for none
    #[arg(long, global = true, default_value = "500-1500", value_parser = Pace::parse)]
    pub pace: Pace,

    /// The feature database the random routes are drawn from
    #[arg(long, global = true, default_value = DEFAULT_DB_PATH)]
    pub db: PathBuf,

    /// Use TLS, trusting the CA certificates in this PEM file (any --tls-* flag turns TLS on;
    /// without this one, gRPC's default roots are trusted)
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
    fn client_options(&self) -> Result<ClientOptions, CliError> {
        let wants_tls =
            self.tls_ca.is_some() || self.tls_cert.is_some() || self.tls_server_name.is_some();
        let tls = if wants_tls {
            let identity = self.tls_cert.as_deref().zip(self.tls_key.as_deref());
            let tls = ClientTls::from_files(
                self.tls_ca.as_deref(),
                identity,
                self.tls_server_name.clone(),
            )
            .map_err(|e| CliError::Input(e.to_string()))?;
            Some(tls)
        } else {
            None
        };
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
    #[command(allow_negative_numbers = true)]
    GetFeature {
        #[arg(value_parser = parse_coordinate)]
        lat: i32,
        #[arg(value_parser = parse_coordinate)]
        lon: i32,
    },
    /// ListFeatures: the features inside the rectangle between two opposite corners
    #[command(allow_negative_numbers = true)]
    ListFeatures {
        #[arg(value_parser = parse_coordinate)]
        lo_lat: i32,
        #[arg(value_parser = parse_coordinate)]
        lo_lon: i32,
        #[arg(value_parser = parse_coordinate)]
        hi_lat: i32,
        #[arg(value_parser = parse_coordinate)]
        hi_lon: i32,
    },
    /// RecordRoute: send a route, print the server's summary
    RecordRoute {
        /// Send this many random features of the database, pausing as --pace says
        #[arg(long, default_value_t = 10)]
        points: usize,
        /// Send the points read from standard input instead: one JSON object per line,
        /// {"latitude": E7, "longitude": E7}
        #[arg(long, conflicts_with = "points")]
        stdin: bool,
    },
    /// RouteChat: send notes, print the replies as they arrive
    RouteChat {
        /// Send the notes read from standard input as they are read, instead of the tutorial's five:
        /// one JSON object per line, {"location": {"latitude": E7, "longitude": E7}, "message": "..."}
        #[arg(long)]
        stdin: bool,
    },
}

/// Runs the command line and returns the process's exit code.
pub fn run(args: ClientArgs) -> ExitCode {
    match Session::new(&args.options).and_then(|s| s.run(args.command.unwrap_or(Command::Tour))) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("route_guide_client: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

/// The tutorial's ListFeatures rectangle: between 40°N 75°W and 42°N 73°W.
const TOUR_RECTANGLE: [i32; 4] = [400_000_000, -750_000_000, 420_000_000, -730_000_000];

/// The tutorial's RouteChat notes: (message, latitude, longitude) in E7 units.
const TOUR_NOTES: [(&str, i32, i32); 5] = [
    ("First message", 0, 0),
    ("Second message", 0, 1),
    ("Third message", 1, 0),
    ("Fourth message", 0, 0),
    ("Fifth message", 1, 0),
];

/// What one run of the program works with.
struct Session {
    client: RouteGuideClient,
    style: Style,
    out: Output,
    pace: Pace,
    db_path: PathBuf,
}

impl Session {
    fn new(options: &Options) -> Result<Self, CliError> {
        Ok(Session {
            client: RouteGuideClient::connect_with(&options.addr, &options.client_options()?)
                .with_timeout(Duration::from_secs_f64(options.timeout)),
            style: options.style,
            out: Output { json: options.json },
            pace: options.pace,
            db_path: options.db.clone(),
        })
    }

    fn run(self, command: Command) -> Result<(), CliError> {
        match command {
            Command::Tour => self.tour(),
            Command::GetFeature { lat, lon } => self.get_features(&[proto::point(lat, lon)]),
            Command::ListFeatures {
                lo_lat,
                lo_lon,
                hi_lat,
                hi_lon,
            } => self.list_features(proto::rectangle(
                proto::point(lo_lat, lo_lon),
                proto::point(hi_lat, hi_lon),
            )),
            Command::RecordRoute { stdin: true, .. } => {
                let (points, input_error) = JsonLines::<JsonPoint>::stdin();
                self.record_route(points.map(JsonPoint::into_point), Pace::NONE, 0)?;
                input_error.check()
            }
            Command::RecordRoute { points, .. } => self.record_random_route(points),
            Command::RouteChat { stdin: true } => {
                let (notes, input_error) = JsonLines::<JsonNote>::stdin();
                self.route_chat(notes.map(JsonNote::into_note))?;
                input_error.check()
            }
            Command::RouteChat { stdin: false } => self.route_chat(tour_notes()),
        }
    }

    /// The tutorial's client, section by section.
    fn tour(&self) -> Result<(), CliError> {
        self.out.heading("GetFeature");
        self.get_features(&[proto::point(409_146_138, -746_188_906), proto::point(0, 0)])?;
        self.out.heading("ListFeatures");
        let [lo_lat, lo_lon, hi_lat, hi_lon] = TOUR_RECTANGLE;
        self.list_features(proto::rectangle(
            proto::point(lo_lat, lo_lon),
            proto::point(hi_lat, hi_lon),
        ))?;
        self.out.heading("RecordRoute");
        self.record_random_route(10)?;
        self.out.heading("RouteChat");
        self.route_chat(tour_notes())
    }

    /// GetFeature for each point. In the future style every call is started before the first
    /// answer is collected.
    fn get_features(&self, points: &[Point]) -> Result<(), CliError> {
        match self.style {
            Style::Sync => {
                for point in points {
                    self.out.feature(&self.client.get_feature(point.clone())?);
                }
            }
            Style::Future => {
                let pending: Vec<_> = points
                    .iter()
                    .map(|p| self.client.get_feature_future(p.clone()))
                    .collect();
                for answer in pending {
                    self.out.feature(&answer.wait()?);
                }
            }
        }
        Ok(())
    }

    fn list_features(&self, rectangle: Rectangle) -> Result<(), CliError> {
        self.out.looking_between(&rectangle);
        match self.style {
            Style::Sync => {
                for feature in self.client.list_features(rectangle) {
                    self.out.feature(&feature?);
                }
            }
            Style::Future => {
                let mut features = self.client.list_features_stream(rectangle);
                block_on(async {
                    while let Some(feature) = features.next().await {
                        self.out.feature(&feature?);
                    }
                    Ok::<(), CallError>(())
                })?;
            }
        }
        Ok(())
    }

    /// RecordRoute over `count` random features of the database, pausing between them.
    fn record_random_route(&self, count: usize) -> Result<(), CliError> {
        let store = FeatureStore::load(&self.db_path).map_err(CliError::Database)?;
        if store.is_empty() {
            return Err(CliError::Input(format!(
                "{}: the database holds no features to draw a route from",
                self.db_path.display()
            )));
        }
        let mut rng = SplitMix64::from_entropy();
        let route: Vec<Point> = (0..count)
            .map(|_| store.position(rng.index(store.len())).to_point())
            .collect();
        self.record_route(route, self.pace, count)
    }

    /// RecordRoute over `points`, pausing between them as `pace` says. The deadline is stretched
    /// by the longest pauses that `expected_points` can take, so pacing alone never exceeds it.
    fn record_route<I>(&self, points: I, pace: Pace, expected_points: usize) -> Result<(), CliError>
    where
        I: IntoIterator<Item = Point>,
        I::IntoIter: Send + 'static,
    {
        let out = self.out;
        let mut rng = SplitMix64::from_entropy();
        let route = points.into_iter().enumerate().map(move |(i, point)| {
            if i > 0 {
                pace.pause(&mut rng);
            }
            out.visiting(&point);
            point
        });
        let budget = pace.longest() * u32::try_from(expected_points).unwrap_or(u32::MAX);
        let client = self.client.with_timeout(self.client.timeout() + budget);
        let summary = match self.style {
            Style::Sync => client.record_route(route)?,
            Style::Future => client.record_route_future(route).wait()?,
        };
        self.out.summary(&summary);
        Ok(())
    }

    fn route_chat<I>(&self, notes: I) -> Result<(), CliError>
    where
        I: IntoIterator<Item = RouteNote>,
        I::IntoIter: Send + 'static,
    {
        let out = self.out;
        let notes = notes.into_iter().inspect(move |note| out.sending(note));
        let replies: Box<dyn Iterator<Item = Result<RouteNote, CallError>>> = match self.style {
            Style::Sync => Box::new(self.client.route_chat(notes)),
            Style::Future => Box::new(block_on_stream(
                self.client.route_chat_stream(stream_from_thread(notes)),
            )),
        };
        for reply in replies {
            self.out.received(&reply?);
        }
        Ok(())
    }
}

fn tour_notes() -> Vec<RouteNote> {
    TOUR_NOTES
        .iter()
        .map(|&(message, lat, lon)| proto::route_note(proto::point(lat, lon), message))
        .collect()
}

/// The items of a blocking iterator as a stream, taken on a thread of their own so that no
/// gRPC thread ever waits for the iterator.
fn stream_from_thread<I>(items: I) -> BoxStream<'static, I::Item>
where
    I: Iterator + Send + 'static,
    I::Item: Send + 'static,
{
    let (tx, rx) = futures::channel::mpsc::channel(16);
    thread::spawn(move || {
        let mut tx = tx;
        for item in items {
            if block_on(futures::SinkExt::send(&mut tx, item)).is_err() {
                break; // the call is over: nobody reads any more
            }
        }
    });
    rx.boxed()
}

/// The longest pause `--pace` accepts: ten minutes.
const MAX_PACE_MS: u64 = 600_000;

/// RecordRoute's pause between two points, like a traveller's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pace {
    min_ms: u64,
    max_ms: u64,
}

impl Pace {
    const NONE: Pace = Pace {
        min_ms: 0,
        max_ms: 0,
    };

    /// `MIN-MAX`, `MS` or `0`, in milliseconds.
    fn parse(text: &str) -> Result<Pace, String> {
        let number = |s: &str| {
            s.trim()
                .parse::<u64>()
                .map_err(|_| format!("`{text}` is not MIN-MAX or a number of milliseconds"))
        };
        let (min_ms, max_ms) = match text.split_once('-') {
            Some((min, max)) => (number(min)?, number(max)?),
            None => (number(text)?, number(text)?),
        };
        if min_ms > max_ms {
            return Err(format!("`{text}`: the minimum is larger than the maximum"));
        }
        if max_ms > MAX_PACE_MS {
            return Err(format!("`{text}`: a pause of more than {MAX_PACE_MS} ms"));
        }
        Ok(Pace { min_ms, max_ms })
    }

    fn longest(self) -> Duration {
        Duration::from_millis(self.max_ms)
    }

    /// Sleeps for a random time in the range (on the thread that feeds the route to the call).
    fn pause(self, rng: &mut SplitMix64) {
        if self.max_ms > 0 {
            let ms = rng.in_range(self.min_ms as i64, self.max_ms as i64);
            thread::sleep(Duration::from_millis(ms as u64));
        }
    }
}

impl fmt::Display for Pace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.min_ms, self.max_ms)
    }
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

/// Where printed results go: text for people, or one JSON object per line.
#[derive(Clone, Copy)]
struct Output {
    json: bool,
}

impl Output {
    fn heading(self, rpc: &str) {
        if !self.json {
            emit(format_args!("-------------- {rpc} --------------"));
        }
    }

    fn feature(self, feature: &Feature) {
        let at = Degrees(feature.get_location());
        if self.json {
            emit_json(json!({"feature": feature_json(feature)}));
        } else if feature.get_name().is_empty() {
            emit(format_args!("Found no feature at {at}"));
        } else {
            emit(format_args!(
                "Feature called \"{}\" at {at}",
                feature.get_name()
            ));
        }
    }

    fn looking_between(self, rectangle: &Rectangle) {
        if !self.json {
            emit(format_args!(
                "Looking for features between {} and {}",
                Degrees(rectangle.get_lo()),
                Degrees(rectangle.get_hi())
            ));
        }
    }

    fn visiting(self, point: &Point) {
        if self.json {
            emit_json(json!({"visiting": point_json(point)}));
        } else {
            emit(format_args!("Visiting point {}", Degrees(point)));
        }
    }

    fn summary(self, summary: &RouteSummary) {
        if self.json {
            emit_json(json!({"summary": {
                "point_count": summary.get_point_count(),
                "feature_count": summary.get_feature_count(),
                "distance": summary.get_distance(),
                "elapsed_time": summary.get_elapsed_time(),
            }}));
        } else {
            emit(format_args!(
                "Finished trip with {} points",
                summary.get_point_count()
            ));
            emit(format_args!(
                "Passed {} features",
                summary.get_feature_count()
            ));
            emit(format_args!("Travelled {} metres", summary.get_distance()));
            emit(format_args!(
                "It took {} seconds",
                summary.get_elapsed_time()
            ));
        }
    }

    fn sending(self, note: &RouteNote) {
        if self.json {
            emit_json(json!({"sending": note_json(note)}));
        } else {
            emit(format_args!(
                "Sending \"{}\" at {}",
                note.get_message(),
                Degrees(note.get_location())
            ));
        }
    }

    fn received(self, note: &RouteNote) {
        if self.json {
            emit_json(json!({"received": note_json(note)}));
        } else {
            emit(format_args!(
                "Received \"{}\" at {}",
                note.get_message(),
                Degrees(note.get_location())
            ));
        }
    }
}

/// Writes one line to standard output. A closed pipe (`| head`) is not worth a panic: the rest of
/// the output is dropped.
fn emit(line: fmt::Arguments<'_>) {
    let _ = writeln!(io::stdout().lock(), "{line}");
}

fn emit_json(value: Value) {
    emit(format_args!("{value}"));
}

fn point_json(point: &Point) -> Value {
    json!({"latitude": point.get_latitude(), "longitude": point.get_longitude()})
}

fn feature_json(feature: &Feature) -> Value {
    json!({"name": feature.get_name(), "location": point_json(feature.get_location())})
}

fn note_json(note: &RouteNote) -> Value {
    json!({"location": point_json(note.get_location()), "message": note.get_message()})
}

/// A point as a JSON line of standard input.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonPoint {
    #[serde(default)]
    latitude: i32,
    #[serde(default)]
    longitude: i32,
}

impl JsonPoint {
    fn into_point(self) -> Point {
        proto::point(self.latitude, self.longitude)
    }
}

/// A note as a JSON line of standard input. A note without a location is sent as it is (the server
/// refuses it), which lets scripts probe the server's validation.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonNote {
    location: Option<JsonPoint>,
    #[serde(default)]
    message: String,
}

impl JsonNote {
    fn into_note(self) -> RouteNote {
        let mut note = RouteNote::new();
        if let Some(location) = self.location {
            note.set_location(location.into_point());
        }
        note.set_message(self.message);
        note
    }
}

/// Values parsed from standard input one JSON line at a time, as they are read. The first bad line
/// ends the iteration; its error is kept for [`InputError::check`].
struct JsonLines<T> {
    lines: io::Lines<io::BufReader<io::Stdin>>,
    line_number: usize,
    error: InputError,
    _value: std::marker::PhantomData<fn() -> T>,
}

impl<T> JsonLines<T> {
    fn stdin() -> (Self, InputError) {
        let error = InputError::default();
        let lines = JsonLines {
            // Not `stdin().lock()`: the lock cannot move to the thread that sends what is read.
            lines: io::BufReader::new(io::stdin()).lines(),
            line_number: 0,
            error: error.clone(),
            _value: std::marker::PhantomData,
        };
        (lines, error)
    }
}

impl<T: for<'de> Deserialize<'de>> Iterator for JsonLines<T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        loop {
            self.line_number += 1;
            let problem = match self.lines.next()? {
                Ok(line) if line.trim().is_empty() => continue,
                Ok(line) => match serde_json::from_str(&line) {
                    Ok(value) => return Some(value),
                    Err(e) => e.to_string(),
                },
                Err(e) => e.to_string(),
            };
            self.error.set(format!(
                "standard input, line {}: {problem}",
                self.line_number
            ));
            return None;
        }
    }
}

/// The first problem found in standard input, shared between the thread that reads it and the
/// one that reports it.
#[derive(Clone, Default)]
struct InputError(Arc<Mutex<Option<String>>>);

impl InputError {
    fn set(&self, problem: String) {
        if let Ok(mut slot) = self.0.lock() {
            slot.get_or_insert(problem);
        }
    }

    fn check(&self) -> Result<(), CliError> {
        match self.0.lock().ok().and_then(|mut slot| slot.take()) {
            Some(problem) => Err(CliError::Input(problem)),
            None => Ok(()),
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
            CliError::Call(e) if e.code() != RpcStatusCode::UNAVAILABLE => 1,
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
    fn pace_accepts_a_range_a_number_or_zero() {
        assert_eq!(
            Pace::parse("500-1500"),
            Ok(Pace {
                min_ms: 500,
                max_ms: 1500
            })
        );
        assert_eq!(
            Pace::parse("200"),
            Ok(Pace {
                min_ms: 200,
                max_ms: 200
            })
        );
        assert_eq!(Pace::parse("0"), Ok(Pace::NONE));
        assert!(Pace::parse("9-1").is_err());
        assert!(Pace::parse("fast").is_err());
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
