//! Load shapes and live rate changes in the schedule, driven with made-up
//! instants.

use super::*;
use crate::duration::parse_or_seconds;

fn stages(text: &str) -> Stages {
    Stages::parse(text, 0.0, parse_or_seconds).expect("stages")
}

/// Due instants (as offsets from `start`) of every request a schedule sends,
/// answering each at once.
fn dues(mut s: Schedule, start: Instant) -> Vec<Duration> {
    let mut now = start;
    let mut out = Vec::new();
    for _ in 0..100_000 {
        match s.poll(now) {
            Step::Done => return out,
            Step::Wait(at) => now = at,
            Step::Send(a) => {
                out.push(a.due - start);
                s.complete(Ok(200), now);
            }
        }
    }
    panic!("schedule did not end");
}

#[test]
fn a_ramp_sends_more_each_second_and_ends_with_the_shape() {
    let spec = TargetSpec {
        replicas: 3,
        requests_per_replica: None,
        stages: Some(stages("4s:400")),
        ..TargetSpec::default()
    };
    assert!(spec.is_open());
    let start = Instant::now();
    let mut all: Vec<Duration> = (0..3)
        .flat_map(|i| dues(Schedule::new(&spec, i, start), start))
        .collect();
    all.sort();
    // Ramp 0 -> 400/s over 4 s: 50 * (b^2 - a^2) requests in [a, b).
    let per_second: Vec<usize> = (0..4)
        .map(|s| all.iter().filter(|d| d.as_secs() == s).count())
        .collect();
    for (got, want) in per_second.iter().zip([50, 150, 250, 350]) {
        assert!(got.abs_diff(want) <= 1, "{per_second:?}");
    }
    assert!(all.iter().all(|d| *d < Duration::from_secs(4)));
}

#[test]
fn a_live_rate_takes_over_from_the_next_request() {
    let spec = TargetSpec {
        replicas: 1,
        requests_per_replica: None,
        rate: Some(10.0),
        duration: Some(Duration::from_secs(10)),
        ..TargetSpec::default()
    };
    let live = LiveRate::default();
    let start = Instant::now();
    let mut s = Schedule::new(&spec, 0, start).follow(live.clone());
    let mut now = start;
    let mut sent = Vec::new();
    while now < start + Duration::from_secs(2) {
        match s.poll(now) {
            Step::Wait(at) => now = at,
            Step::Send(a) => {
                sent.push(a.due);
                if sent.len() == 5 {
                    assert!(live.set(100.0));
                }
                s.complete(Ok(200), now);
            }
            Step::Done => break,
        }
    }
    // 5 at 100 ms apart, then 10 ms apart.
    assert_eq!(sent[4] - sent[3], Duration::from_millis(100));
    assert_eq!(sent[7] - sent[6], Duration::from_millis(10));
    assert!(!live.set(0.0) && !live.set(f64::NAN));
}

#[test]
fn a_closed_model_ignores_a_live_rate() {
    let spec = TargetSpec {
        delay: Duration::from_millis(5),
        requests_per_replica: Some(3),
        ..TargetSpec::default()
    };
    let live = LiveRate::default();
    live.set(1000.0);
    let start = Instant::now();
    let d = dues(Schedule::new(&spec, 0, start).follow(live), start);
    assert_eq!(
        d,
        [
            Duration::ZERO,
            Duration::from_millis(5),
            Duration::from_millis(10)
        ]
    );
}
