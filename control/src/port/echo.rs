//! The catch-all's JSON echo of a request (method, URI, protocol, headers,
//! query, body, remote address, port), written by hand into one buffer: it
//! is the body of most runtime answers, and serde's map machinery plus
//! `Display` for the address cost more than hyper's whole parse of the
//! request. The bytes are the same as serializing the document with
//! `serde_json` (a test checks it).

#[cfg(test)]
use std::net::SocketAddr;

use http::request::Parts;
use http::HeaderMap;

use crate::api::query_decode;
use crate::textfmt::{header_text, push_json_str, push_u64, version_text};

/// The echo document of `parts` plus a newline. `body` is what was kept of
/// a request body of `body_len` bytes (the length shows when it was cut).
#[cfg(test)]
pub fn echo_json(
    parts: &Parts,
    body: &[u8],
    body_len: u64,
    remote: SocketAddr,
    port: u16,
) -> String {
    let mut s = String::with_capacity(160 + 48 * parts.headers.len() + body.len());
    let mut remote_text = String::new();
    crate::textfmt::push_socket_addr(&mut remote_text, remote);
    write_echo(&mut s, parts, body, body_len, &remote_text, port);
    s
}

/// The echo document appended to `s` (a reused buffer on the runtime
/// path); `remote` is the client's address as `Display` writes it.
pub fn write_echo(
    s: &mut String,
    parts: &Parts,
    body: &[u8],
    body_len: u64,
    remote: &str,
    port: u16,
) {
    // A method is a token (RFC 9110 5.6.2): nothing in it needs escaping.
    s.push_str("{\"method\":\"");
    s.push_str(parts.method.as_str());
    s.push_str("\",\"uri\":");
    let uri = parts
        .uri
        .path_and_query()
        .map(|pq| pq.as_str())
        .unwrap_or("/");
    push_json_str(s, uri);
    s.push_str(",\"protocol\":\"");
    s.push_str(version_text(parts.version));
    s.push_str("\",\"headers\":");
    push_headers(s, &parts.headers);
    s.push_str(",\"query\":{");
    if let Some(q) = parts.uri.query() {
        let mut first = true;
        for kv in q.split('&').filter(|kv| !kv.is_empty()) {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            if !first {
                s.push(',');
            }
            first = false;
            push_json_str(s, &query_decode(k));
            s.push(':');
            push_json_str(s, &query_decode(v));
        }
    }
    if body.is_empty() {
        s.push_str("},\"body\":\"\"");
    } else {
        s.push_str("},\"body\":");
        push_json_str(s, &String::from_utf8_lossy(body));
    }
    if body_len as usize != body.len() {
        s.push_str(",\"bodyLength\":");
        push_u64(s, body_len);
    }
    s.push_str(",\"remoteAddress\":\"");
    s.push_str(remote);
    s.push_str("\",\"port\":");
    push_u64(s, u64::from(port));
    s.push_str("}\n");
}

/// Headers as an object; a repeated name's values joined with ", ".
/// `HeaderMap::iter` yields a name's values one after another, so the
/// names are grouped without looking each one up again.
fn push_headers(s: &mut String, h: &HeaderMap) {
    s.push('{');
    let mut it = h.iter().peekable();
    let mut first_key = true;
    while let Some((k, v)) = it.next() {
        if !first_key {
            s.push(',');
        }
        first_key = false;
        // Header names are lowercase tokens: nothing to escape.
        s.push('"');
        s.push_str(k.as_str());
        s.push_str("\":");
        let value = header_text(v);
        if it.peek().is_none_or(|(next, _)| *next != k) {
            push_json_str(s, &value);
            continue;
        }
        let mut joined = value.into_owned();
        while let Some((_, v)) = it.next_if(|(next, _)| *next == k) {
            joined.push_str(", ");
            joined.push_str(&header_text(v));
        }
        push_json_str(s, &joined);
    }
    s.push('}');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::ser::{Serialize, SerializeMap, Serializer};
    use serde_json::Value;

    /// What the echo was before it was written by hand: serde's map.
    struct EchoDoc<'a> {
        parts: &'a Parts,
        body: &'a [u8],
        body_len: u64,
        remote: SocketAddr,
        port: u16,
    }

    struct HeadersJson<'a>(&'a HeaderMap);

    impl Serialize for HeadersJson<'_> {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let mut m = s.serialize_map(Some(self.0.keys_len()))?;
            for k in self.0.keys() {
                let mut vals = self.0.get_all(k).iter();
                let first = vals.next().map(|v| String::from_utf8_lossy(v.as_bytes()));
                match vals.next() {
                    None => m.serialize_entry(k.as_str(), &first)?,
                    Some(second) => {
                        let mut joined = first.map(|c| c.into_owned()).unwrap_or_default();
                        for v in std::iter::once(second).chain(vals) {
                            joined.push_str(", ");
                            joined.push_str(&String::from_utf8_lossy(v.as_bytes()));
                        }
                        m.serialize_entry(k.as_str(), &joined)?;
                    }
                }
            }
            m.end()
        }
    }

    struct QueryJson<'a>(Option<&'a str>);

    impl Serialize for QueryJson<'_> {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let mut m = s.serialize_map(None)?;
            if let Some(q) = self.0 {
                for kv in q.split('&').filter(|kv| !kv.is_empty()) {
                    let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                    m.serialize_entry(&query_decode(k), &query_decode(v))?;
                }
            }
            m.end()
        }
    }

    impl Serialize for EchoDoc<'_> {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let p = self.parts;
            let mut m = s.serialize_map(Some(8))?;
            m.serialize_entry("method", p.method.as_str())?;
            m.serialize_entry(
                "uri",
                p.uri.path_and_query().map(|pq| pq.as_str()).unwrap_or("/"),
            )?;
            m.serialize_entry("protocol", version_text(p.version))?;
            m.serialize_entry("headers", &HeadersJson(&p.headers))?;
            m.serialize_entry("query", &QueryJson(p.uri.query()))?;
            m.serialize_entry("body", &String::from_utf8_lossy(self.body))?;
            if self.body_len as usize != self.body.len() {
                m.serialize_entry("bodyLength", &self.body_len)?;
            }
            m.serialize_entry("remoteAddress", &self.remote.to_string())?;
            m.serialize_entry("port", &self.port)?;
            m.end()
        }
    }

    fn reference(
        parts: &Parts,
        body: &[u8],
        body_len: u64,
        remote: SocketAddr,
        port: u16,
    ) -> String {
        let doc = EchoDoc {
            parts,
            body,
            body_len,
            remote,
            port,
        };
        let mut out = serde_json::to_string(&doc).unwrap();
        out.push('\n');
        out
    }

    #[test]
    fn the_echo_is_what_serde_json_wrote() {
        let (parts, _) = http::Request::builder()
            .method("POST")
            .uri("/some/api?x=1&y=a+b%22&&flag&x=2")
            .header("host", "127.0.0.1:8080")
            .header("x-q", "say \"hi\"\\")
            .header("x-m", "1")
            .header("x-m", "2")
            .header("x-bin", http::HeaderValue::from_bytes(b"caf\xe9").unwrap())
            .body(())
            .unwrap()
            .into_parts();
        let remote: SocketAddr = "127.0.0.1:5555".parse().unwrap();
        for (body, len) in [
            (&b""[..], 0u64),
            (&b"{\"a\":\n1}"[..], 8),
            (&b"cut"[..], 70_000),
        ] {
            let got = echo_json(&parts, body, len, remote, 8080);
            assert_eq!(got, reference(&parts, body, len, remote, 8080));
            let v: Value = serde_json::from_str(&got).unwrap();
            assert_eq!(v["headers"]["x-m"], "1, 2");
            assert_eq!(v["query"]["y"], "a b\"");
        }
        let (get, _) = http::Request::builder()
            .uri("/")
            .body(())
            .unwrap()
            .into_parts();
        let v6: SocketAddr = "[::1]:9".parse().unwrap();
        assert_eq!(
            echo_json(&get, b"", 0, v6, 80),
            reference(&get, b"", 0, v6, 80)
        );
    }
}
