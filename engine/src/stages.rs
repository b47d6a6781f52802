//! Load shapes: [`Stages`] ramp the request rate linearly from one stage's
//! end to the next stage's target over its duration (k6's
//! ramping-arrival-rate semantics). The schedule needs the inverse of the
//! cumulative request count: request `n` (0-based, over all replicas) is due
//! when the integral of the rate reaches `n`, which [`Stages::time_of`]
//! solves exactly per linear segment, so no error accumulates over a run.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Most stages one shape may have.
pub const MAX_STAGES: usize = 1000;

/// One stage: ramp to `rate` requests per second over `duration`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Stage {
    #[serde(with = "secs")]
    pub duration: Duration,
    pub rate: f64,
}

/// Why stages were refused (one line).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid stages: {0}")]
pub struct StagesError(pub String);

/// A validated load shape.
#[derive(Debug, Clone, PartialEq)]
pub struct Stages {
    /// The rate at t = 0 (0, or the base rate given beside the stages).
    start_rate: f64,
    stages: Vec<Stage>,
}

impl Stages {
    /// Validates stages; `start_rate` is where the first ramp begins.
    pub fn try_new(start_rate: f64, stages: Vec<Stage>) -> Result<Stages, StagesError> {
        if stages.is_empty() {
            return Err(StagesError("no stages".into()));
        }
        if stages.len() > MAX_STAGES {
            return Err(StagesError(format!("more than {MAX_STAGES} stages")));
        }
        let ok = |r: f64| r.is_finite() && r >= 0.0;
        if !ok(start_rate) {
            return Err(StagesError(
                "the start rate must be a finite number >= 0".into(),
            ));
        }
        for s in &stages {
            if !ok(s.rate) {
                return Err(StagesError(format!(
                    "stage rate {} must be a finite number >= 0",
                    s.rate
                )));
            }
        }
        if stages.iter().all(|s| s.duration.is_zero()) {
            return Err(StagesError("the stages last no time".into()));
        }
        Ok(Stages { start_rate, stages })
    }

    /// Parses `30s:1000,1m:5000,30s:0` with `parse_duration` for the durations.
    pub fn parse(
        text: &str,
        start_rate: f64,
        parse_duration: impl Fn(&str) -> Result<Duration, String>,
    ) -> Result<Stages, StagesError> {
        let mut stages = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (d, r) = part.split_once(':').ok_or_else(|| {
                StagesError(format!("{part:?} is not DURATION:RATE (e.g. 30s:1000)"))
            })?;
            let duration = parse_duration(d.trim()).map_err(StagesError)?;
            let rate: f64 = r
                .trim()
                .parse()
                .map_err(|_| StagesError(format!("rate {:?} is not a number", r.trim())))?;
            stages.push(Stage { duration, rate });
        }
        Stages::try_new(start_rate, stages)
    }

    pub fn stages(&self) -> &[Stage] {
        &self.stages
    }

    /// The length of the whole shape (the run's duration).
    pub fn total(&self) -> Duration {
        self.stages
            .iter()
            .fold(Duration::ZERO, |a, s| a.saturating_add(s.duration))
    }

    /// Segments as (start second, length seconds, rate at start, rate at end).
    fn segments(&self) -> impl Iterator<Item = (f64, f64, f64, f64)> + '_ {
        let mut t = 0.0;
        let mut from = self.start_rate;
        self.stages.iter().map(move |s| {
            let seg = (t, s.duration.as_secs_f64(), from, s.rate);
            t += seg.1;
            from = s.rate;
            seg
        })
    }

    /// The scheduled rate at `t` since the start (0 after the end).
    pub fn rate_at(&self, t: Duration) -> f64 {
        let t = t.as_secs_f64();
        for (t0, len, r0, r1) in self.segments() {
            if t < t0 + len {
                let f = if len > 0.0 { (t - t0) / len } else { 1.0 };
                return r0 + (r1 - r0) * f;
            }
        }
        0.0
    }

    /// Requests scheduled in `[0, t)`: the integral of the rate.
    pub fn count_at(&self, t: Duration) -> f64 {
        let t = t.as_secs_f64();
        let mut n = 0.0;
        for (t0, len, r0, r1) in self.segments() {
            let x = (t - t0).clamp(0.0, len);
            if len > 0.0 {
                n += r0 * x + (r1 - r0) * x * x / (2.0 * len);
            }
            if t <= t0 + len {
                break;
            }
        }
        n
    }

    /// When request `n` (0-based, over all replicas) is due: the first
    /// instant the scheduled count reaches `n`; `None` if it never does
    /// before the end.
    pub fn time_of(&self, n: f64) -> Option<Duration> {
        let mut left = n;
        for (t0, len, r0, r1) in self.segments() {
            if len <= 0.0 {
                continue;
            }
            let seg_count = (r0 + r1) * len / 2.0;
            if left <= seg_count {
                if left <= 0.0 {
                    return Duration::try_from_secs_f64(t0).ok();
                }
                // r0*x + k*x^2 = left with k = (r1 - r0) / (2 len); this form
                // of the root is stable when k is zero or negative.
                let k = (r1 - r0) / (2.0 * len);
                let disc = (r0 * r0 + 4.0 * k * left).max(0.0);
                let denom = r0 + disc.sqrt();
                if denom <= 0.0 {
                    return None;
                }
                let x = (2.0 * left / denom).min(len);
                return Duration::try_from_secs_f64(t0 + x).ok();
            }
            left -= seg_count;
        }
        None
    }
}

impl fmt::Display for Stages {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.stages.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{}s:{}", s.duration.as_secs_f64(), s.rate)?;
        }
        Ok(())
    }
}

/// A rate set while a target runs (`RunHandle::set_rate`), shared by the
/// control side (which writes it rarely) and the target's schedules (which
/// read it once per request: a relaxed load of a line nobody else writes).
#[derive(Debug, Clone, Default)]
pub struct LiveRate(Arc<AtomicU64>);

impl LiveRate {
    /// Sets the total requests per second; must be positive and finite.
    pub fn set(&self, rate: f64) -> bool {
        if !(rate.is_finite() && rate > 0.0) {
            return false;
        }
        self.0.store(rate.to_bits(), Ordering::Relaxed);
        true
    }

    /// The rate set, if any (0 when never set).
    pub fn get(&self) -> f64 {
        f64::from_bits(self.0.load(Ordering::Relaxed))
    }
}

/// Stage durations on the wire: "30s"-style strings or seconds.
mod secs {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{}s", d.as_secs_f64()))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Secs(f64),
            Text(String),
        }
        let bad = |s: &str| serde::de::Error::custom(format!("invalid duration {s:?}"));
        match Raw::deserialize(d)? {
            Raw::Secs(v) => Duration::try_from_secs_f64(v).map_err(|_| bad(&v.to_string())),
            Raw::Text(t) => crate::duration::parse_or_seconds(&t).map_err(|_| bad(&t)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<Duration, String> {
        crate::duration::parse_or_seconds(s)
    }

    #[test]
    fn parses_and_totals() {
        let s = Stages::parse("30s:1000, 1m:5000,30s:0", 0.0, p).unwrap();
        assert_eq!(s.total(), Duration::from_secs(120));
        assert_eq!(s.stages().len(), 3);
        assert!(Stages::parse("30s", 0.0, p)
            .unwrap_err()
            .0
            .contains("DURATION:RATE"));
        assert!(Stages::parse("30x:5", 0.0, p).is_err());
        assert!(Stages::parse("3s:-1", 0.0, p).is_err());
        assert!(Stages::parse("", 0.0, p).is_err());
        assert!(Stages::parse("0s:5", 0.0, p).is_err());
    }

    #[test]
    fn linear_ramps() {
        let s = Stages::parse("10s:100,10s:100,10s:0", 0.0, p).unwrap();
        assert_eq!(s.rate_at(Duration::from_secs(5)), 50.0);
        assert_eq!(s.rate_at(Duration::from_secs(15)), 100.0);
        assert_eq!(s.rate_at(Duration::from_secs(25)), 50.0);
        assert_eq!(s.rate_at(Duration::from_secs(31)), 0.0);
        // Ramp 0->100 over 10 s: 500 requests; flat: 1000; down: 500.
        assert!((s.count_at(Duration::from_secs(10)) - 500.0).abs() < 1e-9);
        assert!((s.count_at(Duration::from_secs(30)) - 2000.0).abs() < 1e-9);
    }

    #[test]
    fn time_of_inverts_count() {
        let s = Stages::parse("10s:100,10s:300,5s:300,10s:0", 20.0, p).unwrap();
        let total = s.count_at(s.total());
        let mut last = Duration::ZERO;
        for n in (0..total as u64).step_by(7) {
            let t = s.time_of(n as f64).unwrap();
            assert!(t >= last, "monotonic at {n}");
            assert!((s.count_at(t) - n as f64).abs() < 1e-6, "n={n} t={t:?}");
            last = t;
        }
        assert_eq!(s.time_of(total + 1.0), None);
        assert_eq!(s.time_of(0.0), Some(Duration::ZERO));
    }

    #[test]
    fn wire_shape() {
        let st: Vec<Stage> =
            serde_json::from_str(r#"[{"duration":"1m30s","rate":10},{"duration":2,"rate":0}]"#)
                .unwrap();
        assert_eq!(st[0].duration, Duration::from_secs(90));
        assert_eq!(st[1].duration, Duration::from_secs(2));
    }
}
