//! A client that sends raw bytes as RouteGuide requests, to see what the server does with messages
//! that no well-behaved client would send.

use std::sync::Arc;
use std::time::Duration;

use futures::executor::block_on;
use futures::{SinkExt, TryStreamExt};
use grpcio::{
    CallOption, ChannelBuilder, Client, CompressionAlgorithms, EnvBuilder, Method, MethodType,
    RpcStatusCode, WriteFlags,
};
pub use routeguide_testkit::raw::{GET_FEATURE, LIST_FEATURES, RECORD_ROUTE, ROUTE_CHAT, method};

/// How a raw call ended: the response messages, or the status code and message it failed with.
pub type Outcome = Result<Vec<Vec<u8>>, (RpcStatusCode, String)>;

pub struct RawClient {
    client: Client,
}

impl RawClient {
    pub fn connect(addr: &str) -> Self {
        RawClient::connect_compressing(addr, CompressionAlgorithms::GRPC_COMPRESS_NONE)
    }

    /// A client whose requests are compressed with `algorithm` (`grpc-encoding`).
    pub fn connect_compressing(addr: &str, algorithm: CompressionAlgorithms) -> Self {
        let env = Arc::new(EnvBuilder::new().cq_count(1).build());
        let channel = ChannelBuilder::new(env)
            .default_compression_algorithm(algorithm)
            .connect(addr);
        RawClient {
            client: Client::new(channel),
        }
    }

    fn option() -> CallOption {
        CallOption::default().timeout(Duration::from_secs(10))
    }

    /// Sends `request` as the only message of a call to `method`, whatever kind of call it is.
    pub fn call(&self, method: &Method<Vec<u8>, Vec<u8>>, request: Vec<u8>) -> Outcome {
        let outcome = match method.ty {
            MethodType::Unary => self
                .client
                .unary_call(method, &request, Self::option())
                .map(|reply| vec![reply]),
            MethodType::ServerStreaming => self
                .client
                .server_streaming(method, &request, Self::option())
                .and_then(|replies| block_on(replies.try_collect())),
            MethodType::ClientStreaming => {
                self.client
                    .client_streaming(method, Self::option())
                    .and_then(|(mut sink, reply)| {
                        block_on(async {
                            // A send may fail once the server has refused the call; the reply
                            // then carries its status.
                            let _ = sink.send((request, WriteFlags::default())).await;
                            let _ = sink.close().await;
                            reply.await.map(|r| vec![r])
                        })
                    })
            }
            MethodType::Duplex => self
                .client
                .duplex_streaming(method, Self::option())
                .and_then(|(mut sink, replies)| {
                    block_on(async {
                        let _ = sink.send((request, WriteFlags::default())).await;
                        let _ = sink.close().await;
                        replies.try_collect().await
                    })
                }),
        };
        outcome.map_err(|e| match e {
            grpcio::Error::RpcFailure(status) => (status.code(), status.message().to_string()),
            other => panic!("unexpected client-side error: {other}"),
        })
    }
}
