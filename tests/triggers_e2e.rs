//! End-to-end tests of response triggers: a goto "sink" counts the calls a
//! server's triggers make when its responses (its own or a proxied
//! upstream's) carry a watched status.

mod common;

use std::time::Duration;

use common::Goto;

fn goto(label: &str) -> Goto {
    Goto::start(&["--request-logs=false", "--label", label])
}

/// A goto that counts requests by URI.
fn sink() -> Goto {
    let s = goto("sink");
    assert_eq!(s.post("/request/uri/counts/enable", "").status, 200);
    s
}

fn sink_count(s: &Goto, uri: &str) -> u64 {
    s.get("/request/uri/counts").json()[uri]
        .as_u64()
        .unwrap_or(0)
}

/// Waits until the sink saw `want` calls to `uri`, then checks it stays there.
fn expect_calls(s: &Goto, uri: &str, want: u64) {
    let mut last = 0;
    let reached = common::eventually(Duration::from_secs(5), || {
        last = sink_count(s, uri);
        last >= want
    });
    assert!(reached, "{uri}: {last} calls, want {want}");
    // Triggers run in the background: give a stray extra call a moment to show.
    std::thread::sleep(Duration::from_millis(150));
    assert_eq!(sink_count(s, uri), want, "{uri}");
}

fn add_trigger(g: &Goto, json: &str) {
    let r = g.post("/response/trigger/add", json);
    assert_eq!(r.status, 200, "{}", r.text());
}

#[test]
fn fires_once_per_matching_status_and_not_for_others() {
    let s = sink();
    let g = goto("server");
    add_trigger(
        &g,
        &format!(
            r#"{{"name":"t1","method":"POST","url":"http://127.0.0.1:{}/hit","headers":[["x-why","status"]],
                "body":"boom","enabled":true,"triggerOnResponseStatuses":[502,503]}}"#,
            s.port
        ),
    );
    for code in [200, 503, 404, 200, 502, 201] {
        assert_eq!(g.get(&format!("/status/{code}")).status, code);
    }
    // A forced status counts as the response status too.
    g.put("/response/status/set/503:1");
    assert_eq!(g.get("/x").status, 503);
    assert_eq!(g.get("/x").status, 200);
    expect_calls(&s, "/hit", 3);
    let c = g.get("/response/trigger/counts").json();
    assert_eq!(c["t1"]["triggerCount"], 3, "{c}");
    assert_eq!(c["t1"]["countsByStatus"]["200"], 3, "{c}");

    // Disabled: no calls; manual invoke still calls.
    assert_eq!(g.put("/response/trigger/t1/disable").status, 200);
    assert_eq!(g.get("/status/503").status, 503);
    let inv = g.post("/response/trigger/t1/invoke", "");
    assert_eq!(inv.status, 200);
    assert!(inv.text().contains("t1 -> 200"), "{}", inv.text());
    expect_calls(&s, "/hit", 4);
    assert_eq!(g.put("/response/trigger/t1/enable").status, 200);
    assert_eq!(g.get("/status/502").status, 502);
    expect_calls(&s, "/hit", 5);

    let list = g.get("/response/trigger/list").json();
    assert_eq!(list[0]["name"], "t1");
    assert_eq!(
        list[0]["triggerOnResponseStatuses"],
        serde_json::json!([502, 503])
    );

    // Bad input: 400, nothing changed.
    for bad in [
        "{oops".to_string(),
        r#"{"name":"t2","url":"http://127.0.0.1:1","triggerOnResponseStatuses":[999]}"#.to_string(),
        r#"{"name":"t2","url":"nope","triggerOnResponseStatuses":[500]}"#.to_string(),
    ] {
        assert_eq!(g.post("/response/trigger/add", &bad).status, 400, "{bad}");
    }
    assert_eq!(g.post("/response/trigger/nope/remove", "").status, 400);
    assert_eq!(g.post("/response/trigger/nope/invoke", "").status, 400);
    assert_eq!(g.get("/response/trigger/list").json(), list);

    assert_eq!(g.put("/response/trigger/t1/remove").status, 200);
    assert_eq!(g.get("/status/503").status, 503);
    expect_calls(&s, "/hit", 5);
    assert_eq!(g.post("/response/trigger/clear", "").status, 200);
    assert_eq!(
        g.get("/response/trigger/list").json(),
        serde_json::json!([])
    );
}

#[test]
fn fires_on_a_proxied_upstream_status() {
    let s = sink();
    let up = goto("upstream");
    let proxy = goto("proxy");
    let r = proxy.post(
        "/request/proxy/targets/add",
        &format!(
            r#"{{"name":"u","url":"http://127.0.0.1:{}","match":{{"uris":["/"]}}}}"#,
            up.port
        ),
    );
    assert_eq!(r.status, 200);
    add_trigger(
        &proxy,
        &format!(
            r#"{{"name":"on503","url":"http://127.0.0.1:{}/upstream-failed","triggerOnResponseStatuses":[503]}}"#,
            s.port
        ),
    );
    up.put("/response/status/set/503:2");
    let codes: Vec<u16> = (0..3).map(|_| proxy.get("/api").status).collect();
    assert_eq!(codes, vec![503, 503, 200]);
    expect_calls(&s, "/upstream-failed", 2);
}
