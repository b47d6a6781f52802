//! `grpc.health.v1.Health` state: a serving status per service name (the
//! empty name is the server as a whole), flipped over the admin API, and a
//! change counter that `Watch` streams wait on.

use std::collections::BTreeMap;

use super::GrpcError;
use parking_lot::Mutex;
use tokio::sync::watch;

pub const UNKNOWN: i32 = 0;
pub const SERVING: i32 = 1;
pub const NOT_SERVING: i32 = 2;
pub const SERVICE_UNKNOWN: i32 = 3;

/// Most service names the health table keeps.
pub(super) const MAX_SERVICES: usize = 1000;

pub struct Health {
    statuses: Mutex<BTreeMap<String, i32>>,
    changed: watch::Sender<u64>,
}

impl Default for Health {
    fn default() -> Health {
        let mut m = BTreeMap::new();
        m.insert(String::new(), SERVING);
        for s in super::descriptors::BUILTIN_SERVICES {
            m.insert(s.to_string(), SERVING);
        }
        Health {
            statuses: Mutex::new(m),
            changed: watch::channel(0).0,
        }
    }
}

/// `SERVING` or `NOT_SERVING` (any case) as the protocol's number.
pub fn parse_status(s: &str) -> Result<i32, GrpcError> {
    match s.to_ascii_uppercase().as_str() {
        "SERVING" => Ok(SERVING),
        "NOT_SERVING" => Ok(NOT_SERVING),
        _ => Err(GrpcError::HealthStatus(s.to_string())),
    }
}

pub fn status_name(s: i32) -> &'static str {
    match s {
        SERVING => "SERVING",
        NOT_SERVING => "NOT_SERVING",
        SERVICE_UNKNOWN => "SERVICE_UNKNOWN",
        _ => "UNKNOWN",
    }
}

impl Health {
    /// The status of `service`; `None` when it was never set or served.
    pub fn get(&self, service: &str) -> Option<i32> {
        self.statuses.lock().get(service).copied()
    }

    pub fn set(&self, service: &str, status: i32) -> Result<(), GrpcError> {
        {
            let mut m = self.statuses.lock();
            if !m.contains_key(service) && m.len() >= MAX_SERVICES {
                return Err(GrpcError::TooManyServices);
            }
            m.insert(service.to_string(), status);
        }
        self.changed.send_modify(|n| *n += 1);
        Ok(())
    }

    /// Adds services (a user proto's) as serving unless already known.
    pub fn add_serving(&self, services: &[String]) {
        {
            let mut m = self.statuses.lock();
            for s in services {
                if m.len() < MAX_SERVICES {
                    m.entry(s.clone()).or_insert(SERVING);
                }
            }
        }
        self.changed.send_modify(|n| *n += 1);
    }

    /// Notified on every change.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    pub fn view(&self) -> serde_json::Value {
        let m = self.statuses.lock();
        let o: serde_json::Map<String, serde_json::Value> = m
            .iter()
            .map(|(k, v)| (k.clone(), status_name(*v).into()))
            .collect();
        serde_json::Value::Object(o)
    }
}

/// Serves `Check` and `Watch`.
pub async fn serve(
    call: super::call::Call,
    method: &str,
    body: hyper::body::Incoming,
) -> http::Response<crate::body::Body> {
    use super::pb::{HealthCheckRequest, HealthCheckResponse};
    use super::status::{self, Status};
    use prost::Message as _;
    let req = match call.read_one(body).await {
        Ok(m) => HealthCheckRequest::decode(m).map_err(|e| {
            Status::new(
                status::INVALID_ARGUMENT,
                format!("cannot decode the request: {e}"),
            )
        }),
        Err(s) => Err(s),
    };
    let req = match req {
        Ok(r) => r,
        Err(s) => return call.fail(s),
    };
    match method {
        "Check" => {
            let r = match call.state.health.get(&req.service) {
                Some(s) => Ok(super::frame::encode(&HealthCheckResponse { status: s })),
                None => Err(Status::new(
                    status::NOT_FOUND,
                    format!("unknown service {:?}", req.service),
                )),
            };
            call.unary(r)
        }
        "Watch" => {
            let state = call.state.clone();
            call.streaming(move |sink| async move {
                let mut changes = state.health.subscribe();
                let mut last = None;
                loop {
                    let now = state.health.get(&req.service).unwrap_or(SERVICE_UNKNOWN);
                    if last != Some(now) {
                        sink.send(&HealthCheckResponse { status: now }).await?;
                        last = Some(now);
                    }
                    tokio::select! {
                        r = changes.changed() => if r.is_err() { return Ok(()) },
                        _ = sink.closed() => return Ok(()),
                    }
                }
            })
        }
        other => {
            let m = format!("grpc.health.v1.Health has no method {other}");
            call.fail(Status::new(status::UNIMPLEMENTED, m))
        }
    }
}
