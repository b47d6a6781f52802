//! Peers by label, their pods (instances) by address, and each pod's
//! epochs: one per lifetime, so the registry keeps a timeline of restarts.
//! Registration, reminders and deregistration are handled here.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::no_pod;
use super::Registry;
use crate::body::{json, ok};
use crate::error::{ApiError, ApiResult};
use crate::timefmt::rfc3339;

/// What a peer sends to register or remind.
#[derive(Debug, Clone, Deserialize)]
pub struct PeerInfo {
    pub name: String,
    #[serde(default)]
    pub namespace: String,
    #[serde(default)]
    pub pod: String,
    pub address: String,
    /// Random per process start (new): tells a process that re-registers
    /// (after a health cleanup, say) from a new one at the same address.
    #[serde(default)]
    pub instance: String,
}

impl PeerInfo {
    /// Parses and validates a registration body.
    pub fn from_json(body: &[u8]) -> Result<PeerInfo, ApiError> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Err(ApiError::bad("missing peer JSON body"));
        }
        let mut p: PeerInfo = serde_json::from_slice(body)
            .map_err(|e| ApiError::bad(format!("invalid peer JSON: {e}")))?;
        p.name = p.name.trim().to_string();
        if p.name.is_empty() || p.name.contains('/') {
            return Err(ApiError::bad("peer needs a name without '/'"));
        }
        for (field, v, max) in [
            ("name", &p.name, MAX_NAME_LEN),
            ("namespace", &p.namespace, MAX_NAME_LEN),
            ("pod", &p.pod, MAX_NAME_LEN),
            ("instance", &p.instance, 64),
        ] {
            if v.len() > max || v.chars().any(char::is_control) {
                return Err(ApiError::bad(format!(
                    "invalid peer {field}: at most {max} bytes, no control characters"
                )));
            }
        }
        p.address = valid_address(&p.address)?;
        if p.namespace.trim().is_empty() {
            p.namespace = "local".into();
        }
        if p.pod.trim().is_empty() {
            p.pod = p.name.clone();
        }
        Ok(p)
    }
}

/// Longest peer name, namespace or pod name (a Kubernetes object name's limit).
pub const MAX_NAME_LEN: usize = 253;
/// Epochs kept per address; older ones are dropped (and counted) so a pod
/// restarting in a loop cannot grow the registry without bound.
pub const MAX_EPOCHS: usize = 100;

/// Checks `host:port` (an IPv6 host in brackets); returns it trimmed.
pub fn valid_address(addr: &str) -> Result<String, ApiError> {
    let a = addr.trim();
    let bad = || ApiError::bad(format!("invalid peer address {addr:?}: want host:port"));
    let (host, port) = a.rsplit_once(':').ok_or_else(bad)?;
    let port_ok = port.parse::<u16>().is_ok_and(|p| p > 0);
    let host_ok = if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        v6.parse::<std::net::Ipv6Addr>().is_ok()
    } else {
        !host.is_empty()
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'_')
    };
    if port_ok && host_ok {
        Ok(a.to_string())
    } else {
        Err(bad())
    }
}

/// One lifetime of an instance at an address.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Epoch {
    pub epoch: u32,
    pub name: String,
    pub address: String,
    pub first_contact: SystemTime,
    pub last_contact: SystemTime,
    /// The process behind it, when the peer says (not shown).
    pub instance: String,
}

impl Epoch {
    fn to_json(&self) -> Value {
        json!({
            "epoch": self.epoch,
            "name": self.name,
            "address": self.address,
            "firstContact": rfc3339(self.first_contact),
            "lastContact": rfc3339(self.last_contact),
        })
    }
}

/// A connected instance.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Pod {
    pub name: String,
    pub address: String,
    pub healthy: bool,
    pub current: Epoch,
    pub past: Vec<Epoch>,
}

/// All instances registered under one label (serde: the data-dir store).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PeerGroup {
    pub name: String,
    pub namespace: String,
    pub pods: BTreeMap<String, Pod>,
    /// Every epoch ever seen per address, current ones included; kept after
    /// deregistration until cleared; the last [`MAX_EPOCHS`] per address.
    pub pod_epochs: BTreeMap<String, Vec<Epoch>>,
    /// Epochs dropped past [`MAX_EPOCHS`].
    #[serde(default)]
    pub dropped_epochs: u64,
    /// Unhealthy spans per address, kept like `pod_epochs` (see `spans`).
    #[serde(default)]
    pub unhealthy_spans: BTreeMap<String, Vec<super::spans::Span>>,
}

/// What a registration did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Registered {
    pub epoch: u32,
    /// The epoch before this one at the same address, if any.
    pub previous: Option<u32>,
    /// Whether that epoch was the same process registering again.
    pub same_instance: bool,
}

impl PeerGroup {
    /// Registers an instance: a new pod, or a new epoch for one that came
    /// back at the same address.
    pub fn register(&mut self, p: &PeerInfo, now: SystemTime) -> Registered {
        self.name.clone_from(&p.name);
        self.namespace.clone_from(&p.namespace);
        let epochs = self.pod_epochs.entry(p.address.clone()).or_default();
        let last = epochs.last();
        let previous = last.map(|e| e.epoch);
        let same_instance =
            !p.instance.is_empty() && last.is_some_and(|e| e.instance == p.instance);
        let epoch = previous.map_or(0, |e| e + 1);
        let current = Epoch {
            epoch,
            name: p.pod.clone(),
            address: p.address.clone(),
            first_contact: now,
            last_contact: now,
            instance: p.instance.clone(),
        };
        epochs.push(current.clone());
        if epochs.len() > MAX_EPOCHS {
            let excess = epochs.len() - MAX_EPOCHS;
            epochs.drain(..excess);
            self.dropped_epochs += excess as u64;
        }
        let pod = self.pods.entry(p.address.clone()).or_insert_with(|| Pod {
            name: p.pod.clone(),
            address: p.address.clone(),
            healthy: true,
            current: current.clone(),
            past: Vec::new(),
        });
        if pod.current.epoch != epoch {
            let old = std::mem::replace(&mut pod.current, current);
            pod.past.push(old);
            if pod.past.len() > MAX_EPOCHS {
                let excess = pod.past.len() - MAX_EPOCHS;
                pod.past.drain(..excess);
            }
        }
        pod.name.clone_from(&p.pod);
        pod.healthy = true;
        self.close_span(&p.address, now);
        Registered {
            epoch,
            previous,
            same_instance,
        }
    }

    /// Records a reminder; false if the instance is not registered here.
    pub fn remember(&mut self, address: &str, now: SystemTime) -> bool {
        let Some(pod) = self.pods.get_mut(address) else {
            return false;
        };
        pod.current.last_contact = now;
        pod.healthy = true;
        let epoch = pod.current.epoch;
        self.close_span(address, now);
        if let Some(e) = self
            .pod_epochs
            .get_mut(address)
            .and_then(|es| es.iter_mut().find(|e| e.epoch == epoch))
        {
            e.last_contact = now;
        }
        true
    }

    pub fn to_json(&self) -> Value {
        let mut pods = Map::new();
        for (addr, p) in &self.pods {
            let mut pod = json!({
                    "name": p.name,
                    "address": p.address,
                    "healthy": p.healthy,
                    "currentEpoch": p.current.to_json(),
                    "pastEpochs": if p.past.is_empty() {
                        Value::Null
                    } else {
                        Value::Array(p.past.iter().map(Epoch::to_json).collect())
                    },
            });
            if let Some(s) = self.unhealthy_spans.get(addr) {
                pod["unhealthySpans"] = super::spans::spans_json(s);
            }
            pods.insert(addr.clone(), pod);
        }
        let mut epochs = Map::new();
        for (addr, es) in &self.pod_epochs {
            epochs.insert(
                addr.clone(),
                Value::Array(es.iter().map(Epoch::to_json).collect()),
            );
        }
        let mut v = json!({
            "name": self.name,
            "namespace": self.namespace,
            "pods": pods,
            "podEpochs": epochs,
        });
        if self.dropped_epochs > 0 {
            v["droppedEpochs"] = json!(self.dropped_epochs);
        }
        if !self.unhealthy_spans.is_empty() {
            v["podUnhealthySpans"] = Value::Object(
                self.unhealthy_spans
                    .iter()
                    .map(|(a, s)| (a.clone(), super::spans::spans_json(s)))
                    .collect(),
            );
        }
        v
    }
}

pub(super) fn register(reg: &Arc<Registry>, body: &Bytes) -> ApiResult {
    let p = PeerInfo::from_json(body)?;
    let now = SystemTime::now();
    let mut st = reg.inner.lock();
    let r = st
        .peers
        .entry(p.name.clone())
        .or_default()
        .register(&p, now);
    // A new process at the address: what the old one reported stays
    // readable apart. The same process coming back keeps its locker.
    if let (Some(prev), false) = (r.previous, r.same_instance) {
        st.lockers.retire(&p.name, &p.address, prev);
    }
    let cfg = st.labels.get(&p.name).cloned().unwrap_or_default();
    tracing::info!(peer = ?p.name, address = ?p.address, epoch = r.epoch, "peer registered");
    Ok(json(&json!({
        "epoch": r.epoch,
        "targets": cfg.targets.iter().map(|(_, v)| v.clone()).collect::<Vec<_>>(),
        "jobs": cfg.jobs.iter().map(|(_, v)| v.clone()).collect::<Vec<_>>(),
        "trackingHeaders": st.tracked,
    })))
}

pub(super) fn remember(reg: &Arc<Registry>, peer: &str, body: &Bytes) -> ApiResult {
    let p = PeerInfo::from_json(body)?;
    if p.name != peer {
        return Err(ApiError::bad(format!(
            "peer name {:?} does not match the path's {peer:?}",
            p.name
        )));
    }
    let mut st = reg.inner.lock();
    let found = st
        .peers
        .get_mut(peer)
        .is_some_and(|g| g.remember(&p.address, SystemTime::now()));
    if found {
        Ok(ok(format!("Peer remembered: {peer} at {}", p.address)))
    } else {
        Err(no_pod(peer, &p.address))
    }
}

pub(super) fn deregister(reg: &Arc<Registry>, peer: &str, addr: &str) -> ApiResult {
    let mut st = reg.inner.lock();
    let removed = st
        .peers
        .get_mut(peer)
        .is_some_and(|g| g.drop_pod(addr, SystemTime::now()).is_some());
    if removed {
        tracing::info!(peer, address = addr, "peer deregistered");
        Ok(ok(format!("Peer removed: {peer} at {addr}")))
    } else {
        Err(no_pod(peer, addr))
    }
}

pub(super) fn peers_json(reg: &Arc<Registry>) -> Value {
    let st = reg.inner.lock();
    Value::Object(
        st.peers
            .iter()
            .map(|(k, g)| (k.clone(), g.to_json()))
            .collect(),
    )
}

/// Forgets past epochs: only the connected pods' current epochs remain.
pub(super) fn clear_epochs(reg: &Arc<Registry>) -> http::Response<crate::body::Body> {
    let mut st = reg.inner.lock();
    for g in st.peers.values_mut() {
        g.pod_epochs = g
            .pods
            .iter_mut()
            .map(|(a, p)| {
                p.past.clear();
                (a.clone(), vec![p.current.clone()])
            })
            .collect();
        g.keep_current_spans();
    }
    ok("Epochs cleared")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn info(addr: &str) -> PeerInfo {
        PeerInfo {
            name: "peer1".into(),
            namespace: "local".into(),
            pod: "host1".into(),
            address: addr.into(),
            instance: "i1".into(),
        }
    }

    #[test]
    fn restart_at_same_address_starts_a_new_epoch() {
        let mut g = PeerGroup::default();
        let t0 = SystemTime::UNIX_EPOCH;
        assert_eq!(
            g.register(&info("1.0.0.1:8081"), t0),
            Registered {
                epoch: 0,
                previous: None,
                same_instance: false
            }
        );
        assert!(g.remember("1.0.0.1:8081", t0 + Duration::from_secs(5)));
        let mut again = info("1.0.0.1:8081");
        again.instance = "i2".into();
        let r = g.register(&again, t0 + Duration::from_secs(9));
        assert_eq!(
            r,
            Registered {
                epoch: 1,
                previous: Some(0),
                same_instance: false
            }
        );
        let v = g.to_json();
        let pod = &v["pods"]["1.0.0.1:8081"];
        assert_eq!(pod["currentEpoch"]["epoch"], 1);
        assert_eq!(pod["pastEpochs"][0]["epoch"], 0);
        assert_eq!(
            pod["pastEpochs"][0]["lastContact"],
            "1970-01-01T00:00:05.000000Z"
        );
        assert_eq!(
            v["podEpochs"]["1.0.0.1:8081"].as_array().map(Vec::len),
            Some(2)
        );
        assert!(!g.remember("1.0.0.9:1", t0));
        // The same process registering again (its pod was cleaned up).
        g.pods.clear();
        let r = g.register(&again, t0 + Duration::from_secs(10));
        assert!(r.same_instance && r.epoch == 2);
    }

    #[test]
    fn addresses_are_validated() {
        for good in ["127.0.0.1:8080", "peer-1.ns.svc:80", "[::1]:9000"] {
            assert!(valid_address(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "127.0.0.1",
            "127.0.0.1:0",
            "host:99999",
            ":80",
            "a b:80",
            "a/b:1",
        ] {
            assert!(valid_address(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn peer_json_is_validated() {
        assert!(PeerInfo::from_json(b"{").is_err());
        assert!(PeerInfo::from_json(b"").is_err());
        assert!(PeerInfo::from_json(br#"{"name":"p","address":"nope"}"#).is_err());
        let p = PeerInfo::from_json(br#"{"name":"p","address":"1.2.3.4:5"}"#)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.namespace, "local");
        assert_eq!(p.pod, "p");
    }
}
