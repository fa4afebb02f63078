//! Generates the Rust code for `proto/route_guide.proto` into `OUT_DIR`: the protobuf messages
//! (`route_guide.rs`) and the grpcio client stub, service trait and `create_route_guide`
//! (`route_guide_grpc.rs`). The proto is parsed in pure Rust, so no `protoc` is needed.

use std::error::Error;
use std::fs;
use std::path::PathBuf;

use protobuf::Message as _;
use protobuf::descriptor::FileDescriptorSet;
use protobuf3::Message as _;

const PROTO_DIR: &str = "proto";
const PROTO_FILE: &str = "proto/route_guide.proto";

fn main() -> Result<(), Box<dyn Error>> {
    println!("cargo:rerun-if-changed={PROTO_FILE}");
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);

    let files = parse_proto()?;
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
    if services.is_empty() {
        return Err(format!("{PROTO_FILE} declares no service").into());
    }

    for generated in messages.into_iter().chain(services) {
        let code = String::from_utf8(generated.content)?;
        fs::write(out_dir.join(&generated.name), strip_inner_attributes(&code))?;
    }
    Ok(())
}

/// Parses the proto with protobuf-parse's pure-Rust parser (protobuf 3 descriptors) and re-reads
/// the result as the protobuf 2 descriptors that both code generators take.
fn parse_proto() -> Result<FileDescriptorSet, Box<dyn Error>> {
    let parsed = protobuf_parse::Parser::new()
        .pure()
        .include(PROTO_DIR)
        .input(PROTO_FILE)
        .file_descriptor_set()
        .map_err(|e| format!("cannot parse {PROTO_FILE}: {e:#}"))?;
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
