//! The client API's live results through the real binary: the timeline read
//! while a target runs, a mid-run rate change showing as a step in it,
//! stages ramping, and thresholds in the results. One goto instance serves
//! both the admin API and the traffic, on 127.0.0.1.

mod common;

use std::time::Duration;

use common::{eventually, Goto};
use serde_json::Value;

fn rates(timeline: &Value, target: &str) -> Vec<(f64, f64)> {
    timeline[target]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|i| i["seconds"].as_f64().unwrap_or(0.0) >= 0.3)
                .map(|i| (i["t"].as_f64().unwrap(), i["rps"].as_f64().unwrap()))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn live_timeline_rate_change_and_thresholds() {
    let g = Goto::start(&["--request-logs=false"]);
    let target = format!(
        r#"{{"name":"t1","url":"http://127.0.0.1:{}/x","replicas":4,"requestCount":0,
            "rate":40,"duration":"3s","interval":"500ms",
            "thresholds":["p99 < 30s","rps >= 1000000","status5xx < 1%"]}}"#,
        g.port
    );
    let r = g.post("/client/targets/add", &target);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        g.post("/client/targets/t1/invoke?blocking=N", "").status,
        200
    );

    // Live: intervals appear while the target still runs.
    assert!(eventually(Duration::from_secs(10), || {
        g.get("/client/results/timeline").json()["t1"]
            .as_array()
            .is_some_and(|a| a.len() >= 2)
    }));
    let active = g.get("/client/targets/active").json();
    assert_eq!(active["activeCount"], 1, "{active}");

    // Step the rate up mid-run.
    let r = g.put("/client/targets/t1/rate/set/400");
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(eventually(Duration::from_secs(20), || {
        g.get("/client/targets/active").json()["activeCount"] == 0
    }));
    let results = g.get("/client/results").json();
    let total = results["targetInvocationCounts"]["t1"].as_u64().unwrap();
    // The final sample lands just after the run ends.
    let mut tl = Value::Null;
    assert!(eventually(Duration::from_secs(5), || {
        tl = g.get("/client/results/timeline").json();
        let sum: u64 = tl["t1"].as_array().map_or(0, |a| {
            a.iter().map(|i| i["requests"].as_u64().unwrap()).sum()
        });
        sum == total
    }));
    let rs = rates(&tl, "t1");
    let max = |v: Vec<f64>| v.into_iter().fold(0.0, f64::max);
    let early = max(rs.iter().filter(|r| r.0 <= 1.0).map(|r| r.1).collect());
    let late = max(rs.iter().filter(|r| r.0 >= 2.0).map(|r| r.1).collect());
    assert!(early > 0.0 && early < 80.0, "{rs:?}");
    assert!(late > 200.0, "{rs:?}");

    let v = &results["thresholdsByTarget"]["t1"];
    assert_eq!(v.as_array().map(Vec::len), Some(3), "{results}");
    assert_eq!(v[0]["ok"], true);
    assert_eq!(v[1]["ok"], false);
    assert!(v[1]["actual"].as_f64().unwrap() > 0.0);
    assert_eq!(v[2]["threshold"], "status5xx < 1%");

    // Errors: a bad rate, an unknown target, a target not running.
    assert_eq!(g.put("/client/targets/t1/rate/set/fast").status, 400);
    assert_eq!(g.put("/client/targets/t1/rate/set/0").status, 400);
    assert_eq!(g.put("/client/targets/nope/rate/set/5").status, 404);
    assert_eq!(g.put("/client/targets/t1/rate/set/5").status, 409);
}

#[test]
fn stages_ramp_and_bad_target_fields() {
    let g = Goto::start(&["--request-logs=false"]);
    let target = format!(
        r#"{{"name":"ramp","url":"http://127.0.0.1:{}/x","replicas":4,"interval":"500ms",
            "stages":[{{"duration":"2s","rate":400}}]}}"#,
        g.port
    );
    let r = g.post("/client/targets/add", &target);
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(
        r.text()
            .contains(r#""stages":[{"duration":"2s","rate":400.0}]"#),
        "{}",
        r.text()
    );
    let r = g.post("/client/targets/ramp/invoke?blocking=Y", "");
    assert_eq!(r.status, 200, "{}", r.text());
    let total = r.json()["targetInvocationCounts"]["ramp"].as_u64().unwrap();
    assert!((340..=400).contains(&total), "{total}");
    let mut rs = Vec::new();
    assert!(eventually(Duration::from_secs(5), || {
        rs = rates(&g.get("/client/results/timeline").json(), "ramp");
        rs.len() >= 3
    }));
    assert!(rs.windows(2).all(|w| w[1].1 > w[0].1), "rising: {rs:?}");

    for (body, why) in [
        (
            r#"{"name":"b","url":"http://127.0.0.1:1/","thresholds":["p99 <"]}"#,
            "invalid threshold",
        ),
        (
            r#"{"name":"b","url":"http://127.0.0.1:1/","stages":[]}"#,
            "stages",
        ),
        (
            r#"{"name":"b","url":"http://127.0.0.1:1/","stages":[{"duration":"x","rate":1}]}"#,
            "duration",
        ),
        (
            r#"{"name":"b","url":"http://127.0.0.1:1/","interval":"1ms"}"#,
            "interval",
        ),
    ] {
        let r = g.post("/client/targets/add", body);
        assert_eq!(r.status, 400, "{body}: {}", r.text());
        assert!(r.text().contains(why), "{body}: {}", r.text());
    }
}

/// The timeline carries uncorrected percentiles per interval in the open
/// model (a rate), where they differ from the corrected ones, and leaves
/// them out in the closed model, where they are the same.
#[test]
fn open_model_intervals_carry_uncorrected_latency() {
    let g = Goto::start(&["--request-logs=false"]);
    for (name, pacing) in [("open", r#""rate":100,"#), ("closed", "")] {
        let target = format!(
            r#"{{"name":"{name}","url":"http://127.0.0.1:{}/x","replicas":2,"requestCount":0,
                {pacing}"duration":"2s","interval":"500ms"}}"#,
            g.port
        );
        let r = g.post("/client/targets/add", &target);
        assert_eq!(r.status, 200, "{}", r.text());
    }
    assert_eq!(g.post("/client/targets/invoke/all", "").status, 200);
    let mut tl = Value::Null;
    assert!(eventually(Duration::from_secs(20), || {
        tl = g.get("/client/results/timeline").json();
        g.get("/client/targets/active").json()["activeCount"] == 0
            && ["open", "closed"]
                .iter()
                .all(|t| tl[t].as_array().is_some_and(|a| a.len() >= 2))
    }));
    let open = tl["open"].as_array().unwrap();
    let with: Vec<&Value> = open
        .iter()
        .filter(|i| i.get("latencyUncorrectedMs").is_some())
        .collect();
    assert!(!with.is_empty(), "open-model intervals: {open:?}");
    for i in with {
        let (c, u) = (&i["latencyMs"], &i["latencyUncorrectedMs"]);
        // Sent no earlier than due: uncorrected never exceeds corrected.
        assert!(u["max"].as_f64() <= c["max"].as_f64(), "{i}");
        assert!(u["p50"].as_f64().is_some(), "{i}");
    }
    let closed = tl["closed"].as_array().unwrap();
    assert!(
        closed
            .iter()
            .all(|i| i.get("latencyUncorrectedMs").is_none()),
        "closed-model intervals: {closed:?}"
    );
}
