//! A RouteGuide client with the tutorial's two calling styles for each of the four RPCs:
//!
//! * **sync**: the call blocks the calling thread until the answer arrives or the deadline passes
//!   (the tutorial's `stub.GetFeature(point, timeout)`); streams come and go as iterators;
//! * **future**: the call starts at once and returns a [`Pending`] answer to `.await` or
//!   [`Pending::wait`] for later (the tutorial's `stub.GetFeature.future(point)` and `.result()`);
//!   streams come and go as `futures` streams.
//!
//! Every call carries a deadline, the client's timeout (10 s unless changed with
//! [`RouteGuideClient::with_timeout`]), and every failure is a [`CallError`] that names the method,
//! the gRPC status code and what it means for the user.
//!
//! The crate's front page shows every method at work.

mod call;
mod error;

use std::future::Future;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use futures::FutureExt;
use futures::executor::{block_on, block_on_stream};
use futures::stream::Stream;
use grpcio::{CallOption, ChannelBuilder, Environment, LbPolicy};

use crate::proto::route_guide_grpc::RouteGuideClient as Stub;
use crate::proto::{Feature, Point, Rectangle, RouteNote, RouteSummary};
use crate::tls::ClientTls;
use call::{Answer, CallGuard, finish, send_each};
pub use call::{Pending, ReplyStream};
pub use error::CallError;
use error::Failure;

/// How a client connects.
#[derive(Clone, Debug, Default)]
pub struct ClientOptions {
    /// TLS settings; plaintext when `None`.
    pub tls: Option<ClientTls>,
    /// A connection of this client's own instead of one shared with other clients of the address.
    pub own_connection: bool,
    /// gRPC's minimal filter stack, which saves CPU on every message. It drops retries, the limit
    /// on the size of a received message (4 MiB otherwise) and the idle timeout; the check of
    /// each call's deadline, which it would drop too, is asked for again. For load generators,
    /// whose own cost should not be what they measure.
    pub minimal_stack: bool,
}

impl ClientOptions {
    /// A load generator's options: a connection of its own and the minimal filter stack.
    pub fn load_generator() -> Self {
        ClientOptions {
            own_connection: true,
            minimal_stack: true,
            ..ClientOptions::default()
        }
    }
}

/// The deadline every call gets unless the client is told otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// A connection to a RouteGuide server. Cheap to clone; clones share the connection.
#[derive(Clone)]
pub struct RouteGuideClient {
    stub: Stub,
    addr: Arc<str>,
    timeout: Duration,
}

impl RouteGuideClient {
    /// A client of the server at `addr` (`host:port`). The connection is made on the first call, so
    /// this never fails; a server that cannot be reached shows up as `UNAVAILABLE` on that call.
    /// A comma-separated list (`host1:port,host2:port`) spreads the calls over those servers
    /// round-robin, skipping any that cannot be reached.
    pub fn connect(addr: &str) -> Self {
        RouteGuideClient::connect_with(addr, &ClientOptions::default())
    }

    /// Like [`RouteGuideClient::connect`], but with a connection of its own: clients of one
    /// address otherwise share a connection. Load generators use this to open several.
    pub fn connect_separately(addr: &str) -> Self {
        let options = ClientOptions {
            own_connection: true,
            ..ClientOptions::default()
        };
        RouteGuideClient::connect_with(addr, &options)
    }

    /// Like [`RouteGuideClient::connect`], with `options` (TLS, a connection of its own, the
    /// minimal filter stack).
    pub fn connect_with(addr: &str, options: &ClientOptions) -> Self {
        let mut channel = ChannelBuilder::new(client_environment());
        if options.own_connection {
            channel = channel.use_local_subchannel_pool(true);
        }
        if options.minimal_stack {
            channel = channel
                .raw_cfg_int(c"grpc.minimal_stack".into(), 1)
                .raw_cfg_int(c"grpc.enable_deadline_checking".into(), 1);
        }
        if let Some(tls) = &options.tls {
            channel = tls.apply(channel);
        }
        RouteGuideClient::over(channel, addr)
    }

    fn over(channel: ChannelBuilder, addr: &str) -> Self {
        let channel = match round_robin_target(addr) {
            Some(target) => channel
                .load_balancing_policy(LbPolicy::RoundRobin)
                .connect(&target),
            None => channel.connect(addr),
        };
        RouteGuideClient {
            stub: Stub::new(channel),
            addr: addr.into(),
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// The same client with another deadline for each call.
    pub fn with_timeout(&self, timeout: Duration) -> Self {
        RouteGuideClient {
            timeout,
            ..self.clone()
        }
    }

    /// The deadline given to each call.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The address this client calls.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// GetFeature, sync: the feature at `point` (with an empty name where none is stored).
    pub fn get_feature(&self, point: Point) -> Result<Feature, CallError> {
        self.get_feature_future(point).wait()
    }

    /// GetFeature, future: the call is under way when this returns.
    pub fn get_feature_future(&self, point: Point) -> Pending<Feature> {
        self.call(
            "GetFeature",
            |stub, option| stub.get_feature_async_opt(&point, option),
            Pending::of,
        )
    }

    /// ListFeatures, sync: the features inside `rectangle`, each yielded as soon as it arrives.
    /// An error ends the iteration.
    pub fn list_features(
        &self,
        rectangle: Rectangle,
    ) -> impl Iterator<Item = Result<Feature, CallError>> + use<> {
        block_on_stream(self.list_features_stream(rectangle))
    }

    /// ListFeatures, future: the features inside `rectangle` as a stream.
    pub fn list_features_stream(&self, rectangle: Rectangle) -> ReplyStream<Feature> {
        self.call(
            "ListFeatures",
            |stub, option| stub.list_features_opt(&rectangle, option),
            ReplyStream::of,
        )
    }

    /// RecordRoute, sync: sends each point as the iterator yields it (on the calling thread, so an
    /// iterator may take its time, e.g. sleep between points), then returns the server's summary.
    pub fn record_route<I>(&self, points: I) -> Result<RouteSummary, CallError>
    where
        I: IntoIterator<Item = Point>,
    {
        self.call(
            "RecordRoute",
            |stub, option| stub.record_route_opt(option),
            |(mut sink, summary), failed, _guard| {
                block_on(async move {
                    let sent = send_each(&mut sink, points).await;
                    finish(sent, summary, &failed).await
                })
            },
        )
    }

    /// RecordRoute, future: starts the call and returns at once. The points are taken from the
    /// iterator on a thread of their own, so an iterator that sleeps blocks nobody, and the answer
    /// comes as soon as the call ends, even while that thread still waits for the iterator.
    pub fn record_route_future<I>(&self, points: I) -> Pending<RouteSummary>
    where
        I: IntoIterator<Item = Point>,
        I::IntoIter: Send + 'static,
    {
        self.call(
            "RecordRoute",
            |stub, option| stub.record_route_opt(option),
            |(sink, summary), failed, mut guard| {
                let points = points.into_iter();
                match guard.send_from_thread(sink, points, "routeguide-record-route") {
                    Ok(()) => Pending::of(summary, failed, guard),
                    Err(e) => Pending::failed(failed.local(e)),
                }
            },
        )
    }

    /// RecordRoute from a stream of points: the points are sent as the stream yields them, in
    /// batches when several are ready at once. The stream is polled on gRPC's own thread, so it
    /// must not block (an iterator that may block goes to [`Self::record_route_future`]); the
    /// answer comes as soon as the call ends, even if the stream never does.
    pub fn record_route_stream<S>(&self, points: S) -> Pending<RouteSummary>
    where
        S: Stream<Item = Point> + Send + 'static,
    {
        self.call(
            "RecordRoute",
            |stub, option| stub.record_route_opt(option),
            |(sink, summary), failed, mut guard| {
                guard.send_from_grpc_thread(sink, points);
                Pending::of(summary, failed, guard)
            },
        )
    }

    /// RouteChat, sync: sends the notes from a thread of its own while the returned iterator yields
    /// the server's replies as they arrive, so replies can be read before the last note is sent.
    pub fn route_chat<I>(
        &self,
        notes: I,
    ) -> impl Iterator<Item = Result<RouteNote, CallError>> + use<I>
    where
        I: IntoIterator<Item = RouteNote>,
        I::IntoIter: Send + 'static,
    {
        block_on_stream(self.call(
            "RouteChat",
            |stub, option| stub.route_chat_opt(option),
            |(sink, replies), failed, mut guard| {
                let notes = notes.into_iter();
                match guard.send_from_thread(sink, notes, "routeguide-route-chat") {
                    Ok(()) => ReplyStream::of(replies, failed, guard),
                    Err(e) => ReplyStream::failed(failed.local(e)),
                }
            },
        ))
    }

    /// RouteChat, future: sends the notes of `notes` as it yields them and returns the replies as
    /// a stream; both directions run at the same time. The notes' stream is polled on gRPC's own
    /// thread, so it must not block (an iterator that may block goes to [`Self::route_chat`]).
    pub fn route_chat_stream<S>(&self, notes: S) -> ReplyStream<RouteNote>
    where
        S: Stream<Item = RouteNote> + Send + 'static,
    {
        self.call(
            "RouteChat",
            |stub, option| stub.route_chat_opt(option),
            |(sink, replies), failed, mut guard| {
                guard.send_from_grpc_thread(sink, notes);
                ReplyStream::of(replies, failed, guard)
            },
        )
    }

    /// Runs `task` on the gRPC thread that completes this client's calls and returns its output,
    /// or `None` if gRPC stopped the task first. `task` is polled only there, so a call's
    /// completion wakes it without waking another thread: a load generator sharing one CPU with
    /// gRPC's thread spends more on such hand-overs than on the calls. (A stream's replies still
    /// pass through a queue, but between two tasks of that one thread.) `task` must never block,
    /// since it holds up every call of the process while it does.
    pub fn run_on_grpc_thread<T, F>(&self, task: F) -> impl Future<Output = Option<T>> + use<T, F>
    where
        T: Send + 'static,
        F: Future<Output = T> + Send + 'static,
    {
        let (done, output) = futures::channel::oneshot::channel();
        // grpcio polls a task first on the thread that spawns it. This one waits there for a
        // start signal, which, sent from another thread, wakes it on gRPC's thread.
        let (start, started) = futures::channel::oneshot::channel::<()>();
        self.stub.spawn(async move {
            if started.await.is_ok() {
                let _ = done.send(task.await);
            }
        });
        let _ = start.send(());
        output.map(Result::ok)
    }

    /// The prologue of every RPC method: `start` opens the call on the stub with this client's
    /// deadline, and `then` turns the open call into the method's answer, given how to report its
    /// failures and what must outlive it (see [`CallGuard`]). A call that cannot even be opened
    /// is answered with that failure, in the method's own shape.
    fn call<C, A: Answer>(
        &self,
        method: &'static str,
        start: impl FnOnce(&Stub, CallOption) -> grpcio::Result<C>,
        then: impl FnOnce(C, Failure, CallGuard) -> A,
    ) -> A {
        let failed = Failure {
            method,
            addr: Arc::clone(&self.addr),
            timeout: self.timeout,
        };
        match start(&self.stub, CallOption::default().timeout(self.timeout)) {
            Ok(call) => then(call, failed, CallGuard::new(&self.stub)),
            Err(e) => A::failed(failed.of(e)),
        }
    }
}

/// For a comma-separated list of `host:port` addresses, the gRPC target that names them all
/// (`ipv4:10.0.0.1:50051,10.0.0.2:50051`), so that calls are spread over them round-robin. Host
/// names are resolved here, IPv4 first; `None` for a single address, or when no list of one
/// address family can be made (the channel then reports the addresses as unreachable).
fn round_robin_target(addr: &str) -> Option<String> {
    use std::net::{SocketAddr, ToSocketAddrs};
    if !addr.contains(',') {
        return None;
    }
    let resolved: Vec<Vec<SocketAddr>> = addr
        .split(',')
        .map(|one| one.trim().to_socket_addrs().map(Iterator::collect))
        .collect::<Result<_, _>>()
        .ok()?;
    let pick = |v4: bool| -> Option<Vec<String>> {
        resolved
            .iter()
            .map(|all| {
                all.iter()
                    .find(|a| a.is_ipv4() == v4)
                    .map(SocketAddr::to_string)
            })
            .collect()
    };
    pick(true)
        .map(|all| format!("ipv4:{}", all.join(",")))
        .or_else(|| pick(false).map(|all| format!("ipv6:{}", all.join(","))))
}

/// One gRPC environment (one completion-queue thread) for every client of the process.
fn client_environment() -> Arc<Environment> {
    static ENV: OnceLock<Arc<Environment>> = OnceLock::new();
    Arc::clone(ENV.get_or_init(|| Arc::new(Environment::new(1))))
}
