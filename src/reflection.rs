//! gRPC server reflection (`grpc.reflection.v1alpha` and `grpc.reflection.v1`, which share their
//! messages): tools such as grpcurl, grpcui, Postman and Python's reflection client list the
//! server's services and fetch the descriptors that define them, so they can call RouteGuide
//! without the .proto file. The descriptors are the ones compiled into the binary, embedded in
//! the generated code of each proto; protobuf's reflection finds the types in them.

use std::sync::Arc;

use futures::{SinkExt, TryStreamExt};
use grpcio::{
    DuplexSink, Marshaller, Method, MethodType, RequestStream, RpcContext, RpcStatusCode, Service,
    ServiceBuilder, WriteFlags,
};
use log::debug;
use protobuf::descriptor::FileDescriptorProto;
use protobuf::reflect::FileDescriptor;
use protobuf::{Message, MessageField};

use crate::proto::reflection::server_reflection_request::Message_request as Request;
use crate::proto::reflection::server_reflection_response::Message_response as Response;
use crate::proto::reflection::{
    ErrorResponse, ExtensionNumberResponse, FileDescriptorResponse, ListServiceResponse,
    ServerReflectionRequest, ServerReflectionResponse, ServiceResponse,
};
use crate::proto::reflection_grpc::{ServerReflection, create_server_reflection};
use crate::proto::{health, reflection, route_guide};

const V1ALPHA_PACKAGE: &str = "grpc.reflection.v1alpha";
const V1_PACKAGE: &str = "grpc.reflection.v1";

/// The v1 method: the v1alpha messages under the v1 name (their wire format is the same).
const V1_METHOD: Method<ServerReflectionRequest, ServerReflectionResponse> = Method {
    ty: MethodType::Duplex,
    name: "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
    req_mar: Marshaller {
        ser: grpcio::pb_ser,
        de: grpcio::pb_de,
    },
    resp_mar: Marshaller {
        ser: grpcio::pb_ser,
        de: grpcio::pb_de,
    },
};

/// Both reflection services, answering from the same descriptors.
pub(crate) fn services() -> Vec<Service> {
    let reflection = Reflection {
        index: Arc::new(Index::new()),
    };
    let mut v1 = reflection.clone();
    let v1_service = ServiceBuilder::new()
        .add_duplex_streaming_handler(&V1_METHOD, move |ctx, requests, sink| {
            v1.server_reflection_info(ctx, requests, sink)
        })
        .build();
    vec![create_server_reflection(reflection), v1_service]
}

/// The files this server describes: the protos of the services it serves, as protobuf's
/// reflection knows them (it indexes each file's messages and enums by name), and a copy of
/// reflection's own under the v1 package.
struct Index {
    files: Vec<FileDescriptor>,
}

impl Index {
    fn new() -> Self {
        let v1alpha = reflection::file_descriptor();
        let v1 = renamed_package(v1alpha.proto(), V1ALPHA_PACKAGE, V1_PACKAGE);
        // Built from a descriptor compiled into this binary, whose types all refer to the same
        // file (a test checks it): this cannot fail at run time.
        let v1 = FileDescriptor::new_dynamic(v1, &[])
            .expect("the v1 copy of reflection's descriptor is self-contained");
        let files = vec![
            route_guide::file_descriptor().clone(),
            health::file_descriptor().clone(),
            v1alpha.clone(),
            v1,
        ];
        Index { files }
    }

    /// The fully qualified name of every service.
    fn services(&self) -> Vec<String> {
        self.files
            .iter()
            .flat_map(|file| {
                file.services()
                    .map(move |service| qualified(file.package(), service.proto().name()))
            })
            .collect()
    }

    fn file_named(&self, name: &str) -> Option<&FileDescriptor> {
        self.files.iter().find(|file| file.name() == name)
    }

    /// The file that defines `symbol`: a message, enum, service or method, fully qualified.
    fn file_defining(&self, symbol: &str) -> Option<&FileDescriptor> {
        let symbol = symbol.trim_start_matches('.');
        self.files.iter().find(|file| {
            defines_type(file, symbol)
                || file.services().any(|service| {
                    let name = qualified(file.package(), service.proto().name());
                    name == symbol
                        || service
                            .methods()
                            .any(|method| format!("{name}.{}", method.proto().name()) == symbol)
                })
        })
    }

    /// Whether `message` (fully qualified) is a message type of one of the files.
    fn has_message(&self, message: &str) -> bool {
        let dotted = format!(".{message}");
        self.files
            .iter()
            .any(|file| file.message_by_full_name(&dotted).is_some())
    }

    fn answer(&self, request: &ServerReflectionRequest) -> Result<Answer, (RpcStatusCode, String)> {
        let not_found = |what: String| (RpcStatusCode::NOT_FOUND, what);
        match &request.message_request {
            Some(Request::ListServices(_)) => Ok(Answer::Services(self.services())),
            Some(Request::FileByFilename(name)) => self
                .file_named(name)
                .ok_or_else(|| not_found(format!("no file named {name:?}")))
                .and_then(with_dependencies),
            Some(Request::FileContainingSymbol(symbol)) => self
                .file_defining(symbol)
                .ok_or_else(|| not_found(format!("no symbol named {symbol:?}")))
                .and_then(with_dependencies),
            Some(Request::FileContainingExtension(extension)) => Err(not_found(format!(
                "no extension {} of {:?}: this server defines no extensions",
                extension.extension_number, extension.containing_type
            ))),
            Some(Request::AllExtensionNumbersOfType(message)) => {
                let message = message.trim_start_matches('.');
                if self.has_message(message) {
                    Ok(Answer::ExtensionNumbers(message.to_string()))
                } else {
                    Err(not_found(format!("no message type named {message:?}")))
                }
            }
            None => Err((
                RpcStatusCode::INVALID_ARGUMENT,
                "the request asks for nothing".to_string(),
            )),
        }
    }
}

/// The full name of `symbol`, declared in `package` (none when empty).
fn qualified(package: &str, symbol: &str) -> String {
    match package {
        "" => symbol.to_string(),
        _ => format!("{package}.{symbol}"),
    }
}

/// Whether `file` defines the message or enum `symbol` (fully qualified, nested types included).
fn defines_type(file: &FileDescriptor, symbol: &str) -> bool {
    // protobuf's lookups by full name take it with a leading dot, and assert that it has one.
    let dotted = format!(".{symbol}");
    file.message_by_full_name(&dotted).is_some() || file.enum_by_full_name(&dotted).is_some()
}

/// `file` and every file it imports, directly or not, each once, serialized.
fn with_dependencies(file: &FileDescriptor) -> Result<Answer, (RpcStatusCode, String)> {
    let mut order: Vec<&FileDescriptor> = Vec::new();
    let mut pending = vec![file];
    while let Some(next) = pending.pop() {
        if order.iter().any(|seen| seen.name() == next.name()) {
            continue;
        }
        pending.extend(next.deps());
        order.push(next);
    }
    order
        .iter()
        .map(|file| file.proto().write_to_bytes())
        .collect::<Result<_, _>>()
        .map(Answer::Files)
        .map_err(|e| {
            (
                RpcStatusCode::INTERNAL,
                format!("cannot encode a descriptor: {e}"),
            )
        })
}

/// A copy of `file` as if declared in package `to` instead of `from` (file name and type
/// references included).
fn renamed_package(file: &FileDescriptorProto, from: &str, to: &str) -> FileDescriptorProto {
    let mut file = file.clone();
    let (old_prefix, new_prefix) = (format!(".{from}."), format!(".{to}."));
    let rename = |name: &str| name.replacen(&old_prefix, &new_prefix, 1);
    let renamed_file = file
        .name()
        .replacen(&from.replace('.', "/"), &to.replace('.', "/"), 1);
    file.set_name(renamed_file);
    file.set_package(to.to_string());
    for message in &mut file.message_type {
        // Only fields of message and enum types have a type name: one set on a scalar field, even
        // empty, makes the descriptor invalid to other implementations.
        for field in message.field.iter_mut().filter(|f| f.has_type_name()) {
            let renamed = rename(field.type_name());
            field.set_type_name(renamed);
        }
    }
    for service in &mut file.service {
        for method in &mut service.method {
            let (input, output) = (rename(method.input_type()), rename(method.output_type()));
            method.set_input_type(input);
            method.set_output_type(output);
        }
    }
    file
}

enum Answer {
    Services(Vec<String>),
    Files(Vec<Vec<u8>>),
    ExtensionNumbers(String),
}

fn response(
    request: ServerReflectionRequest,
    answer: Result<Answer, (RpcStatusCode, String)>,
) -> ServerReflectionResponse {
    let answer = match answer {
        Ok(Answer::Services(names)) => Response::ListServicesResponse(ListServiceResponse {
            service: names
                .into_iter()
                .map(|name| ServiceResponse {
                    name,
                    ..ServiceResponse::default()
                })
                .collect(),
            ..ListServiceResponse::default()
        }),
        Ok(Answer::Files(files)) => Response::FileDescriptorResponse(FileDescriptorResponse {
            file_descriptor_proto: files,
            ..FileDescriptorResponse::default()
        }),
        Ok(Answer::ExtensionNumbers(message)) => {
            Response::AllExtensionNumbersResponse(ExtensionNumberResponse {
                base_type_name: message,
                ..ExtensionNumberResponse::default()
            })
        }
        Err((code, message)) => Response::ErrorResponse(ErrorResponse {
            error_code: code.into(),
            error_message: message,
            ..ErrorResponse::default()
        }),
    };
    ServerReflectionResponse {
        valid_host: request.host.clone(),
        original_request: MessageField::some(request),
        message_response: Some(answer),
        ..ServerReflectionResponse::default()
    }
}

#[derive(Clone)]
struct Reflection {
    index: Arc<Index>,
}

impl ServerReflection for Reflection {
    fn server_reflection_info(
        &mut self,
        ctx: RpcContext,
        mut requests: RequestStream<ServerReflectionRequest>,
        mut sink: DuplexSink<ServerReflectionResponse>,
    ) {
        let index = Arc::clone(&self.index);
        ctx.spawn(async move {
            let answered = async {
                while let Some(request) = requests.try_next().await? {
                    let answer = index.answer(&request);
                    sink.send((response(request, answer), WriteFlags::default()))
                        .await?;
                }
                sink.close().await
            };
            if let Err(e) = answered.await {
                debug!("ServerReflectionInfo ended early: {e}");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ask(request: Request) -> Result<Answer, (RpcStatusCode, String)> {
        let message = ServerReflectionRequest {
            message_request: Some(request),
            ..ServerReflectionRequest::default()
        };
        Index::new().answer(&message)
    }

    fn file_names(answer: Result<Answer, (RpcStatusCode, String)>) -> Vec<String> {
        match answer {
            Ok(Answer::Files(files)) => files
                .iter()
                .map(|bytes| {
                    FileDescriptorProto::parse_from_bytes(bytes)
                        .unwrap()
                        .name()
                        .to_string()
                })
                .collect(),
            _ => panic!("expected files"),
        }
    }

    #[test]
    fn every_service_is_listed() {
        let Ok(Answer::Services(names)) = ask(Request::ListServices(String::new())) else {
            panic!("expected services")
        };
        for name in [
            "routeguide.RouteGuide",
            "grpc.health.v1.Health",
            "grpc.reflection.v1alpha.ServerReflection",
            "grpc.reflection.v1.ServerReflection",
        ] {
            assert!(
                names.iter().any(|n| n == name),
                "{name} missing from {names:?}"
            );
        }
    }

    #[test]
    fn symbols_and_file_names_lead_to_their_files() {
        assert_eq!(
            file_names(ask(Request::FileContainingSymbol(
                "routeguide.RouteGuide".into()
            ))),
            ["route_guide.proto"]
        );
        assert_eq!(
            file_names(ask(Request::FileContainingSymbol(
                "routeguide.Point".into()
            ))),
            ["route_guide.proto"]
        );
        assert_eq!(
            file_names(ask(Request::FileContainingSymbol(
                "routeguide.RouteGuide.GetFeature".into()
            ))),
            ["route_guide.proto"]
        );
        assert_eq!(
            file_names(ask(Request::FileByFilename("route_guide.proto".into()))),
            ["route_guide.proto"]
        );
        let v1 = file_names(ask(Request::FileContainingSymbol(
            "grpc.reflection.v1.ServerReflectionResponse".into(),
        )));
        assert_eq!(v1, ["grpc/reflection/v1/reflection.proto"]);
        // A nested type, named with the leading dot of a descriptor's type references.
        assert_eq!(
            file_names(ask(Request::FileContainingSymbol(
                ".grpc.health.v1.HealthCheckResponse.ServingStatus".into()
            ))),
            ["grpc/health/v1/health.proto"]
        );
    }

    #[test]
    fn unknown_things_are_not_found() {
        for request in [
            Request::FileByFilename("nope.proto".into()),
            Request::FileContainingSymbol("routeguide.Nothing".into()),
            // Names that are not names: protobuf's lookups must not see them as such.
            Request::FileContainingSymbol(String::new()),
            Request::FileContainingSymbol("routeguide.".into()),
            Request::FileContainingSymbol("routeguideé.Point".into()),
            Request::AllExtensionNumbersOfType("routeguide.Nothing".into()),
            Request::AllExtensionNumbersOfType(".".into()),
            Request::FileContainingExtension(Default::default()),
        ] {
            assert!(matches!(ask(request), Err((RpcStatusCode::NOT_FOUND, _))));
        }
        assert!(matches!(
            ask(Request::AllExtensionNumbersOfType(
                "routeguide.Point".into()
            )),
            Ok(Answer::ExtensionNumbers(_))
        ));
    }

    #[test]
    fn the_v1_descriptor_refers_to_v1_types_only() {
        let v1alpha = reflection::file_descriptor().proto();
        let v1 = renamed_package(v1alpha, V1ALPHA_PACKAGE, V1_PACKAGE);
        let text = format!("{v1:?}");
        assert!(!text.contains("v1alpha"), "{text}");
        assert_eq!(v1.package(), "grpc.reflection.v1");
        // Names are all that changed: renamed back, it is the original.
        assert_eq!(&renamed_package(&v1, V1_PACKAGE, V1ALPHA_PACKAGE), v1alpha);
        // The server builds its index from it: every type it names must be its own.
        assert!(FileDescriptor::new_dynamic(v1, &[]).is_ok());
    }
}
