//! Server reflection over the wire, on both service names: v1alpha and v1 list the server's
//! services and hand out the file that defines RouteGuide.

use grpcio::MethodType;
use protobuf::Message;
use protobuf::descriptor::FileDescriptorProto;
use routeguide::proto::reflection::{ServerReflectionRequest, ServerReflectionResponse};

use crate::common::TestServer;
use crate::common::raw::{RawClient, method};

fn ask(
    raw: &RawClient,
    version: &'static str,
    request: ServerReflectionRequest,
) -> ServerReflectionResponse {
    let reflection = method(MethodType::Duplex, version);
    let replies = raw
        .call(&reflection, request.write_to_bytes().unwrap())
        .unwrap();
    assert_eq!(replies.len(), 1, "one response per request");
    ServerReflectionResponse::parse_from_bytes(&replies[0]).unwrap()
}

#[test]
fn both_reflection_versions_list_services_and_describe_routeguide() {
    let server = TestServer::start();
    let raw = RawClient::connect(&server.addr);
    for version in [
        "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
        "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
    ] {
        let mut list = ServerReflectionRequest::new();
        list.set_list_services(String::new());
        let listed = ask(&raw, version, list);
        let names: Vec<&str> = listed
            .list_services_response()
            .service
            .iter()
            .map(|s| s.name.as_str())
            .collect();
        assert!(
            names.contains(&"routeguide.RouteGuide"),
            "{version}: {names:?}"
        );

        let mut symbol = ServerReflectionRequest::new();
        symbol.set_file_containing_symbol("routeguide.RouteGuide".into());
        let found = ask(&raw, version, symbol);
        let files = &found.file_descriptor_response().file_descriptor_proto;
        let file = FileDescriptorProto::parse_from_bytes(&files[0]).unwrap();
        assert_eq!(file.name(), "route_guide.proto");
        assert_eq!(file.service[0].method.len(), 4);

        let mut unknown = ServerReflectionRequest::new();
        unknown.set_file_containing_symbol("routeguide.Nothing".into());
        let error = ask(&raw, version, unknown);
        assert_eq!(error.error_response().error_code, 5, "NOT_FOUND");
    }
}
