//! Client results summed across instances: each instance's `client` locker
//! entry is a `/client/results?histograms=Y` document; counts add up, first
//! and last response times take the earliest and latest, and latency
//! percentiles come from the merged histograms, so they are exact; each
//! target's thresholds (reported by peers or configured at the registry)
//! are evaluated on the sum.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::Registry;
use crate::body::json;
use crate::client::document::{ClientResults, TargetResults};

/// Running sum of result documents.
#[derive(Default)]
pub struct Sum {
    doc: ClientResults,
    /// Documents (or parts) that could not be read, by reason (reported,
    /// not fatal).
    pub skipped: Vec<String>,
}

impl Sum {
    /// Adds one instance's document (its JSON text).
    pub fn add_text(&mut self, who: &str, text: &str) {
        match ClientResults::parse(text) {
            Ok((doc, bad)) => {
                self.skipped
                    .extend(bad.into_iter().map(|b| format!("{who}: {b}")));
                self.doc.merge(&doc);
            }
            Err(e) => self.skipped.push(format!("{who}: {e}")),
        }
    }

    /// The summed document, in `/client/results` shape.
    pub fn document(&self) -> &ClientResults {
        &self.doc
    }

    /// Per target: its own counts and latency.
    pub fn detailed(&self) -> BTreeMap<String, TargetResults> {
        self.doc.detailed()
    }
}

/// label -> target -> its `"thresholds"` as configured at the registry.
fn configured_thresholds(reg: &Registry) -> BTreeMap<String, BTreeMap<String, Vec<String>>> {
    let st = reg.inner.lock();
    st.labels
        .iter()
        .map(|(label, c)| {
            let by_target = c
                .targets
                .iter()
                .filter_map(|(name, v)| {
                    let texts: Vec<String> = v
                        .get("thresholds")?
                        .as_array()?
                        .iter()
                        .filter_map(|x| Some(x.as_str()?.to_string()))
                        .collect();
                    (!texts.is_empty()).then(|| (name.clone(), texts))
                })
                .collect();
            (label.clone(), by_target)
        })
        .collect()
}

/// `{label: summed results}`, or per target with `?detailed=Y`, from the
/// sums folded on arrival.
pub(super) fn summed_results(reg: &Registry, detailed: bool) -> http::Response<crate::body::Body> {
    let configured = configured_thresholds(reg);
    // Only the sums are copied under the lock: one document per label.
    let sums: Vec<(String, ClientResults)> = {
        let st = reg.inner.lock();
        st.lockers
            .folds()
            .labels()
            .filter(|(_, f)| !f.results.is_empty())
            .map(|(label, f)| (label.clone(), f.results.document().clone()))
            .collect()
    };
    let mut out = Map::new();
    for (label, mut doc) in sums {
        // The label's targets' thresholds, evaluated on the sum even when
        // a peer reported no verdicts of its own.
        for (t, texts) in configured.get(&label).into_iter().flatten() {
            if doc.target_invocation_counts.contains_key(t) {
                doc.add_thresholds(t, texts);
            }
        }
        let v = if detailed {
            serde_json::to_value(doc.detailed())
        } else {
            serde_json::to_value(&doc)
        };
        out.insert(label, v.unwrap_or_default());
    }
    json(&Value::Object(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::histcodec;
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
        let d = serde_json::to_value(s.document()).unwrap_or_default();
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
        let det = serde_json::to_value(s.detailed()).unwrap_or_default();
        assert_eq!(det["t"]["invocationCount"], 5);
        assert_eq!(det["t"]["latency"]["count"], 5);
    }
}
