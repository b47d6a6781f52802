//! The registry's state in the `--data-dir` store: one row per label for
//! peers (with their epochs) and for targets and jobs, one row per locker
//! entry (label, address, key), plus the tracked headers. Mutations mark the
//! keys they touch ([`super::rows::Rows`], [`super::lockers::Mark`]); after
//! every mutation the marked rows, and only those, are serialized and written
//! in one durable transaction before the call is answered, so a save costs
//! what changed, not the size of the state. At startup the rows are read
//! back. A registry killed with `kill -9` thus comes back with every
//! acknowledged write.
//!
//! Saves are serialized by one mutex and each takes its marks inside it, so
//! a later save never writes an older state than an earlier one. A save that
//! fails leaves the next one to rewrite everything (its marks are gone).

use std::collections::BTreeMap;
use std::path::Path;

use parking_lot::Mutex;
use serde::de::DeserializeOwned;

use super::lockers::{Entry, Locker, Lockers, Mark};
use super::store::{Op, Store, StoreError};
use super::State;

const PEERS: &str = "registry.peers";
const LABELS: &str = "registry.labels";
/// The first layout's lockers, one row per label: read, then rewritten as entries.
const LOCKERS_BY_LABEL: &str = "registry.lockers";
const LOCKER_ENTRIES: &str = "registry.locker_entries";
const TRACKED: &str = "registry.tracked";
const TRACKED_KEY: &str = "headers";

/// The open store and what the saves need to remember.
pub struct Persist {
    store: Store,
    saved: Mutex<Saved>,
    /// The last write's error while the store fails (`/health` says so).
    failing: Mutex<Option<String>>,
}

struct Saved {
    /// The tracked headers last written (one small row, compared whole).
    tracked: Vec<String>,
    /// The next save rewrites every section: a save failed after taking its
    /// marks, or the store holds the first layout.
    resync: bool,
}

/// A locker entry's row key: `["label","address","key"]` (JSON, so that a
/// prefix of it names exactly one label or instance).
fn entry_key(label: &str, addr: &str, key: &str) -> String {
    serde_json::to_string(&[label, addr, key]).unwrap_or_default()
}

/// The key prefix of every entry under `parts` (a label, or label and address).
fn prefix(parts: &[&str]) -> String {
    let mut s = serde_json::to_string(parts).unwrap_or_default();
    s.pop();
    s.push(',');
    s
}

/// Why the state a store holds could not be read back.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error(transparent)]
    Load(#[from] StoreError),
    #[error("data store: unreadable {section} row {key:?}: {source}")]
    Row {
        section: &'static str,
        key: String,
        source: serde_json::Error,
    },
    #[error("data store: unreadable {section} key {key:?}: {source}")]
    Key {
        section: &'static str,
        key: String,
        source: serde_json::Error,
    },
}

/// Why the `--data-dir` store could not be opened (a startup error).
#[derive(Debug, thiserror::Error)]
pub enum StoreOpenError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error("the registry's data store is already open")]
    AlreadyOpen,
}

fn section<T: DeserializeOwned>(
    store: &Store,
    name: &'static str,
) -> Result<Vec<(String, T)>, ReadError> {
    store
        .load(name)?
        .into_iter()
        .map(|(k, v)| match serde_json::from_slice(&v) {
            Ok(t) => Ok((k, t)),
            Err(source) => Err(ReadError::Row {
                section: name,
                key: k,
                source,
            }),
        })
        .collect()
}

type SerResult<T> = Result<T, serde_json::Error>;

fn put(section: &'static str, key: String, v: &impl serde::Serialize) -> SerResult<Op> {
    Ok(Op::Put {
        section,
        key,
        value: serde_json::to_vec(v)?,
    })
}

/// An entry's row: a sealed entry's text is read back from its stored row.
fn entry_op(store: Option<&Store>, l: &str, a: &str, k: &str, e: &Entry) -> SerResult<Op> {
    let Some(sealed) = &e.sealed else {
        return put(LOCKER_ENTRIES, entry_key(l, a, k), e);
    };
    let bad = |why: String| <serde_json::Error as serde::ser::Error>::custom(why);
    let from = entry_key(l, &sealed.stored_at, k);
    let row = store
        .ok_or_else(|| bad(format!("no store to read sealed {from}")))?
        .get(LOCKER_ENTRIES, &from)
        .map_err(|x| bad(x.to_string()))?
        .ok_or_else(|| bad(format!("sealed {from} not in the store")))?;
    let stored: Entry = serde_json::from_slice(&row)?;
    let back = Entry {
        data: stored.data,
        first: e.first,
        last: e.last,
        sealed: None,
        counts: None,
    };
    put(LOCKER_ENTRIES, entry_key(l, a, k), &back)
}

/// Puts for every entry of `lockers`, or of one label, or one instance.
fn put_entries(
    ops: &mut Vec<Op>,
    store: Option<&Store>,
    lockers: &Lockers,
    label: Option<&str>,
    addr: Option<&str>,
) -> SerResult<()> {
    for (l, by_addr) in &lockers.by_label {
        if label.is_some_and(|x| x != l) {
            continue;
        }
        for (a, locker) in by_addr {
            if addr.is_some_and(|x| x != a) {
                continue;
            }
            for (k, e) in locker {
                ops.push(entry_op(store, l, a, k, e)?);
            }
        }
    }
    Ok(())
}

/// The writes a save needs: the marked rows, or everything on a resync.
#[cfg(test)]
fn changes(st: &mut State, resync: bool, tracked: &[String]) -> SerResult<Vec<Op>> {
    changes_in(None, st, resync, tracked)
}

/// [`changes`], reading sealed entries' text back from `store`.
fn changes_in(
    store: Option<&Store>,
    st: &mut State,
    resync: bool,
    tracked: &[String],
) -> SerResult<Vec<Op>> {
    let mut ops = Vec::new();
    // Instances rewritten whole: their sealed entries' text is now stored
    // under their current address.
    let mut moved: Vec<(Option<String>, Option<String>)> = Vec::new();
    if resync {
        for section in [PEERS, LABELS, LOCKERS_BY_LABEL, LOCKER_ENTRIES, TRACKED] {
            ops.push(Op::Clear { section });
        }
        st.peers.mark_all();
        st.labels.mark_all();
        st.lockers.mark_all();
    }
    for k in st.peers.take_dirty() {
        ops.push(match st.peers.get(&k) {
            Some(g) => put(PEERS, k, g)?,
            None => Op::Delete {
                section: PEERS,
                key: k,
            },
        });
    }
    for k in st.labels.take_dirty() {
        ops.push(match st.labels.get(&k) {
            Some(c) => put(LABELS, k, c)?,
            None => Op::Delete {
                section: LABELS,
                key: k,
            },
        });
    }
    // Broader marks sort first: a cleared label is deleted and rewritten
    // before an entry changed under it is written again.
    for m in st.lockers.take_marks() {
        match m {
            Mark::All => {
                if !resync {
                    ops.push(Op::Clear {
                        section: LOCKER_ENTRIES,
                    });
                }
                put_entries(&mut ops, store, &st.lockers, None, None)?;
                moved.push((None, None));
            }
            Mark::Label(l) => {
                ops.push(Op::DeletePrefix {
                    section: LOCKER_ENTRIES,
                    prefix: prefix(&[&l]),
                });
                put_entries(&mut ops, store, &st.lockers, Some(&l), None)?;
                moved.push((Some(l), None));
            }
            Mark::Instance(l, a) => {
                ops.push(Op::DeletePrefix {
                    section: LOCKER_ENTRIES,
                    prefix: prefix(&[&l, &a]),
                });
                put_entries(&mut ops, store, &st.lockers, Some(&l), Some(&a))?;
                moved.push((Some(l), Some(a)));
            }
            Mark::Entry(l, a, k) => {
                let e = st
                    .lockers
                    .by_label
                    .get(&l)
                    .and_then(|x| x.get(&a))
                    .and_then(|x| x.get(&k));
                ops.push(match e {
                    Some(e) => entry_op(store, &l, &a, &k, e)?,
                    None => Op::Delete {
                        section: LOCKER_ENTRIES,
                        key: entry_key(&l, &a, &k),
                    },
                });
            }
        }
    }
    for (label, addr) in moved {
        for (l, by_addr) in st.lockers.by_label.iter_mut() {
            if label.as_ref().is_some_and(|x| x != l) {
                continue;
            }
            for (a, locker) in by_addr.iter_mut() {
                if addr.as_ref().is_some_and(|x| x != a) {
                    continue;
                }
                for s in locker.values_mut().filter_map(|e| e.sealed.as_mut()) {
                    s.stored_at.clone_from(a);
                }
            }
        }
    }
    if resync || st.tracked != tracked {
        ops.push(if st.tracked.is_empty() {
            Op::Delete {
                section: TRACKED,
                key: TRACKED_KEY.into(),
            }
        } else {
            put(TRACKED, TRACKED_KEY.into(), &st.tracked)?
        });
    }
    Ok(ops)
}

impl Persist {
    /// Opens the store in `dir` and reads the state it holds; `reset`: a
    /// damaged file (the store's check, or rows that do not parse) is moved
    /// aside and the state starts empty.
    pub(super) fn open(dir: &Path, reset: bool) -> Result<(Persist, State), StoreOpenError> {
        let store = Store::open_or_reset(dir, reset)?;
        match Persist::read(store) {
            Ok(done) => Ok(done),
            Err(what) => {
                let path = dir.join(super::store::FILE_NAME);
                let what = what.to_string();
                let err = StoreError::damaged(&path, what.trim_start_matches("data store: "));
                if !reset {
                    return Err(err.into());
                }
                let kept = Store::move_aside(dir)?;
                tracing::warn!(error = %err, kept = %kept.display(), "damaged data store moved aside; starting empty");
                Ok(Persist::read(Store::open(dir)?)?)
            }
        }
    }

    /// The state `store` holds (its file stays open in the result).
    fn read(store: Store) -> Result<(Persist, State), ReadError> {
        let (st, resync) = read_state(&store)?;
        let saved = Saved {
            tracked: st.tracked.clone(),
            resync,
        };
        Ok((
            Persist {
                store,
                saved: Mutex::new(saved),
                failing: Mutex::new(None),
            },
            st,
        ))
    }

    /// A locker entry's text as stored (a sealed key's, read back).
    pub(super) fn raw_text(&self, label: &str, addr: &str, key: &str) -> Option<String> {
        let row = self
            .store
            .get(LOCKER_ENTRIES, &entry_key(label, addr, key))
            .ok()??;
        serde_json::from_slice::<Entry>(&row).ok().map(|e| e.data)
    }

    /// Why the store is failing (its last write failed), after one more
    /// try: a 64 KiB write, so the answer turns healthy when space returns.
    pub(super) fn failure(&self) -> Option<String> {
        let mut failing = self.failing.lock();
        // 64 KiB: a few bytes fit in the file's free pages even on a full
        // disk, which would call a failing store healthy.
        if failing.is_some() && self.store.put(PROBE, PROBE_KEY, &[0; 64 << 10]).is_ok() {
            tracing::info!("registry data store writable again");
            *failing = None;
        }
        failing.clone()
    }
}

/// A section only [`Persist::failure`]'s probe writes to.
const PROBE: &str = "store.probe";
const PROBE_KEY: &str = "last";

/// The state in `store`, and whether it holds the first layout (resync).
fn read_state(store: &Store) -> Result<(State, bool), ReadError> {
    {
        let mut st = State {
            peers: section(store, PEERS)?.into_iter().collect(),
            labels: section(store, LABELS)?.into_iter().collect(),
            ..State::default()
        };
        let old: Vec<(String, BTreeMap<String, Locker>)> = section(store, LOCKERS_BY_LABEL)?;
        let resync = !old.is_empty();
        let mut by_label: BTreeMap<String, BTreeMap<String, Locker>> = old.into_iter().collect();
        for (k, e) in section::<super::lockers::Entry>(store, LOCKER_ENTRIES)? {
            let parts: [String; 3] = match serde_json::from_str(&k) {
                Ok(p) => p,
                Err(source) => {
                    return Err(ReadError::Key {
                        section: LOCKER_ENTRIES,
                        key: k,
                        source,
                    })
                }
            };
            let [l, a, key] = parts;
            by_label
                .entry(l)
                .or_default()
                .entry(a)
                .or_default()
                .insert(key, e);
        }
        st.lockers = Lockers::loaded(by_label);
        if let Some((_, tracked)) = section::<Vec<String>>(store, TRACKED)?
            .into_iter()
            .find(|(k, _)| k == TRACKED_KEY)
        {
            st.tracked = tracked;
        }
        Ok((st, resync))
    }
}

impl Persist {
    /// Writes what changed in `state` since the last save.
    pub(super) fn save(&self, state: &Mutex<State>) -> Result<(), StoreError> {
        let mut saved = self.saved.lock();
        let (ops, tracked) = {
            let mut st = state.lock();
            let ops = changes_in(Some(&self.store), &mut st, saved.resync, &saved.tracked);
            (ops, st.tracked.clone())
        };
        let done = ops
            .map_err(|e| self.store.error(format!("cannot serialize: {e}")))
            .and_then(|ops| self.store.apply(&ops));
        match done {
            Ok(()) => {
                saved.tracked = tracked;
                saved.resync = false;
                *self.failing.lock() = None;
                Ok(())
            }
            Err(e) => {
                *self.failing.lock() = Some(e.to_string());
                // The caller is told this change failed: it must not stay
                // visible (nor be written by a later save). The store holds
                // the last state that was acknowledged: back to it.
                match read_state(&self.store) {
                    Ok((st, resync)) => {
                        saved.tracked = st.tracked.clone();
                        saved.resync = resync;
                        *state.lock() = st;
                    }
                    Err(why) => {
                        tracing::error!("registry state not rolled back: {why}");
                        // The marks were taken: only a full rewrite is sure
                        // to include what this save should have written.
                        saved.resync = true;
                    }
                }
                Err(e)
            }
        }
    }
}

#[cfg(test)]
fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

#[cfg(test)]
mod tests;
