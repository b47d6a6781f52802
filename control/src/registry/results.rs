//! Client results summed across instances: each instance's `client` locker
//! entry is a `/client/results?histograms=Y` document; counts add up, first
//! and last response times take the earliest and latest, and latency
//! percentiles come from the merged histograms, so they are exact.

use std::collections::BTreeMap;

use goto_engine::Histogram;
use serde_json::{Map, Value};

use super::CLIENT_KEY;
use crate::body::json;
use crate::client::results::histogram_summary;
use crate::histcodec;
use crate::App;

/// Running sum of result documents.
#[derive(Default)]
pub struct Sum {
    doc: Map<String, Value>,
    hists: BTreeMap<String, Histogram<u64>>,
    /// Documents that could not be read, by reason (reported, not fatal).
    pub skipped: Vec<String>,
}

impl Sum {
    /// Adds one instance's document (its JSON text).
    pub fn add_text(&mut self, who: &str, text: &str) {
        match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(doc)) => self.add(who, &doc),
            Ok(_) => self.skipped.push(format!("{who}: not a JSON object")),
            Err(e) => self.skipped.push(format!("{who}: invalid JSON: {e}")),
        }
    }

    pub fn add(&mut self, who: &str, doc: &Map<String, Value>) {
        for (k, v) in doc {
            match k.as_str() {
                // Recomputed from the histograms.
                "latencyByTarget" => {}
                // Percentiles do not add up, and peers ship no lag histograms.
                "lagByTarget" => {}
                "latencyHistograms" => self.add_histograms(who, v),
                "targetFirstResponses" => pick(self.slot(k), v, |new, old| new < old),
                "targetLastResponses" => pick(self.slot(k), v, |new, old| new > old),
                _ => add_value(self.doc.entry(k.clone()).or_insert(Value::Null), v),
            }
        }
    }

    fn slot(&mut self, k: &str) -> &mut Map<String, Value> {
        let v = self
            .doc
            .entry(k.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        if !v.is_object() {
            *v = Value::Object(Map::new());
        }
        match v {
            Value::Object(m) => m,
            _ => unreachable!("made an object just above"),
        }
    }

    fn add_histograms(&mut self, who: &str, v: &Value) {
        let Some(m) = v.as_object() else { return };
        for (target, enc) in m {
            let Some(text) = enc.as_str() else { continue };
            match histcodec::decode(text) {
                Ok(h) => {
                    let acc = self
                        .hists
                        .entry(target.clone())
                        .or_insert_with(goto_engine::stats::latency_histogram);
                    if let Err(e) = acc.add(&h) {
                        self.skipped
                            .push(format!("{who}: histogram of {target}: {e:?}"));
                    }
                }
                Err(e) => self.skipped.push(format!("{who}: {target}: {e}")),
            }
        }
    }

    /// The summed document, in `/client/results` shape.
    pub fn document(&self) -> Map<String, Value> {
        let mut doc = self.doc.clone();
        for k in [
            "targetInvocationCounts",
            "targetFirstResponses",
            "targetLastResponses",
            "countsByStatus",
            "countsByStatusCodes",
            "countsByHeaders",
            "countsByHeaderValues",
            "countsByTargetStatus",
            "countsByTargetStatusCode",
            "countsByTargetHeaders",
            "countsByTargetHeaderValues",
        ] {
            doc.entry(k).or_insert_with(|| Value::Object(Map::new()));
        }
        doc.insert("latencyByTarget".into(), self.latency());
        doc
    }

    fn latency(&self) -> Value {
        Value::Object(
            self.hists
                .iter()
                .filter(|(_, h)| !h.is_empty())
                .map(|(t, h)| (t.clone(), histogram_summary(h)))
                .collect(),
        )
    }

    /// Per target: its own counts and latency.
    pub fn detailed(&self) -> Map<String, Value> {
        let doc = self.document();
        let get = |k: &str, t: &str| doc.get(k).and_then(|m| m.get(t)).cloned();
        let mut out = Map::new();
        let targets = doc
            .get("targetInvocationCounts")
            .and_then(Value::as_object)
            .map(|m| m.keys().cloned().collect::<Vec<_>>())
            .unwrap_or_default();
        for t in targets {
            let mut m = Map::new();
            let fields = [
                ("invocationCount", "targetInvocationCounts"),
                ("firstResponse", "targetFirstResponses"),
                ("lastResponse", "targetLastResponses"),
                ("countsByStatus", "countsByTargetStatus"),
                ("countsByStatusCodes", "countsByTargetStatusCode"),
                ("countsByHeaders", "countsByTargetHeaders"),
                ("countsByHeaderValues", "countsByTargetHeaderValues"),
                ("latency", "latencyByTarget"),
            ];
            for (name, from) in fields {
                m.insert(name.into(), get(from, &t).unwrap_or(Value::Null));
            }
            out.insert(t, Value::Object(m));
        }
        out
    }
}

/// Adds `v` into `acc`: numbers sum, objects merge key by key, anything
/// else is kept from the first document that had it.
fn add_value(acc: &mut Value, v: &Value) {
    match (acc, v) {
        (acc @ Value::Null, v) => *acc = v.clone(),
        (Value::Number(a), Value::Number(b)) => {
            if let (Some(x), Some(y)) = (a.as_u64(), b.as_u64()) {
                *a = x.saturating_add(y).into();
            } else if let (Some(x), Some(y)) = (a.as_f64(), b.as_f64()) {
                if let Some(n) = serde_json::Number::from_f64(x + y) {
                    *a = n;
                }
            }
        }
        (Value::Object(a), Value::Object(b)) => {
            for (k, bv) in b {
                add_value(a.entry(k.clone()).or_insert(Value::Null), bv);
            }
        }
        _ => {}
    }
}

/// Per key, keeps the string `better` prefers (RFC 3339 UTC times compare
/// as text).
fn pick(acc: &mut Map<String, Value>, v: &Value, better: fn(&str, &str) -> bool) {
    let Some(m) = v.as_object() else { return };
    for (k, nv) in m {
        let Some(n) = nv.as_str() else { continue };
        let replace = match acc.get(k).and_then(Value::as_str) {
            Some(old) => better(n, old),
            None => true,
        };
        if replace {
            acc.insert(k.clone(), Value::from(n));
        }
    }
}

/// `{label: summed results}`, or per target with `?detailed=Y`.
pub(super) fn summed_results(app: &App, detailed: bool) -> http::Response<crate::body::Body> {
    // Copied out so that decoding and merging run without the lock.
    let reports: BTreeMap<String, Vec<(String, String)>> = {
        let st = app.registry.inner.lock();
        st.lockers
            .by_label
            .iter()
            .map(|(label, by_addr)| {
                let docs = by_addr
                    .iter()
                    .filter_map(|(addr, l)| Some((addr.clone(), l.get(CLIENT_KEY)?.data.clone())))
                    .collect::<Vec<_>>();
                (label.clone(), docs)
            })
            .filter(|(_, docs)| !docs.is_empty())
            .collect()
    };
    let mut out = Map::new();
    for (label, docs) in &reports {
        let mut sum = Sum::default();
        for (addr, data) in docs {
            sum.add_text(addr, data);
        }
        for s in &sum.skipped {
            tracing::warn!(peer = ?label, "locker results skipped: {s}");
        }
        let doc = if detailed {
            sum.detailed()
        } else {
            sum.document()
        };
        out.insert(label.clone(), Value::Object(doc));
    }
    json(&Value::Object(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc_with(count: u64, lat: &[u64], first: &str) -> String {
        let mut h = goto_engine::stats::latency_histogram();
        for v in lat {
            h.record(*v).ok();
        }
        json!({
            "targetInvocationCounts": {"t": count},
            "targetFirstResponses": {"t": first},
            "targetLastResponses": {"t": first},
            "countsByStatusCodes": {"200": count},
            "countsByTargetHeaderValues": {"t": {"x": {"x1": count}}},
            "latencyByTarget": {"t": {"count": lat.len()}},
            "latencyHistograms": {"t": histcodec::encode(&h)},
        })
        .to_string()
    }

    #[test]
    fn sums_counts_and_merges_latency_exactly() {
        let mut s = Sum::default();
        s.add_text(
            "a",
            &doc_with(3, &[1000, 2000, 3000], "2026-01-01T00:00:02.000000Z"),
        );
        s.add_text(
            "b",
            &doc_with(2, &[10_000, 20_000], "2026-01-01T00:00:01.000000Z"),
        );
        s.add_text("c", "not json");
        let d = Value::Object(s.document());
        assert_eq!(d["targetInvocationCounts"]["t"], 5);
        assert_eq!(d["countsByStatusCodes"]["200"], 5);
        assert_eq!(d["countsByTargetHeaderValues"]["t"]["x"]["x1"], 5);
        assert_eq!(
            d["targetFirstResponses"]["t"],
            "2026-01-01T00:00:01.000000Z"
        );
        assert_eq!(d["targetLastResponses"]["t"], "2026-01-01T00:00:02.000000Z");
        assert_eq!(d["latencyByTarget"]["t"]["count"], 5);
        assert_eq!(
            d["latencyByTarget"]["t"]["max"].as_f64().map(|m| m.round()),
            Some(20.0)
        );
        assert_eq!(s.skipped.len(), 1);
        let det = Value::Object(s.detailed());
        assert_eq!(det["t"]["invocationCount"], 5);
        assert_eq!(det["t"]["latency"]["count"], 5);
    }
}
