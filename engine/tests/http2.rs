//! HTTP/2 targets on the engine against in-test HTTP/2 servers on loopback
//! (h2c, and TLS with ALPN h2 and an rcgen certificate): counts, statuses,
//! tracked headers, request fields, stop, duration, rate, errors and
//! verification.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use goto_engine::{
    Engine, EngineConfig, ErrorKind, IoDriverChoice, Plan, PlanError, RunHandle, TargetSpec,
    TargetStats, TlsConfig, TlsErrorKind,
};
use goto_testkit::{eventually, pki, Pki};
use http::{Response, StatusCode};
use tokio::runtime::Runtime;

/// Size of the `/big` response body: larger than the client's windows.
const BIG: usize = 3 << 20;

/// Method, URI, headers and body of a request.
type SeenRequest = (String, String, Vec<(String, String)>, Vec<u8>);

/// What the test server saw.
#[derive(Default)]
struct Seen {
    requests: AtomicU64,
    connections: AtomicU64,
    /// Method, URI, headers and body of the last request.
    last: Mutex<Option<SeenRequest>>,
    alpn: Mutex<Option<Vec<u8>>>,
}

/// An HTTP/2 server on 127.0.0.1: `/status/N` answers N, `/slow` answers
/// after 3 s, `/big` sends a [`BIG`] body, anything else 200. Every response carries `x-a: 1` and
/// `x-parity: even|odd` by arrival order. Its runtime ends when dropped.
struct Server {
    port: u16,
    seen: Arc<Seen>,
    _rt: Runtime,
}

impl Server {
    fn h2c() -> Server {
        Server::start(None, None)
    }

    /// An h2c server that gracefully closes (GOAWAY) each connection after
    /// `streams` requests.
    fn h2c_closing_after(streams: u64) -> Server {
        Server::start(None, Some(streams))
    }

    fn tls(pki: &Pki) -> Server {
        use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_no_client_auth()
            .with_single_cert(
                vec![CertificateDer::from(pki.cert_der.clone())],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pki.key_der.clone())),
            )
            .expect("server cert");
        config.alpn_protocols = vec![b"h2".to_vec()];
        Server::start(
            Some(tokio_rustls::TlsAcceptor::from(Arc::new(config))),
            None,
        )
    }

    fn start(tls: Option<tokio_rustls::TlsAcceptor>, close_after: Option<u64>) -> Server {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("server runtime");
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = std_listener.local_addr().expect("addr").port();
        std_listener.set_nonblocking(true).expect("nonblocking");
        let seen = Arc::new(Seen::default());
        let s = seen.clone();
        rt.spawn(async move {
            let listener = tokio::net::TcpListener::from_std(std_listener).expect("listener");
            while let Ok((tcp, _)) = listener.accept().await {
                s.connections.fetch_add(1, Ordering::SeqCst);
                let (s, tls) = (s.clone(), tls.clone());
                tokio::spawn(async move {
                    match tls {
                        None => serve(tcp, s, close_after).await,
                        Some(acceptor) => {
                            if let Ok(stream) = acceptor.accept(tcp).await {
                                *s.alpn.lock().expect("lock") =
                                    stream.get_ref().1.alpn_protocol().map(<[u8]>::to_vec);
                                serve(stream, s, close_after).await;
                            }
                        }
                    }
                });
            }
        });
        Server {
            port,
            seen,
            _rt: rt,
        }
    }

    fn requests(&self) -> u64 {
        self.seen.requests.load(Ordering::SeqCst)
    }

    fn url(&self, scheme: &str, path: &str) -> String {
        format!("{scheme}://127.0.0.1:{}{path}", self.port)
    }
}

async fn serve<T>(io: T, seen: Arc<Seen>, close_after: Option<u64>)
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let Ok(mut conn) = h2::server::handshake(io).await else {
        return;
    };
    let mut streams = 0;
    while let Some(Ok((req, mut respond))) = conn.accept().await {
        streams += 1;
        if close_after == Some(streams) {
            conn.graceful_shutdown();
        }
        let seen = seen.clone();
        tokio::spawn(async move {
            let n = seen.requests.fetch_add(1, Ordering::SeqCst);
            let (parts, mut body) = req.into_parts();
            let mut data = Vec::new();
            while let Some(Ok(chunk)) = body.data().await {
                let _ = body.flow_control().release_capacity(chunk.len());
                data.extend_from_slice(&chunk);
            }
            let headers = parts
                .headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
                .collect();
            *seen.last.lock().expect("lock") = Some((
                parts.method.to_string(),
                parts.uri.to_string(),
                headers,
                data,
            ));
            let path = parts.uri.path().to_string();
            if path == "/slow" {
                tokio::time::sleep(Duration::from_secs(3)).await;
            }
            let status = path
                .strip_prefix("/status/")
                .and_then(|c| c.parse::<u16>().ok())
                .and_then(|c| StatusCode::from_u16(c).ok())
                .unwrap_or(StatusCode::OK);
            let parity = if n.is_multiple_of(2) { "even" } else { "odd" };
            let resp = Response::builder()
                .status(status)
                .header("x-a", "1")
                .header("x-parity", parity)
                .body(())
                .expect("response");
            let body = if path == "/big" {
                Bytes::from(vec![b'x'; BIG])
            } else {
                Bytes::from_static(b"ok")
            };
            if let Ok(mut stream) = respond.send_response(resp, false) {
                let _ = stream.send_data(body, true);
            }
        });
    }
}

/// One HTTP/2 target run on an engine of its own (one core; the driver
/// from `GOTO_TEST_IO_DRIVER=epoll|uring`, else auto). Dropping it drops
/// the engine, which stops the run.
struct H2Run {
    run: RunHandle,
    _engine: Engine,
}

impl H2Run {
    fn start(spec: TargetSpec, tls: &TlsConfig) -> Result<H2Run, PlanError> {
        let io_driver = match std::env::var("GOTO_TEST_IO_DRIVER").as_deref() {
            Ok("epoll") => IoDriverChoice::Epoll,
            Ok("uring") => IoDriverChoice::Uring,
            _ => IoDriverChoice::Auto,
        };
        H2Run::start_on(spec, tls, io_driver)
    }

    fn start_on(
        spec: TargetSpec,
        tls: &TlsConfig,
        io_driver: IoDriverChoice,
    ) -> Result<H2Run, PlanError> {
        let engine = Engine::start(EngineConfig {
            cores: Some(1),
            io_driver,
            tls: tls.clone(),
        })
        .map_err(|e| match e {
            goto_engine::EngineError::Plan(p) => p,
            other => panic!("engine: {other}"),
        })?;
        let run = engine
            .submit(Plan {
                targets: vec![spec],
            })
            .map_err(|e| match e {
                goto_engine::EngineError::Plan(p) => p,
                other => panic!("submit: {other}"),
            })?;
        Ok(H2Run {
            run,
            _engine: engine,
        })
    }

    fn snapshot(&self) -> TargetStats {
        self.run
            .snapshot()
            .targets
            .remove("t")
            .expect("target t in the snapshot")
    }

    fn stop(&self) {
        self.run.stop()
    }

    fn is_finished(&self) -> bool {
        self.run.is_finished()
    }

    fn wait(&self, timeout: Option<Duration>) -> bool {
        self.run.wait(timeout)
    }
}

fn spec(url: String, replicas: u32, per_replica: Option<u64>) -> TargetSpec {
    TargetSpec {
        http2: true,
        name: "t".into(),
        url,
        replicas,
        requests_per_replica: per_replica,
        delay: Duration::ZERO,
        ..TargetSpec::default()
    }
}

fn no_roots() -> TlsConfig {
    TlsConfig {
        extra_roots: Vec::new(),
        extra_certs: Vec::new(),
        use_system_roots: false,
    }
}

#[test]
fn replicas_times_count_are_exact_with_statuses_and_tracked_headers() {
    let s = Server::h2c();
    let mut t = spec(s.url("http", "/"), 5, Some(20));
    t.track_headers = vec!["X-Parity".into(), "x-a".into(), "x-missing".into()];
    let run = H2Run::start(t, &no_roots()).expect("start");
    assert!(run.wait(Some(Duration::from_secs(20))), "did not finish");
    let r = run.snapshot();
    assert!(r.finished && !r.stopped);
    assert_eq!(r.requests, 100);
    assert_eq!(r.status_counts, BTreeMap::from([(200, 100)]));
    assert_eq!(r.header_counts["x-parity"], 100);
    assert_eq!(r.header_value_counts["x-parity"]["even"], 50);
    assert_eq!(r.header_value_counts["x-parity"]["odd"], 50);
    assert_eq!(r.header_value_counts["x-a"]["1"], 100);
    assert!(!r.header_counts.contains_key("x-missing"));
    assert_eq!(r.latency.len(), 100);
    assert!(r.bytes_read >= 200 && r.bytes_written > 0);
    assert_eq!(s.requests(), 100);
    // Five replicas are five streams on one connection.
    assert_eq!(s.seen.connections.load(Ordering::SeqCst), 1);
}

#[test]
fn both_io_drivers_carry_http2() {
    let s = Server::h2c();
    let mut drivers = vec![IoDriverChoice::Epoll];
    if goto_engine::Engine::start(EngineConfig {
        cores: Some(1),
        io_driver: IoDriverChoice::Uring,
        tls: no_roots(),
    })
    .is_ok()
    {
        drivers.push(IoDriverChoice::Uring);
    }
    for driver in drivers {
        let mut t = spec(s.url("http", "/"), 3, Some(10));
        t.track_headers = vec!["x-a".into()];
        let run = H2Run::start_on(t, &no_roots(), driver).expect("start");
        assert!(run.wait(Some(Duration::from_secs(10))), "{driver:?}");
        let r = run.snapshot();
        assert_eq!(r.status_counts, BTreeMap::from([(200, 30)]), "{driver:?}");
        assert_eq!(r.header_value_counts["x-a"]["1"], 30, "{driver:?}");
    }
}

#[test]
fn replicas_spread_over_connections_of_at_most_100_streams() {
    let s = Server::h2c();
    let run = H2Run::start(
        spec(s.url("http", "/status/503"), 250, Some(2)),
        &no_roots(),
    )
    .expect("start");
    assert!(run.wait(Some(Duration::from_secs(20))));
    let r = run.snapshot();
    assert_eq!(r.status_counts, BTreeMap::from([(503, 500)]));
    assert_eq!(s.seen.connections.load(Ordering::SeqCst), 3);
}

#[test]
fn streams_per_connection_sets_connections_whatever_the_cores() {
    // 7 streams at 3 per connection: 3 connections, each whole on one of
    // two cores (a connection is never split between cores).
    let s = Server::h2c();
    let engine = Engine::start(EngineConfig {
        cores: Some(2),
        io_driver: IoDriverChoice::Auto,
        tls: no_roots(),
    })
    .expect("engine");
    let mut t = spec(s.url("http", "/"), 7, Some(4));
    t.streams_per_connection = 3;
    let run = engine.submit(Plan { targets: vec![t] }).expect("submit");
    assert!(run.wait(Some(Duration::from_secs(10))));
    let r = run.snapshot().targets.remove("t").expect("t");
    assert_eq!(r.status_counts, BTreeMap::from([(200, 28)]));
    assert_eq!(s.seen.connections.load(Ordering::SeqCst), 3);
    // Out of range is a plan error.
    let mut bad = spec(s.url("http", "/"), 1, Some(1));
    bad.streams_per_connection = 0;
    assert!(matches!(
        engine.submit(Plan { targets: vec![bad] }),
        Err(goto_engine::EngineError::Plan(PlanError::Streams(0)))
    ));
}

#[test]
fn request_carries_method_headers_body_authority_and_id() {
    let s = Server::h2c();
    let mut t = spec(s.url("http", "/p?a=1"), 1, Some(1));
    t.method = "PATCH".into();
    t.headers = vec![
        ("Host".into(), "goto.test:81".into()),
        ("X-Custom".into(), "v1".into()),
        ("Connection".into(), "keep-alive".into()),
    ];
    t.body = Bytes::from_static(b"hello");
    t.send_id = true;
    let run = H2Run::start(t, &no_roots()).expect("start");
    assert!(run.wait(Some(Duration::from_secs(10))));
    assert_eq!(run.snapshot().status_counts, BTreeMap::from([(200, 1)]));
    let (method, uri, headers, body) = s.seen.last.lock().expect("lock").clone().expect("seen");
    assert_eq!(method, "PATCH");
    assert!(
        uri.starts_with("http://goto.test:81/p?a=1&x-request-id="),
        "{uri}"
    );
    assert_eq!(
        uri.len(),
        "http://goto.test:81/p?a=1&x-request-id=".len() + 36
    );
    assert!(
        headers.contains(&("x-custom".into(), "v1".into())),
        "{headers:?}"
    );
    assert!(headers.contains(&("content-length".into(), "5".into())));
    assert!(!headers.iter().any(|(k, _)| k == "connection"));
    assert_eq!(body, b"hello");
}

#[test]
fn stop_ends_traffic_promptly_and_drop_stops_too() {
    let s = Server::h2c();
    let mut t = spec(s.url("http", "/"), 4, None);
    t.delay = Duration::from_millis(1);
    let run = H2Run::start(t.clone(), &no_roots()).expect("start");
    assert!(eventually(Duration::from_secs(10), || run
        .snapshot()
        .requests
        > 20));
    assert!(!run.is_finished());
    let at = Instant::now();
    run.stop();
    assert!(run.wait(Some(Duration::from_secs(1))), "not stopped in 1s");
    assert!(at.elapsed() < Duration::from_secs(1));
    let r = run.snapshot();
    assert!(r.stopped && r.finished);
    let before = s.requests();
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(s.requests(), before);

    // Requests in flight (a 3 s response) are abandoned by a stop.
    let slow = H2Run::start(spec(s.url("http", "/slow"), 2, Some(1)), &no_roots()).expect("start");
    assert!(eventually(Duration::from_secs(5), || s.requests() >= before + 2));
    slow.stop();
    assert!(slow.wait(Some(Duration::from_secs(1))));
    assert_eq!(slow.snapshot().requests, 0);

    // Dropping the run stops it.
    let dropped = H2Run::start(t, &no_roots()).expect("start");
    assert!(eventually(Duration::from_secs(10), || dropped
        .snapshot()
        .requests
        > 5));
    drop(dropped);
    let mut last = s.requests();
    assert!(eventually(Duration::from_secs(2), || {
        std::thread::sleep(Duration::from_millis(50));
        let now = s.requests();
        std::mem::replace(&mut last, now) == now
    }));
}

#[test]
fn duration_is_honoured() {
    let s = Server::h2c();
    let mut t = spec(s.url("http", "/"), 2, None);
    t.delay = Duration::from_millis(5);
    t.duration = Some(Duration::from_millis(500));
    let at = Instant::now();
    let run = H2Run::start(t, &no_roots()).expect("start");
    assert!(run.wait(Some(Duration::from_secs(5))));
    let took = at.elapsed();
    assert!(
        took >= Duration::from_millis(450) && took < Duration::from_millis(1500),
        "{took:?}"
    );
    let r = run.snapshot();
    assert!(r.requests > 10 && !r.stopped, "{}", r.requests);
}

#[test]
fn rate_is_kept_within_ten_percent() {
    let s = Server::h2c();
    let mut t = spec(s.url("http", "/"), 4, None);
    t.rate = Some(100.0);
    t.duration = Some(Duration::from_secs(1));
    let run = H2Run::start(t, &no_roots()).expect("start");
    assert!(run.wait(Some(Duration::from_secs(5))));
    let n = run.snapshot().requests;
    assert!((90..=110).contains(&n), "{n} requests at 100/s for 1s");
}

#[test]
fn refused_port_counts_errors_with_status_zero() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let run = H2Run::start(
        spec(format!("http://127.0.0.1:{port}/"), 2, Some(3)),
        &no_roots(),
    )
    .expect("start");
    assert!(run.wait(Some(Duration::from_secs(5))), "hung");
    let r = run.snapshot();
    assert_eq!(r.status_counts, BTreeMap::from([(0, 6)]));
    assert_eq!(r.errors, BTreeMap::from([(ErrorKind::ConnectRefused, 6)]));
}

#[test]
fn connections_closed_by_the_server_are_replaced_without_errors() {
    let s = Server::h2c_closing_after(3);
    let run = H2Run::start(spec(s.url("http", "/"), 1, Some(10)), &no_roots()).expect("start");
    assert!(run.wait(Some(Duration::from_secs(10))));
    let r = run.snapshot();
    assert_eq!(
        r.status_counts,
        BTreeMap::from([(200, 10)]),
        "{:?}",
        r.errors
    );
    assert_eq!(s.seen.connections.load(Ordering::SeqCst), 4);
}

/// A server that answers only the first stream of each connection and then
/// says GOAWAY with that stream as the last one processed: the streams
/// above it were not processed and go again on new connections (as often
/// as it takes), so every request is answered and none counts an error.
#[test]
fn streams_refused_by_goaway_are_sent_again_on_a_new_connection() {
    use goto_engine::h2codec::frame;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let connections = Arc::new(AtomicU64::new(0));
    let seen = connections.clone();
    std::thread::spawn(move || {
        for tcp in listener.incoming().flatten() {
            seen.fetch_add(1, Ordering::SeqCst);
            std::thread::spawn(move || answer_one_then_goaway(tcp));
        }
    });
    let run = H2Run::start(
        spec(format!("http://127.0.0.1:{port}/"), 3, Some(2)),
        &no_roots(),
    )
    .expect("start");
    assert!(run.wait(Some(Duration::from_secs(20))), "did not finish");
    let r = run.snapshot();
    assert_eq!(
        r.status_counts,
        BTreeMap::from([(200, 6)]),
        "{:?}",
        r.errors
    );
    // One request per connection.
    assert!(connections.load(Ordering::SeqCst) >= 6);

    /// Reads the preface and frames until a HEADERS frame (waiting a little
    /// for more streams), answers that stream, says GOAWAY naming it, and
    /// closes.
    fn answer_one_then_goaway(mut tcp: std::net::TcpStream) {
        use std::io::{Read, Write};
        let _ = tcp.set_read_timeout(Some(Duration::from_millis(100)));
        let mut buf = Vec::new();
        let mut first = None;
        let deadline = Instant::now() + Duration::from_secs(2);
        let mut settings = Vec::new();
        frame::put_settings(&mut settings, &[]);
        let _ = tcp.write_all(&settings);
        while Instant::now() < deadline {
            let mut chunk = [0u8; 4096];
            match tcp.read(&mut chunk) {
                Ok(0) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                // Quiet for 100 ms: the client sent what it had.
                Err(_) if first.is_some() => break,
                Err(_) => continue,
            }
            let mut at = buf.len().min(frame::PREFACE.len());
            while let Ok(Some((f, n))) = frame::parse(&buf[at..], frame::DEFAULT_MAX_FRAME) {
                at += n;
                if let frame::Frame::Headers { stream, .. } = f {
                    first.get_or_insert(stream);
                }
            }
        }
        let Some(stream) = first else { return };
        let mut out = Vec::new();
        frame::put_headers(&mut out, stream, &[0x88], true, frame::DEFAULT_MAX_FRAME);
        frame::put_goaway(&mut out, stream, frame::NO_ERROR);
        let _ = tcp.write_all(&out);
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_server_without_http2_gives_errors_not_a_hang() {
    // Answers every connection with an HTTP/1.1 response and closes it.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for mut tcp in listener.incoming().flatten() {
            let _ = std::io::Write::write_all(
                &mut tcp,
                b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
        }
    });
    let run = H2Run::start(
        spec(format!("http://127.0.0.1:{port}/"), 2, Some(2)),
        &no_roots(),
    )
    .expect("start");
    assert!(run.wait(Some(Duration::from_secs(5))), "hung");
    let r = run.snapshot();
    assert_eq!(r.status_counts, BTreeMap::from([(0, 4)]));
    // HTTP/1.1 bytes are not HTTP/2 frames: an unparsable response, or a
    // reset when the server's close beats the client's preface.
    let invalid = ErrorKind::Parse(goto_engine::ParseErrorKind::InvalidHead);
    assert!(
        r.errors
            .keys()
            .all(|k| *k == invalid || *k == ErrorKind::Reset),
        "{:?}",
        r.errors
    );
}

#[test]
fn retries_count_only_the_final_outcome() {
    let s = Server::h2c();
    let mut t = spec(s.url("http", "/status/503"), 2, Some(2));
    t.retries = 2;
    t.retriable_status = vec![503];
    t.retry_delay = Duration::from_millis(5);
    let run = H2Run::start(t, &no_roots()).expect("start");
    assert!(run.wait(Some(Duration::from_secs(10))));
    assert_eq!(run.snapshot().status_counts, BTreeMap::from([(503, 4)]));
    assert_eq!(s.requests(), 12);
}

#[test]
fn initial_delay_idle_timeout_and_large_bodies() {
    let s = Server::h2c();
    let mut t = spec(s.url("http", "/big"), 1, Some(3));
    t.initial_delay = Duration::from_millis(300);
    // Each request waits longer than the idle timeout: a new connection each.
    t.delay = Duration::from_millis(120);
    t.idle_timeout = Duration::from_millis(50);
    let at = Instant::now();
    let run = H2Run::start(t, &no_roots()).expect("start");
    assert!(eventually(Duration::from_secs(5), || s.requests() > 0));
    assert!(at.elapsed() >= Duration::from_millis(300));
    assert!(run.wait(Some(Duration::from_secs(10))));
    let r = run.snapshot();
    assert_eq!(
        r.status_counts,
        BTreeMap::from([(200, 3)]),
        "{:?}",
        r.errors
    );
    assert!(r.bytes_read >= 3 * BIG as u64);
    assert_eq!(s.seen.connections.load(Ordering::SeqCst), 3);
}

#[test]
fn request_timeout_counts_a_timeout() {
    let s = Server::h2c();
    let mut t = spec(s.url("http", "/slow"), 1, Some(1));
    t.request_timeout = Duration::from_millis(200);
    let run = H2Run::start(t, &no_roots()).expect("start");
    assert!(run.wait(Some(Duration::from_secs(2))));
    assert_eq!(
        run.snapshot().errors,
        BTreeMap::from([(ErrorKind::Timeout, 1)])
    );
}

fn write_ca(name: &str, pem: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("goto-h2-{name}-{}.pem", std::process::id()));
    std::fs::write(&path, pem).expect("write ca");
    path
}

#[test]
fn tls_with_alpn_h2_verifies_or_skips_verification() {
    let pki = pki();
    let s = Server::tls(&pki);
    let url = s.url("https", "/");
    let mut t = spec(url, 2, Some(3));
    t.headers = vec![("Host".into(), "goto.test".into())];

    // verifyTLS false: the unknown CA is accepted.
    let run = H2Run::start(t.clone(), &no_roots()).expect("start");
    assert!(run.wait(Some(Duration::from_secs(10))));
    assert_eq!(run.snapshot().status_counts, BTreeMap::from([(200, 6)]));
    assert_eq!(
        s.seen.alpn.lock().expect("lock").as_deref(),
        Some(&b"h2"[..])
    );

    // verifyTLS true with the right CA and Host as the verified name.
    let right = write_ca("right", &pki.ca_pem);
    let with_ca = TlsConfig {
        extra_roots: vec![right.clone()],
        extra_certs: Vec::new(),
        use_system_roots: false,
    };
    t.verify_tls = true;
    let run = H2Run::start(t.clone(), &with_ca).expect("start");
    assert!(run.wait(Some(Duration::from_secs(10))));
    assert_eq!(run.snapshot().status_counts, BTreeMap::from([(200, 6)]));

    // verifyTLS true against another CA: TLS errors with status 0.
    // (A CA with another name: one with the same name would fail as a bad
    // signature instead.)
    let other_key = rcgen::KeyPair::generate().expect("key");
    let mut other = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    other
        .distinguished_name
        .push(rcgen::DnType::CommonName, "other CA");
    other.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let other = other.self_signed(&other_key).expect("other ca");
    let wrong = write_ca("wrong", &other.pem());
    let other_ca = TlsConfig {
        extra_roots: vec![wrong.clone()],
        extra_certs: Vec::new(),
        use_system_roots: false,
    };
    let run = H2Run::start(t, &other_ca).expect("start");
    assert!(run.wait(Some(Duration::from_secs(10))));
    let r = run.snapshot();
    assert_eq!(r.status_counts, BTreeMap::from([(0, 6)]));
    assert_eq!(
        r.errors,
        BTreeMap::from([(ErrorKind::Tls(TlsErrorKind::UnknownIssuer), 6)])
    );
    let _ = std::fs::remove_file(right);
    let _ = std::fs::remove_file(wrong);
}

#[test]
fn invalid_targets_are_plan_errors() {
    let bad_url = spec("ftp://127.0.0.1/".into(), 1, Some(1));
    assert!(H2Run::start(bad_url, &no_roots()).is_err());
    let mut bad_method = spec("http://127.0.0.1:1/".into(), 1, Some(1));
    bad_method.method = "GE T".into();
    assert!(H2Run::start(bad_method, &no_roots()).is_err());
}

#[test]
fn a_server_flooding_settings_and_pings_without_reading_is_cut_with_an_error() {
    use goto_engine::h2codec::frame;
    // Floods SETTINGS and PING frames and never reads: the client's acks
    // can never be sent. Counts the connections the client closed.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let closed = Arc::new(AtomicU64::new(0));
    let seen = closed.clone();
    std::thread::spawn(move || {
        for tcp in listener.incoming().flatten() {
            let seen = seen.clone();
            std::thread::spawn(move || {
                let mut chunk = Vec::new();
                for _ in 0..256 {
                    frame::put_settings(&mut chunk, &[]);
                    frame::put_head(&mut chunk, 8, frame::PING, 0, 0);
                    chunk.extend_from_slice(b"flooding");
                }
                let mut tcp = tcp;
                let deadline = Instant::now() + Duration::from_secs(20);
                while Instant::now() < deadline {
                    if std::io::Write::write_all(&mut tcp, &chunk).is_err() {
                        seen.fetch_add(1, Ordering::SeqCst);
                        return;
                    }
                }
            });
        }
    });
    let run = H2Run::start(
        spec(format!("http://127.0.0.1:{port}/"), 1, Some(1)),
        &no_roots(),
    )
    .expect("start");
    assert!(
        eventually(Duration::from_secs(15), || closed.load(Ordering::SeqCst)
            >= 1),
        "the flooding connection was never closed"
    );
    assert!(run.wait(Some(Duration::from_secs(15))), "did not finish");
    let r = run.snapshot();
    assert_eq!(r.status_counts, BTreeMap::from([(0, 1)]), "{:?}", r.errors);
    assert_eq!(r.errors.values().sum::<u64>(), 1, "{:?}", r.errors);
}
