//! Lockers: what peers report, per label, per instance address, per key,
//! each entry `{Data, FirstReported, LastReported}`. Data of a past epoch
//! stays readable under `address#<epoch>`.

use std::collections::{BTreeMap, BTreeSet};
use std::time::SystemTime;

use serde_json::{json, Map, Value};

use super::fold::Folds;
use crate::timefmt::rfc3339;

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Entry {
    pub data: String,
    pub first: SystemTime,
    pub last: SystemTime,
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
}

impl Lockers {
    /// Loaded lockers: nothing to write back.
    pub fn loaded(by_label: BTreeMap<String, BTreeMap<String, Locker>>) -> Lockers {
        Lockers {
            folds: Folds::rebuild(&by_label),
            by_label,
            marks: BTreeSet::new(),
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
        self.mark_entry(label, addr, key);
        let locker = self
            .by_label
            .entry(label.to_string())
            .or_default()
            .entry(addr.to_string())
            .or_default();
        let old = locker.get(key).map(|e| e.data.as_str());
        self.folds.change(label, addr, key, old, Some(&data));
        match locker.get_mut(key) {
            Some(e) => {
                e.data = data;
                e.last = now;
            }
            None => {
                locker.insert(
                    key.to_string(),
                    Entry {
                        data,
                        first: now,
                        last: now,
                    },
                );
            }
        }
    }

    /// Removes a key; false if it was not there.
    pub fn remove(&mut self, label: &str, addr: &str, key: &str) -> bool {
        let old = self.instance_mut(label, addr).and_then(|l| l.remove(key));
        if let Some(e) = &old {
            self.folds.change(label, addr, key, Some(&e.data), None);
        }
        let removed = old.is_some();
        if removed {
            self.mark_entry(label, addr, key);
        }
        removed
    }

    /// Keeps a copy of a key's data under `<key>_last`; false if absent.
    pub fn lock(&mut self, label: &str, addr: &str, key: &str) -> bool {
        let Some(l) = self.instance_mut(label, addr) else {
            return false;
        };
        let Some(e) = l.get(key).cloned() else {
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
        let taken = self.instance_mut(label, addr).map(std::mem::take);
        for (k, e) in taken.iter().flatten() {
            self.folds.change(label, addr, k, Some(&e.data), None);
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
            for k in l.keys() {
                if !seen.insert(k.as_str()) {
                    dup.insert(k.as_str());
                }
            }
        }
        let mut out = Map::new();
        for (addr, l) in by_addr {
            for (k, e) in l {
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
    Value::Object(l.iter().map(|(k, e)| (k.clone(), e.to_json())).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_lock_retire_and_flatten() {
        let t = SystemTime::UNIX_EPOCH;
        let mut l = Lockers::default();
        l.store("p", "a:1", "client", "1".into(), t);
        l.store("p", "a:1", "client", "2".into(), t);
        assert!(l.lock("p", "a:1", "client"));
        l.store("p", "b:2", "client", "3".into(), t);
        l.store("p", "b:2", "only", "4".into(), t);
        let flat = l.label_flat_json("p").unwrap_or(Value::Null);
        assert_eq!(flat["client@a:1"]["Data"], "2");
        assert_eq!(flat["client@b:2"]["Data"], "3");
        assert_eq!(flat["client_last"]["Data"], "2");
        assert_eq!(flat["only"]["Data"], "4");
        l.retire("p", "a:1", 0);
        assert_eq!(l.all_json()["p"]["a:1#0"]["client"]["Data"], "2");
        assert!(l.instance_json("p", "a:1").is_none());
        assert!(!l.lock("p", "b:2", "nope"));
        assert!(l.remove("p", "b:2", "only"));
        assert!(!l.remove("p", "b:2", "only"));
    }
}
