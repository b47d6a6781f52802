//! gRPC client targets over the API (`"protocol":"grpc"`) against a tonic
//! server (goto-testkit): exact counts by gRPC status, metadata reaching
//! the server, descriptors as proto text and as a base64 protoset, and a
//! bad target refused with a reason. Real goto process, loopback only.

mod common;

use base64::Engine as _;
use common::Goto;
use goto_testkit::grpc::{proto_text, GrpcServer, DESCRIPTOR_SET};
use serde_json::{json, Value};

fn add(c: &Goto, target: &Value) -> common::Resp {
    c.post("/client/targets/add", &target.to_string())
}

#[test]
fn a_grpc_target_counts_calls_by_status_exactly() {
    let srv = GrpcServer::spawn().expect("tonic server");
    let c = Goto::start(&[]);
    let t = json!({
        "name": "g",
        "protocol": "grpc",
        "url": srv.url(),
        "call": "goto.test.Echo/Unary",
        "data": {"text": "hi"},
        "metadata": [["x-team", "red"]],
        "protoFiles": {"echo.proto": proto_text()},
        "replicas": 3,
        "requestCount": 7,
        "delay": "0s",
    });
    let r = add(&c, &t);
    assert_eq!(r.status, 200, "{}", r.text());
    let r = c.post("/client/targets/g/invoke", "").json();
    assert_eq!(r["targetInvocationCounts"]["g"], 21, "{r}");
    assert_eq!(r["countsByTargetGrpcStatus"]["g"]["OK"], 21, "{r}");
    assert_eq!(r["countsByGrpcStatus"]["OK"], 21, "{r}");
    assert_eq!(srv.seen().metadata["x-team"].get("red"), Some(&21));

    // A protoset, and the status forced by the request (data as a string).
    let set = base64::engine::general_purpose::STANDARD.encode(DESCRIPTOR_SET);
    let t = json!({
        "name": "u",
        "protocol": "grpc",
        "url": srv.url(),
        "call": "goto.test.Echo/Unary",
        "data": r#"{"status": 14, "message": "no"}"#,
        "protoset": set,
        "replicas": 2,
        "requestCount": 5,
        "delay": "0s",
    });
    assert_eq!(add(&c, &t).status, 200);
    let r = c.post("/client/targets/u/invoke", "").json();
    assert_eq!(r["countsByTargetGrpcStatus"]["u"]["UNAVAILABLE"], 10, "{r}");
    let metrics = c.get("/metrics").text();
    assert!(
        metrics
            .contains(r#"goto_client_grpc_calls_total{target="u",grpc_status="UNAVAILABLE"} 10"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"goto_client_grpc_calls_total{target="g",grpc_status="OK"} 21"#),
        "{metrics}"
    );
    // Client streaming: every call sends streamMessages messages.
    let t = json!({
        "name": "cs",
        "protocol": "grpc",
        "url": srv.url(),
        "call": "goto.test.Echo/ClientStream",
        "data": {"text": "c"},
        "protoFiles": {"echo.proto": proto_text()},
        "streamMessages": 6,
        "replicas": 2,
        "requestCount": 3,
        "delay": "0s",
    });
    let before = srv.seen().messages;
    assert_eq!(add(&c, &t).status, 200);
    let r = c.post("/client/targets/cs/invoke", "").json();
    assert_eq!(r["countsByTargetGrpcStatus"]["cs"]["OK"], 6, "{r}");
    assert_eq!(srv.seen().messages - before, 36);
    // sendID: each call's metadata carries its own x-request-id.
    let t = json!({
        "name": "id",
        "protocol": "grpc",
        "url": srv.url(),
        "call": "goto.test.Echo/Unary",
        "protoFiles": {"echo.proto": proto_text()},
        "sendID": true,
        "replicas": 2,
        "requestCount": 4,
        "delay": "0s",
    });
    assert_eq!(add(&c, &t).status, 200);
    let r = c.post("/client/targets/id/invoke", "").json();
    assert_eq!(r["countsByTargetGrpcStatus"]["id"]["OK"], 8, "{r}");
    let ids = srv.seen().metadata["x-request-id"].clone();
    assert_eq!(ids.len(), 8, "{ids:?}");
    // streamInterval: a call's 3 messages go 150 ms apart.
    let t = json!({
        "name": "paced",
        "protocol": "grpc",
        "url": srv.url(),
        "call": "goto.test.Echo/ClientStream",
        "protoFiles": {"echo.proto": proto_text()},
        "streamMessages": 3,
        "streamInterval": "150ms",
        "requestCount": 1,
    });
    let before = srv.seen().messages;
    assert_eq!(add(&c, &t).status, 200);
    let started = std::time::Instant::now();
    let r = c.post("/client/targets/paced/invoke", "").json();
    let took = started.elapsed();
    assert_eq!(r["countsByTargetGrpcStatus"]["paced"]["OK"], 1, "{r}");
    assert_eq!(srv.seen().messages - before, 3);
    assert!(took >= std::time::Duration::from_millis(300), "{took:?}");
    assert!(took < std::time::Duration::from_secs(5), "{took:?}");
    let all = c.get("/client/results").json();
    assert_eq!(all["countsByGrpcStatus"]["OK"], 21 + 6 + 8 + 1, "{all}");
    assert_eq!(all["countsByGrpcStatus"]["UNAVAILABLE"], 10, "{all}");
}

#[test]
fn a_bad_grpc_target_is_refused_naming_the_fix() {
    let c = Goto::start(&[]);
    let base = json!({
        "name": "b",
        "protocol": "grpc",
        "url": "http://127.0.0.1:9",
        "call": "goto.test.Echo/Unary",
        "protoFiles": {"echo.proto": proto_text()},
    });
    let mut t = base.clone();
    t["data"] = json!({"nope": 1});
    let r = add(&c, &t);
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("nope"), "{}", r.text());
    let mut t = base.clone();
    t["call"] = json!("goto.test.Echo/Missing");
    let r = add(&c, &t);
    assert_eq!(r.status, 400);
    assert!(r.text().contains("Missing"), "{}", r.text());
    let mut t = base;
    t["protoFiles"] = json!({"x.proto": "syntax = \"proto3\";\nmessage {"});
    let r = add(&c, &t);
    assert_eq!(r.status, 400);
    assert!(r.text().contains("x.proto:2:"), "{}", r.text());
}

#[test]
fn a_reflect_target_gets_its_descriptors_when_invoked() {
    let srv = GrpcServer::spawn().expect("tonic server");
    let c = Goto::start(&[]);
    let t = json!({
        "name": "r",
        "protocol": "grpc",
        "url": srv.url(),
        "call": "goto.test.Echo/Unary",
        "data": {"text": "hi"},
        "metadata": [["x-via", "reflect"]],
        "reflect": true,
        "replicas": 2,
        "requestCount": 3,
        "delay": "0s",
    });
    let r = add(&c, &t);
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().contains(r#""reflect":true"#), "{}", r.text());
    let r = c.post("/client/targets/r/invoke", "").json();
    assert_eq!(r["countsByTargetGrpcStatus"]["r"]["OK"], 6, "{r}");
    assert_eq!(srv.seen().metadata["x-via"].get("reflect"), Some(&6));

    // Accepted at add without reaching the server; the invocation fails
    // with the reason, and nothing runs.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let gone = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let mut t2 = t.clone();
    t2["name"] = json!("down");
    t2["url"] = json!(gone);
    assert_eq!(add(&c, &t2).status, 200);
    let r = c.post("/client/targets/down/invoke", "");
    assert_eq!(r.status, 503, "{}", r.text());
    assert!(r.text().contains("reflection"), "{}", r.text());
    assert!(r.text().contains("down"), "{}", r.text());

    let mut t3 = t.clone();
    t3["name"] = json!("nomethod");
    t3["call"] = json!("goto.test.Echo/Missing");
    assert_eq!(add(&c, &t3).status, 200);
    let r = c.post("/client/targets/nomethod/invoke", "");
    assert_eq!(r.status, 503, "{}", r.text());
    assert!(r.text().contains("Missing"), "{}", r.text());
    // The server is still fine, and the good target runs again.
    let r = c.post("/client/targets/r/invoke", "").json();
    assert_eq!(r["countsByTargetGrpcStatus"]["r"]["OK"], 6, "{r}");

    // reflect with proto text is one source too many.
    let mut t4 = t;
    t4["name"] = json!("both");
    t4["protoFiles"] = json!({"echo.proto": proto_text()});
    let r = add(&c, &t4);
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("reflect"), "{}", r.text());
}
