//! Compiles the built-in gRPC services' protos (control/proto) into one
//! encoded FileDescriptorSet with protox, so no `protoc` is needed; the
//! binary embeds it (see src/grpc/descriptors.rs).

const PROTOS: [&str; 4] = [
    "goto.proto",
    "health.proto",
    "reflection_v1.proto",
    "reflection_v1alpha.proto",
];

fn main() {
    for p in PROTOS {
        println!("cargo:rerun-if-changed=proto/{p}");
    }
    let mut c = match protox::Compiler::new(["proto"]) {
        Ok(c) => c,
        Err(e) => panic!("protox: {e}"),
    };
    c.include_imports(true);
    if let Err(e) = c.open_files(PROTOS) {
        panic!("compiling the built-in protos: {e:?}");
    }
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR").unwrap_or_default());
    if let Err(e) = std::fs::write(out.join("builtin.fds"), c.encode_file_descriptor_set()) {
        panic!("writing the descriptor set: {e}");
    }
}
