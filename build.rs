//! Generates the Rust code for the protos into `OUT_DIR`: for `proto/route_guide.proto`, the
//! protobuf messages (`route_guide.rs`) and the grpcio client stub, service trait and
//! `create_route_guide` (`route_guide_grpc.rs`); likewise for server reflection (`reflection.rs`,
//! `reflection_grpc.rs`) and the standard health service (`health.rs`, `health_grpc.rs`); and the
//! messages of gRPC's richer error model (`status.rs`, `error_details.rs`). Each messages file
//! also embeds its proto's descriptor, which server reflection serves.
//!
//! The protos are parsed in pure Rust (protobuf-parse), so no `protoc` is needed. The messages
//! come from protobuf-codegen 3. The service glue comes from grpcio-compiler 0.13, which reads
//! only protobuf 2 descriptors: it is given the parser's descriptors re-read as protobuf 2 ones
//! through their wire format, which the two versions share. That bridge is the only use of
//! protobuf 2, a build-dependency: the code it generates names only grpcio's items
//! (`::grpcio::pb_ser`, `pb_de`, ...), which serve protobuf 3 messages.

use std::error::Error;
use std::fs;
use std::path::{Path, PathBuf};

use protobuf::Message as _;
use protobuf2::Message as _;

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
    generate_messages(&out_dir)?;
    generate_services(&out_dir)
}

/// The messages of every proto, a file each (`proto/route_guide.proto` → `route_guide.rs`).
/// A well-known type they use (`google.protobuf.Any`) is not generated: the code refers to the
/// protobuf crate's.
fn generate_messages(out_dir: &Path) -> Result<(), Box<dyn Error>> {
    let protos: Vec<&str> = SERVICES.iter().chain(&MESSAGES).copied().collect();
    protobuf_codegen::Codegen::new()
        .pure()
        .include(PROTO_DIR)
        .inputs(&protos)
        .out_dir(out_dir)
        // src/proto.rs gives each file its module, so no `mod.rs` is written.
        .customize(protobuf_codegen::Customize::default().gen_mod_rs(false))
        .run()
        .map_err(|e| format!("cannot generate the messages: {e:#}"))?;
    for proto in protos {
        let path = out_dir.join(protobuf_codegen::proto_name_to_rs(in_proto_dir(proto)));
        let code = fs::read_to_string(&path)?;
        fs::write(&path, strip_inner_attributes(&code))?;
    }
    Ok(())
}

/// The grpcio glue of every service (`route_guide_grpc.rs`, ...): the client stub, the service
/// trait and its `create_...` function.
fn generate_services(out_dir: &Path) -> Result<(), Box<dyn Error>> {
    let mut parser = protobuf_parse::Parser::new();
    parser.pure().include(PROTO_DIR).inputs(SERVICES);
    let parsed = parser
        .parse_and_typecheck()
        .map_err(|e| format!("cannot parse the protos: {e:#}"))?;
    let mut descriptors = protobuf::descriptor::FileDescriptorSet::new();
    descriptors.file = parsed.file_descriptors;
    let bridged =
        protobuf2::descriptor::FileDescriptorSet::parse_from_bytes(&descriptors.write_to_bytes()?)?;
    let names: Vec<String> = SERVICES
        .iter()
        .map(|path| in_proto_dir(path).to_string())
        .collect();
    let services = grpcio_compiler::codegen::r#gen(bridged.get_file(), &names);
    // grpcio-compiler passes over a file without a service in silence: a service lost in an
    // edit of its proto would otherwise surface only as a missing file at `include!`.
    if services.len() != SERVICES.len() {
        return Err(format!("each of {SERVICES:?} must declare a service").into());
    }
    for generated in services {
        let code = String::from_utf8(generated.content)?;
        fs::write(out_dir.join(&generated.name), strip_inner_attributes(&code))?;
    }
    Ok(())
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
