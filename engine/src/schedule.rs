//! The request schedule of one replica, free of I/O: when each request is
//! due (pacing: a delay after each response, or a fixed rate), when the
//! replica has sent enough (a request count, the end of the duration), when
//! a failed attempt is tried again (the retry policy), and which instant a
//! request's latency counts from (its due instant under a rate, so a slow
//! server cannot hide latency; its first send otherwise).
//!
//! A protocol's request loop drives a [`Schedule`]: it asks [`Schedule::poll`]
//! what to do now, sleeps or sends as told, and reports each attempt's
//! outcome to [`Schedule::complete`], which says whether to retry or what to
//! count. The schedule reads no clock (every call takes `now`), owns no
//! timer and no socket, so tests call it directly and every protocol (the
//! HTTP/1.1 replica loop, an HTTP/2 stream loop) behaves the same.
//!
//! ```text
//! let mut schedule = Schedule::new(&spec, index, run_start);
//! let mut now = Instant::now();
//! loop {
//!     if stop_requested() { break }           // stops are the driver's business
//!     match schedule.poll(now) {
//!         Step::Done => break,
//!         Step::Wait(until) => { sleep_until(until).await; now = Instant::now() }
//!         Step::Send(attempt) => {
//!             // attempt.last: no retry follows, so count tracked headers of
//!             // any status; otherwise skip them for retriable statuses.
//!             let result: Result<u16, ErrorKind> = exchange(attempt).await;
//!             now = Instant::now();
//!             if let Verdict::Count(c) = schedule.complete(result, now) {
//!                 stats.record(c.result, c.latency, c.uncorrected, c.lag, now);
//!             }
//!         }
//!     }
//! }
//! ```
//!
//! An attempt abandoned by a stop or the end of the run is not reported:
//! the driver just leaves the loop. [`Step::Wait`] never reaches past the end
//! of the target's duration: a request (or retry) that would be due at or
//! after it ends the schedule instead.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::error::ErrorKind;
use crate::plan::TargetSpec;
use crate::stages::{LiveRate, Stages};

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
    /// Open model with a load shape: request `n` of the whole target is due
    /// at `start + stages.time_of(n)`; this replica takes `n`, `n + step`, ...
    Shaped {
        start: Instant,
        stages: Arc<Stages>,
        n: u64,
        step: u64,
    },
}

impl Pacer {
    /// True when `spec` asks for the open model (a positive rate).
    pub fn is_open(spec: &TargetSpec) -> bool {
        spec.is_open()
    }

    /// The pacer for replica `index` of `spec`, for requests that may start
    /// at `start`. Under a rate, replicas are staggered evenly over one interval.
    pub fn new(spec: &TargetSpec, index: u32, start: Instant) -> Pacer {
        if let Some(stages) = &spec.stages {
            return Pacer::Shaped {
                start,
                stages: Arc::new(stages.clone()),
                n: u64::from(index),
                step: u64::from(spec.replicas.max(1)),
            };
        }
        match spec.rate {
            Some(rate) if spec.is_open() => {
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
            Pacer::Shaped {
                start,
                stages,
                n,
                step,
            } => {
                // Past the shape's end: due at its end, which ends the schedule.
                let at = stages.time_of(*n as f64).unwrap_or_else(|| stages.total());
                *n += *step;
                start.checked_add(at).unwrap_or(*start + MAX_INTERVAL)
            }
        }
    }

    /// The time between two requests of one replica under a rate.
    pub fn interval(&self) -> Option<Duration> {
        match self {
            Pacer::Open { interval, .. } => Some(*interval),
            Pacer::Closed { .. } | Pacer::Shaped { .. } => None,
        }
    }

    /// A fixed rate of `rate` in total from `now` on, for replica `index`
    /// of `replicas` (staggered as at the start).
    fn retarget(rate: f64, index: u32, replicas: u32, now: Instant) -> Pacer {
        let replicas = f64::from(replicas.max(1));
        let interval = Duration::try_from_secs_f64(replicas / rate)
            .unwrap_or(MAX_INTERVAL)
            .min(MAX_INTERVAL);
        Pacer::Open {
            next: now + interval.mul_f64(f64::from(index) / replicas),
            interval,
        }
    }
}

/// What the driver should do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Nothing to send before this instant: sleep until then (or a stop),
    /// then poll again.
    Wait(Instant),
    /// Send this attempt now.
    Send(Attempt),
    /// The replica has sent all it may (count or duration): end it.
    Done,
}

/// One attempt to send the current request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attempt {
    /// When the request was due.
    pub due: Instant,
    /// 0 for the first attempt, then 1, 2, ... for retries.
    pub number: u32,
    /// No retry follows, whatever the outcome: the response counts as final
    /// even with a retriable status (so its tracked headers count).
    pub last: bool,
}

/// What to do with an attempt's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Try again: the next [`Schedule::poll`] says when.
    Retry,
    /// The request's final outcome, to count.
    Count(Counted),
}

/// A request's final outcome and timings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counted {
    /// A status code, or the transport error of the final attempt.
    pub result: Result<u16, ErrorKind>,
    /// Under a rate, from the due instant; otherwise from the first
    /// attempt's send (retries included either way).
    pub latency: Duration,
    /// From the final attempt's send.
    pub uncorrected: Duration,
    /// How late the first attempt left against its due instant.
    pub lag: Duration,
}

/// The request in progress.
#[derive(Debug, Clone, Copy)]
struct Current {
    due: Instant,
    /// The first attempt's send.
    first: Instant,
    /// The latest attempt's send.
    sent: Instant,
    attempt: u32,
}

#[derive(Debug, Clone, Copy)]
enum State {
    /// Before a request; `due` once drawn from the pacer (at the first poll
    /// after `begin`, then when the previous request is counted).
    Between {
        due: Option<Instant>,
    },
    InFlight(Current),
    /// The current request failed and is tried again at the instant given.
    RetryAt(Current, Instant),
    Done,
}

/// One replica's request schedule (see the module notes).
#[derive(Debug, Clone)]
pub struct Schedule {
    pacer: Pacer,
    /// Requests still to count; `None` for no count limit.
    remaining: Option<u64>,
    /// Nothing is sent before this (the run's start plus the initial delay).
    begin: Instant,
    /// Nothing is sent at or after this (the end of the target's duration).
    end: Option<Instant>,
    retries: u32,
    retry_delay: Duration,
    retriable: Vec<u16>,
    open: bool,
    state: State,
    /// A rate set while running, followed from the next request on.
    live: Option<LiveRate>,
    live_seen: f64,
    index: u32,
    replicas: u32,
}

impl Schedule {
    /// The schedule of replica `index` of `spec` in a run that started at
    /// `start`. The duration counts from `start`; requests begin after the
    /// initial delay, and under a rate the pacing starts then too.
    pub fn new(spec: &TargetSpec, index: u32, start: Instant) -> Schedule {
        let begin = start.checked_add(spec.initial_delay).unwrap_or(start);
        let mut end = spec.duration.and_then(|d| start.checked_add(d));
        // A load shape lasts the sum of its stages (counted from `begin`).
        if let Some(shape_end) = spec
            .stages
            .as_ref()
            .and_then(|s| begin.checked_add(s.total()))
        {
            end = Some(end.map_or(shape_end, |e| e.min(shape_end)));
        }
        Schedule {
            pacer: Pacer::new(spec, index, begin),
            remaining: spec.requests_for_replica(index),
            begin,
            end,
            retries: spec.retries,
            retry_delay: spec.retry_delay,
            retriable: spec.retriable_status.clone(),
            open: spec.is_open(),
            state: State::Between { due: None },
            live: None,
            live_seen: 0.0,
            index,
            replicas: spec.replicas,
        }
    }

    /// Follows `live`: once a rate is set there, an open-model schedule
    /// keeps that fixed rate from its next request on (a closed-model one
    /// ignores it).
    pub fn follow(mut self, live: LiveRate) -> Schedule {
        self.live = Some(live);
        self
    }

    /// True under a rate (the open model).
    pub fn is_open(&self) -> bool {
        self.open
    }

    /// The time between two requests of this replica under a rate.
    pub fn interval(&self) -> Option<Duration> {
        self.pacer.interval()
    }

    /// The end of the target's duration, if it has one.
    pub fn end(&self) -> Option<Instant> {
        self.end
    }

    /// True when a response with status `code` would be retried (on an
    /// attempt that is not the last).
    pub fn is_retriable(&self, code: u16) -> bool {
        self.retriable.contains(&code)
    }

    /// What to do at `now`. Calling it again without acting changes nothing
    /// (a `Wait` is repeated until its instant passes; a `Send` is repeated
    /// until [`Schedule::complete`]).
    pub fn poll(&mut self, now: Instant) -> Step {
        if !matches!(self.state, State::InFlight(_) | State::Done)
            && self.end.is_some_and(|end| now >= end)
        {
            self.state = State::Done;
        }
        match self.state {
            State::Done => Step::Done,
            State::InFlight(c) => Step::Send(self.attempt(c)),
            State::Between { due } => {
                let due = match due {
                    Some(due) => due,
                    None => {
                        if now < self.begin {
                            return self.wait(self.begin);
                        }
                        self.draw_next(now);
                        match self.state {
                            State::Between { due: Some(due) } => due,
                            _ => return Step::Done,
                        }
                    }
                };
                if now < due {
                    return Step::Wait(due);
                }
                let c = Current {
                    due,
                    first: now,
                    sent: now,
                    attempt: 0,
                };
                self.state = State::InFlight(c);
                Step::Send(self.attempt(c))
            }
            State::RetryAt(c, at) => {
                if now < at {
                    return self.wait(at);
                }
                let c = Current {
                    sent: now,
                    attempt: c.attempt + 1,
                    ..c
                };
                self.state = State::InFlight(c);
                Step::Send(self.attempt(c))
            }
        }
    }

    /// Reports the outcome of the attempt in flight, which ended at `now`.
    /// Also answers `Retry` when no attempt is in flight (a driver bug), so
    /// nothing is counted twice.
    pub fn complete(&mut self, result: Result<u16, ErrorKind>, now: Instant) -> Verdict {
        let State::InFlight(c) = self.state else {
            return Verdict::Retry;
        };
        let retry = c.attempt < self.retries
            && match result {
                Ok(code) => self.is_retriable(code),
                Err(_) => true,
            };
        if retry {
            self.state = match now.checked_add(self.retry_delay) {
                Some(at) => State::RetryAt(c, at),
                None => State::Done,
            };
            return Verdict::Retry;
        }
        if let Some(r) = &mut self.remaining {
            *r = r.saturating_sub(1);
        }
        // The next request's due instant follows from this one's end (the
        // delay of the closed model counts from the response).
        self.draw_next(now);
        let from = if self.open {
            c.due.min(c.first)
        } else {
            c.first
        };
        Verdict::Count(Counted {
            result,
            latency: now.saturating_duration_since(from),
            uncorrected: now.saturating_duration_since(c.sent),
            lag: c.first.saturating_duration_since(c.due),
        })
    }

    /// Ends the schedule (a stop, or an attempt abandoned at the end of the run).
    pub fn stop(&mut self) {
        self.state = State::Done;
    }

    /// Draws the next request's due instant from the pacer at `now`, or
    /// ends the schedule when the count is spent or it falls past the end.
    fn draw_next(&mut self, now: Instant) {
        if let Some(live) = &self.live {
            let rate = live.get();
            if self.open && rate > 0.0 && rate != self.live_seen {
                self.live_seen = rate;
                self.pacer = Pacer::retarget(rate, self.index, self.replicas, now);
            }
        }
        let due = self.pacer.next(now);
        self.state = if self.remaining == Some(0) || self.end.is_some_and(|end| due >= end) {
            State::Done
        } else {
            State::Between { due: Some(due) }
        };
    }

    fn attempt(&self, c: Current) -> Attempt {
        Attempt {
            due: c.due,
            number: c.attempt,
            last: c.attempt >= self.retries,
        }
    }

    /// A wait until `at`, or the end when `at` lies at or past the duration.
    fn wait(&mut self, at: Instant) -> Step {
        if self.end.is_some_and(|end| at >= end) {
            self.state = State::Done;
            Step::Done
        } else {
            Step::Wait(at)
        }
    }
}

#[cfg(test)]
mod shape_tests;
#[cfg(test)]
mod tests;
