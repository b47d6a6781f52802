//! The engine API as the control plane uses it: start, submit, snapshot while
//! running, stop (a run or one target), wait; retries, request ids and https.
//! Each test runs on both io drivers against small std::net servers on
//! 127.0.0.1 (free ports), bounded in time.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use goto_engine::{
    Engine, EngineConfig, ErrorKind, IoDriverChoice, Plan, RunHandle, TargetSpec, TlsConfig,
    TlsErrorKind,
};
use goto_testkit::eventually;

const DRIVERS: [IoDriverChoice; 2] = [IoDriverChoice::Uring, IoDriverChoice::Epoll];

fn engine(driver: IoDriverChoice) -> Option<Engine> {
    engine_with(driver, TlsConfig::default())
}

fn engine_with(driver: IoDriverChoice, tls: TlsConfig) -> Option<Engine> {
    match Engine::start(EngineConfig {
        cores: Some(2),
        io_driver: driver,
        tls,
    }) {
        Ok(e) => Some(e),
        Err(goto_engine::EngineError::UringUnavailable) => {
            eprintln!("io_uring unavailable here; skipping that driver");
            None
        }
        Err(e) => panic!("engine start ({driver:?}): {e}"),
    }
}

/// Reads request heads from `conn` and answers each with `reply(n, head)`.
fn serve<F>(listener: TcpListener, reply: F) -> u16
where
    F: Fn(u64, &str) -> Vec<u8> + Send + Sync + 'static,
{
    let port = listener.local_addr().expect("addr").port();
    let reply = Arc::new(reply);
    let counter = Arc::new(AtomicU64::new(0));
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let (reply, counter) = (reply.clone(), counter.clone());
            std::thread::spawn(move || answer(conn, &*reply, &counter));
        }
    });
    port
}

fn answer<S: Read + Write>(mut conn: S, reply: &dyn Fn(u64, &str) -> Vec<u8>, counter: &AtomicU64) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
            match conn.read(&mut chunk) {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        let end = buf
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map_or(0, |p| p + 4);
        let head = String::from_utf8_lossy(&buf[..end]).into_owned();
        buf.drain(..end);
        let n = counter.fetch_add(1, Ordering::SeqCst);
        if conn.write_all(&reply(n, &head)).is_err() {
            return;
        }
    }
}

fn ok_server() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    serve(l, |_, _| {
        b"HTTP/1.1 200 OK\r\nX-Who: a\r\nContent-Length: 2\r\n\r\nok".to_vec()
    })
}

fn target(name: &str, port: u16) -> TargetSpec {
    let mut t =
        TargetSpec::try_new(name, format!("http://127.0.0.1:{port}/t")).expect("valid target");
    t.delay = Duration::ZERO;
    t.connect_timeout = Duration::from_secs(5);
    t.request_timeout = Duration::from_secs(5);
    t
}

fn requests(run: &RunHandle, name: &str) -> u64 {
    run.snapshot().targets.get(name).map_or(0, |t| t.requests)
}

#[test]
fn count_run_finishes_with_exact_counts() {
    let port = ok_server();
    for driver in DRIVERS {
        let Some(engine) = engine(driver) else {
            continue;
        };
        let mut t = target("t1", port);
        t.replicas = 7;
        t.requests_per_replica = Some(13);
        t.track_headers = vec!["X-WHO".into()];
        let run = engine.submit(Plan { targets: vec![t] }).expect("submit");
        assert!(
            run.wait(Some(Duration::from_secs(20))),
            "{driver:?}: run did not finish"
        );
        let snap = run.snapshot();
        assert!(snap.finished);
        let s = &snap.targets["t1"];
        assert_eq!(s.requests, 91, "{driver:?}");
        assert_eq!(s.status_counts.get(&200), Some(&91));
        assert_eq!(s.header_value_counts["x-who"]["a"], 91);
        assert_eq!(s.latency.len(), 91);
        assert!(s.finished && !s.stopped);
        assert!(s.first_response.is_some() && s.last_response >= s.first_response);
    }
}

#[test]
fn snapshot_while_running_then_stop_within_a_second() {
    let port = ok_server();
    for driver in DRIVERS {
        let Some(engine) = engine(driver) else {
            continue;
        };
        let mut a = target("a", port);
        a.replicas = 4;
        a.requests_per_replica = None; // until stopped
        let mut b = target("b", port);
        b.requests_per_replica = None;
        b.delay = Duration::from_millis(5);
        let run = engine
            .submit(Plan {
                targets: vec![a, b],
            })
            .expect("submit");
        assert!(
            eventually(Duration::from_secs(10), || requests(&run, "a") > 100),
            "{driver:?}: no progress"
        );
        assert!(!run.is_finished());
        // Stopping one target leaves the other running.
        run.stop_target("b");
        assert!(
            eventually(Duration::from_secs(1), || run.snapshot().targets["b"]
                .finished),
            "{driver:?}"
        );
        let before = requests(&run, "a");
        assert!(
            eventually(Duration::from_secs(5), || requests(&run, "a") > before),
            "{driver:?}"
        );
        let stopped_at = Instant::now();
        run.stop();
        assert!(
            run.wait(Some(Duration::from_secs(1))),
            "{driver:?}: stop took over 1 s"
        );
        assert!(stopped_at.elapsed() < Duration::from_secs(1));
        let snap = run.snapshot();
        assert!(snap.finished && snap.targets["a"].stopped && snap.targets["b"].stopped);
        assert_eq!(
            snap.targets["a"].status_counts.get(&200),
            Some(&snap.targets["a"].requests)
        );
    }
}

#[test]
fn several_runs_at_once_and_a_duration() {
    let port = ok_server();
    for driver in DRIVERS {
        let Some(engine) = engine(driver) else {
            continue;
        };
        let mut d = target("d", port);
        d.requests_per_replica = None;
        d.duration = Some(Duration::from_millis(500));
        let long = engine.submit(Plan { targets: vec![d] }).expect("submit d");
        let mut c = target("c", port);
        c.replicas = 3;
        c.requests_per_replica = Some(10);
        let short = engine.submit(Plan { targets: vec![c] }).expect("submit c");
        assert_ne!(long.id(), short.id());
        assert!(short.wait(Some(Duration::from_secs(10))));
        assert_eq!(requests(&short, "c"), 30);
        let started = Instant::now();
        assert!(long.wait(Some(Duration::from_secs(5))), "{driver:?}");
        assert!(started.elapsed() < Duration::from_secs(2));
        let snap = long.snapshot();
        assert!(
            snap.elapsed >= Duration::from_millis(450) && snap.elapsed < Duration::from_secs(2),
            "{snap:?}"
        );
        assert!(snap.targets["d"].requests > 0);
    }
}

#[test]
fn retries_count_only_the_final_outcome() {
    for driver in DRIVERS {
        // Every request's first two attempts get 503, the third 200.
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = serve(l, |n, _| {
            if n % 3 < 2 {
                b"HTTP/1.1 503 Service Unavailable\r\nX-Who: retried\r\nContent-Length: 0\r\n\r\n"
                    .to_vec()
            } else {
                b"HTTP/1.1 200 OK\r\nX-Who: final\r\nContent-Length: 0\r\n\r\n".to_vec()
            }
        });
        let Some(engine) = engine(driver) else {
            continue;
        };
        let mut t = target("r", port);
        t.requests_per_replica = Some(5);
        t.retries = 2;
        t.retry_delay = Duration::from_millis(1);
        t.retriable_status = vec![503];
        t.track_headers = vec!["x-who".into()];
        let run = engine.submit(Plan { targets: vec![t] }).expect("submit");
        assert!(run.wait(Some(Duration::from_secs(10))));
        let s = &run.snapshot().targets["r"];
        assert_eq!(s.requests, 5, "{driver:?}: {s:?}");
        assert_eq!(s.status_counts.get(&200), Some(&5));
        assert_eq!(s.header_value_counts["x-who"].get("final"), Some(&5));
        assert_eq!(s.header_value_counts["x-who"].get("retried"), None);
    }
}

#[test]
fn send_id_adds_a_fresh_uuid_per_request() {
    for driver in DRIVERS {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let seen2 = seen.clone();
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = serve(l, move |_, head| {
            let line = head.lines().next().unwrap_or_default().to_string();
            seen2.lock().expect("lock").push(line);
            b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n".to_vec()
        });
        let Some(engine) = engine(driver) else {
            continue;
        };
        let mut t =
            TargetSpec::try_new("id", format!("http://127.0.0.1:{port}/p?a=1")).expect("target");
        t.delay = Duration::ZERO;
        t.requests_per_replica = Some(20);
        t.send_id = true;
        let run = engine.submit(Plan { targets: vec![t] }).expect("submit");
        assert!(run.wait(Some(Duration::from_secs(10))));
        let lines = seen.lock().expect("lock").clone();
        assert_eq!(lines.len(), 20);
        let mut ids: Vec<&str> = lines
            .iter()
            .map(|l| {
                let id = l
                    .split("x-request-id=")
                    .nth(1)
                    .expect("id param")
                    .split(' ')
                    .next()
                    .expect("id");
                assert!(l.starts_with("GET /p?a=1&x-request-id="), "{l}");
                assert_eq!(id.len(), 36, "{l}");
                id
            })
            .collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), 20, "ids repeat: {lines:?}");
    }
}

#[test]
fn bad_plans_are_refused_whole() {
    let Some(engine) = engine(IoDriverChoice::Epoll) else {
        return;
    };
    assert!(engine.submit(Plan { targets: vec![] }).is_err());
    let a = target("same", 1);
    let err = engine
        .submit(Plan {
            targets: vec![a.clone(), a],
        })
        .unwrap_err();
    assert!(err.to_string().contains("duplicate"), "{err}");
    let mut bad = target("x", 1);
    bad.url = "ftp://h/".into();
    assert!(engine.submit(Plan { targets: vec![bad] }).is_err());
}

fn tls_server(cert: &rcgen::CertifiedKey<rcgen::KeyPair>) -> u16 {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let chain = vec![CertificateDer::from(cert.cert.der().to_vec())];
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(cert.signing_key.serialize_der()));
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .expect("server cert");
    let config = Arc::new(config);
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for tcp in listener.incoming().flatten() {
            let config = config.clone();
            std::thread::spawn(move || {
                let Ok(conn) = rustls::ServerConnection::new(config) else {
                    return;
                };
                let stream = rustls::StreamOwned::new(conn, tcp);
                let counter = AtomicU64::new(0);
                let hello =
                    |_: u64, _: &str| b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello".to_vec();
                answer(stream, &hello, &counter);
            });
        }
    });
    port
}

#[test]
fn https_verifies_with_cacert_and_sni_from_host_header() {
    let cert = rcgen::generate_simple_self_signed(vec!["goto.test".to_string()]).expect("cert");
    let port = tls_server(&cert);
    let dir = std::env::temp_dir().join(format!("goto-engine-ca-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp dir");
    std::fs::write(dir.join("ca.pem"), cert.cert.pem()).expect("write ca");
    let https = |name: &str, verify: bool, host: Option<&str>| {
        let mut t =
            TargetSpec::try_new(name, format!("https://127.0.0.1:{port}/")).expect("target");
        t.delay = Duration::ZERO;
        t.requests_per_replica = Some(3);
        t.verify_tls = verify;
        t.connect_timeout = Duration::from_secs(5);
        if let Some(h) = host {
            t.headers.push(("Host".into(), h.into()));
        }
        t
    };
    for driver in DRIVERS {
        let tls = TlsConfig {
            extra_roots: vec![dir.clone()],
            extra_certs: Vec::new(),
            use_system_roots: false,
        };
        let Some(engine) = engine_with(driver, tls) else {
            continue;
        };
        let plan = Plan {
            targets: vec![
                https("insecure", false, None),
                https("verified", true, Some("goto.test")),
                https("wrong-name", true, None),
            ],
        };
        let run = engine.submit(plan).expect("submit");
        assert!(run.wait(Some(Duration::from_secs(20))), "{driver:?}");
        let snap = run.snapshot();
        assert_eq!(
            snap.targets["insecure"].status_counts.get(&200),
            Some(&3),
            "{driver:?}: {snap:?}"
        );
        assert_eq!(
            snap.targets["verified"].status_counts.get(&200),
            Some(&3),
            "{driver:?}: {snap:?}"
        );
        assert!(snap.targets["verified"].bytes_read > 0);
        let wrong = &snap.targets["wrong-name"];
        assert_eq!(
            wrong
                .errors
                .get(&ErrorKind::Tls(TlsErrorKind::NotValidForName)),
            Some(&3),
            "{wrong:?}"
        );
        assert_eq!(wrong.status_counts.get(&0), Some(&3));
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A server that reads request heads and never answers; counts the
/// connections it accepted and those the client has closed since.
fn stalled_server() -> (u16, Arc<AtomicU64>, Arc<AtomicU64>) {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    let (accepted, closed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let (a, c) = (accepted.clone(), closed.clone());
    std::thread::spawn(move || {
        for mut conn in l.incoming().flatten() {
            a.fetch_add(1, Ordering::SeqCst);
            let c = c.clone();
            std::thread::spawn(move || {
                let mut chunk = [0u8; 4096];
                while let Ok(n) = conn.read(&mut chunk) {
                    if n == 0 {
                        break;
                    }
                }
                c.fetch_add(1, Ordering::SeqCst);
            });
        }
    });
    (port, accepted, closed)
}

// Guards the plain (not cancelable) reads: an expired read is dropped, and
// its io_uring operation must really be cancelled, or the kernel would keep
// the socket open (and the buffer parked) for as long as the server stalls.
#[test]
fn timeouts_and_stops_release_stalled_connections() {
    for driver in DRIVERS {
        let Some(engine) = engine(driver) else {
            continue;
        };
        // Timeouts: every request fails, every connection is let go.
        let (port, accepted, closed) = stalled_server();
        let mut t = target("t", port);
        t.replicas = 3;
        t.requests_per_replica = Some(2);
        t.request_timeout = Duration::from_millis(200);
        let run = engine.submit(Plan { targets: vec![t] }).expect("submit");
        assert!(run.wait(Some(Duration::from_secs(10))), "{driver:?}");
        let snap = run.snapshot();
        assert_eq!(snap.targets["t"].errors.get(&ErrorKind::Timeout), Some(&6));
        assert!(
            eventually(Duration::from_secs(3), || {
                let n = accepted.load(Ordering::SeqCst);
                n >= 3 && closed.load(Ordering::SeqCst) == n
            }),
            "{driver:?}: {} accepted, {} closed",
            accepted.load(Ordering::SeqCst),
            closed.load(Ordering::SeqCst)
        );
        // A stop with no timeout at all: replicas waiting on a read are woken.
        let (port, accepted, closed) = stalled_server();
        let mut t = target("s", port);
        t.replicas = 3;
        t.requests_per_replica = None;
        t.request_timeout = Duration::ZERO;
        let run = engine.submit(Plan { targets: vec![t] }).expect("submit");
        assert!(eventually(Duration::from_secs(5), || accepted
            .load(Ordering::SeqCst)
            == 3));
        // Give the requests time to be written and the reads to be waiting.
        std::thread::sleep(Duration::from_millis(100));
        let stopped_at = Instant::now();
        run.stop();
        assert!(run.wait(Some(Duration::from_secs(1))), "{driver:?}");
        assert!(stopped_at.elapsed() < Duration::from_secs(1));
        assert_eq!(requests(&run, "s"), 0, "aborted requests are not counted");
        assert!(
            eventually(Duration::from_secs(3), || closed.load(Ordering::SeqCst)
                == 3),
            "{driver:?}: {} closed",
            closed.load(Ordering::SeqCst)
        );
    }
}
