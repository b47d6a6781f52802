// Test protos are compiled with protox, so no protoc is needed; helpers add
// their .proto files under testkit/proto and list them here.
fn main() {
    goto_client_protos();
}

/// tonic's client (and a server, as a proxy upstream) of goto's own
/// `goto.Goto` (its proto lives with goto's server).
fn goto_client_protos() {
    println!("cargo:rerun-if-changed=../control/proto/goto.proto");
    let fds = protox::compile(["goto.proto"], ["../control/proto"]).expect("compile goto.proto");
    tonic_prost_build::configure()
        .compile_fds(fds)
        .expect("generate goto.Goto's client and server");
}
