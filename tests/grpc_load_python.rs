//! `goto load --grpc` against Python's grpcio server (the C-core gRPC
//! implementation): unary calls OK and a status set by the server, counted
//! exactly, metadata seen by the server. Needs python3 with grpcio: made
//! mandatory by GOTO_TEST_GRPCIO_PYTHON=1 (set by .ci/run), otherwise
//! skipped with one line when grpcio is missing.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use common::load;

/// A grpcio server with raw-bytes handlers (no generated code): `Say`
/// answers the request back; `Fail` aborts with UNAVAILABLE. It counts
/// calls carrying `x-from: goto` and prints the count on stdin EOF.
const SERVER: &str = r#"
import sys, threading
from concurrent import futures
import grpc

seen = {"n": 0}
lock = threading.Lock()

def say(req, ctx):
    if dict(ctx.invocation_metadata()).get("x-from") == "goto":
        with lock:
            seen["n"] += 1
    return req

def fail(req, ctx):
    ctx.abort(grpc.StatusCode.UNAVAILABLE, "python says no")

handlers = {
    "Say": grpc.unary_unary_rpc_method_handler(say),
    "Fail": grpc.unary_unary_rpc_method_handler(fail),
}
server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("py.Echo", handlers),))
port = server.add_insecure_port("127.0.0.1:0")
server.start()
print(port, flush=True)
sys.stdin.read()
print(seen["n"], flush=True)
server.stop(0)
"#;

const PROTO: &str = r#"syntax = "proto3";
package py;
message Msg { string text = 1; }
service Echo { rpc Say(Msg) returns (Msg); rpc Fail(Msg) returns (Msg); }
"#;

struct Py(Child);

impl Drop for Py {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn have_grpcio() -> bool {
    Command::new("python3")
        .args(["-c", "import grpc"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn grpcio_server_counts_are_exact() {
    if !have_grpcio() {
        assert!(
            std::env::var_os("GOTO_TEST_GRPCIO_PYTHON").is_none(),
            "GOTO_TEST_GRPCIO_PYTHON is set but python3 cannot import grpc"
        );
        eprintln!("skipped: python3 with grpcio not found (pip install grpcio)");
        return;
    }
    let mut child = Command::new("python3")
        .args(["-c", SERVER])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn python3");
    let stdout = child.stdout.take().expect("stdout");
    // Reads below block: a server that hangs is killed after a minute,
    // which ends them (the test then fails).
    let pid = child.id() as i32;
    std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_secs(60));
        unsafe {
            libc::kill(pid, libc::SIGKILL);
        }
    });
    let mut py = Py(child);
    let mut lines = BufReader::new(stdout).lines();
    // The first line is the port (the read ends if the server dies).
    let port = match lines.next() {
        Some(Ok(l)) => l.trim().to_string(),
        _ => panic!("grpcio server did not start"),
    };
    let dir = std::env::temp_dir().join(format!("goto-grpcio-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let proto = dir.join("py.proto");
    std::fs::write(&proto, PROTO).unwrap();
    let url = format!("http://127.0.0.1:{port}");
    let run = |call: &str| {
        load(&[
            "--json",
            "--no-progress",
            "--grpc",
            "--call",
            call,
            "--proto",
            proto.to_str().unwrap(),
            "-b",
            r#"{"text":"hello"}"#,
            "-H",
            "x-from: goto",
            "-n",
            "60",
            "-c",
            "3",
            &url,
        ])
    };
    let r = run("py.Echo/Say");
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v = r.json();
    assert_eq!(v["countsByGrpcStatus"]["OK"], 60, "{v}");
    assert_eq!(v["messagesReceived"], 60, "{v}");
    let r = run("py.Echo/Fail");
    let v = r.json();
    assert_eq!(v["countsByGrpcStatus"]["UNAVAILABLE"], 60, "{v}");
    assert_eq!(v["grpcMessages"]["UNAVAILABLE"], "python says no", "{v}");
    let _ = std::fs::remove_dir_all(&dir);
    // Closing stdin makes the server print how many calls had the metadata.
    drop(py.0.stdin.take());
    // The read ends when the server prints its count or exits.
    let seen = match lines.next() {
        Some(Ok(l)) => l.trim().to_string(),
        Some(Err(_)) | None => panic!("grpcio server ended without a count"),
    };
    assert_eq!(seen, "60");
}
