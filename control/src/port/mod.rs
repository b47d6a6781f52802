//! State kept per listener port: its label and identity headers, every
//! server-side feature's state (responder, tracking, timeouts, proxy,
//! triggers), the runtime path that applies them to non-admin requests, and
//! the `/label` routes.

pub mod echo;
pub mod label;
pub mod metrics;
pub mod runtime;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use http::{HeaderMap, HeaderValue};
use parking_lot::{Mutex, RwLock};

use crate::chaos::faults::routes::FaultPort;
use crate::chaos::faults::Faults;
use crate::proxy::client::Outbound;
use crate::proxy::Proxy;
use crate::responder::Responder;
use crate::timeouts::TimeoutTracking;
use crate::tracking::HeaderTracking;
use crate::triggers::Triggers;

/// Label of a listener plus its prebuilt `Via-Goto` value.
pub struct Label {
    pub text: String,
    pub header: HeaderValue,
}

/// A label that cannot be sent in a header.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid label {0:?}: must be a valid header value")]
pub struct LabelError(pub String);

impl From<LabelError> for crate::error::ApiError {
    fn from(e: LabelError) -> crate::error::ApiError {
        crate::error::ApiError::BadRequest(e.to_string())
    }
}

impl Label {
    pub fn new(text: &str) -> Result<Label, LabelError> {
        let header = HeaderValue::from_str(text).map_err(|_| LabelError(text.to_string()))?;
        Ok(Label {
            text: text.to_string(),
            header,
        })
    }
}

pub struct PortState {
    pub port: u16,
    pub label: RwLock<Label>,
    /// What `/label/clear` goes back to: the instance's label.
    pub default_label: String,
    pub goto_host: HeaderValue,
    pub responder: Mutex<Responder>,
    /// Whether runtime requests on this port are logged (a copy of the startup flag).
    pub request_logs: AtomicBool,
    pub tracking: HeaderTracking,
    pub timeouts: TimeoutTracking,
    pub proxy: Arc<Proxy>,
    pub triggers: Triggers,
    pub faults: Faults,
    /// gRPC calls' health, protos, faults and counts.
    pub grpc: Arc<crate::grpc::GrpcState>,
    /// Connections open on this listener, refused and evicted at its
    /// `--max-conns` cap (read by `/metrics`).
    pub conns: crate::conn_cap::ConnCap,
}

impl FaultPort for PortState {
    fn faults(&self) -> &Faults {
        &self.faults
    }

    fn port_number(&self) -> u16 {
        self.port
    }

    fn set_fixed_delay(&self, d: std::time::Duration) {
        self.responder.lock().set_delay(d);
    }

    fn fixed_delay(&self) -> std::time::Duration {
        self.responder.lock().delay.unwrap_or_default()
    }

    fn clear_forced_status(&self) {
        self.responder.lock().force(0, None);
    }

    fn responder(&self) -> &parking_lot::Mutex<crate::responder::state::Responder> {
        &self.responder
    }
}

/// How a port is set up.
pub struct PortSetup<'a> {
    pub port: u16,
    pub label: Label,
    pub default_label: &'a str,
    pub goto_host: &'a str,
    pub request_logs: bool,
    pub out: Outbound,
}

impl PortState {
    pub fn new(s: PortSetup<'_>) -> PortState {
        PortState {
            port: s.port,
            label: RwLock::new(s.label),
            default_label: s.default_label.to_string(),
            goto_host: HeaderValue::from_str(s.goto_host)
                .unwrap_or_else(|_| HeaderValue::from_static("goto")),
            responder: Mutex::new(Responder::new()),
            request_logs: AtomicBool::new(s.request_logs),
            tracking: HeaderTracking::default(),
            timeouts: TimeoutTracking::default(),
            proxy: Arc::new(Proxy::new(s.out.clone())),
            triggers: Triggers::new(s.out),
            faults: Faults::default(),
            grpc: Arc::default(),
            conns: Default::default(),
        }
    }

    /// Adds this hop's identity headers (admin answers carry them too).
    #[inline]
    pub fn stamp(&self, h: &mut HeaderMap) {
        h.append(runtime::VIA_GOTO.clone(), self.via());
        h.insert(runtime::GOTO_HOST.clone(), self.goto_host.clone());
    }

    pub fn label_text(&self) -> String {
        self.label.read().text.clone()
    }

    pub fn via(&self) -> HeaderValue {
        self.label.read().header.clone()
    }

    pub fn logs_on(&self) -> bool {
        self.request_logs.load(Ordering::Relaxed)
    }
}
