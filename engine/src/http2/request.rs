//! The HTTP/2 request of a target, prepared once per run (pure, no I/O;
//! the HTTP/2 counterpart of `http1::request`): method, `:scheme`,
//! `:authority`, path and headers validated, then encoded once into an
//! HPACK header block (static-table indexes and literals without indexing),
//! so a request is a copy of that block; only a request id, when the target
//! sends one, is written per request. A request without an id is also
//! encoded for the peer's dynamic table ([`Indexed`]: its fields indexed by
//! the first request on a connection, named by index after that), as
//! browsers, h2load and gRPC libraries send requests.

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue};
use http::uri::{Authority, PathAndQuery};
use http::Method;

use crate::error::PlanError;
use crate::http1::request::write_request_id;
use crate::http1::url::Url;
use crate::http2::codec::hpack::{put_field, Indexed};

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
/// The metadata field that carries a request id on a gRPC call.
const ID_HEADER: &[u8] = b"x-request-id";

/// What a target says about its request (the fields of a `TargetSpec`).
pub(crate) struct Parts<'a> {
    pub method: &'a str,
    /// The URL as given, for error messages.
    pub url: &'a str,
    pub headers: &'a [(String, String)],
    pub body: &'a Bytes,
    pub id: RequestId,
}

/// Where a request carries its per-request id, if it has one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RequestId {
    None,
    /// In the query (`x-request-id=`), as HTTP targets send it.
    Query,
    /// As an `x-request-id` header (gRPC metadata, where the path names
    /// the method and takes no query).
    Header,
}

/// A validated HTTP/2 request template.
#[derive(Debug)]
pub struct H2Request {
    /// The encoded header block.
    block: Vec<u8>,
    /// With a request id: where its 36 bytes sit in `block`.
    id_at: Option<usize>,
    /// Without a request id: the same fields for the peer's dynamic table.
    indexed: Option<Indexed>,
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
        let mut path_text = path.as_str().to_string();
        if spec.id == RequestId::Query {
            let sep = if path_text.contains('?') { '&' } else { '?' };
            path_text = format!("{path_text}{sep}{ID_PARAM}{}", "0".repeat(ID_LEN));
            PathAndQuery::try_from(path_text.as_str()).map_err(|_| bad_path())?;
        }
        let headers = build_headers(&spec, &method)?;
        let scheme = if url.https { "https" } else { "http" };
        let mut block = Vec::with_capacity(64 + path_text.len());
        put_field(&mut block, b":method", method.as_str().as_bytes());
        put_field(&mut block, b":scheme", scheme.as_bytes());
        put_field(&mut block, b":authority", authority.as_str().as_bytes());
        let path_at = put_field(&mut block, b":path", path_text.as_bytes());
        let id_at = match (spec.id, path_at) {
            (RequestId::Query, Some(at)) => Some(at + path_text.len() - ID_LEN),
            _ => None,
        };
        let mut header_bytes = 0u64;
        for (name, value) in &headers {
            put_field(&mut block, name.as_str().as_bytes(), value.as_bytes());
            header_bytes += (name.as_str().len() + value.len()) as u64;
        }
        // A fixed-width slot in a literal without indexing (the name is in
        // no static table entry), last in the block, so each request
        // rewrites the same 36 bytes of its own copy and the peer's table
        // never fills with ids.
        let id_at = if spec.id == RequestId::Header {
            header_bytes += (ID_HEADER.len() + ID_LEN) as u64;
            put_field(&mut block, ID_HEADER, &[b'0'; ID_LEN])
        } else {
            id_at
        };
        let indexed = (id_at.is_none()).then(|| {
            let mut fields: Vec<(&[u8], &[u8])> = vec![
                (b":method", method.as_str().as_bytes()),
                (b":scheme", scheme.as_bytes()),
                (b":authority", authority.as_str().as_bytes()),
                (b":path", path_text.as_bytes()),
            ];
            fields.extend(
                headers
                    .iter()
                    .map(|(n, v)| (n.as_str().as_bytes(), v.as_bytes())),
            );
            Indexed::new(&fields)
        });
        header_bytes += (method.as_str().len() + authority.as_str().len() + path_text.len()) as u64;
        Ok(H2Request {
            block,
            id_at,
            indexed,
            body: spec.body.clone(),
            request_bytes: header_bytes + spec.body.len() as u64,
        })
    }

    /// The encoded header block; a stream keeps its own copy and rewrites
    /// the id in it with [`H2Request::write_id`].
    pub(crate) fn block(&self) -> &[u8] {
        &self.block
    }

    /// The block's fields for the peer's dynamic table (no request id).
    pub(crate) fn indexed(&self) -> Option<&Indexed> {
        self.indexed.as_ref()
    }

    /// Whether each request needs a fresh id.
    pub(crate) fn sends_id(&self) -> bool {
        self.id_at.is_some()
    }

    /// Writes a new request id (from `random`) into a copy of the block.
    pub(crate) fn write_id(&self, block: &mut [u8], random: u128) {
        if let Some(at) = self.id_at {
            write_request_id(block, at, random);
        }
    }
}

/// The target's headers as HTTP/2 sends them: lower-case names, no Host or
/// connection-specific fields, a User-Agent and Content-Length as the
/// HTTP/1.1 engine adds them.
fn build_headers(
    spec: &Parts<'_>,
    method: &Method,
) -> Result<Vec<(HeaderName, HeaderValue)>, PlanError> {
    let mut headers = Vec::with_capacity(spec.headers.len() + 2);
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
        headers.push((n, v));
    }
    if !headers.iter().any(|(n, _)| n == http::header::USER_AGENT) {
        headers.push((http::header::USER_AGENT, HeaderValue::from_static("goto")));
    }
    let expects_body = [Method::POST, Method::PUT, Method::PATCH].contains(method);
    if !spec.body.is_empty() || expects_body {
        headers.push((
            http::header::CONTENT_LENGTH,
            HeaderValue::from(spec.body.len()),
        ));
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
        id_header: bool,
    }

    fn spec(url: &str) -> Spec {
        Spec {
            method: "GET".into(),
            url: url.into(),
            headers: Vec::new(),
            body: Bytes::new(),
            send_id: false,
            id_header: false,
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
            id: match (s.send_id, s.id_header) {
                (true, _) => RequestId::Query,
                (false, true) => RequestId::Header,
                (false, false) => RequestId::None,
            },
        };
        H2Request::prepare(parts, &url)
    }

    /// The fields of one request, decoded as a server would.
    struct Fields(Vec<(String, String)>);

    impl Fields {
        fn get(&self, name: &str) -> Option<&str> {
            self.0
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
        }
    }

    fn request(t: &H2Request, random: u128) -> Fields {
        let mut block = t.block().to_vec();
        t.write_id(&mut block, random);
        let mut out = Vec::new();
        crate::http2::codec::hpack::Decoder::new()
            .decode(&block, |n, v| {
                out.push((
                    String::from_utf8(n.to_vec()).unwrap(),
                    String::from_utf8(v.to_vec()).unwrap(),
                ))
            })
            .unwrap();
        Fields(out)
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
        let r = request(&t, 7);
        assert_eq!(r.get(":authority"), Some("example.com:8080"));
        let pq = r.get(":path").unwrap();
        assert!(pq.starts_with("/p?a=1&x-request-id="), "{pq}");
        assert_eq!(pq.len(), "/p?a=1&x-request-id=".len() + ID_LEN);
        assert_ne!(pq, request(&t, 8).get(":path").unwrap());
        assert!(r.get("connection").is_none());
        assert!(r.get("host").is_none());
        assert_eq!(r.get("x-a"), Some("1"));
        assert_eq!(r.get("content-length"), Some("5"));
        assert_eq!(r.get(":method"), Some("POST"));
        assert_eq!(r.get(":scheme"), Some("http"));
    }

    #[test]
    fn a_request_without_id_is_indexed_with_the_same_fields() {
        let mut s = spec("http://127.0.0.1:9/p");
        s.headers = vec![("x-a".into(), "1".into())];
        let t = prepare(&s).unwrap();
        let ix = t.indexed().unwrap();
        let want = request(&t, 0).0;
        let mut d = crate::http2::codec::hpack::Decoder::new();
        for block in [&ix.first, &ix.later, &ix.later] {
            let mut got = Vec::new();
            d.decode(block, |n, v| {
                got.push((
                    String::from_utf8(n.to_vec()).unwrap(),
                    String::from_utf8(v.to_vec()).unwrap(),
                ))
            })
            .unwrap();
            assert_eq!(got, want);
        }
        assert!(ix.later.len() < 8, "{:?}", ix.later);
        s.send_id = true;
        assert!(prepare(&s).unwrap().indexed().is_none());
    }

    #[test]
    fn an_id_header_is_a_literal_rewritten_per_request() {
        let mut s = spec("http://127.0.0.1:9/pkg.Svc/M");
        s.method = "POST".into();
        s.id_header = true;
        let t = prepare(&s).unwrap();
        assert!(t.sends_id() && t.indexed().is_none());
        let (a, b) = (request(&t, 7), request(&t, 8));
        assert_eq!(a.get(":path"), Some("/pkg.Svc/M"));
        let id = a.get("x-request-id").unwrap();
        assert_eq!(id.len(), ID_LEN);
        assert_ne!(Some(id), b.get("x-request-id"));
        // Literal without indexing, new name: 0x00, then the name.
        let at = t.block().len() - ID_LEN - 1 - 1 - ID_HEADER.len() - 1;
        assert_eq!(t.block()[at], 0);
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
