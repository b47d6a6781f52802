//! Issue 23 item 3: the locker dumps (`/registry/peers/lockers`, its
//! `/registry/peers/locker` spelling and the flat `/registry/peer/lockers`)
//! are streamed in chunks, and their text is the whole document's: the
//! same as the per-label reads put together.

mod common;

use common::Goto;
use serde_json::{Map, Value};

#[test]
fn streamed_dumps_hold_the_same_text_as_whole_documents() {
    let g = Goto::start(&["--label", "registry", "--request-logs=false"]);
    // Empty: an empty object, as before.
    assert_eq!(g.get("/registry/peers/lockers").text(), "{}\n");
    assert_eq!(g.get("/registry/peer/lockers").text(), "{}\n");
    let big = "x\"\\\u{e9}".repeat(40_000);
    let labels = ["a", "b\"q", "c"];
    for (i, label) in labels.iter().enumerate() {
        for p in 1..=3 {
            let addr = format!("127.0.0.{p}:80");
            for key in ["client", "job_1_1", "k\u{e9}"] {
                let body = if i == 1 && p == 2 {
                    big.clone()
                } else {
                    format!("{label}{p}{key}")
                };
                let path = format!(
                    "/registry/peers/{}/{addr}/locker/store/{}",
                    label.replace('"', "%22"),
                    key.replace('\u{e9}', "%C3%A9")
                );
                let r = g.post(&path, &body);
                assert_eq!(r.status, 200, "{path}: {}", r.text());
            }
        }
    }
    let mut all = Map::new();
    let mut flat = Map::new();
    for label in labels {
        let l = label.replace('"', "%22");
        let v: Value = g.get(&format!("/registry/peers/{l}/locker")).json();
        all.insert(label.to_string(), v);
        let v: Value = g.get(&format!("/registry/peer/{l}/locker")).json();
        flat.insert(label.to_string(), v);
    }
    let want = format!("{}\n", Value::Object(all));
    let want_flat = format!("{}\n", Value::Object(flat));
    assert!(want.len() > 4 << 16, "large enough for several chunks");
    for path in ["/registry/peers/lockers", "/registry/peers/locker"] {
        let r = g.get(path);
        assert_eq!(r.status, 200);
        assert_eq!(r.header("transfer-encoding"), Some("chunked"), "{path}");
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert!(r.text() == want, "{path}: the dump's text differs");
    }
    let r = g.get("/registry/peer/lockers");
    assert_eq!(r.header("transfer-encoding"), Some("chunked"));
    assert!(r.text() == want_flat, "the flat dump's text differs");
}
