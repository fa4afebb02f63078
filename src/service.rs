//! The RouteGuide RPCs: what each of the four methods answers. Handlers validate what the client
//! sent, ask the [`FeatureStore`] or the chat, and stream the answer. Every request error becomes
//! an `INVALID_ARGUMENT` status here, in one place, and a chat store that is down an `UNAVAILABLE`
//! with the `CHAT_STORE_UNAVAILABLE` reason. No handler blocks its completion-queue thread:
//! each one hands a future to `ctx.spawn` and returns. Each call is a [`crate::calls::Call`],
//! told of every message received and sent, which counts and logs it.

use std::fmt::Display;
use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use futures::{SinkExt, TryStreamExt};
use grpcio::{
    ClientStreamingSink, DuplexSink, RequestStream, RpcContext, RpcStatus, RpcStatusCode,
    ServerStreamingSink, UnarySink, WriteFlags,
};

use crate::calls::Calls;
use crate::chat::{Chat, ChatUnavailable};
use crate::geo::{Bounds, Coordinates};
use crate::metrics::Method;
use crate::proto::{self, Feature, Point, Rectangle, RouteGuide, RouteNote, RouteSummary};
use crate::route::RouteRecorder;
use crate::status::{self, CHAT_STORE_UNAVAILABLE};
use crate::store::FeatureStore;

/// How many streamed messages may wait in gRPC's buffers before they are pushed to the network.
/// Buffering saves a system call per message; flushing every so often lets the client see the
/// first answers early and gives flow control a chance to slow us down.
const FLUSH_EVERY: usize = 64;

/// Evaluates to the value of a `Result<T, RpcStatus>`, or ends the handler's future: the status is
/// sent to the client with `sink.fail`, and the future yields the code it sent.
macro_rules! valid_or_fail {
    ($sink:ident, $checked:expr) => {{
        // Bound first, so that no temporary of `$checked` lives across the `.await` below.
        let checked = $checked;
        match checked {
            Ok(value) => value,
            Err(status) => {
                let code = status.code();
                return $sink.fail(status).await.map(|()| code);
            }
        }
    }};
}

/// Runs a handler's body, a block that sends the call's answer and yields the status code it
/// sent (or the error that stopped it), as a future on the completion-queue thread; then ends
/// `$call` with that outcome. The body may use `$call` to count the messages it receives and
/// sends; its `?` and `return` end the body, not the call.
macro_rules! spawn_call {
    ($ctx:ident, $call:ident, $body:block) => {{
        let mut $call = $call;
        $ctx.spawn(async move {
            let outcome = handler_body(async $body).await;
            $call.end(outcome);
        });
    }};
}

/// A handler's body as a future of what it came to (which fixes the error type for its `?`).
fn handler_body<F>(body: F) -> F
where
    F: Future<Output = Result<RpcStatusCode, grpcio::Error>>,
{
    body
}

/// The RouteGuide service. grpcio clones it once per completion queue and method, so everything it
/// holds is shared through `Arc`s.
#[derive(Clone)]
pub(crate) struct RouteGuideService {
    store: Arc<FeatureStore>,
    chat: Chat,
    calls: Calls,
}

impl RouteGuideService {
    pub(crate) fn new(store: Arc<FeatureStore>, chat: Chat, calls: Calls) -> Self {
        RouteGuideService { store, chat, calls }
    }

    /// GetFeature's answer: the feature stored at the point, or an unnamed feature at that point.
    fn feature_at(&self, point: &Point) -> Result<Feature, RpcStatus> {
        let at = coordinates(point, "point")?;
        Ok(self
            .store
            .feature_at(at)
            .unwrap_or_else(|| proto::feature("", at.to_point())))
    }
}

impl RouteGuide for RouteGuideService {
    fn get_feature(&mut self, ctx: RpcContext, point: Point, sink: UnarySink<Feature>) {
        let mut call = self.calls.start(&ctx, Method::GetFeature);
        call.received();
        let answer = self.feature_at(&point);
        spawn_call!(ctx, call, {
            let feature = valid_or_fail!(sink, answer);
            sink.success(feature).await?;
            call.sent();
            Ok(RpcStatusCode::OK)
        });
    }

    fn list_features(
        &mut self,
        ctx: RpcContext,
        rectangle: Rectangle,
        mut sink: ServerStreamingSink<Feature>,
    ) {
        let mut call = self.calls.start(&ctx, Method::ListFeatures);
        call.received();
        let bounds = bounds(&rectangle);
        let store = Arc::clone(&self.store);
        spawn_call!(ctx, call, {
            let bounds = valid_or_fail!(sink, bounds);
            for (sent, index) in store.within(bounds).enumerate() {
                let flags = WriteFlags::default().buffer_hint((sent + 1) % FLUSH_EVERY != 0);
                // `feed` waits while gRPC's flow control holds the stream back, and fails as soon
                // as the client cancels, which ends the work.
                sink.feed((store.feature(index), flags)).await?;
                call.sent();
            }
            sink.close().await?;
            Ok(RpcStatusCode::OK)
        });
    }

    fn record_route(
        &mut self,
        ctx: RpcContext,
        mut points: RequestStream<Point>,
        sink: ClientStreamingSink<RouteSummary>,
    ) {
        let call = self.calls.start(&ctx, Method::RecordRoute);
        let started = Instant::now();
        let store = Arc::clone(&self.store);
        spawn_call!(ctx, call, {
            let mut route = RouteRecorder::new();
            let mut received = 0_u64;
            while let Some(point) =
                next_message(&mut points, received + 1, "point", "route").await?
            {
                received += 1;
                let point = valid_or_fail!(sink, point);
                call.received();
                let at = valid_or_fail!(
                    sink,
                    coordinates(&point, format_args!("point {received} of the route"))
                );
                route.record(at, store.has_feature_at(at));
            }
            sink.success(route.summary(started.elapsed())).await?;
            call.sent();
            Ok(RpcStatusCode::OK)
        });
    }

    fn route_chat(
        &mut self,
        ctx: RpcContext,
        mut notes: RequestStream<RouteNote>,
        mut sink: DuplexSink<RouteNote>,
    ) {
        let call = self.calls.start(&ctx, Method::RouteChat);
        let mut room = self.chat.room();
        spawn_call!(ctx, call, {
            let mut received = 0_u64;
            while let Some(note) = next_message(&mut notes, received + 1, "note", "chat").await? {
                received += 1;
                let note = valid_or_fail!(sink, note);
                call.received();
                let at = valid_or_fail!(sink, note_location(&note, received));
                let posted = room.post(at, note).await.map_err(chat_unavailable);
                let earlier = valid_or_fail!(sink, posted);
                let count = earlier.len();
                for (i, reply) in earlier.into_iter().enumerate() {
                    // The last reply goes out at once: the client may be waiting for it before
                    // sending its next note.
                    let last = i + 1 == count;
                    let flags =
                        WriteFlags::default().buffer_hint(!last && (i + 1) % FLUSH_EVERY != 0);
                    // Shared notes are copied here, outside the board's lock.
                    sink.feed((RouteNote::clone(&reply), flags)).await?;
                    call.sent();
                }
                sink.flush().await?;
            }
            sink.close().await?;
            Ok(RpcStatusCode::OK)
        });
    }
}

/// The next message of a request stream, `None` at its end. A message that cannot be decoded is
/// the client's mistake, answered with `INVALID_ARGUMENT` ("note 3 of the chat: cannot be
/// decoded: ..."); any other error (the client cancelled or went away) ends the handler.
async fn next_message<T>(
    stream: &mut RequestStream<T>,
    number: u64,
    item: &str,
    whole: &str,
) -> grpcio::Result<Option<Result<T, RpcStatus>>> {
    match stream.try_next().await {
        Ok(message) => Ok(message.map(Ok)),
        Err(grpcio::Error::Codec(e)) => Ok(Some(Err(invalid_argument(
            format_args!("{item} {number} of the {whole}"),
            format_args!("cannot be decoded: {e}"),
        )))),
        Err(e) => Err(e),
    }
}

/// The checked coordinates of a point the client sent in `field` (formatted only on error).
fn coordinates(point: &Point, field: impl Display) -> Result<Coordinates, RpcStatus> {
    Coordinates::from_point(point).map_err(|e| invalid_argument(field, e))
}

/// The rectangle's corners, checked and put in order.
fn bounds(rectangle: &Rectangle) -> Result<Bounds, RpcStatus> {
    let Some(lo) = rectangle.lo.as_ref() else {
        return Err(invalid_argument("rectangle", "lo is missing"));
    };
    let Some(hi) = rectangle.hi.as_ref() else {
        return Err(invalid_argument("rectangle", "hi is missing"));
    };
    let lo = coordinates(lo, "rectangle.lo")?;
    let hi = coordinates(hi, "rectangle.hi")?;
    Ok(Bounds::from_corners(lo, hi))
}

/// Where the `number`th note of a chat was left.
fn note_location(note: &RouteNote, number: u64) -> Result<Coordinates, RpcStatus> {
    let Some(location) = note.location.as_ref() else {
        return Err(invalid_argument(
            format_args!("note {number} of the chat"),
            "location is missing",
        ));
    };
    coordinates(
        location,
        format_args!("note {number} of the chat: location"),
    )
}

/// A chat outage: `UNAVAILABLE`, as a server that cannot be reached would answer, but with the
/// reason [`CHAT_STORE_UNAVAILABLE`], which tells the client that this server answered and only
/// its chat store did not.
fn chat_unavailable(unavailable: ChatUnavailable) -> RpcStatus {
    status::with_reason(
        RpcStatusCode::UNAVAILABLE,
        unavailable.to_string(),
        CHAT_STORE_UNAVAILABLE,
    )
}

fn invalid_argument(field: impl Display, problem: impl Display) -> RpcStatus {
    RpcStatus::with_message(
        RpcStatusCode::INVALID_ARGUMENT,
        format!("{field}: {problem}"),
    )
}
