//! Opt-in protection of the admin API; runtime traffic is never checked.
//!
//! - `--admin-token`: every admin call needs `Authorization: Bearer TOKEN`
//!   (401 otherwise). goto's own calls to other instances (peer and registry)
//!   carry the same token ([`AdminSecurity::bearer`], given to their
//!   callers at startup), so a fleet shares one.
//! - `--admin-port`: the admin API is served on that listener only; on the
//!   others admin paths are runtime traffic like any other path.
//! - Always on: an admin mutation from a browser context (an `Origin` that
//!   does not match the `Host`) is refused (403): a web page cannot drive
//!   the API by cross-site POSTs. curl and goto send no `Origin`.
//! - `--allowed-hosts`: admin calls must name one of these hosts in `Host`
//!   (403 otherwise), against DNS rebinding. Off by default: in Kubernetes
//!   peers are reached by service names.

use http::header::{AUTHORIZATION, HOST, ORIGIN};
use http::{HeaderMap, HeaderValue, Method};

use crate::error::ApiError;

/// The admin API's protection, from the command line.
#[derive(Debug, Clone, Default)]
pub struct AdminSecurity {
    pub token: Option<String>,
    /// The only listener serving the admin API, when set.
    pub admin_port: Option<u16>,
    /// Lower-case host names (no port) admin calls may name; empty = any.
    pub allowed_hosts: Vec<String>,
}

impl AdminSecurity {
    /// Whether admin paths are served on `port` (else they are runtime).
    pub fn serves_admin(&self, port: u16) -> bool {
        self.admin_port.is_none_or(|p| p == port)
    }

    /// The `Authorization` value goto sends on its own admin calls.
    pub fn bearer(&self) -> Option<HeaderValue> {
        let t = self.token.as_deref()?;
        HeaderValue::from_str(&format!("Bearer {t}")).ok()
    }

    /// Checks one admin call; the error says why in one line.
    pub fn check(&self, method: &Method, headers: &HeaderMap) -> Result<(), ApiError> {
        if let Some(token) = &self.token {
            let given = headers
                .get(AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .map(str::trim);
            if !given.is_some_and(|g| same(g.as_bytes(), token.as_bytes())) {
                return Err(ApiError::Unauthorized(
                    "admin API: missing or wrong bearer token (Authorization: Bearer TOKEN)".into(),
                ));
            }
        }
        let host = headers
            .get(HOST)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !self.allowed_hosts.is_empty() {
            let name = host_name(host);
            if !self.allowed_hosts.iter().any(|h| h == &name) {
                return Err(ApiError::Forbidden(format!(
                    "admin API: host {name:?} is not in --allowed-hosts"
                )));
            }
        }
        let mutation = !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
        if mutation {
            if let Some(origin) = headers.get(ORIGIN) {
                let origin = origin.to_str().unwrap_or("null");
                let authority = origin.split_once("://").map_or("", |(_, a)| a);
                if !authority.eq_ignore_ascii_case(host) {
                    return Err(ApiError::Forbidden(format!(
                        "admin API: cross-site call refused (Origin {origin:?} does not match Host {host:?})"
                    )));
                }
            }
        }
        Ok(())
    }
}

/// Kubernetes probes (`GET /probes/readiness`, `/probes/liveness`), the
/// Dockerfile's HEALTHCHECK (`GET /health`) and `GET /version`: the kubelet
/// and Docker send no token and probe the pod's port, and none of these
/// reads carries data or changes anything, so they are served on every
/// listener without checks.
pub fn is_probe(method: &Method, path: &str) -> bool {
    matches!(*method, Method::GET | Method::HEAD)
        && matches!(
            path,
            "/probes/readiness" | "/probes/liveness" | "/health" | "/version"
        )
}

/// `host[:port]` or `[v6][:port]` -> the lower-case host.
fn host_name(host: &str) -> String {
    let h = host.trim();
    let name = if let Some(rest) = h.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        h.rsplit_once(':').map_or(h, |(n, _)| n)
    };
    name.to_ascii_lowercase()
}

/// Equal, in time that does not depend on where the first difference is.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn defaults_allow_curl_and_refuse_cross_site_mutations() {
        let s = AdminSecurity::default();
        let curl = headers(&[("host", "127.0.0.1:8080")]);
        assert!(s.check(&Method::POST, &curl).is_ok());
        let same_site = headers(&[("host", "h:8080"), ("origin", "http://h:8080")]);
        assert!(s.check(&Method::POST, &same_site).is_ok());
        let evil = headers(&[
            ("host", "127.0.0.1:8080"),
            ("origin", "http://evil.example"),
        ]);
        assert!(matches!(
            s.check(&Method::POST, &evil),
            Err(ApiError::Forbidden(_))
        ));
        // Reads are harmless without the reply, which the browser withholds.
        assert!(s.check(&Method::GET, &evil).is_ok());
        assert!(s.serves_admin(1) && s.bearer().is_none());
    }

    #[test]
    fn token_is_required_when_set() {
        let s = AdminSecurity {
            token: Some("s3cret".into()),
            ..Default::default()
        };
        let none = headers(&[("host", "h")]);
        assert!(matches!(
            s.check(&Method::GET, &none),
            Err(ApiError::Unauthorized(_))
        ));
        let wrong = headers(&[("host", "h"), ("authorization", "Bearer nope")]);
        assert!(s.check(&Method::GET, &wrong).is_err());
        let right = headers(&[("host", "h"), ("authorization", "Bearer s3cret")]);
        assert!(s.check(&Method::POST, &right).is_ok());
        assert_eq!(s.bearer().unwrap(), "Bearer s3cret");
    }

    #[test]
    fn allowed_hosts_and_admin_port() {
        let s = AdminSecurity {
            admin_port: Some(9000),
            allowed_hosts: vec!["localhost".into(), "::1".into()],
            ..Default::default()
        };
        assert!(s.serves_admin(9000) && !s.serves_admin(8080));
        for ok in ["localhost:8080", "LOCALHOST", "[::1]:9000"] {
            assert!(
                s.check(&Method::GET, &headers(&[("host", ok)])).is_ok(),
                "{ok}"
            );
        }
        let rebound = headers(&[("host", "attacker.example:8080")]);
        assert!(matches!(
            s.check(&Method::GET, &rebound),
            Err(ApiError::Forbidden(_))
        ));
    }
}
