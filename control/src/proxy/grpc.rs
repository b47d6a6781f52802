//! Forwarding a gRPC call that a proxy target matched: over HTTP/2 with
//! prior knowledge (h2c) end to end, both bodies streaming, the upstream's
//! headers, messages and trailers (with its `grpc-status`) passed back
//! untouched. The call's `grpc-timeout` bounds the wait for the upstream's
//! answer; the proxy's own failures are gRPC statuses (`UNAVAILABLE`,
//! `DEADLINE_EXCEEDED`), not HTTP error pages.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use http::header::{self, HeaderValue};
use http::request::Parts;
use http::{Request, Response};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use super::client::{error_text, strip_hop_by_hop};
use super::forward::{apply_header_edits, hops, MAX_PROXY_HOPS, PROXY_HOPS};
use super::target::{Matched, ProxyTarget};
use super::Proxy;
use crate::body::{Body, BoxError};
use crate::grpc::call::trailers_only;
use crate::grpc::status::{self, Status};

type H2Client = Client<HttpConnector, Body>;

/// One pooled h2c client for every gRPC upstream of the process.
fn h2c() -> &'static H2Client {
    static C: OnceLock<H2Client> = OnceLock::new();
    C.get_or_init(|| {
        let mut http = HttpConnector::new();
        http.set_nodelay(true);
        Client::builder(TokioExecutor::new())
            .http2_only(true)
            .build(http)
    })
}

/// `grpc-timeout`: digits then a unit (`H`, `M`, `S`, `m`, `u`, `n`).
pub fn grpc_timeout(v: &str) -> Option<Duration> {
    let v = v.trim();
    if v.len() < 2 || v.len() > 9 {
        return None;
    }
    let (n, unit) = v.split_at(v.len() - 1);
    let n: u64 = n.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(n.saturating_mul(3600)),
        "M" => Duration::from_secs(n.saturating_mul(60)),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}

/// Forwards a matched gRPC call; the caller adds this hop's headers.
pub async fn forward(
    proxy: &Arc<Proxy>,
    target: Arc<ProxyTarget>,
    m: Matched,
    parts: &Parts,
    body: Incoming,
) -> Response<Body> {
    let name = &target.spec.name;
    let hop = hops(&parts.headers);
    if hop >= MAX_PROXY_HOPS {
        return trailers_only(&Status::new(
            status::UNAVAILABLE,
            format!("proxy target {name}: the call already passed {hop} goto proxies (a loop?)"),
        ));
    }
    if !target.origin.starts_with("http://") {
        return trailers_only(&Status::new(
            status::UNIMPLEMENTED,
            format!("proxy target {name}: gRPC is forwarded to http:// (h2c) upstreams only"),
        ));
    }
    let path = target.upstream_path(parts.uri.path(), parts.uri.query(), &m);
    let mut headers = parts.headers.clone();
    strip_hop_by_hop(&mut headers);
    // gRPC's one hop-by-hop header that must reach the upstream.
    headers.insert(header::TE, HeaderValue::from_static("trailers"));
    headers.insert(PROXY_HOPS.clone(), HeaderValue::from(hop + 1));
    headers.remove(header::HOST);
    apply_header_edits(&target, &m, &mut headers);
    let deadline = parts
        .headers
        .get("grpc-timeout")
        .and_then(|v| v.to_str().ok())
        .and_then(grpc_timeout);
    let wait = deadline.map_or(target.timeout, |d| d.min(target.timeout));
    let uri = match http::Uri::try_from(format!("{}{}", target.origin, path)) {
        Ok(u) => u,
        Err(e) => {
            return trailers_only(&Status::new(
                status::INTERNAL,
                format!("proxy target {name}: cannot build the upstream URI: {e}"),
            ))
        }
    };
    let mut req = Request::new(Body::Stream(
        body.map_err(|e| Box::new(e) as BoxError).boxed_unsync(),
    ));
    *req.method_mut() = parts.method.clone();
    *req.uri_mut() = uri;
    *req.headers_mut() = headers;
    proxy.invoked(name, 1);
    let r = tokio::time::timeout(wait, h2c().request(req)).await;
    match r {
        Ok(Ok(resp)) => {
            proxy.answered(name, Some(resp.status().as_u16()));
            let (mut rp, rb) = resp.into_parts();
            strip_hop_by_hop(&mut rp.headers);
            Response::from_parts(
                rp,
                Body::Stream(rb.map_err(|e| Box::new(e) as BoxError).boxed_unsync()),
            )
        }
        Ok(Err(e)) => {
            proxy.answered(name, None);
            trailers_only(&Status::new(
                status::UNAVAILABLE,
                format!(
                    "proxy target {name}: upstream {} failed: {}",
                    target.spec.url,
                    error_text(&e)
                ),
            ))
        }
        Err(_) => {
            proxy.answered(name, None);
            trailers_only(&Status::new(
                status::DEADLINE_EXCEEDED,
                format!(
                    "proxy target {name}: upstream {} did not answer within {}",
                    target.spec.url,
                    goto_engine::duration::format(wait)
                ),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_timeouts_parse() {
        assert_eq!(grpc_timeout("5S"), Some(Duration::from_secs(5)));
        assert_eq!(grpc_timeout("100m"), Some(Duration::from_millis(100)));
        assert_eq!(grpc_timeout("1H"), Some(Duration::from_secs(3600)));
        assert_eq!(grpc_timeout("S"), None);
        assert_eq!(grpc_timeout("12x"), None);
        assert_eq!(grpc_timeout("1234567890S"), None);
    }
}
