//! Unit tests of the per-core counters and their merge.

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime};

use super::{CoreStats, MAX_TRACKED_VALUES, OTHER_VALUES};
use crate::error::ErrorKind;

#[test]
fn record_and_merge() {
    let now = Instant::now();
    let anchor = (now, SystemTime::now());
    let names = vec!["via-goto".to_string()];
    let mut a = CoreStats::new(1, false);
    a.record(
        Ok(200),
        Duration::from_millis(5),
        Duration::from_millis(1),
        Duration::ZERO,
        now,
    );
    a.record(
        Err(ErrorKind::ConnectRefused),
        Duration::ZERO,
        Duration::ZERO,
        Duration::from_micros(40),
        now,
    );
    a.record(
        Err(ErrorKind::ConnectRefused),
        Duration::ZERO,
        Duration::ZERO,
        Duration::from_micros(40),
        now,
    );
    a.track(0, b"x");
    a.track(0, b"x");
    a.track(0, b"y");
    let mut b = CoreStats::new(1, true);
    b.record(
        Ok(503),
        Duration::from_millis(7),
        Duration::from_millis(7),
        Duration::from_micros(300),
        now,
    );
    b.track(0, b"y");
    b.add_bytes(10, 3);
    let mut merged = a.to_target_stats(&names, anchor);
    merged.finished = true;
    let mut other = b.to_target_stats(&names, anchor);
    other.finished = true;
    merged.merge(&other);
    assert_eq!(merged.requests, 4);
    assert_eq!(
        merged.status_counts,
        BTreeMap::from([(0, 2), (200, 1), (503, 1)])
    );
    assert_eq!(
        merged.errors,
        BTreeMap::from([(ErrorKind::ConnectRefused, 2)])
    );
    assert_eq!(merged.header_counts["via-goto"], 4);
    assert_eq!(merged.header_value_counts["via-goto"]["x"], 2);
    assert_eq!(merged.header_value_counts["via-goto"]["y"], 2);
    assert_eq!(merged.latency.len(), 2);
    assert!(merged.latency.max() >= 6900);
    // a (closed model) recorded 5 ms corrected, 1 ms uncorrected.
    assert_eq!(merged.latency_uncorrected.len(), 2);
    assert!(merged.latency_uncorrected.min() <= 1001);
    assert!(merged.latency_uncorrected.max() >= 6900);
    assert_eq!(
        merged.schedule_lag.len(),
        4,
        "every counted request has a lag"
    );
    assert_eq!(merged.schedule_lag.max(), 300);
    assert_eq!(merged.schedule_lag.min(), 0);
    assert_eq!(merged.bytes_read, 10);
    assert!(merged.finished);
}

#[test]
fn open_connections_gauge_follows_guards() {
    let anchor = (Instant::now(), SystemTime::now());
    let s = CoreStats::new(0, false);
    let a = s.conn_opened();
    let b = s.conn_opened();
    assert_eq!(s.to_target_stats(&[], anchor).open_connections, 2);
    drop(a);
    let mut t = s.to_target_stats(&[], anchor);
    assert_eq!(t.open_connections, 1);
    t.merge(&s.to_target_stats(&[], anchor));
    assert_eq!(t.open_connections, 2, "gauges add over cores");
    drop(b);
    assert_eq!(s.to_target_stats(&[], anchor).open_connections, 0);
}

#[test]
fn requests_in_flight_are_attempts_not_yet_ended() {
    let now = Instant::now();
    let anchor = (now, SystemTime::now());
    let mut s = CoreStats::new(0, false);
    let attempts = s.attempts();
    for _ in 0..3 {
        attempts.start();
    }
    assert_eq!(s.to_target_stats(&[], anchor).requests_in_flight, 3);
    s.record(Ok(200), Duration::ZERO, Duration::ZERO, Duration::ZERO, now);
    s.in_flight_at_end();
    let t = s.to_target_stats(&[], anchor);
    assert_eq!((t.requests_in_flight, t.in_flight), (1, 1));
}

#[test]
fn tracked_values_are_bounded() {
    let mut s = CoreStats::new(1, false);
    for i in 0..(MAX_TRACKED_VALUES + 5) {
        s.track(0, i.to_string().as_bytes());
    }
    let t = s.to_target_stats(&["id".to_string()], (Instant::now(), SystemTime::now()));
    assert_eq!(t.header_value_counts["id"][OTHER_VALUES], 5);
    assert_eq!(t.header_counts["id"], (MAX_TRACKED_VALUES + 5) as u64);
}
