//! Jobs through the real binary: HTTP and command tasks, runs, stop, timeout,
//! triggers between jobs, results retention and bad input.

mod common;

use std::time::Duration;

use common::{eventually, Goto};
use serde_json::Value;

fn quiet(extra: &[&str]) -> Goto {
    let mut args = vec!["--request-logs=false"];
    args.extend_from_slice(extra);
    Goto::start(&args)
}

/// Results of one run of a job, once that run has finished (bounded wait).
fn finished_run(g: &Goto, job: &str, run: &str) -> Vec<Value> {
    let mut last = Value::Null;
    let done = eventually(Duration::from_secs(10), || {
        last = g.get(&format!("/jobs/{job}/results")).json();
        last[run]
            .as_array()
            .and_then(|r| r.last())
            .is_some_and(|r| r["finished"] == true)
    });
    assert!(done, "run {run} of {job} did not finish: {last}");
    last[run].as_array().cloned().unwrap_or_default()
}

#[test]
fn http_job_runs_count_times_with_replicas_and_keeps_results() {
    let target = quiet(&[]);
    let g = quiet(&[]);
    let job = format!(
        r#"{{"id":"probe","task":{{"method":"POST","url":"http://127.0.0.1:{}/echo/probe?q=1","headers":[["x-job","yes"]],"body":"hi","replicas":2,"requestCount":3,"parseJSON":true}},"count":2,"maxResults":100}}"#,
        target.port
    );
    let r = g.post("/jobs/add", &job);
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().starts_with("Added job: "), "{}", r.text());
    let r = g.post("/jobs/probe/run", "");
    assert_eq!(r.text().trim(), "Jobs started: probe (run 1)");

    let results = finished_run(&g, "probe", "1");
    // 2 iterations x 2 replicas x 3 requests, then the final entry.
    assert_eq!(results.len(), 13, "{results:?}");
    for (i, r) in results.iter().enumerate() {
        assert_eq!(r["index"], format!("1.{}", i + 1));
    }
    for r in &results[..12] {
        assert_eq!(r["finished"], false);
        assert_eq!(r["data"]["uri"], "/echo/probe?q=1", "{r}");
        assert_eq!(r["data"]["method"], "POST");
        assert_eq!(r["data"]["body"], "hi");
        assert_eq!(r["data"]["headers"]["x-job"], "yes");
    }
    let last = &results[12];
    assert_eq!(
        (
            last["finished"].clone(),
            last["last"].clone(),
            last["stopped"].clone()
        ),
        (true.into(), true.into(), false.into())
    );

    let list = g.get("/jobs").json();
    assert_eq!(list["probe"]["runCount"], 1);
    assert_eq!(list["probe"]["running"], 0);
    assert_eq!(list["probe"]["task"]["requestCount"], 3);
    assert!(g.get("/jobs/results").json()["probe"]["1"].is_array());

    // The same job again (as a re-registering peer sends it) keeps its runs;
    // a changed one starts afresh.
    assert_eq!(g.post("/jobs/add", &job).status, 200);
    assert_eq!(
        g.get("/jobs/probe/results").json()["1"]
            .as_array()
            .map(Vec::len),
        Some(13)
    );
    let changed = job.replace(r#""count":2"#, r#""count":1"#);
    assert_eq!(g.post("/jobs/add", &changed).status, 200);
    assert_eq!(g.get("/jobs/probe/results").json(), serde_json::json!({}));
}

#[test]
fn auto_job_starts_at_add_and_stop_ends_it() {
    let target = quiet(&[]);
    let g = quiet(&[]);
    let job = format!(
        r#"{{"id":"slow","task":{{"url":"http://127.0.0.1:{}/x"}},"auto":true,"count":1000,"delay":"50ms"}}"#,
        target.port
    );
    let r = g.post("/jobs/add", &job);
    assert!(r.text().contains("auto run 1 started"), "{}", r.text());
    assert!(eventually(Duration::from_secs(5), || {
        g.get("/jobs/slow/results").json()["1"]
            .as_array()
            .is_some_and(|a| a.len() >= 2)
    }));
    assert_eq!(g.get("/jobs").json()["slow"]["running"], 1);
    assert_eq!(
        g.post("/jobs/slow/stop", "").text().trim(),
        "Jobs stopped: slow"
    );
    let results = finished_run(&g, "slow", "1");
    let last = results.last().cloned().unwrap_or_default();
    assert_eq!(last["stopped"], true, "{last}");
    // maxResults defaults to 10 outputs, plus the final entry.
    assert!(results.len() <= 11, "{}", results.len());
    // A stopped job can run again, unstopped.
    assert_eq!(
        g.post("/jobs/run/all", "").text().trim(),
        "Jobs started: slow (run 2)"
    );
    assert!(eventually(Duration::from_secs(5), || {
        g.get("/jobs").json()["slow"]["running"] == 1
    }));
    g.post("/jobs/stop/all", "");
    finished_run(&g, "slow", "2");
}

#[test]
fn command_jobs_need_the_startup_switch() {
    let g = quiet(&[]);
    let r = g.post(
        "/jobs/add",
        r#"{"id":"c","task":{"cmd":"echo","args":["hi"]}}"#,
    );
    assert_eq!(r.status, 400);
    assert!(r.text().contains("--allow-command-jobs"), "{}", r.text());
    assert_eq!(g.get("/jobs").json(), serde_json::json!({}));
}

#[test]
fn command_output_triggers_another_job_with_markers_and_finish_trigger_runs() {
    let target = quiet(&[]);
    let g = quiet(&["--allow-command-jobs"]);
    let fetch = format!(
        r#"{{"id":"fetch","task":{{"url":"http://127.0.0.1:{}/echo/{{name}}/{{n}}","parseJSON":true}}}}"#,
        target.port
    );
    assert_eq!(g.post("/jobs/add", &fetch).status, 200);
    let done = format!(
        r#"{{"id":"done","task":{{"url":"http://127.0.0.1:{}/done"}}}}"#,
        target.port
    );
    assert_eq!(g.post("/jobs/add", &done).status, 200);
    let lister = r#"{"id":"lister","task":{"cmd":"sh","args":["-c","echo alpha 1; echo beta 2"],"outputMarkers":{"name":1,"n":2}},"outputTrigger":"fetch","finishTrigger":"done"}"#;
    assert_eq!(g.post("/jobs/add", lister).status, 200);
    g.post("/jobs/lister/run", "");

    let out = finished_run(&g, "lister", "1");
    let lines: Vec<&str> = out.iter().filter_map(|r| r["data"].as_str()).collect();
    assert_eq!(lines, ["alpha 1", "beta 2"]);

    // One fetch run per output line, each with that line's markers.
    let mut uris = Vec::new();
    assert!(eventually(Duration::from_secs(10), || {
        let all = g.get("/jobs/fetch/results").json();
        uris = all
            .as_object()
            .map(|runs| {
                runs.values()
                    .filter_map(|r| r[0]["data"]["uri"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        uris.len() == 2
    }));
    uris.sort();
    assert_eq!(uris, ["/echo/alpha/1", "/echo/beta/2"]);
    finished_run(&g, "done", "1");
}

#[test]
fn timeout_stops_a_command_run() {
    let g = quiet(&["--allow-command-jobs"]);
    let r = g.post(
        "/jobs/add",
        r#"{"id":"sleepy","task":{"cmd":"sleep","args":["30"]},"timeout":"300ms","auto":true}"#,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let out = finished_run(&g, "sleepy", "1");
    assert_eq!(out.len(), 1);
    assert_eq!(out[0]["stopped"], true);
}

#[test]
fn keep_results_keeps_the_newest_runs_and_the_first_with_keep_first() {
    let target = quiet(&[]);
    let g = quiet(&[]);
    let job = format!(
        r#"{{"id":"k","task":{{"url":"http://127.0.0.1:{}/k"}},"keepResults":2,"keepFirst":true}}"#,
        target.port
    );
    g.post("/jobs/add", &job);
    for run in 1..=4 {
        assert_eq!(
            g.post("/jobs/k/run", "").text().trim(),
            format!("Jobs started: k (run {run})")
        );
        finished_run(&g, "k", &run.to_string());
    }
    let runs: Vec<String> = g
        .get("/jobs/k/results")
        .json()
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    assert_eq!(runs, ["1", "4"]);
}

#[test]
fn bad_input_is_rejected_and_leaves_jobs_alone() {
    let g = quiet(&[]);
    assert_eq!(
        g.post(
            "/jobs/add",
            r#"{"id":"ok","task":{"url":"http://127.0.0.1:1/"}}"#
        )
        .status,
        200
    );
    for (body, want) in [
        ("", "missing JSON body"),
        ("{", "invalid JSON"),
        (
            r#"{"id":"","task":{"url":"http://127.0.0.1:1/"}}"#,
            "id is required",
        ),
        (
            r#"{"id":"x","task":{"url":"http://127.0.0.1:1/"},"delay":"5 parsecs"}"#,
            "delay",
        ),
        (r#"{"id":"x","task":{"url":"not a url"}}"#, "invalid url"),
        (
            r#"{"id":"x","task":{"url":"http://127.0.0.1:1/"},"count":100000}"#,
            "count",
        ),
        (r#"{"id":"x","task":"GET /"}"#, "task must be an object"),
    ] {
        let r = g.post("/jobs/add", body);
        assert_eq!(r.status, 400, "{body}: {}", r.text());
        assert!(r.text().contains(want), "{body}: {}", r.text());
        assert_eq!(r.text().trim().lines().count(), 1);
    }
    let r = g.post("/jobs/nope/run", "");
    assert_eq!(r.status, 404, "{}", r.text());
    let r = g.post("/jobs/ok,nope/remove", "");
    assert_eq!(r.status, 404);
    assert!(g.get("/jobs/nope/results").status == 404);
    let list = g.get("/jobs").json();
    assert_eq!(list.as_object().map(|o| o.len()), Some(1), "{list}");
    assert_eq!(g.post("/jobs/clear", "").text().trim(), "Jobs cleared");
    assert_eq!(g.get("/jobs").json(), serde_json::json!({}));
}
