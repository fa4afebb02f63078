//! RouteGuide's methods with their messages as raw bytes, for tests that send what no
//! well-behaved client would (undecodable messages, unknown fields, oversized ones) through
//! grpcio's generic `Client`.

use std::io::Read;

use grpcio::{GrpcSlice, Marshaller, MessageReader, Method, MethodType};

fn ser(bytes: &Vec<u8>, buf: &mut GrpcSlice) -> grpcio::Result<()> {
    *buf = GrpcSlice::from(bytes.as_slice());
    Ok(())
}

fn de(mut reader: MessageReader) -> grpcio::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    reader
        .read_to_end(&mut bytes)
        .map_err(|e| grpcio::Error::Codec(Box::new(e)))?;
    Ok(bytes)
}

/// Messages as they are on the wire, in both directions.
pub const RAW: Marshaller<Vec<u8>> = Marshaller { ser, de };

/// The method `name` (`/package.Service/Method`) of kind `ty`, with raw messages.
pub const fn method(ty: MethodType, name: &'static str) -> Method<Vec<u8>, Vec<u8>> {
    Method {
        ty,
        name,
        req_mar: RAW,
        resp_mar: RAW,
    }
}

/// GetFeature with raw messages.
pub const GET_FEATURE: Method<Vec<u8>, Vec<u8>> =
    method(MethodType::Unary, "/routeguide.RouteGuide/GetFeature");
/// ListFeatures with raw messages.
pub const LIST_FEATURES: Method<Vec<u8>, Vec<u8>> = method(
    MethodType::ServerStreaming,
    "/routeguide.RouteGuide/ListFeatures",
);
/// RecordRoute with raw messages.
pub const RECORD_ROUTE: Method<Vec<u8>, Vec<u8>> = method(
    MethodType::ClientStreaming,
    "/routeguide.RouteGuide/RecordRoute",
);
/// RouteChat with raw messages.
pub const ROUTE_CHAT: Method<Vec<u8>, Vec<u8>> =
    method(MethodType::Duplex, "/routeguide.RouteGuide/RouteChat");
