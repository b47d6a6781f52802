//! The registry's merged view of a fleet, end to end: a registry, a target
//! server and two peers as real processes on loopback. Both peers run the
//! same target; the registry's merged timeline adds up to the peers' own
//! totals, and the target's thresholds are evaluated on the merged results.

mod common;

use std::time::Duration;

use common::{eventually, Goto};
use serde_json::Value;

const QUIET: &str = "--request-logs=false";

fn peer(reg: u16) -> Goto {
    let registry = format!("http://127.0.0.1:{reg}");
    Goto::start_env(
        &[
            "--label",
            "fleet",
            "--registry",
            &registry,
            "--locker",
            "--remind-seconds",
            "1",
            QUIET,
        ],
        &[("POD_IP", "127.0.0.1")],
    )
}

fn n(v: &Value) -> u64 {
    v.as_u64().unwrap_or(0)
}

/// Sums `{key: count}` maps.
fn sum_into(acc: &mut std::collections::BTreeMap<String, u64>, m: &Value) {
    for (k, v) in m.as_object().into_iter().flatten() {
        *acc.entry(k.clone()).or_default() += n(v);
    }
}

#[test]
fn merged_timeline_and_thresholds_over_two_peers() {
    let reg = Goto::start(&["--label", "registry", QUIET]);
    let server = Goto::start(&["--label", "server", QUIET]);
    // 2 replicas x 60 requests 40 ms apart: about 2.4 s per peer, so the
    // timeline has more than one interval. Every answer is a 503.
    let target = format!(
        r#"{{"name":"t","method":"GET","url":"http://127.0.0.1:{}/status/503",
            "replicas":2,"requestCount":60,"delay":"40ms","autoInvoke":true,
            "thresholds":["status5xx < 50%","errors <= 0%","rps >= 1000000"]}}"#,
        server.port
    );
    let r = reg.post("/registry/peers/fleet/targets/add", &target);
    assert_eq!(r.status, 200, "{}", r.text());
    let peers = [peer(reg.port), peer(reg.port)];

    // Each peer's own view, once its run is over.
    let own: Vec<Value> = peers
        .iter()
        .map(|p| {
            let mut last = Value::Null;
            let done = eventually(Duration::from_secs(20), || {
                last = p.get("/client/results/invocations").json();
                last.as_object()
                    .is_some_and(|m| !m.is_empty() && m.values().all(|d| d["finished"] == true))
            });
            assert!(done, "peer {} did not finish: {last}", p.port);
            p.get("/client/results").json()
        })
        .collect();
    let mut want_codes = std::collections::BTreeMap::new();
    for d in &own {
        assert_eq!(n(&d["targetInvocationCounts"]["t"]), 120, "{d}");
        sum_into(&mut want_codes, &d["countsByStatusCodes"]);
        // The engine's I/O driver is named per target.
        assert!(
            d["ioDriverByTarget"]["t"]
                .as_str()
                .is_some_and(|s| !s.is_empty()),
            "{d}"
        );
    }
    let want_total: u64 = want_codes.values().sum();
    assert_eq!(want_total, 240);

    // The merged timeline: its seconds add up to the peers' totals.
    let mut merged = Value::Null;
    let mut codes = std::collections::BTreeMap::new();
    let summed = eventually(Duration::from_secs(10), || {
        merged = reg
            .get("/registry/peers/lockers/targets/results/timeline")
            .json();
        codes.clear();
        for i in merged["fleet"]["t"].as_array().into_iter().flatten() {
            sum_into(&mut codes, &i["countsByStatusCodes"]);
        }
        codes == want_codes
    });
    assert!(
        summed,
        "merged timeline {merged}\nwant {want_codes:?}\nlockers {}",
        reg.get("/registry/peers/lockers").text()
    );
    let seconds = merged["fleet"]["t"].as_array().cloned().unwrap_or_default();
    let requests: u64 = seconds.iter().map(|i| n(&i["requests"])).sum();
    assert_eq!(requests, want_total, "{merged}");
    assert!(seconds.len() >= 2, "{merged}");
    for (k, i) in seconds.iter().enumerate() {
        assert!(n(&i["peers"]) >= 1, "{i}");
        if k > 0 {
            assert!(n(&i["unix"]) > n(&seconds[k - 1]["unix"]), "{merged}");
        }
        if n(&i["requests"]) > 0 {
            // Exact percentiles from the peers' interval histograms.
            assert!(i["latencyMs"]["p99"].as_f64().is_some(), "{i}");
        }
    }

    // Thresholds on the merged results: the actual values are the sum's.
    let mut sum = Value::Null;
    let ready = eventually(Duration::from_secs(10), || {
        sum = reg.get("/registry/peers/lockers/targets/results").json();
        n(&sum["fleet"]["targetInvocationCounts"]["t"]) == want_total
    });
    assert!(ready, "{sum}");
    let doc = &sum["fleet"];
    let verdicts = doc["thresholdsByTarget"]["t"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(verdicts.len(), 3, "{doc}");
    let v = |text: &str| {
        verdicts
            .iter()
            .find(|v| v["threshold"] == text)
            .cloned()
            .unwrap_or_else(|| panic!("no verdict for {text}: {doc}"))
    };
    let fives = v("status5xx < 50%");
    assert_eq!(
        (fives["actual"].as_f64(), &fives["ok"]),
        (Some(100.0), &Value::Bool(false))
    );
    let errors = v("errors <= 0%");
    assert_eq!(
        (errors["actual"].as_f64(), &errors["ok"]),
        (Some(0.0), &Value::Bool(true))
    );
    // The rate is the merged count over the merged span of responses (both
    // peers' requests, from the earliest first to the latest last response).
    let rps = v("rps >= 1000000");
    assert_eq!(rps["ok"], false);
    let span = |k: &str| {
        let s = doc[k]["t"].as_str().unwrap_or_default();
        let secs = &s[17..s.len() - 1];
        let minutes = &s[14..16];
        minutes.parse::<f64>().unwrap_or(0.0) * 60.0 + secs.parse::<f64>().unwrap_or(0.0)
    };
    let mut elapsed = span("targetLastResponses") - span("targetFirstResponses");
    if elapsed < 0.0 {
        elapsed += 3600.0;
    }
    let want_rps = want_total as f64 / elapsed;
    let got = rps["actual"].as_f64().unwrap_or(0.0);
    assert!(
        (got - want_rps).abs() < 0.01 * want_rps.max(1.0),
        "rps {got} want {want_rps} ({doc})"
    );
    let detailed = reg
        .get("/registry/peers/lockers/targets/results?detailed=Y")
        .json();
    assert_eq!(
        detailed["fleet"]["t"]["thresholds"][0]["ok"], false,
        "{detailed}"
    );
    assert!(detailed["fleet"]["t"]["ioDriver"].is_string(), "{detailed}");

    // Peers report their timelines by wall-clock minute; clearing a peer's
    // results takes its timeline keys out of the locker again.
    let lockers = reg.get("/registry/peers/fleet/locker").json();
    let keys: Vec<String> = lockers
        .as_object()
        .into_iter()
        .flat_map(|m| m.values())
        .flat_map(|l| l.as_object().into_iter().flat_map(|m| m.keys().cloned()))
        .collect();
    assert!(
        keys.iter().any(|k| k.starts_with("client_timeline_")),
        "{keys:?}"
    );
    for p in &peers {
        assert_eq!(p.post("/client/results/clear", "").status, 200);
    }
    let mut left = Value::Null;
    let emptied = eventually(Duration::from_secs(10), || {
        left = reg
            .get("/registry/peers/lockers/targets/results/timeline")
            .json();
        left.get("fleet").is_none()
    });
    assert!(emptied, "{left}");
}
