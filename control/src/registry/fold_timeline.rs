//! Timelines folded on arrival: per label and target, one merged second per
//! wall-clock second (the second an interval ended in). Each stored
//! `client_timeline_<minute>` key is read once into its contribution (its
//! intervals grouped by second) and added; a replaced key's earlier text is
//! read again and its contribution taken out first, a removed key's taken
//! out, so the sums stay exactly those of the keys held. Reads cost the
//! seconds shown, not peers x seconds.

use std::collections::BTreeMap;

use goto_engine::Interval;

use super::sparse::Sparse;
use super::timeline::MergedInterval;
use crate::client::timeline::ReportedTimeline;
use crate::histcodec;

/// One key's intervals that ended in one second.
#[derive(Debug, Default, Clone)]
pub struct KeySecond {
    requests: u64,
    codes: BTreeMap<u16, u64>,
    errors: BTreeMap<String, u64>,
    bytes_read: u64,
    bytes_written: u64,
    seconds: f64,
    hist: Sparse,
    hists: u32,
    without_hist: u32,
    /// Read back from [`compact`] counts: its histograms were not kept.
    dropped: bool,
    /// With `dropped`: the rate [`rps_micro`] gave when it was compacted.
    kept_rps: u64,
}

impl KeySecond {
    pub fn requests(&self) -> u64 {
        self.requests
    }

    /// Transport errors (status 0) and 5xx responses.
    pub fn error_count(&self) -> u64 {
        self.codes
            .iter()
            .filter(|(c, _)| **c == 0 || **c >= 500)
            .map(|(_, n)| n)
            .sum()
    }

    /// Intervals that ended in this second.
    pub fn intervals(&self) -> u64 {
        u64::from(self.hists) + u64::from(self.without_hist)
    }
}

/// What one key adds: target -> second -> its part.
pub type Contribution = BTreeMap<String, BTreeMap<u64, KeySecond>>;

/// Reads a key's text into its contribution; what cannot be read is named
/// in `skipped` and left out (the same text always gives the same parts,
/// so taking it out later is exact).
pub fn contribution(text: &str, skipped: &mut Vec<String>) -> Contribution {
    let mut out = Contribution::new();
    let parsed = match serde_json::from_str::<BTreeMap<String, ReportedTimeline>>(text) {
        Ok(m) => m,
        Err(e) => {
            skipped.push(format!("not a timeline: {e}"));
            return out;
        }
    };
    for (target, r) in parsed {
        let by_sec = out.entry(target.clone()).or_default();
        for (k, i) in r.intervals.iter().enumerate() {
            let h = r.histograms.get(k).and_then(Option::as_deref);
            add_interval(by_sec, &target, i, h, skipped);
        }
        if by_sec.is_empty() {
            out.remove(&target);
        }
    }
    out
}

fn add_interval(
    by_sec: &mut BTreeMap<u64, KeySecond>,
    target: &str,
    i: &Interval,
    histogram: Option<&str>,
    skipped: &mut Vec<String>,
) {
    if !i.unix.is_finite() || i.unix < 0.0 {
        skipped.push(format!("{target}: interval without a time"));
        return;
    }
    let s = by_sec.entry(i.unix.floor() as u64).or_default();
    s.requests += i.requests;
    for (c, n) in &i.counts_by_status_codes {
        *s.codes.entry(*c).or_default() += n;
    }
    for (e, n) in &i.errors {
        *s.errors.entry(e.clone()).or_default() += n;
    }
    s.bytes_read += i.bytes_read;
    s.bytes_written += i.bytes_written;
    s.seconds += i.seconds;
    match histogram.map(histcodec::decode) {
        Some(Ok(h)) => {
            s.hist.apply(&Sparse::of(&h), true);
            s.hists += 1;
        }
        Some(Err(e)) => {
            skipped.push(format!("{target}: {e}"));
            s.without_hist += 1;
        }
        None => s.without_hist += 1,
    }
}

/// One merged second of a target.
#[derive(Debug, Default, Clone)]
struct Second {
    requests: u64,
    codes: BTreeMap<u16, u64>,
    errors: BTreeMap<String, u64>,
    bytes_read: u64,
    bytes_written: u64,
    /// Sum of each key's achieved rate in this second, in millionths (an
    /// integer, so adding and taking out leave no rounding behind).
    rps_micro: u64,
    /// Keys with intervals in this second (one per instance: a key holds
    /// one minute of one instance).
    peers: u32,
    hist: Sparse,
    hists: u32,
    without_hist: u32,
    /// Keys taken out whose histograms were not kept (sealed keys, see
    /// [`compact`]): this second's histogram is no longer exact.
    lost: u32,
}

fn apply_map<K: Ord + Clone>(into: &mut BTreeMap<K, u64>, from: &BTreeMap<K, u64>, add: bool) {
    for (k, n) in from {
        let v = into.entry(k.clone()).or_default();
        *v = if add {
            v.saturating_add(*n)
        } else {
            v.saturating_sub(*n)
        };
        if *v == 0 {
            into.remove(k);
        }
    }
}

fn rps_micro(k: &KeySecond) -> u64 {
    if k.dropped {
        k.kept_rps
    } else if k.seconds > 0.0 {
        (k.requests as f64 / k.seconds * 1e6).round() as u64
    } else {
        0
    }
}

/// A label's merged timelines: target -> second -> sum.
#[derive(Debug, Default)]
pub struct TimelineFold {
    targets: BTreeMap<String, BTreeMap<u64, Second>>,
}

impl TimelineFold {
    pub fn is_empty(&self) -> bool {
        self.targets.is_empty()
    }

    /// Adds (`add`) or takes out one key's contribution.
    pub fn apply(&mut self, c: &Contribution, add: bool) {
        for (target, secs) in c {
            let by_sec = self.targets.entry(target.clone()).or_default();
            for (unix, k) in secs {
                let s = by_sec.entry(*unix).or_default();
                let f = |a: u64, b: u64| {
                    if add {
                        a.saturating_add(b)
                    } else {
                        a.saturating_sub(b)
                    }
                };
                s.requests = f(s.requests, k.requests);
                apply_map(&mut s.codes, &k.codes, add);
                apply_map(&mut s.errors, &k.errors, add);
                s.bytes_read = f(s.bytes_read, k.bytes_read);
                s.bytes_written = f(s.bytes_written, k.bytes_written);
                s.rps_micro = f(s.rps_micro, rps_micro(k));
                s.peers = if add {
                    s.peers.saturating_add(1)
                } else {
                    s.peers.saturating_sub(1)
                };
                s.hist.apply(&k.hist, add);
                s.hists = if add {
                    s.hists.saturating_add(k.hists)
                } else {
                    s.hists.saturating_sub(k.hists)
                };
                s.without_hist = if add {
                    s.without_hist.saturating_add(k.without_hist)
                } else {
                    s.without_hist.saturating_sub(k.without_hist)
                };
                if !add && k.dropped && k.hists > 0 && k.requests > 0 {
                    s.lost = s.lost.saturating_add(1);
                }
                if s.peers == 0 {
                    by_sec.remove(unix);
                }
            }
            if by_sec.is_empty() {
                self.targets.remove(target);
            }
        }
    }

    /// `{target: [seconds, oldest first]}`, in the shape reads always had.
    pub fn timelines(&self) -> BTreeMap<String, Vec<MergedInterval>> {
        let geometry = goto_engine::stats::latency_histogram();
        self.targets
            .iter()
            .map(|(target, seconds)| {
                let first = seconds.keys().next().copied().unwrap_or(0);
                let list = seconds
                    .iter()
                    .map(|(unix, s)| MergedInterval {
                        t: unix - first,
                        unix: *unix,
                        requests: s.requests,
                        counts_by_status_codes: s.codes.clone(),
                        errors: s.errors.clone(),
                        bytes_read: s.bytes_read,
                        bytes_written: s.bytes_written,
                        rps: (s.rps_micro as f64 / 1000.0).round() / 1000.0,
                        peers: s.peers as usize,
                        latency_ms: (s.without_hist == 0 && s.hists > 0 && s.lost == 0)
                            .then(|| s.hist.summary(&geometry)),
                    })
                    .collect();
                (target.clone(), list)
            })
            .collect()
    }

    /// Seconds held and bytes their histograms hold (for the simulator).
    pub fn footprint(&self) -> (usize, usize) {
        let secs = self.targets.values().map(BTreeMap::len).sum();
        let bytes = self
            .targets
            .values()
            .flat_map(|s| s.values())
            .map(|s| s.hist.heap_bytes())
            .sum();
        (secs, bytes)
    }
}

fn put(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Reads a varint written by [`put`]; `None` past the end.
fn get(b: &mut &[u8]) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let (&x, rest) = b.split_first()?;
        *b = rest;
        v |= u64::from(x & 0x7f) << shift;
        if x < 0x80 {
            return Some(v);
        }
    }
    None
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    put(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

fn get_str(b: &mut &[u8]) -> Option<String> {
    let n = usize::try_from(get(b)?).ok()?;
    if b.len() < n {
        return None;
    }
    let (s, rest) = b.split_at(n);
    *b = rest;
    String::from_utf8(s.to_vec()).ok()
}

/// A key's contribution without its histograms, varint-coded: what a
/// sealed key keeps (tens of bytes a second rather than its text's
/// hundreds), enough to take its counts out exactly.
pub fn compact(c: &Contribution) -> Box<[u8]> {
    let mut out = Vec::new();
    put(&mut out, c.len() as u64);
    for (target, secs) in c {
        put_str(&mut out, target);
        put(&mut out, secs.len() as u64);
        let mut prev = 0;
        for (unix, k) in secs {
            put(&mut out, unix - prev);
            prev = *unix;
            for v in [k.requests, k.bytes_read, k.bytes_written, rps_micro(k)] {
                put(&mut out, v);
            }
            put(&mut out, u64::from(k.hists));
            put(&mut out, u64::from(k.without_hist));
            put(&mut out, k.codes.len() as u64);
            for (code, n) in &k.codes {
                put(&mut out, u64::from(*code));
                put(&mut out, *n);
            }
            put(&mut out, k.errors.len() as u64);
            for (e, n) in &k.errors {
                put_str(&mut out, e);
                put(&mut out, *n);
            }
        }
    }
    out.into_boxed_slice()
}

/// The contribution [`compact`] kept (no histograms: marked dropped).
pub fn expand(b: &[u8]) -> Contribution {
    let mut b = b;
    expand_in(&mut b).unwrap_or_default()
}

fn expand_in(b: &mut &[u8]) -> Option<Contribution> {
    let mut out = Contribution::new();
    for _ in 0..get(b)? {
        let target = get_str(b)?;
        let secs = out.entry(target).or_default();
        let mut unix = 0;
        for _ in 0..get(b)? {
            unix += get(b)?;
            let mut k = KeySecond {
                requests: get(b)?,
                bytes_read: get(b)?,
                bytes_written: get(b)?,
                kept_rps: get(b)?,
                hists: u32::try_from(get(b)?).ok()?,
                without_hist: u32::try_from(get(b)?).ok()?,
                dropped: true,
                ..KeySecond::default()
            };
            for _ in 0..get(b)? {
                let code = u16::try_from(get(b)?).ok()?;
                k.codes.insert(code, get(b)?);
            }
            for _ in 0..get(b)? {
                let e = get_str(b)?;
                k.errors.insert(e, get(b)?);
            }
            secs.insert(unix, k);
        }
    }
    Some(out)
}

#[cfg(test)]
mod compact_tests {
    use super::*;

    #[test]
    fn compact_counts_round_trip_without_histograms() {
        let mut c = Contribution::new();
        let mut k = KeySecond {
            requests: 300,
            bytes_read: 1 << 40,
            bytes_written: 7,
            seconds: 0.999_731,
            hists: 2,
            without_hist: 1,
            ..KeySecond::default()
        };
        k.codes.insert(200, 290);
        k.codes.insert(0, 10);
        k.errors.insert("connection refused".into(), 10);
        c.entry("t".into())
            .or_default()
            .insert(1_700_000_000, k.clone());
        c.entry("t".into()).or_default().insert(1_700_000_001, k);
        let b = compact(&c);
        assert!(b.len() < 120, "{}", b.len());
        let back = expand(&b);
        let s = &back["t"][&1_700_000_001];
        assert_eq!((s.requests, s.bytes_read), (300, 1 << 40));
        assert_eq!(rps_micro(s), (300.0 / 0.999_731 * 1e6_f64).round() as u64);
        assert_eq!((s.hists, s.without_hist, s.dropped), (2, 1, true));
        assert_eq!(s.codes[&0], 10);
        assert_eq!(s.errors["connection refused"], 10);
        assert_eq!(s.error_count(), 10);
        assert!(expand(&b[..b.len() - 3]).is_empty(), "truncated: nothing");
    }
}
