//! gRPC on a listener through the real binary, called by tonic (a client
//! goto did not write): goto.Goto's four call shapes with metadata, health
//! Check and Watch flipped over the admin API, reflection v1 and v1alpha
//! listings and descriptors, forced statuses and delays, resets, a user
//! proto, counts, and HTTP still answered on the same port.

mod common;

use std::time::{Duration, Instant};

use common::Goto;
use goto_testkit::goto_client::{
    channel, health, pb, prost, reflection_v1, reflection_v1alpha, tokio_stream, tonic,
    FileDescriptorProto, GotoClient,
};
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

async fn client(g: &Goto) -> GotoClient<tonic::transport::Channel> {
    GotoClient::new(channel(g.port).await.expect("connect"))
}

fn echo_req(payload: &str) -> pb::EchoRequest {
    pb::EchoRequest {
        payload: payload.into(),
    }
}

#[test]
fn goto_echo_answers_every_call_shape_with_metadata() {
    let g = Goto::start(&["--label", "grpc-peer"]);
    rt().block_on(async {
        let mut c = client(&g).await;
        let mut req = tonic::Request::new(echo_req("hello"));
        req.metadata_mut().insert("x-trace", "abc".parse().unwrap());
        let r = c.echo(req).await.expect("Echo").into_inner();
        assert_eq!(r.payload, "hello");
        assert_eq!(r.label, "grpc-peer");
        assert_eq!(r.port, u32::from(g.port));
        assert_eq!(r.method, "/goto.Goto/Echo");
        assert!(!r.host.is_empty());
        assert_eq!(r.metadata.get("x-trace").map(String::as_str), Some("abc"));

        // StreamOut: count answers, an interval apart.
        let t0 = Instant::now();
        let mut s = c
            .stream_out(pb::StreamOutRequest {
                payload: "out".into(),
                count: 3,
                interval: "50ms".into(),
            })
            .await
            .expect("StreamOut")
            .into_inner();
        let mut got = Vec::new();
        while let Some(m) = s.message().await.expect("StreamOut message") {
            got.push((m.payload, m.index));
        }
        assert_eq!(
            got,
            vec![("out".into(), 0), ("out".into(), 1), ("out".into(), 2)]
        );
        assert!(
            t0.elapsed() >= Duration::from_millis(100),
            "{:?}",
            t0.elapsed()
        );

        // StreamIn: many in, one out.
        let ins = tokio_stream_iter(vec![echo_req("a"), echo_req("b"), echo_req("c")]);
        let r = c.stream_in(ins).await.expect("StreamIn").into_inner();
        assert_eq!((r.payload.as_str(), r.count), ("a,b,c", 3));

        // StreamInOut: one answer per request, in order, as they come.
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        let mut out = c
            .stream_in_out(ReceiverStream(rx))
            .await
            .expect("StreamInOut")
            .into_inner();
        for (i, p) in ["x", "y"].iter().enumerate() {
            tx.send(echo_req(p)).await.unwrap();
            let m = out.message().await.expect("bidi").expect("an answer");
            assert_eq!((m.payload.as_str(), m.index), (*p, i as u32));
        }
        drop(tx);
        assert!(out.message().await.expect("clean end").is_none());
    });
    // One log-visible count per call, by method and status.
    let counts = g.get("/grpc/counts").json();
    assert_eq!(counts["byMethod"]["/goto.Goto/Echo"]["OK"], 1, "{counts}");
    assert_eq!(
        counts["byMethod"]["/goto.Goto/StreamInOut"]["OK"], 1,
        "{counts}"
    );
    // HTTP on the same port is untouched.
    let r = g.get("/echo");
    assert_eq!(r.status, 200);
    assert!(r.text().contains("\"method\":\"GET\""), "{}", r.text());
}

/// A stream of fixed items (tonic takes any `Stream`).
fn tokio_stream_iter<T: Send + 'static>(items: Vec<T>) -> ReceiverStream<T> {
    let (tx, rx) = tokio::sync::mpsc::channel(items.len().max(1));
    for i in items {
        let _ = tx.try_send(i);
    }
    ReceiverStream(rx)
}

/// An mpsc receiver as a `Stream`.
struct ReceiverStream<T>(tokio::sync::mpsc::Receiver<T>);

impl<T> tokio_stream::Stream for ReceiverStream<T> {
    type Item = T;
    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<T>> {
        self.0.poll_recv(cx)
    }
}

#[test]
fn health_flips_are_seen_by_check_and_watch() {
    use health::health_check_response::ServingStatus;
    use health::health_client::HealthClient;
    use health::HealthCheckRequest;
    let g = Goto::start(&[]);
    rt().block_on(async {
        let mut h = HealthClient::new(channel(g.port).await.expect("connect"));
        let check = |svc: &str| HealthCheckRequest {
            service: svc.into(),
        };
        let s = h.check(check("")).await.expect("Check").into_inner();
        assert_eq!(s.status(), ServingStatus::Serving);
        let mut w = h
            .watch(check("goto.Goto"))
            .await
            .expect("Watch")
            .into_inner();
        let first = w.message().await.expect("watch").expect("first status");
        assert_eq!(first.status(), ServingStatus::Serving);

        put(&g, "/grpc/health/goto.Goto/set/NOT_SERVING");
        let s = h
            .check(check("goto.Goto"))
            .await
            .expect("Check")
            .into_inner();
        assert_eq!(s.status(), ServingStatus::NotServing);
        let next = tokio::time::timeout(Duration::from_secs(5), w.message())
            .await
            .expect("a change within 5s")
            .expect("watch")
            .expect("next status");
        assert_eq!(next.status(), ServingStatus::NotServing);

        // The server as a whole is spelt `-` (or left out).
        put(&g, "/grpc/health/-/set/NOT_SERVING");
        let s = h.check(check("")).await.expect("Check").into_inner();
        assert_eq!(s.status(), ServingStatus::NotServing);
        put(&g, "/grpc/health/set/SERVING");
        let s = h.check(check("")).await.expect("Check").into_inner();
        assert_eq!(s.status(), ServingStatus::Serving);

        let e = h.check(check("no.Such")).await.expect_err("unknown");
        assert_eq!(e.code(), Code::NotFound);
    });
    let v = g.get("/grpc/health").json();
    assert_eq!(v["goto.Goto"], "NOT_SERVING", "{v}");
    assert_eq!(g.put("/grpc/health/x/set/MAYBE").status, 400);
}

#[test]
fn reflection_lists_services_and_serves_descriptors_v1_and_v1alpha() {
    let g = Goto::start(&[]);
    rt().block_on(async {
        use reflection_v1::server_reflection_client::ServerReflectionClient;
        use reflection_v1::server_reflection_request::MessageRequest;
        use reflection_v1::server_reflection_response::MessageResponse;
        use reflection_v1::ServerReflectionRequest;
        let mut c = ServerReflectionClient::new(channel(g.port).await.expect("connect"));
        let reqs = tokio_stream_iter(vec![
            ServerReflectionRequest {
                host: String::new(),
                message_request: Some(MessageRequest::ListServices(String::new())),
            },
            ServerReflectionRequest {
                host: String::new(),
                message_request: Some(MessageRequest::FileContainingSymbol(
                    "goto.Goto".into(),
                )),
            },
            ServerReflectionRequest {
                host: String::new(),
                message_request: Some(MessageRequest::FileByFilename("nope.proto".into())),
            },
        ]);
        let mut s = c
            .server_reflection_info(reqs)
            .await
            .expect("reflection")
            .into_inner();
        let list = s.message().await.expect("list").expect("an answer");
        let Some(MessageResponse::ListServicesResponse(l)) = list.message_response else {
            panic!("not a listing: {list:?}");
        };
        let names: Vec<String> = l.service.into_iter().map(|s| s.name).collect();
        for want in [
            "goto.Goto",
            "grpc.health.v1.Health",
            "grpc.reflection.v1.ServerReflection",
            "grpc.reflection.v1alpha.ServerReflection",
        ] {
            assert!(names.iter().any(|n| n == want), "{want} not in {names:?}");
        }
        let file = s.message().await.expect("file").expect("an answer");
        let Some(MessageResponse::FileDescriptorResponse(f)) = file.message_response else {
            panic!("not a file: {file:?}");
        };
        let fd = <FileDescriptorProto as prost::Message>::decode(&f.file_descriptor_proto[0][..])
            .expect("a FileDescriptorProto");
        assert_eq!(fd.name(), "goto.proto");
        assert_eq!(fd.service[0].name(), "Goto");
        let missing = s.message().await.expect("missing").expect("an answer");
        assert!(
            matches!(missing.message_response, Some(MessageResponse::ErrorResponse(ref e)) if e.error_code == 5),
            "{missing:?}"
        );

        use reflection_v1alpha::server_reflection_client::ServerReflectionClient as Alpha;
        use reflection_v1alpha::server_reflection_request::MessageRequest as AlphaReq;
        use reflection_v1alpha::server_reflection_response::MessageResponse as AlphaResp;
        let mut a = Alpha::new(channel(g.port).await.expect("connect"));
        let reqs = tokio_stream_iter(vec![reflection_v1alpha::ServerReflectionRequest {
            host: String::new(),
            message_request: Some(AlphaReq::ListServices(String::new())),
        }]);
        let mut s = a
            .server_reflection_info(reqs)
            .await
            .expect("v1alpha")
            .into_inner();
        let list = s.message().await.expect("list").expect("an answer");
        let Some(AlphaResp::ListServicesResponse(l)) = list.message_response else {
            panic!("not a listing: {list:?}");
        };
        assert!(l.service.iter().any(|s| s.name == "goto.Goto"));
    });
}
