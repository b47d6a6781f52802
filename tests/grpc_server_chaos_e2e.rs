//! gRPC faults, user protos, the request log and metrics through the real
//! binary, called by tonic: `UNAVAILABLE:2` then OK, shares, delays for one
//! method, stream resets, header-driven faults, a user proto answered with
//! the response set for it and listed by reflection, a log line per call
//! with its grpc-status, and `goto_grpc_requests_total`.

mod common;

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{free_port, Goto};
use goto_testkit::goto_client::{channel, pb, tonic, GotoClient};
use tonic::Code;

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

fn put(g: &Goto, path: &str) {
    let r = g.put(path);
    assert_eq!(r.status, 200, "PUT {path}: {}", r.text());
}

fn echo_req(payload: &str) -> pb::EchoRequest {
    pb::EchoRequest {
        payload: payload.into(),
    }
}

async fn echo(
    c: &mut GotoClient<tonic::transport::Channel>,
) -> Result<pb::EchoResponse, tonic::Status> {
    c.echo(echo_req("p")).await.map(|r| r.into_inner())
}

#[test]
fn unavailable_twice_then_ok_and_shares_delays_resets() {
    let g = Goto::start(&[]);
    rt().block_on(async {
        let mut c = GotoClient::new(channel(g.port).await.expect("connect"));
        put(&g, "/grpc/status/set/UNAVAILABLE:2?message=try%20later");
        for _ in 0..2 {
            let e = echo(&mut c).await.expect_err("forced");
            assert_eq!(e.code(), Code::Unavailable);
            assert_eq!(e.message(), "try later");
        }
        echo(&mut c).await.expect("third call OK");

        // A number works as the name does; a share of 100% hits every call.
        put(&g, "/grpc/status/set/5/percent/100");
        assert_eq!(echo(&mut c).await.unwrap_err().code(), Code::NotFound);
        put(&g, "/grpc/status/clear");
        echo(&mut c).await.expect("cleared");

        // A delay for one method only.
        put(&g, "/grpc/delay/set/300ms?method=/goto.Goto/Echo");
        let t = Instant::now();
        echo(&mut c).await.expect("delayed");
        assert!(
            t.elapsed() >= Duration::from_millis(300),
            "{:?}",
            t.elapsed()
        );
        let t = Instant::now();
        let mut out = c
            .stream_out(pb::StreamOutRequest {
                payload: "s".into(),
                count: 1,
                interval: String::new(),
            })
            .await
            .expect("not delayed")
            .into_inner();
        assert!(out.message().await.expect("message").is_some());
        assert!(
            t.elapsed() < Duration::from_millis(300),
            "{:?}",
            t.elapsed()
        );
        put(&g, "/grpc/delay/clear");

        // Resets: the call fails without a grpc-status; the next one works.
        put(&g, "/grpc/reset/set/100");
        let e = echo(&mut c).await.expect_err("reset");
        assert_eq!(e.code(), Code::Cancelled, "RST_STREAM(CANCEL): {e:?}");
        // tonic maps REFUSED_STREAM to UNAVAILABLE.
        put(&g, "/grpc/reset/set/100?code=REFUSED_STREAM");
        let e = echo(&mut c).await.expect_err("reset");
        assert_eq!(
            e.code(),
            Code::Unavailable,
            "RST_STREAM(REFUSED_STREAM): {e:?}"
        );
        put(&g, "/grpc/faults/clear");
        echo(&mut c).await.expect("after the reset");

        // Header-driven faults once the port's fault headers are on.
        let with_header = || {
            let mut r = tonic::Request::new(echo_req("h"));
            r.metadata_mut().insert(
                "goto-fault-grpc-status",
                "PERMISSION_DENIED".parse().unwrap(),
            );
            r
        };
        c.echo(with_header()).await.expect("headers off: ignored");
        put(&g, "/response/faults/headers/enable");
        let e = c.echo(with_header()).await.expect_err("header fault");
        assert_eq!(e.code(), Code::PermissionDenied);
    });
    let counts = g.get("/grpc/faults/counts").json();
    assert_eq!(counts["status"]["UNAVAILABLE"], 2, "{counts}");
    assert_eq!(counts["reset"], 2, "{counts}");
    let by = g.get("/grpc/counts").json();
    assert_eq!(by["byMethod"]["/goto.Goto/Echo"]["UNAVAILABLE"], 2, "{by}");
    let m = g.get("/metrics").text();
    assert!(
        m.contains(&format!(
            "goto_grpc_requests_total{{port=\"{}\",method=\"/goto.Goto/Echo\",code=\"UNAVAILABLE\"}} 2",
            g.port
        )),
        "{m}"
    );
    // Bad input is a 400 with a reason.
    for bad in [
        "/grpc/status/set/NOPE",
        "/grpc/status/set/14:0",
        "/grpc/delay/set/abc",
        "/grpc/status/set/14?method=nope",
        "/grpc/reset/set/5?code=NOPE",
    ] {
        let r = g.put(bad);
        assert_eq!(r.status, 400, "{bad}: {}", r.text());
    }
}

const GREETER: &str = r#"syntax = "proto3";
package demo;

service Greeter {
  rpc Hi(HiRequest) returns (HiReply);
}

message HiRequest { string payload = 1; }
message HiReply { string payload = 1; }
"#;

#[test]
fn a_user_proto_is_answered_and_listed() {
    let g = Goto::start(&[]);
    let bad = g.post(
        "/grpc/protos/add/broken",
        "syntax = \"proto3\";\nmessage A {\n  strng x = 1;\n}\n",
    );
    assert_eq!(bad.status, 400);
    assert!(bad.text().contains("broken.proto:3:"), "{}", bad.text());

    let r = g.post("/grpc/protos/add/greeter", GREETER);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["services"][0], "demo.Greeter");
    rt().block_on(async {
        let ch = channel(g.port).await.expect("connect");
        let mut grpc = tonic::client::Grpc::new(ch);
        // HiRequest/HiReply have EchoRequest's shape on the wire.
        let call = |grpc: &mut tonic::client::Grpc<tonic::transport::Channel>| {
            let mut grpc = grpc.clone();
            async move {
                grpc.ready().await.expect("ready");
                let codec = tonic_prost_codec();
                grpc.unary(
                    tonic::Request::new(echo_req("x")),
                    tonic::codegen::http::uri::PathAndQuery::from_static("/demo.Greeter/Hi"),
                    codec,
                )
                .await
                .map(|r| r.into_inner())
            }
        };
        // No response set: an empty message.
        let empty = call(&mut grpc).await.expect("default answer");
        assert_eq!(empty.payload, "");
        let set = g.post(
            "/grpc/responses/set/demo.Greeter/Hi",
            r#"{"payload":"hey there"}"#,
        );
        assert_eq!(set.status, 200, "{}", set.text());
        let r = call(&mut grpc).await.expect("set answer");
        assert_eq!(r.payload, "hey there");
    });
    let listed = g.get("/grpc/protos").json();
    assert_eq!(listed["files"][0]["file"], "greeter.proto", "{listed}");
    assert_eq!(g.get("/grpc/health").json()["demo.Greeter"], "SERVING");
    assert_eq!(
        g.post("/grpc/responses/set/demo.Greeter/Nope", "{}").status,
        400
    );
    put(&g, "/grpc/protos/clear");
    assert_eq!(g.get("/grpc/protos").json()["files"], serde_json::json!([]));
}

fn tonic_prost_codec() -> goto_testkit::goto_client::ProstCodec<pb::EchoRequest, pb::EchoRequest> {
    Default::default()
}

#[test]
fn the_request_log_has_one_line_per_call_with_its_grpc_status() {
    let port = free_port();
    let log = std::env::temp_dir().join(format!("goto-grpc-log-{port}.txt"));
    let file = std::fs::File::create(&log).expect("log file");
    let child = Command::new(common::goto_bin())
        .args(["--port", &port.to_string()])
        .env("POD_IP", "127.0.0.1")
        .stdout(Stdio::null())
        .stderr(file)
        .spawn()
        .expect("spawn goto");
    let g = Goto { child, port };
    g.wait_ready(port);
    put(&g, "/grpc/status/set/UNAVAILABLE:1");
    rt().block_on(async {
        let mut c = GotoClient::new(channel(port).await.expect("connect"));
        assert!(echo(&mut c).await.is_err());
        echo(&mut c).await.expect("OK");
    });
    let mut text = String::new();
    let found = common::eventually(Duration::from_secs(5), || {
        text.clear();
        if let Ok(mut f) = std::fs::File::open(&log) {
            let _ = f.read_to_string(&mut text);
        }
        text.contains("grpc-status 14") && text.contains("grpc-status 0")
    });
    let _ = std::fs::remove_file(&log);
    assert!(found, "{text}");
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("/goto.Goto/Echo"))
        .collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(lines[0].contains("grpc-status 14 -> 200"), "{}", lines[0]);
}
