//! Unhealthy spans per pod address: from the call (a health probe or any
//! fan-out) that found a healthy pod not answering to the moment it counted
//! as healthy again (it answered, reminded or registered) or left `pods`
//! (deregistered, cleaned up, dropped by the probes). Kept per address like
//! the epochs, after the pod is gone, the last [`MAX_SPANS`] of each, so a
//! flapping pod cannot grow the registry without bound.

use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::peers::{PeerGroup, Pod};
use crate::timefmt::rfc3339;

/// Spans kept per address; older ones are dropped.
pub const MAX_SPANS: usize = 32;

/// One stretch of time a pod counted as unhealthy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Span {
    /// The pod's epoch when it started.
    pub epoch: u32,
    pub from: SystemTime,
    /// `None` while it lasts.
    pub to: Option<SystemTime>,
}

impl Span {
    pub fn to_json(&self) -> Value {
        let mut v = json!({"epoch": self.epoch, "from": rfc3339(self.from)});
        if let Some(to) = self.to {
            v["to"] = json!(rfc3339(to));
        }
        v
    }
}

/// `[span, ...]` as JSON.
pub fn spans_json(spans: &[Span]) -> Value {
    Value::Array(spans.iter().map(Span::to_json).collect())
}

impl PeerGroup {
    /// Records whether the pod at `addr` answered; a change of its health
    /// opens or closes a span. True if it changed (false too without such a pod).
    pub fn set_health(&mut self, addr: &str, healthy: bool, now: SystemTime) -> bool {
        let Some(pod) = self.pods.get_mut(addr) else {
            return false;
        };
        let was = std::mem::replace(&mut pod.healthy, healthy);
        let epoch = pod.current.epoch;
        match (was, healthy) {
            (true, false) => {
                let spans = self.unhealthy_spans.entry(addr.to_string()).or_default();
                spans.push(Span {
                    epoch,
                    from: now,
                    to: None,
                });
                if spans.len() > MAX_SPANS {
                    let excess = spans.len() - MAX_SPANS;
                    spans.drain(..excess);
                }
            }
            (false, true) => self.close_span(addr, now),
            _ => return false,
        }
        true
    }

    /// Ends the address's open span, if any.
    pub fn close_span(&mut self, addr: &str, now: SystemTime) {
        if let Some(s) = self
            .unhealthy_spans
            .get_mut(addr)
            .and_then(|v| v.last_mut())
            .filter(|s| s.to.is_none())
        {
            s.to = Some(now.max(s.from));
        }
    }

    /// Takes a pod out of `pods`; an unhealthy span it was in ends now.
    pub fn drop_pod(&mut self, addr: &str, now: SystemTime) -> Option<Pod> {
        let pod = self.pods.remove(addr)?;
        self.close_span(addr, now);
        Some(pod)
    }

    /// After past epochs are forgotten: only the connected pods' spans of
    /// their current epochs remain.
    pub fn keep_current_spans(&mut self) {
        let pods = &self.pods;
        self.unhealthy_spans.retain(|addr, spans| {
            let Some(p) = pods.get(addr) else {
                return false;
            };
            spans.retain(|s| s.epoch == p.current.epoch);
            !spans.is_empty()
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::peers::PeerInfo;
    use std::time::Duration;

    #[test]
    fn health_flips_open_and_close_bounded_spans() {
        let mut g = PeerGroup::default();
        let t0 = SystemTime::UNIX_EPOCH;
        let at = |s: u64| t0 + Duration::from_secs(s);
        let p = PeerInfo {
            name: "l".into(),
            namespace: "local".into(),
            pod: "p".into(),
            address: "1.0.0.1:80".into(),
            instance: "i".into(),
        };
        let a = p.address.clone();
        g.register(&p, t0);
        assert!(!g.set_health("1.0.0.9:1", false, at(1)));
        // Still healthy: nothing recorded.
        assert!(!g.set_health(&a, true, at(1)));
        assert!(g.unhealthy_spans.is_empty());
        assert!(g.set_health(&a, false, at(2)));
        assert!(!g.set_health(&a, false, at(3)));
        let open = &g.to_json()["pods"][&a]["unhealthySpans"];
        assert_eq!(
            open,
            &json!([{"epoch": 0, "from": "1970-01-01T00:00:02.000000Z"}])
        );
        // A reminder ends it.
        assert!(g.remember(&a, at(5)));
        assert_eq!(g.unhealthy_spans[&a][0].to, Some(at(5)));
        // Dropped while unhealthy: the span ends there and stays.
        g.set_health(&a, false, at(6));
        assert!(g.drop_pod(&a, at(9)).is_some());
        let v = g.to_json();
        assert_eq!(
            v["podUnhealthySpans"][&a][1]["to"],
            "1970-01-01T00:00:09.000000Z"
        );
        assert!(v["pods"].get(&a).is_none());
        // Back in a new epoch, flapping: the last MAX_SPANS are kept.
        let mut again = p.clone();
        again.instance = "j".into();
        g.register(&again, at(10));
        for k in 0..40 {
            g.set_health(&a, false, at(11 + 2 * k));
            g.set_health(&a, true, at(12 + 2 * k));
        }
        let spans = &g.unhealthy_spans[&a];
        assert_eq!(spans.len(), MAX_SPANS);
        assert!(spans.iter().all(|s| s.epoch == 1 && s.to.is_some()));
        // Forgetting past epochs keeps the current epoch's spans.
        if let Some(v) = g.unhealthy_spans.get_mut(&a) {
            v[0].epoch = 0;
        }
        g.keep_current_spans();
        assert_eq!(g.unhealthy_spans[&a].len(), MAX_SPANS - 1);
    }
}
