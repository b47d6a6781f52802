//! Aggregates folded from locker keys as they arrive, per label: the summed
//! results of every instance's `client` key and the merged timeline of
//! every `client_timeline_<minute>` key. The lockers call [`Folds::change`]
//! on every store and removal with the key's earlier and new text, so the
//! aggregates always equal a merge of the keys held, and reads never walk
//! the peers' raw data.

use std::collections::BTreeMap;

use super::fold_peers::PeerFold;
use super::fold_results::ResultsFold;
use super::fold_timeline::{self, TimelineFold};
use super::{CLIENT_KEY, TIMELINE_KEY};
use crate::client::document::ClientResults;

/// `client_timeline_<minute>` (not a `_last` copy of one).
pub fn is_timeline_key(k: &str) -> bool {
    k.strip_prefix(TIMELINE_KEY)
        .is_some_and(|m| !m.is_empty() && m.bytes().all(|b| b.is_ascii_digit()))
}

/// One label's aggregates.
#[derive(Debug, Default)]
pub struct LabelFold {
    pub results: ResultsFold,
    pub timeline: TimelineFold,
    /// address -> that instance's part (the per-peer view).
    pub peers: BTreeMap<String, PeerFold>,
}

/// label -> aggregates.
#[derive(Debug, Default)]
pub struct Folds {
    by_label: BTreeMap<String, LabelFold>,
    /// The compact counts of the timeline text the last change folded in
    /// ([`Folds::take_counts`]): a sealed key keeps them without parsing
    /// its text again.
    counts: Option<Box<[u8]>>,
}

impl Folds {
    /// The compact counts of the timeline text last folded in, once.
    pub fn take_counts(&mut self) -> Option<Box<[u8]>> {
        self.counts.take()
    }

    pub fn label(&self, label: &str) -> Option<&LabelFold> {
        self.by_label.get(label)
    }

    pub fn labels(&self) -> impl Iterator<Item = (&String, &LabelFold)> {
        self.by_label.iter()
    }

    /// Key `key` of `addr` in `label` went from `old` to `new` (`None`:
    /// absent): the old text's contribution is taken out, the new one's
    /// added.
    pub fn change(
        &mut self,
        label: &str,
        addr: &str,
        key: &str,
        old: Option<&str>,
        new: Option<&str>,
    ) {
        let results = key == CLIENT_KEY;
        if !(results || is_timeline_key(key)) || old == new {
            return;
        }
        let f = self.by_label.entry(label.to_string()).or_default();
        let mut skipped = Vec::new();
        if results {
            for (text, add) in [(old, false), (new, true)] {
                let Some(text) = text else { continue };
                match ClientResults::parse(text) {
                    Ok((doc, bad)) => {
                        if add {
                            skipped.extend(bad);
                        }
                        if add {
                            f.results.add(&doc);
                        } else {
                            f.results.remove(&doc);
                        }
                        let p = f.peers.entry(addr.to_string()).or_default();
                        p.set_results(add.then_some(&doc));
                    }
                    Err(e) if add => skipped.push(e.to_string()),
                    Err(_) => {
                        if let Some(p) = f.peers.get_mut(addr) {
                            p.set_results(None);
                        }
                    }
                }
            }
        } else {
            for (text, add) in [(old, false), (new, true)] {
                let Some(text) = text else { continue };
                let mut quiet = Vec::new();
                // The old text's complaints were logged when it arrived.
                let sink = if add { &mut skipped } else { &mut quiet };
                let c = fold_timeline::contribution(text, sink);
                f.timeline.apply(&c, add);
                if add {
                    self.counts = Some(fold_timeline::compact(&c));
                }
                f.peers
                    .entry(addr.to_string())
                    .or_default()
                    .apply_timeline(&c, add);
            }
        }
        for s in &skipped {
            tracing::warn!(peer = %label, address = %addr, key = %key, "locker data not folded: {s}");
        }
        if f.peers.get(addr).is_some_and(PeerFold::is_empty) {
            f.peers.remove(addr);
        }
        if f.results.is_empty() && f.timeline.is_empty() && f.peers.is_empty() {
            self.by_label.remove(label);
        }
    }

    /// Like [`change`](Self::change) for a sealed key, whose text is gone:
    /// `old` is the contribution its compact counts kept (no histograms).
    pub fn change_sealed(
        &mut self,
        label: &str,
        addr: &str,
        key: &str,
        old: &fold_timeline::Contribution,
        new: Option<&str>,
    ) {
        if let Some(f) = self.by_label.get_mut(label) {
            f.timeline.apply(old, false);
            if let Some(p) = f.peers.get_mut(addr) {
                p.apply_timeline(old, false);
                if p.is_empty() {
                    f.peers.remove(addr);
                }
            }
            if f.results.is_empty() && f.timeline.is_empty() && f.peers.is_empty() {
                self.by_label.remove(label);
            }
        }
        self.change(label, addr, key, None, new);
    }

    /// The instance at `addr` became `past` (a new epoch at the address).
    pub fn retire(&mut self, label: &str, addr: &str, past: &str) {
        if let Some(f) = self.by_label.get_mut(label) {
            if let Some(p) = f.peers.remove(addr) {
                f.peers.insert(past.to_string(), p);
            }
        }
    }

    pub fn clear_label(&mut self, label: &str) {
        self.by_label.remove(label);
    }

    pub fn clear_all(&mut self) {
        self.by_label.clear();
    }
}
