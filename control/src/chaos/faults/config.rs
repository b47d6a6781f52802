//! A port's (or a URI pattern's) fault configuration: the shares of each
//! fault, how they are changed (shares never pass 100%), and the draw that
//! turns them into the faults one request gets.

use std::time::Duration;

use bytes::Bytes;
use goto_engine::duration;
use serde_json::json;

use super::spec::DelaySpec;
use super::FaultError;
use crate::rng::Rng;

/// A slow body: `bytes` at a time, `every` apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Drip {
    pub bytes: usize,
    pub every: Duration,
}

/// What the faults configured on a port are.
#[derive(Debug, Clone, Default)]
pub struct FaultConfig {
    /// Status codes with their share in percent (sum at most 100).
    pub status: Vec<(u16, f64)>,
    /// Delays with their share in percent (sum at most 100).
    pub delay: Vec<(DelaySpec, f64)>,
    /// A range every response waits (`delay/set/100ms-300ms`); a share's
    /// delay, when drawn, comes on top of it, as on top of a fixed delay.
    pub range: Option<DelaySpec>,
    /// Share of requests whose connection is closed without an answer.
    pub close: f64,
    /// Response body size and its share; the body is sliced from `size_body`.
    pub size: Option<(usize, f64)>,
    size_body: Bytes,
    pub drip: Option<(Drip, f64)>,
}

impl FaultConfig {
    pub(super) fn any(&self) -> bool {
        !self.status.is_empty()
            || !self.delay.is_empty()
            || self.range.is_some()
            || self.close > 0.0
            || self.size.is_some()
            || self.drip.is_some()
    }

    /// Gives `code` a share (0 removes it); the shares may not pass 100.
    pub fn set_status(&mut self, code: u16, percent: f64) -> Result<(), FaultError> {
        set_share(&mut self.status, code, percent, "status")
    }

    pub fn set_delay(&mut self, d: DelaySpec, percent: f64) -> Result<(), FaultError> {
        if d.is_zero() {
            self.delay.retain(|(x, _)| *x != d);
            return Ok(());
        }
        set_share(&mut self.delay, d, percent, "delay")
    }

    pub fn clear_delays(&mut self) {
        self.delay.clear();
        self.range = None;
    }

    /// Sets (or with a zero range, clears) the range every response waits.
    pub fn set_range(&mut self, d: Option<DelaySpec>) {
        self.range = d.filter(|d| !d.is_zero());
    }

    pub fn set_close(&mut self, percent: f64) {
        self.close = percent;
    }

    pub fn set_size(&mut self, bytes: usize, percent: f64) {
        if percent <= 0.0 {
            self.size = None;
            self.size_body = Bytes::new();
            return;
        }
        self.size = Some((bytes, percent));
        // Made once here so each faulted response slices it instead of allocating.
        self.size_body = Bytes::from(vec![b'x'; bytes]);
    }

    pub fn set_drip(&mut self, drip: Drip, percent: f64) {
        self.drip = (percent > 0.0 && drip.bytes > 0).then_some((drip, percent));
    }

    pub(super) fn view(&self) -> serde_json::Value {
        json!({
            "status": self.status.iter().map(|(c, p)| json!({"code": c, "percent": p})).collect::<Vec<_>>(),
            "delay": self.delay.iter().map(|(d, p)| json!({"delay": d.to_string(), "percent": p})).collect::<Vec<_>>(),
            "range": self.range.map(|d| d.to_string()),
            "close": self.close,
            "size": self.size.map(|(b, p)| json!({"bytes": b, "percent": p})),
            "drip": self.drip.map(|(d, p)| json!({"bytes": d.bytes, "every": duration::format(d.every), "percent": p})),
        })
    }
}

fn set_share<K: PartialEq + Copy>(
    list: &mut Vec<(K, f64)>,
    key: K,
    percent: f64,
    what: &'static str,
) -> Result<(), FaultError> {
    let others: f64 = list.iter().filter(|(k, _)| *k != key).map(|(_, p)| p).sum();
    if others + percent > 100.0 + 1e-9 {
        return Err(FaultError::Shares {
            what,
            total: others + percent,
        });
    }
    match list.iter_mut().find(|(k, _)| *k == key) {
        Some(e) if percent > 0.0 => e.1 = percent,
        Some(_) => list.retain(|(k, _)| *k != key),
        None if percent > 0.0 => list.push((key, percent)),
        None => {}
    }
    Ok(())
}

/// Picks at most one entry: entry i with probability share_i / 100.
fn pick<K: Copy>(rng: &mut Rng, list: &[(K, f64)]) -> Option<K> {
    if list.is_empty() {
        return None;
    }
    let u = rng.unit() * 100.0;
    let mut acc = 0.0;
    for (k, p) in list {
        acc += p;
        if u < acc {
            return Some(*k);
        }
    }
    None
}

/// The faults one request gets.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct FaultDraw {
    pub status: Option<u16>,
    pub delay: Option<Duration>,
    pub close: bool,
    /// A body of this many bytes replaces the response body.
    pub size: Option<Bytes>,
    pub drip: Option<Drip>,
}

/// Draws the faults `cfg` gives one request.
pub(super) fn draw_cfg(cfg: &FaultConfig, rng: &mut Rng) -> FaultDraw {
    FaultDraw {
        status: pick(rng, &cfg.status),
        delay: {
            let share = pick(rng, &cfg.delay).map(|d| rng.duration(d.min, d.max));
            let range = cfg.range.map(|d| rng.duration(d.min, d.max));
            match (share, range) {
                (None, None) => None,
                (a, b) => Some(a.unwrap_or_default() + b.unwrap_or_default()),
            }
        },
        close: cfg.close > 0.0 && rng.percent(cfg.close),
        size: match cfg.size {
            Some((n, p)) if rng.percent(p) => Some(cfg.size_body.slice(..n)),
            _ => None,
        },
        drip: match cfg.drip {
            Some((d, p)) if rng.percent(p) => Some(d),
            _ => None,
        },
    }
}
