//! Generates the Rust code for the protos into `OUT_DIR`: for `proto/route_guide.proto`, the
//! protobuf messages (`route_guide.rs`) and the grpcio client stub, service trait and
//! `create_route_guide` (`route_guide_grpc.rs`); likewise for server reflection (`reflection.rs`,
//! `reflection_grpc.rs`) and the standard health service (`health.rs`, `health_grpc.rs`); the
//! messages of gRPC's richer error model (`status.rs`, `error_details.rs`); and, for server
//! reflection to serve, the descriptors of every proto the server offers (`descriptors.bin`, a
//! serialized `FileDescriptorSet`). The protos are parsed in pure Rust, so no `protoc` is needed.

use std::error::Error;
use std::fs;
use std::path::PathBuf;

use protobuf::Message as _;
use protobuf::descriptor::FileDescriptorSet;
use protobuf3::Message as _;

const PROTO_DIR: &str = "proto";
/// The protos of the services this crate implements: their messages and grpcio glue are
/// generated, and reflection describes them.
const SERVICES: [&str; 3] = [
    "proto/route_guide.proto",
    "proto/grpc/reflection/v1alpha/reflection.proto",
    "proto/grpc/health/v1/health.proto",
];
/// Protos of messages only, generated for the status details of gRPC's richer error model. They
/// define no service, so reflection does not offer them.
const MESSAGES: [&str; 2] = [
    "proto/google/rpc/status.proto",
    "proto/google/rpc/error_details.proto",
];

fn main() -> Result<(), Box<dyn Error>> {
    for file in SERVICES.iter().chain(&MESSAGES) {
        println!("cargo:rerun-if-changed={file}");
    }
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);

    let described = parser(&SERVICES)
        .file_descriptor_set()
        .map_err(cannot_parse)?;
    fs::write(out_dir.join("descriptors.bin"), described.write_to_bytes()?)?;

    // With their imports (google/protobuf/any.proto, built into the parser): the generators look
    // up every type a field names, though a well-known type's code comes from the protobuf crate.
    let parsed = parser(SERVICES.iter().chain(&MESSAGES))
        .parse_and_typecheck()
        .map_err(cannot_parse)?;
    let mut with_imports = protobuf3::descriptor::FileDescriptorSet::new();
    with_imports.file = parsed.file_descriptors;
    let with_imports = FileDescriptorSet::parse_from_bytes(&with_imports.write_to_bytes()?)?;
    let files = with_imports.get_file();

    let names = |protos: &[&str]| -> Vec<String> {
        protos
            .iter()
            .map(|path| in_proto_dir(path).to_string())
            .collect()
    };
    let messages = protobuf_codegen::r#gen(
        files,
        &names(&[&SERVICES[..], &MESSAGES[..]].concat()),
        &protobuf_codegen::Customize::default(),
    );
    let services = grpcio_compiler::codegen::r#gen(files, &names(&SERVICES));
    // grpcio-compiler passes over a file without a service in silence: a service lost in an
    // edit of its proto would otherwise surface only as a missing file at `include!`.
    if services.len() != SERVICES.len() {
        return Err(format!("each of {SERVICES:?} must declare a service").into());
    }

    for generated in messages.into_iter().chain(services) {
        let code = String::from_utf8(generated.content)?;
        fs::write(out_dir.join(&generated.name), strip_inner_attributes(&code))?;
    }
    Ok(())
}

/// protobuf-parse's pure-Rust parser, set to read `protos`. It yields protobuf 3 descriptors,
/// which are re-read through their wire format (the same in both versions) as the protobuf 2
/// descriptors that both code generators take.
fn parser<'a>(protos: impl IntoIterator<Item = &'a &'a str>) -> protobuf_parse::Parser {
    let mut parser = protobuf_parse::Parser::new();
    parser
        .pure()
        .include(PROTO_DIR)
        .inputs(protos.into_iter().copied());
    parser
}

fn cannot_parse(error: impl std::fmt::Display) -> String {
    format!("cannot parse the protos: {error:#}")
}

/// A proto's name as the descriptors know it: its path inside [`PROTO_DIR`].
fn in_proto_dir(path: &str) -> &str {
    path.strip_prefix(PROTO_DIR)
        .and_then(|rest| rest.strip_prefix('/'))
        .unwrap_or(path)
}

/// The generated files open with inner attributes (`#![allow(...)]`) and an inner doc comment,
/// which `include!` does not accept inside a module; `src/proto.rs` puts the equivalent outer
/// attributes on its modules.
fn strip_inner_attributes(code: &str) -> String {
    code.lines()
        .filter(|line| {
            let line = line.trim_start();
            !line.starts_with("#![") && !line.starts_with("//!")
        })
        .map(|line| format!("{line}\n"))
        .collect()
}
