//! Client results folded on arrival: per label, the sum of every instance's
//! `client` document. A new document merges in (counts add, histograms add
//! exactly); a replaced or removed one is taken out first (counts and
//! histograms subtract; the earliest first and latest last response come
//! from multisets of every document's, so they step back too), so the sum
//! is always exactly that of the documents held.

use std::collections::BTreeMap;

use crate::client::document::{ClientResults, Counts, LatencyStats};

/// A label's summed results.
#[derive(Debug, Default)]
pub struct ResultsFold {
    sum: ClientResults,
    /// Documents naming each target.
    targets: BTreeMap<String, u32>,
    firsts: BTreeMap<String, BTreeMap<String, u32>>,
    lasts: BTreeMap<String, BTreeMap<String, u32>>,
    docs: u32,
}

fn count_in(m: &mut BTreeMap<String, BTreeMap<String, u32>>, t: &str, v: &str, add: bool) {
    let set = m.entry(t.to_string()).or_default();
    let n = set.entry(v.to_string()).or_default();
    if add {
        *n += 1;
    } else {
        *n = n.saturating_sub(1);
        if *n == 0 {
            set.remove(v);
        }
    }
    if set.is_empty() {
        m.remove(t);
    }
}

fn sub(into: &mut Counts, from: &Counts) {
    for (k, n) in from {
        if let Some(v) = into.get_mut(k) {
            *v = v.saturating_sub(*n);
            if *v == 0 {
                into.remove(k);
            }
        }
    }
}

fn sub2(into: &mut BTreeMap<String, Counts>, from: &BTreeMap<String, Counts>) {
    for (k, m) in from {
        if let Some(v) = into.get_mut(k) {
            sub(v, m);
            if v.is_empty() {
                into.remove(k);
            }
        }
    }
}

impl ResultsFold {
    pub fn is_empty(&self) -> bool {
        self.docs == 0
    }

    /// Adds one instance's document.
    pub fn add(&mut self, doc: &ClientResults) {
        self.sum.merge(doc);
        self.docs += 1;
        self.track(doc, true);
    }

    /// Takes out a document added before.
    pub fn remove(&mut self, doc: &ClientResults) {
        self.docs = self.docs.saturating_sub(1);
        if self.docs == 0 {
            *self = ResultsFold::default();
            return;
        }
        let s = &mut self.sum;
        sub(
            &mut s.target_invocation_counts,
            &doc.target_invocation_counts,
        );
        sub(&mut s.counts_by_status, &doc.counts_by_status);
        sub(&mut s.counts_by_status_codes, &doc.counts_by_status_codes);
        sub(&mut s.counts_by_headers, &doc.counts_by_headers);
        sub2(&mut s.counts_by_header_values, &doc.counts_by_header_values);
        sub2(&mut s.counts_by_target_status, &doc.counts_by_target_status);
        sub2(
            &mut s.counts_by_target_status_code,
            &doc.counts_by_target_status_code,
        );
        sub2(
            &mut s.counts_by_target_headers,
            &doc.counts_by_target_headers,
        );
        for (t, by_header) in &doc.counts_by_target_header_values {
            if let Some(v) = s.counts_by_target_header_values.get_mut(t) {
                sub2(v, by_header);
            }
        }
        sub(
            &mut s.open_connections_by_target,
            &doc.open_connections_by_target,
        );
        for (t, h) in &doc.histograms {
            if let Some(acc) = s.histograms.get_mut(t) {
                // The same counts were added with this document.
                let _ = acc.subtract(h);
            }
        }
        self.track(doc, false);
    }

    /// Keeps the per-target bookkeeping that sums cannot: which targets
    /// some document still names, and the first/last response multisets.
    fn track(&mut self, doc: &ClientResults, add: bool) {
        for t in doc.target_invocation_counts.keys() {
            let n = self.targets.entry(t.clone()).or_default();
            if add {
                *n += 1;
            } else {
                *n = n.saturating_sub(1);
            }
        }
        for (t, v) in &doc.target_first_responses {
            count_in(&mut self.firsts, t, v, add);
        }
        for (t, v) in &doc.target_last_responses {
            count_in(&mut self.lasts, t, v, add);
        }
        if add {
            return;
        }
        let gone: Vec<String> = self
            .targets
            .iter()
            .filter(|(_, n)| **n == 0)
            .map(|(t, _)| t.clone())
            .collect();
        let s = &mut self.sum;
        for t in &gone {
            self.targets.remove(t);
            s.target_invocation_counts.remove(t);
            s.counts_by_target_status.remove(t);
            s.counts_by_target_status_code.remove(t);
            s.counts_by_target_headers.remove(t);
            s.counts_by_target_header_values.remove(t);
            s.histograms.remove(t);
            s.thresholds_by_target.remove(t);
            s.io_driver_by_target.remove(t);
            s.open_connections_by_target.remove(t);
        }
        let pick = |m: &BTreeMap<String, BTreeMap<String, u32>>, last: bool| {
            m.iter()
                .filter_map(|(t, set)| {
                    let v = if last {
                        set.keys().next_back()
                    } else {
                        set.keys().next()
                    };
                    Some((t.clone(), v?.clone()))
                })
                .collect::<BTreeMap<String, String>>()
        };
        s.target_first_responses = pick(&self.firsts, false);
        s.target_last_responses = pick(&self.lasts, true);
        s.latency_by_target = s
            .histograms
            .iter()
            .filter(|(_, h)| !h.is_empty())
            .map(|(t, h)| (t.clone(), LatencyStats::of(h)))
            .collect();
        let with: Vec<String> = s.thresholds_by_target.keys().cloned().collect();
        for t in with {
            s.add_thresholds(&t, &[]);
        }
    }

    /// The sum, in `/client/results` shape.
    pub fn document(&self) -> &ClientResults {
        &self.sum
    }
}
