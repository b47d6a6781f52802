//! Every endpoint of API.md hit once through the real binary: each call must
//! be routed to its API (not the catch-all echo), answer the documented
//! status in the documented form (mutations: one text line; queries: JSON),
//! and a bad input per area must get a 4xx one-line reason without changing
//! what a query shows. Failures are collected so one run lists them all.

mod common;

use common::{free_port, request, Goto, Resp};

const QUIET: &str = "--request-logs=false";

/// What a good call must answer.
#[derive(Clone, Copy, PartialEq)]
enum Want {
    /// 200 and a one-line text message.
    Line,
    /// 200 and a JSON document.
    Json,
    /// 200 and any body (plain-text queries, echo, fan-out summaries).
    Any,
    /// This exact status.
    Status(u16),
}

/// The catch-all copies request headers back inside a JSON echo with "uri".
fn is_catch_all(r: &Resp) -> bool {
    serde_json::from_slice::<serde_json::Value>(&r.body)
        .ok()
        .is_some_and(|v| v.get("uri").is_some())
}

fn fill(s: &str, p: u16, u: u16, l: u16) -> String {
    s.replace("{P}", &p.to_string())
        .replace("{U}", &u.to_string())
        .replace("{L}", &l.to_string())
}

struct Run {
    port: u16,
    up: u16,
    lport: u16,
    failures: Vec<String>,
}

impl Run {
    fn call(&self, method: &str, path: &str, body: &str) -> (String, Resp) {
        let path = fill(path, self.port, self.up, self.lport);
        let body = fill(body, self.port, self.up, self.lport);
        let r = request(self.port, method, &path, &[], body.as_bytes());
        (path, r)
    }

    /// A valid call: documented status and form, never the catch-all.
    fn good(&mut self, method: &str, path: &str, body: &str, want: Want) {
        let (path, r) = self.call(method, path, body);
        let text = r.text();
        let line = || text.ends_with('\n') && text.trim_end().lines().count() == 1;
        let ok = match want {
            Want::Line => r.status == 200 && line(),
            Want::Json => {
                r.status == 200 && serde_json::from_slice::<serde_json::Value>(&r.body).is_ok()
            }
            Want::Any => r.status == 200,
            Want::Status(s) => r.status == s,
        };
        if std::env::var_os("API_DUMP").is_some() {
            eprintln!("{method} {path} -> {} {}", r.status, text.trim_end());
        }
        let routed = path.starts_with("/echo") || !is_catch_all(&r);
        if !ok || !routed {
            self.failures.push(format!(
                "{method} {path}: {} {}",
                r.status,
                text.chars().take(160).collect::<String>()
            ));
        }
    }

    /// A bad call: 4xx one-line reason, and `check` (a query) unchanged.
    fn bad(&mut self, method: &str, path: &str, body: &str, check: &str) {
        let before = (!check.is_empty()).then(|| self.call("GET", check, "").1.body);
        let (path, r) = self.call(method, path, body);
        let text = r.text();
        if !(400..500).contains(&r.status) || text.trim_end().lines().count() != 1 {
            self.failures.push(format!(
                "bad {method} {path}: {} {}",
                r.status,
                text.chars().take(160).collect::<String>()
            ));
        }
        if let Some(before) = before {
            let after = self.call("GET", check, "").1.body;
            if before != after {
                self.failures
                    .push(format!("bad {method} {path} changed GET {check}"));
            }
        }
    }
}

const TARGET: &str =
    r#"{"name":"t1","method":"GET","url":"http://127.0.0.1:{U}/echo","requestCount":1}"#;
const TARGET2: &str = r#"{"name":"t2","method":"GET","url":"http://127.0.0.1:{U}/echo"}"#;
const PEER: &str = r#"{"name":"peer1","namespace":"local","pod":"p1","address":"127.0.0.1:{U}"}"#;
const JOB: &str =
    r#"{"id":"j1","task":{"method":"GET","url":"http://127.0.0.1:{U}/echo"},"count":1}"#;
const RJOB: &str =
    r#"{"id":"rj1","task":{"method":"GET","url":"http://127.0.0.1:{U}/echo"},"count":1}"#;
const PROXY: &str =
    r#"{"name":"p1","url":"http://127.0.0.1:{U}","match":{"uris":["/px"]},"enabled":true}"#;
const TRIGGER: &str = r#"{"name":"tr1","method":"GET","url":"http://127.0.0.1:{U}/echo","enabled":true,"triggerOnResponseStatuses":[502]}"#;

#[test]
fn every_api_endpoint_is_routed_and_rejects_bad_input() {
    use Want::*;
    let up = Goto::start(&[QUIET]);
    let g = Goto::start(&[QUIET]);
    let mut r = Run {
        port: g.port,
        up: up.port,
        lport: free_port(),
        failures: Vec::new(),
    };

    // Client (load engine).
    r.good("PUT", "/client/blocking/set/Y", "", Line);
    r.good("POST", "/client/blocking/set/Y", "", Line);
    r.good("PUT", "/client/blocking/set/N", "", Line);
    r.good("POST", "/client/blocking/set/N", "", Line);
    r.good("GET", "/client/blocking", "", Json);
    r.good("POST", "/client/targets/add", TARGET, Line);
    r.good("PUT", "/client/targets/add", TARGET2, Line);
    r.good("GET", "/client/targets", "", Json);
    r.good("GET", "/client/targets/list", "", Json);
    r.good("GET", "/client/targets/active", "", Json);
    r.good("PUT", "/client/track/headers/add/x,y", "", Line);
    r.good("POST", "/client/track/headers/add/z", "", Line);
    r.good("PUT", "/client/track/headers/remove/z", "", Line);
    r.good("POST", "/client/track/headers/remove/y", "", Line);
    r.good("GET", "/client/track/headers", "", Any);
    r.good("GET", "/client/track/headers/list", "", Any);
    r.good("POST", "/client/track/headers/clear", "", Line);
    r.good("POST", "/client/targets/t1,t2/invoke", "", Line);
    r.good("POST", "/client/targets/invoke/all", "", Line);
    r.good("POST", "/client/targets/t1,t2/stop", "", Line);
    r.good("POST", "/client/targets/stop/all", "", Line);
    r.good("GET", "/client/results", "", Json);
    r.good("GET", "/client/results/invocations", "", Json);
    r.good("POST", "/client/results/t1/clear", "", Line);
    r.good("POST", "/client/results/clear", "", Line);
    r.bad("POST", "/client/targets/add", "{", "/client/targets");
    r.bad(
        "POST",
        "/client/targets/t1,nope/remove",
        "",
        "/client/targets",
    );
    r.bad("POST", "/client/targets/nope/invoke", "", "/client/results");
    r.bad("POST", "/client/targets/nope/stop", "", "");
    r.bad("PUT", "/client/blocking/set/X", "", "/client/blocking");
    r.bad(
        "PUT",
        "/client/track/headers/add/bad%20name",
        "",
        "/client/track/headers",
    );
    r.bad("GET", "/client/targets/clear", "", "/client/targets");
    // Decoded control characters in a quoted name must not split the reason.
    r.bad(
        "POST",
        "/client/targets/a%0Ab/remove",
        "",
        "/client/targets",
    );
    r.bad("GET", "/client/a%0Ab", "", "");
    r.bad(
        "PUT",
        "/response/headers/remove/a%0Ab",
        "",
        "/response/headers",
    );
    r.bad("GET", "/client/results/clear", "", "/client/results");
    r.good("POST", "/client/targets/t1,t2/remove", "", Line);
    r.good("POST", "/client/targets/add", TARGET, Line);
    r.good("POST", "/client/targets/clear", "", Line);

    // Listeners and labels.
    let listener = r#"{"port":{L},"protocol":"http","label":"Server-{L}"}"#;
    r.good("POST", "/listeners/add", listener, Line);
    r.good("GET", "/listeners", "", Json);
    r.good("PUT", "/listeners/{L}/close", "", Line);
    r.good("POST", "/listeners/{L}/open", "", Line);
    r.good("POST", "/listeners/{L}/close", "", Line);
    r.good("PUT", "/listeners/{L}/open", "", Line);
    r.bad("POST", "/listeners/add", "{", "/listeners");
    r.bad("POST", "/listeners/add", listener, "/listeners");
    r.bad("POST", "/listeners/99999/open", "", "/listeners");
    r.bad("POST", "/listeners/{L}/explode", "", "/listeners");
    r.bad("POST", "/listeners/{P}/close", "", "/listeners");
    r.bad("PUT", "/listeners/{P}/remove", "", "/listeners");
    r.bad("GET", "/listeners/{L}/close", "", "/listeners");
    r.good("PUT", "/listeners/{L}/remove", "", Line);
    // An empty label falls back to the instance label (never an empty Via-Goto).
    let l2 = free_port();
    let unlabelled = format!(r#"{{"port":{l2},"label":""}}"#);
    r.good("POST", "/listeners/add", &unlabelled, Line);
    let via = request(l2, "GET", "/x", &[], b"");
    assert_eq!(via.header("via-goto"), g.get("/label").text().trim().into());
    r.good("POST", &format!("/listeners/{l2}/remove"), "", Line);
    r.good("PUT", "/label/set/L1", "", Line);
    r.good("POST", "/label/set/L2", "", Line);
    r.good("GET", "/label", "", Any);
    r.bad("PUT", "/label/set/a%0Ab", "", "/label");
    r.bad("PUT", "/label/set/", "", "/label");
    r.bad("GET", "/label/set/a%0Ab", "", "/label");
    r.bad("GET", "/label/clear", "", "/label");
    r.good("PUT", "/label/clear", "", Line);
    r.good("POST", "/label/clear", "", Line);

    // Responder: status, delay, headers, payload, bypass, URI counts.
    r.good("PUT", "/response/status/set/418:1", "", Line);
    r.good("POST", "/response/status/set/503", "", Line);
    r.good("GET", "/response/status", "", Json);
    r.good("PUT", "/response/status/set/0", "", Line);
    r.good("PUT", "/response/status/clear", "", Line);
    r.good("POST", "/response/status/clear", "", Line);
    r.good("GET", "/status/418", "", Status(418));
    r.good("GET", "/response/status/counts", "", Json);
    r.good("GET", "/response/status/counts/418", "", Json);
    r.good("PUT", "/response/status/counts/clear", "", Line);
    r.good("POST", "/response/status/counts/clear", "", Line);
    r.bad("PUT", "/response/status/set/99", "", "/response/status");
    r.bad("PUT", "/response/status/set/502:x", "", "/response/status");
    r.bad("GET", "/response/status/counts/abc", "", "");
    r.bad("GET", "/status/abc", "", "");
    r.good("GET", "/echo", "", Json);
    // Everything else is runtime traffic: the catch-all echo, on any method.
    for m in ["GET", "POST", "DELETE"] {
        let echo = request(g.port, m, "/some/app/path?q=1", &[("x-mine", "1")], b"");
        assert!(is_catch_all(&echo), "{m}: {}", echo.text());
        assert_eq!(echo.header("x-mine"), Some("1"));
    }
    r.good("POST", "/echo", "hi", Json);
    r.good("PUT", "/response/delay/set/1ms", "", Line);
    r.good("POST", "/response/delay/set/2ms", "", Line);
    r.good("GET", "/response/delay", "", Json);
    r.bad("PUT", "/response/delay/set/soon", "", "/response/delay");
    r.good("PUT", "/response/delay/clear", "", Line);
    r.good("POST", "/response/delay/clear", "", Line);
    r.good("PUT", "/response/headers/add/x-a/1", "", Line);
    r.good("POST", "/response/headers/add/x-b/2", "", Line);
    r.good("GET", "/response/headers", "", Json);
    r.good("GET", "/response/headers/list", "", Json);
    r.good("PUT", "/response/headers/remove/x-a", "", Line);
    r.good("POST", "/response/headers/remove/x-b", "", Line);
    r.bad(
        "PUT",
        "/response/headers/add/bad%20name/v",
        "",
        "/response/headers",
    );
    r.good("PUT", "/response/headers/clear", "", Line);
    r.good("POST", "/response/headers/clear", "", Line);
    r.good("POST", "/response/payload/set/default", "hello", Line);
    r.good(
        "POST",
        "/response/payload/set/uri?uri=/foo/%7Bf%7D/bar/%7Bb%7D",
        "uri payload",
        Line,
    );
    r.good("POST", "/response/payload/set/header/x-p", "h", Line);
    r.good(
        "POST",
        "/response/payload/set/header/x-p/value/v",
        "hv",
        Line,
    );
    r.good("GET", "/response/payload", "", Json);
    r.bad(
        "POST",
        "/response/payload/set/uri",
        "x",
        "/response/payload",
    );
    r.bad(
        "POST",
        "/response/payload/set/header/bad%20h",
        "x",
        "/response/payload",
    );
    r.good("POST", "/response/payload/clear", "", Line);
    r.good("PUT", "/request/uri/bypass/add?uri=/b", "", Line);
    r.good("PUT", "/request/uri/bypass/add?uri=/x%0Ay", "", Line);
    r.good("POST", "/request/uri/bypass/add?uri=/c", "", Line);
    r.good("PUT", "/request/uri/bypass/remove?uri=/c", "", Line);
    r.good("POST", "/request/uri/bypass/status/set/200", "", Line);
    r.good("PUT", "/request/uri/bypass/status/set/204", "", Line);
    r.good("GET", "/request/uri/bypass", "", Json);
    r.good("GET", "/request/uri/bypass/list", "", Json);
    r.good("GET", "/request/uri/bypass/status", "", Json);
    r.good("GET", "/request/uri/bypass/counts?uri=/b", "", Json);
    r.bad("PUT", "/request/uri/bypass/add", "", "/request/uri/bypass");
    r.bad(
        "PUT",
        "/request/uri/bypass/status/set/abc",
        "",
        "/request/uri/bypass/status",
    );
    r.good("PUT", "/request/uri/bypass/clear", "", Line);
    r.good("POST", "/request/uri/bypass/clear", "", Line);
    r.good("POST", "/request/uri/counts/enable", "", Line);
    r.good("GET", "/request/uri/counts?ignored=1", "", Json);
    r.good("POST", "/request/uri/counts/clear", "", Line);
    r.good("POST", "/request/uri/counts/disable", "", Line);
    r.bad("GET", "/response/status/clear", "", "/response/status");
    r.bad("PUT", "/response/status/set/", "", "/response/status");
    r.bad("GET", "/response/delay/set/1s", "", "/response/delay");
    r.bad("GET", "/response/headers/clear", "", "/response/headers");
    r.bad(
        "GET",
        "/response/payload/set/default",
        "",
        "/response/payload",
    );
    r.bad("POST", "/response/payload", "x", "/response/payload");
    r.bad(
        "GET",
        "/request/uri/bypass/clear",
        "",
        "/request/uri/bypass",
    );
    r.bad("GET", "/request/uri/counts/enable", "", "");
    r.bad(
        "POST",
        "/response/payload/set/default",
        &"x".repeat(4 << 20 | 1),
        "/response/payload",
    );

    // Request tracking and timeouts.
    r.good("PUT", "/request/headers/track/add/x,y", "", Line);
    r.good("POST", "/request/headers/track/add/z", "", Line);
    r.good("PUT", "/request/headers/track/z/remove", "", Line);
    r.good("POST", "/request/headers/track/y/remove", "", Line);
    r.good("GET", "/request/headers/track", "", Json);
    r.good("GET", "/request/headers/track/list", "", Json);
    r.good("GET", "/request/headers/track/counts", "", Json);
    r.good("GET", "/request/headers/track/x/counts", "", Json);
    r.good("POST", "/request/headers/track/counts/clear/x", "", Line);
    r.good("POST", "/request/headers/track/counts/clear", "", Line);
    r.bad(
        "PUT",
        "/request/headers/track/add/bad%20h",
        "",
        "/request/headers/track",
    );
    r.bad(
        "PUT",
        "/request/headers/track/nope/remove",
        "",
        "/request/headers/track",
    );
    r.bad(
        "GET",
        "/request/headers/track/clear",
        "",
        "/request/headers/track",
    );
    r.bad(
        "POST",
        "/request/headers/track/x/counts",
        "",
        "/request/headers/track",
    );
    r.good("POST", "/request/headers/track/clear", "", Line);
    r.good("PUT", "/request/timeout/track/all", "", Line);
    r.good("POST", "/request/timeout/track/all", "", Line);
    r.good("PUT", "/request/timeout/track/headers/x,y", "", Line);
    r.good("POST", "/request/timeout/track/headers/z", "", Line);
    r.good("GET", "/request/timeout/status", "", Json);
    r.bad(
        "PUT",
        "/request/timeout/track/headers/bad%20h",
        "",
        "/request/timeout/status",
    );
    r.bad(
        "GET",
        "/request/timeout/track/all",
        "",
        "/request/timeout/status",
    );
    r.good("POST", "/request/timeout/track/clear", "", Line);

    // Proxy.
    r.good("POST", "/request/proxy/targets/add", PROXY, Line);
    r.good("GET", "/request/proxy/targets", "", Json);
    r.good("PUT", "/request/proxy/targets/p1/disable", "", Line);
    r.good("POST", "/request/proxy/targets/p1/enable", "", Line);
    r.good("POST", "/request/proxy/targets/p1/disable", "", Line);
    r.good("PUT", "/request/proxy/targets/p1/enable", "", Line);
    r.good("POST", "/request/proxy/targets/p1/invoke", "", Any);
    r.good("GET", "/request/proxy/counts", "", Json);
    r.good("POST", "/request/proxy/counts/clear", "", Line);
    r.bad(
        "POST",
        "/request/proxy/targets/add",
        "{",
        "/request/proxy/targets",
    );
    r.bad(
        "POST",
        "/request/proxy/targets/nope/enable",
        "",
        "/request/proxy/targets",
    );
    r.bad(
        "POST",
        "/request/proxy/targets/nope/invoke",
        "",
        "/request/proxy/targets",
    );
    r.bad(
        "GET",
        "/request/proxy/targets/clear",
        "",
        "/request/proxy/targets",
    );
    r.good("PUT", "/request/proxy/targets/p1/remove", "", Line);
    r.good("POST", "/request/proxy/targets/add", PROXY, Line);
    r.good("POST", "/request/proxy/targets/p1/remove", "", Line);
    r.good("POST", "/request/proxy/targets/clear", "", Line);

    // Triggers.
    r.good("POST", "/response/trigger/add", TRIGGER, Line);
    r.good("GET", "/response/trigger/list", "", Json);
    r.good("PUT", "/response/trigger/tr1/disable", "", Line);
    r.good("POST", "/response/trigger/tr1/enable", "", Line);
    r.good("POST", "/response/trigger/tr1/disable", "", Line);
    r.good("PUT", "/response/trigger/tr1/enable", "", Line);
    r.good("POST", "/response/trigger/tr1/invoke", "", Any);
    r.good("GET", "/response/trigger/counts", "", Json);
    r.bad(
        "POST",
        "/response/trigger/add",
        "{",
        "/response/trigger/list",
    );
    r.bad(
        "POST",
        "/response/trigger/nope/remove",
        "",
        "/response/trigger/list",
    );
    r.bad(
        "POST",
        "/response/trigger/nope/invoke",
        "",
        "/response/trigger/list",
    );
    r.bad(
        "GET",
        "/response/trigger/clear",
        "",
        "/response/trigger/list",
    );
    r.good("PUT", "/response/trigger/tr1/remove", "", Line);
    r.good("POST", "/response/trigger/add", TRIGGER, Line);
    r.good("POST", "/response/trigger/tr1/remove", "", Line);
    r.good("POST", "/response/trigger/clear", "", Line);

    // Jobs.
    r.good("POST", "/jobs/add", JOB, Line);
    r.good("GET", "/jobs", "", Json);
    r.good("POST", "/jobs/j1/run", "", Line);
    r.good("POST", "/jobs/run/all", "", Line);
    r.good("POST", "/jobs/j1/stop", "", Line);
    r.good("POST", "/jobs/stop/all", "", Line);
    r.good("GET", "/jobs/results", "", Json);
    r.good("GET", "/jobs/j1/results", "", Json);
    r.bad("POST", "/jobs/add", "{", "/jobs");
    r.bad("POST", "/jobs/nope/run", "", "/jobs");
    r.bad("POST", "/jobs/nope/remove", "", "/jobs");
    r.bad("GET", "/jobs/nope/results", "", "/jobs");
    r.bad("GET", "/jobs/clear", "", "/jobs");
    r.bad("GET", "/jobs/j1/run", "", "/jobs");
    r.good("POST", "/jobs/j1/remove", "", Line);
    r.good("POST", "/jobs/clear", "", Line);

    // Registry: this instance is the registry, `up` is the one peer.
    r.good("POST", "/registry/peers/add", PEER, Any);
    r.good("POST", "/registry/peers/peer1/remember", PEER, Any);
    r.good("GET", "/registry/peers", "", Json);
    r.good("GET", "/registry/peers/health", "", Json);
    r.good("GET", "/registry/peers/peer1/health", "", Json);
    r.good(
        "GET",
        "/registry/peers/peer1/health/127.0.0.1:{U}",
        "",
        Json,
    );
    r.good("POST", "/registry/peers/peer1/targets/add", TARGET, Any);
    r.good("GET", "/registry/peers/targets", "", Json);
    r.good("GET", "/registry/peers/peer1/targets", "", Json);
    r.good("POST", "/registry/peers/peer1/targets/t1/invoke", "", Any);
    r.good("PUT", "/registry/peers/peer1/targets/invoke/all", "", Any);
    r.good("PUT", "/registry/peers/peer1/targets/t1/stop", "", Any);
    r.good("POST", "/registry/peers/peer1/targets/stop/all", "", Any);
    r.good("POST", "/registry/peers/targets/invoke/all", "", Any);
    r.good("PUT", "/registry/peers/targets/stop/all", "", Any);
    r.good("PUT", "/registry/peers/track/headers/x,y", "", Any);
    r.good("POST", "/registry/peers/track/headers/x", "", Any);
    r.good("POST", "/registry/peers/peer1/jobs/add", RJOB, Any);
    r.good("GET", "/registry/peers/jobs", "", Json);
    r.good("GET", "/registry/peers/peer1/jobs", "", Json);
    r.good("POST", "/registry/peers/peer1/jobs/rj1/run", "", Any);
    r.good("POST", "/registry/peers/peer1/jobs/run/all", "", Any);
    r.good("POST", "/registry/peers/peer1/jobs/rj1/stop", "", Any);
    r.good("POST", "/registry/peers/peer1/jobs/stop/all", "", Any);
    r.good("POST", "/registry/peers/peer1/jobs/rj1/remove", "", Any);
    r.good("POST", "/registry/peers/peer1/jobs/clear", "", Any);
    r.good("PUT", "/registry/peers/peer1/targets/t1/remove", "", Any);
    r.good("POST", "/registry/peers/peer1/targets/add", TARGET, Any);
    r.good("POST", "/registry/peers/peer1/targets/clear", "", Any);
    r.good("PUT", "/registry/peers/peer1/targets/clear", "", Any);
    let inst = "/registry/peers/peer1/127.0.0.1:{U}/locker";
    r.good("POST", &format!("{inst}/store/k1"), "v1", Line);
    r.good("POST", &format!("{inst}/store/k2"), "v2", Line);
    r.good("POST", &format!("{inst}/lock/k1"), "", Line);
    r.good("POST", &format!("{inst}/remove/k2"), "", Line);
    r.good("GET", inst, "", Json);
    r.good("GET", "/registry/peers/peer1/locker", "", Json);
    r.good("GET", "/registry/peers/lockers", "", Json);
    r.good("GET", "/registry/peer/lockers", "", Json);
    r.good("GET", "/registry/peer/peer1/locker", "", Json);
    r.good("GET", "/registry/peers/lockers/targets/results", "", Json);
    r.good(
        "GET",
        "/registry/peers/lockers/targets/results?detailed=Y",
        "",
        Json,
    );
    r.good("POST", &format!("{inst}/clear"), "", Line);
    r.good("POST", "/registry/peers/peer1/locker/clear", "", Line);
    r.good("POST", "/registry/peer/peer1/locker/clear", "", Line);
    r.good("POST", "/registry/peers/lockers/clear", "", Line);
    r.bad("POST", "/registry/peers/add", "{", "/registry/peers");
    r.bad(
        "POST",
        "/registry/peers/nope/remember",
        PEER,
        "/registry/peers",
    );
    r.bad(
        "POST",
        "/registry/peers/peer1/targets/add",
        "{",
        "/registry/peers/targets",
    );
    r.bad(
        "POST",
        "/registry/peers/peer1/jobs/add",
        "{",
        "/registry/peers/jobs",
    );
    r.bad(
        "PUT",
        "/registry/peers/peer1/remove/bad",
        "",
        "/registry/peers",
    );
    r.bad(
        "POST",
        &format!("{inst}/explode/k"),
        "",
        "/registry/peers/lockers",
    );
    r.bad("PUT", "/registry/peers/track/headers/bad%20h", "", "");
    r.bad("GET", "/registry/peers/clear", "", "/registry/peers");
    r.good("POST", "/registry/peers/health/cleanup", "", Any);
    r.good("POST", "/registry/peers/peer1/health/cleanup", "", Any);
    r.good("POST", "/registry/peers/clear/epochs", "", Line);
    r.good(
        "PUT",
        "/registry/peers/peer1/remove/127.0.0.1:{U}",
        "",
        Line,
    );
    r.good("POST", "/registry/peers/clear", "", Line);

    // gRPC.
    const PROTO: &str = "syntax = \"proto3\";\npackage demo;\nservice S { rpc M(R) returns (R); }\nmessage R { string a = 1; }\n";
    r.good("GET", "/grpc/health", "", Json);
    r.good("PUT", "/grpc/health/set/SERVING", "", Line);
    r.good("PUT", "/grpc/health/goto.Goto/set/NOT_SERVING", "", Line);
    r.bad(
        "PUT",
        "/grpc/health/goto.Goto/set/MAYBE",
        "",
        "/grpc/health",
    );
    r.good("PUT", "/grpc/status/set/UNAVAILABLE:2", "", Line);
    r.good("PUT", "/grpc/status/set/14/percent/10", "", Line);
    r.bad("PUT", "/grpc/status/set/NOPE", "", "/grpc/faults");
    r.good("PUT", "/grpc/status/clear", "", Line);
    r.good("PUT", "/grpc/delay/set/10ms", "", Line);
    r.good("PUT", "/grpc/delay/set/10ms-20ms/percent/5", "", Line);
    r.bad("PUT", "/grpc/delay/set/soon", "", "/grpc/faults");
    r.good("PUT", "/grpc/delay/clear", "", Line);
    r.good("PUT", "/grpc/reset/set/1", "", Line);
    r.good("PUT", "/grpc/goaway/set/1", "", Line);
    r.good("GET", "/grpc/faults", "", Json);
    r.good("PUT", "/grpc/faults/seed/7", "", Line);
    r.bad("PUT", "/grpc/faults/seed/x", "", "/grpc/faults");
    r.good("GET", "/grpc/faults/counts", "", Json);
    r.good("PUT", "/grpc/faults/counts/clear", "", Line);
    r.good("PUT", "/grpc/faults/clear", "", Line);
    r.good("POST", "/grpc/protos/add/demo", PROTO, Json);
    r.bad(
        "POST",
        "/grpc/protos/add/broken",
        "syntax = ",
        "/grpc/protos",
    );
    r.good("GET", "/grpc/protos", "", Json);
    r.good("POST", "/grpc/responses/set/demo.S/M", r#"{"a":"x"}"#, Line);
    r.bad(
        "POST",
        "/grpc/responses/set/demo.S/Nope",
        "{}",
        "/grpc/protos",
    );
    r.good("POST", "/grpc/protos/clear", "", Line);
    r.good("GET", "/grpc/counts", "", Json);
    r.good("PUT", "/grpc/counts/clear", "", Line);

    assert!(
        r.failures.is_empty(),
        "{} API calls misbehaved:\n{}",
        r.failures.len(),
        r.failures.join("\n")
    );
}
