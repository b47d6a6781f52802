//! Parsing of fault settings as they appear in API paths and request headers:
//! percentages, delays and delay ranges (`100ms-300ms`), byte sizes, and the
//! per-request `Goto-Fault-*` headers.

use std::fmt;
use std::time::Duration;

use http::{HeaderMap, HeaderName};

use goto_engine::duration;

use super::FaultError;

/// Largest response body a size fault may ask for.
pub const MAX_SIZE: usize = 64 * 1024 * 1024;

/// Longest injected delay (responder, faults, header-driven, ranges' upper end).
pub const MAX_DELAY: std::time::Duration = std::time::Duration::from_secs(3600);

/// A fixed delay or a uniform range of delays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DelaySpec {
    pub min: Duration,
    pub max: Duration,
}

impl DelaySpec {
    /// `200ms` or `100ms-300ms` (Go durations; the range must not be reversed).
    pub fn parse(s: &str) -> Result<DelaySpec, FaultError> {
        let d = Self::parse_unbounded(s)?;
        if d.max > MAX_DELAY {
            return Err(FaultError::DelayTooLong(s.trim().to_string()));
        }
        Ok(d)
    }

    fn parse_unbounded(s: &str) -> Result<DelaySpec, FaultError> {
        let s = s.trim();
        // `-` cannot start a Go duration here (negatives are refused), so the
        // first one separates the two ends of a range.
        match s.split_once('-') {
            None => {
                let d = duration::parse(s).map_err(FaultError::Duration)?;
                Ok(DelaySpec { min: d, max: d })
            }
            Some((a, b)) => {
                let min = duration::parse(a).map_err(FaultError::Duration)?;
                let max = duration::parse(b).map_err(FaultError::Duration)?;
                if max < min {
                    return Err(FaultError::ReversedRange(s.to_string()));
                }
                Ok(DelaySpec { min, max })
            }
        }
    }

    pub fn is_zero(&self) -> bool {
        self.max.is_zero()
    }
}

impl fmt::Display for DelaySpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.min == self.max {
            f.write_str(&duration::format(self.min))
        } else {
            write!(
                f,
                "{}-{}",
                duration::format(self.min),
                duration::format(self.max)
            )
        }
    }
}

/// A share in percent, 0 to 100 (fractions allowed: `0.5`).
pub fn percent(s: &str) -> Result<f64, FaultError> {
    let p: f64 = s
        .trim()
        .trim_end_matches('%')
        .parse()
        .map_err(|_| FaultError::PercentNotNumber(s.to_string()))?;
    if !(0.0..=100.0).contains(&p) {
        return Err(FaultError::PercentRange(s.to_string()));
    }
    Ok(p)
}

/// A byte count: `1024`, `10k`/`10KB` (x1024) or `1m`/`1MB` (x1024^2).
pub fn size(s: &str) -> Result<usize, FaultError> {
    let t = s.trim().to_ascii_lowercase();
    let bad = || FaultError::Size(s.to_string());
    let (num, mult) = if let Some(n) = t.strip_suffix("kb").or_else(|| t.strip_suffix('k')) {
        (n, 1024)
    } else if let Some(n) = t.strip_suffix("mb").or_else(|| t.strip_suffix('m')) {
        (n, 1024 * 1024)
    } else {
        (t.strip_suffix('b').unwrap_or(&t), 1)
    };
    let n: usize = num.trim().parse().map_err(|_| bad())?;
    let n = n.checked_mul(mult).ok_or_else(bad)?;
    if n > MAX_SIZE {
        return Err(FaultError::SizeTooLarge(s.to_string()));
    }
    Ok(n)
}

pub static FAULT_STATUS: HeaderName = HeaderName::from_static("goto-fault-status");
pub static FAULT_DELAY: HeaderName = HeaderName::from_static("goto-fault-delay");
pub static FAULT_CLOSE: HeaderName = HeaderName::from_static("goto-fault-close");
pub static FAULT_PERCENT: HeaderName = HeaderName::from_static("goto-fault-percent");

/// Faults a request asks for with `Goto-Fault-*` headers.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct HeaderFaults {
    pub status: Option<u16>,
    pub delay: Option<DelaySpec>,
    pub close: bool,
    /// Share of such requests the faults apply to (100 when absent).
    pub percent: f64,
}

impl HeaderFaults {
    /// `Ok(None)` when the request carries no fault header; `Err` names the
    /// header whose value is not understood.
    pub fn from_headers(h: &HeaderMap) -> Result<Option<HeaderFaults>, FaultError> {
        let text = |n: &HeaderName| -> Result<Option<&str>, FaultError> {
            match h.get(n) {
                None => Ok(None),
                Some(v) => v
                    .to_str()
                    .map(|s| Some(s.trim()))
                    .map_err(|_| FaultError::HeaderNotText(n.clone())),
            }
        };
        let status = text(&FAULT_STATUS)?;
        let delay = text(&FAULT_DELAY)?;
        let close = text(&FAULT_CLOSE)?;
        let pct = text(&FAULT_PERCENT)?;
        if status.is_none() && delay.is_none() && close.is_none() {
            return Ok(None);
        }
        let status = match status {
            None => None,
            Some(s) => match s.parse::<u16>() {
                Ok(c) if (100..=599).contains(&c) => Some(c),
                _ => return Err(FaultError::HeaderStatus(s.to_string())),
            },
        };
        let delay = match delay {
            None => None,
            Some(d) => Some(DelaySpec::parse(d).map_err(|e| FaultError::HeaderDelay(Box::new(e)))?),
        };
        let close = match close.map(str::to_ascii_lowercase).as_deref() {
            None | Some("false" | "0" | "no" | "") => false,
            Some("true" | "1" | "yes") => true,
            Some(other) => return Err(FaultError::HeaderClose(other.to_string())),
        };
        let percent = match pct {
            None => 100.0,
            Some(p) => percent(p).map_err(|e| FaultError::HeaderPercent(Box::new(e)))?,
        };
        Ok(Some(HeaderFaults {
            status,
            delay,
            close,
            percent,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn delays_and_ranges() {
        let d = DelaySpec::parse("100ms-300ms").unwrap();
        assert_eq!(d.min, Duration::from_millis(100));
        assert_eq!(d.max, Duration::from_millis(300));
        assert_eq!(d.to_string(), "100ms-300ms");
        assert_eq!(DelaySpec::parse("2s").unwrap().to_string(), "2s");
        assert!(DelaySpec::parse("300ms-100ms").is_err());
        assert!(DelaySpec::parse("abc").is_err());
        assert!(DelaySpec::parse("-5ms").is_err());
    }

    #[test]
    fn percents_and_sizes() {
        assert_eq!(percent("10").unwrap(), 10.0);
        assert_eq!(percent("0.5").unwrap(), 0.5);
        assert!(percent("101").is_err());
        assert!(percent("-1").is_err());
        assert!(percent("x").is_err());
        assert_eq!(size("1024").unwrap(), 1024);
        assert_eq!(size("10KB").unwrap(), 10240);
        assert_eq!(size("1m").unwrap(), 1 << 20);
        assert!(size("1000MB").is_err());
        assert!(size("ten").is_err());
    }

    #[test]
    fn header_faults() {
        let mut h = HeaderMap::new();
        assert_eq!(HeaderFaults::from_headers(&h).unwrap(), None);
        h.insert(&FAULT_STATUS, HeaderValue::from_static("503"));
        h.insert(&FAULT_PERCENT, HeaderValue::from_static("10"));
        let f = HeaderFaults::from_headers(&h).unwrap().unwrap();
        assert_eq!(f.status, Some(503));
        assert_eq!(f.percent, 10.0);
        assert!(!f.close);
        h.insert(&FAULT_CLOSE, HeaderValue::from_static("TRUE"));
        h.insert(&FAULT_DELAY, HeaderValue::from_static("200ms"));
        let f = HeaderFaults::from_headers(&h).unwrap().unwrap();
        assert!(f.close);
        assert_eq!(f.delay.unwrap().max, Duration::from_millis(200));
        h.insert(&FAULT_STATUS, HeaderValue::from_static("99"));
        assert!(HeaderFaults::from_headers(&h).is_err());
    }
}
