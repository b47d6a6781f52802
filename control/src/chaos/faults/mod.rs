//! Probabilistic and header-driven faults of the responder, per port and per
//! URI pattern: status shares, delay shares and ranges, closing without an
//! answer, response size and a dripped (slow) body; a seedable generator so
//! a run can be replayed, and counts of every fault injected, by kind (and by
//! pattern).
//!
//! The runtime path checks one relaxed atomic ([`Faults::active`]) and takes
//! the lock only when some fault is configured or header faults are enabled.

pub mod body;
pub mod config;
pub mod error;
pub mod routes;
pub mod spec;
pub mod uri;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};

use http::HeaderMap;
use parking_lot::Mutex;
use serde::Serialize;

use crate::rng::Rng;
use config::draw_cfg;
pub use config::{Drip, FaultConfig, FaultDraw};
pub use error::FaultError;
use spec::HeaderFaults;
use uri::{UriFaults, MAX_URIS};

/// Faults injected, by kind.
#[derive(Debug, Default, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FaultCounts {
    /// Requests the fault draw saw.
    pub requests: u64,
    pub status: BTreeMap<u16, u64>,
    pub delay: u64,
    pub close: u64,
    pub size: u64,
    pub drip: u64,
    /// Requests whose faults came from `Goto-Fault-*` headers.
    pub from_headers: u64,
    /// Per URI pattern with faults: the requests it matched and the faults
    /// its own configuration injected (also in the totals above).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub by_uri: BTreeMap<String, FaultCounts>,
}

impl FaultCounts {
    fn add(&mut self, plan: &FaultDraw) {
        if plan.close {
            // Nothing else of the plan reaches the client.
            self.close += 1;
            return;
        }
        if let Some(s) = plan.status {
            *self.status.entry(s).or_default() += 1;
        }
        self.delay += u64::from(plan.delay.is_some());
        self.size += u64::from(plan.size.is_some());
        self.drip += u64::from(plan.drip.is_some());
    }
}

struct Inner {
    cfg: FaultConfig,
    /// Patterns with a configured fault, matched in the order added.
    by_uri: Vec<UriFaults>,
    headers: bool,
    seed: Option<u64>,
    rng: Rng,
    counts: FaultCounts,
}

/// One port's faults.
pub struct Faults {
    active: AtomicBool,
    inner: Mutex<Inner>,
}

impl Default for Faults {
    fn default() -> Faults {
        Faults {
            active: AtomicBool::new(false),
            inner: Mutex::new(Inner {
                cfg: FaultConfig::default(),
                by_uri: Vec::new(),
                headers: false,
                seed: None,
                rng: Rng::from_entropy(),
                counts: FaultCounts::default(),
            }),
        }
    }
}

impl Faults {
    /// Whether any fault is configured or header faults are on.
    #[inline]
    pub fn active(&self) -> bool {
        self.active.load(Ordering::Relaxed)
    }

    fn refresh(&self, inner: &Inner) {
        let any = inner.cfg.any() || inner.headers || !inner.by_uri.is_empty();
        self.active.store(any, Ordering::Relaxed);
    }

    /// Changes the configuration; the active flag follows.
    pub fn update<R>(&self, f: impl FnOnce(&mut FaultConfig) -> R) -> R {
        let mut g = self.inner.lock();
        let r = f(&mut g.cfg);
        self.refresh(&g);
        r
    }

    /// Changes the configuration of the requests matching the URI pattern
    /// `uri` (the port's own with `None`); a pattern left with no fault is
    /// dropped.
    pub fn update_uri<R>(
        &self,
        uri: Option<&str>,
        f: impl FnOnce(&mut FaultConfig) -> R,
    ) -> Result<R, FaultError> {
        let Some(uri) = uri else {
            return Ok(self.update(f));
        };
        let mut g = self.inner.lock();
        let i = match g.by_uri.iter().position(|u| u.uri == uri) {
            Some(i) => i,
            None if g.by_uri.len() >= MAX_URIS => return Err(FaultError::TooManyUris),
            None => {
                g.by_uri.push(UriFaults::new(uri)?);
                g.by_uri.len() - 1
            }
        };
        let r = f(&mut g.by_uri[i].cfg);
        if !g.by_uri[i].cfg.any() {
            g.by_uri.remove(i);
        }
        self.refresh(&g);
        Ok(r)
    }

    /// Clears every configured fault, the port's and every URI pattern's
    /// (not the counts, the seed or the header switch).
    pub fn clear(&self) {
        let mut g = self.inner.lock();
        g.cfg = FaultConfig::default();
        g.by_uri.clear();
        self.refresh(&g);
    }

    /// Whether `Goto-Fault-*` headers are read (the gRPC faults follow it too).
    pub fn headers_on(&self) -> bool {
        self.inner.lock().headers
    }

    pub fn set_headers(&self, on: bool) {
        let mut g = self.inner.lock();
        g.headers = on;
        self.refresh(&g);
    }

    /// Restarts the generator from `seed`: the same requests in the same
    /// order get the same faults.
    pub fn seed(&self, seed: u64) {
        let mut g = self.inner.lock();
        g.seed = Some(seed);
        g.rng = Rng::seeded(seed);
    }

    pub fn counts(&self) -> FaultCounts {
        self.inner.lock().counts.clone()
    }

    pub fn clear_counts(&self) {
        self.inner.lock().counts = FaultCounts::default();
    }

    /// The configuration as JSON.
    pub fn view(&self) -> serde_json::Value {
        let g = self.inner.lock();
        let mut v = g.cfg.view();
        if let Some(o) = v.as_object_mut() {
            o.insert("headers".into(), g.headers.into());
            let by_uri: serde_json::Map<String, serde_json::Value> = g
                .by_uri
                .iter()
                .map(|u| (u.uri.clone(), u.cfg.view()))
                .collect();
            o.insert("byUri".into(), by_uri.into());
            o.insert("seed".into(), g.seed.into());
        }
        v
    }

    /// Draws the faults of one request to `path` and counts them: the
    /// port's, then those of the first URI pattern matching (which win where
    /// both inject the same kind). `Err` is a `Goto-Fault-*` header that
    /// could not be read (header faults on).
    pub fn draw(&self, path: &str, headers: &HeaderMap) -> Result<FaultDraw, FaultError> {
        let mut g = self.inner.lock();
        let g = &mut *g;
        let from_headers = if g.headers {
            HeaderFaults::from_headers(headers)?
        } else {
            None
        };
        g.counts.requests += 1;
        let rng = &mut g.rng;
        let mut plan = draw_cfg(&g.cfg, rng);
        if let Some(u) = g.by_uri.iter().find(|u| u.matches(path)) {
            let p = draw_cfg(&u.cfg, rng);
            let c = g.counts.by_uri.entry(u.uri.clone()).or_default();
            c.requests += 1;
            c.add(&p);
            plan = FaultDraw {
                status: p.status.or(plan.status),
                delay: p.delay.or(plan.delay),
                close: p.close || plan.close,
                size: p.size.or(plan.size),
                drip: p.drip.or(plan.drip),
            };
        }
        if let Some(h) = from_headers {
            if rng.percent(h.percent) {
                g.counts.from_headers += 1;
                plan.status = h.status.or(plan.status);
                if let Some(d) = h.delay {
                    plan.delay = Some(rng.duration(d.min, d.max));
                }
                plan.close |= h.close;
            }
        }
        g.counts.add(&plan);
        Ok(plan)
    }
}

#[cfg(test)]
mod tests {
    use super::spec::DelaySpec;
    use super::*;
    use http::HeaderValue;
    use serde_json::json;
    use std::time::Duration;

    fn run(f: &Faults, n: usize) -> Vec<FaultDraw> {
        let h = HeaderMap::new();
        (0..n).map(|_| f.draw("/x", &h).unwrap()).collect()
    }

    #[test]
    fn inactive_until_configured() {
        let f = Faults::default();
        assert!(!f.active());
        f.update(|c| c.set_status(503, 10.0)).unwrap();
        assert!(f.active());
        f.clear();
        assert!(!f.active());
        f.set_headers(true);
        assert!(f.active());
    }

    #[test]
    fn status_shares_are_delivered() {
        let f = Faults::default();
        f.update(|c| {
            c.set_status(503, 10.0)?;
            c.set_status(429, 5.0)
        })
        .unwrap();
        run(&f, 20_000);
        let c = f.counts();
        assert_eq!(c.requests, 20_000);
        let s503 = c.status[&503] as f64 / 200.0;
        let s429 = c.status[&429] as f64 / 200.0;
        assert!((9.0..=11.0).contains(&s503), "{s503}");
        assert!((4.0..=6.0).contains(&s429), "{s429}");
    }

    #[test]
    fn shares_cannot_pass_100() {
        let mut c = FaultConfig::default();
        c.set_status(503, 60.0).unwrap();
        assert!(c.set_status(500, 50.0).is_err());
        // Replacing a code's own share is judged without its old share.
        c.set_status(503, 90.0).unwrap();
        c.set_status(503, 0.0).unwrap();
        assert!(c.status.is_empty());
    }

    #[test]
    fn seed_replays_the_sequence() {
        let f = Faults::default();
        f.update(|c| {
            c.set_status(503, 30.0)?;
            c.set_delay(DelaySpec::parse("1ms-9ms")?, 50.0)?;
            c.set_close(5.0);
            Ok::<_, FaultError>(())
        })
        .unwrap();
        f.seed(42);
        let a = run(&f, 500);
        f.seed(42);
        let b = run(&f, 500);
        assert_eq!(a, b);
        f.seed(43);
        assert_ne!(a, run(&f, 500));
    }

    #[test]
    fn delay_ranges_stay_inside() {
        let f = Faults::default();
        f.update(|c| c.set_delay(DelaySpec::parse("100ms-300ms").unwrap(), 100.0))
            .unwrap();
        for p in run(&f, 200) {
            let d = p.delay.unwrap();
            assert!(d >= Duration::from_millis(100) && d <= Duration::from_millis(300));
        }
    }

    #[test]
    fn size_and_drip() {
        let f = Faults::default();
        f.update(|c| {
            c.set_size(1000, 100.0);
            c.set_drip(
                Drip {
                    bytes: 10,
                    every: Duration::from_millis(5),
                },
                100.0,
            )
        });
        let p = f.draw("/x", &HeaderMap::new()).unwrap();
        assert_eq!(p.size.unwrap().len(), 1000);
        assert_eq!(p.drip.unwrap().bytes, 10);
    }

    #[test]
    fn header_faults_only_when_enabled() {
        let f = Faults::default();
        let mut h = HeaderMap::new();
        h.insert(&spec::FAULT_STATUS, HeaderValue::from_static("418"));
        f.set_headers(true);
        assert_eq!(f.draw("/x", &h).unwrap().status, Some(418));
        assert_eq!(f.counts().from_headers, 1);
        h.insert(&spec::FAULT_CLOSE, HeaderValue::from_static("maybe"));
        assert!(f.draw("/x", &h).is_err());
        f.set_headers(false);
        assert_eq!(f.draw("/x", &h).unwrap().status, None);
    }

    #[test]
    fn header_percent_is_a_share() {
        let f = Faults::default();
        f.set_headers(true);
        let mut h = HeaderMap::new();
        h.insert(&spec::FAULT_CLOSE, HeaderValue::from_static("true"));
        h.insert(&spec::FAULT_PERCENT, HeaderValue::from_static("20"));
        let closed = (0..10_000)
            .filter(|_| f.draw("/x", &h).unwrap().close)
            .count();
        assert!((1_800..=2_200).contains(&closed), "{closed}");
        assert_eq!(f.counts().close, closed as u64);
    }

    #[test]
    fn uri_faults_apply_to_matching_paths_only() {
        let f = Faults::default();
        f.update_uri(Some("/orders/{id}"), |c| c.set_status(503, 100.0))
            .unwrap()
            .unwrap();
        assert!(f.active());
        let h = HeaderMap::new();
        assert_eq!(f.draw("/orders/7", &h).unwrap().status, Some(503));
        assert_eq!(f.draw("/orders", &h).unwrap().status, None);
        f.update(|c| c.set_status(500, 100.0)).unwrap();
        // The pattern's own fault wins where both inject one.
        assert_eq!(f.draw("/orders/8", &h).unwrap().status, Some(503));
        assert_eq!(f.draw("/x", &h).unwrap().status, Some(500));
        let c = f.counts();
        assert_eq!(c.requests, 4);
        assert_eq!(c.status[&503], 2);
        let u = &c.by_uri["/orders/{id}"];
        assert_eq!((u.requests, u.status[&503]), (2, 2));
        assert!(f
            .update_uri(Some("no-slash"), |c| c.set_close(5.0))
            .is_err());
        // A pattern left without faults is dropped; clear drops all.
        f.update_uri(Some("/orders/{id}"), |c| c.status.clear())
            .unwrap();
        assert_eq!(f.view()["byUri"], json!({}));
        f.update_uri(Some("/a"), |c| c.set_close(5.0)).unwrap();
        f.clear();
        assert!(!f.active());
    }
}
