//! One run of the client: the tutorial's tour, and one function per subcommand, each making its
//! calls in the chosen style and telling what happens through [`Output`].

use std::path::PathBuf;
use std::thread;
use std::time::Duration;

use futures::executor::{block_on, block_on_stream};
use futures::stream::{BoxStream, StreamExt};
use routeguide::FeatureStore;
use routeguide::SplitMix64;
use routeguide::proto::{self, Point, Rectangle, RouteNote};
use routeguide::{CallError, RouteGuideClient};

use crate::CliError;
use crate::args::{Command, Options, Style};
use crate::input::JsonLines;
use crate::output::{Event, Output};
use crate::pace::Pace;

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
pub struct Session {
    client: RouteGuideClient,
    style: Style,
    out: Output,
    pace: Pace,
    db_path: PathBuf,
}

impl Session {
    /// A session with the flags of `options`, telling what happens through `out`.
    pub fn new(options: &Options, out: Output) -> Result<Self, CliError> {
        Ok(Session {
            client: RouteGuideClient::connect_with(&options.addr, &options.client_options()?)
                .with_timeout(Duration::from_secs_f64(options.timeout)),
            style: options.style,
            out,
            pace: options.pace,
            db_path: options.db.clone(),
        })
    }

    pub fn run(self, command: Command) -> Result<(), CliError> {
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
                let (points, input_error) = JsonLines::<Point>::stdin();
                self.record_route(points, Pace::NONE, 0)?;
                input_error.check()
            }
            Command::RecordRoute { points, .. } => self.record_random_route(points),
            Command::RouteChat { stdin: true } => {
                let (notes, input_error) = JsonLines::<RouteNote>::stdin();
                self.route_chat(notes)?;
                input_error.check()
            }
            Command::RouteChat { stdin: false } => self.route_chat(tour_notes()),
        }
    }

    /// The tutorial's client, section by section.
    fn tour(&self) -> Result<(), CliError> {
        self.out.emit(Event::Heading("GetFeature"));
        self.get_features(&[proto::point(409_146_138, -746_188_906), proto::point(0, 0)])?;
        self.out.emit(Event::Heading("ListFeatures"));
        let [lo_lat, lo_lon, hi_lat, hi_lon] = TOUR_RECTANGLE;
        self.list_features(proto::rectangle(
            proto::point(lo_lat, lo_lon),
            proto::point(hi_lat, hi_lon),
        ))?;
        self.out.emit(Event::Heading("RecordRoute"));
        self.record_random_route(10)?;
        self.out.emit(Event::Heading("RouteChat"));
        self.route_chat(tour_notes())
    }

    /// GetFeature for each point. In the future style every call is started before the first
    /// answer is collected.
    fn get_features(&self, points: &[Point]) -> Result<(), CliError> {
        match self.style {
            Style::Sync => {
                for point in points {
                    let feature = self.client.get_feature(point.clone())?;
                    self.out.emit(Event::Feature(&feature));
                }
            }
            Style::Future => {
                let pending: Vec<_> = points
                    .iter()
                    .map(|p| self.client.get_feature_future(p.clone()))
                    .collect();
                for answer in pending {
                    self.out.emit(Event::Feature(&answer.wait()?));
                }
            }
        }
        Ok(())
    }

    fn list_features(&self, rectangle: Rectangle) -> Result<(), CliError> {
        self.out.emit(Event::LookingBetween(&rectangle));
        match self.style {
            Style::Sync => {
                for feature in self.client.list_features(rectangle) {
                    self.out.emit(Event::Feature(&feature?));
                }
            }
            Style::Future => {
                let mut features = self.client.list_features_stream(rectangle);
                block_on(async {
                    while let Some(feature) = features.next().await {
                        self.out.emit(Event::Feature(&feature?));
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
            out.emit(Event::Visiting(&point));
            point
        });
        let budget = pace.longest() * u32::try_from(expected_points).unwrap_or(u32::MAX);
        let client = self.client.with_timeout(self.client.timeout() + budget);
        let summary = match self.style {
            Style::Sync => client.record_route(route)?,
            Style::Future => client.record_route_future(route).wait()?,
        };
        self.out.emit(Event::Summary(&summary));
        Ok(())
    }

    fn route_chat<I>(&self, notes: I) -> Result<(), CliError>
    where
        I: IntoIterator<Item = RouteNote>,
        I::IntoIter: Send + 'static,
    {
        let out = self.out;
        let notes = notes
            .into_iter()
            .inspect(move |note| out.emit(Event::Sending(note)));
        let replies: Box<dyn Iterator<Item = Result<RouteNote, CallError>>> = match self.style {
            Style::Sync => Box::new(self.client.route_chat(notes)),
            Style::Future => Box::new(block_on_stream(
                self.client.route_chat_stream(stream_from_thread(notes)),
            )),
        };
        for reply in replies {
            self.out.emit(Event::Received(&reply?));
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
