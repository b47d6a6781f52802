//! One list of request-schedule behaviours (count limits, duration, delay,
//! initial delay, rate, retries, latency from the due instant under a rate),
//! each written as a function of the protocol, run through real goto
//! processes: a client driven by its API, a server on loopback. Every
//! protocol's loop drives the engine's one `Schedule`, so every protocol
//! must pass the same list; to run it on another protocol, add it to
//! [`PROTOCOLS`].
//!
//! Timing assertions are one-sided (at least the delay asked; never more
//! requests than the schedule allows), so a loaded machine cannot break them.

mod common;

use std::time::{Duration, Instant};

use common::Goto;
use serde_json::Value;

#[derive(Debug, Clone, Copy)]
enum Protocol {
    Http1,
    Http2,
}

impl Protocol {
    /// The target's `protocol` field in the client API.
    fn field(self) -> &'static str {
        match self {
            Protocol::Http1 => "HTTP/1.1",
            Protocol::Http2 => "HTTP/2.0",
        }
    }
}

/// The protocols the list runs on (HTTP/2 targets run on the engine's
/// stream loop, which drives the same schedule).
const PROTOCOLS: &[Protocol] = &[Protocol::Http1, Protocol::Http2];

/// A goto server to load and a goto client to drive.
struct Pair {
    server: Goto,
    client: Goto,
}

impl Pair {
    fn new() -> Pair {
        Pair {
            server: Goto::start(&["--request-logs=false"]),
            client: Goto::start(&["--request-logs=false"]),
        }
    }

    /// Adds target `name` (protocol `p`, `fields` as JSON members), invokes
    /// it blocking, and returns that invocation's results and how long it took.
    fn run(&self, p: Protocol, name: &str, fields: &str) -> (Value, Duration) {
        let t = format!(
            r#"{{"name":"{name}","url":"http://127.0.0.1:{}/sched","protocol":"{}",{fields}}}"#,
            self.server.port,
            p.field()
        );
        let r = self.client.post("/client/targets/add", &t);
        assert_eq!(r.status, 200, "{p:?} add {t}: {}", r.text());
        let started = Instant::now();
        let r = self
            .client
            .post(&format!("/client/targets/{name}/invoke"), "");
        let took = started.elapsed();
        assert_eq!(r.status, 200, "{p:?} invoke {name}: {}", r.text());
        (r.json(), took)
    }

    fn server_put(&self, path: &str) {
        let r = self.server.put(path);
        assert_eq!(r.status, 200, "PUT {path}: {}", r.text());
    }
}

fn n(v: &Value) -> u64 {
    v.as_u64().unwrap_or(0)
}

fn ms(v: &Value) -> f64 {
    v.as_f64().unwrap_or(0.0)
}

// ---- the behaviours -------------------------------------------------------

/// Each replica sends exactly its request count; all are counted.
fn count_limits(p: Protocol) {
    let pair = Pair::new();
    let (r, _) = pair.run(p, "count", r#""replicas":3,"requestCount":7,"delay":"0s""#);
    assert_eq!(n(&r["targetInvocationCounts"]["count"]), 21, "{p:?}: {r}");
    assert_eq!(
        n(&r["countsByTargetStatusCode"]["count"]["200"]),
        21,
        "{p:?}: {r}"
    );
    assert_eq!(n(&r["latencyByTarget"]["count"]["count"]), 21, "{p:?}: {r}");
    assert_eq!(n(&r["lagByTarget"]["count"]["count"]), 21, "{p:?}: {r}");
}

/// A duration ends an unlimited target: not before the duration, and with
/// no more requests than the delay allows in it.
fn duration(p: Protocol) {
    let pair = Pair::new();
    let (r, took) = pair.run(
        p,
        "dur",
        r#""replicas":2,"requestCount":0,"delay":"20ms","duration":"1s""#,
    );
    let sent = n(&r["targetInvocationCounts"]["dur"]);
    assert!(
        took >= Duration::from_millis(900),
        "{p:?}: ended after {took:?}"
    );
    assert!(
        took < Duration::from_secs(20),
        "{p:?}: ended after {took:?}"
    );
    // At most one request every 20 ms per replica (plus the first at 0).
    assert!((2..=102).contains(&sent), "{p:?}: {sent} requests: {r}");
}

/// The delay separates a replica's requests; the initial delay holds the first.
fn delay_and_initial_delay(p: Protocol) {
    let pair = Pair::new();
    let (r, took) = pair.run(
        p,
        "delay",
        r#""replicas":1,"requestCount":5,"delay":"100ms""#,
    );
    assert_eq!(n(&r["targetInvocationCounts"]["delay"]), 5, "{p:?}: {r}");
    // Four delays between five requests.
    assert!(took >= Duration::from_millis(400), "{p:?}: took {took:?}");
    let (r, took) = pair.run(
        p,
        "initial",
        r#""replicas":1,"requestCount":1,"initialDelay":"300ms""#,
    );
    assert_eq!(n(&r["targetInvocationCounts"]["initial"]), 1, "{p:?}: {r}");
    assert!(took >= Duration::from_millis(300), "{p:?}: took {took:?}");
}

/// Under a rate, a replica never sends ahead of its schedule.
fn rate(p: Protocol) {
    let pair = Pair::new();
    let (r, took) = pair.run(
        p,
        "rate",
        r#""replicas":4,"requestCount":0,"rate":100,"duration":"1s""#,
    );
    let sent = n(&r["targetInvocationCounts"]["rate"]);
    assert!(
        took >= Duration::from_millis(900),
        "{p:?}: ended after {took:?}"
    );
    // 100/s for 1 s: the schedule holds exactly 100 due instants.
    assert!((30..=100).contains(&sent), "{p:?}: {sent} requests: {r}");
    assert_eq!(n(&r["lagByTarget"]["rate"]["count"]), sent, "{p:?}: {r}");
}

/// Retriable statuses and errors are retried up to the limit; only the
/// final attempt is counted.
fn retries(p: Protocol) {
    let pair = Pair::new();
    // Two 503s, then 200s: the first request succeeds on its second retry.
    pair.server_put("/response/status/set/503:2");
    let (r, _) = pair.run(
        p,
        "retry",
        r#""replicas":1,"requestCount":2,"delay":"0s","retries":2,"retryDelay":"10ms","retriableStatusCodes":[503]"#,
    );
    assert_eq!(n(&r["targetInvocationCounts"]["retry"]), 2, "{p:?}: {r}");
    assert_eq!(
        n(&r["countsByTargetStatusCode"]["retry"]["200"]),
        2,
        "{p:?}: {r}"
    );
    // Retries run out: the last attempt's 503 is what counts.
    pair.server_put("/response/status/set/503:2");
    let (r, _) = pair.run(
        p,
        "spent",
        r#""replicas":1,"requestCount":1,"retries":1,"retryDelay":"10ms","retriableStatusCodes":[503]"#,
    );
    assert_eq!(n(&r["targetInvocationCounts"]["spent"]), 1, "{p:?}: {r}");
    assert_eq!(
        n(&r["countsByTargetStatusCode"]["spent"]["503"]),
        1,
        "{p:?}: {r}"
    );
    // Without retries the 503 counts at once.
    pair.server_put("/response/status/set/503:1");
    let (r, _) = pair.run(p, "once", r#""replicas":1,"requestCount":1"#);
    assert_eq!(
        n(&r["countsByTargetStatusCode"]["once"]["503"]),
        1,
        "{p:?}: {r}"
    );
}

/// Under a rate the server cannot meet (50 ms responses, one connection
/// asked for one request every 25 ms), latency counts from when each
/// request was due, so it grows past the service time, and the lag shows
/// how late requests left; without a rate, latency is the service time.
fn latency_from_due_under_a_rate(p: Protocol) {
    let pair = Pair::new();
    pair.server_put("/response/delay/set/50ms");
    let (r, _) = pair.run(
        p,
        "open",
        r#""replicas":1,"requestCount":0,"rate":40,"duration":"1s""#,
    );
    let lat = &r["latencyByTarget"]["open"];
    let lag = &r["lagByTarget"]["open"];
    assert!(n(&lat["count"]) >= 3, "{p:?}: {r}");
    // The k-th request is due at 25k ms and answered at about 50(k+1) ms.
    let open_p50 = ms(&lat["p50"]);
    assert!(open_p50 >= 100.0, "{p:?}: corrected p50: {r}");
    assert!(ms(&lag["p99"]) >= 25.0, "{p:?}: lag p99: {r}");
    let (r, _) = pair.run(p, "closed", r#""replicas":1,"requestCount":5,"delay":"0s""#);
    let lat = &r["latencyByTarget"]["closed"];
    assert!(ms(&lat["min"]) >= 50.0, "{p:?}: {r}");
    // The closed model charges nothing for waiting: about the service time.
    assert!(ms(&lat["p50"]) < open_p50, "{p:?}: {r}");
}

// ---- one test per behaviour, over every protocol --------------------------

#[test]
fn schedule_count_limits() {
    PROTOCOLS.iter().for_each(|p| count_limits(*p));
}

#[test]
fn schedule_duration() {
    PROTOCOLS.iter().for_each(|p| duration(*p));
}

#[test]
fn schedule_delay_and_initial_delay() {
    PROTOCOLS.iter().for_each(|p| delay_and_initial_delay(*p));
}

#[test]
fn schedule_rate() {
    PROTOCOLS.iter().for_each(|p| rate(*p));
}

#[test]
fn schedule_retries() {
    PROTOCOLS.iter().for_each(|p| retries(*p));
}

#[test]
fn schedule_latency_from_due_under_a_rate() {
    PROTOCOLS
        .iter()
        .for_each(|p| latency_from_due_under_a_rate(*p));
}
