//! Per-port responder state: forced status, delay, custom headers, payloads,
//! URI bypass and URI counts, and the decision taken for each runtime request.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderName, HeaderValue};
use serde::Serialize;

use super::payload::Payloads;
use crate::bounded::bump;

/// A forced response status, for the next `times` requests or forever.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Forced {
    pub status: u16,
    pub times: Option<u32>,
    pub remaining: Option<u32>,
}

/// Headers a custom response header may not set.
const FRAMING_HEADERS: &[&str] = &[
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "upgrade",
    "te",
    "trailer",
    "proxy-connection",
];

#[derive(Default)]
pub struct Responder {
    pub forced: Option<Forced>,
    pub counts_requested: BTreeMap<u16, u64>,
    pub counts_response: BTreeMap<u16, u64>,
    pub delay: Option<Duration>,
    /// Shared so each response clones a pointer, not the list.
    pub headers: Arc<Vec<(HeaderName, HeaderValue)>>,
    pub payloads: Payloads,
    pub bypass_uris: Vec<String>,
    pub bypass_status: u16,
    pub bypass_counts: BTreeMap<String, u64>,
    pub uri_counts_enabled: bool,
    pub uri_counts: BTreeMap<String, u64>,
}

/// Which built-in runtime route a request took.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    CatchAll,
    Echo,
    Status(u16),
}

/// Everything the runtime path needs, taken under one short lock.
pub struct Decision {
    pub status: u16,
    pub delay: Option<Duration>,
    pub headers: Arc<Vec<(HeaderName, HeaderValue)>>,
    pub payload: Option<(Bytes, HeaderValue)>,
    pub bypassed: bool,
}

impl Responder {
    pub fn new() -> Responder {
        Responder {
            bypass_status: 200,
            ..Default::default()
        }
    }

    /// Decides status, delay and payload for one runtime request and updates
    /// counts. A request that will be `proxied` is counted by its upstream's
    /// status later ([`Responder::count_response`]), unless a forced status
    /// answers it here. A `fault` status (drawn by the port's faults) ranks
    /// below a bypass and a forced status, above the route's own.
    pub fn decide(
        &mut self,
        path: &str,
        route: Route,
        headers: &http::HeaderMap,
        proxied: bool,
        fault: Option<u16>,
    ) -> Decision {
        if self.uri_counts_enabled {
            bump(&mut self.uri_counts, path, "uri counts");
        }
        if let Route::Status(code) = route {
            *self.counts_requested.entry(code).or_default() += 1;
        }
        let bypassed = self.bypass_uris.iter().any(|u| u == path);
        let mut forced = false;
        let status = if bypassed {
            bump(&mut self.bypass_counts, path, "bypass counts");
            self.bypass_status
        } else if let Some(f) = self.take_forced() {
            forced = true;
            f
        } else if let Some(f) = fault {
            forced = true;
            f
        } else if let Route::Status(code) = route {
            code
        } else {
            200
        };
        if !proxied || forced {
            self.count_response(status);
        }
        Decision {
            status,
            delay: if bypassed { None } else { self.delay },
            headers: self.headers.clone(),
            payload: self.payloads.find(path, headers),
            bypassed,
        }
    }

    /// Forces `status` for the next `times` requests (forever without);
    /// 0 clears it.
    pub fn force(&mut self, status: u16, times: Option<u32>) {
        self.forced = (status != 0).then_some(Forced {
            status,
            times,
            remaining: times,
        });
    }

    pub fn clear_status_counts(&mut self) {
        self.counts_requested.clear();
        self.counts_response.clear();
    }

    /// Delays every response (zero clears it).
    pub fn set_delay(&mut self, d: Duration) {
        self.delay = (!d.is_zero()).then_some(d);
    }

    /// Sends `name: value` on every response (replacing an earlier value).
    /// Framing and hop-by-hop headers are refused: set by hand they would
    /// break every response of the port (an empty chunked body, a wrong
    /// length).
    pub fn add_header(
        &mut self,
        name: HeaderName,
        value: HeaderValue,
    ) -> Result<(), super::ResponderError> {
        if FRAMING_HEADERS.contains(&name.as_str()) {
            return Err(super::ResponderError::FramingHeader(name));
        }
        let mut list = (*self.headers).clone();
        list.retain(|(k, _)| *k != name);
        list.push((name, value));
        self.headers = Arc::new(list);
        Ok(())
    }

    /// Stops sending a header; false if it was not configured.
    pub fn remove_header(&mut self, name: &str) -> bool {
        let mut list = (*self.headers).clone();
        let before = list.len();
        list.retain(|(k, _)| !k.as_str().eq_ignore_ascii_case(name));
        let removed = list.len() != before;
        self.headers = Arc::new(list);
        removed
    }

    pub fn clear_headers(&mut self) {
        self.headers = Arc::new(Vec::new());
    }

    /// The configured response headers, by name.
    pub fn header_view(&self) -> BTreeMap<&str, &str> {
        self.headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.to_str().unwrap_or("")))
            .collect()
    }

    /// Makes `uri` bypass forced status and delay.
    pub fn add_bypass(&mut self, uri: String) {
        if !self.bypass_uris.contains(&uri) {
            self.bypass_uris.push(uri);
        }
    }

    /// False if `uri` was not a bypass URI.
    pub fn remove_bypass(&mut self, uri: &str) -> bool {
        let before = self.bypass_uris.len();
        self.bypass_uris.retain(|x| x != uri);
        self.bypass_uris.len() != before
    }

    pub fn clear_bypass(&mut self) {
        self.bypass_uris.clear();
        self.bypass_counts.clear();
    }

    pub fn count_response(&mut self, status: u16) {
        *self.counts_response.entry(status).or_default() += 1;
    }

    fn take_forced(&mut self) -> Option<u16> {
        let f = self.forced.as_mut()?;
        let status = f.status;
        if let Some(rem) = f.remaining.as_mut() {
            *rem = rem.saturating_sub(1);
            if *rem == 0 {
                self.forced = None;
            }
        }
        Some(status)
    }
}
