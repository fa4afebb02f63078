//! The standard health service (`grpc.health.v1.Health`), which load balancers, orchestrators and
//! `grpc_health_probe` ask whether the server serves: `Check` answers with a service's status now
//! (`NOT_FOUND` for a name it does not know), `Watch` with the status now and then every change.
//! The server ([`crate::server`]) says which names are served when it starts, and switches them
//! all to `NOT_SERVING` when a graceful shutdown begins.
//!
//! Statuses change a handful of times in a server's life, so each watcher gets its own unbounded
//! queue of updates, filled under the lock and drained by its call's future; no handler waits for
//! anything but its own queue and the network. A limit it shares with grpcio-health: grpcio tells
//! a handler that its client cancelled only when it next writes, so a cancelled `Watch` stays
//! parked until the next change of status (in practice, shutdown).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use futures::channel::mpsc::{self, UnboundedSender};
use futures::{SinkExt, StreamExt};
use grpcio::{
    RpcContext, RpcStatus, RpcStatusCode, ServerStreamingSink, Service, UnarySink, WriteFlags,
};
use log::debug;

use crate::proto::health::health_check_response::ServingStatus;
use crate::proto::health::{HealthCheckRequest, HealthCheckResponse};
use crate::proto::health_grpc::{Health, create_health};

/// The health service. grpcio clones it once per completion queue and method; the clones share
/// one [`Board`].
#[derive(Clone)]
pub(crate) struct HealthService {
    board: Arc<Mutex<Board>>,
}

/// Every status, and the open `Watch` calls that want to hear of changes.
struct Board {
    /// By service name; "" is the server as a whole.
    statuses: HashMap<String, ServingStatus>,
    /// The queue of each `Watch` call, which its call's future sends from. Only a shutdown changes
    /// statuses once the server runs, and it concerns every name, so the queues are not kept by
    /// the name they watch.
    watchers: Vec<UnboundedSender<ServingStatus>>,
}

impl HealthService {
    /// A health service that reports each of `names` as `SERVING`.
    pub(crate) fn serving(names: &[&str]) -> Self {
        let statuses = names
            .iter()
            .map(|name| (name.to_string(), ServingStatus::SERVING))
            .collect();
        HealthService {
            board: Arc::new(Mutex::new(Board {
                statuses,
                watchers: Vec::new(),
            })),
        }
    }

    /// The gRPC service to register with a server.
    pub(crate) fn service(&self) -> Service {
        create_health(self.clone())
    }

    /// Reports every service as `NOT_SERVING`, to `Check` from now on and to every watcher at
    /// once, whatever name it watches: the whole server is going away.
    pub(crate) fn shutdown(&self) {
        let mut board = self.board();
        for status in board.statuses.values_mut() {
            *status = ServingStatus::NOT_SERVING;
        }
        // A watcher whose call has ended has dropped its queue: it goes here.
        board
            .watchers
            .retain(|updates| updates.unbounded_send(ServingStatus::NOT_SERVING).is_ok());
    }

    fn board(&self) -> MutexGuard<'_, Board> {
        // Nothing panics while holding the lock, and the statuses stay consistent if it did.
        self.board.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Health for HealthService {
    fn check(
        &mut self,
        ctx: RpcContext,
        request: HealthCheckRequest,
        sink: UnarySink<HealthCheckResponse>,
    ) {
        let status = self.board().statuses.get(&request.service).copied();
        ctx.spawn(async move {
            let sent = match status {
                Some(status) => sink.success(response(status)).await,
                None => {
                    let unknown = format!("unknown service {:?}", request.service);
                    sink.fail(RpcStatus::with_message(RpcStatusCode::NOT_FOUND, unknown))
                        .await
                }
            };
            if let Err(e) = sent {
                debug!("Check ended early: {e}");
            }
        });
    }

    fn watch(
        &mut self,
        ctx: RpcContext,
        request: HealthCheckRequest,
        mut sink: ServerStreamingSink<HealthCheckResponse>,
    ) {
        let (updates, mut queued) = mpsc::unbounded();
        {
            let mut board = self.board();
            let now = board
                .statuses
                .get(&request.service)
                .copied()
                .unwrap_or(ServingStatus::SERVICE_UNKNOWN);
            // The receiver is alive until the future below ends, so this cannot fail.
            let _ = updates.unbounded_send(now);
            board.watchers.push(updates);
        }
        // The call ends when the client cancels it, which grpcio reports at the next write; a
        // watcher that went away meanwhile waits, parked, for the next change of status.
        ctx.spawn(async move {
            let sent = async {
                while let Some(status) = queued.next().await {
                    sink.send((response(status), WriteFlags::default())).await?;
                }
                sink.close().await
            };
            if let Err(e) = sent.await {
                debug!("Watch ended: {e}");
            }
        });
    }
}

fn response(status: ServingStatus) -> HealthCheckResponse {
    HealthCheckResponse {
        status: status.into(),
        ..HealthCheckResponse::default()
    }
}
