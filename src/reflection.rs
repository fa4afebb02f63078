//! gRPC server reflection (`grpc.reflection.v1alpha` and `grpc.reflection.v1`, which share their
//! messages): tools such as grpcurl, grpcui, Postman and Python's reflection client list the
//! server's services and fetch the descriptors that define them, so they can call RouteGuide
//! without the .proto file. The descriptors are the ones compiled into the binary.

use std::collections::HashMap;
use std::sync::Arc;

use futures::{SinkExt, TryStreamExt};
use grpcio::{
    DuplexSink, Marshaller, Method, MethodType, RequestStream, RpcContext, RpcStatusCode, Service,
    ServiceBuilder, WriteFlags,
};
use log::debug;
use protobuf::Message;
use protobuf::descriptor::{DescriptorProto, FileDescriptorProto, FileDescriptorSet};

use crate::proto::reflection::{
    ErrorResponse, ExtensionNumberResponse, FileDescriptorResponse, ListServiceResponse,
    ServerReflectionRequest, ServerReflectionRequest_oneof_message_request as Request,
    ServerReflectionResponse, ServiceResponse,
};
use crate::proto::reflection_grpc::{ServerReflection, create_server_reflection};

/// The descriptors of every proto this server offers, written by build.rs.
const DESCRIPTORS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/descriptors.bin"));

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

/// The files compiled into this binary, and where each symbol is defined.
struct Index {
    services: Vec<String>,
    files: HashMap<String, FileDescriptorProto>,
    /// Fully qualified symbol (message, enum, service, method) → the name of its file.
    symbols: HashMap<String, String>,
    /// Fully qualified message names, for extension questions.
    messages: Vec<String>,
}

impl Index {
    fn new() -> Self {
        let mut index = Index {
            services: Vec::new(),
            files: HashMap::new(),
            symbols: HashMap::new(),
            messages: Vec::new(),
        };
        let compiled = FileDescriptorSet::parse_from_bytes(DESCRIPTORS)
            .expect("build.rs wrote a valid descriptor set");
        for file in compiled.get_file() {
            if file.get_package() == V1ALPHA_PACKAGE {
                index.add(renamed_package(file, V1ALPHA_PACKAGE, V1_PACKAGE));
            }
            index.add(file.clone());
        }
        index
    }

    fn add(&mut self, file: FileDescriptorProto) {
        let name = file.get_name().to_string();
        let package = file.get_package();
        let qualify = |symbol: &str| match package {
            "" => symbol.to_string(),
            _ => format!("{package}.{symbol}"),
        };
        for service in file.get_service() {
            let service_name = qualify(service.get_name());
            for method in service.get_method() {
                let method_name = format!("{service_name}.{}", method.get_name());
                self.symbols.insert(method_name, name.clone());
            }
            self.symbols.insert(service_name.clone(), name.clone());
            self.services.push(service_name);
        }
        for enumeration in file.get_enum_type() {
            self.symbols
                .insert(qualify(enumeration.get_name()), name.clone());
        }
        for message in file.get_message_type() {
            self.add_message(&qualify(message.get_name()), message, &name);
        }
        self.files.insert(name, file);
    }

    fn add_message(&mut self, full_name: &str, message: &DescriptorProto, file: &str) {
        self.symbols.insert(full_name.to_string(), file.to_string());
        self.messages.push(full_name.to_string());
        for enumeration in message.get_enum_type() {
            let enum_name = format!("{full_name}.{}", enumeration.get_name());
            self.symbols.insert(enum_name, file.to_string());
        }
        for nested in message.get_nested_type() {
            self.add_message(&format!("{full_name}.{}", nested.get_name()), nested, file);
        }
    }

    /// The file named `name` and every file it imports, directly or not, each once.
    fn file_with_dependencies(&self, name: &str) -> Option<Vec<Vec<u8>>> {
        let mut order = Vec::new();
        let mut pending = vec![name.to_string()];
        while let Some(next) = pending.pop() {
            if order.contains(&next) {
                continue;
            }
            let file = self.files.get(&next)?;
            pending.extend(file.get_dependency().iter().cloned());
            order.push(next);
        }
        order
            .iter()
            .map(|n| self.files[n].write_to_bytes().ok())
            .collect()
    }

    fn answer(&self, request: &ServerReflectionRequest) -> Result<Answer, (RpcStatusCode, String)> {
        let not_found = |what: &str| (RpcStatusCode::NOT_FOUND, what.to_string());
        match &request.message_request {
            Some(Request::list_services(_)) => Ok(Answer::Services(self.services.clone())),
            Some(Request::file_by_filename(name)) => self
                .file_with_dependencies(name)
                .map(Answer::Files)
                .ok_or_else(|| not_found(&format!("no file named {name:?}"))),
            Some(Request::file_containing_symbol(symbol)) => self
                .symbols
                .get(symbol.trim_start_matches('.'))
                .and_then(|file| self.file_with_dependencies(file))
                .map(Answer::Files)
                .ok_or_else(|| not_found(&format!("no symbol named {symbol:?}"))),
            Some(Request::file_containing_extension(extension)) => Err(not_found(&format!(
                "no extension {} of {:?}: this server defines no extensions",
                extension.get_extension_number(),
                extension.get_containing_type()
            ))),
            Some(Request::all_extension_numbers_of_type(message)) => {
                let message = message.trim_start_matches('.');
                if self.messages.iter().any(|m| m == message) {
                    Ok(Answer::ExtensionNumbers(message.to_string()))
                } else {
                    Err(not_found(&format!("no message type named {message:?}")))
                }
            }
            None => Err((
                RpcStatusCode::INVALID_ARGUMENT,
                "the request asks for nothing".to_string(),
            )),
        }
    }
}

/// A copy of `file` as if declared in package `to` instead of `from` (file name and type
/// references included).
fn renamed_package(file: &FileDescriptorProto, from: &str, to: &str) -> FileDescriptorProto {
    let mut file = file.clone();
    let (old_prefix, new_prefix) = (format!(".{from}."), format!(".{to}."));
    let rename = |name: &str| name.replacen(&old_prefix, &new_prefix, 1);
    file.set_name(
        file.get_name()
            .replacen(&from.replace('.', "/"), &to.replace('.', "/"), 1),
    );
    file.set_package(to.to_string());
    for message in file.mut_message_type().iter_mut() {
        for field in message.mut_field().iter_mut() {
            let renamed = rename(field.get_type_name());
            field.set_type_name(renamed);
        }
    }
    for service in file.mut_service().iter_mut() {
        for method in service.mut_method().iter_mut() {
            let (input, output) = (
                rename(method.get_input_type()),
                rename(method.get_output_type()),
            );
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
    let mut response = ServerReflectionResponse::new();
    response.set_valid_host(request.get_host().to_string());
    match answer {
        Ok(Answer::Services(names)) => {
            let mut list = ListServiceResponse::new();
            for name in names {
                let mut service = ServiceResponse::new();
                service.set_name(name);
                list.mut_service().push(service);
            }
            response.set_list_services_response(list);
        }
        Ok(Answer::Files(files)) => {
            let mut found = FileDescriptorResponse::new();
            found.set_file_descriptor_proto(files.into());
            response.set_file_descriptor_response(found);
        }
        Ok(Answer::ExtensionNumbers(message)) => {
            let mut numbers = ExtensionNumberResponse::new();
            numbers.set_base_type_name(message);
            response.set_all_extension_numbers_response(numbers);
        }
        Err((code, message)) => {
            let mut error = ErrorResponse::new();
            error.set_error_code(i32::from(code));
            error.set_error_message(message);
            response.set_error_response(error);
        }
    }
    response.set_original_request(request);
    response
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
        let mut message = ServerReflectionRequest::new();
        message.message_request = Some(request);
        Index::new().answer(&message)
    }

    fn file_names(answer: Result<Answer, (RpcStatusCode, String)>) -> Vec<String> {
        match answer {
            Ok(Answer::Files(files)) => files
                .iter()
                .map(|bytes| {
                    FileDescriptorProto::parse_from_bytes(bytes)
                        .unwrap()
                        .get_name()
                        .to_string()
                })
                .collect(),
            _ => panic!("expected files"),
        }
    }

    #[test]
    fn every_service_is_listed() {
        let Ok(Answer::Services(names)) = ask(Request::list_services(String::new())) else {
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
            file_names(ask(Request::file_containing_symbol(
                "routeguide.RouteGuide".into()
            ))),
            ["route_guide.proto"]
        );
        assert_eq!(
            file_names(ask(Request::file_containing_symbol(
                "routeguide.Point".into()
            ))),
            ["route_guide.proto"]
        );
        assert_eq!(
            file_names(ask(Request::file_containing_symbol(
                "routeguide.RouteGuide.GetFeature".into()
            ))),
            ["route_guide.proto"]
        );
        assert_eq!(
            file_names(ask(Request::file_by_filename("route_guide.proto".into()))),
            ["route_guide.proto"]
        );
        let v1 = file_names(ask(Request::file_containing_symbol(
            "grpc.reflection.v1.ServerReflectionResponse".into(),
        )));
        assert_eq!(v1, ["grpc/reflection/v1/reflection.proto"]);
    }

    #[test]
    fn unknown_things_are_not_found() {
        for request in [
            Request::file_by_filename("nope.proto".into()),
            Request::file_containing_symbol("routeguide.Nothing".into()),
            Request::all_extension_numbers_of_type("routeguide.Nothing".into()),
            Request::file_containing_extension(Default::default()),
        ] {
            assert!(matches!(ask(request), Err((RpcStatusCode::NOT_FOUND, _))));
        }
        assert!(matches!(
            ask(Request::all_extension_numbers_of_type(
                "routeguide.Point".into()
            )),
            Ok(Answer::ExtensionNumbers(_))
        ));
    }

    #[test]
    fn the_v1_descriptor_refers_to_v1_types_only() {
        let v1 = renamed_package(
            crate::proto::reflection::file_descriptor_proto(),
            V1ALPHA_PACKAGE,
            V1_PACKAGE,
        );
        let text = format!("{v1:?}");
        assert!(!text.contains("v1alpha"), "{text}");
        assert_eq!(v1.get_package(), "grpc.reflection.v1");
    }
}
