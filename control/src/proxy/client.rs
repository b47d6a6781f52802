//! The outbound HTTP/1.1 client (http and https) shared by the proxy,
//! triggers, jobs and the registry: pooled keep-alive hyper clients, one that
//! verifies https upstreams and one that does not, plus the header hygiene
//! of a hop.

use super::error::OutboundError;
use std::sync::Arc;
use std::time::Duration;

use http::header::{self, Entry, HeaderMap, HeaderName};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use rustls::ClientConfig;

use crate::body::Body;

pub type HttpClient = Client<HttpsConnector<HttpConnector>, Body>;

/// Builds a shared client: TCP_NODELAY (a proxy hop must not add Nagle
/// delays), bounded connect time, idle connections kept for reuse; https
/// with `tls` (its ALPN is set here: HTTP/1.1).
pub fn new_client(tls: &Arc<ClientConfig>) -> HttpClient {
    let mut conn = HttpConnector::new();
    conn.set_nodelay(true);
    conn.set_connect_timeout(Some(Duration::from_secs(10)));
    conn.enforce_http(false);
    let mut cfg = ClientConfig::clone(tls);
    cfg.alpn_protocols.clear();
    let https = HttpsConnectorBuilder::new()
        .with_tls_config(cfg)
        .https_or_http()
        .enable_http1()
        .wrap_connector(conn);
    Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(90))
        .pool_timer(TokioTimer::new())
        .build(https)
}

/// The two pooled clients: one verifying https certificates (system roots
/// and `--certs`; `Err` says why it could not be built), one not.
#[derive(Clone)]
pub struct Outbound {
    pub insecure: HttpClient,
    pub verifying: Result<HttpClient, OutboundError>,
}

impl Outbound {
    /// The client for a call: verifying or not; an error when verification
    /// is asked for and no roots could be loaded.
    pub fn pick(&self, verify: bool) -> Result<&HttpClient, OutboundError> {
        if verify {
            self.verifying.as_ref().map_err(Clone::clone)
        } else {
            Ok(&self.insecure)
        }
    }
}

/// An error and its causes on one line (`client error (Connect): tcp connect
/// error: Connection refused`): hyper's top-level message alone says little.
pub fn error_text(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let m = c.to_string();
        if !s.contains(&m) {
            s.push_str(": ");
            s.push_str(&m);
        }
        cur = c.source();
    }
    s
}

/// Headers that belong to one connection, not to the message (RFC 9110
/// 7.6.1): the one list for the proxy hop and the runtime echo.
#[inline]
pub fn is_hop_by_hop(name: &str) -> bool {
    matches!(
        name,
        "connection"
            | "keep-alive"
            | "proxy-connection"
            | "proxy-authenticate"
            | "proxy-authorization"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
    )
}

/// Whether a `Connection` header of `h` names `name` (RFC 9110 7.6.1).
fn connection_names(h: &HeaderMap, name: &str) -> bool {
    h.get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|n| n.trim().eq_ignore_ascii_case(name))
}

/// Removes hop-by-hop headers, including those the `Connection` header
/// names; allocates nothing (it runs on every proxied answer).
pub fn strip_hop_by_hop(h: &mut HeaderMap) {
    // One pass over the names says what there is to do: an answer usually
    // has a lone `Connection` and no other hop-by-hop header.
    let mut connection = false;
    let mut others = false;
    for k in h.keys() {
        if k == header::CONNECTION {
            connection = true;
        } else if is_hop_by_hop(k.as_str()) {
            others = true;
        }
    }
    if !connection {
        if others {
            remove_hop_by_hop(h);
        }
        return;
    }
    // A lone `Connection` is taken out whole (one lookup) and its names
    // removed; several are rare enough to collect.
    let lone = match h.entry(header::CONNECTION) {
        Entry::Occupied(e) if e.iter().nth(1).is_none() => Some(e.remove()),
        _ => None,
    };
    match lone {
        Some(v) => {
            let names = v.to_str().unwrap_or("");
            // What it names is seldom a header here: a scan of the few
            // names is cheaper than a lookup. `keep-alive` is left to the
            // sweep below (it is hop-by-hop itself).
            let mut drop_named = |n: &str| {
                let n = n.trim();
                if !n.is_empty()
                    && !n.eq_ignore_ascii_case("keep-alive")
                    && h.keys().any(|k| k.as_str().eq_ignore_ascii_case(n))
                {
                    h.remove(n);
                }
            };
            // Usually one name: no splitting.
            if names.as_bytes().contains(&b',') {
                names.split(',').for_each(drop_named);
            } else {
                drop_named(names);
            }
        }
        None => {
            let named: Vec<HeaderName> = h
                .get_all(header::CONNECTION)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .filter_map(|n| HeaderName::from_bytes(n.trim().as_bytes()).ok())
                .collect();
            for n in named {
                h.remove(n);
            }
            others = true;
        }
    }
    if others {
        remove_hop_by_hop(h);
    }
}

fn remove_hop_by_hop(h: &mut HeaderMap) {
    for n in HOP_BY_HOP {
        h.remove(*n);
    }
}

/// The names [`is_hop_by_hop`] matches.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Appends `from`'s headers to `to` for the next hop: not hop-by-hop ones
/// (nor those `Connection` names), `Host`, `Expect` or `skip`. Names and
/// values are shared, not copied.
pub fn copy_for_upstream(from: &HeaderMap, to: &mut HeaderMap, skip: &HeaderName) {
    let has_connection = from.contains_key(header::CONNECTION);
    for (k, v) in from.iter() {
        let n = k.as_str();
        if is_hop_by_hop(n)
            || k == header::HOST
            || k == header::EXPECT
            || k == skip
            || (has_connection && connection_names(from, n))
        {
            continue;
        }
        to.append(k.clone(), v.clone());
    }
}

/// Percent-encodes what may not appear raw in a URI path or query component.
pub fn encode_uri_part(s: &str, in_query: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        let keep = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'.'
                    | b'_'
                    | b'~'
                    | b'!'
                    | b'$'
                    | b'\''
                    | b'('
                    | b')'
                    | b'*'
                    | b','
                    | b';'
                    | b':'
                    | b'@'
                    | b'%'
            )
            || (!in_query && matches!(b, b'/' | b'&' | b'=' | b'+'));
        if keep {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_hop_by_hop_and_connection_named() {
        let mut h = HeaderMap::new();
        h.insert("connection", "keep-alive, x-private".parse().unwrap());
        h.insert("x-private", "1".parse().unwrap());
        h.insert("transfer-encoding", "chunked".parse().unwrap());
        h.insert("x-keep", "1".parse().unwrap());
        let mut copied = HeaderMap::new();
        copy_for_upstream(&h, &mut copied, &HeaderName::from_static("x-skip"));
        strip_hop_by_hop(&mut h);
        assert_eq!(h.len(), 1);
        assert!(h.contains_key("x-keep"));
        assert_eq!(copied, h);
        let mut two = HeaderMap::new();
        two.append("connection", "x-a".parse().unwrap());
        two.append("connection", "X-B".parse().unwrap());
        for n in ["x-a", "x-b", "x-c", "te", "host", "expect", "x-skip"] {
            two.insert(n, "1".parse().unwrap());
        }
        let mut copied = HeaderMap::new();
        copy_for_upstream(&two, &mut copied, &HeaderName::from_static("x-skip"));
        assert_eq!(copied.keys().collect::<Vec<_>>(), ["x-c"]);
        strip_hop_by_hop(&mut two);
        assert!(!two.contains_key("x-a") && !two.contains_key("x-b") && !two.contains_key("te"));
        assert!(two.contains_key("x-c") && two.contains_key("host"));
    }

    #[test]
    fn a_lone_connection_header_takes_what_it_names() {
        let mut h = HeaderMap::new();
        h.insert("connection", "Keep-Alive".parse().unwrap());
        h.insert("keep-alive", "timeout=5".parse().unwrap());
        h.insert("x-keep", "1".parse().unwrap());
        strip_hop_by_hop(&mut h);
        assert_eq!(h.keys().collect::<Vec<_>>(), ["x-keep"]);
        let mut h = HeaderMap::new();
        h.insert("connection", " close ".parse().unwrap());
        h.insert("close", "1".parse().unwrap());
        h.insert("x-keep", "1".parse().unwrap());
        strip_hop_by_hop(&mut h);
        assert_eq!(h.keys().collect::<Vec<_>>(), ["x-keep"]);
        let mut h = HeaderMap::new();
        h.insert("te", "trailers".parse().unwrap());
        h.insert("x-keep", "1".parse().unwrap());
        strip_hop_by_hop(&mut h);
        assert_eq!(h.keys().collect::<Vec<_>>(), ["x-keep"]);
    }

    #[test]
    fn encodes_query_values() {
        assert_eq!(encode_uri_part("a b&c=d", true), "a%20b%26c%3Dd");
        assert_eq!(encode_uri_part("/a b/c", false), "/a%20b/c");
    }
}
