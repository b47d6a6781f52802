//! [`CoreStats`]: one core's counters for one target of one run, the
//! handles replicas count through ([`Attempts`], [`OpenConn`]), and the
//! snapshot that turns them into a [`TargetStats`].

use std::cell::Cell;
use std::collections::HashMap;
use std::rc::Rc;
use std::time::{Duration, Instant, SystemTime};

use hdrhistogram::Histogram;

use super::{add_histogram, latency_histogram, TargetStats, MAX_TRACKED_VALUES, OTHER_VALUES};
use crate::error::ErrorKind;
use crate::schedule::{Schedule, Verdict};

/// Counts of one tracked header on one core.
#[derive(Debug, Default, Clone)]
struct TrackedCounts {
    count: u64,
    values: HashMap<Box<[u8]>, u64>,
    other: u64,
}

/// Status codes counted in the flat array; anything else (httparse accepts
/// any three digits) goes through the same array since it spans 0..1000.
const STATUS_SLOTS: usize = 1000;

/// How one core keeps the uncorrected latencies.
#[derive(Debug)]
enum Uncorrected {
    /// Open model (a rate): nearly every response differs from its corrected
    /// figure, so both histograms are written.
    Own(Histogram<u64>),
    /// Closed model: the two figures differ only for a request that was
    /// retried, so one histogram write per response serves both, and the
    /// uncorrected view is derived at snapshot time. The pair, allocated on
    /// the first difference, holds the corrected values to take out and the
    /// uncorrected ones to put in.
    Differences(Option<Box<[Histogram<u64>; 2]>>),
}

/// How one attempt of a request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Attempted {
    Status(u16),
    Error(ErrorKind),
    /// Stopped, or out of time, with the request under way: not counted.
    Aborted,
}

/// One core's counters for one target of one run.
#[derive(Debug)]
pub(crate) struct CoreStats {
    requests: u64,
    status: Box<[u64; STATUS_SLOTS]>,
    errors: Vec<(ErrorKind, u64)>,
    tracked: Vec<TrackedCounts>,
    bytes_read: u64,
    bytes_written: u64,
    latency: Histogram<u64>,
    uncorrected: Uncorrected,
    lag: Histogram<u64>,
    /// Requests that left on time (lag under 1 us), not yet in `lag`.
    lag_zeros: u64,
    first_response: Option<Instant>,
    last_response: Option<Instant>,
    reconnects: u64,
    in_flight: u64,
    /// Connections open now. Shared with each connection's [`OpenConn`],
    /// which takes itself off when dropped, so a close is counted wherever
    /// it happens without borrowing these counters.
    open_conns: Rc<Cell<u64>>,
    /// Attempts started, counted by the replicas through [`Attempts`];
    /// each ends as a counted request, a retry or an abandoned one, so
    /// those under way are the difference and cost one add per attempt.
    attempts: Rc<Cell<u64>>,
    /// Attempts that ended in a retry.
    retried: u64,
    /// gRPC: answered calls by status code, and messages each way.
    grpc_status: [u64; 17],
    messages_sent: u64,
    messages_received: u64,
    /// The last raw `grpc-message` per code (copied only when it changes,
    /// into a buffer that keeps its capacity).
    grpc_messages: [Vec<u8>; 17],
    /// Allocated with the first call that got a message.
    first_message: Option<Box<Histogram<u64>>>,
}

/// A replica's handle on its core's count of attempts started: a plain
/// add, with no borrow of the counters.
#[derive(Debug, Clone)]
pub(crate) struct Attempts(Rc<Cell<u64>>);

impl Attempts {
    #[inline]
    pub(crate) fn start(&self) {
        self.0.set(self.0.get() + 1);
    }
}

/// One open connection counted in its core's gauge until dropped: kept
/// beside the connection by whoever owns it (a replica, an HTTP/2 slot).
#[derive(Debug)]
pub(crate) struct OpenConn(Rc<Cell<u64>>);

impl Drop for OpenConn {
    fn drop(&mut self) {
        self.0.set(self.0.get().saturating_sub(1));
    }
}

impl CoreStats {
    /// Counters for a target with `tracked_headers` tracked names; `open` for
    /// the open model (a rate), where corrected and uncorrected latency differ.
    pub(crate) fn new(tracked_headers: usize, open: bool) -> CoreStats {
        CoreStats {
            requests: 0,
            status: Box::new([0; STATUS_SLOTS]),
            errors: Vec::new(),
            tracked: vec![TrackedCounts::default(); tracked_headers],
            bytes_read: 0,
            bytes_written: 0,
            latency: latency_histogram(),
            uncorrected: if open {
                Uncorrected::Own(latency_histogram())
            } else {
                Uncorrected::Differences(None)
            },
            lag: latency_histogram(),
            lag_zeros: 0,
            first_response: None,
            last_response: None,
            reconnects: 0,
            in_flight: 0,
            open_conns: Rc::new(Cell::new(0)),
            attempts: Rc::new(Cell::new(0)),
            retried: 0,
            grpc_status: [0; 17],
            messages_sent: 0,
            messages_received: 0,
            grpc_messages: Default::default(),
            first_message: None,
        }
    }

    /// Counts an answered gRPC call's status (codes past 16 as UNKNOWN).
    #[inline]
    pub(crate) fn grpc_call(&mut self, status: u8, received: u32, message: &[u8]) {
        let i = if status > 16 { 2 } else { usize::from(status) };
        self.grpc_status[i] += 1;
        self.messages_received += u64::from(received);
        let last = &mut self.grpc_messages[i];
        if !message.is_empty() && last.as_slice() != message {
            last.clear();
            last.extend_from_slice(message);
        }
    }

    /// Records a call's time to its first response message.
    #[inline]
    pub(crate) fn first_message(&mut self, d: Duration) {
        self.first_message
            .get_or_insert_with(|| Box::new(latency_histogram()))
            .saturating_record(micros(d));
    }

    /// Counts request messages sent (every attempt's).
    #[inline]
    pub(crate) fn grpc_sent(&mut self, n: u64) {
        self.messages_sent += n;
    }

    /// Counts a final outcome: a status (`Ok`) or a transport error, with
    /// its latencies and how late its first attempt left (`lag`).
    #[inline]
    pub(crate) fn record(
        &mut self,
        outcome: Result<u16, ErrorKind>,
        corrected: Duration,
        uncorrected: Duration,
        lag: Duration,
        now: Instant,
    ) {
        self.requests += 1;
        // Whole microseconds, 0 included: a request sent on time lags 0.
        // The closed model without a delay always sends on time, so zeros
        // are only counted here and added to the histogram when read.
        match lag.as_micros() {
            0 => self.lag_zeros += 1,
            us => self
                .lag
                .saturating_record(u64::try_from(us).unwrap_or(u64::MAX)),
        }
        match outcome {
            Ok(code) => {
                self.status[usize::from(code) % STATUS_SLOTS] += 1;
                let c = micros(corrected);
                self.latency.saturating_record(c);
                match &mut self.uncorrected {
                    Uncorrected::Own(h) => h.saturating_record(micros(uncorrected)),
                    Uncorrected::Differences(d) => {
                        let u = micros(uncorrected);
                        if u != c {
                            let d = d.get_or_insert_with(|| {
                                Box::new([latency_histogram(), latency_histogram()])
                            });
                            d[0].saturating_record(c);
                            d[1].saturating_record(u);
                        }
                    }
                }
                if self.first_response.is_none() {
                    self.first_response = Some(now);
                }
                self.last_response = Some(now);
            }
            Err(kind) => {
                self.status[0] += 1;
                match self.errors.iter_mut().find(|(k, _)| *k == kind) {
                    Some((_, n)) => *n += 1,
                    None => self.errors.push((kind, 1)),
                }
            }
        }
    }

    /// Counts one tracked header occurrence (`index` into the target's list).
    #[inline]
    pub(crate) fn track(&mut self, index: usize, value: &[u8]) {
        let Some(t) = self.tracked.get_mut(index) else {
            return;
        };
        t.count += 1;
        // Look up by &[u8] first; allocate only for a value not seen before.
        if let Some(n) = t.values.get_mut(value) {
            *n += 1;
        } else if t.values.len() < MAX_TRACKED_VALUES {
            t.values.insert(value.into(), 1);
        } else {
            t.other += 1;
        }
    }

    /// Settles one attempt of a replica's request against its schedule,
    /// the same way for HTTP/1.1 and HTTP/2: a request cut off by a stop or
    /// the run's end is noted as in flight (returns false: the loop ends);
    /// otherwise the schedule decides between a retry and the final
    /// outcome, which is recorded, and `on_count(self, status)` then counts
    /// what else the response carried (tracked headers) when it answered.
    pub(crate) fn settle(
        &mut self,
        schedule: &mut Schedule,
        attempt: Attempted,
        now: Instant,
        on_count: impl FnOnce(&mut CoreStats, u16),
    ) -> bool {
        let result = match attempt {
            Attempted::Status(code) => Ok(code),
            Attempted::Error(kind) => Err(kind),
            Attempted::Aborted => {
                self.in_flight_at_end();
                return false;
            }
        };
        match schedule.complete(result, now) {
            Verdict::Count(c) => {
                self.record(c.result, c.latency, c.uncorrected, c.lag, now);
                if let Ok(code) = c.result {
                    on_count(self, code);
                }
            }
            Verdict::Retry => self.retried += 1,
        }
        true
    }

    /// Counts a connection opened after the replica's first.
    pub(crate) fn reconnected(&mut self) {
        self.reconnects += 1;
    }

    /// Counts a connection just established; it stays counted until the
    /// returned guard is dropped.
    pub(crate) fn conn_opened(&self) -> OpenConn {
        self.open_conns.set(self.open_conns.get() + 1);
        OpenConn(self.open_conns.clone())
    }

    /// The handle a replica counts its attempts with (see `settle`).
    pub(crate) fn attempts(&self) -> Attempts {
        Attempts(self.attempts.clone())
    }

    /// Counts a request abandoned under way by a stop or the run's end.
    pub(crate) fn in_flight_at_end(&mut self) {
        self.in_flight += 1;
    }

    #[inline]
    pub(crate) fn add_bytes(&mut self, read: u64, written: u64) {
        self.bytes_read += read;
        self.bytes_written += written;
    }

    /// The public view; `names` are the tracked header names (lower-case) and
    /// `anchor` maps monotonic instants to wall-clock time.
    pub(crate) fn to_target_stats(
        &self,
        names: &[String],
        anchor: (Instant, SystemTime),
    ) -> TargetStats {
        let mut out = TargetStats {
            requests: self.requests,
            bytes_read: self.bytes_read,
            bytes_written: self.bytes_written,
            latency: self.latency.clone(),
            latency_uncorrected: self.uncorrected_view(),
            schedule_lag: {
                let mut h = self.lag.clone();
                h.saturating_record_n(0, self.lag_zeros);
                h
            },
            first_response: self.first_response.map(|i| wall(anchor, i)),
            last_response: self.last_response.map(|i| wall(anchor, i)),
            reconnects: self.reconnects,
            in_flight: self.in_flight,
            open_connections: self.open_conns.get(),
            requests_in_flight: self
                .attempts
                .get()
                .saturating_sub(self.requests + self.retried + self.in_flight),
            ..TargetStats::default()
        };
        for (code, n) in self.status.iter().enumerate() {
            if *n > 0 {
                out.status_counts.insert(code as u16, *n);
            }
        }
        out.errors.extend(self.errors.iter().copied());
        for (code, n) in self.grpc_status.iter().enumerate() {
            if *n > 0 {
                out.grpc_status_counts.insert(code as u8, *n);
            }
        }
        for (code, m) in self.grpc_messages.iter().enumerate() {
            if !m.is_empty() {
                out.grpc_messages
                    .insert(code as u8, crate::grpc::decode_message(m));
            }
        }
        out.time_to_first_message = self.first_message.as_deref().cloned();
        out.messages_sent = self.messages_sent;
        out.messages_received = self.messages_received;
        for (t, name) in self.tracked.iter().zip(names) {
            if t.count == 0 {
                continue;
            }
            out.header_counts.insert(name.clone(), t.count);
            let values = out.header_value_counts.entry(name.clone()).or_default();
            for (v, n) in &t.values {
                *values
                    .entry(String::from_utf8_lossy(v).into_owned())
                    .or_insert(0) += n;
            }
            if t.other > 0 {
                *values.entry(OTHER_VALUES.to_string()).or_insert(0) += t.other;
            }
        }
        out
    }
}

impl CoreStats {
    fn uncorrected_view(&self) -> Histogram<u64> {
        match &self.uncorrected {
            Uncorrected::Own(h) => h.clone(),
            Uncorrected::Differences(None) => self.latency.clone(),
            Uncorrected::Differences(Some(d)) => {
                let mut h = self.latency.clone();
                // Every value in d[0] was recorded in `latency` too, so the
                // subtraction cannot go below zero; if it ever failed, the
                // corrected figures are the closest answer.
                if h.subtract(&d[0]).is_ok() {
                    add_histogram(&mut h, &d[1]);
                    h
                } else {
                    self.latency.clone()
                }
            }
        }
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1)
}

fn wall(anchor: (Instant, SystemTime), at: Instant) -> SystemTime {
    let (i0, s0) = anchor;
    match at.checked_duration_since(i0) {
        Some(d) => s0 + d,
        None => s0 - i0.duration_since(at),
    }
}
