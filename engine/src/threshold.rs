//! Pass/fail thresholds on a target's results: parsed once from text such
//! as `p99 < 50ms`, `errors <= 1%`, `rps >= 900` or `status5xx < 0.5%` into
//! a typed [`Threshold`], then evaluated against merged results into a
//! [`ThresholdVerdict`] that carries the actual value.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::stats::TargetStats;

/// What a threshold measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// A latency statistic (corrected latency), compared with a duration.
    Latency(LatencyStat),
    /// Transport errors as a percentage of requests.
    ErrorsPercent,
    /// Answered requests per second over the run (transport errors excluded).
    Rps,
    /// 5xx responses as a percentage of requests.
    Status5xxPercent,
    /// gRPC calls answered OK as a percentage of requests (calls).
    GrpcSuccessPercent,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LatencyStat {
    P50,
    P90,
    P99,
    P999,
    Max,
    Mean,
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    Lt,
    Le,
    Gt,
    Ge,
}

impl Cmp {
    fn holds(self, actual: f64, limit: f64) -> bool {
        match self {
            Cmp::Lt => actual < limit,
            Cmp::Le => actual <= limit,
            Cmp::Gt => actual > limit,
            Cmp::Ge => actual >= limit,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Cmp::Lt => "<",
            Cmp::Le => "<=",
            Cmp::Gt => ">",
            Cmp::Ge => ">=",
        }
    }
}

/// A parsed threshold. `limit` is in the metric's unit: milliseconds for
/// latency, percent for errors and 5xx, requests per second for rps.
#[derive(Debug, Clone, PartialEq)]
pub struct Threshold {
    pub metric: Metric,
    pub cmp: Cmp,
    pub limit: f64,
    /// The expression as given (trimmed), for reports.
    pub text: String,
}

/// Why a threshold expression was refused; one line, fit for a 4xx or stderr.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid threshold {text:?}: {reason} (examples: \"p99 < 50ms\", \"errors <= 1%\", \"rps >= 1000\", \"status5xx < 0.5%\")")]
pub struct ThresholdError {
    pub text: String,
    pub reason: String,
}

/// A threshold evaluated on results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThresholdVerdict {
    pub threshold: String,
    /// The measured value, in the threshold's unit.
    pub actual: f64,
    /// `ms`, `%` or `req/s`.
    pub unit: String,
    pub ok: bool,
}

impl FromStr for Threshold {
    type Err = ThresholdError;

    fn from_str(s: &str) -> Result<Threshold, ThresholdError> {
        Threshold::parse(s)
    }
}

impl fmt::Display for Threshold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Threshold {
    /// Parses `METRIC OP VALUE` (spaces optional).
    pub fn parse(s: &str) -> Result<Threshold, ThresholdError> {
        let text = s.trim().to_string();
        let err = |reason: &str| ThresholdError {
            text: text.clone(),
            reason: reason.to_string(),
        };
        let op_at = text
            .find(['<', '>'])
            .ok_or_else(|| err("no comparison (<, <=, > or >=)"))?;
        let name = text[..op_at].trim().to_ascii_lowercase();
        let rest = &text[op_at..];
        let (cmp, value) = if let Some(v) = rest.strip_prefix("<=") {
            (Cmp::Le, v)
        } else if let Some(v) = rest.strip_prefix(">=") {
            (Cmp::Ge, v)
        } else if let Some(v) = rest.strip_prefix('<') {
            (Cmp::Lt, v)
        } else if let Some(v) = rest.strip_prefix('>') {
            (Cmp::Gt, v)
        } else {
            return Err(err("no comparison (<, <=, > or >=)"));
        };
        let value = value.trim();
        if value.is_empty() {
            return Err(err("no value after the comparison"));
        }
        let latency = |stat| Metric::Latency(stat);
        let metric = match name.as_str() {
            "p50" => latency(LatencyStat::P50),
            "p90" => latency(LatencyStat::P90),
            "p99" => latency(LatencyStat::P99),
            "p999" | "p99.9" => latency(LatencyStat::P999),
            "max" => latency(LatencyStat::Max),
            "mean" | "avg" => latency(LatencyStat::Mean),
            "errors" => Metric::ErrorsPercent,
            "rps" => Metric::Rps,
            "status5xx" => Metric::Status5xxPercent,
            "grpc_success" | "grpcsuccess" | "grpc_ok" => Metric::GrpcSuccessPercent,
            "" => return Err(err("no metric before the comparison")),
            _ => {
                return Err(err(
                    "unknown metric (p50, p90, p99, p999, max, mean, errors, rps, status5xx, grpc_success)",
                ))
            }
        };
        let limit = match metric {
            Metric::Latency(_) => parse_millis(value)
                .ok_or_else(|| err("the value must be a duration such as 50ms, 1.5s or 800us"))?,
            Metric::ErrorsPercent | Metric::Status5xxPercent | Metric::GrpcSuccessPercent => {
                let n = value
                    .strip_suffix('%')
                    .ok_or_else(|| err("the value must be a percentage such as 1%"))?;
                let p = parse_number(n).ok_or_else(|| err("the percentage is not a number"))?;
                if p > 100.0 {
                    return Err(err("the percentage is above 100%"));
                }
                p
            }
            Metric::Rps => parse_number(value.strip_suffix("/s").unwrap_or(value))
                .ok_or_else(|| err("the value must be a number of requests per second"))?,
        };
        Ok(Threshold {
            metric,
            cmp,
            limit,
            text: format!("{name} {} {value}", cmp.as_str()),
        })
    }

    /// Evaluates on a target's merged results over `elapsed`.
    pub fn evaluate(&self, stats: &TargetStats, elapsed: Duration) -> ThresholdVerdict {
        self.evaluate_on(&Figures {
            requests: stats.requests,
            answered: stats
                .status_counts
                .iter()
                .filter(|(code, _)| **code != 0)
                .map(|(_, n)| n)
                .sum(),
            errors: stats.error_count(),
            status5xx: stats.status_counts.range(500..600).map(|(_, n)| n).sum(),
            grpc_ok: stats.grpc_ok(),
            latency: &stats.latency,
            elapsed,
        })
    }

    /// Evaluates on figures gathered elsewhere (a registry's sum of peers).
    pub fn evaluate_on(&self, f: &Figures<'_>) -> ThresholdVerdict {
        let pct = |n: u64| {
            if f.requests == 0 {
                0.0
            } else {
                n as f64 * 100.0 / f.requests as f64
            }
        };
        let (actual, unit) = match self.metric {
            Metric::Latency(stat) => {
                let h = f.latency;
                let us = if h.is_empty() {
                    0.0
                } else {
                    match stat {
                        LatencyStat::P50 => h.value_at_quantile(0.5) as f64,
                        LatencyStat::P90 => h.value_at_quantile(0.9) as f64,
                        LatencyStat::P99 => h.value_at_quantile(0.99) as f64,
                        LatencyStat::P999 => h.value_at_quantile(0.999) as f64,
                        LatencyStat::Max => h.max() as f64,
                        LatencyStat::Mean => h.mean(),
                    }
                };
                (us / 1000.0, "ms")
            }
            Metric::ErrorsPercent => (pct(f.errors), "%"),
            Metric::Status5xxPercent => (pct(f.status5xx), "%"),
            Metric::GrpcSuccessPercent => (pct(f.grpc_ok), "%"),
            Metric::Rps => {
                // Answered requests, as the report's Requests/sec: attempts
                // that ended in a transport error (status 0) are not served
                // throughput, and counting them let a failing server pass.
                let secs = f.elapsed.as_secs_f64();
                let rps = if secs > 0.0 {
                    f.answered as f64 / secs
                } else {
                    0.0
                };
                (rps, "req/s")
            }
        };
        ThresholdVerdict {
            threshold: self.text.clone(),
            actual: (actual * 1000.0).round() / 1000.0,
            unit: unit.to_string(),
            ok: self.cmp.holds(actual, self.limit),
        }
    }
}

/// What a threshold is evaluated on: requests, answered ones, transport
/// errors and 5xx responses counted, the latency histogram (microseconds),
/// and the span the rate is taken over.
#[derive(Debug, Clone, Copy)]
pub struct Figures<'a> {
    pub requests: u64,
    /// Requests that got a response (status other than 0).
    pub answered: u64,
    pub errors: u64,
    pub status5xx: u64,
    /// gRPC calls answered with status OK.
    pub grpc_ok: u64,
    pub latency: &'a hdrhistogram::Histogram<u64>,
    pub elapsed: Duration,
}

/// Parses and evaluates several thresholds; the first bad one is the error.
pub fn parse_all<S: AsRef<str>>(exprs: &[S]) -> Result<Vec<Threshold>, ThresholdError> {
    exprs.iter().map(|e| Threshold::parse(e.as_ref())).collect()
}

fn parse_number(s: &str) -> Option<f64> {
    let v: f64 = s.trim().parse().ok()?;
    (v.is_finite() && v >= 0.0).then_some(v)
}

/// `50ms`, `1.5s`, `800us`, `2m` to milliseconds; a bare number is milliseconds.
fn parse_millis(s: &str) -> Option<f64> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n = parse_number(num)?;
    let scale = match unit.trim() {
        "" | "ms" => 1.0,
        "us" | "µs" => 1e-3,
        "ns" => 1e-6,
        "s" => 1e3,
        "m" => 60e3,
        _ => return None,
    };
    Some(n * scale)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    fn results() -> TargetStats {
        let mut s = TargetStats::new();
        s.requests = 100;
        s.status_counts.insert(200, 97);
        s.status_counts.insert(503, 2);
        s.status_counts.insert(0, 1);
        s.errors.insert(ErrorKind::Timeout, 1);
        for i in 1..=100u64 {
            s.latency.record(i * 1000).unwrap();
        }
        s
    }

    #[test]
    fn parses_every_form() {
        let t = Threshold::parse(" p99<50ms ").unwrap();
        assert_eq!(t.metric, Metric::Latency(LatencyStat::P99));
        assert_eq!((t.cmp, t.limit), (Cmp::Lt, 50.0));
        assert_eq!(t.text, "p99 < 50ms");
        assert_eq!(Threshold::parse("max <= 1.5s").unwrap().limit, 1500.0);
        assert_eq!(Threshold::parse("p999 > 800us").unwrap().limit, 0.8);
        let e = Threshold::parse("errors <= 1%").unwrap();
        assert_eq!(
            (e.metric, e.cmp, e.limit),
            (Metric::ErrorsPercent, Cmp::Le, 1.0)
        );
        assert_eq!(Threshold::parse("rps >= 1000").unwrap().metric, Metric::Rps);
        assert_eq!(
            Threshold::parse("status5xx < 0.5%").unwrap().metric,
            Metric::Status5xxPercent
        );
    }

    #[test]
    fn parse_errors_are_clear() {
        for (bad, why) in [
            ("p99 50ms", "no comparison"),
            ("p98 < 5ms", "unknown metric"),
            ("p99 < fast", "duration"),
            ("errors < 1", "percentage"),
            ("errors < 120%", "above 100%"),
            ("rps >= ", "no value"),
            ("< 5ms", "no metric"),
            ("rps >= -3", "requests per second"),
        ] {
            let e = Threshold::parse(bad).unwrap_err().to_string();
            assert!(e.contains(why), "{bad:?}: {e}");
            assert!(!e.contains('\n'));
        }
    }

    #[test]
    fn evaluates_with_actual_values() {
        let s = results();
        let v = Threshold::parse("p50 < 60ms")
            .unwrap()
            .evaluate(&s, Duration::from_secs(1));
        assert!(v.ok, "{v:?}");
        assert!((v.actual - 50.0).abs() < 0.1);
        let v = Threshold::parse("p99 < 60ms")
            .unwrap()
            .evaluate(&s, Duration::from_secs(1));
        assert!(!v.ok);
        assert_eq!(v.unit, "ms");
        let v = Threshold::parse("errors <= 1%")
            .unwrap()
            .evaluate(&s, Duration::ZERO);
        assert_eq!((v.actual, v.ok), (1.0, true));
        let v = Threshold::parse("errors < 1%")
            .unwrap()
            .evaluate(&s, Duration::ZERO);
        assert!(!v.ok);
        let v = Threshold::parse("status5xx < 1%")
            .unwrap()
            .evaluate(&s, Duration::ZERO);
        assert_eq!((v.actual, v.ok), (2.0, false));
        // 99 of the 100 attempts were answered (one transport error).
        let v = Threshold::parse("rps >= 50")
            .unwrap()
            .evaluate(&s, Duration::from_secs(2));
        assert_eq!((v.actual, v.ok), (49.5, false));
        let v = Threshold::parse("rps >= 49.5")
            .unwrap()
            .evaluate(&s, Duration::from_secs(2));
        assert_eq!((v.actual, v.ok), (49.5, true));
    }
}
