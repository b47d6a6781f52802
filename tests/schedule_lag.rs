//! Schedule lag through the real binary: `scheduleLagMs` in `goto load
//! --json`, the "Schedule lag" line of the text report, and the plain-words
//! warning when the client fell behind a rate the server cannot meet. (The
//! lag in `/client/results` is covered by tests/schedule_behaviour.rs.)

mod common;

use common::Goto;
use serde_json::Value;

/// Runs `goto load <args>` (bounded in time by the common runner).
fn load(args: &[&str]) -> (i32, String, String) {
    let r = common::load(args);
    (r.code, r.stdout, r.stderr)
}

/// The report's warnings (`--json`).
fn warnings(v: &Value) -> Vec<&str> {
    v["warnings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect()
}

/// The fell-behind warning of a `--json` report; panics without one.
fn fell_behind(v: &Value) -> &str {
    warnings(v)
        .into_iter()
        .find(|w| w.contains("fell behind"))
        .unwrap_or_else(|| panic!("no fell-behind warning: {v}"))
}

fn url(port: u16) -> String {
    format!("http://127.0.0.1:{port}/lag")
}

#[test]
fn json_reports_schedule_lag_under_a_rate() {
    let server = Goto::start(&["--request-logs=false"]);
    let (code, out, err) = load(&[
        "--json",
        "--no-progress",
        "-c",
        "2",
        "-r",
        "100",
        "-d",
        "1s",
        &url(server.port),
    ]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    for k in ["p50", "p90", "p99", "max"] {
        assert!(
            v["scheduleLagMs"][k].as_f64().is_some_and(|x| x >= 0.0),
            "scheduleLagMs.{k}: {v}"
        );
    }
    assert!(v["warnings"].is_array(), "{v}");
}

#[test]
fn text_report_has_a_schedule_lag_line() {
    let server = Goto::start(&["--request-logs=false"]);
    let (code, out, err) = load(&[
        "--no-progress",
        "-c",
        "2",
        "-r",
        "50",
        "-d",
        "500ms",
        &url(server.port),
    ]);
    assert_eq!(code, 0, "{err}");
    let line = out
        .lines()
        .find(|l| l.trim_start().starts_with("Schedule lag"))
        .unwrap_or_else(|| panic!("no Schedule lag line in:\n{out}"));
    for k in ["p50", "p90", "p99", "max"] {
        assert!(line.contains(k), "{line}");
    }
}

/// Two connections against 50 ms responses can carry about 40 requests/s;
/// asking 200/s, the client falls behind, and both reports say so with the
/// figures.
#[test]
fn falling_behind_a_rate_is_reported_in_plain_words() {
    let server = Goto::start(&["--request-logs=false"]);
    let r = server.put("/response/delay/set/50ms");
    assert_eq!(r.status, 200, "{}", r.text());
    let args = ["--no-progress", "-c", "2", "-r", "200", "-d", "1s"];
    let target = url(server.port);

    let mut json_args = vec!["--json"];
    json_args.extend_from_slice(&args);
    json_args.push(&target);
    let (code, out, err) = load(&json_args);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    let w = fell_behind(&v);
    assert!(w.contains("of the 200 asked"), "{w}");
    assert!(
        v["scheduleLagMs"]["p99"].as_f64().unwrap_or(0.0) > 10.0,
        "{v}"
    );

    let mut text_args = args.to_vec();
    text_args.push(&target);
    let (code, out, err) = load(&text_args);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.lines()
            .any(|l| l.contains("Warning: goto fell behind the schedule")),
        "{out}"
    );
}

/// A rate the server easily meets over enough connections carries no
/// warning (the fall-behind check is not a false alarm on an idle server).
#[test]
fn a_met_rate_has_no_warning() {
    let server = Goto::start(&["--request-logs=false"]);
    let (code, out, err) = load(&[
        "--json",
        "--no-progress",
        "-c",
        "4",
        "-r",
        "20",
        "-d",
        "1s",
        &url(server.port),
    ]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    let behind = warnings(&v).iter().any(|w| w.contains("fell behind"));
    // The interval per connection is 200 ms; only a badly stalled machine
    // would lag that much.
    assert!(!behind, "{v}");
}

/// Stages are judged by what they asked (their integral over the run), not
/// by `-r`: a ramp from 0 to 200/s asks about 100/s, which two connections
/// against 50 ms responses (about 40/s) cannot carry, so the warning names
/// the stages' figure; and a ramp down from `-r 200` to 0 asks about
/// 100/s, which an idle server meets, so no warning measures it against
/// the 200/s it starts from.
#[test]
fn falling_behind_stages_is_judged_against_the_stages() {
    let slow = Goto::start(&["--request-logs=false"]);
    let r = slow.put("/response/delay/set/50ms");
    assert_eq!(r.status, 200, "{}", r.text());
    let (code, out, err) = load(&[
        "--json",
        "--no-progress",
        "-c",
        "2",
        "--stages",
        "1s:200",
        &url(slow.port),
    ]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    let w = fell_behind(&v);
    assert!(w.contains("the stages asked"), "{w}");

    let fast = Goto::start(&["--request-logs=false"]);
    let (code, out, err) = load(&[
        "--json",
        "--no-progress",
        "-c",
        "8",
        "-r",
        "200",
        "--stages",
        "1s:0",
        &url(fast.port),
    ]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    // Judged against -r, half of the 200 asked would be "behind". (A
    // loaded machine may still lag for real, so only the figure is checked.)
    let against_rate = warnings(&v).iter().any(|w| w.contains("200 asked"));
    assert!(!against_rate, "{v}");
    let sent = v["countsByStatusCodes"]["200"].as_u64().unwrap_or(0);
    assert!((80..=110).contains(&sent), "{v}");
}
