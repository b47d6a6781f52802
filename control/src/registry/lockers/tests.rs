//! Unit tests of the lockers (store, lock, retire, flatten).

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
