//! [`Rows`]: a map of the registry's state, one store row per key, that
//! remembers which keys a mutation touched so a save writes only those.
//! Reads go through `Deref` to the map; every way to change it marks keys.

use std::collections::btree_map::{Entry, ValuesMut};
use std::collections::{BTreeMap, BTreeSet};
use std::ops::Deref;

/// A `BTreeMap<String, T>` with per-key dirty marks.
#[derive(Debug)]
pub struct Rows<T> {
    map: BTreeMap<String, T>,
    dirty: BTreeSet<String>,
}

impl<T> Default for Rows<T> {
    fn default() -> Self {
        Rows {
            map: BTreeMap::new(),
            dirty: BTreeSet::new(),
        }
    }
}

impl<T> Deref for Rows<T> {
    type Target = BTreeMap<String, T>;
    fn deref(&self) -> &Self::Target {
        &self.map
    }
}

impl<T> FromIterator<(String, T)> for Rows<T> {
    /// Loaded rows: nothing to write back.
    fn from_iter<I: IntoIterator<Item = (String, T)>>(iter: I) -> Self {
        Rows {
            map: iter.into_iter().collect(),
            dirty: BTreeSet::new(),
        }
    }
}

impl<T: serde::Serialize> serde::Serialize for Rows<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.map.serialize(s)
    }
}

impl<T> Rows<T> {
    pub fn get_mut(&mut self, k: &str) -> Option<&mut T> {
        let v = self.map.get_mut(k)?;
        self.dirty.insert(k.to_string());
        Some(v)
    }

    pub fn entry(&mut self, k: String) -> Entry<'_, String, T> {
        self.dirty.insert(k.clone());
        self.map.entry(k)
    }

    pub fn insert(&mut self, k: String, v: T) -> Option<T> {
        self.dirty.insert(k.clone());
        self.map.insert(k, v)
    }

    pub fn remove(&mut self, k: &str) -> Option<T> {
        let v = self.map.remove(k)?;
        self.dirty.insert(k.to_string());
        Some(v)
    }

    pub fn clear(&mut self) {
        self.dirty.extend(std::mem::take(&mut self.map).into_keys());
    }

    /// Marks every key: the caller may change any value.
    pub fn values_mut(&mut self) -> ValuesMut<'_, String, T> {
        self.dirty.extend(self.map.keys().cloned());
        self.map.values_mut()
    }

    /// The keys changed since the last call (present: write; absent: delete).
    pub fn take_dirty(&mut self) -> BTreeSet<String> {
        std::mem::take(&mut self.dirty)
    }

    /// Marks every present key (a save that must rewrite everything).
    pub fn mark_all(&mut self) {
        self.dirty.extend(self.map.keys().cloned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_change_marks_its_key() {
        let mut r: Rows<u32> = [("a".to_string(), 1)].into_iter().collect();
        assert!(r.take_dirty().is_empty());
        assert_eq!(r.get("a"), Some(&1));
        *r.entry("b".into()).or_default() += 2;
        r.insert("c".into(), 3);
        assert_eq!(r.take_dirty().into_iter().collect::<Vec<_>>(), ["b", "c"]);
        assert!(r.get_mut("zz").is_none());
        r.remove("zz");
        assert!(r.take_dirty().is_empty());
        r.remove("a");
        for v in r.values_mut() {
            *v += 1;
        }
        assert_eq!(
            r.take_dirty().into_iter().collect::<Vec<_>>(),
            ["a", "b", "c"]
        );
        r.clear();
        assert_eq!(r.take_dirty().len(), 2);
        assert!(r.is_empty());
    }
}
