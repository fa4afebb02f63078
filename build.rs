//! Generates the Rust code for the protos into `OUT_DIR`: for `proto/route_guide.proto`, the
//! protobuf messages (`route_guide.rs`) and the grpcio client stub, service trait and
//! `create_route_guide` (`route_guide_grpc.rs`); likewise for server reflection (`reflection.rs`,
//! `reflection_grpc.rs`); and, for server reflection to serve, the descriptors of every proto the
//! server offers, health's included (`descriptors.bin`, a serialized `FileDescriptorSet`). The
//! protos are parsed in pure Rust, so no `protoc` is needed.

use std::error::Error;
use std::fs;
use std::path::PathBuf;

use protobuf::Message as _;
use protobuf::descriptor::FileDescriptorSet;
use protobuf3::Message as _;

const PROTO_DIR: &str = "proto";
/// The protos Rust code is generated for.
const GENERATED: [&str; 2] = [
    "proto/route_guide.proto",
    "proto/grpc/reflection/v1alpha/reflection.proto",
];
/// Protos only described to reflection clients: their services come from crates.
const DESCRIBED_ONLY: [&str; 1] = ["proto/grpc/health/v1/health.proto"];

fn main() -> Result<(), Box<dyn Error>> {
    for file in GENERATED.iter().chain(&DESCRIBED_ONLY) {
        println!("cargo:rerun-if-changed={file}");
    }
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);

    let described = parse_protos(GENERATED.iter().chain(&DESCRIBED_ONLY))?;
    fs::write(out_dir.join("descriptors.bin"), described.write_to_bytes()?)?;

    let files = parse_protos(&GENERATED)?;
    let names: Vec<String> = files
        .get_file()
        .iter()
        .map(|f| f.get_name().to_string())
        .collect();
    let messages = protobuf_codegen::r#gen(
        files.get_file(),
        &names,
        &protobuf_codegen::Customize::default(),
    );
    let services = grpcio_compiler::codegen::r#gen(files.get_file(), &names);
    if services.len() != GENERATED.len() {
        return Err("every generated proto must declare a service".into());
    }

    for generated in messages.into_iter().chain(services) {
        let code = String::from_utf8(generated.content)?;
        fs::write(out_dir.join(&generated.name), strip_inner_attributes(&code))?;
    }
    Ok(())
}

/// Parses `protos` with protobuf-parse's pure-Rust parser (protobuf 3 descriptors) and re-reads
/// the result as the protobuf 2 descriptors that both code generators take.
fn parse_protos<'a>(
    protos: impl IntoIterator<Item = &'a &'a str>,
) -> Result<FileDescriptorSet, Box<dyn Error>> {
    let parsed = protobuf_parse::Parser::new()
        .pure()
        .include(PROTO_DIR)
        .inputs(protos.into_iter().copied())
        .file_descriptor_set()
        .map_err(|e| format!("cannot parse the protos: {e:#}"))?;
    Ok(FileDescriptorSet::parse_from_bytes(
        &parsed.write_to_bytes()?,
    )?)
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
