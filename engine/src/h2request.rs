//! The HTTP/2 request of a target, prepared once per run (pure, no I/O;
//! the HTTP/2 counterpart of `http1::request`): method, `:scheme`,
//! `:authority`, path and headers as the h2 codec takes them.
//! Each request is a cheap clone of these parts (reference-counted bytes);
//! only a request id, when the target sends one, is written per request.

use bytes::{Bytes, BytesMut};
use http::header::{HeaderName, HeaderValue, CONTENT_LENGTH, USER_AGENT};
use http::uri::{Authority, PathAndQuery, Scheme};
use http::{HeaderMap, Method, Request, Uri};

use crate::error::PlanError;
use crate::http1::request::write_request_id;
use crate::http1::url::Url;

/// Request headers that HTTP/2 forbids (connection-specific); a target's
/// values for them are dropped rather than failing every request.
const CONNECTION_HEADERS: [&str; 5] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "upgrade",
];

/// The query parameter that carries a request id.
const ID_PARAM: &str = "x-request-id=";
/// Length of a hyphenated UUID.
const ID_LEN: usize = 36;

/// What a target says about its request (the fields of a `TargetSpec`).
pub(crate) struct Parts<'a> {
    pub method: &'a str,
    /// The URL as given, for error messages.
    pub url: &'a str,
    pub headers: &'a [(String, String)],
    pub body: &'a Bytes,
    pub send_id: bool,
}

/// A validated HTTP/2 request template.
#[derive(Debug)]
pub struct H2Request {
    method: Method,
    scheme: Scheme,
    authority: Authority,
    path: PathAndQuery,
    /// With a request id: the path with a zeroed id, and where the id goes.
    id_path: Option<(Vec<u8>, usize)>,
    headers: HeaderMap,
    pub(crate) body: Bytes,
    /// Header field bytes (names plus values) and body of one request, for
    /// byte counts.
    pub(crate) request_bytes: u64,
}

impl H2Request {
    /// Builds the template; fails on what HTTP/2 cannot carry.
    pub(crate) fn prepare(spec: Parts<'_>, url: &Url) -> Result<H2Request, PlanError> {
        let method = Method::from_bytes(spec.method.trim().as_bytes())
            .map_err(|_| PlanError::Method(spec.method.to_string()))?;
        let host_header = spec
            .headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("host"))
            .map(|(_, v)| v.trim().to_string());
        // A Host header becomes :authority, as HTTP/2 has no Host line.
        let authority_text = host_header.unwrap_or_else(|| url.authority.clone());
        let authority = Authority::try_from(authority_text.as_str())
            .map_err(|_| PlanError::Header("Host".into(), "not a valid authority"))?;
        let bad_path = || PlanError::Url {
            url: spec.url.to_string(),
            reason: "invalid path or query",
        };
        let path = PathAndQuery::try_from(url.path_and_query.as_str()).map_err(|_| bad_path())?;
        let id_path = if spec.send_id {
            let sep = if path.as_str().contains('?') {
                '&'
            } else {
                '?'
            };
            let text = format!("{}{sep}{ID_PARAM}{}", path.as_str(), "0".repeat(ID_LEN));
            let at = text.len() - ID_LEN;
            PathAndQuery::try_from(text.as_str()).map_err(|_| bad_path())?;
            Some((text.into_bytes(), at))
        } else {
            None
        };
        let headers = build_headers(&spec, &method)?;
        let path_len = id_path
            .as_ref()
            .map_or(path.as_str().len(), |(p, _)| p.len());
        let header_bytes = headers
            .iter()
            .map(|(k, v)| (k.as_str().len() + v.len()) as u64)
            .sum::<u64>()
            + (method.as_str().len() + authority.as_str().len() + path_len) as u64;
        Ok(H2Request {
            scheme: if url.https {
                Scheme::HTTPS
            } else {
                Scheme::HTTP
            },
            method,
            authority,
            path,
            id_path,
            headers,
            body: spec.body.clone(),
            request_bytes: header_bytes + spec.body.len() as u64,
        })
    }

    /// A request to send; `random` feeds the request id when the target
    /// sends one.
    pub(crate) fn request(&self, random: impl FnOnce() -> u128) -> Request<()> {
        let path = match &self.id_path {
            None => self.path.clone(),
            Some((template, at)) => {
                let mut p = BytesMut::from(&template[..]);
                write_request_id(&mut p, *at, random());
                // The template was checked at prepare time and the id is
                // hex and hyphens, so this cannot fail; fall back to the
                // plain path rather than panic.
                PathAndQuery::from_maybe_shared(p.freeze()).unwrap_or_else(|_| self.path.clone())
            }
        };
        let mut parts = http::uri::Parts::default();
        parts.scheme = Some(self.scheme.clone());
        parts.authority = Some(self.authority.clone());
        parts.path_and_query = Some(path);
        let mut req = Request::new(());
        *req.method_mut() = self.method.clone();
        // Scheme, authority and path are all set, so this cannot fail.
        *req.uri_mut() = Uri::from_parts(parts).unwrap_or_default();
        *req.headers_mut() = self.headers.clone();
        req
    }
}

/// The target's headers as HTTP/2 sends them: lower-case names, no Host or
/// connection-specific fields, a User-Agent and Content-Length as the
/// HTTP/1.1 engine adds them.
fn build_headers(spec: &Parts<'_>, method: &Method) -> Result<HeaderMap, PlanError> {
    let mut headers = HeaderMap::with_capacity(spec.headers.len() + 2);
    for (name, value) in spec.headers {
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

#[cfg(test)]
mod tests {
    use super::*;

    struct Spec {
        method: String,
        url: String,
        headers: Vec<(String, String)>,
        body: Bytes,
        send_id: bool,
    }

    fn spec(url: &str) -> Spec {
        Spec {
            method: "GET".into(),
            url: url.into(),
            headers: Vec::new(),
            body: Bytes::new(),
            send_id: false,
        }
    }

    fn prepare(s: &Spec) -> Result<H2Request, PlanError> {
        let url = Url::parse(&s.url).map_err(|reason| PlanError::Url {
            url: s.url.clone(),
            reason,
        })?;
        let parts = Parts {
            method: &s.method,
            url: &s.url,
            headers: &s.headers,
            body: &s.body,
            send_id: s.send_id,
        };
        H2Request::prepare(parts, &url)
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
        let t = prepare(&s).unwrap();
        let r = t.request(|| 7);
        assert_eq!(r.uri().authority().unwrap().as_str(), "example.com:8080");
        let pq = r.uri().path_and_query().unwrap().as_str();
        assert!(pq.starts_with("/p?a=1&x-request-id="), "{pq}");
        assert_eq!(pq.len(), "/p?a=1&x-request-id=".len() + ID_LEN);
        assert_ne!(pq, t.request(|| 8).uri().path_and_query().unwrap().as_str());
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
        assert!(prepare(&s).is_err());
        let mut s = spec("http://127.0.0.1:9/");
        s.headers = vec![("x".into(), "a\u{1}b".into())];
        assert!(matches!(prepare(&s), Err(PlanError::Header(..))));
    }
}
