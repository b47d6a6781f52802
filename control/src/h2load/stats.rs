//! One HTTP/2 run's counters, kept in the engine's [`TargetStats`] shape so
//! snapshots merge with HTTP/1.1 targets. Replicas record into a few
//! mutex-guarded shards (replica `i` into shard `i % n`) so the two runtime
//! workers rarely contend; a snapshot merges the shards.

use std::time::{Duration, SystemTime};

use goto_engine::stats::{MAX_TRACKED_VALUES, OTHER_VALUES};
use goto_engine::{ErrorKind, TargetStats};
use http::{HeaderMap, HeaderName};
use parking_lot::Mutex;

/// Most shards per run; more would only cost snapshot time.
const MAX_SHARDS: u32 = 16;

pub(crate) struct RunStats {
    shards: Vec<Mutex<TargetStats>>,
}

/// What one finished request contributes.
pub(crate) struct Record<'a> {
    pub outcome: Result<u16, ErrorKind>,
    pub corrected: Duration,
    pub uncorrected: Duration,
    /// The final response's headers, if one arrived.
    pub headers: Option<&'a HeaderMap>,
    /// Which of them to count (lower-case names).
    pub tracked: &'a [HeaderName],
}

impl RunStats {
    pub(crate) fn new(replicas: u32) -> RunStats {
        let n = replicas.clamp(1, MAX_SHARDS);
        RunStats {
            shards: (0..n).map(|_| Mutex::new(TargetStats::new())).collect(),
        }
    }

    fn shard(&self, replica: u32) -> &Mutex<TargetStats> {
        &self.shards[replica as usize % self.shards.len()]
    }

    /// Counts a final outcome for `replica`.
    pub(crate) fn record(&self, replica: u32, r: Record<'_>) {
        let now = SystemTime::now();
        let mut s = self.shard(replica).lock();
        s.requests += 1;
        match r.outcome {
            Ok(code) => {
                *s.status_counts.entry(code).or_insert(0) += 1;
                s.latency.saturating_record(micros(r.corrected));
                s.latency_uncorrected
                    .saturating_record(micros(r.uncorrected));
                if s.first_response.is_none() {
                    s.first_response = Some(now);
                }
                s.last_response = Some(now);
            }
            Err(kind) => {
                *s.status_counts.entry(0).or_insert(0) += 1;
                *s.errors.entry(kind).or_insert(0) += 1;
            }
        }
        // Only responses count headers: a body that failed is an error.
        if let (Ok(_), Some(headers)) = (r.outcome, r.headers) {
            for name in r.tracked {
                for value in headers.get_all(name) {
                    track(&mut s, name.as_str(), value.as_bytes());
                }
            }
        }
    }

    pub(crate) fn add_bytes(&self, replica: u32, read: u64, written: u64) {
        let mut s = self.shard(replica).lock();
        s.bytes_read += read;
        s.bytes_written += written;
    }

    /// The merged view (flags left false; the run sets them).
    pub(crate) fn snapshot(&self) -> TargetStats {
        let mut out = TargetStats::new();
        out.finished = true;
        for shard in &self.shards {
            let mut s = shard.lock().clone();
            s.finished = true;
            out.merge(&s);
        }
        out.finished = false;
        out
    }
}

/// Counts one tracked header occurrence; values beyond
/// [`MAX_TRACKED_VALUES`] per shard go under [`OTHER_VALUES`], as the engine
/// bounds them.
fn track(s: &mut TargetStats, name: &str, value: &[u8]) {
    match s.header_counts.get_mut(name) {
        Some(n) => *n += 1,
        None => {
            s.header_counts.insert(name.to_string(), 1);
        }
    }
    let values = match s.header_value_counts.get_mut(name) {
        Some(v) => v,
        None => s.header_value_counts.entry(name.to_string()).or_default(),
    };
    let value = String::from_utf8_lossy(value);
    if let Some(n) = values.get_mut(value.as_ref()) {
        *n += 1;
    } else if values.len() < MAX_TRACKED_VALUES {
        values.insert(value.into_owned(), 1);
    } else {
        *values.entry(OTHER_VALUES.to_string()).or_insert(0) += 1;
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn records_merge_across_shards() {
        let s = RunStats::new(4);
        let mut headers = HeaderMap::new();
        headers.insert("x", http::HeaderValue::from_static("a"));
        headers.insert("y", http::HeaderValue::from_static("b"));
        let tracked = [HeaderName::from_static("x")];
        for i in 0..4 {
            s.record(
                i,
                Record {
                    outcome: Ok(200),
                    corrected: Duration::from_millis(2),
                    uncorrected: Duration::from_millis(1),
                    headers: Some(&headers),
                    tracked: &tracked,
                },
            );
        }
        s.record(
            1,
            Record {
                outcome: Err(ErrorKind::ConnectRefused),
                corrected: Duration::ZERO,
                uncorrected: Duration::ZERO,
                headers: None,
                tracked: &tracked,
            },
        );
        s.add_bytes(2, 10, 5);
        let t = s.snapshot();
        assert_eq!(t.requests, 5);
        assert_eq!(t.status_counts, BTreeMap::from([(0, 1), (200, 4)]));
        assert_eq!(t.errors[&ErrorKind::ConnectRefused], 1);
        assert_eq!(t.header_counts["x"], 4);
        assert_eq!(t.header_value_counts["x"]["a"], 4);
        assert!(!t.header_counts.contains_key("y"));
        assert_eq!(t.latency.len(), 4);
        assert_eq!((t.bytes_read, t.bytes_written), (10, 5));
        assert!(t.first_response.is_some());
    }

    #[test]
    fn tracked_values_are_bounded() {
        let s = RunStats::new(1);
        let mut t = TargetStats::new();
        for i in 0..(MAX_TRACKED_VALUES + 3) {
            track(&mut t, "id", i.to_string().as_bytes());
        }
        assert_eq!(t.header_value_counts["id"][OTHER_VALUES], 3);
        assert_eq!(s.snapshot().requests, 0);
    }
}
