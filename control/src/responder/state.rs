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
    /// answers it here.
    pub fn decide(
        &mut self,
        path: &str,
        route: Route,
        headers: &http::HeaderMap,
        proxied: bool,
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
