//! [`TargetStats`]: the public, merged results of one target, and how two
//! of them add up (over cores, or over runs).

use std::collections::BTreeMap;
use std::time::SystemTime;

use hdrhistogram::Histogram;

use super::{add_histogram, latency_histogram};
use crate::error::ErrorKind;

/// Merged results of one target (over cores, or over runs).
#[derive(Debug, Clone)]
pub struct TargetStats {
    /// Responses plus transport errors.
    pub requests: u64,
    /// By status code; 0 counts transport errors.
    pub status_counts: BTreeMap<u16, u64>,
    pub errors: BTreeMap<ErrorKind, u64>,
    /// Tracked header name (lower-case) -> responses carrying it.
    pub header_counts: BTreeMap<String, u64>,
    /// Tracked header name (lower-case) -> value -> responses.
    pub header_value_counts: BTreeMap<String, BTreeMap<String, u64>>,
    pub bytes_read: u64,
    pub bytes_written: u64,
    /// Microseconds; under a rate, from the intended send time.
    pub latency: Histogram<u64>,
    /// Microseconds from the actual send of the final attempt.
    pub latency_uncorrected: Histogram<u64>,
    /// Schedule lag, microseconds: how late each counted request's first
    /// attempt left against the instant it was due (the client's own
    /// lateness, which under a rate is part of `latency`).
    pub schedule_lag: Histogram<u64>,
    pub first_response: Option<SystemTime>,
    pub last_response: Option<SystemTime>,
    pub stopped: bool,
    pub finished: bool,
    /// Connections opened after a replica's first (keep-alive lost).
    pub reconnects: u64,
    /// Requests under way when the run was stopped or its duration ended;
    /// not in `requests`.
    pub in_flight: u64,
    /// Connections open at the snapshot (a live gauge, 0 once finished).
    pub open_connections: u64,
    /// Attempts under way at the snapshot (a live gauge, 0 once finished).
    pub requests_in_flight: u64,
    /// gRPC targets: answered calls by gRPC status code (0 to 16).
    pub grpc_status_counts: BTreeMap<u8, u64>,
    /// gRPC targets: request messages sent and response messages received.
    pub messages_sent: u64,
    pub messages_received: u64,
    /// gRPC targets: the last `grpc-message` seen per status code
    /// (percent-decoded), for the report.
    pub grpc_messages: BTreeMap<u8, String>,
    /// gRPC targets: from a call's send to its first response message,
    /// microseconds (calls that got one).
    pub time_to_first_message: Option<Histogram<u64>>,
}

impl Default for TargetStats {
    fn default() -> Self {
        TargetStats {
            requests: 0,
            status_counts: BTreeMap::new(),
            errors: BTreeMap::new(),
            header_counts: BTreeMap::new(),
            header_value_counts: BTreeMap::new(),
            bytes_read: 0,
            bytes_written: 0,
            latency: latency_histogram(),
            latency_uncorrected: latency_histogram(),
            schedule_lag: latency_histogram(),
            first_response: None,
            last_response: None,
            stopped: false,
            finished: false,
            reconnects: 0,
            in_flight: 0,
            open_connections: 0,
            requests_in_flight: 0,
            grpc_status_counts: BTreeMap::new(),
            messages_sent: 0,
            messages_received: 0,
            grpc_messages: BTreeMap::new(),
            time_to_first_message: None,
        }
    }
}

impl TargetStats {
    pub fn new() -> TargetStats {
        TargetStats::default()
    }

    /// Adds `other` into `self`. `finished` stays true only if both are;
    /// `stopped` is true if either is.
    pub fn merge(&mut self, other: &TargetStats) {
        self.requests += other.requests;
        add_counts(&mut self.status_counts, &other.status_counts);
        add_counts(&mut self.errors, &other.errors);
        add_counts(&mut self.header_counts, &other.header_counts);
        for (name, values) in &other.header_value_counts {
            add_counts(
                self.header_value_counts.entry(name.clone()).or_default(),
                values,
            );
        }
        self.bytes_read += other.bytes_read;
        self.bytes_written += other.bytes_written;
        add_histogram(&mut self.latency, &other.latency);
        add_histogram(&mut self.latency_uncorrected, &other.latency_uncorrected);
        add_histogram(&mut self.schedule_lag, &other.schedule_lag);
        self.first_response = min_opt(self.first_response, other.first_response);
        self.last_response = self.last_response.max(other.last_response);
        self.stopped |= other.stopped;
        self.finished &= other.finished;
        self.reconnects += other.reconnects;
        self.in_flight += other.in_flight;
        self.open_connections += other.open_connections;
        self.requests_in_flight += other.requests_in_flight;
        add_counts(&mut self.grpc_status_counts, &other.grpc_status_counts);
        self.messages_sent += other.messages_sent;
        self.messages_received += other.messages_received;
        for (code, m) in &other.grpc_messages {
            self.grpc_messages.entry(*code).or_insert_with(|| m.clone());
        }
        if let Some(h) = &other.time_to_first_message {
            add_histogram(
                self.time_to_first_message
                    .get_or_insert_with(latency_histogram),
                h,
            );
        }
    }

    /// gRPC calls answered (with any gRPC status).
    pub fn grpc_answered(&self) -> u64 {
        self.grpc_status_counts.values().sum()
    }

    /// gRPC calls answered OK.
    pub fn grpc_ok(&self) -> u64 {
        self.grpc_status_counts.get(&0).copied().unwrap_or(0)
    }

    /// Requests that ended in a transport error.
    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }
}

fn add_counts<K: Ord + Clone>(into: &mut BTreeMap<K, u64>, from: &BTreeMap<K, u64>) {
    for (k, v) in from {
        *into.entry(k.clone()).or_insert(0) += v;
    }
}

fn min_opt(a: Option<SystemTime>, b: Option<SystemTime>) -> Option<SystemTime> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, None) => a,
        (None, b) => b,
    }
}
