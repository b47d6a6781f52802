//! The schedule driven directly, with made-up instants: no clock, no I/O.

use super::*;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn spec() -> TargetSpec {
    TargetSpec {
        delay: Duration::ZERO,
        ..TargetSpec::default()
    }
}

/// Sends at `now` (which must be a Send step) and completes `after` later.
fn exchange(
    s: &mut Schedule,
    now: Instant,
    after: Duration,
    result: Result<u16, ErrorKind>,
) -> Verdict {
    assert!(
        matches!(s.poll(now), Step::Send(_)),
        "expected a send at {now:?}"
    );
    s.complete(result, now + after)
}

fn counted(v: Verdict) -> Counted {
    match v {
        Verdict::Count(c) => c,
        Verdict::Retry => panic!("expected a counted outcome, got a retry"),
    }
}

#[test]
fn open_model_staggers_and_keeps_schedule() {
    let spec = TargetSpec {
        replicas: 4,
        rate: Some(100.0),
        ..TargetSpec::default()
    };
    let start = Instant::now();
    let mut p = Pacer::new(&spec, 1, start);
    // 4 replicas at 100/s in total: each sends every 40ms, replica 1 offset by 10ms.
    let late = start + Duration::from_secs(5);
    assert_eq!(p.next(late), start + ms(10));
    assert_eq!(p.next(late), start + ms(50));
    assert_eq!(p.interval(), Some(ms(40)));
}

#[test]
fn closed_model_waits_delay_after_first() {
    let spec = TargetSpec {
        delay: ms(7),
        ..TargetSpec::default()
    };
    let now = Instant::now();
    let mut p = Pacer::new(&spec, 0, now);
    assert_eq!(p.next(now), now);
    assert_eq!(p.next(now), now + ms(7));
}

#[test]
fn tiny_rates_do_not_overflow() {
    let spec = TargetSpec {
        rate: Some(1e-300),
        ..TargetSpec::default()
    };
    let mut p = Pacer::new(&spec, 0, Instant::now());
    p.next(Instant::now());
}

#[test]
fn count_limit_ends_after_n_counted() {
    let t0 = Instant::now();
    let spec = TargetSpec {
        requests_per_replica: Some(3),
        ..spec()
    };
    let mut s = Schedule::new(&spec, 0, t0);
    let mut now = t0;
    for _ in 0..3 {
        let c = counted(exchange(&mut s, now, ms(2), Ok(200)));
        assert_eq!(c.latency, ms(2));
        now += ms(2);
    }
    assert_eq!(s.poll(now), Step::Done);
    // Done stays done.
    assert_eq!(s.poll(now + ms(100)), Step::Done);
}

#[test]
fn total_requests_split_over_replicas() {
    let t0 = Instant::now();
    let spec = TargetSpec {
        replicas: 2,
        total_requests: Some(3),
        ..spec()
    };
    let sent: Vec<usize> = (0..2)
        .map(|i| {
            let mut s = Schedule::new(&spec, i, t0);
            let mut n = 0;
            while let Step::Send(_) = s.poll(t0) {
                s.complete(Ok(200), t0);
                n += 1;
            }
            n
        })
        .collect();
    assert_eq!(sent, vec![2, 1]);
}

#[test]
fn closed_model_delay_between_requests() {
    let t0 = Instant::now();
    let spec = TargetSpec {
        delay: ms(10),
        requests_per_replica: None,
        ..TargetSpec::default()
    };
    let mut s = Schedule::new(&spec, 0, t0);
    counted(exchange(&mut s, t0, ms(1), Ok(200)));
    let done = t0 + ms(1);
    assert_eq!(s.poll(done), Step::Wait(done + ms(10)));
    // Polling again before the instant repeats the wait.
    assert_eq!(s.poll(done + ms(5)), Step::Wait(done + ms(10)));
    // Woken 3ms late: the lag says so; latency counts from the send.
    let woke = done + ms(13);
    let c = counted(exchange(&mut s, woke, ms(1), Ok(200)));
    assert_eq!(c.lag, ms(3));
    assert_eq!(c.latency, ms(1));
    assert_eq!(c.uncorrected, ms(1));
}

#[test]
fn duration_ends_before_a_request_due_at_the_end() {
    let t0 = Instant::now();
    let spec = TargetSpec {
        delay: ms(10),
        requests_per_replica: None,
        duration: Some(ms(25)),
        ..TargetSpec::default()
    };
    let mut s = Schedule::new(&spec, 0, t0);
    assert_eq!(s.end(), Some(t0 + ms(25)));
    counted(exchange(&mut s, t0, ms(5), Ok(200))); // done at 5, next due 15
    assert_eq!(s.poll(t0 + ms(5)), Step::Wait(t0 + ms(15)));
    counted(exchange(&mut s, t0 + ms(15), ms(5), Ok(200))); // next due 30 > end
    assert_eq!(s.poll(t0 + ms(20)), Step::Done);
}

#[test]
fn duration_passed_while_late_ends() {
    let t0 = Instant::now();
    let spec = TargetSpec {
        requests_per_replica: None,
        duration: Some(ms(25)),
        ..spec()
    };
    let mut s = Schedule::new(&spec, 0, t0);
    assert_eq!(s.poll(t0 + ms(30)), Step::Done);
}

#[test]
fn initial_delay_holds_the_first_request() {
    let t0 = Instant::now();
    let spec = TargetSpec {
        initial_delay: ms(50),
        ..spec()
    };
    let mut s = Schedule::new(&spec, 0, t0);
    assert_eq!(s.poll(t0), Step::Wait(t0 + ms(50)));
    assert!(matches!(s.poll(t0 + ms(50)), Step::Send(_)));

    // An initial delay beyond the duration: nothing is sent.
    let spec = TargetSpec {
        initial_delay: ms(50),
        duration: Some(ms(20)),
        requests_per_replica: None,
        ..spec
    };
    let mut s = Schedule::new(&spec, 0, t0);
    assert_eq!(s.poll(t0), Step::Done);
}

#[test]
fn rate_paces_on_a_fixed_schedule_from_the_initial_delay() {
    let t0 = Instant::now();
    let spec = TargetSpec {
        replicas: 2,
        rate: Some(100.0), // each replica every 20ms, replica 1 offset by 10ms
        requests_per_replica: None,
        initial_delay: ms(100),
        ..spec()
    };
    let mut s = Schedule::new(&spec, 1, t0);
    assert!(s.is_open());
    assert_eq!(s.interval(), Some(ms(20)));
    assert_eq!(s.poll(t0), Step::Wait(t0 + ms(100)));
    assert_eq!(s.poll(t0 + ms(100)), Step::Wait(t0 + ms(110)));
    counted(exchange(&mut s, t0 + ms(110), ms(1), Ok(200)));
    // The next is due one interval after the previous due, not after the response.
    assert_eq!(s.poll(t0 + ms(111)), Step::Wait(t0 + ms(130)));
}

#[test]
fn latency_counts_from_due_under_a_rate() {
    let t0 = Instant::now();
    let spec = TargetSpec {
        rate: Some(100.0), // every 10ms
        requests_per_replica: None,
        ..spec()
    };
    let mut s = Schedule::new(&spec, 0, t0);
    // The first is due at t0; a slow response (25ms) makes the next two late.
    let c = counted(exchange(&mut s, t0, ms(25), Ok(200)));
    assert_eq!((c.latency, c.uncorrected, c.lag), (ms(25), ms(25), ms(0)));
    // Due at 10, sent at 25: latency from 10, uncorrected from 25.
    let c = counted(exchange(&mut s, t0 + ms(25), ms(2), Ok(200)));
    assert_eq!((c.latency, c.uncorrected, c.lag), (ms(17), ms(2), ms(15)));
    // Due at 20, sent at once at 27 (no wait: it is late).
    let c = counted(exchange(&mut s, t0 + ms(27), ms(1), Ok(200)));
    assert_eq!((c.latency, c.uncorrected, c.lag), (ms(8), ms(1), ms(7)));
    // Back on schedule: due at 30.
    assert_eq!(s.poll(t0 + ms(28)), Step::Wait(t0 + ms(30)));
}

#[test]
fn closed_model_latency_counts_from_first_send() {
    let t0 = Instant::now();
    let spec = TargetSpec {
        delay: ms(10),
        requests_per_replica: Some(2),
        ..TargetSpec::default()
    };
    let mut s = Schedule::new(&spec, 0, t0);
    counted(exchange(&mut s, t0, ms(1), Ok(200)));
    // Due at 11 but the driver woke at 20: the closed model does not charge
    // the client's lateness to the server.
    let c = counted(exchange(&mut s, t0 + ms(20), ms(3), Ok(200)));
    assert_eq!((c.latency, c.uncorrected, c.lag), (ms(3), ms(3), ms(9)));
}

#[test]
fn retries_errors_and_retriable_statuses_then_counts_the_last() {
    let t0 = Instant::now();
    let spec = TargetSpec {
        retries: 2,
        retry_delay: ms(100),
        retriable_status: vec![503],
        ..spec()
    };
    let mut s = Schedule::new(&spec, 0, t0);
    assert!(s.is_retriable(503) && !s.is_retriable(500));
    let Step::Send(a) = s.poll(t0) else {
        panic!("expected a send")
    };
    assert_eq!((a.number, a.last), (0, false));
    assert_eq!(
        s.complete(Err(ErrorKind::Reset), t0 + ms(1)),
        Verdict::Retry
    );
    assert_eq!(s.poll(t0 + ms(1)), Step::Wait(t0 + ms(101)));
    let Step::Send(a) = s.poll(t0 + ms(101)) else {
        panic!("expected a retry")
    };
    assert_eq!((a.number, a.last, a.due), (1, false, t0));
    assert_eq!(s.complete(Ok(503), t0 + ms(102)), Verdict::Retry);
    let Step::Send(a) = s.poll(t0 + ms(202)) else {
        panic!("expected a second retry")
    };
    assert_eq!((a.number, a.last), (2, true));
    // The last attempt counts whatever it got, retriable or not.
    let c = counted(s.complete(Ok(503), t0 + ms(205)));
    assert_eq!(c.result, Ok(503));
    assert_eq!(c.latency, ms(205), "closed model: from the first send");
    assert_eq!(c.uncorrected, ms(3), "from the last attempt");
    assert_eq!(s.poll(t0 + ms(205)), Step::Done);
}

#[test]
fn non_retriable_status_counts_at_once() {
    let t0 = Instant::now();
    let spec = TargetSpec {
        retries: 3,
        retriable_status: vec![503],
        ..spec()
    };
    let mut s = Schedule::new(&spec, 0, t0);
    let c = counted(exchange(&mut s, t0, ms(1), Ok(500)));
    assert_eq!(c.result, Ok(500));
}

#[test]
fn retry_due_after_the_end_abandons_the_request() {
    let t0 = Instant::now();
    let spec = TargetSpec {
        retries: 1,
        retry_delay: ms(100),
        duration: Some(ms(50)),
        requests_per_replica: None,
        ..spec()
    };
    let mut s = Schedule::new(&spec, 0, t0);
    assert_eq!(
        exchange(&mut s, t0, ms(1), Err(ErrorKind::Reset)),
        Verdict::Retry
    );
    assert_eq!(s.poll(t0 + ms(1)), Step::Done);
}

#[test]
fn retries_under_a_rate_count_from_due() {
    let t0 = Instant::now();
    let spec = TargetSpec {
        rate: Some(10.0),
        retries: 1,
        retry_delay: ms(5),
        ..spec()
    };
    let mut s = Schedule::new(&spec, 0, t0);
    assert_eq!(
        exchange(&mut s, t0, ms(1), Err(ErrorKind::Reset)),
        Verdict::Retry
    );
    let c = counted(exchange(&mut s, t0 + ms(6), ms(2), Ok(200)));
    assert_eq!((c.latency, c.uncorrected, c.lag), (ms(8), ms(2), ms(0)));
}

#[test]
fn complete_without_an_attempt_counts_nothing() {
    let t0 = Instant::now();
    let mut s = Schedule::new(&spec(), 0, t0);
    assert_eq!(s.complete(Ok(200), t0), Verdict::Retry);
    // A send polled twice is the same attempt.
    let a = s.poll(t0);
    assert_eq!(s.poll(t0 + ms(1)), a);
    counted(s.complete(Ok(200), t0 + ms(2)));
    assert_eq!(s.poll(t0 + ms(2)), Step::Done);
}

#[test]
fn stop_ends_the_schedule() {
    let t0 = Instant::now();
    let mut s = Schedule::new(&spec(), 0, t0);
    s.stop();
    assert_eq!(s.poll(t0), Step::Done);
}
