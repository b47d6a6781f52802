//! State kept per listener port: its label and identity headers, and every
//! server-side feature's configuration (responder, and the areas added to it).

use std::sync::atomic::{AtomicBool, Ordering};

use http::HeaderValue;
use parking_lot::{Mutex, RwLock};

use crate::proxy::Proxy;
use crate::responder::state::Responder;
use crate::timeouts::TimeoutTracking;
use crate::tracking::HeaderTracking;
use crate::triggers::Triggers;

/// Label of a listener plus its prebuilt `Via-Goto` value.
pub struct Label {
    pub text: String,
    pub header: HeaderValue,
}

impl Label {
    pub fn new(text: &str) -> Result<Label, String> {
        let header = HeaderValue::from_str(text)
            .map_err(|_| format!("invalid label {text:?}: must be a valid header value"))?;
        Ok(Label {
            text: text.to_string(),
            header,
        })
    }
}

pub struct PortState {
    pub port: u16,
    pub label: RwLock<Label>,
    pub goto_host: HeaderValue,
    pub responder: Mutex<Responder>,
    /// Whether runtime requests on this port are logged (a copy of the startup flag).
    pub request_logs: AtomicBool,
    pub tracking: HeaderTracking,
    pub timeouts: TimeoutTracking,
    pub proxy: Proxy,
    pub triggers: Triggers,
}

impl PortState {
    pub fn new(port: u16, label: Label, goto_host: &str, request_logs: bool) -> PortState {
        PortState {
            port,
            label: RwLock::new(label),
            goto_host: HeaderValue::from_str(goto_host)
                .unwrap_or_else(|_| HeaderValue::from_static("goto")),
            responder: Mutex::new(Responder::new()),
            request_logs: AtomicBool::new(request_logs),
            tracking: HeaderTracking::default(),
            timeouts: TimeoutTracking::default(),
            proxy: Proxy::default(),
            triggers: Triggers::default(),
        }
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
