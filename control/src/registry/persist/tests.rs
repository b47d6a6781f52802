//! Unit tests of the registry's data store (saves, resyncs, reloads).

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
    let (p, empty) = Persist::open(&dir, false).unwrap();
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
    // Nothing changed: nothing to write.
    assert!(changes(&mut state.lock(), false, &["x-id".into()])
        .unwrap()
        .is_empty());
    p.save(&state).unwrap();
    state.lock().lockers.clear_all();
    p.save(&state).unwrap();
    drop(p);
    let (_p, back) = Persist::open(&dir, false).unwrap();
    let st = state.lock();
    assert_eq!(json(&back.peers), json(&st.peers));
    assert_eq!(back.peers["a"].pod_epochs["127.0.0.1:1"].len(), 2);
    assert_eq!(json(&back.labels), json(&st.labels));
    assert_eq!(back.tracked, vec!["x-id".to_string()]);
    assert!(back.lockers.by_label.is_empty());
    std::fs::remove_dir_all(&dir).unwrap();
}

fn entries(lockers: &Lockers) -> Vec<String> {
    let mut out = Vec::new();
    for (l, by_addr) in &lockers.by_label {
        for (a, locker) in by_addr {
            for (k, e) in locker {
                out.push(format!("{l}|{a}|{k}={}", e.data));
            }
        }
    }
    out
}

#[test]
fn a_locker_change_writes_one_row_and_clears_stay_exact() {
    let dir = temp_dir();
    let (p, _) = Persist::open(&dir, false).unwrap();
    let state = Mutex::new(State::default());
    let now = SystemTime::now();
    {
        let mut st = state.lock();
        for i in 0..500 {
            st.lockers
                .store("big", "h:1", &format!("k{i}"), "x".repeat(100), now);
        }
        st.lockers.store("big", "h:2", "k", "y".into(), now);
        // A label whose name extends another's must not be caught by
        // the other's prefix.
        st.lockers.store("big\"", "h:1", "k", "z".into(), now);
        st.lockers.store("bigger", "h:1", "k", "z".into(), now);
    }
    p.save(&state).unwrap();
    {
        let mut st = state.lock();
        st.lockers.store("big", "h:1", "k7", "new".into(), now);
        let ops = changes(&mut st, false, &[]).unwrap();
        assert_eq!(ops.len(), 1, "{ops:?}");
        st.lockers.store("big", "h:1", "k7", "new".into(), now);
        st.lockers.remove("big", "h:1", "k8");
        st.lockers.lock("big", "h:1", "k9");
        st.lockers.clear_instance("big", "h:2");
        st.lockers.retire("big", "h:1", 3);
        st.lockers.store("big", "h:1", "after", "1".into(), now);
    }
    p.save(&state).unwrap();
    drop(p);
    let (p, back) = Persist::open(&dir, false).unwrap();
    assert_eq!(entries(&back.lockers), entries(&state.lock().lockers));
    assert!(entries(&back.lockers).contains(&"big|h:1#3|k9_last=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx".to_string()));
    state.lock().lockers.clear_label("big");
    p.save(&state).unwrap();
    drop(p);
    let (_p, back) = Persist::open(&dir, false).unwrap();
    assert_eq!(entries(&back.lockers), ["big\"|h:1|k=z", "bigger|h:1|k=z"]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_first_layouts_lockers_are_read_and_rewritten() {
    let dir = temp_dir();
    {
        let store = Store::open(&dir).unwrap();
        let row = r#"{"h:1":{"k":{"data":"v","first":{"secs_since_epoch":1,"nanos_since_epoch":0},"last":{"secs_since_epoch":2,"nanos_since_epoch":0}}}}"#;
        store.put(LOCKERS_BY_LABEL, "a", row.as_bytes()).unwrap();
    }
    let (p, st) = Persist::open(&dir, false).unwrap();
    assert_eq!(entries(&st.lockers), ["a|h:1|k=v"]);
    let state = Mutex::new(st);
    p.save(&state).unwrap();
    assert!(p.store.load(LOCKERS_BY_LABEL).unwrap().is_empty());
    drop(p);
    let (_p, back) = Persist::open(&dir, false).unwrap();
    assert_eq!(entries(&back.lockers), ["a|h:1|k=v"]);
    std::fs::remove_dir_all(&dir).unwrap();
}
