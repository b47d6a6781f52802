//! The tonic test server as a process, for tools/bench-grpc.sh:
//! `grpc-echo [ADDR]` (default 127.0.0.1:50051) serves until killed and
//! prints its address once listening.

use std::io::Write;

fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:50051".into());
    let server = goto_testkit::grpc::GrpcServer::spawn_on(&addr)?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "listening on {}", server.addr())?;
    out.flush()?;
    loop {
        std::thread::park();
    }
}
