//! An HTTP/2 target prepared once per run: the request template (method,
//! `:scheme`, `:authority`, path, headers, body), the resolved address, the
//! TLS configuration (ALPN h2) and the tracked header names.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use goto_engine::http1::url::Url;
use goto_engine::{PlanError, TargetSpec, TlsConfig, TlsTarget};
use http::header::{HeaderName, HeaderValue, CONTENT_LENGTH, USER_AGENT};
use http::uri::{Authority, PathAndQuery, Scheme};
use http::{HeaderMap, Method, Request, Uri};
use parking_lot::Mutex;
use rustls::ClientConfig;

/// Request headers that HTTP/2 forbids (connection-specific); a target's
/// values for them are dropped rather than failing every request.
const CONNECTION_HEADERS: [&str; 5] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "upgrade",
];

/// A validated HTTP/2 target.
#[derive(Debug)]
pub(crate) struct H2Target {
    pub spec: TargetSpec,
    /// `None` when the host did not resolve: each request counts an error.
    pub addr: Option<SocketAddr>,
    pub tls: Option<TlsTarget>,
    /// Tracked response header names (lower-case, as reported).
    pub tracked: Vec<HeaderName>,
    method: Method,
    scheme: Scheme,
    authority: Authority,
    path: PathAndQuery,
    headers: HeaderMap,
    /// Header field bytes (names plus values) of one request, for byte counts.
    header_bytes: u64,
}

impl H2Target {
    /// Validates `spec` for HTTP/2 and resolves its host (blocking).
    pub(crate) fn prepare(spec: TargetSpec, tls: &TlsConfig) -> Result<H2Target, PlanError> {
        spec.validate()?;
        let url = Url::parse(&spec.url).map_err(|reason| PlanError::Url {
            url: spec.url.clone(),
            reason,
        })?;
        let method = Method::from_bytes(spec.method.trim().as_bytes())
            .map_err(|_| PlanError::Method(spec.method.clone()))?;
        let host_header = spec
            .headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("host"))
            .map(|(_, v)| v.trim().to_string());
        // A Host header becomes :authority, as HTTP/2 has no Host line.
        let authority_text = host_header.clone().unwrap_or_else(|| url.authority.clone());
        let authority = Authority::try_from(authority_text.as_str())
            .map_err(|_| PlanError::Header("Host".into(), "not a valid authority"))?;
        let path =
            PathAndQuery::try_from(url.path_and_query.as_str()).map_err(|_| PlanError::Url {
                url: spec.url.clone(),
                reason: "invalid path or query",
            })?;
        let headers = build_headers(&spec, &method)?;
        let header_bytes = headers
            .iter()
            .map(|(k, v)| (k.as_str().len() + v.len()) as u64)
            .sum::<u64>()
            + (method.as_str().len() + authority.as_str().len() + path.as_str().len()) as u64;
        let tls = if url.https {
            Some(TlsTarget {
                config: h2_client_config(tls, spec.verify_tls)?,
                server_name: goto_engine::tls_server_name(&url.host, host_header.as_deref())?,
            })
        } else {
            None
        };
        let mut tracked_names: Vec<String> = Vec::new();
        for h in &spec.track_headers {
            let lower = h.to_ascii_lowercase();
            if !tracked_names.contains(&lower) {
                tracked_names.push(lower);
            }
        }
        let tracked = tracked_names
            .iter()
            .map(|n| HeaderName::from_bytes(n.as_bytes()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| PlanError::TrackedHeader(tracked_names.join(",")))?;
        let addr = resolve(&url.host, url.port);
        Ok(H2Target {
            scheme: if url.https {
                Scheme::HTTPS
            } else {
                Scheme::HTTP
            },
            spec,
            addr,
            tls,
            tracked,
            method,
            authority,
            path,
            headers,
            header_bytes,
        })
    }

    /// A request to send (with a fresh `x-request-id` when the target asks).
    pub(crate) fn request(&self) -> Result<Request<()>, http::Error> {
        let path = if self.spec.send_id {
            let sep = if self.path.as_str().contains('?') {
                '&'
            } else {
                '?'
            };
            let id = uuid::Uuid::new_v4();
            PathAndQuery::try_from(format!("{}{sep}x-request-id={id}", self.path.as_str()))?
        } else {
            self.path.clone()
        };
        let uri = Uri::builder()
            .scheme(self.scheme.clone())
            .authority(self.authority.clone())
            .path_and_query(path)
            .build()?;
        let mut req = Request::builder()
            .method(self.method.clone())
            .uri(uri)
            .body(())?;
        *req.headers_mut() = self.headers.clone();
        Ok(req)
    }

    pub(crate) fn body(&self) -> &Bytes {
        &self.spec.body
    }

    /// Bytes of one request: header fields (uncompressed) plus body.
    pub(crate) fn request_bytes(&self) -> u64 {
        self.header_bytes + self.spec.body.len() as u64
    }
}

/// The target's headers as HTTP/2 sends them: lower-case names, no Host or
/// connection-specific fields, a User-Agent and Content-Length as the
/// HTTP/1.1 engine adds them.
fn build_headers(spec: &TargetSpec, method: &Method) -> Result<HeaderMap, PlanError> {
    let mut headers = HeaderMap::with_capacity(spec.headers.len() + 2);
    for (name, value) in &spec.headers {
        let lower = name.trim().to_ascii_lowercase();
        if lower == "host" || CONNECTION_HEADERS.contains(&lower.as_str()) {
            continue;
        }
        if lower == "te" && !value.trim().eq_ignore_ascii_case("trailers") {
            continue;
        }
        // The body's real length is what HTTP/2 frames carry; a stale
        // Content-Length would make the server reset every stream.
        if lower == "content-length" {
            continue;
        }
        let n = HeaderName::from_bytes(lower.as_bytes())
            .map_err(|_| PlanError::Header(name.clone(), "name is not a token"))?;
        let v = HeaderValue::from_str(value.trim())
            .map_err(|_| PlanError::Header(name.clone(), "invalid value"))?;
        headers.append(n, v);
    }
    if !headers.contains_key(USER_AGENT) {
        headers.insert(USER_AGENT, HeaderValue::from_static("goto"));
    }
    let expects_body = [Method::POST, Method::PUT, Method::PATCH].contains(method);
    if !spec.body.is_empty() || expects_body {
        headers.insert(CONTENT_LENGTH, HeaderValue::from(spec.body.len()));
    }
    Ok(headers)
}

/// Client configurations with ALPN h2, built once per (roots, verify) since
/// loading the system roots reads many files.
fn h2_client_config(tls: &TlsConfig, verify: bool) -> Result<Arc<ClientConfig>, PlanError> {
    type Key = (Vec<PathBuf>, bool, bool);
    static CACHE: Mutex<Vec<(Key, Arc<ClientConfig>)>> = Mutex::new(Vec::new());
    let key: Key = (tls.extra_roots.clone(), tls.use_system_roots, verify);
    let mut cache = CACHE.lock();
    if let Some((_, c)) = cache.iter().find(|(k, _)| *k == key) {
        return Ok(c.clone());
    }
    let c = goto_engine::client_config(tls, verify, &[b"h2"])?;
    cache.push((key, c.clone()));
    Ok(c)
}

/// First address of `host:port`, IPv4 preferred (as the engine resolves).
fn resolve(host: &str, port: u16) -> Option<SocketAddr> {
    let addrs: Vec<SocketAddr> = (host, port).to_socket_addrs().ok()?.collect();
    addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or_else(|| addrs.first())
        .copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(url: &str) -> TargetSpec {
        TargetSpec {
            name: "t".into(),
            url: url.into(),
            ..TargetSpec::default()
        }
    }

    #[test]
    fn host_header_becomes_authority_and_connection_headers_go() {
        let mut s = spec("http://127.0.0.1:9/p?a=1");
        s.method = "POST".into();
        s.body = Bytes::from_static(b"hello");
        s.send_id = true;
        s.headers = vec![
            ("Host".into(), "example.com:8080".into()),
            ("Connection".into(), "keep-alive".into()),
            ("X-A".into(), "1".into()),
            ("Content-Length".into(), "99".into()),
        ];
        let t = H2Target::prepare(s, &TlsConfig::default()).unwrap();
        let r = t.request().unwrap();
        assert_eq!(r.uri().authority().unwrap().as_str(), "example.com:8080");
        assert!(r
            .uri()
            .path_and_query()
            .unwrap()
            .as_str()
            .starts_with("/p?a=1&x-request-id="));
        assert!(r.headers().get("connection").is_none());
        assert!(r.headers().get("host").is_none());
        assert_eq!(r.headers()["x-a"], "1");
        assert_eq!(r.headers()["content-length"], "5");
        assert_eq!(r.method(), Method::POST);
    }

    #[test]
    fn bad_method_and_header_are_plan_errors() {
        let mut s = spec("http://127.0.0.1:9/");
        s.method = "B AD".into();
        assert!(H2Target::prepare(s, &TlsConfig::default()).is_err());
        let mut s = spec("http://127.0.0.1:9/");
        s.headers = vec![("x".into(), "a\u{1}b".into())];
        assert!(matches!(
            H2Target::prepare(s, &TlsConfig::default()),
            Err(PlanError::Header(..))
        ));
    }
}
