//! gRPC faults of one listener, in the HTTP faults' style: a forced status
//! for the next N calls or a share of calls, a delay (fixed or a range) for
//! a share, stream resets for a share, each optionally for one method
//! (`?method=/pkg.Svc/Method`); per-call `goto-fault-*` headers when the
//! port's fault headers are on; counts of what was injected. Delays and
//! percentages parse as the HTTP faults' do ([`crate::chaos::faults::spec`]).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use http::{HeaderMap, HeaderName};
use parking_lot::Mutex;
use serde::Serialize;

use super::status::{self, Status};
use crate::chaos::faults::spec::{percent, DelaySpec, FAULT_DELAY, FAULT_PERCENT};
use crate::rng::Rng;

pub static FAULT_GRPC_STATUS: HeaderName = HeaderName::from_static("goto-fault-grpc-status");

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusFault {
    #[serde(serialize_with = "code_name")]
    pub code: u8,
    pub message: String,
    /// Calls left for a `{code}:{times}` status; `None` for a share.
    pub times: Option<u32>,
    pub percent: f64,
    pub method: Option<String>,
}

fn code_name<S: serde::Serializer>(c: &u8, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(status::name(*c))
}

#[derive(Debug, Clone, Serialize)]
pub struct DelayFault {
    #[serde(serialize_with = "delay_text")]
    pub delay: DelaySpec,
    pub percent: f64,
    pub method: Option<String>,
}

fn delay_text<S: serde::Serializer>(d: &DelaySpec, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&d.to_string())
}

#[derive(Debug, Clone, Serialize)]
pub struct ShareFault {
    pub percent: f64,
    pub method: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ResetFault {
    pub percent: f64,
    pub method: Option<String>,
    /// The RST_STREAM's HTTP/2 error code.
    #[serde(serialize_with = "h2_name")]
    pub code: u32,
}

fn h2_name<S: serde::Serializer>(c: &u32, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(super::frame::h2_code_name(*c))
}

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FaultCounts {
    pub calls: u64,
    /// Forced statuses by name.
    pub status: BTreeMap<&'static str, u64>,
    pub delayed: u64,
    pub reset: u64,
    pub goaway: u64,
}

#[derive(Default)]
struct Inner {
    status: Option<StatusFault>,
    delay: Option<DelayFault>,
    reset: Option<ResetFault>,
    goaway: Option<ShareFault>,
    rng: Option<Rng>,
    counts: FaultCounts,
}

impl Inner {
    fn any(&self) -> bool {
        self.status.is_some()
            || self.delay.is_some()
            || self.reset.is_some()
            || self.goaway.is_some()
    }
}

/// What one call gets.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct CallFaults {
    pub status: Option<Status>,
    pub delay: Duration,
    /// Reset the stream with this HTTP/2 error code.
    pub reset: Option<u32>,
    /// Close the call's connection gracefully (GOAWAY) after it.
    pub goaway: bool,
}

#[derive(Default)]
pub struct GrpcFaults {
    active: AtomicBool,
    inner: Mutex<Inner>,
}

fn applies(method: &Option<String>, call: &str) -> bool {
    method.as_deref().is_none_or(|m| m == call)
}

fn draw_delay(rng: &mut Rng, d: &DelaySpec) -> Duration {
    let (lo, hi) = (d.min.as_micros() as u64, d.max.as_micros() as u64);
    Duration::from_micros(rng.between(lo, hi))
}

impl GrpcFaults {
    fn update(&self, f: impl FnOnce(&mut Inner)) {
        let mut g = self.inner.lock();
        f(&mut g);
        self.active.store(g.any(), Ordering::Relaxed);
    }

    pub fn set_status(&self, s: StatusFault) {
        self.update(|g| g.status = Some(s));
    }

    pub fn set_delay(&self, d: DelayFault) {
        self.update(|g| g.delay = if d.delay.is_zero() { None } else { Some(d) });
    }

    pub fn set_reset(&self, r: ResetFault) {
        self.update(|g| g.reset = if r.percent > 0.0 { Some(r) } else { None });
    }

    pub fn set_goaway(&self, r: ShareFault) {
        self.update(|g| g.goaway = if r.percent > 0.0 { Some(r) } else { None });
    }

    pub fn clear(&self) {
        self.update(|g| {
            g.status = None;
            g.delay = None;
            g.reset = None;
            g.goaway = None;
        });
    }

    pub fn clear_status(&self) {
        self.update(|g| g.status = None);
    }

    pub fn clear_delay(&self) {
        self.update(|g| g.delay = None);
    }

    /// Restarts the draws from `seed`: the same calls in the same order get
    /// the same faults.
    pub fn seed(&self, seed: u64) {
        self.inner.lock().rng = Some(Rng::seeded(seed));
    }

    pub fn counts(&self) -> FaultCounts {
        self.inner.lock().counts.clone()
    }

    pub fn clear_counts(&self) {
        self.inner.lock().counts = FaultCounts::default();
    }

    pub fn view(&self) -> serde_json::Value {
        let g = self.inner.lock();
        serde_json::json!({"status": g.status, "delay": g.delay, "reset": g.reset, "goaway": g.goaway})
    }

    /// Draws the faults of one call to `method`, and counts them. With
    /// `headers` on, `goto-fault-grpc-status`, `goto-fault-delay` and
    /// `goto-fault-percent` ask for faults per call; a header that cannot
    /// be read is an `INVALID_ARGUMENT`.
    pub fn draw(&self, method: &str, h: &HeaderMap, headers: bool) -> Result<CallFaults, Status> {
        let from_headers = if headers { header_faults(h)? } else { None };
        if !self.active.load(Ordering::Relaxed) && from_headers.is_none() {
            return Ok(CallFaults::default());
        }
        let mut g = self.inner.lock();
        let g = &mut *g;
        let rng = g.rng.get_or_insert_with(Rng::from_entropy);
        let mut plan = CallFaults::default();
        if let Some(s) = g.status.as_mut().filter(|s| applies(&s.method, method)) {
            if s.times.is_some() || rng.percent(s.percent) {
                plan.status = Some(Status::new(s.code, s.message.clone()));
            }
            if let Some(t) = s.times.as_mut() {
                *t = t.saturating_sub(1);
                if *t == 0 {
                    g.status = None;
                }
            }
        }
        if let Some(d) = g.delay.as_ref().filter(|d| applies(&d.method, method)) {
            if rng.percent(d.percent) {
                plan.delay = draw_delay(rng, &d.delay);
            }
        }
        if let Some(r) = g.reset.as_ref().filter(|r| applies(&r.method, method)) {
            plan.reset = rng.percent(r.percent).then_some(r.code);
        }
        if let Some(r) = g.goaway.as_ref().filter(|r| applies(&r.method, method)) {
            plan.goaway = rng.percent(r.percent);
        }
        if let Some((hs, hd, pct)) = from_headers {
            if rng.percent(pct) {
                if let Some(c) = hs {
                    plan.status = Some(Status::new(c, "forced by goto-fault-grpc-status"));
                }
                if let Some(d) = hd {
                    plan.delay += draw_delay(rng, &d);
                }
            }
        }
        g.counts.calls += 1;
        if let Some(s) = &plan.status {
            *g.counts.status.entry(status::name(s.code)).or_default() += 1;
        }
        if !plan.delay.is_zero() {
            g.counts.delayed += 1;
        }
        if plan.reset.is_some() {
            g.counts.reset += 1;
        }
        if plan.goaway {
            g.counts.goaway += 1;
        }
        self.active.store(g.any(), Ordering::Relaxed);
        Ok(plan)
    }
}

type HeaderAsk = (Option<u8>, Option<DelaySpec>, f64);

fn header_faults(h: &HeaderMap) -> Result<Option<HeaderAsk>, Status> {
    let text = |n: &HeaderName| -> Result<Option<&str>, Status> {
        match h.get(n) {
            None => Ok(None),
            Some(v) => v.to_str().map(|s| Some(s.trim())).map_err(|_| {
                Status::new(
                    status::INVALID_ARGUMENT,
                    format!("invalid {n} header: not text"),
                )
            }),
        }
    };
    let bad = |e: String| Status::new(status::INVALID_ARGUMENT, e);
    let code = text(&FAULT_GRPC_STATUS)?;
    let delay = text(&FAULT_DELAY)?;
    if code.is_none() && delay.is_none() {
        return Ok(None);
    }
    let code = code
        .map(status::parse)
        .transpose()
        .map_err(|e| bad(e.to_string()))?;
    let delay = delay
        .map(DelaySpec::parse)
        .transpose()
        .map_err(|e| bad(format!("invalid goto-fault-delay: {e}")))?;
    let pct = text(&FAULT_PERCENT)?
        .map(percent)
        .transpose()
        .map_err(|e| bad(format!("invalid goto-fault-percent: {e}")))?
        .unwrap_or(100.0);
    Ok(Some((code, delay, pct)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_run_out_and_methods_filter() {
        let f = GrpcFaults::default();
        f.set_status(StatusFault {
            code: status::UNAVAILABLE,
            message: String::new(),
            times: Some(2),
            percent: 100.0,
            method: Some("/goto.Goto/Echo".into()),
        });
        let h = HeaderMap::new();
        assert_eq!(f.draw("/other/X", &h, false).unwrap().status, None);
        for _ in 0..2 {
            let p = f.draw("/goto.Goto/Echo", &h, false).unwrap();
            assert_eq!(p.status.map(|s| s.code), Some(status::UNAVAILABLE));
        }
        assert_eq!(f.draw("/goto.Goto/Echo", &h, false).unwrap().status, None);
        assert_eq!(f.counts().status.get("UNAVAILABLE"), Some(&2));
    }

    #[test]
    fn seeded_draws_repeat() {
        let f = GrpcFaults::default();
        f.set_status(StatusFault {
            code: status::UNAVAILABLE,
            message: String::new(),
            times: None,
            percent: 50.0,
            method: None,
        });
        let h = HeaderMap::new();
        let run = || {
            f.seed(42);
            (0..64)
                .map(|_| f.draw("/a/b", &h, false).unwrap().status.is_some())
                .collect::<Vec<_>>()
        };
        let first = run();
        assert_eq!(first, run());
        assert!(first.iter().any(|x| *x) && first.iter().any(|x| !*x));
    }

    #[test]
    fn header_faults_only_when_on() {
        let f = GrpcFaults::default();
        let mut h = HeaderMap::new();
        h.insert(FAULT_GRPC_STATUS.clone(), "NOT_FOUND".parse().unwrap());
        assert_eq!(f.draw("/a/b", &h, false).unwrap().status, None);
        let p = f.draw("/a/b", &h, true).unwrap();
        assert_eq!(p.status.map(|s| s.code), Some(status::NOT_FOUND));
        h.insert(FAULT_GRPC_STATUS.clone(), "nope".parse().unwrap());
        assert!(f.draw("/a/b", &h, true).is_err());
    }
}
