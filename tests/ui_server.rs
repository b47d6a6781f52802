//! The server view in headless Chromium against the real binary: a forced
//! 503 share on the port shows in the view's status chart and table, with
//! the faults drawn on the same axis, and its counts equal /metrics'.

mod common;
mod ui_browser;

use std::time::{Duration, Instant};

use common::Goto;
use ui_browser::Browser;

fn metric(text: &str, line_start: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(line_start))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn a_forced_503_share_shows_in_the_server_view() {
    let Some(browser) = Browser::start("ui_server") else {
        return;
    };
    let g = Goto::start(&["--request-logs=false"]);
    assert_eq!(
        g.post("/response/status/set/503/percent/30", "").status,
        200
    );
    assert_eq!(g.post("/request/headers/track/add/x-team", "").status, 200);
    browser.open(&format!("http://127.0.0.1:{}/ui#server", g.port));
    browser.wait_for(
        "the server view",
        Duration::from_secs(10),
        "return !!document.getElementById('s-status');",
    );
    let t = format!(
        r#"{{"name":"s","method":"GET","url":"http://127.0.0.1:{}/orders","headers":[["x-team","blue"]],
            "replicas":2,"requestCount":0,"rate":100,"duration":"4s"}}"#,
        g.port
    );
    assert_eq!(g.post("/client/targets/add", &t).status, 200);
    assert_eq!(
        g.post("/client/targets/s/invoke?blocking=N", "").status,
        200
    );
    browser.wait_for(
        "503s charted",
        Duration::from_secs(15),
        "return [...document.querySelectorAll('#s-body .legend .lg')].some(e => e.textContent === '503') && [...document.querySelectorAll('#s-body .legend .lg')].some(e => e.textContent === 'fault: status');",
    );
    assert!(common::eventually(Duration::from_secs(20), || {
        g.get("/client/targets/active").json()["activeCount"] == 0
    }));
    let metrics = g.get("/metrics").text();
    let port = g.port;
    let want503 = metric(
        &metrics,
        &format!("goto_requests_total{{port=\"{port}\",status=\"503\"}}"),
    );
    let want200 = metric(
        &metrics,
        &format!("goto_requests_total{{port=\"{port}\",status=\"200\"}}"),
    );
    let faults = metric(
        &metrics,
        &format!("goto_faults_total{{port=\"{port}\",kind=\"status\"}}"),
    );
    assert!(
        want503 > 50 && want200 > 200,
        "503: {want503}, 200: {want200}"
    );
    assert_eq!(faults, want503, "each 503 was a drawn fault");
    let tracked = metric(
        &metrics,
        &format!("goto_tracked_header_requests_total{{port=\"{port}\",header=\"x-team\",value=\"blue\"}}"),
    );
    assert!(tracked > 0);
    let share = want503 as f64 / (want503 + want200) as f64;
    assert!((0.2..0.4).contains(&share), "503 share {share}");
    let script = "var g = k => { var c = document.querySelector('#s-status tr[data-key=\"' + k + '\"] td[data-field=responses]'); return c ? c.textContent : ''; }; \
                  var h = document.querySelector('#s-tracked tr[data-key=\"x-team blue\"] td[data-field=requests]'); \
                  return [g('503'), g('200'), h ? h.textContent : ''];";
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let got = browser.eval(script);
        let want = serde_json::json!([
            want503.to_string(),
            want200.to_string(),
            tracked.to_string()
        ]);
        if got == want {
            break;
        }
        assert!(Instant::now() < deadline, "page {got}, /metrics {want}");
        std::thread::sleep(Duration::from_millis(200));
    }
    let shot = browser.screenshot("server");
    println!("ui_server: screenshot {}", shot.display());
}
