//! The seed's usage scenarios (`seed/goto-usage-scenarios.md`) replayed
//! command by command against real goto processes: the bodies are the seed's
//! own text with only host names swapped for 127.0.0.1 ports, and each answer
//! is checked for the shape the seed shows (message lines, JSON keys and
//! nesting). Counts and behaviour in depth live in the other e2e files.

mod common;

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::{eventually, free_port, request, Goto, Resp};
use serde_json::Value;

const QUIET: &str = "--request-logs=false";

/// One curl: asserts 200 and returns the response.
fn curl(g: &Goto, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Resp {
    let r = request(g.port, method, path, headers, body.as_bytes());
    assert_eq!(r.status, 200, "{method} {path}: {}", r.text());
    r
}

/// One curl whose answer is a one-line message.
fn line(g: &Goto, method: &str, path: &str, body: &str) -> String {
    let text = curl(g, method, path, &[], body).text();
    assert!(
        text.ends_with('\n') && text.trim_end().lines().count() == 1,
        "{method} {path}: not one line: {text:?}"
    );
    text.trim_end().to_string()
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .keys()
        .cloned()
        .collect()
}

fn set(ks: &[&str]) -> BTreeSet<String> {
    ks.iter().map(|k| k.to_string()).collect()
}

/// Every key the seed shows is there (extra, documented keys are allowed).
fn has_keys(v: &Value, ks: &[&str]) {
    let have = keys(v);
    for k in ks {
        assert!(have.contains(*k), "missing {k} in {v}");
    }
}

fn addr(g: &Goto) -> String {
    format!("127.0.0.1:{}", g.port)
}

fn n(v: &Value) -> u64 {
    v.as_u64().unwrap_or(0)
}

const RESULT_KEYS: &[&str] = &[
    "targetInvocationCounts",
    "countsByStatus",
    "countsByStatusCodes",
    "countsByHeaders",
    "countsByHeaderValues",
    "countsByTargetStatus",
    "countsByTargetStatusCode",
    "countsByTargetHeaders",
    "countsByTargetHeaderValues",
];

/// Scenario: Use HTTP client to send requests and track results.
#[test]
fn s1_client_sends_requests_and_tracks_results() {
    let s1 = Goto::start(&["--label", "Server8081", QUIET]);
    let s2 = Goto::start(&["--label", "Server8082", QUIET]);
    let s3 = Goto::start(&["--label", "Server8083", QUIET]);
    let c = Goto::start(&["--label", "goto-client", QUIET]);
    let hosts = |s: &str| {
        s.replace("goto-server-1:8080", &addr(&s1))
            .replace("goto-server-2:8080", &addr(&s2))
            .replace("goto-server-3:8080", &addr(&s3))
    };

    assert_eq!(
        line(&c, "POST", "/client/targets/clear", ""),
        "Targets cleared"
    );
    let t1 = hosts(
        r#"
      { 
      "name": "target1",
      "method":	"POST",
      "url": "http://goto-server-1:8080/some/api",
      "headers":[["x", "x1"],["y", "y1"]],
      "body": "{\"test\":\"this\"}",
      "replicas": 2, "requestCount": 200, 
      "delay": "200ms", "sendID": true
      }"#,
    );
    assert_eq!(
        line(&c, "POST", "/client/targets/add", &t1),
        hosts(
            r#"Added target: {"name":"target1","method":"POST","url":"http://goto-server-1:8080/some/api","headers":[["x","x1"],["y","y1"]],"body":"{\"test\":\"this\"}","bodyReader":null,"replicas":2,"requestCount":200,"delay":"200ms","keepOpen":"","sendID":true}"#
        )
    );
    let t2 = hosts(
        r#"
      { 
      "name": "target2",
      "method":	"PUT",
      "url": "http://goto-server-2:8080/another/api",
      "headers":[["x", "x2"], ["y", "y2"]],
      "body": "{\"some\":\"thing\"}",
      "replicas": 1, "requestCount": 200, 
      "delay": "200ms", "sendID": true
      }"#,
    );
    assert_eq!(
        line(&c, "POST", "/client/targets/add", &t2),
        hosts(
            r#"Added target: {"name":"target2","method":"PUT","url":"http://goto-server-2:8080/another/api","headers":[["x","x2"],["y","y2"]],"body":"{\"some\":\"thing\"}","bodyReader":null,"replicas":1,"requestCount":200,"delay":"200ms","keepOpen":"","sendID":true}"#
        )
    );
    let listed = curl(&c, "GET", "/client/targets", &[], "").json();
    assert_eq!(keys(&listed), set(&["target1", "target2"]));
    assert_eq!(
        listed["target1"]["headers"][1],
        serde_json::json!(["y", "y1"])
    );

    assert_eq!(
        line(&c, "POST", "/client/track/headers/clear", ""),
        "All tracking headers cleared"
    );
    assert_eq!(
        line(&c, "PUT", "/client/track/headers/add/x,y,z,foo", ""),
        "Header x,y,z,foo will be tracked"
    );
    assert_eq!(line(&c, "GET", "/client/track/headers", ""), "x,y,z,foo");

    assert_eq!(
        line(&s1, "PUT", "/response/status/set/502:20", ""),
        "Will respond with forced status: 502 times 20"
    );
    assert_eq!(
        line(&s2, "PUT", "/response/status/set/503:20", ""),
        "Will respond with forced status: 503 times 20"
    );

    assert_eq!(
        line(&c, "PUT", "/client/blocking/set/N", ""),
        "Invocation will not block for results"
    );
    assert_eq!(
        line(&c, "POST", "/client/targets/invoke/all", ""),
        "Targets invoked"
    );

    let t3 = hosts(
        r#"
      { 
      "name": "target3",
      "method":	"OPTIONS",
      "url": "http://goto-server-3:8080/foo",
      "headers":[["foo", "bar1"], ["x", "x1"], ["y", "y1"]],
      "body": "{\"some\":\"thing\"}",
      "replicas": 3, "requestCount": 100, 
      "delay": "20ms", "sendID": true
      }"#,
    );
    assert_eq!(
        line(&c, "POST", "/client/targets/add", &t3),
        hosts(
            r#"Added target: {"name":"target3","method":"OPTIONS","url":"http://goto-server-3:8080/foo","headers":[["foo","bar1"],["x","x1"],["y","y1"]],"body":"{\"some\":\"thing\"}","bodyReader":null,"replicas":3,"requestCount":100,"delay":"20ms","keepOpen":"","sendID":true}"#
        )
    );
    assert_eq!(
        line(&c, "POST", "/client/targets/target3/invoke", ""),
        "Targets invoked"
    );
    assert_eq!(
        line(&c, "POST", "/client/targets/target1,target2/stop", ""),
        "Targets stopped"
    );

    // The seed's results also count a refused connection under code "0" and
    // the error text; one request to a closed port adds that entry.
    let closed = free_port();
    let t4 = format!(
        r#"{{"name":"target4","method":"POST","url":"http://127.0.0.1:{closed}/some/api"}}"#
    );
    line(&c, "POST", "/client/targets/add", &t4);
    line(&c, "POST", "/client/targets/target4/invoke", "");

    assert!(
        eventually(Duration::from_secs(15), || {
            let r = c.get("/client/results").json();
            n(&r["targetInvocationCounts"]["target3"]) == 300
                && n(&r["targetInvocationCounts"]["target4"]) == 1
        }),
        "{}",
        c.get("/client/results").text()
    );
    let r = curl(&c, "GET", "/client/results", &[], "").json();
    has_keys(&r, RESULT_KEYS);
    for k in RESULT_KEYS {
        // Per-target maps are keyed by target; the rest by status or header.
        if k.starts_with("countsByTarget") || *k == "targetInvocationCounts" {
            has_keys(&r[k], &["target1", "target2", "target3", "target4"]);
        }
    }
    has_keys(&r["countsByStatus"], &["200 OK"]);
    has_keys(&r["countsByStatusCodes"], &["200", "0"]);
    let refused = format!(
        "Post \"http://127.0.0.1:{closed}/some/api\": dial tcp 127.0.0.1:{closed}: connect: connection refused"
    );
    assert_eq!(r["countsByStatus"][&refused], 1, "{}", r["countsByStatus"]);
    assert_eq!(r["countsByTargetStatus"]["target4"][&refused], 1);
    assert_eq!(r["countsByTargetStatusCode"]["target4"]["0"], 1);
    has_keys(
        &r["countsByHeaders"],
        &["foo", "goto-host", "via-goto", "x", "y"],
    );
    has_keys(&r["countsByHeaderValues"]["via-goto"], &["Server8083"]);
    has_keys(&r["countsByHeaderValues"]["foo"], &["bar1"]);
    has_keys(
        &r["countsByTargetHeaders"]["target3"],
        &["foo", "goto-host", "via-goto", "x", "y"],
    );
    let hv3 = &r["countsByTargetHeaderValues"]["target3"];
    assert_eq!(hv3["foo"]["bar1"], 300, "{hv3}");
    assert_eq!(hv3["via-goto"]["Server8083"], 300);
    assert_eq!(r["countsByTargetStatus"]["target3"]["200 OK"], 300);
    assert_eq!(r["countsByTargetStatusCode"]["target3"]["200"], 300);
}

/// Scenario: Run dynamic traffic from K8s pods at startup.
#[test]
fn s2_registry_targets_auto_invoke_at_peer_startup() {
    let somewhere = Goto::start(&["--label", "somewhere", QUIET]);
    let reg = Goto::start(&["--label", "registry", QUIET]);
    let t1 = r#"
      { 
      "name": "t1",
      "method":	"POST",
      "url": "http://somewhere/foo",
      "headers":[["x", "x1"],["y", "y1"]],
      "body": "{\"test\":\"this\"}",
      "replicas": 2,
      "requestCount": 200, 
      "delay": "50ms", 
      "sendID": false,
      "autoInvoke": true
      }"#
    .replace("somewhere", &addr(&somewhere));
    let added = line(&reg, "POST", "/registry/peers/peer1/targets/add", &t1);
    assert!(added.starts_with("Added target: {"), "{added}");

    let registry = format!("http://{}", addr(&reg));
    let peer = Goto::start(&["--label", "peer1", "--registry", &registry, QUIET]);
    // Registration runs in the background once the peer serves.
    let mut targets = Value::Null;
    eventually(Duration::from_secs(10), || {
        targets = curl(&peer, "GET", "/client/targets", &[], "").json();
        !keys(&targets).is_empty()
    });
    assert_eq!(keys(&targets), set(&["t1"]), "{targets}");
    assert_eq!(targets["t1"]["autoInvoke"], true);
    assert_eq!(targets["t1"]["replicas"], 2);

    let mut last = Value::Null;
    assert!(
        eventually(Duration::from_secs(10), || {
            last = peer.get("/client/results").json();
            n(&last["targetInvocationCounts"]["t1"]) > 0
        }),
        "no auto-invoked traffic: {last}"
    );
    has_keys(&last, RESULT_KEYS);
    has_keys(&last["countsByTargetStatus"]["t1"], &["200 OK"]);
}

fn epoch_keys() -> BTreeSet<String> {
    set(&["epoch", "name", "address", "firstContact", "lastContact"])
}

/// Scenario: Deal with transient pods.
#[test]
fn s3_registry_records_pod_epochs() {
    let reg = Goto::start(&["--label", "registry", QUIET]);
    let registry = format!("http://{}", addr(&reg));
    let args = ["--label", "peer1", "--registry", &registry, QUIET];
    let port = free_port();
    let mut peer = Goto::start_on(port, &args, &[]);
    let me = addr(&peer);

    // Registration runs in the background once the peer serves.
    let mut peers = Value::Null;
    eventually(Duration::from_secs(10), || {
        peers = curl(&reg, "GET", "/registry/peers", &[], "").json();
        peers["peer1"]["pods"].get(&me).is_some()
    });
    assert_eq!(keys(&peers), set(&["peer1"]), "{peers}");
    let p = &peers["peer1"];
    assert_eq!(keys(p), set(&["name", "namespace", "pods", "podEpochs"]));
    assert_eq!(p["name"], "peer1");
    assert_eq!(p["namespace"], "local");
    let pod = &p["pods"][&me];
    assert_eq!(
        keys(pod),
        set(&["name", "address", "healthy", "currentEpoch", "pastEpochs"]),
        "{pod}"
    );
    assert_eq!(pod["address"], me.as_str());
    assert_eq!(pod["healthy"], true);
    assert_eq!(keys(&pod["currentEpoch"]), epoch_keys());
    assert_eq!(pod["currentEpoch"]["epoch"], 0);
    assert!(pod["pastEpochs"].is_null(), "{pod}");
    assert_eq!(p["podEpochs"][&me].as_array().map(Vec::len), Some(1));

    // Dies without deregistering, comes back at the same address: a new epoch.
    peer.signal(libc::SIGKILL);
    peer.wait_exit(Duration::from_secs(5));
    let mut peer = Goto::start_on(port, &args, &[]);
    let mut last = Value::Null;
    assert!(
        eventually(Duration::from_secs(5), || {
            last = reg.get("/registry/peers").json();
            last["peer1"]["pods"][&me]["currentEpoch"]["epoch"] == 1
        }),
        "{last}"
    );
    let pod = &last["peer1"]["pods"][&me];
    let past = pod["pastEpochs"].as_array().cloned().unwrap_or_default();
    assert_eq!(past.len(), 1, "{pod}");
    assert_eq!(keys(&past[0]), epoch_keys());
    let epochs = last["peer1"]["podEpochs"][&me]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(epochs.len(), 2, "{last}");
    assert_eq!(epochs[1]["epoch"], 1);

    // A clean shutdown deregisters: gone from pods, kept in podEpochs.
    peer.signal(libc::SIGTERM);
    peer.wait_exit(Duration::from_secs(5));
    assert!(
        eventually(Duration::from_secs(5), || {
            last = reg.get("/registry/peers").json();
            last["peer1"]["pods"].as_object().map(|m| m.is_empty()) == Some(true)
        }),
        "{last}"
    );
    assert_eq!(
        last["peer1"]["podEpochs"][&me].as_array().map(Vec::len),
        Some(2)
    );
}

/// Scenario: Capture results from transient pods.
#[test]
fn s4_registry_locker_keeps_peer_results() {
    let server = Goto::start(&["--label", "server", QUIET]);
    let reg = Goto::start(&["--label", "registry", QUIET]);
    let registry = format!("http://{}", addr(&reg));
    let peer = Goto::start(&[
        "--label",
        "peer1",
        "--registry",
        &registry,
        "--locker",
        "true",
        QUIET,
    ]);
    let t = format!(
        r#"{{"name":"t11","method":"GET","url":"http://{}/x","requestCount":3,"delay":"1ms"}}"#,
        addr(&server)
    );
    line(&peer, "POST", "/client/targets/add", &t);
    curl(&peer, "POST", "/client/targets/invoke/all", &[], "");
    let job = format!(
        r#"{{"id":"job1","task":{{"url":"http://{}/echo","parseJSON":true}},"count":1}}"#,
        addr(&server)
    );
    curl(&peer, "POST", "/jobs/add", &[], &job);
    curl(&peer, "POST", "/jobs/job1/run", &[], "");

    let entry_keys = set(&["Data", "FirstReported", "LastReported"]);
    let mut all = Value::Null;
    assert!(
        eventually(Duration::from_secs(10), || {
            all = reg.get("/registry/peer/lockers").json();
            all["peer1"]["client"].is_object()
                && all["peer1"]["client_1"].is_object()
                && all["peer1"]["job_job1_1"].is_object()
        }),
        "{all}"
    );
    for key in ["client", "client_1"] {
        let e = &all["peer1"][key];
        assert_eq!(keys(e), entry_keys, "{key}: {e}");
        // Data is the results document as a JSON string.
        let data: Value = serde_json::from_str(e["Data"].as_str().unwrap_or_default())
            .unwrap_or_else(|err| panic!("{key} Data not JSON ({err}): {e}"));
        assert_eq!(data["targetInvocationCounts"]["t11"], 3, "{data}");
    }
    // A job run's Data: its results as an array, in the seed's field names.
    let job_run = &all["peer1"]["job_job1_1"];
    assert_eq!(keys(job_run), entry_keys, "{job_run}");
    let runs: Value = serde_json::from_str(job_run["Data"].as_str().unwrap_or_default())
        .unwrap_or_else(|err| panic!("job Data not JSON ({err}): {job_run}"));
    has_keys(&runs[0], &["Index", "Finished", "ResultTime", "Data"]);
    assert_eq!(runs[0]["Index"], "1.1", "{runs}");

    let mine = curl(&reg, "GET", "/registry/peer/peer1/locker", &[], "").json();
    has_keys(&mine, &["client", "client_1", "job_job1_1"]);
    assert_eq!(keys(&mine["client"]), entry_keys);

    let cleared = line(&reg, "POST", "/registry/peer/peer1/locker/clear", "");
    assert!(!cleared.is_empty());
    let mine = curl(&reg, "GET", "/registry/peer/peer1/locker", &[], "").json();
    assert!(mine.as_object().is_some_and(|m| m.is_empty()), "{mine}");
    let cleared = line(&reg, "POST", "/registry/peers/lockers/clear", "");
    assert!(!cleared.is_empty());
    let all = curl(&reg, "GET", "/registry/peer/lockers", &[], "").json();
    assert!(
        all.as_object().is_some_and(|m| m
            .values()
            .all(|v| v.as_object().is_some_and(|p| p.is_empty()))),
        "{all}"
    );
}

/// Scenario: HTTPS traffic with certificate validation (verification itself
/// is covered by client_e2e's https test).
#[test]
fn s5_https_target_with_certs_dir_and_host_header() {
    // A certs directory that does not exist is not a startup error.
    let g = Goto::start(&["--certs", "/some/location/on/local/filesystem", QUIET]);
    let added = line(
        &g,
        "POST",
        "/client/targets/add",
        r#"
{ 
"name": "t1",
"method":	"GET",
"url": "https://somewhere.com",
"headers":[["Host", "somewhere.else.com"]],
"verifyTLS": true
}"#,
    );
    let json = added
        .strip_prefix("Added target: ")
        .unwrap_or_else(|| panic!("{added}"));
    let t: Value = serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {added}"));
    assert_eq!(t["verifyTLS"], true);
    assert_eq!(t["url"], "https://somewhere.com");
    assert_eq!(
        t["headers"],
        serde_json::json!([["Host", "somewhere.else.com"]])
    );
}

/// Scenario: Use HTTP server to respond to any arbitrary client HTTP requests
/// (no commands in the seed; its claims: any URI answers 200, the request is
/// shown back, a forced status applies to runtime requests).
#[test]
fn s6_server_answers_arbitrary_requests() {
    let g = Goto::start(&["--label", "goto", QUIET]);
    let r = curl(
        &g,
        "PUT",
        "/some/arbitrary/api?a=1",
        &[("x", "x1")],
        "hello",
    );
    has_keys(&r.json(), &["method", "uri", "headers", "query", "body"]);
    assert_eq!(r.header("via-goto"), Some("goto"));
    assert!(r.header("goto-host").is_some());
    line(&g, "PUT", "/response/status/set/418:1", "");
    assert_eq!(g.get("/any/thing").status, 418);
    assert_eq!(g.get("/any/thing").status, 200);
}

/// Scenario: Test a client's behavior upon service failure.
#[test]
fn s7_proxy_with_injected_failures() {
    let realserver = Goto::start(&["--label", "realserver", QUIET]);
    let g = Goto::start(&["--label", "goto", QUIET]);
    assert_eq!(
        curl(&realserver, "GET", "/my/fancy/api", &[], "").status,
        200
    );
    assert_eq!(curl(&g, "GET", "/", &[], "").status, 200);

    let body = r#"{"name": "myServer", "match":{"uris":["/my/fancy/api"]}, "url":"http://realserver", "enabled":true}"#
        .replace("realserver", &addr(&realserver));
    let added = line(&g, "POST", "/request/proxy/targets/add", &body);
    assert!(added.starts_with("Added proxy target: {"), "{added}");

    let r = curl(&g, "GET", "/my/fancy/api", &[], "");
    assert_eq!(r.headers_all("via-goto"), vec!["realserver", "goto"]);

    assert_eq!(
        line(&g, "PUT", "/response/status/set/503:2", ""),
        "Will respond with forced status: 503 times 2"
    );
    let statuses: Vec<u16> = (0..3).map(|_| g.get("/my/fancy/api").status).collect();
    assert_eq!(statuses, vec![503, 503, 200]);
}

/// Scenario: Count number of requests received at each service instance for
/// certain headers.
#[test]
fn s8_header_counts_per_instance() {
    let service1 = Goto::start(&["--label", "service-1", QUIET]);
    let service2 = Goto::start(&["--label", "service-2", QUIET]);
    let goto1 = Goto::start(&["--label", "goto-1", QUIET]);
    let goto2 = Goto::start(&["--label", "goto-2", QUIET]);

    for g in [&goto1, &goto2] {
        assert_eq!(
            line(g, "POST", "/request/headers/track/clear", ""),
            "All tracking headers cleared"
        );
        assert_eq!(
            line(g, "PUT", "/request/headers/track/add/foo,bar", ""),
            "Header foo,bar will be tracked"
        );
    }
    // The seed's bodies carry a literal backslash-newline inside single quotes.
    let body1 = "{\"name\": \"service-1\", \\\n  \"url\":\"http://service-1\", \\\n  \"match\":{\"uris\":[\"/\"]}, \\\n  \"enabled\":true}"
        .replace("http://service-1", &format!("http://{}", addr(&service1)));
    let body2 = "{\"name\": \"service-2\", \\\n  \"url\":\"http://service-2\", \\\n  \"match\":{\"uris\":[\"/\"]}, \\\n  \"enabled\":true}"
        .replace("http://service-2", &format!("http://{}", addr(&service2)));
    line(&goto1, "POST", "/request/proxy/targets/add", &body1);
    line(&goto2, "POST", "/request/proxy/targets/add", &body2);

    curl(&goto1, "GET", "/some/uri", &[("foo", "foo1")], "");
    curl(
        &goto1,
        "GET",
        "/some/uri",
        &[("foo", "foo1"), ("bar", "bar1")],
        "",
    );
    curl(&goto2, "GET", "/some/uri", &[("bar", "bar2")], "");
    curl(
        &goto2,
        "GET",
        "/some/uri",
        &[("foo", "foo2"), ("bar", "bar2")],
        "",
    );

    let per_header = set(&[
        "RequestCountsByHeaderValue",
        "RequestCountsByHeaderValueAndRequestedStatus",
        "RequestCountsByHeaderValueAndResponseStatus",
    ]);
    let c1 = curl(&goto1, "GET", "/request/headers/track/counts", &[], "").json();
    let c2 = curl(&goto2, "GET", "/request/headers/track/counts", &[], "").json();
    for c in [&c1, &c2] {
        assert_eq!(keys(c), set(&["bar", "foo"]), "{c}");
        for h in ["bar", "foo"] {
            assert_eq!(keys(&c[h]), per_header, "{c}");
            assert!(c[h]["RequestCountsByHeaderValueAndRequestedStatus"]
                .as_object()
                .is_some_and(|m| m.is_empty()));
        }
    }
    assert_eq!(c1["foo"]["RequestCountsByHeaderValue"]["foo1"], 2, "{c1}");
    assert_eq!(
        c1["foo"]["RequestCountsByHeaderValueAndResponseStatus"]["foo1"]["200"],
        2
    );
    assert_eq!(c1["bar"]["RequestCountsByHeaderValue"]["bar1"], 1);
    assert_eq!(c2["bar"]["RequestCountsByHeaderValue"]["bar2"], 2, "{c2}");
    assert_eq!(c2["foo"]["RequestCountsByHeaderValue"]["foo2"], 1);
}

/// Sends a GET and gives up after `patience` (like `curl -m`), closing the
/// connection; true if an answer came in time.
fn impatient_get(port: u16, path: &str, patience: Duration) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let req = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    if s.write_all(req.as_bytes()).is_err() || s.set_read_timeout(Some(patience)).is_err() {
        return false;
    }
    let mut buf = [0u8; 256];
    matches!(s.read(&mut buf), Ok(n) if n > 0)
}

/// Scenario: Track Request/Connection Timeouts.
#[test]
fn s9_request_timeouts_are_tracked() {
    let g = Goto::start(&["--label", "goto", QUIET]);
    let on = line(&g, "POST", "/request/timeout/track/all", "");
    assert!(!on.is_empty());
    let delayed = line(&g, "PUT", "/response/delay/set/10s", "");
    assert!(delayed.contains("10s"), "{delayed}");

    // The client's timeout (`-m`) is shorter than the delay: it gives up.
    for _ in 0..2 {
        assert!(!impatient_get(
            g.port,
            "/someuri",
            Duration::from_millis(300)
        ));
    }
    let mut last = Value::Null;
    assert!(
        eventually(Duration::from_secs(5), || {
            last = g.get("/request/timeout/status").json();
            last["all"]["ConnectionClosed"] == 2
        }),
        "{last}"
    );
    assert_eq!(keys(&last), set(&["all", "headers"]));
    assert_eq!(
        keys(&last["all"]),
        set(&["ConnectionClosed", "RequestCompleted"])
    );
    assert_eq!(last["all"]["RequestCompleted"], 0);
    assert!(last["headers"].is_object());
}
