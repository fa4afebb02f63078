//! One call in flight: what keeps it alive while its caller holds the answer ([`CallGuard`]),
//! how its requests are sent (from a thread of their own or from gRPC's thread), and the two
//! shapes its answer takes, [`Pending`] (one reply) and [`ReplyStream`] (many). Which call to
//! start, and with which deadline, is the parent module's business.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::thread;

use futures::executor::block_on;
use futures::future::{AbortHandle, Abortable, BoxFuture, FutureExt};
use futures::stream::{BoxStream, Stream, StreamExt, TryStreamExt};
use futures::{SinkExt, TryFutureExt};
use grpcio::{StreamingCallSink, WriteFlags};

use super::error::{CallError, Failure};
use crate::proto::route_guide_grpc::RouteGuideClient as Stub;

/// How many replies of a streaming call may wait for the reader before gRPC stops reading more.
const REPLY_QUEUE: usize = 256;

/// What a call method returns, when the call cannot even be started: the answer is then that
/// failure, in whichever shape the method answers (a [`Pending`], a [`ReplyStream`] or a
/// `Result`).
pub(super) trait Answer {
    fn failed(error: CallError) -> Self;
}

/// What must live as long as the caller holds a call's answer or replies:
///
/// * the channel: grpcio cancels every call of a channel whose last handle is dropped, and the
///   caller may well drop the client first;
/// * the sending side, once it is done: dropping it cancels the call, which could replace the
///   server's status (say `INVALID_ARGUMENT`) with `CANCELLED` before the caller has read it;
/// * the tasks that feed or drain the call on gRPC's thread, which are stopped when the caller
///   lets go (so a dropped reply stream cancels its call at once).
pub(super) struct CallGuard {
    stub: Stub,
    parked: Vec<futures::channel::oneshot::Receiver<Box<dyn Send>>>,
    tasks: Vec<AbortHandle>,
}

impl CallGuard {
    pub(super) fn new(stub: &Stub) -> Self {
        CallGuard {
            stub: stub.clone(),
            parked: Vec::new(),
            tasks: Vec::new(),
        }
    }

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
    pub(super) fn send_from_thread<T, I>(
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
    pub(super) fn send_from_grpc_thread<T, S>(&mut self, mut sink: StreamingCallSink<T>, items: S)
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
pub(super) async fn send_each<T, I>(sink: &mut StreamingCallSink<T>, items: I) -> grpcio::Result<()>
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
pub(super) async fn finish<T>(
    sent: grpcio::Result<()>,
    answer: impl Future<Output = grpcio::Result<T>>,
    failed: &Failure,
) -> Result<T, CallError> {
    match (sent, answer.await) {
        (Ok(()), Ok(value)) => Ok(value),
        (_, Err(e)) | (Err(e), Ok(_)) => Err(failed.of(e)),
    }
}

/// An answer on its way: `.await` it in async code or [`Pending::wait`] for it.
#[must_use = "the answer is lost unless awaited or waited for"]
pub struct Pending<T> {
    answer: BoxFuture<'static, Result<T, CallError>>,
    _guard: Option<CallGuard>,
}

impl<T> Pending<T> {
    /// The answer gRPC will give, its errors reported as `failed` says, with what must live as
    /// long as the caller holds it.
    pub(super) fn of(
        answer: impl Future<Output = grpcio::Result<T>> + Send + 'static,
        failed: Failure,
        guard: CallGuard,
    ) -> Self {
        Pending {
            answer: Box::pin(answer.map_err(move |e| failed.of(e))),
            _guard: Some(guard),
        }
    }

    /// Blocks until the answer is here: the tutorial's `future.result()`.
    pub fn wait(self) -> Result<T, CallError> {
        block_on(self)
    }
}

impl<T: Send + 'static> Answer for Pending<T> {
    fn failed(error: CallError) -> Self {
        Pending {
            answer: Box::pin(async move { Err(error) }),
            _guard: None,
        }
    }
}

impl<T> Future for Pending<T> {
    type Output = Result<T, CallError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.answer.as_mut().poll(cx)
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
    /// The replies gRPC will give, their errors reported as `failed` says, with what must live as
    /// long as the caller reads them.
    ///
    /// The replies are read on gRPC's own thread and handed over through a bounded queue: the
    /// reader's thread is woken only when it waits on an empty queue, not once per message, and a
    /// reader that stops reading stops the forwarding (and so, through flow control, the server).
    /// Dropping the stream stops the forwarding at once, which cancels the call.
    pub(super) fn of(
        replies: impl Stream<Item = grpcio::Result<T>> + Send + 'static,
        failed: Failure,
        mut guard: CallGuard,
    ) -> Self {
        let (mut queue, received) = futures::channel::mpsc::channel(REPLY_QUEUE);
        guard.spawn(async move {
            let mut replies = Box::pin(replies.map_err(move |e| failed.of(e)));
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
}

impl<T: Send + 'static> Answer for ReplyStream<T> {
    fn failed(error: CallError) -> Self {
        ReplyStream {
            replies: futures::stream::once(async move { Err(error) }).boxed(),
            ended: false,
            _guard: None,
        }
    }
}

impl<T> Answer for Result<T, CallError> {
    fn failed(error: CallError) -> Self {
        Err(error)
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
