//! Pacing and stopping for the one run loop that serves every mode:
//! [`Pacer`] says when the next request is due (closed model with a delay,
//! or open model on a fixed schedule), [`Limits`] says when a replica has
//! sent enough (count or duration), and [`StopSignal`] says when someone
//! asked to stop.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::plan::TargetSpec;
use crate::run::RunShared;

/// Longest interval the open model schedules (a rate far below one request
/// per day per replica is treated as one per day), so instants cannot overflow.
const MAX_INTERVAL: Duration = Duration::from_secs(86_400);

/// When a replica's next request is due.
#[derive(Debug, Clone)]
pub enum Pacer {
    /// Closed model: the next request follows the previous response after `delay`.
    Closed { delay: Duration, first: bool },
    /// Open model: requests are due every `interval`, whatever the server does.
    Open { next: Instant, interval: Duration },
}

impl Pacer {
    /// True when `spec` asks for the open model (a positive rate).
    pub fn is_open(spec: &TargetSpec) -> bool {
        spec.rate.is_some_and(|r| r > 0.0)
    }

    /// The pacer for replica `index` of `spec`, for a run that began at
    /// `start`. Under a rate, replicas are staggered evenly over one interval.
    pub fn new(spec: &TargetSpec, index: u32, start: Instant) -> Pacer {
        match spec.rate {
            Some(rate) if Pacer::is_open(spec) => {
                let replicas = f64::from(spec.replicas.max(1));
                let interval = Duration::try_from_secs_f64(replicas / rate)
                    .unwrap_or(MAX_INTERVAL)
                    .min(MAX_INTERVAL);
                let offset = interval.mul_f64(f64::from(index) / replicas);
                Pacer::Open {
                    next: start + offset,
                    interval,
                }
            }
            _ => Pacer::Closed {
                delay: spec.delay,
                first: true,
            },
        }
    }

    /// The intended send time of the next request. Under a rate the schedule
    /// advances by one interval per request even when behind: a late request
    /// is sent at once and its latency counts from when it was due.
    pub fn next(&mut self, now: Instant) -> Instant {
        match self {
            Pacer::Closed { delay, first } => {
                if std::mem::replace(first, false) {
                    now
                } else {
                    now + *delay
                }
            }
            Pacer::Open { next, interval } => {
                let due = *next;
                *next += *interval;
                due
            }
        }
    }
}

/// How much a replica may still send.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    remaining: Option<u64>,
    end: Option<Instant>,
}

impl Limits {
    pub(crate) fn new(requests: Option<u64>, end: Option<Instant>) -> Limits {
        Limits {
            remaining: requests,
            end,
        }
    }

    /// True when a request due at `due` must not be sent.
    pub(crate) fn done(&self, due: Instant) -> bool {
        self.remaining == Some(0) || self.end.is_some_and(|end| due >= end)
    }

    pub(crate) fn count_one(&mut self) {
        if let Some(r) = &mut self.remaining {
            *r = r.saturating_sub(1);
        }
    }
}

/// A replica's view of the stop requests: the run's, its target's, and the
/// end of the target's duration.
#[derive(Clone)]
pub(crate) struct StopSignal {
    shared: Arc<RunShared>,
    target: usize,
    end: Option<Instant>,
}

impl StopSignal {
    pub(crate) fn new(shared: Arc<RunShared>, target: usize, end: Option<Instant>) -> StopSignal {
        StopSignal {
            shared,
            target,
            end,
        }
    }

    /// Someone called stop (two relaxed loads of flags that are written once).
    #[inline]
    pub(crate) fn requested(&self) -> bool {
        self.shared.stop.load(Ordering::Relaxed)
            || self
                .shared
                .target_stop
                .get(self.target)
                .is_some_and(|f| f.load(Ordering::Relaxed))
    }

    /// Work in flight at `now` must be abandoned (stop, or the duration ended).
    #[inline]
    pub(crate) fn should_abort(&self, now: Instant) -> bool {
        self.requested() || self.end.is_some_and(|end| now >= end)
    }

    pub(crate) fn end(&self) -> Option<Instant> {
        self.end
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(p.next(late), start + Duration::from_millis(10));
        assert_eq!(p.next(late), start + Duration::from_millis(50));
    }

    #[test]
    fn closed_model_waits_delay_after_first() {
        let spec = TargetSpec {
            delay: Duration::from_millis(7),
            ..TargetSpec::default()
        };
        let now = Instant::now();
        let mut p = Pacer::new(&spec, 0, now);
        assert_eq!(p.next(now), now);
        assert_eq!(p.next(now), now + Duration::from_millis(7));
    }

    #[test]
    fn limits_by_count_and_end() {
        let now = Instant::now();
        let mut l = Limits::new(Some(1), Some(now + Duration::from_secs(1)));
        assert!(!l.done(now));
        assert!(l.done(now + Duration::from_secs(1)));
        l.count_one();
        assert!(l.done(now));
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
}
