//! The registry's state in the `--data-dir` store: one row per label in each
//! section (peers with their epochs, targets and jobs, lockers) plus the
//! tracked headers. After every mutation the rows that changed are written
//! in one durable transaction before the call is answered; at startup the
//! rows are read back. A registry killed with `kill -9` thus comes back with
//! every acknowledged write.
//!
//! Saves are serialized by one mutex and each takes its snapshot inside it,
//! so a later save never writes an older state than an earlier one.

use std::collections::hash_map::DefaultHasher;
use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::path::Path;

use parking_lot::Mutex;
use serde::de::DeserializeOwned;

use super::State;
use crate::store::{Op, Store, StoreError};

const PEERS: &str = "registry.peers";
const LABELS: &str = "registry.labels";
const LOCKERS: &str = "registry.lockers";
const TRACKED: &str = "registry.tracked";
const TRACKED_KEY: &str = "headers";

type Key = (&'static str, String);

/// The open store and a fingerprint of each row last written.
pub struct Persist {
    store: Store,
    written: Mutex<BTreeMap<Key, u64>>,
}

fn fingerprint(bytes: &[u8]) -> u64 {
    let mut h = DefaultHasher::new();
    bytes.hash(&mut h);
    h.finish()
}

/// The rows of a state, serialized.
fn rows(st: &State) -> Result<BTreeMap<Key, Vec<u8>>, serde_json::Error> {
    let mut out = BTreeMap::new();
    for (label, g) in &st.peers {
        out.insert((PEERS, label.clone()), serde_json::to_vec(g)?);
    }
    for (label, c) in &st.labels {
        out.insert((LABELS, label.clone()), serde_json::to_vec(c)?);
    }
    for (label, l) in &st.lockers.by_label {
        out.insert((LOCKERS, label.clone()), serde_json::to_vec(l)?);
    }
    if !st.tracked.is_empty() {
        out.insert(
            (TRACKED, TRACKED_KEY.to_string()),
            serde_json::to_vec(&st.tracked)?,
        );
    }
    Ok(out)
}

fn section<T: DeserializeOwned>(
    store: &Store,
    name: &'static str,
) -> Result<Vec<(String, T, u64)>, String> {
    store
        .load(name)
        .map_err(|e| e.to_string())?
        .into_iter()
        .map(|(k, v)| {
            let t = serde_json::from_slice(&v)
                .map_err(|e| format!("data store: unreadable {name} row {k:?}: {e}"))?;
            Ok((k, t, fingerprint(&v)))
        })
        .collect()
}

impl Persist {
    /// Opens the store in `dir` and reads the state it holds.
    pub(super) fn open(dir: &Path) -> Result<(Persist, State), String> {
        let store = Store::open(dir).map_err(|e| e.to_string())?;
        let mut st = State::default();
        let mut written = BTreeMap::new();
        fn keep<T>(
            written: &mut BTreeMap<Key, u64>,
            name: &'static str,
            rows: Vec<(String, T, u64)>,
        ) -> Vec<(String, T)> {
            rows.into_iter()
                .map(|(k, t, f)| {
                    written.insert((name, k.clone()), f);
                    (k, t)
                })
                .collect()
        }
        st.peers = keep(&mut written, PEERS, section(&store, PEERS)?)
            .into_iter()
            .collect();
        st.labels = keep(&mut written, LABELS, section(&store, LABELS)?)
            .into_iter()
            .collect();
        st.lockers.by_label = keep(&mut written, LOCKERS, section(&store, LOCKERS)?)
            .into_iter()
            .collect();
        if let Some((_, tracked)) =
            keep::<Vec<String>>(&mut written, TRACKED, section(&store, TRACKED)?)
                .into_iter()
                .find(|(k, _)| k == TRACKED_KEY)
        {
            st.tracked = tracked;
        }
        Ok((
            Persist {
                store,
                written: Mutex::new(written),
            },
            st,
        ))
    }

    /// Writes what changed in `state` since the last save.
    pub(super) fn save(&self, state: &Mutex<State>) -> Result<(), StoreError> {
        let mut written = self.written.lock();
        let rows = {
            let st = state.lock();
            rows(&st)
        };
        let rows = rows.map_err(|e| self.store.error(format!("cannot serialize: {e}")))?;
        let mut ops = Vec::new();
        let mut now = BTreeMap::new();
        for ((section, key), bytes) in rows {
            let f = fingerprint(&bytes);
            if written.get(&(section, key.clone())) != Some(&f) {
                ops.push(Op::Put {
                    section,
                    key: key.clone(),
                    value: bytes,
                });
            }
            now.insert((section, key), f);
        }
        for (section, key) in written.keys() {
            if !now.contains_key(&(*section, key.clone())) {
                ops.push(Op::Delete {
                    section,
                    key: key.clone(),
                });
            }
        }
        self.store.apply(&ops)?;
        *written = now;
        Ok(())
    }
}

/// Serializes `v` for a test's comparison of states.
#[cfg(test)]
fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use super::*;
    use crate::registry::labels::LabelConfig;
    use crate::registry::peers::{PeerGroup, PeerInfo};

    fn temp_dir() -> std::path::PathBuf {
        std::env::temp_dir().join(format!("goto-persist-{}", uuid::Uuid::new_v4()))
    }

    #[test]
    fn state_round_trips_and_only_changes_are_written() {
        let dir = temp_dir();
        let (p, empty) = Persist::open(&dir).unwrap();
        assert!(empty.peers.is_empty() && empty.tracked.is_empty());
        let state = Mutex::new(State::default());
        {
            let mut st = state.lock();
            let info = PeerInfo::from_json(br#"{"name":"a","address":"127.0.0.1:1"}"#).unwrap();
            let mut g = PeerGroup::default();
            g.register(&info, SystemTime::now());
            g.register(&info, SystemTime::now());
            st.peers.insert("a".into(), g);
            st.labels.insert(
                "a".into(),
                LabelConfig {
                    targets: vec![("t".into(), serde_json::json!({"name": "t"}))],
                    jobs: Vec::new(),
                },
            );
            st.tracked = vec!["x-id".into()];
            st.lockers
                .store("a", "127.0.0.1:1", "k", "v".into(), SystemTime::now());
        }
        p.save(&state).unwrap();
        // Nothing changed: nothing to write (the fingerprints match).
        p.save(&state).unwrap();
        state.lock().lockers.clear_all();
        p.save(&state).unwrap();
        drop(p);
        let (_p, back) = Persist::open(&dir).unwrap();
        let st = state.lock();
        assert_eq!(json(&back.peers), json(&st.peers));
        assert_eq!(back.peers["a"].pod_epochs["127.0.0.1:1"].len(), 2);
        assert_eq!(json(&back.labels), json(&st.labels));
        assert_eq!(back.tracked, vec!["x-id".to_string()]);
        assert!(back.lockers.by_label.is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
