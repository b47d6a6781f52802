//! The proxy speaks gRPC: a target matching a gRPC call forwards it over
//! h2c end to end, to another goto (streams both ways, its forced statuses
//! passed back in its trailers) and to a tonic health server (a server goto
//! did not write); its own failures answer UNAVAILABLE and
//! DEADLINE_EXCEEDED (from the call's grpc-timeout).

mod common;

use std::time::Duration;

use common::{free_port, Goto};
use goto_testkit::goto_client::{channel, health, pb, tokio_stream, tonic, GotoClient};
use tonic::Code;

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

fn add_target(g: &Goto, name: &str, uri: &str, upstream: u16, extra: &str) {
    let json = format!(
        r#"{{"name":"{name}","match":{{"uris":["{uri}"]}},"url":"http://127.0.0.1:{upstream}"{extra}}}"#
    );
    let r = g.post("/request/proxy/targets/add", &json);
    assert_eq!(r.status, 200, "{}", r.text());
}

#[test]
fn grpc_calls_are_proxied_to_goto_and_tonic_upstreams() {
    let upstream = Goto::start(&["--label", "upstream"]);
    let proxy = Goto::start(&["--label", "proxy"]);
    add_target(&proxy, "g", "/goto.Goto/{m}", upstream.port, "");
    let tonic_port = free_port();
    add_target(
        &proxy,
        "h",
        "/grpc.health.v1.Health/{m}",
        tonic_port,
        r#","timeout":"2s""#,
    );
    let rt = rt();
    rt.block_on(async {
        let mut c = GotoClient::new(channel(proxy.port).await.expect("connect"));
        let r = c
            .echo(pb::EchoRequest {
                payload: "via".into(),
            })
            .await
            .expect("proxied Echo")
            .into_inner();
        assert_eq!((r.payload.as_str(), r.label.as_str()), ("via", "upstream"));
        assert_eq!(r.port, u32::from(upstream.port));

        let mut s = c
            .stream_out(pb::StreamOutRequest {
                payload: "s".into(),
                count: 3,
                interval: "10ms".into(),
            })
            .await
            .expect("proxied StreamOut")
            .into_inner();
        let mut n = 0;
        while let Some(m) = s.message().await.expect("message") {
            assert_eq!(m.label, "upstream");
            n += 1;
        }
        assert_eq!(n, 3);

        // The upstream's status comes back as it sent it.
        assert_eq!(
            upstream
                .put("/grpc/status/set/RESOURCE_EXHAUSTED:1?message=full")
                .status,
            200
        );
        let e = c
            .echo(pb::EchoRequest {
                payload: "x".into(),
            })
            .await
            .expect_err("upstream's status");
        assert_eq!((e.code(), e.message()), (Code::ResourceExhausted, "full"));

        // A delayed upstream past the call's deadline: DEADLINE_EXCEEDED.
        assert_eq!(upstream.put("/grpc/delay/set/2s").status, 200);
        let mut req = tonic::Request::new(pb::EchoRequest {
            payload: "x".into(),
        });
        req.metadata_mut()
            .insert("grpc-timeout", "300m".parse().unwrap());
        let e = c.echo(req).await.expect_err("deadline");
        assert_eq!(e.code(), Code::DeadlineExceeded, "{e:?}");

        // Nothing listening upstream: UNAVAILABLE from the proxy itself.
        use health::health_client::HealthClient;
        let mut h = HealthClient::new(channel(proxy.port).await.expect("connect"));
        let e = h
            .check(health::HealthCheckRequest {
                service: String::new(),
            })
            .await
            .expect_err("no upstream");
        assert_eq!(e.code(), Code::Unavailable, "{e:?}");

        // A tonic health server upstream.
        let (reporter, svc) = goto_testkit::goto_client::tonic_health_server();
        reporter
            .set_service_status("demo.Down", tonic_health_serving(false))
            .await;
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", tonic_port))
            .await
            .expect("bind tonic");
        tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(svc)
                .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
        );
        let s = tokio::time::timeout(
            Duration::from_secs(5),
            h.check(health::HealthCheckRequest {
                service: String::new(),
            }),
        )
        .await
        .expect("in time")
        .expect("tonic's answer")
        .into_inner();
        assert_eq!(
            s.status(),
            health::health_check_response::ServingStatus::Serving
        );
        let s = h
            .check(health::HealthCheckRequest {
                service: "demo.Down".into(),
            })
            .await
            .expect("tonic's answer")
            .into_inner();
        assert_eq!(
            s.status(),
            health::health_check_response::ServingStatus::NotServing
        );
    });
    let counts = proxy.get("/request/proxy/counts").json();
    assert!(counts.to_string().contains("\"g\""), "{counts}");
}

fn tonic_health_serving(up: bool) -> goto_testkit::goto_client::ServingStatus {
    if up {
        goto_testkit::goto_client::ServingStatus::Serving
    } else {
        goto_testkit::goto_client::ServingStatus::NotServing
    }
}

/// A tonic `goto.Goto` upstream whose streams end with a status and
/// custom trailers, to see both come back through goto's proxy.
mod upstream {
    use super::{pb, tonic};
    use std::pin::Pin;
    use tonic::{Request, Response, Status, Streaming};

    pub struct Trailing;

    type Out = Pin<
        Box<
            dyn tonic::codegen::tokio_stream::Stream<Item = Result<pb::EchoResponse, Status>>
                + Send,
        >,
    >;

    fn answer(payload: &str, index: u32) -> pb::EchoResponse {
        pb::EchoResponse {
            payload: payload.into(),
            label: "tonic".into(),
            index,
            ..Default::default()
        }
    }

    pub fn trailers_status() -> Status {
        let mut md = tonic::metadata::MetadataMap::new();
        md.insert("x-custom-trailer", "kept".parse().unwrap());
        Status::with_metadata(tonic::Code::Aborted, "stream done", md)
    }

    #[tonic::async_trait]
    impl pb::goto_server::Goto for Trailing {
        async fn echo(
            &self,
            r: Request<pb::EchoRequest>,
        ) -> Result<Response<pb::EchoResponse>, Status> {
            Ok(Response::new(answer(&r.into_inner().payload, 0)))
        }
        type StreamOutStream = Out;
        async fn stream_out(
            &self,
            r: Request<pb::StreamOutRequest>,
        ) -> Result<Response<Out>, Status> {
            let r = r.into_inner();
            let mut items: Vec<Result<pb::EchoResponse, Status>> =
                (0..r.count).map(|i| Ok(answer(&r.payload, i))).collect();
            items.push(Err(trailers_status()));
            Ok(Response::new(Box::pin(tonic::codegen::tokio_stream::iter(
                items,
            ))))
        }
        async fn stream_in(
            &self,
            r: Request<Streaming<pb::EchoRequest>>,
        ) -> Result<Response<pb::EchoResponse>, Status> {
            let mut s = r.into_inner();
            let mut n = 0;
            while s.message().await?.is_some() {
                n += 1;
            }
            let mut a = answer("in", 0);
            a.count = n;
            Ok(Response::new(a))
        }
        type StreamInOutStream = Out;
        async fn stream_in_out(
            &self,
            r: Request<Streaming<pb::EchoRequest>>,
        ) -> Result<Response<Out>, Status> {
            let mut s = r.into_inner();
            let (tx, rx) = tokio::sync::mpsc::channel(4);
            tokio::spawn(async move {
                let mut i = 0;
                while let Ok(Some(m)) = s.message().await {
                    if tx.send(Ok(answer(&m.payload, i))).await.is_err() {
                        return;
                    }
                    i += 1;
                }
                let _ = tx.send(Err(trailers_status())).await;
            });
            Ok(Response::new(Box::pin(super::Rx(rx))))
        }
    }
}

struct Rx<T>(tokio::sync::mpsc::Receiver<T>);

impl<T> tokio_stream::Stream for Rx<T> {
    type Item = T;
    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<T>> {
        self.0.poll_recv(cx)
    }
}

#[test]
fn a_tonic_upstream_streams_and_custom_trailers_come_back_through_the_proxy() {
    let tonic_port = free_port();
    let proxy = Goto::start(&["--label", "proxy"]);
    add_target(&proxy, "t", "/goto.Goto/{m}", tonic_port, "");
    rt().block_on(async {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", tonic_port))
            .await
            .expect("bind tonic");
        tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(pb::goto_server::GotoServer::new(upstream::Trailing))
                .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
        );
        let mut c = GotoClient::new(channel(proxy.port).await.expect("connect"));
        let mut s = c
            .stream_out(pb::StreamOutRequest {
                payload: "t".into(),
                count: 2,
                interval: String::new(),
            })
            .await
            .expect("proxied StreamOut")
            .into_inner();
        for i in 0..2 {
            let m = s.message().await.expect("message").expect("one");
            assert_eq!((m.label.as_str(), m.index), ("tonic", i));
        }
        let end = s.message().await.expect_err("the upstream's final status");
        assert_eq!((end.code(), end.message()), (Code::Aborted, "stream done"));
        assert_eq!(
            end.metadata()
                .get("x-custom-trailer")
                .and_then(|v| v.to_str().ok()),
            Some("kept"),
            "{end:?}"
        );

        // Bidirectional through the proxy: answers as requests go.
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        let mut out = c
            .stream_in_out(Rx(rx))
            .await
            .expect("proxied StreamInOut")
            .into_inner();
        for (i, p) in ["a", "b"].iter().enumerate() {
            tx.send(pb::EchoRequest {
                payload: p.to_string(),
            })
            .await
            .unwrap();
            let m = out.message().await.expect("answer").expect("one");
            assert_eq!((m.payload.as_str(), m.index), (*p, i as u32));
        }
        drop(tx);
        let end = out.message().await.expect_err("final status");
        assert_eq!(end.code(), Code::Aborted);
    });
}
