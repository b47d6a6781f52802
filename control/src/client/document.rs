//! The typed results document: what `/client/results` answers, what a peer
//! reports to its locker, and what the registry sums. One set of serde
//! structs with the scenarios' field names, and one `merge` that adds
//! counts, keeps the earliest first and latest last response, merges
//! latency histograms exactly and re-evaluates thresholds on the sum.

use std::collections::BTreeMap;
use std::time::Duration;

use goto_engine::{Figures, Histogram, Threshold, ThresholdVerdict};
use serde::{Deserialize, Serialize};

use crate::{histcodec, timefmt};

/// Counts by a text key (status text, code, header name or value).
pub type Counts = BTreeMap<String, u64>;

/// A latency summary in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LatencyStats {
    pub count: u64,
    pub min: f64,
    pub mean: f64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    #[serde(rename = "p99.9")]
    pub p999: f64,
    pub max: f64,
}

impl LatencyStats {
    /// Summarises a histogram of microseconds.
    pub fn of(h: &Histogram<u64>) -> LatencyStats {
        let ms = |us: u64| us as f64 / 1000.0;
        LatencyStats {
            count: h.len(),
            min: ms(h.min()),
            mean: (h.mean()).round() / 1000.0,
            p50: ms(h.value_at_quantile(0.50)),
            p90: ms(h.value_at_quantile(0.90)),
            p99: ms(h.value_at_quantile(0.99)),
            p999: ms(h.value_at_quantile(0.999)),
            max: ms(h.max()),
        }
    }
}

/// The results of some targets (one instance's, one invocation's, or a sum
/// over peers). Fields missing from a peer's document read as empty, and
/// fields this version does not know are ignored, so older and newer peers
/// merge alike.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ClientResults {
    pub target_invocation_counts: Counts,
    pub target_first_responses: BTreeMap<String, String>,
    pub target_last_responses: BTreeMap<String, String>,
    pub counts_by_status: Counts,
    pub counts_by_status_codes: Counts,
    pub counts_by_headers: Counts,
    pub counts_by_header_values: BTreeMap<String, Counts>,
    pub counts_by_target_status: BTreeMap<String, Counts>,
    pub counts_by_target_status_code: BTreeMap<String, Counts>,
    pub counts_by_target_headers: BTreeMap<String, Counts>,
    pub counts_by_target_header_values: BTreeMap<String, BTreeMap<String, Counts>>,
    pub latency_by_target: BTreeMap<String, LatencyStats>,
    /// gRPC targets: answered calls by canonical gRPC status name.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub counts_by_grpc_status: Counts,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub counts_by_target_grpc_status: BTreeMap<String, Counts>,
    /// How late requests left against their schedule; percentiles do not
    /// add up and no histogram is shipped, so a sum leaves this empty.
    pub lag_by_target: BTreeMap<String, LatencyStats>,
    /// Encoded latency histograms ([`histcodec`]), on request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_histograms: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub thresholds_by_target: BTreeMap<String, Vec<ThresholdVerdict>>,
    /// Connections the client holds open per target now (a live gauge:
    /// targets with none are left out, so a finished run has no entry).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub open_connections_by_target: Counts,
    /// The engine's I/O driver that ran each target (`io_uring`, `epoll`).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub io_driver_by_target: BTreeMap<String, String>,
    /// Set on a blocking invocation's answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invocation: Option<u64>,
    /// Set per invocation in `/client/results/invocations`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished: Option<bool>,
    /// Latency histograms per target (microseconds), the exact source of
    /// `latencyByTarget` when merging.
    #[serde(skip)]
    pub histograms: BTreeMap<String, Histogram<u64>>,
}

/// One target's slice of a [`ClientResults`] (`?detailed=Y`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TargetResults {
    pub invocation_count: Option<u64>,
    pub first_response: Option<String>,
    pub last_response: Option<String>,
    pub counts_by_status: Option<Counts>,
    pub counts_by_status_codes: Option<Counts>,
    pub counts_by_headers: Option<Counts>,
    pub counts_by_header_values: Option<BTreeMap<String, Counts>>,
    pub latency: Option<LatencyStats>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thresholds: Option<Vec<ThresholdVerdict>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub io_driver: Option<String>,
}

/// A peer's report that is not a results document.
#[derive(Debug, thiserror::Error)]
#[error("not a results document: {0}")]
pub struct DocumentError(serde_json::Error);

impl ClientResults {
    /// Reads a document (a peer's report); its encoded histograms are
    /// decoded so that [`merge`](Self::merge) can add them. A histogram that
    /// cannot be decoded is left out and named in the error list.
    pub fn parse(text: &str) -> Result<(ClientResults, Vec<String>), DocumentError> {
        let mut doc: ClientResults = serde_json::from_str(text).map_err(DocumentError)?;
        let mut bad = Vec::new();
        for (t, enc) in doc.latency_histograms.iter().flatten() {
            match histcodec::decode(enc) {
                Ok(h) => {
                    doc.histograms.insert(t.clone(), h);
                }
                Err(e) => bad.push(format!("{t}: {e}")),
            }
        }
        Ok((doc, bad))
    }

    /// Adds `other` into `self`: counts sum, the earliest first and latest
    /// last response win, histograms add exactly and `latencyByTarget` is
    /// recomputed from them, and every threshold either side carries is
    /// evaluated again on the sum.
    pub fn merge(&mut self, other: &ClientResults) {
        add(
            &mut self.target_invocation_counts,
            &other.target_invocation_counts,
        );
        pick(
            &mut self.target_first_responses,
            &other.target_first_responses,
            |n, o| n < o,
        );
        pick(
            &mut self.target_last_responses,
            &other.target_last_responses,
            |n, o| n > o,
        );
        add(&mut self.counts_by_status, &other.counts_by_status);
        add(
            &mut self.counts_by_status_codes,
            &other.counts_by_status_codes,
        );
        add(&mut self.counts_by_headers, &other.counts_by_headers);
        add2(
            &mut self.counts_by_header_values,
            &other.counts_by_header_values,
        );
        add2(
            &mut self.counts_by_target_status,
            &other.counts_by_target_status,
        );
        add2(
            &mut self.counts_by_target_status_code,
            &other.counts_by_target_status_code,
        );
        add2(
            &mut self.counts_by_target_headers,
            &other.counts_by_target_headers,
        );
        add(
            &mut self.counts_by_grpc_status,
            &other.counts_by_grpc_status,
        );
        add2(
            &mut self.counts_by_target_grpc_status,
            &other.counts_by_target_grpc_status,
        );
        for (t, by_header) in &other.counts_by_target_header_values {
            add2(
                self.counts_by_target_header_values
                    .entry(t.clone())
                    .or_default(),
                by_header,
            );
        }
        for (t, h) in &other.histograms {
            let acc = self
                .histograms
                .entry(t.clone())
                .or_insert_with(goto_engine::stats::latency_histogram);
            // Same bounds on both sides; a value out of range (a foreign
            // histogram) is dropped rather than failing the sum.
            let _ = acc.add(h);
        }
        self.latency_by_target = self
            .histograms
            .iter()
            .filter(|(_, h)| !h.is_empty())
            .map(|(t, h)| (t.clone(), LatencyStats::of(h)))
            .collect();
        self.lag_by_target.clear();
        add(
            &mut self.open_connections_by_target,
            &other.open_connections_by_target,
        );
        for (t, d) in &other.io_driver_by_target {
            self.io_driver_by_target
                .entry(t.clone())
                .or_insert(d.clone());
        }
        self.finished = match (self.finished, other.finished) {
            (Some(a), Some(b)) => Some(a && b),
            (a, b) => a.or(b),
        };
        let mut texts: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (t, vs) in self
            .thresholds_by_target
            .iter()
            .chain(&other.thresholds_by_target)
        {
            texts
                .entry(t.clone())
                .or_default()
                .extend(vs.iter().map(|v| v.threshold.clone()));
        }
        for (t, list) in texts {
            self.add_thresholds(&t, &list);
        }
    }

    /// Evaluates the thresholds `texts` (unparsable ones are left out)
    /// together with those target `t` already carries, on this document's
    /// figures.
    pub fn add_thresholds(&mut self, t: &str, texts: &[String]) {
        let mut all: Vec<Threshold> = Vec::new();
        let known = self.thresholds_by_target.get(t).into_iter().flatten();
        for text in known.map(|v| &v.threshold).chain(texts) {
            if let Ok(th) = text.parse::<Threshold>() {
                if !all.iter().any(|a| a.text == th.text) {
                    all.push(th);
                }
            }
        }
        self.evaluate(t, &all);
    }

    /// Evaluates `thresholds` on target `t`'s figures in this document and
    /// keeps the verdicts in `thresholdsByTarget` (replacing earlier ones).
    pub fn evaluate(&mut self, t: &str, thresholds: &[Threshold]) {
        if thresholds.is_empty() {
            return;
        }
        let empty = goto_engine::stats::latency_histogram();
        let codes = self.counts_by_target_status_code.get(t);
        let count = |pred: &dyn Fn(u16) -> bool| -> u64 {
            codes
                .into_iter()
                .flatten()
                .filter(|(c, _)| c.parse::<u16>().is_ok_and(pred))
                .map(|(_, n)| n)
                .sum()
        };
        let figures = Figures {
            requests: self.target_invocation_counts.get(t).copied().unwrap_or(0),
            // Code 0 counts transport errors.
            answered: count(&|c| c != 0),
            errors: count(&|c| c == 0),
            status5xx: count(&|c| (500..600).contains(&c)),
            grpc_ok: self
                .counts_by_target_grpc_status
                .get(t)
                .and_then(|m| m.get("OK"))
                .copied()
                .unwrap_or(0),
            latency: self.histograms.get(t).unwrap_or(&empty),
            elapsed: self.span(t),
        };
        let verdicts = thresholds.iter().map(|x| x.evaluate_on(&figures)).collect();
        self.thresholds_by_target.insert(t.to_string(), verdicts);
    }

    /// From the first to the last response of target `t`.
    fn span(&self, t: &str) -> Duration {
        let at = |m: &BTreeMap<String, String>| m.get(t).and_then(|s| timefmt::parse_rfc3339(s));
        match (
            at(&self.target_first_responses),
            at(&self.target_last_responses),
        ) {
            (Some(a), Some(b)) => b.duration_since(a).unwrap_or_default(),
            _ => Duration::ZERO,
        }
    }

    /// Encodes the kept histograms into `latencyHistograms`.
    pub fn with_encoded_histograms(mut self) -> ClientResults {
        self.latency_histograms = Some(
            self.histograms
                .iter()
                .filter_map(|(t, h)| Some((t.clone(), histcodec::encode(h)?)))
                .collect(),
        );
        self
    }

    /// Target `t`'s slice (`null` fields where it has none).
    pub fn target(&self, t: &str) -> TargetResults {
        TargetResults {
            invocation_count: self.target_invocation_counts.get(t).copied(),
            first_response: self.target_first_responses.get(t).cloned(),
            last_response: self.target_last_responses.get(t).cloned(),
            counts_by_status: self.counts_by_target_status.get(t).cloned(),
            counts_by_status_codes: self.counts_by_target_status_code.get(t).cloned(),
            counts_by_headers: self.counts_by_target_headers.get(t).cloned(),
            counts_by_header_values: self.counts_by_target_header_values.get(t).cloned(),
            latency: self.latency_by_target.get(t).copied(),
            thresholds: self.thresholds_by_target.get(t).cloned(),
            io_driver: self.io_driver_by_target.get(t).cloned(),
        }
    }

    /// Every target's slice.
    pub fn detailed(&self) -> BTreeMap<String, TargetResults> {
        self.target_invocation_counts
            .keys()
            .map(|t| (t.clone(), self.target(t)))
            .collect()
    }

    /// Whether any target has results.
    pub fn is_empty(&self) -> bool {
        self.target_invocation_counts.is_empty()
    }
}

fn add(into: &mut Counts, from: &Counts) {
    for (k, n) in from {
        let v = into.entry(k.clone()).or_insert(0);
        *v = v.saturating_add(*n);
    }
}

fn add2(into: &mut BTreeMap<String, Counts>, from: &BTreeMap<String, Counts>) {
    for (k, m) in from {
        add(into.entry(k.clone()).or_default(), m);
    }
}

/// Per key, keeps the time `better` prefers (RFC 3339 UTC times with the
/// same precision compare as text).
fn pick(
    into: &mut BTreeMap<String, String>,
    from: &BTreeMap<String, String>,
    better: fn(&str, &str) -> bool,
) {
    for (k, n) in from {
        let replace = into.get(k).is_none_or(|old| better(n, old));
        if replace {
            into.insert(k.clone(), n.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn peer_doc(count: u64, fives: u64, lat_us: &[u64], first: &str, last: &str) -> String {
        let mut h = goto_engine::stats::latency_histogram();
        for v in lat_us {
            h.record(*v).ok();
        }
        json!({
            "targetInvocationCounts": {"t": count},
            "targetFirstResponses": {"t": first},
            "targetLastResponses": {"t": last},
            "countsByStatusCodes": {"200": count - fives, "503": fives},
            "countsByTargetStatusCode": {"t": {"200": count - fives, "503": fives}},
            "latencyHistograms": {"t": histcodec::encode(&h)},
            "thresholdsByTarget": {"t": [
                {"threshold": "status5xx < 30%", "actual": 0.0, "unit": "%", "ok": true},
                {"threshold": "rps >= 1", "actual": 0.0, "unit": "req/s", "ok": true},
            ]},
            // A newer peer's field this version does not know.
            "somethingNew": {"t": [1, 2, 3]},
        })
        .to_string()
    }

    #[test]
    fn merges_counts_times_histograms_and_thresholds() {
        let a = peer_doc(
            10,
            1,
            &[1000; 10],
            "2026-01-01T00:00:01.000000Z",
            "2026-01-01T00:00:03.000000Z",
        );
        let b = peer_doc(
            10,
            5,
            &[9000; 10],
            "2026-01-01T00:00:02.000000Z",
            "2026-01-01T00:00:06.000000Z",
        );
        let mut sum = ClientResults::default();
        for text in [a, b] {
            let (doc, bad) = ClientResults::parse(&text).unwrap_or_else(|e| panic!("{e}"));
            assert!(bad.is_empty(), "{bad:?}");
            sum.merge(&doc);
        }
        assert_eq!(sum.target_invocation_counts["t"], 20);
        assert_eq!(sum.counts_by_status_codes["503"], 6);
        assert_eq!(
            sum.target_first_responses["t"],
            "2026-01-01T00:00:01.000000Z"
        );
        assert_eq!(
            sum.target_last_responses["t"],
            "2026-01-01T00:00:06.000000Z"
        );
        let lat = sum.latency_by_target["t"];
        assert_eq!(lat.count, 20);
        assert!(lat.p90 > 8.9 && lat.min < 1.1, "{lat:?}");
        // 6 of 20 is 30%: fails on the sum though each peer passed alone.
        let v = &sum.thresholds_by_target["t"];
        assert_eq!(v.len(), 2);
        assert_eq!((v[0].actual, v[0].ok), (30.0, false));
        // 20 requests over 5 s.
        assert_eq!((v[1].actual, v[1].ok), (4.0, true));
        let out = serde_json::to_value(&sum).unwrap_or_default();
        assert_eq!(out["latencyByTarget"]["t"]["p99.9"], lat.p999);
        assert!(out.get("latencyHistograms").is_none());
        assert!(out.get("somethingNew").is_none());
    }

    #[test]
    fn bad_documents_and_histograms_are_reported() {
        assert!(ClientResults::parse("not json").is_err());
        assert!(ClientResults::parse("[1]").is_err());
        let (doc, bad) = ClientResults::parse(
            r#"{"targetInvocationCounts":{"t":1},"latencyHistograms":{"t":"AAAA"}}"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(bad.len(), 1);
        assert_eq!(doc.target_invocation_counts["t"], 1);
        let (old, _) = ClientResults::parse("{}").unwrap_or_else(|e| panic!("{e}"));
        assert!(old.is_empty());
    }
}
