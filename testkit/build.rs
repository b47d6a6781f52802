// Test protos are compiled with protox, so no protoc is needed: the
// descriptors feed tonic's codegen (and are written out for reflection).
use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    goto_client_protos()?;
    echo_server_protos()
}

/// tonic's client (and a server, as a proxy upstream) of goto's own
/// `goto.Goto` (its proto lives with goto's server).
fn goto_client_protos() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=../control/proto/goto.proto");
    let fds = protox::compile(["goto.proto"], ["../control/proto"])?;
    tonic_prost_build::configure().compile_fds(fds)?;
    Ok(())
}

/// The tonic test server `goto load --grpc` is checked against.
fn echo_server_protos() -> Result<(), Box<dyn std::error::Error>> {
    let protos = ["proto/echo.proto"];
    for p in protos {
        println!("cargo:rerun-if-changed={p}");
    }
    let mut compiler = protox::Compiler::new(["proto"])?;
    compiler.include_imports(true);
    compiler.open_files(protos)?;
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(
        out.join("echo_descriptor.bin"),
        compiler.encode_file_descriptor_set(),
    )?;
    tonic_prost_build::configure().compile_fds(compiler.file_descriptor_set())?;
    Ok(())
}
