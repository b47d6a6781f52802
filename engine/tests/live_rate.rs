//! A running target's rate changed through `RunHandle::set_rate`, seen in a
//! timeline built from snapshots, as the control plane builds it. Loopback
//! only, bounded in time, on epoll (the driver does not matter here).

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant, SystemTime};

use goto_engine::{Engine, EngineConfig, IoDriverChoice, Plan, TargetSpec, Timeline};

/// Answers every request on every connection with a tiny 200.
fn ok_server() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for mut conn in l.incoming().flatten() {
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    while let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        buf.drain(..p + 4);
                        if conn
                            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                            .is_err()
                        {
                            return;
                        }
                    }
                    match conn.read(&mut chunk) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
            });
        }
    });
    port
}

#[test]
fn a_rate_set_mid_run_shows_as_a_step_in_the_timeline() {
    let port = ok_server();
    let engine = Engine::start(EngineConfig {
        cores: Some(2),
        io_driver: IoDriverChoice::Epoll,
        ..EngineConfig::default()
    })
    .expect("engine");
    let mut t = TargetSpec::try_new("t", format!("http://127.0.0.1:{port}/")).expect("target");
    t.replicas = 4;
    t.requests_per_replica = None;
    t.rate = Some(40.0);
    t.duration = Some(Duration::from_secs(3));
    let run = engine.submit(Plan { targets: vec![t] }).expect("submit");
    let wall = SystemTime::now();
    let mut timeline = Timeline::default();
    let started = Instant::now();
    let mut changed = false;
    let deadline = started + Duration::from_secs(20);
    while !run.wait(Some(Duration::from_millis(500))) && Instant::now() < deadline {
        let snap = run.snapshot();
        timeline.push(snap.elapsed, wall + snap.elapsed, snap.targets["t"].clone());
        if !changed && snap.elapsed >= Duration::from_millis(1400) {
            assert!(run.set_rate("t", 400.0));
            changed = true;
        }
    }
    assert!(run.wait(Some(Duration::from_secs(10))));
    let snap = run.snapshot();
    timeline.push(snap.elapsed, wall + snap.elapsed, snap.targets["t"].clone());
    assert!(changed);
    assert!(!run.set_rate("nope", 10.0));
    assert!(!run.set_rate("t", -1.0));
    let rates: Vec<(f64, f64)> = timeline
        .intervals()
        .filter(|i| i.seconds >= 0.3)
        .map(|i| (i.t, i.rps))
        .collect();
    let before: Vec<f64> = rates.iter().filter(|r| r.0 <= 1.4).map(|r| r.1).collect();
    let after: Vec<f64> = rates.iter().filter(|r| r.0 >= 2.2).map(|r| r.1).collect();
    assert!(!before.is_empty() && !after.is_empty(), "{rates:?}");
    // The step, not exact figures: a loaded machine may sample late, and
    // the last interval may run past the end of the duration.
    let max = |v: &[f64]| v.iter().copied().fold(0.0, f64::max);
    assert!(max(&before) < 80.0, "{rates:?}");
    assert!(max(&after) > 200.0, "{rates:?}");
    let sum: u64 = timeline.intervals().map(|i| i.requests).sum();
    assert_eq!(sum, snap.targets["t"].requests);
}
