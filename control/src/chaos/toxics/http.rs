//! Toxics on HTTP proxy targets: the sets of a port's targets by name, and
//! how a chain applies to an HTTP exchange (the message head waits out the
//! latency or is cut; the body streams through the chain).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use parking_lot::RwLock;
use serde_json::Value;

use super::ends::wrap_body;
use super::pump::Chain;
use super::{ToxicSpec, Toxics};
use crate::body::Body;

/// The toxics of one port's proxy targets, by target name.
#[derive(Default)]
pub struct TargetToxics {
    /// Some target has a toxic: the forwarding path's only check otherwise.
    any: AtomicBool,
    map: RwLock<BTreeMap<String, Arc<Toxics>>>,
}

impl TargetToxics {
    #[inline]
    pub fn active(&self) -> bool {
        self.any.load(Ordering::Relaxed)
    }

    /// The target's toxics, when it has any.
    pub fn get(&self, target: &str) -> Option<Arc<Toxics>> {
        self.map.read().get(target).filter(|t| t.active()).cloned()
    }

    pub fn add(&self, target: &str, spec: ToxicSpec) -> Result<String, super::ToxicError> {
        let set = self
            .map
            .write()
            .entry(target.to_string())
            .or_default()
            .clone();
        let name = set.add(spec)?;
        self.refresh();
        Ok(name)
    }

    pub fn remove(&self, target: &str, name: &str) -> bool {
        let removed = self
            .map
            .read()
            .get(target)
            .is_some_and(|set| set.remove(name));
        self.refresh();
        removed
    }

    /// Drops a target's toxics (target removed or cleared).
    pub fn clear(&self, target: &str) {
        self.map.write().remove(target);
        self.refresh();
    }

    pub fn clear_all(&self) {
        self.map.write().clear();
        self.refresh();
    }

    /// The target's toxics with their counts (`[]` when none).
    pub fn list(&self, target: &str) -> Value {
        self.map
            .read()
            .get(target)
            .map_or(Value::Array(vec![]), |s| list(s))
    }

    /// Every target's toxic counts (scrape time: `/metrics`).
    pub fn all_counts(&self) -> Vec<(String, BTreeMap<String, super::ToxicCount>)> {
        self.map
            .read()
            .iter()
            .map(|(t, s)| (t.clone(), s.counts()))
            .collect()
    }

    fn refresh(&self) {
        let any = self.map.read().values().any(|s| s.active());
        self.any.store(any, Ordering::Relaxed);
    }
}

/// A set's toxics as JSON: each spec with its `applied` and `skipped` counts.
pub fn list(set: &Toxics) -> Value {
    let counts = set.counts();
    Value::Array(
        set.specs()
            .into_iter()
            .map(|spec| {
                let mut v = serde_json::to_value(&spec).unwrap_or_default();
                let c = counts.get(&spec.name).cloned().unwrap_or_default();
                if let Some(o) = v.as_object_mut() {
                    o.insert("applied".into(), c.applied.into());
                    o.insert("skipped".into(), c.skipped.into());
                }
                v
            })
            .collect(),
    )
}

/// The body passed through `chain` (unchanged when no toxic was drawn).
pub fn wrap(chain: Chain, body: Body) -> Body {
    if chain.is_empty() {
        body
    } else {
        wrap_body(chain, body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_switch_the_flag() {
        let t = TargetToxics::default();
        assert!(!t.active());
        let spec: ToxicSpec = serde_json::from_str(r#"{"type":"latency"}"#).unwrap();
        assert_eq!(t.add("a", spec).unwrap(), "latency_downstream");
        assert!(t.active());
        assert!(t.get("a").is_some());
        assert!(t.get("b").is_none());
        assert_eq!(t.list("a")[0]["applied"], 0);
        assert!(t.remove("a", "latency_downstream"));
        assert!(!t.active());
        assert!(t.get("a").is_none());
    }
}
