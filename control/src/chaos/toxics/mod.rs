//! Toxiproxy-style toxics: connection-level faults applied to the bytes of a
//! proxied connection (or an HTTP body), per direction, each on a share of
//! connections (its toxicity). A [`Toxics`] set belongs to one proxy target
//! or raw TCP proxy listener; [`Toxics::select`] draws the chains one
//! connection gets, and [`pump`] drives bytes through a chain.
//!
//! Attribute names and units are toxiproxy's: `latency`/`jitter`/`timeout`/
//! slow_close `delay` in milliseconds, slicer `delay` in microseconds,
//! `rate` in KB/s (1000 bytes), `bytes`, `average_size`, `size_variation`.
//! Any duration may also be a Go duration string (`"200ms"`).

pub mod ends;
pub mod error;
pub mod http;
pub mod pump;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Mutex, RwLock};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::rng::Rng;
pub use error::ToxicError;
use goto_engine::duration;
pub use pump::{pump, Chain, End};

/// Which way the bytes flow: to the upstream, or back to the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Upstream,
    Downstream,
}

fn downstream() -> Direction {
    Direction::Downstream
}

fn full() -> f64 {
    1.0
}

/// The JSON of `POST .../toxics/add` (toxiproxy's shape; `stream` is
/// accepted for `direction`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToxicSpec {
    #[serde(default)]
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default = "downstream", alias = "stream")]
    pub direction: Direction,
    #[serde(default = "full")]
    pub toxicity: f64,
    #[serde(default)]
    pub attributes: Map<String, Value>,
}

/// A toxic's effect, validated.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    Latency {
        latency: Duration,
        jitter: Duration,
    },
    /// Bytes per second.
    Bandwidth {
        rate: u64,
    },
    Slicer {
        average: usize,
        variation: usize,
        delay: Duration,
    },
    ResetPeer {
        timeout: Duration,
    },
    SlowClose {
        delay: Duration,
    },
    /// Zero: hold until the source ends.
    Timeout {
        timeout: Duration,
    },
    LimitData {
        bytes: u64,
    },
}

/// A validated toxic with the spec it came from (defaults filled in).
#[derive(Debug, Clone)]
pub struct Toxic {
    pub spec: ToxicSpec,
    pub kind: Kind,
}

/// Reads attribute `name`: a number in `unit`, or a Go duration string.
fn dur(
    attrs: &Map<String, Value>,
    name: &'static str,
    unit: Duration,
) -> Result<Duration, ToxicError> {
    match attrs.get(name) {
        None => Ok(Duration::ZERO),
        Some(Value::String(s)) => {
            duration::parse(s).map_err(|reason| ToxicError::Duration { name, reason })
        }
        Some(Value::Number(n)) => match n.as_u64() {
            Some(v) => unit
                .checked_mul(u32::try_from(v).map_err(|_| ToxicError::TooLarge(name))?)
                .ok_or(ToxicError::TooLarge(name)),
            None => Err(ToxicError::NegativeDuration(name)),
        },
        Some(_) => Err(ToxicError::NotDuration(name)),
    }
}

fn count(attrs: &Map<String, Value>, name: &'static str) -> Result<u64, ToxicError> {
    match attrs.get(name) {
        None => Ok(0),
        Some(Value::Number(n)) => n.as_u64().ok_or(ToxicError::NotCount(name)),
        Some(Value::String(s)) => s.trim().parse().map_err(|_| ToxicError::NotCount(name)),
        Some(_) => Err(ToxicError::NotCount(name)),
    }
}

const MS: Duration = Duration::from_millis(1);
const US: Duration = Duration::from_micros(1);

impl Toxic {
    pub fn new(spec: ToxicSpec) -> Result<Toxic, ToxicError> {
        Toxic::build(spec)
    }

    fn build(mut spec: ToxicSpec) -> Result<Toxic, ToxicError> {
        if !(0.0..=1.0).contains(&spec.toxicity) {
            return Err(ToxicError::Toxicity(spec.toxicity));
        }
        let a = &spec.attributes;
        let (kind, known): (Kind, &[&str]) = match spec.kind.as_str() {
            "latency" => (
                Kind::Latency {
                    latency: dur(a, "latency", MS)?,
                    jitter: dur(a, "jitter", MS)?,
                },
                &["latency", "jitter"],
            ),
            "bandwidth" => {
                let rate = count(a, "rate")?;
                if rate == 0 {
                    return Err(ToxicError::NoRate);
                }
                let rate = rate.checked_mul(1000).ok_or(ToxicError::TooLarge("rate"))?;
                (Kind::Bandwidth { rate }, &["rate"])
            }
            "slicer" => {
                let average = count(a, "average_size")? as usize;
                if average == 0 {
                    return Err(ToxicError::NoAverageSize);
                }
                let variation = count(a, "size_variation")? as usize;
                if variation >= average {
                    return Err(ToxicError::Variation);
                }
                (
                    Kind::Slicer {
                        average,
                        variation,
                        delay: dur(a, "delay", US)?,
                    },
                    &["average_size", "size_variation", "delay"],
                )
            }
            "reset_peer" => (
                Kind::ResetPeer {
                    timeout: dur(a, "timeout", MS)?,
                },
                &["timeout"],
            ),
            "slow_close" => (
                Kind::SlowClose {
                    delay: dur(a, "delay", MS)?,
                },
                &["delay"],
            ),
            "timeout" => (
                Kind::Timeout {
                    timeout: dur(a, "timeout", MS)?,
                },
                &["timeout"],
            ),
            "limit_data" => (
                Kind::LimitData {
                    bytes: count(a, "bytes")?,
                },
                &["bytes"],
            ),
            other => return Err(ToxicError::UnknownType(other.to_string())),
        };
        if let Some(k) = a.keys().find(|k| !known.contains(&k.as_str())) {
            return Err(ToxicError::UnknownAttribute {
                attr: k.clone(),
                kind: spec.kind.clone(),
                known: known.join(", "),
            });
        }
        if spec.name.trim().is_empty() {
            let dir = match spec.direction {
                Direction::Upstream => "upstream",
                Direction::Downstream => "downstream",
            };
            spec.name = format!("{}_{dir}", spec.kind);
        }
        Ok(Toxic { spec, kind })
    }
}

/// How often a toxic was drawn for a connection (or request), and skipped.
#[derive(Debug, Default, Clone, Serialize)]
pub struct ToxicCount {
    #[serde(rename = "type")]
    pub kind: String,
    pub applied: u64,
    pub skipped: u64,
}

/// The chains one connection gets, one per direction.
pub struct Selected {
    pub upstream: Chain,
    pub downstream: Chain,
}

/// The toxics of one proxy target or TCP proxy listener.
pub struct Toxics {
    /// Some toxic is configured: the only check a connection pays otherwise.
    active: AtomicBool,
    list: RwLock<Vec<Arc<Toxic>>>,
    rng: Mutex<Rng>,
    counts: Mutex<BTreeMap<String, ToxicCount>>,
}

impl Default for Toxics {
    fn default() -> Toxics {
        Toxics {
            active: AtomicBool::new(false),
            list: RwLock::new(Vec::new()),
            rng: Mutex::new(Rng::from_entropy()),
            counts: Mutex::new(BTreeMap::new()),
        }
    }
}

impl Toxics {
    #[inline]
    pub fn active(&self) -> bool {
        self.active.load(Ordering::Relaxed)
    }

    /// Adds a toxic, replacing one of the same name; returns its name.
    pub fn add(&self, spec: ToxicSpec) -> Result<String, ToxicError> {
        let t = Arc::new(Toxic::new(spec)?);
        let name = t.spec.name.clone();
        let mut list = self.list.write();
        match list.iter().position(|x| x.spec.name == name) {
            Some(i) => list[i] = t,
            None => list.push(t),
        }
        self.active.store(true, Ordering::Relaxed);
        Ok(name)
    }

    /// Removes a toxic by name; false when there is none.
    pub fn remove(&self, name: &str) -> bool {
        let mut list = self.list.write();
        let before = list.len();
        list.retain(|t| t.spec.name != name);
        self.active.store(!list.is_empty(), Ordering::Relaxed);
        list.len() != before
    }

    pub fn clear(&self) {
        self.list.write().clear();
        self.active.store(false, Ordering::Relaxed);
    }

    pub fn specs(&self) -> Vec<ToxicSpec> {
        self.list.read().iter().map(|t| t.spec.clone()).collect()
    }

    pub fn counts(&self) -> BTreeMap<String, ToxicCount> {
        self.counts.lock().clone()
    }

    pub fn clear_counts(&self) {
        self.counts.lock().clear();
    }

    /// Restarts the toxicity draws from `seed` (reproducible runs).
    pub fn seed(&self, seed: u64) {
        *self.rng.lock() = Rng::seeded(seed);
    }

    /// Draws which toxics apply to one new connection (or request), by
    /// toxicity, and counts the draw.
    pub fn select(&self) -> Selected {
        let started = Instant::now();
        let mut rng = self.rng.lock();
        let mut up = Chain::new(rng.next_u64(), started);
        let mut down = Chain::new(rng.next_u64(), started);
        let list = self.list.read();
        let mut counts = self.counts.lock();
        for t in list.iter() {
            let hit = rng.unit() < t.spec.toxicity;
            let c = counts.entry(t.spec.name.clone()).or_default();
            c.kind.clone_from(&t.spec.kind);
            if hit {
                c.applied += 1;
                match t.spec.direction {
                    Direction::Upstream => up.add(&t.kind),
                    Direction::Downstream => down.add(&t.kind),
                }
            } else {
                c.skipped += 1;
            }
        }
        Selected {
            upstream: up,
            downstream: down,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: &str) -> ToxicSpec {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn parses_toxiproxy_attributes() {
        let t = Toxic::new(spec(
            r#"{"type":"latency","attributes":{"latency":100,"jitter":"5ms"}}"#,
        ))
        .unwrap();
        assert_eq!(t.spec.name, "latency_downstream");
        assert_eq!(
            t.kind,
            Kind::Latency {
                latency: Duration::from_millis(100),
                jitter: Duration::from_millis(5)
            }
        );
        let t = Toxic::new(spec(
            r#"{"name":"s","type":"slicer","stream":"upstream","attributes":{"average_size":10,"size_variation":2,"delay":50}}"#,
        ))
        .unwrap();
        assert_eq!(t.spec.direction, Direction::Upstream);
        assert_eq!(
            t.kind,
            Kind::Slicer {
                average: 10,
                variation: 2,
                delay: Duration::from_micros(50)
            }
        );
        let t = Toxic::new(spec(r#"{"type":"bandwidth","attributes":{"rate":64}}"#)).unwrap();
        assert_eq!(t.kind, Kind::Bandwidth { rate: 64_000 });
    }

    #[test]
    fn rejects_bad_toxics() {
        for j in [
            r#"{"type":"nope"}"#,
            r#"{"type":"bandwidth"}"#,
            r#"{"type":"latency","toxicity":1.5}"#,
            r#"{"type":"latency","attributes":{"latncy":5}}"#,
            r#"{"type":"latency","attributes":{"latency":-5}}"#,
            r#"{"type":"latency","attributes":{"latency":"fast"}}"#,
            r#"{"type":"slicer","attributes":{"average_size":4,"size_variation":4}}"#,
        ] {
            assert!(Toxic::new(spec(j)).is_err(), "{j}");
        }
        assert!(
            serde_json::from_str::<ToxicSpec>(r#"{"type":"latency","direction":"sideways"}"#)
                .is_err()
        );
    }

    #[test]
    fn toxicity_is_a_share_of_connections() {
        let set = Toxics::default();
        assert!(!set.active());
        set.add(spec(
            r#"{"name":"l","type":"latency","toxicity":0.1,"attributes":{"latency":1}}"#,
        ))
        .unwrap();
        assert!(set.active());
        set.seed(9);
        for _ in 0..10_000 {
            set.select();
        }
        let c = &set.counts()["l"];
        assert_eq!(c.applied + c.skipped, 10_000);
        assert!((900..=1_100).contains(&c.applied), "{c:?}");
        assert!(set.remove("l"));
        assert!(!set.remove("l"));
        assert!(!set.active());
    }
}
