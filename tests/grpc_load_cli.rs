//! `goto load --grpc` end to end against a tonic server (goto-testkit):
//! exact counts by gRPC status, trailers after DATA and trailers-only
//! responses, metadata reaching the server, and the usage errors (unknown
//! method, JSON that does not fit, a proto that does not compile, exit 2
//! before any traffic). Real binary, loopback only, bounded in time.

mod common;

use common::load;
use goto_testkit::grpc::{proto_path, GrpcServer};
use serde_json::Value;

fn server() -> GrpcServer {
    GrpcServer::spawn().expect("start the tonic server")
}

/// `goto load --grpc --json` of `call` with `json` and `extra` flags.
fn grpc_load(srv: &GrpcServer, call: &str, json: &str, extra: &[&str]) -> common::LoadRun {
    let proto = proto_path();
    let url = srv.url();
    let mut args = vec![
        "--json",
        "--no-progress",
        "--grpc",
        "--call",
        call,
        "--proto",
        proto.to_str().unwrap(),
        "-b",
        json,
    ];
    args.extend_from_slice(extra);
    args.push(&url);
    load(&args)
}

fn ok_json(r: &common::LoadRun) -> Value {
    assert_eq!(r.code, 0, "stderr: {}\nstdout: {}", r.stderr, r.stdout);
    r.json()
}

#[test]
fn unary_ok_counts_are_exact_and_metadata_reaches_the_server() {
    let srv = server();
    let r = grpc_load(
        &srv,
        "goto.test.Echo/Unary",
        r#"{"text":"hi"}"#,
        &["-n", "250", "-c", "4", "-H", "x-tenant: blue"],
    );
    let v = ok_json(&r);
    assert_eq!(v["requests"], 250, "{v}");
    assert_eq!(v["answered"], 250, "{v}");
    assert_eq!(v["countsByGrpcStatus"]["OK"], 250, "{v}");
    assert_eq!(v["countsByGrpcStatusCodes"]["0"], 250, "{v}");
    assert_eq!(v["messagesSent"], 250, "{v}");
    assert_eq!(v["messagesReceived"], 250, "{v}");
    assert_eq!(v["successRate"], 1.0, "{v}");
    assert_eq!(v["errorCount"], 0, "{v}");
    let seen = srv.seen();
    assert_eq!(seen.calls.get("Unary"), Some(&250), "{seen:?}");
    assert_eq!(
        seen.metadata["x-tenant"].get("blue"),
        Some(&250),
        "{seen:?}"
    );
}

#[test]
fn forced_status_is_counted_by_name_and_code_from_a_trailers_only_response() {
    let srv = server();
    // tonic answers an error as a trailers-only response (one HEADERS
    // frame with END_STREAM), with the custom trailers beside the status.
    let r = grpc_load(
        &srv,
        "goto.test.Echo/Unary",
        r#"{"status":14,"message":"café down","trailers":{"x-why":"test"}}"#,
        &["-n", "40", "-c", "2"],
    );
    let v = ok_json(&r);
    assert_eq!(v["answered"], 40, "{v}");
    assert_eq!(v["countsByGrpcStatus"]["UNAVAILABLE"], 40, "{v}");
    assert_eq!(v["countsByGrpcStatusCodes"]["14"], 40, "{v}");
    assert!(v["countsByGrpcStatus"].get("OK").is_none(), "{v}");
    assert_eq!(v["messagesReceived"], 0, "{v}");
    assert_eq!(v["successRate"], 0.0, "{v}");
    // Sent percent-encoded (é is not ASCII), reported decoded.
    assert_eq!(v["grpcMessages"]["UNAVAILABLE"], "café down", "{v}");
}

#[test]
fn server_streaming_counts_every_message() {
    let srv = server();
    let r = grpc_load(
        &srv,
        "goto.test.Echo/ServerStream",
        r#"{"count":5}"#,
        &["-n", "20", "-c", "2"],
    );
    let v = ok_json(&r);
    assert_eq!(v["countsByGrpcStatus"]["OK"], 20, "{v}");
    assert_eq!(v["messagesReceived"], 100, "{v}");
    let ttfm = &v["timeToFirstMessageMs"];
    assert!(ttfm["p50"].as_f64().is_some_and(|p| p > 0.0), "{v}");
    assert!(
        ttfm["max"].as_f64() <= v["latencyMs"]["max"].as_f64(),
        "{v}"
    );
}

#[test]
fn an_unknown_method_exits_2_naming_it() {
    let srv = server();
    let r = grpc_load(&srv, "goto.test.Echo/Nope", "{}", &["-n", "1"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("\"Nope\""), "{}", r.stderr);
    assert!(srv.seen().calls.is_empty());
}

#[test]
fn json_that_does_not_fit_exits_2_naming_the_field() {
    let srv = server();
    let r = grpc_load(
        &srv,
        "goto.test.Echo/Unary",
        r#"{"txet":"x"}"#,
        &["-n", "1"],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("txet"), "{}", r.stderr);
    let r = grpc_load(
        &srv,
        "goto.test.Echo/Unary",
        r#"{"status":"x"}"#,
        &["-n", "1"],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(srv.seen().calls.is_empty());
}

#[test]
fn a_proto_with_a_syntax_error_exits_2_with_file_and_line() {
    let dir = std::env::temp_dir().join(format!("goto-grpc-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.proto");
    std::fs::write(
        &bad,
        "syntax = \"proto3\";\n\nmessage Broken {\n  string = 1;\n}\n",
    )
    .unwrap();
    let r = load(&[
        "--no-progress",
        "--grpc",
        "--call",
        "x.Y/Z",
        "--proto",
        bad.to_str().unwrap(),
        "-n",
        "1",
        "http://127.0.0.1:9/",
    ]);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("bad.proto:4:"), "{}", r.stderr);
}

#[test]
fn reflection_and_a_protoset_give_the_descriptors() {
    let srv = server();
    let url = srv.url();
    let r = load(&[
        "--json",
        "--no-progress",
        "--grpc",
        "--reflect",
        "--call",
        "goto.test.Echo/Unary",
        "-b",
        r#"{"text":"r"}"#,
        "-n",
        "30",
        "-c",
        "3",
        &url,
    ]);
    let v = ok_json(&r);
    assert_eq!(v["countsByGrpcStatus"]["OK"], 30, "{v}");
    let r = load(&[
        "--no-progress",
        "--grpc",
        "--reflect",
        "--call",
        "goto.test.Nope/Unary",
        "-n",
        "1",
        &url,
    ]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("goto.test.Nope"), "{}", r.stderr);

    let dir = std::env::temp_dir().join(format!("goto-grpc-set-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let set = dir.join("echo.protoset");
    std::fs::write(&set, goto_testkit::grpc::DESCRIPTOR_SET).unwrap();
    let r = load(&[
        "--json",
        "--no-progress",
        "--grpc",
        "--protoset",
        set.to_str().unwrap(),
        "--call",
        "goto.test.Echo/Unary",
        "-n",
        "10",
        "-c",
        "2",
        "--threshold",
        "grpc_success >= 100%",
        &url,
    ]);
    let _ = std::fs::remove_dir_all(&dir);
    let v = ok_json(&r);
    assert_eq!(v["countsByGrpcStatus"]["OK"], 10, "{v}");
    assert_eq!(v["thresholds"][0]["ok"], true, "{v}");
}

#[test]
fn client_and_bidi_streams_send_every_message() {
    let srv = server();
    let r = grpc_load(
        &srv,
        "goto.test.Echo/ClientStream",
        r#"{"text":"c"}"#,
        &["-n", "10", "-c", "2", "--stream-messages", "4"],
    );
    let v = ok_json(&r);
    assert_eq!(v["countsByGrpcStatus"]["OK"], 10, "{v}");
    assert_eq!(v["messagesSent"], 40, "{v}");
    assert_eq!(v["messagesReceived"], 10, "{v}");
    let r = grpc_load(
        &srv,
        "goto.test.Echo/Bidi",
        r#"{"text":"b"}"#,
        &["-n", "10", "-c", "2", "--stream-messages", "3"],
    );
    let v = ok_json(&r);
    assert_eq!(v["countsByGrpcStatus"]["OK"], 10, "{v}");
    assert_eq!(v["messagesSent"], 30, "{v}");
    assert_eq!(v["messagesReceived"], 30, "{v}");
    assert_eq!(srv.seen().messages, 40 + 30, "{:?}", srv.seen());
    let r = grpc_load(
        &srv,
        "goto.test.Echo/Unary",
        "{}",
        &["-n", "1", "--stream-messages", "3"],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
}

#[test]
fn send_id_puts_a_distinct_request_id_in_each_calls_metadata() {
    let srv = server();
    let r = grpc_load(
        &srv,
        "goto.test.Echo/Unary",
        "{}",
        &["-n", "60", "-c", "2", "--streams", "4", "--send-id"],
    );
    let v = ok_json(&r);
    assert_eq!(v["countsByGrpcStatus"]["OK"], 60, "{v}");
    let seen = srv.seen();
    let ids = &seen.metadata["x-request-id"];
    assert_eq!(ids.len(), 60, "{ids:?}");
    assert!(ids.values().all(|n| *n == 1), "{ids:?}");
    assert!(ids.keys().all(|k| k.len() == 36), "{ids:?}");
    // Without the flag no id is sent.
    let r = grpc_load(&srv, "goto.test.Echo/Unary", "{}", &["-n", "5"]);
    ok_json(&r);
    assert_eq!(srv.seen().metadata["x-request-id"].len(), 60);
}

#[test]
fn stream_interval_spaces_the_messages_of_a_call() {
    let srv = server();
    for call in ["goto.test.Echo/ClientStream", "goto.test.Echo/Bidi"] {
        let before = srv.seen().messages;
        let started = std::time::Instant::now();
        let r = grpc_load(
            &srv,
            call,
            r#"{"text":"p"}"#,
            &[
                "-n",
                "2",
                "-c",
                "1",
                "--streams",
                "2",
                "--stream-messages",
                "3",
                "--stream-interval",
                "200ms",
            ],
        );
        let v = ok_json(&r);
        assert_eq!(v["countsByGrpcStatus"]["OK"], 2, "{call}: {v}");
        assert_eq!(v["messagesSent"], 6, "{call}: {v}");
        assert_eq!(srv.seen().messages - before, 6, "{call}: {v}");
        // Three messages 200 ms apart: each call lasts at least 400 ms.
        let min = v["latencyMs"]["min"].as_f64().unwrap();
        let max = v["latencyMs"]["max"].as_f64().unwrap();
        assert!(min >= 400.0, "{call}: {v}");
        assert!(max < 3000.0, "{call}: {v}");
        assert!(started.elapsed() < std::time::Duration::from_secs(10));
    }
    // Unary calls have one message: the flag is refused before any traffic.
    let r = grpc_load(
        &srv,
        "goto.test.Echo/Unary",
        "{}",
        &["-n", "1", "--stream-interval", "10ms"],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("--stream-interval"), "{}", r.stderr);
}
