//! The registry view in headless Chromium against real binaries: two peers
//! register, one is killed and restarted at the same address, and the
//! view's pod table and lifecycle timeline show both pods with the
//! restarted one's two epochs; the fleet's merged timeline and the
//! lockers show what the peers reported.

mod common;
mod ui_browser;

use std::time::Duration;

use common::timeline::Minute;
use common::{free_port, Goto};
use ui_browser::Browser;

const QUIET: &str = "--request-logs=false";

fn peer_on(port: u16, reg: u16) -> Goto {
    let registry = format!("http://127.0.0.1:{reg}");
    let args = [
        "--label",
        "fleet",
        "--registry",
        &registry,
        "--locker",
        "--remind-seconds",
        "1",
        QUIET,
    ];
    Goto::start_on(port, &args, &[])
}

#[test]
fn peers_and_a_restarted_one_show_in_the_registry_view() {
    let Some(browser) = Browser::start("ui_registry") else {
        return;
    };
    let reg = Goto::start(&["--label", "registry", QUIET]);
    let server = Goto::start(&["--label", "server", QUIET]);
    let t = format!(
        r#"{{"name":"t1","method":"GET","url":"http://127.0.0.1:{}/status/200","replicas":1,
            "requestCount":0,"rate":50,"duration":"2s","autoInvoke":true}}"#,
        server.port
    );
    assert_eq!(
        reg.post("/registry/peers/fleet/targets/add", &t).status,
        200
    );
    let (pa, pb) = (free_port(), free_port());
    let _a = peer_on(pa, reg.port);
    let mut b = peer_on(pb, reg.port);
    let addr_b = format!("127.0.0.1:{pb}");
    assert!(common::eventually(Duration::from_secs(10), || {
        reg.get("/registry/peers").json()["fleet"]["pods"]
            .as_object()
            .is_some_and(|p| p.len() == 2)
    }));
    // Killed with no chance to deregister, then back at the same address.
    b.signal(libc::SIGKILL);
    assert!(b.wait_exit(Duration::from_secs(5)).is_some());
    drop(b);
    let _b = peer_on(pb, reg.port);
    assert!(common::eventually(Duration::from_secs(10), || {
        reg.get("/registry/peers").json()["fleet"]["pods"][&addr_b]["currentEpoch"]["epoch"] == 1
    }));

    browser.open(&format!("http://127.0.0.1:{}/ui#registry", reg.port));
    let epochs = browser.wait_for(
        "both pods and the restart in the lifecycle view",
        Duration::from_secs(10),
        &format!(
            "var n = a => document.querySelectorAll('svg.lifecycle g[data-address=\"' + a + '\"] rect.epoch').length; \
             var a = n('127.0.0.1:{pa}'), b = n('{addr_b}'); \
             return a === 1 && b === 2 ? [a, b, document.querySelectorAll('svg.lifecycle line.restart').length] : null;"
        ),
    );
    assert_eq!(epochs, serde_json::json!([1, 2, 1]));
    let pods = browser.eval(&format!(
        "var c = document.querySelector('table.pods tr[data-address=\"{addr_b}\"] td[data-field=epoch]'); \
         return [document.querySelector('section.label[data-label=fleet] h2').textContent, c && c.textContent];"
    ));
    assert_eq!(pods, serde_json::json!(["fleet: 2 pods", "1"]));
    // The peers ran t1 and reported it: the merged fleet timeline is drawn.
    browser.wait_for(
        "the fleet timeline of t1",
        Duration::from_secs(20),
        "return [...document.querySelectorAll('section.label svg .ctitle')].some(e => e.textContent.indexOf('fleet / t1') === 0);",
    );
    browser.eval("[...document.querySelectorAll('section.label button')].find(b => b.textContent === 'Browse lockers').click(); return 1;");
    let lockers = browser.wait_for(
        "the lockers",
        Duration::from_secs(10),
        "var n = document.querySelectorAll('.lockers details').length; return n >= 2 ? n : null;",
    );
    assert!(lockers.as_u64().unwrap_or(0) >= 2, "{lockers}");
    let shot = browser.screenshot("registry");
    println!("ui_registry: screenshot {}", shot.display());

    // The label's report: one file, drawn offline, with the fleet's sum
    // (once the peers' runs have ended and their last reports are in).
    let count = || {
        reg.get("/registry/peers/lockers/targets/results").json()["fleet"]["targetInvocationCounts"]
            ["t1"]
            .as_u64()
            .unwrap_or(0)
    };
    let mut last = count();
    assert!(common::eventually(Duration::from_secs(20), || {
        std::thread::sleep(Duration::from_millis(1500));
        let now = count();
        let settled = now == last && now > 0;
        last = now;
        settled
    }));
    let sum = last;
    let html = browser.eval("return window.GOTO_UI.labelReport('fleet');");
    let html = html.as_str().expect("report text");
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("ui_registry");
    std::fs::create_dir_all(&dir).expect("report dir");
    let path = dir.join("fleet.html");
    std::fs::write(&path, html).expect("write report");
    let url = format!("file://{}", path.display());
    browser.requests_sent();
    browser.open(&url);
    let shown = browser.wait_for(
        "the label report's table",
        Duration::from_secs(10),
        "var c = document.querySelector('#targets-table tr[data-target=t1] td[data-field=requests]'); return c && c.textContent;",
    );
    assert_eq!(shown, sum.to_string());
    let sent = browser.requests_sent();
    assert!(
        sent.iter().all(|u| *u == url),
        "the report made requests: {sent:?}"
    );
    browser.screenshot("registry-report");
}

const PEERS: &str = "/registry/peers/lockers/targets/results/peers?seconds=Y";

/// The per-peer table's figures for one instance, as the page should show
/// them from `/registry/peers/lockers/targets/results/peers`.
fn peer_row(v: &serde_json::Value) -> Vec<String> {
    let n = |k: &str| v[k].as_u64().unwrap_or(0);
    let (req, err, secs) = (n("requests"), n("errors"), n("seconds"));
    let fix = |x: f64, d: i32| {
        let p = 10f64.powi(d);
        format!("{:.*}", d as usize, (x * p).round() / p)
    };
    let mut out = vec![
        req.to_string(),
        err.to_string(),
        fix(req as f64 / secs as f64, 1),
        fix(100.0 * err as f64 / req as f64, 2),
        n("invocations").to_string(),
    ];
    for p in ["p50", "p90", "p99"] {
        out.push(
            v["latencyMs"][p]
                .as_f64()
                .map_or("–".into(), |x| x.to_string()),
        );
    }
    out
}

/// Two peers run the same target against a fast and a slow server: the
/// per-peer table shows both with the endpoint's figures, the slow one first
/// and marked. A pod that stops answering the registry's probes shows its
/// unhealthy spans on the lifecycle timeline.
#[test]
fn the_slow_pod_and_unhealthy_spans_show_in_the_registry_view() {
    let Some(browser) = Browser::start("ui_registry") else {
        return;
    };
    let reg = Goto::start(&["--label", "registry", QUIET, "--peer-health-seconds", "0"]);
    let fast = Goto::start(&["--label", "fast", QUIET]);
    let slow = Goto::start(&["--label", "slow", QUIET]);
    assert_eq!(slow.post("/response/delay/set/40ms", "").status, 200);
    let (pa, pb) = (free_port(), free_port());
    let a = peer_on(pa, reg.port);
    let b = peer_on(pb, reg.port);
    let (addr_a, addr_b) = (format!("127.0.0.1:{pa}"), format!("127.0.0.1:{pb}"));
    assert!(common::eventually(Duration::from_secs(10), || {
        reg.get("/registry/peers").json()["fleet"]["pods"]
            .as_object()
            .is_some_and(|p| p.len() == 2)
    }));
    // The same target on each peer, one against the slow server.
    for (p, server) in [(&a, &fast), (&b, &slow)] {
        let t = format!(
            r#"{{"name":"t2","method":"GET","url":"http://127.0.0.1:{}/status/200","replicas":1,
                "requestCount":0,"rate":20,"duration":"2s"}}"#,
            server.port
        );
        assert_eq!(p.post("/client/targets/add", &t).status, 200);
        let r = p.post("/client/targets/t2/invoke?blocking=N", "");
        assert_eq!(r.status, 200, "{}", r.text());
    }
    // Both runs over and fully reported: the view stops changing.
    let view = || reg.get(PEERS).json()["fleet"].clone();
    let mut last = view();
    assert!(
        common::eventually(Duration::from_secs(30), || {
            std::thread::sleep(Duration::from_millis(1500));
            let now = view();
            let done = [&addr_a, &addr_b].iter().all(|x| {
                let t = &now[x.as_str()]["t2"];
                t["latencyMs"]["p99"].is_number()
                    && t["requests"].as_u64().is_some_and(|r| r > 0)
                    && t["requests"] == t["invocations"]
            });
            let settled = done && now == last;
            last = now;
            settled
        }),
        "the peers' reports did not settle: {last}"
    );
    // A pod whose address does not answer: unhealthy, healthy again (a
    // reminder), unhealthy again.
    let ghost = format!("127.0.0.1:{}", free_port());
    let body = format!(r#"{{"name":"fleet","pod":"ghost","address":"{ghost}"}}"#);
    assert_eq!(reg.post("/registry/peers/add", &body).status, 200);
    assert_eq!(
        reg.get("/registry/peers/fleet/health").json()[&ghost],
        false
    );
    assert_eq!(
        reg.post("/registry/peers/fleet/remember", &body).status,
        200
    );
    assert_eq!(
        reg.get("/registry/peers/fleet/health").json()[&ghost],
        false
    );
    let spans = reg.get("/registry/peers").json()["fleet"]["podUnhealthySpans"][&ghost].clone();
    assert_eq!(spans.as_array().map(Vec::len), Some(2), "{spans}");

    browser.open(&format!("http://127.0.0.1:{}/ui#registry", reg.port));
    let rows = browser.wait_for(
        "the per-peer table of t2",
        Duration::from_secs(10),
        "var rs = [...document.querySelectorAll('section.label[data-label=fleet] .peers-of[data-target=t2] table.peers tr[data-address]')]; \
         if (rs.length !== 2) return null; \
         var f = ['requests', 'errors', 'rps', 'errorPct', 'invocations', 'p50', 'p90', 'p99']; \
         return rs.map(r => [r.getAttribute('data-address'), r.classList.contains('slowest'), !!r.querySelector('svg.spark polyline')] \
           .concat(f.map(k => r.querySelector('td[data-field=' + k + ']').textContent)));",
    );
    let v = view();
    let want = |addr: &str, slowest: bool| {
        let mut w = vec![
            serde_json::json!(addr),
            serde_json::json!(slowest),
            serde_json::json!(true),
        ];
        w.extend(
            peer_row(&v[addr]["t2"])
                .into_iter()
                .map(serde_json::Value::from),
        );
        serde_json::Value::Array(w)
    };
    assert_eq!(
        rows,
        serde_json::json!([want(&addr_b, true), want(&addr_a, false)]),
        "per-peer view: {v}"
    );
    let drawn = browser.wait_for(
        "the ghost's unhealthy spans",
        Duration::from_secs(10),
        &format!(
            "var n = document.querySelectorAll('svg.lifecycle g[data-address=\"{ghost}\"] rect.unhealthy').length; return n === 2 ? n : null;"
        ),
    );
    assert_eq!(drawn, 2);
    browser.eval("document.querySelector('section.label[data-label=fleet] svg.lifecycle').scrollIntoView(); return 1;");
    let shot = browser.screenshot("registry-peers");
    println!("ui_registry: screenshot {}", shot.display());

    // The page's budget: one hour of 1 s intervals from ten peers (their
    // per-second counts, the merged timeline) is fetched and drawn in one
    // refresh of the view.
    let now_min = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() / 60);
    for i in 0..10u64 {
        let addr = format!("127.0.0.1:{}", 20000 + i);
        let body = format!(r#"{{"name":"hour","pod":"p{i}","address":"{addr}"}}"#);
        assert_eq!(reg.post("/registry/peers/add", &body).status, 200);
        for m in now_min - 60..now_min {
            let key = format!("/registry/peers/hour/{addr}/locker/store/client_timeline_{m}");
            let r = reg.post(&key, &minute(m, 10 + i));
            assert_eq!(r.status, 200, "{}", r.text());
        }
    }
    // The per-peer view alone, with the page closed: the best of three (a
    // refresh still in flight holds the registry's lock for a while).
    browser.open("about:blank");
    let (mut size, mut served) = (0, Duration::MAX);
    for _ in 0..3 {
        let t0 = std::time::Instant::now();
        size = reg.get(PEERS).text().len();
        served = served.min(t0.elapsed());
    }
    browser.open(&format!("http://127.0.0.1:{}/ui#registry", reg.port));
    browser.wait_for(
        "the ten peers of the hour",
        Duration::from_secs(20),
        "return document.querySelectorAll('section.label[data-label=hour] table.peers tr[data-address]').length === 10;",
    );
    let ms = browser.eval(
        "var t0 = performance.now(); \
         return window.GOTO_UI.views.registry().then(function () { \
           var n = document.querySelectorAll('section.label[data-label=hour] table.peers tr[data-address]').length; \
           return [performance.now() - t0, n]; });",
    );
    let (took, rows) = (ms[0].as_f64().unwrap_or(f64::MAX), ms[1].as_u64());
    println!(
        "ui_registry: ten peers' hour: per-peer view {size} bytes served in {served:?}; the view's refresh fetched and drawn in {took:.0} ms"
    );
    assert_eq!(rows, Some(10), "{ms}");
    // A debug build on a shared machine: a loose bound (the goal is 1 s).
    assert!(took < 5000.0, "{took} ms");
}

/// One wall-clock minute of 1 s intervals, `req` requests each at 1 ms.
fn minute(m: u64, req: u64) -> String {
    Minute::new(m, 60, req, 1000).target("hour").text()
}
