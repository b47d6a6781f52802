//! `GET /metrics` on every listener: the Prometheus text exposition of this
//! port's server-side counts (responses by status, tracked header values,
//! proxied requests by target and status, open connections, injected faults
//! and toxics), the instance's TCP listeners, the registry's pods per label,
//! the client's per-target results (requests by status, errors by kind, a
//! latency histogram, open connections, requests in flight, targets
//! running) and the process's memory and CPU.
//! Everything is read and merged at scrape time; nothing on a hot path.

use std::collections::BTreeMap;
use std::sync::Arc;

use goto_engine::TargetStats;
use http::header::{HeaderValue, CONTENT_TYPE};

use super::PortState;
use crate::api::Table;
use crate::body::{text, Body};
use crate::chaos::tcp::TcpState;
use crate::client::Client;
use crate::error::ApiError;
use crate::prom::{self, Exposition, Kind};

/// What a scrape reads beyond the port it is asked on: the client state,
/// the instance's TCP listeners and the registry's pods.
pub trait Scrape: Sync + 'static {
    /// The listener the scrape came in on.
    fn port(&self) -> &PortState;
    fn client(&self) -> &Arc<Client>;
    fn tcp_listeners(&self) -> Vec<Arc<TcpState>>;
    /// Pods registered per label and how many are healthy.
    fn registry_pods(&self) -> Vec<(String, usize, usize)>;
}

pub fn table<S: Scrape>() -> Table<S> {
    Table::<S>::new("/metrics").get_async("/metrics", |c, _| {
        Box::pin(async move {
            let client = c.client().clone();
            let client = tokio::task::spawn_blocking(move || client_results(&client))
                .await
                .map_err(|e| ApiError::Unavailable(format!("internal task failed: {e}")))?;
            let mut e = Exposition::new();
            server(&mut e, c.port());
            chaos(&mut e, c.port());
            let p = c.port();
            crate::grpc::counts::metrics(&mut e, p.port, &p.grpc);
            tcp_listeners(&mut e, c.tcp_listeners());
            registry(&mut e, c.registry_pods());
            client_metrics(&mut e, &client);
            process(&mut e);
            let mut r = text(http::StatusCode::OK, e.finish());
            r.headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static(prom::CONTENT_TYPE));
            Ok::<http::Response<Body>, ApiError>(r)
        })
    })
}

/// Per target: merged results over invocations, and whether one runs.
struct ClientView {
    stats: BTreeMap<String, TargetStats>,
    running: usize,
}

fn client_results(client: &Client) -> ClientView {
    let mut stats: BTreeMap<String, TargetStats> = BTreeMap::new();
    let mut running = 0;
    for inv in client.invocations() {
        let mut g = inv.lock();
        if !g.is_finished() {
            running += 1;
        }
        for (name, s) in g.snapshot() {
            stats.entry(name).or_default().merge(&s);
        }
    }
    ClientView { stats, running }
}

fn server(e: &mut Exposition, p: &PortState) {
    let port = p.port.to_string();
    let counts = p.responder.lock().counts_response.clone();
    e.family(
        "goto_requests_total",
        Kind::Counter,
        "Responses served on this port by status (reset by the status counts clear call).",
    );
    for (status, n) in &counts {
        let s = status.to_string();
        e.sample(
            "goto_requests_total",
            &[("port", &port), ("status", &s)],
            *n as f64,
        );
    }
    // The tracking's own bounded maps, in its JSON shape.
    let tracked = p.tracking.counts_json();
    e.family(
        "goto_tracked_header_requests_total",
        Kind::Counter,
        "Requests carrying a tracked header, by header and value.",
    );
    if let Some(headers) = tracked.as_object() {
        for (header, counts) in headers {
            let Some(values) = counts["RequestCountsByHeaderValue"].as_object() else {
                continue;
            };
            for (value, n) in values {
                e.sample(
                    "goto_tracked_header_requests_total",
                    &[("port", &port), ("header", header), ("value", value)],
                    n.as_f64().unwrap_or(0.0),
                );
            }
        }
    }
}

/// Proxied requests, open connections, faults and toxics of this port. The
/// label sets are bounded: statuses and kinds are small fixed sets, targets
/// and toxics are configured names, and the proxy's maps are capped
/// ([`crate::bounded`]).
fn chaos(e: &mut Exposition, p: &PortState) {
    let port = p.port.to_string();
    let proxy = p.proxy.counts_json();
    e.family(
        "goto_proxy_requests_total",
        Kind::Counter,
        "Requests proxied by this port, by target and upstream status.",
    );
    if let Some(targets) = proxy["countsByTargetStatus"].as_object() {
        for (target, statuses) in targets {
            for (status, n) in statuses.as_object().into_iter().flatten() {
                e.sample(
                    "goto_proxy_requests_total",
                    &[("port", &port), ("target", target), ("status", status)],
                    n.as_f64().unwrap_or(0.0),
                );
            }
        }
    }
    e.family(
        "goto_proxy_failures_total",
        Kind::Counter,
        "Upstream calls of this port's proxy that failed (unreachable, reset, timed out), by target.",
    );
    for (target, n) in proxy["failuresByTargets"].as_object().into_iter().flatten() {
        e.sample(
            "goto_proxy_failures_total",
            &[("port", &port), ("target", target)],
            n.as_f64().unwrap_or(0.0),
        );
    }
    e.family(
        "goto_connections_open",
        Kind::Gauge,
        "Connections open on this listener.",
    );
    let open = p.conns.open();
    e.sample("goto_connections_open", &[("port", &port)], open as f64);
    e.family(
        "goto_connections_refused_total",
        Kind::Counter,
        "Connections this listener closed at once: at its --max-conns cap.",
    );
    let refused = p.conns.refused();
    e.sample(
        "goto_connections_refused_total",
        &[("port", &port)],
        refused as f64,
    );
    e.family(
        "goto_connections_evicted_total",
        Kind::Counter,
        "Idle connections this listener closed to make room for a new one at its --max-conns cap.",
    );
    let evicted = p.conns.evicted();
    e.sample(
        "goto_connections_evicted_total",
        &[("port", &port)],
        evicted as f64,
    );

    let f = p.faults.counts();
    e.family(
        "goto_faults_total",
        Kind::Counter,
        "Faults injected into this port's responses, by kind.",
    );
    let status: u64 = f.status.values().sum();
    for (kind, n) in [
        ("status", status),
        ("delay", f.delay),
        ("close", f.close),
        ("size", f.size),
        ("drip", f.drip),
        ("from_headers", f.from_headers),
    ] {
        e.sample(
            "goto_faults_total",
            &[("port", &port), ("kind", kind)],
            n as f64,
        );
    }
    e.family(
        "goto_uri_faults_total",
        Kind::Counter,
        "Faults injected by a URI pattern's own configuration (`?uri=`), by kind.",
    );
    for (uri, u) in &f.by_uri {
        let status: u64 = u.status.values().sum();
        for (kind, n) in [("status", status), ("delay", u.delay), ("close", u.close)] {
            e.sample(
                "goto_uri_faults_total",
                &[("port", &port), ("uri", uri), ("kind", kind)],
                n as f64,
            );
        }
    }
    e.family(
        "goto_fault_statuses_total",
        Kind::Counter,
        "Responses whose status was set by a fault, by status.",
    );
    for (code, n) in &f.status {
        let code = code.to_string();
        e.sample(
            "goto_fault_statuses_total",
            &[("port", &port), ("status", &code)],
            *n as f64,
        );
    }
    e.family(
        "goto_toxics_total",
        Kind::Counter,
        "Toxics applied to this port's proxy targets, by target, toxic and type.",
    );
    for (target, counts) in p.proxy.toxics.all_counts() {
        for (name, t) in &counts {
            e.sample(
                "goto_toxics_total",
                &[
                    ("port", &port),
                    ("target", &target),
                    ("toxic", name),
                    ("type", &t.kind),
                ],
                t.applied as f64,
            );
        }
    }
}

/// The instance's TCP listeners: connections and bytes, toxics applied.
fn tcp_listeners(e: &mut Exposition, tcp: Vec<Arc<TcpState>>) {
    if tcp.is_empty() {
        return;
    }
    let views: Vec<_> = tcp.iter().map(|t| (t.port.to_string(), t)).collect();
    let families: [(&str, Kind, &str); 5] = [
        (
            "goto_tcp_connections_total",
            Kind::Counter,
            "Connections a TCP listener served.",
        ),
        (
            "goto_tcp_connections_open",
            Kind::Gauge,
            "Connections open on a TCP listener.",
        ),
        (
            "goto_tcp_received_bytes_total",
            Kind::Counter,
            "Bytes a TCP listener read from its clients.",
        ),
        (
            "goto_tcp_sent_bytes_total",
            Kind::Counter,
            "Bytes a TCP listener wrote to its clients.",
        ),
        (
            "goto_tcp_refused_total",
            Kind::Counter,
            "Connections a TCP listener closed at once: at its --max-conns cap.",
        ),
    ];
    for (i, (name, kind, help)) in families.into_iter().enumerate() {
        e.family(name, kind, help);
        for (port, t) in &views {
            let v = t.counts.view();
            let n = [
                v.connections,
                v.active,
                v.bytes_in,
                v.bytes_out,
                v.refused_at_limit,
            ][i];
            e.sample(name, &[("port", port)], n as f64);
        }
    }
    e.family(
        "goto_tcp_toxics_total",
        Kind::Counter,
        "Toxics applied to a TCP proxy listener's connections, by toxic and type.",
    );
    for (port, t) in &views {
        for (name, c) in t.toxics.counts() {
            e.sample(
                "goto_tcp_toxics_total",
                &[("port", port), ("toxic", &name), ("type", &c.kind)],
                c.applied as f64,
            );
        }
    }
}

/// A registry's pods per peer label (nothing when no peer registered).
fn registry(e: &mut Exposition, pods: Vec<(String, usize, usize)>) {
    if pods.is_empty() {
        return;
    }
    e.family(
        "goto_registry_peers",
        Kind::Gauge,
        "Pods registered under a peer label.",
    );
    for (label, n, _) in &pods {
        e.sample("goto_registry_peers", &[("label", label)], *n as f64);
    }
    e.family(
        "goto_registry_peers_healthy",
        Kind::Gauge,
        "Pods of a peer label that passed their last health check.",
    );
    for (label, _, healthy) in &pods {
        e.sample(
            "goto_registry_peers_healthy",
            &[("label", label)],
            *healthy as f64,
        );
    }
}

fn client_metrics(e: &mut Exposition, c: &ClientView) {
    e.family(
        "goto_client_requests_total",
        Kind::Counter,
        "Client requests by target and status (0 = transport error).",
    );
    for (target, s) in &c.stats {
        for (status, n) in &s.status_counts {
            let st = status.to_string();
            e.sample(
                "goto_client_requests_total",
                &[("target", target), ("status", &st)],
                *n as f64,
            );
        }
    }
    // gRPC targets only: the family is left out while none has answered.
    if c.stats.values().any(|s| !s.grpc_status_counts.is_empty()) {
        e.family(
            "goto_client_grpc_calls_total",
            Kind::Counter,
            "Client gRPC calls answered, by target and gRPC status name.",
        );
        for (target, s) in &c.stats {
            for (code, n) in &s.grpc_status_counts {
                let name = goto_engine::grpc::status_name(*code);
                e.sample(
                    "goto_client_grpc_calls_total",
                    &[("target", target), ("grpc_status", name)],
                    *n as f64,
                );
            }
        }
    }
    e.family(
        "goto_client_errors_total",
        Kind::Counter,
        "Client transport errors by target and kind.",
    );
    for (target, s) in &c.stats {
        for (kind, n) in &s.errors {
            let k = kind.to_string();
            e.sample(
                "goto_client_errors_total",
                &[("target", target), ("kind", &k)],
                *n as f64,
            );
        }
    }
    e.family(
        "goto_client_latency_seconds",
        Kind::Histogram,
        "Client latency by target (from the schedule under a rate).",
    );
    for (target, s) in &c.stats {
        e.latency_histogram(
            "goto_client_latency_seconds",
            &[("target", target)],
            &s.latency,
        );
    }
    e.family(
        "goto_client_connections",
        Kind::Gauge,
        "Client connections open by target (0 once its run ended).",
    );
    for (target, s) in &c.stats {
        e.sample(
            "goto_client_connections",
            &[("target", target)],
            s.open_connections as f64,
        );
    }
    e.family(
        "goto_client_requests_in_flight",
        Kind::Gauge,
        "Client requests under way by target (0 once its run ended).",
    );
    for (target, s) in &c.stats {
        e.sample(
            "goto_client_requests_in_flight",
            &[("target", target)],
            s.requests_in_flight as f64,
        );
    }
    e.family(
        "goto_client_invocations_running",
        Kind::Gauge,
        "Client invocations still running.",
    );
    e.sample("goto_client_invocations_running", &[], c.running as f64);
}

/// Resident memory and CPU seconds from /proc/self (Linux).
fn process(e: &mut Exposition) {
    if let Some(rss) = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
    {
        e.family(
            "process_resident_memory_bytes",
            Kind::Gauge,
            "Resident memory size in bytes.",
        );
        e.sample("process_resident_memory_bytes", &[], rss * 1024.0);
    }
    // Fields 14 and 15 of /proc/self/stat (after the command in parentheses).
    if let Some(ticks) = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            let rest = s.rsplit_once(')')?.1;
            let f: Vec<&str> = rest.split_whitespace().collect();
            Some(f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?)
        })
    {
        // SAFETY: sysconf reads a constant of the running system.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
        let hz = if hz > 0 { hz as f64 } else { 100.0 };
        e.family(
            "process_cpu_seconds_total",
            Kind::Counter,
            "User and system CPU time spent, in seconds.",
        );
        e.sample("process_cpu_seconds_total", &[], ticks / hz);
    }
}
