//! End-to-end tests of `goto load`'s live results through the real binary:
//! the timeline (JSON report, `--timeline` file as JSON lines and CSV,
//! `--interval` lines), the `--hdr-log` interval log read back with the
//! hdrhistogram crate's parser, `--latency`, and `--threshold` exit codes.

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;

use common::{load, Goto};
use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
use hdrhistogram::serialization::Deserializer;
use hdrhistogram::Histogram;
use serde_json::Value;

/// A scratch file path unique to this test process.
fn scratch(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("goto-live-{}-{name}", std::process::id()))
}

fn status_sums<'a>(entries: impl Iterator<Item = &'a Value>) -> BTreeMap<String, u64> {
    let mut sums = BTreeMap::new();
    for e in entries {
        for (k, v) in e["countsByStatusCodes"].as_object().expect("counts") {
            *sums.entry(k.clone()).or_insert(0) += v.as_u64().unwrap_or(0);
        }
    }
    sums
}

#[test]
fn timeline_sums_equal_totals_in_report_file_and_hdr_log() {
    let server = Goto::start(&[]);
    let url = format!("http://127.0.0.1:{}/", server.port);
    let jsonl = scratch("timeline.jsonl");
    let hlog = scratch("latency.hlog");
    let r = load(&[
        "--json",
        "--no-progress",
        "-c",
        "4",
        "-d",
        "1.6s",
        "--interval",
        "400ms",
        "--latency",
        "--timeline",
        jsonl.to_str().unwrap(),
        "--hdr-log",
        hlog.to_str().unwrap(),
        &url,
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: Value = serde_json::from_str(&r.stdout).expect("JSON report");
    let total = v["requests"].as_u64().unwrap();
    assert!(total > 0);
    let timeline = v["timeline"].as_array().expect("timeline");
    assert!(timeline.len() >= 3, "{timeline:?}");
    for key in [
        "t",
        "requests",
        "countsByStatusCodes",
        "errors",
        "latencyMs",
    ] {
        assert!(!timeline[0][key].is_null(), "{key} missing");
    }
    let sum: u64 = timeline
        .iter()
        .map(|e| e["requests"].as_u64().unwrap())
        .sum();
    assert_eq!(sum, total, "interval requests add up to the total");
    let totals: BTreeMap<String, u64> = v["countsByStatusCodes"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, n)| (k.clone(), n.as_u64().unwrap()))
        .collect();
    assert_eq!(status_sums(timeline.iter()), totals);
    // With --json, --interval lines go to stderr.
    assert!(r.stderr.lines().filter(|l| l.contains("req/s")).count() >= 3);
    assert_eq!(v["latencyPercentilesMs"].as_object().unwrap().len(), 8);

    // The live file holds the same intervals, one JSON object a line.
    let text = std::fs::read_to_string(&jsonl).expect("timeline file");
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    assert_eq!(lines.len(), timeline.len());
    assert_eq!(status_sums(lines.iter()), totals);

    // The interval log parses with hdrhistogram's own reader and its
    // histograms hold every response's latency.
    let log = std::fs::read(&hlog).expect("hdr log");
    let mut de = Deserializer::new();
    let mut counted = 0u64;
    let mut intervals = 0;
    for entry in IntervalLogIterator::new(&log) {
        if let LogEntry::Interval(i) = entry.expect("log entry") {
            let bytes = base64_decode(i.encoded_histogram());
            let h: Histogram<u64> = de.deserialize(&mut &bytes[..]).expect("histogram");
            counted += h.len();
            intervals += 1;
        }
    }
    assert_eq!(intervals, timeline.len());
    assert_eq!(counted, total);
    let _ = std::fs::remove_file(jsonl);
    let _ = std::fs::remove_file(hlog);
}

#[test]
fn csv_timeline_and_text_interval_lines() {
    let server = Goto::start(&[]);
    let url = format!("http://127.0.0.1:{}/", server.port);
    let csv = scratch("timeline.csv");
    let r = load(&[
        "--no-progress",
        "-c",
        "2",
        "-d",
        "1.2s",
        "--interval",
        "300ms",
        "--latency",
        "--timeline",
        csv.to_str().unwrap(),
        &url,
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let interval_lines = r.stdout.lines().filter(|l| l.contains(" req/s ")).count();
    assert!(interval_lines >= 3, "{}", r.stdout);
    assert!(r.stdout.contains("99.999%"), "{}", r.stdout);
    let total: u64 = r
        .stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("Requests:"))
        .and_then(|n| n.trim().parse().ok())
        .expect("Requests line");
    let text = std::fs::read_to_string(&csv).expect("csv");
    let mut rows = text.lines();
    let header: Vec<&str> = rows.next().unwrap().split(',').collect();
    let col = header.iter().position(|h| *h == "requests").unwrap();
    let sum: u64 = rows
        .map(|r| r.split(',').nth(col).unwrap().parse::<u64>().unwrap())
        .sum();
    assert_eq!(sum, total);
    let _ = std::fs::remove_file(csv);
}

#[test]
fn thresholds_exit_0_when_met_3_when_failed_2_when_malformed() {
    let server = Goto::start(&[]);
    let url = format!("http://127.0.0.1:{}/", server.port);
    let all_503 = format!("http://127.0.0.1:{}/status/503", server.port);
    let ok = load(&[
        "--json",
        "--no-progress",
        "-n",
        "200",
        "-c",
        "2",
        "--threshold",
        "p99 < 30s",
        "--threshold",
        "errors <= 0%",
        &url,
    ]);
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    let v: Value = serde_json::from_str(&ok.stdout).unwrap();
    let ts = v["thresholds"].as_array().unwrap();
    assert_eq!(ts.len(), 2);
    assert!(ts.iter().all(|t| t["ok"] == true), "{ts:?}");

    // Every response is a 503 here: the 5xx threshold fails, with its actual value.
    let failed = load(&[
        "--no-progress",
        "-n",
        "100",
        "-c",
        "2",
        "--threshold",
        "status5xx < 1%",
        "--threshold",
        "max < 30s",
        &all_503,
    ]);
    assert_eq!(failed.code, 3, "{}", failed.stderr);
    let line = failed
        .stdout
        .lines()
        .find(|l| l.contains("status5xx < 1%"))
        .expect("threshold line");
    assert!(
        line.contains("100.000") && line.contains("FAILED"),
        "{line}"
    );
    assert!(failed
        .stdout
        .lines()
        .any(|l| l.contains("max < 30s") && l.trim_end().ends_with("ok")));

    for bad in ["p99 << 5ms", "latency < 5ms", "errors < 5", "rps >= lots"] {
        let r = load(&["--threshold", bad, "http://127.0.0.1:1/"]);
        assert_eq!(r.code, 2, "{bad}: {}", r.stderr);
        assert!(
            r.stderr.contains("invalid threshold"),
            "{bad}: {}",
            r.stderr
        );
        assert!(r.stdout.is_empty());
    }
}

#[test]
fn a_stage_ramp_shows_rising_rates_per_interval() {
    let server = Goto::start(&[]);
    let url = format!("http://127.0.0.1:{}/", server.port);
    // 0 -> 400/s over 2 s: about 25, 75, 125, 175 requests per 500 ms.
    let r = load(&[
        "--json",
        "--no-progress",
        "-c",
        "4",
        "--stages",
        "2s:400",
        "--interval",
        "500ms",
        &url,
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    let total = v["requests"].as_u64().unwrap();
    assert!((360..=400).contains(&total), "{total}");
    let rates: Vec<f64> = v["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["seconds"].as_f64().unwrap() >= 0.3)
        .map(|e| e["rps"].as_f64().unwrap())
        .collect();
    assert!(rates.len() >= 3, "{rates:?}");
    assert!(rates.windows(2).all(|w| w[1] > w[0]), "rising: {rates:?}");
    assert!(v["durationSeconds"].as_f64().unwrap() < 3.5);

    for bad in [&["--stages", "2s"][..], &["--stages", "2s:5", "-d", "3s"]] {
        let mut args = bad.to_vec();
        args.push(&url);
        let r = load(&args);
        assert_eq!(r.code, 2, "{bad:?}: {}", r.stderr);
        assert_eq!(r.stderr.trim().lines().count(), 1, "{}", r.stderr);
    }
}

/// Standard base64 (the interval log's encoding), decoded by hand to keep
/// the test's dependencies to the crates under test.
fn base64_decode(s: &str) -> Vec<u8> {
    let val = |c: u8| -> u32 {
        match c {
            b'A'..=b'Z' => u32::from(c - b'A'),
            b'a'..=b'z' => u32::from(c - b'a') + 26,
            b'0'..=b'9' => u32::from(c - b'0') + 52,
            b'+' => 62,
            b'/' => 63,
            _ => panic!("not base64: {c}"),
        }
    };
    let bytes: Vec<u8> = s.bytes().filter(|b| *b != b'=').collect();
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for chunk in bytes.chunks(4) {
        let mut acc = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            acc |= val(*c) << (18 - 6 * i);
        }
        let n = chunk.len() * 6 / 8;
        for i in 0..n {
            out.push((acc >> (16 - 8 * i)) as u8);
        }
    }
    out
}
