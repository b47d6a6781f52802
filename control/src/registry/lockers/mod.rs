//! Lockers: what peers report, per label, per instance address, per key,
//! each entry `{Data, FirstReported, LastReported}`. Data of a past epoch
//! stays readable under `address#<epoch>`.
//!
//! Bounded: a registry keeps the text of an instance's timeline keys for
//! its newest [`RAW_MINUTES`] minutes only. An older `client_timeline_<m>`
//! key is sealed: its text is dropped (from memory; a `--data-dir` store
//! keeps it) and what the folded views need stays: a fingerprint of the
//! text and its per-second counts ([`fold_timeline::compact`]). Sealed keys
//! are left out of the locker reads; re-sent unchanged they stay sealed;
//! replaced or removed, their part is taken out of the merged views exactly
//! (from the store's copy of the text, or without one from the counts, the
//! seconds' percentiles then no longer shown).

use std::collections::{BTreeMap, BTreeSet};
use std::time::SystemTime;

use serde_json::{json, Map, Value};

use super::fold::{is_timeline_key, Folds};
use super::fold_timeline;
use super::TIMELINE_KEY;
use crate::timefmt::rfc3339;

/// Minutes of timeline text kept per instance: the newest and the one
/// before (a peer re-sends only its current minute, and the previous one
/// for its last intervals).
pub const RAW_MINUTES: u64 = 2;

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Entry {
    pub data: String,
    pub first: SystemTime,
    pub last: SystemTime,
    /// Set on a sealed timeline key (its `data` is then empty); never
    /// stored: the store keeps the text.
    #[serde(skip)]
    pub sealed: Option<Box<Sealed>>,
    /// A timeline key's compact counts, kept from when its text was folded.
    #[serde(skip)]
    pub counts: Option<Box<[u8]>>,
}

/// What a sealed timeline key keeps.
#[derive(Debug, Clone)]
pub struct Sealed {
    /// Of the text (with its length): a re-sent copy changes nothing.
    pub fingerprint: (u64, usize),
    /// [`fold_timeline::compact`] of its contribution.
    pub counts: Box<[u8]>,
    /// The address its text is stored under in the `--data-dir` store (the
    /// address before a retirement, until the next save moves it).
    pub stored_at: String,
}

/// A text's fingerprint: SipHash with fixed keys, and the length.
pub fn fingerprint(text: &str) -> (u64, usize) {
    use std::hash::{Hash, Hasher};
    #[allow(deprecated)]
    let mut h = std::hash::SipHasher::new();
    text.hash(&mut h);
    (h.finish(), text.len())
}

/// Reads a sealed key's text back from the store: `(stored_at, key)`.
pub type RawText<'a> = &'a dyn Fn(&str, &str) -> Option<String>;

fn no_raw(_: &str, _: &str) -> Option<String> {
    None
}

impl Entry {
    fn to_json(&self) -> Value {
        json!({
            "Data": self.data,
            "FirstReported": rfc3339(self.first),
            "LastReported": rfc3339(self.last),
        })
    }
}

/// One instance's keys.
pub type Locker = BTreeMap<String, Entry>;

/// What a change touched, for the `--data-dir` store to rewrite: a broader
/// mark orders (and is saved) before a narrower one.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Mark {
    All,
    Label(String),
    Instance(String, String),
    Entry(String, String, String),
}

/// label -> address -> locker.
#[derive(Debug, Default)]
pub struct Lockers {
    /// Read freely; change only through the methods, which mark what a save
    /// must write.
    pub by_label: BTreeMap<String, BTreeMap<String, Locker>>,
    marks: BTreeSet<Mark>,
    /// Aggregates of the `client` and timeline keys, kept in step with
    /// every change below.
    folds: Folds,
    /// Seal timeline keys past the newest [`RAW_MINUTES`] (`false` in a
    /// plain `Lockers::default()`: the unit tests compare with the text).
    bounded: bool,
    /// Instances with timeline keys stored since the last [`Lockers::seal_pending`].
    pending: BTreeSet<(String, String)>,
}

impl Lockers {
    /// Empty lockers that seal old timeline keys (the registry's).
    pub fn bounded() -> Lockers {
        Lockers {
            bounded: true,
            ..Lockers::default()
        }
    }

    /// Loaded lockers (bounded): nothing to write back.
    pub fn loaded(mut by_label: BTreeMap<String, BTreeMap<String, Locker>>) -> Lockers {
        let mut folds = Folds::default();
        for (label, by_addr) in by_label.iter_mut() {
            for (addr, l) in by_addr.iter_mut() {
                for (k, e) in l.iter_mut() {
                    folds.change(label, addr, k, None, Some(&e.data));
                    e.counts = folds.take_counts();
                }
            }
        }
        let mut l = Lockers {
            folds,
            by_label,
            marks: BTreeSet::new(),
            bounded: true,
            pending: BTreeSet::new(),
        };
        let all: Vec<(String, String)> = l
            .by_label
            .iter()
            .flat_map(|(lb, m)| m.keys().map(move |a| (lb.clone(), a.clone())))
            .collect();
        for (lb, a) in all {
            l.seal_old(&lb, &a);
        }
        l
    }

    /// Seals what the instances that stored timeline keys since the last
    /// call no longer need as text; called once their changes are saved.
    pub fn seal_pending(&mut self) {
        for (l, a) in std::mem::take(&mut self.pending) {
            self.seal_old(&l, &a);
        }
    }

    /// Seals the instance's timeline keys older than its newest
    /// [`RAW_MINUTES`] minutes.
    fn seal_old(&mut self, label: &str, addr: &str) {
        if !self.bounded {
            return;
        }
        let marks = &self.marks;
        // Text not yet written to the store stays until it is (the marks of
        // unsaved changes are taken by the save).
        let whole = [
            Mark::All,
            Mark::Label(label.into()),
            Mark::Instance(label.into(), addr.into()),
        ];
        if whole.iter().any(|m| marks.contains(m)) {
            return;
        }
        let Some(l) = self.by_label.get_mut(label).and_then(|m| m.get_mut(addr)) else {
            return;
        };
        let minute = |k: &str| -> Option<u64> {
            if !is_timeline_key(k) {
                return None;
            }
            k.strip_prefix(TIMELINE_KEY)?.parse().ok()
        };
        let Some(newest) = l.keys().filter_map(|k| minute(k)).max() else {
            return;
        };
        for (k, e) in l.iter_mut() {
            let old = minute(k).is_some_and(|m| m.saturating_add(RAW_MINUTES) <= newest);
            if !old || e.sealed.is_some() {
                continue;
            }
            if marks.contains(&Mark::Entry(label.into(), addr.into(), k.clone())) {
                continue;
            }
            let text = std::mem::take(&mut e.data);
            let counts = e.counts.take().unwrap_or_else(|| {
                let c = fold_timeline::contribution(&text, &mut Vec::new());
                fold_timeline::compact(&c)
            });
            e.sealed = Some(Box::new(Sealed {
                fingerprint: fingerprint(&text),
                counts,
                stored_at: addr.to_string(),
            }));
        }
    }

    /// Takes a held entry's part out of the folds (`new`: what replaces it).
    fn unfold(
        &mut self,
        label: &str,
        addr: &str,
        key: &str,
        e: &Entry,
        new: Option<&str>,
        raw: RawText<'_>,
    ) {
        match &e.sealed {
            None => self.folds.change(label, addr, key, Some(&e.data), new),
            Some(s) => match raw(&s.stored_at, key) {
                Some(text) if fingerprint(&text) == s.fingerprint => {
                    self.folds.change(label, addr, key, Some(&text), new)
                }
                _ => {
                    let c = fold_timeline::expand(&s.counts);
                    self.folds.change_sealed(label, addr, key, &c, new)
                }
            },
        }
    }

    /// The folded aggregates.
    pub fn folds(&self) -> &Folds {
        &self.folds
    }

    /// What changed since the last call.
    pub fn take_marks(&mut self) -> BTreeSet<Mark> {
        std::mem::take(&mut self.marks)
    }

    /// Marks everything (a save that must rewrite all).
    pub fn mark_all(&mut self) {
        self.marks.insert(Mark::All);
    }

    fn mark_entry(&mut self, label: &str, addr: &str, key: &str) {
        self.marks
            .insert(Mark::Entry(label.into(), addr.into(), key.into()));
    }

    pub fn store(&mut self, label: &str, addr: &str, key: &str, data: String, now: SystemTime) {
        self.store_with(label, addr, key, data, now, &no_raw);
    }

    /// Stores a key; `raw` reads a sealed key's text back (the store).
    pub fn store_with(
        &mut self,
        label: &str,
        addr: &str,
        key: &str,
        data: String,
        now: SystemTime,
        raw: RawText<'_>,
    ) {
        self.mark_entry(label, addr, key);
        self.folds.take_counts();
        let locker = self
            .by_label
            .entry(label.to_string())
            .or_default()
            .entry(addr.to_string())
            .or_default();
        let old = locker.remove(key);
        let entry = match old {
            // Re-sent unchanged: stays sealed.
            Some(mut e)
                if e.sealed
                    .as_ref()
                    .is_some_and(|s| s.fingerprint == fingerprint(&data)) =>
            {
                e.last = now;
                e
            }
            Some(mut e) => {
                self.unfold(label, addr, key, &e, Some(&data), raw);
                if let Some(c) = self.folds.take_counts() {
                    e.counts = Some(c);
                }
                e.data = data;
                e.sealed = None;
                e.last = now;
                e
            }
            None => {
                self.folds.change(label, addr, key, None, Some(&data));
                Entry {
                    data,
                    first: now,
                    last: now,
                    sealed: None,
                    counts: self.folds.take_counts(),
                }
            }
        };
        if let Some(l) = self.instance_mut(label, addr) {
            l.insert(key.to_string(), entry);
        }
        if is_timeline_key(key) && self.bounded {
            self.pending.insert((label.to_string(), addr.to_string()));
        }
    }

    /// Removes a key; false if it was not there.
    pub fn remove(&mut self, label: &str, addr: &str, key: &str) -> bool {
        self.remove_with(label, addr, key, &no_raw)
    }

    /// Removes a key; `raw` reads a sealed key's text back (the store).
    pub fn remove_with(&mut self, label: &str, addr: &str, key: &str, raw: RawText<'_>) -> bool {
        let old = self.instance_mut(label, addr).and_then(|l| l.remove(key));
        if let Some(e) = &old {
            self.unfold(label, addr, key, e, None, raw);
        }
        let removed = old.is_some();
        if removed {
            self.mark_entry(label, addr, key);
        }
        removed
    }

    /// Whether `key` of the instance is sealed (its text not held).
    pub fn is_sealed(&self, label: &str, addr: &str, key: &str) -> bool {
        self.by_label
            .get(label)
            .and_then(|m| m.get(addr))
            .and_then(|l| l.get(key))
            .is_some_and(|e| e.sealed.is_some())
    }

    /// Keeps a copy of a key's data under `<key>_last`; false if absent.
    pub fn lock(&mut self, label: &str, addr: &str, key: &str) -> bool {
        let Some(l) = self.instance_mut(label, addr) else {
            return false;
        };
        // A sealed key has no text to copy.
        let Some(e) = l.get(key).filter(|e| e.sealed.is_none()).cloned() else {
            return false;
        };
        let last = format!("{key}_last");
        l.insert(last.clone(), e);
        self.mark_entry(label, addr, &last);
        true
    }

    fn instance_mut(&mut self, label: &str, addr: &str) -> Option<&mut Locker> {
        self.by_label.get_mut(label)?.get_mut(addr)
    }

    /// Clears one instance's locker; false if it had none.
    pub fn clear_instance(&mut self, label: &str, addr: &str) -> bool {
        self.clear_instance_with(label, addr, &no_raw)
    }

    /// Clears one instance's locker; `raw` reads sealed keys' text back.
    pub fn clear_instance_with(&mut self, label: &str, addr: &str, raw: RawText<'_>) -> bool {
        let taken = self.instance_mut(label, addr).map(std::mem::take);
        for (k, e) in taken.iter().flatten() {
            self.unfold(label, addr, k, e, None, raw);
        }
        let had = taken.is_some();
        self.marks.insert(Mark::Instance(label.into(), addr.into()));
        had
    }

    /// Clears a label's lockers (all instances); false if it had none.
    pub fn clear_label(&mut self, label: &str) -> bool {
        self.marks.insert(Mark::Label(label.into()));
        self.folds.clear_label(label);
        self.by_label.remove(label).is_some()
    }

    pub fn clear_all(&mut self) {
        self.marks.insert(Mark::All);
        self.folds.clear_all();
        self.by_label.clear();
    }

    /// A new epoch at `addr`: its locker so far becomes `addr#<epoch>`.
    pub fn retire(&mut self, label: &str, addr: &str, epoch: u32) {
        let Some(by_addr) = self.by_label.get_mut(label) else {
            return;
        };
        if let Some(l) = by_addr.remove(addr) {
            let past = format!("{addr}#{epoch}");
            if !l.is_empty() {
                by_addr.insert(past.clone(), l);
                self.folds.retire(label, addr, &past);
            }
            self.marks.insert(Mark::Instance(label.into(), addr.into()));
            self.marks.insert(Mark::Instance(label.into(), past));
        }
    }

    /// `{key: entry}` of one instance.
    pub fn instance_json(&self, label: &str, addr: &str) -> Option<Value> {
        let l = self.by_label.get(label)?.get(addr)?;
        Some(locker_json(l))
    }

    /// `{address: {key: entry}}` of a label.
    pub fn label_json(&self, label: &str) -> Option<Value> {
        let by_addr = self.by_label.get(label)?;
        Some(Value::Object(
            by_addr
                .iter()
                .map(|(a, l)| (a.clone(), locker_json(l)))
                .collect(),
        ))
    }

    /// `{label: {address: {key: entry}}}`.
    pub fn all_json(&self) -> Value {
        Value::Object(
            self.by_label
                .keys()
                .filter_map(|k| Some((k.clone(), self.label_json(k)?)))
                .collect(),
        )
    }

    /// The scenario's flat spelling: `{key: entry}` over all instances of a
    /// label; a key more than one instance holds appears as `key@address`.
    pub fn label_flat_json(&self, label: &str) -> Option<Value> {
        let by_addr = self.by_label.get(label)?;
        let mut seen = BTreeSet::new();
        let mut dup = BTreeSet::new();
        for l in by_addr.values() {
            for (k, _) in l.iter().filter(|(_, e)| e.sealed.is_none()) {
                if !seen.insert(k.as_str()) {
                    dup.insert(k.as_str());
                }
            }
        }
        let mut out = Map::new();
        for (addr, l) in by_addr {
            for (k, e) in l.iter().filter(|(_, e)| e.sealed.is_none()) {
                let key = if dup.contains(k.as_str()) {
                    format!("{k}@{addr}")
                } else {
                    k.clone()
                };
                out.insert(key, e.to_json());
            }
        }
        Some(Value::Object(out))
    }

    /// `{label: {key: entry}}`, flat per label.
    pub fn all_flat_json(&self) -> Value {
        Value::Object(
            self.by_label
                .keys()
                .filter_map(|k| Some((k.clone(), self.label_flat_json(k)?)))
                .collect(),
        )
    }
}

fn locker_json(l: &Locker) -> Value {
    Value::Object(
        l.iter()
            .filter(|(_, e)| e.sealed.is_none())
            .map(|(k, e)| (k.clone(), e.to_json()))
            .collect(),
    )
}

#[cfg(test)]
mod tests;
