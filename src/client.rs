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
//! ```no_run
//! use futures::StreamExt;
//! use routeguide::client::RouteGuideClient;
//! use routeguide::proto;
//!
//! let client = RouteGuideClient::connect("localhost:50051");
//!
//! // GetFeature. Sync: blocks until the answer is here.
//! let feature = client.get_feature(proto::point(409_146_138, -746_188_906))?;
//! println!("{}", feature.get_name());
//! // Future: starts now; the answer is collected later.
//! let pending = client.get_feature_future(proto::point(0, 0));
//! assert!(pending.wait()?.get_name().is_empty());
//!
//! // ListFeatures: an iterator (sync) or a stream (future) of features, as they arrive.
//! let area = proto::rectangle(proto::point(400_000_000, -750_000_000), proto::point(420_000_000, -730_000_000));
//! for feature in client.list_features(area.clone()) {
//!     println!("{}", feature?.get_name());
//! }
//! let count = futures::executor::block_on(client.list_features_stream(area).count());
//!
//! // RecordRoute: any iterator of points, taken lazily (it may sleep between points).
//! let route = (1..=4).map(|step| proto::point(step * 1000, step * 1000));
//! let summary = client.record_route(route.clone())?;
//! assert_eq!(summary.get_distance(), 47);
//! let summary = client.record_route_future(route).wait()?;
//!
//! // RouteChat: notes go out while replies come in.
//! let notes = vec![
//!     proto::route_note(proto::point(0, 0), "First message"),
//!     proto::route_note(proto::point(0, 0), "Second message"),
//! ];
//! for reply in client.route_chat(notes) {
//!     println!("earlier note: {}", reply?.get_message());
//! }
//! # Ok::<(), routeguide::client::CallError>(())
//! ```

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::thread;
use std::time::Duration;

use futures::executor::{block_on, block_on_stream};
use futures::future::{AbortHandle, Abortable, BoxFuture, FutureExt};
use futures::stream::{BoxStream, Stream, StreamExt, TryStreamExt};
use futures::{SinkExt, TryFutureExt};
use grpcio::{
    CallOption, ChannelBuilder, Environment, LbPolicy, RpcStatusCode, StreamingCallSink, WriteFlags,
};

use crate::proto::route_guide_grpc::RouteGuideClient as Stub;
use crate::proto::{Feature, Point, Rectangle, RouteNote, RouteSummary};
use crate::tls::ClientTls;

/// How many replies of a streaming call may wait for the reader before gRPC stops reading more.
const REPLY_QUEUE: usize = 256;

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
        let failed = self.failure("GetFeature");
        match self.stub.get_feature_async_opt(&point, self.call_option()) {
            Ok(answer) => self.pending(answer.map_err(move |e| failed.of(e)), self.guard()),
            Err(e) => Pending::failed(failed.of(e)),
        }
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
        let failed = self.failure("ListFeatures");
        match self.stub.list_features_opt(&rectangle, self.call_option()) {
            Ok(features) => self.replies(features.map_err(move |e| failed.of(e)), self.guard()),
            Err(e) => ReplyStream::failed(failed.of(e)),
        }
    }

    /// RecordRoute, sync: sends each point as the iterator yields it (on the calling thread, so an
    /// iterator may take its time, e.g. sleep between points), then returns the server's summary.
    pub fn record_route<I>(&self, points: I) -> Result<RouteSummary, CallError>
    where
        I: IntoIterator<Item = Point>,
    {
        let failed = self.failure("RecordRoute");
        let (mut sink, summary) = self
            .stub
            .record_route_opt(self.call_option())
            .map_err(|e| failed.of(e))?;
        block_on(async move {
            let sent = send_each(&mut sink, points).await;
            finish(sent, summary, &failed).await
        })
    }

    /// RecordRoute, future: starts the call and returns at once. The points are taken from the
    /// iterator on a thread of their own, so an iterator that sleeps blocks nobody, and the answer
    /// comes as soon as the call ends, even while that thread still waits for the iterator.
    pub fn record_route_future<I>(&self, points: I) -> Pending<RouteSummary>
    where
        I: IntoIterator<Item = Point>,
        I::IntoIter: Send + 'static,
    {
        let failed = self.failure("RecordRoute");
        let (sink, summary) = match self.stub.record_route_opt(self.call_option()) {
            Ok(call) => call,
            Err(e) => return Pending::failed(failed.of(e)),
        };
        let mut guard = self.guard();
        if let Err(e) = guard.send_from_thread(sink, points.into_iter(), "routeguide-record-route")
        {
            return Pending::failed(failed.local(e));
        }
        self.pending(summary.map_err(move |e| failed.of(e)), guard)
    }

    /// RecordRoute from a stream of points: the points are sent as the stream yields them, in
    /// batches when several are ready at once. The stream is polled on gRPC's own thread, so it
    /// must not block (an iterator that may block goes to [`Self::record_route_future`]); the
    /// answer comes as soon as the call ends, even if the stream never does.
    pub fn record_route_stream<S>(&self, points: S) -> Pending<RouteSummary>
    where
        S: Stream<Item = Point> + Send + 'static,
    {
        let failed = self.failure("RecordRoute");
        let (sink, summary) = match self.stub.record_route_opt(self.call_option()) {
            Ok(call) => call,
            Err(e) => return Pending::failed(failed.of(e)),
        };
        let mut guard = self.guard();
        guard.send_from_grpc_thread(sink, points);
        self.pending(summary.map_err(move |e| failed.of(e)), guard)
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
        let failed = self.failure("RouteChat");
        let replies = match self.stub.route_chat_opt(self.call_option()) {
            Ok((sink, replies)) => {
                let mut guard = self.guard();
                match guard.send_from_thread(sink, notes.into_iter(), "routeguide-route-chat") {
                    Ok(()) => self.replies(replies.map_err(move |e| failed.of(e)), guard),
                    Err(e) => ReplyStream::failed(failed.local(e)),
                }
            }
            Err(e) => ReplyStream::failed(failed.of(e)),
        };
        block_on_stream(replies)
    }

    /// RouteChat, future: sends the notes of `notes` as it yields them and returns the replies as
    /// a stream; both directions run at the same time. The notes' stream is polled on gRPC's own
    /// thread, so it must not block (an iterator that may block goes to [`Self::route_chat`]).
    pub fn route_chat_stream<S>(&self, notes: S) -> ReplyStream<RouteNote>
    where
        S: Stream<Item = RouteNote> + Send + 'static,
    {
        let failed = self.failure("RouteChat");
        let (sink, replies) = match self.stub.route_chat_opt(self.call_option()) {
            Ok(call) => call,
            Err(e) => return ReplyStream::failed(failed.of(e)),
        };
        let mut guard = self.guard();
        guard.send_from_grpc_thread(sink, notes);
        self.replies(replies.map_err(move |e| failed.of(e)), guard)
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

    /// What keeps a call alive while its caller holds the answer; see [`CallGuard`].
    fn guard(&self) -> CallGuard {
        CallGuard {
            stub: self.stub.clone(),
            parked: Vec::new(),
            tasks: Vec::new(),
        }
    }

    /// An answer to come, with what must live as long as the caller holds it.
    fn pending<T>(
        &self,
        answer: impl Future<Output = Result<T, CallError>> + Send + 'static,
        guard: CallGuard,
    ) -> Pending<T> {
        Pending {
            answer: Box::pin(answer),
            _guard: Some(guard),
        }
    }

    /// Replies to come, with what must live as long as the caller reads them.
    ///
    /// The replies are read on gRPC's own thread and handed over through a bounded queue: the
    /// reader's thread is woken only when it waits on an empty queue, not once per message, and a
    /// reader that stops reading stops the forwarding (and so, through flow control, the server).
    /// Dropping the stream stops the forwarding at once, which cancels the call.
    fn replies<T: Send + 'static>(
        &self,
        replies: impl Stream<Item = Result<T, CallError>> + Send + 'static,
        mut guard: CallGuard,
    ) -> ReplyStream<T> {
        let (mut queue, received) = futures::channel::mpsc::channel(REPLY_QUEUE);
        guard.spawn(async move {
            let mut replies = Box::pin(replies);
            while let Some(reply) = replies.next().await {
                if queue.send(reply).await.is_err() {
                    break; // the reader is gone; dropping `replies` cancels the call
                }
            }
        });
        ReplyStream {
            replies: received.boxed(),
            ended: false,
            _guard: Some(guard),
        }
    }

    fn call_option(&self) -> CallOption {
        CallOption::default().timeout(self.timeout)
    }

    fn failure(&self, method: &'static str) -> Failure {
        Failure {
            method,
            addr: Arc::clone(&self.addr),
            timeout: self.timeout,
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

/// What must live as long as the caller holds a call's answer or replies:
///
/// * the channel: grpcio cancels every call of a channel whose last handle is dropped, and the
///   caller may well drop the client first;
/// * the sending side, once it is done: dropping it cancels the call, which could replace the
///   server's status (say `INVALID_ARGUMENT`) with `CANCELLED` before the caller has read it;
/// * the tasks that feed or drain the call on gRPC's thread, which are stopped when the caller
///   lets go (so a dropped reply stream cancels its call at once).
struct CallGuard {
    stub: Stub,
    parked: Vec<futures::channel::oneshot::Receiver<Box<dyn Send>>>,
    tasks: Vec<AbortHandle>,
}

impl CallGuard {
    /// Runs `task` on gRPC's thread until it ends or the guard is dropped.
    fn spawn(&mut self, task: impl Future<Output = ()> + Send + 'static) {
        let (handle, registration) = AbortHandle::new_pair();
        self.stub
            .spawn(Abortable::new(task, registration).map(drop));
        self.tasks.push(handle);
    }

    /// A place where a sending side can leave its sink when it is done.
    fn parking(&mut self) -> futures::channel::oneshot::Sender<Box<dyn Send>> {
        let (park, parked) = futures::channel::oneshot::channel();
        self.parked.push(parked);
        park
    }

    /// Sends the items of a (possibly blocking) iterator from a thread of its own, one by one.
    fn send_from_thread<T, I>(
        &mut self,
        mut sink: StreamingCallSink<T>,
        items: I,
        name: &str,
    ) -> Result<(), String>
    where
        T: Send + 'static,
        I: Iterator<Item = T> + Send + 'static,
    {
        let park = self.parking();
        thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                // A failed send means the call is over; its status comes through the answer.
                let _ = block_on(send_each(&mut sink, items));
                let _ = park.send(Box::new(sink));
            })
            .map(drop)
            .map_err(|e| format!("cannot start a sending thread: {e}"))
    }

    /// Sends the items of a (non-blocking) stream from gRPC's thread, batching those that are
    /// ready together.
    fn send_from_grpc_thread<T, S>(&mut self, mut sink: StreamingCallSink<T>, items: S)
    where
        T: Send + 'static,
        S: Stream<Item = T> + Send + 'static,
    {
        let park = self.parking();
        // Each item waits in the sink until the next one comes or the stream has nothing ready,
        // so items that are ready together leave in one write.
        sink.enhance_batch(true);
        self.spawn(async move {
            let mut items = Box::pin(items.map(|item| Ok((item, WriteFlags::default()))));
            if sink.send_all(&mut items).await.is_ok() {
                let _ = sink.close().await;
            }
            let _ = park.send(Box::new(sink));
        });
    }
}

impl Drop for CallGuard {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Sends each item on its own (flushed at once, since the next item may take a while to come),
/// then half-closes the stream.
async fn send_each<T, I>(sink: &mut StreamingCallSink<T>, items: I) -> grpcio::Result<()>
where
    I: IntoIterator<Item = T>,
{
    for item in items {
        sink.send((item, WriteFlags::default())).await?;
    }
    sink.close().await
}

/// The answer of a client-streaming call. When sending failed, the server's status (fetched
/// through the answer) explains why better than the sending error does.
async fn finish<T>(
    sent: grpcio::Result<()>,
    answer: impl Future<Output = grpcio::Result<T>>,
    failed: &Failure,
) -> Result<T, CallError> {
    match (sent, answer.await) {
        (Ok(()), Ok(value)) => Ok(value),
        (_, Err(e)) | (Err(e), Ok(_)) => Err(failed.of(e)),
    }
}

/// What a client needs to turn a grpcio error into a [`CallError`] for one method.
struct Failure {
    method: &'static str,
    addr: Arc<str>,
    timeout: Duration,
}

impl Failure {
    fn of(&self, error: grpcio::Error) -> CallError {
        CallError::from_grpc(self.method, &self.addr, self.timeout, error)
    }

    /// A failure on this side, before anything reached the server.
    fn local(&self, message: String) -> CallError {
        CallError {
            method: self.method,
            addr: self.addr.to_string(),
            timeout: self.timeout,
            code: RpcStatusCode::INTERNAL,
            message,
            reason: None,
        }
    }
}

/// An answer on its way: `.await` it in async code or [`Pending::wait`] for it.
#[must_use = "the answer is lost unless awaited or waited for"]
pub struct Pending<T> {
    answer: BoxFuture<'static, Result<T, CallError>>,
    _guard: Option<CallGuard>,
}

impl<T> Pending<T> {
    fn failed(error: CallError) -> Self
    where
        T: Send + 'static,
    {
        Pending {
            answer: Box::pin(async move { Err(error) }),
            _guard: None,
        }
    }

    /// Blocks until the answer is here: the tutorial's `future.result()`.
    pub fn wait(self) -> Result<T, CallError> {
        block_on(self)
    }
}

/// The replies of a streaming call, as they arrive; an error ends the stream.
#[must_use = "the call is cancelled when its replies are dropped"]
pub struct ReplyStream<T> {
    replies: BoxStream<'static, Result<T, CallError>>,
    /// Set once the call has ended, with an error or not: nothing is yielded after that.
    ended: bool,
    _guard: Option<CallGuard>,
}

impl<T: Send + 'static> ReplyStream<T> {
    fn failed(error: CallError) -> Self {
        ReplyStream {
            replies: futures::stream::once(async move { Err(error) }).boxed(),
            ended: false,
            _guard: None,
        }
    }
}

impl<T> Stream for ReplyStream<T> {
    type Item = Result<T, CallError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.ended {
            return Poll::Ready(None);
        }
        let next = self.replies.poll_next_unpin(cx);
        // grpcio may yield messages still in flight after the error status; the call is over.
        if let Poll::Ready(Some(Err(_)) | None) = next {
            self.ended = true;
        }
        next
    }
}

impl<T> Future for Pending<T> {
    type Output = Result<T, CallError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.answer.as_mut().poll(cx)
    }
}

/// A call that failed: the method, the gRPC status code and the server's message, shown with what
/// the code means for the user.
#[derive(Clone, Debug)]
pub struct CallError {
    method: &'static str,
    addr: String,
    timeout: Duration,
    code: RpcStatusCode,
    message: String,
    /// Why the server says the call failed, from the status's details (see [`crate::status`]).
    reason: Option<String>,
}

impl CallError {
    fn from_grpc(
        method: &'static str,
        addr: &str,
        timeout: Duration,
        error: grpcio::Error,
    ) -> Self {
        let (code, message, reason) = match error {
            grpcio::Error::RpcFailure(status) => (
                status.code(),
                status.message().to_string(),
                crate::status::reason(&status),
            ),
            grpcio::Error::RemoteStopped => (
                RpcStatusCode::CANCELLED,
                "the server ended the call".to_string(),
                None,
            ),
            other => (RpcStatusCode::INTERNAL, other.to_string(), None),
        };
        CallError {
            method,
            addr: addr.to_string(),
            timeout,
            code,
            message,
            reason,
        }
    }

    /// The gRPC status code.
    pub fn code(&self) -> RpcStatusCode {
        self.code
    }

    /// The status message, as the server (or the gRPC library) wrote it.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The reason the server gave in the status's details, such as
    /// [`crate::status::CHAT_STORE_UNAVAILABLE`]; `None` when it gave none.
    pub fn reason(&self) -> Option<&str> {
        self.reason.as_deref()
    }

    /// The RPC that failed, by its proto name.
    pub fn method(&self) -> &'static str {
        self.method
    }
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let method = self.method;
        match self.code {
            RpcStatusCode::DEADLINE_EXCEEDED => write!(
                f,
                "{method}: no answer within the {:?} deadline (DEADLINE_EXCEEDED); is the server \
                 overloaded? A longer --timeout gives it more time",
                self.timeout
            )?,
            RpcStatusCode::UNAVAILABLE
                if self.reason() == Some(crate::status::CHAT_STORE_UNAVAILABLE) =>
            {
                write!(
                    f,
                    "{method}: the server at {} answered, but cannot do this now (UNAVAILABLE); try again later",
                    self.addr
                )?
            }
            RpcStatusCode::UNAVAILABLE => write!(
                f,
                "{method}: cannot reach a RouteGuide server at {} (UNAVAILABLE); is it running, and do client and server agree on TLS?",
                self.addr
            )?,
            RpcStatusCode::INVALID_ARGUMENT => write!(
                f,
                "{method}: the server refused the request (INVALID_ARGUMENT)"
            )?,
            code => write!(f, "{method} failed ({code:?})")?,
        }
        if !self.message.is_empty() {
            write!(f, ": {}", self.message)?;
        }
        Ok(())
    }
}

impl std::error::Error for CallError {}
