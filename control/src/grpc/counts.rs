//! Calls counted by method and by `grpc-status` (`GET /grpc/counts`, and
//! `/metrics`' `goto_grpc_requests_total`).

use std::collections::BTreeMap;

use parking_lot::Mutex;

use super::status;

/// Methods counted apart; past it, calls count under [`OTHER`] so that a
/// client inventing paths cannot grow the map without bound.
const MAX_METHODS: usize = 1000;
pub const OTHER: &str = "(other)";

#[derive(Default)]
pub struct Counts {
    by_method: Mutex<BTreeMap<String, [u64; 17]>>,
}

impl Counts {
    pub fn record(&self, method: &str, code: u8) {
        let i = usize::from(code).min(16);
        let mut m = self.by_method.lock();
        if let Some(c) = m.get_mut(method) {
            c[i] += 1;
            return;
        }
        let key = if m.len() >= MAX_METHODS {
            OTHER
        } else {
            method
        };
        m.entry(key.to_string()).or_insert([0; 17])[i] += 1;
    }

    pub fn clear(&self) {
        self.by_method.lock().clear();
    }

    /// `(method, code, calls)` for every non-zero count.
    pub fn rows(&self) -> Vec<(String, u8, u64)> {
        let m = self.by_method.lock();
        let mut out = Vec::new();
        for (k, c) in m.iter() {
            for (code, n) in c.iter().enumerate() {
                if *n > 0 {
                    out.push((k.clone(), code as u8, *n));
                }
            }
        }
        out
    }

    /// `{"calls": n, "byMethod": {m: {"OK": n}}, "byStatus": {"OK": n}}`.
    pub fn view(&self) -> serde_json::Value {
        let mut by_method = serde_json::Map::new();
        let mut by_status: BTreeMap<&'static str, u64> = BTreeMap::new();
        let mut calls = 0u64;
        for (m, code, n) in self.rows() {
            calls += n;
            *by_status.entry(status::name(code)).or_default() += n;
            let e = by_method
                .entry(m)
                .or_insert_with(|| serde_json::Value::Object(Default::default()));
            if let Some(o) = e.as_object_mut() {
                o.insert(status::name(code).into(), n.into());
            }
        }
        serde_json::json!({"calls": calls, "byMethod": by_method, "byStatus": by_status})
    }
}

/// `/metrics`: calls by method and code, and forced statuses by code.
pub fn metrics(e: &mut crate::prom::Exposition, port: u16, g: &super::GrpcState) {
    use crate::prom::Kind;
    let port = port.to_string();
    e.family(
        "goto_grpc_requests_total",
        Kind::Counter,
        "gRPC calls served on this port by method and grpc-status (reset by /grpc/counts/clear).",
    );
    for (method, code, n) in g.counts.rows() {
        e.sample(
            "goto_grpc_requests_total",
            &[
                ("port", &port),
                ("method", &method),
                ("code", status::name(code)),
            ],
            n as f64,
        );
    }
    e.family(
        "goto_grpc_fault_statuses_total",
        Kind::Counter,
        "gRPC calls whose status was forced by a fault, by code.",
    );
    for (code, n) in g.faults.counts().status {
        e.sample(
            "goto_grpc_fault_statuses_total",
            &[("port", &port), ("code", code)],
            n as f64,
        );
    }
}
