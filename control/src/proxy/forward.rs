//! Forwarding one matched request upstream: the request body streams through
//! (never buffered whole) and so does the upstream's response. With
//! `replicas` > 1 the body is read once (bounded) and sent as parallel copies;
//! the first answer wins and the others are drained so their connections
//! return to the pool.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderValue};
use http::request::Parts;
use http::uri::PathAndQuery;
use http::{Method, Request, Response, StatusCode, Uri};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;

use super::client::{copy_for_upstream, error_text, strip_hop_by_hop, HttpClient};
use super::error::OutboundError;
use super::target::{Matched, ProxyTarget};
use super::Proxy;
use crate::body::{text, Body, BoxError, InBody};

/// Largest request body copied to several replicas (it must be held in memory).
pub const REPLICA_BODY_LIMIT: usize = 16 * 1024 * 1024;

/// How many goto proxies one request may pass through; past it the request
/// is answered 508 (a target pointing back at its own port, or a cycle).
pub const MAX_PROXY_HOPS: u32 = 10;
/// Carries the hop count from one goto proxy to the next.
pub static PROXY_HOPS: header::HeaderName = header::HeaderName::from_static("goto-proxy-hops");

/// Why an upstream call failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendError {
    /// No response head within the call's timeout.
    Timeout(Duration),
    Failed(String),
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SendError::Timeout(d) => {
                write!(
                    f,
                    "no response within {}",
                    goto_engine::duration::format(*d)
                )
            }
            SendError::Failed(e) => f.write_str(e),
        }
    }
}

/// The hop count `n` as a header value; the counts a request can carry are
/// prebuilt (`HeaderValue::from(u32)` allocates).
fn hop_value(n: u32) -> HeaderValue {
    const TEXT: [&str; MAX_PROXY_HOPS as usize + 1] =
        ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10"];
    match TEXT.get(n as usize) {
        Some(t) => HeaderValue::from_static(t),
        None => HeaderValue::from(n),
    }
}

/// The hop count a request arrived with (0 from a client that is not goto).
pub fn hops(h: &HeaderMap) -> u32 {
    h.get(&PROXY_HOPS)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// Applies `removeHeaders` then `addHeaders` (captures filled).
pub fn apply_header_edits(t: &ProxyTarget, m: &Matched, h: &mut HeaderMap) {
    for n in &t.remove_headers {
        h.remove(n);
    }
    for (n, tpl) in &t.add_headers {
        // Captured text that is not a valid header value is skipped, not sent mangled.
        if let Ok(v) = HeaderValue::from_str(&tpl.fill(&m.captures, None)) {
            h.insert(n.clone(), v);
        }
    }
}

/// One upstream request over the shared pooled client; the response head
/// must come within `timeout` (the body then streams on its own).
pub async fn send(
    client: Result<&HttpClient, OutboundError>,
    method: Method,
    origin: &str,
    path_and_query: &str,
    headers: HeaderMap,
    body: Body,
    timeout: Duration,
) -> Result<Response<Incoming>, SendError> {
    let client = client.map_err(|e| SendError::Failed(e.to_string()))?;
    // Concatenated by hand and parsed in place: `format!` plus `parse` (a
    // copy) cost ~800 instructions a proxied request.
    let mut text = String::with_capacity(origin.len() + path_and_query.len());
    text.push_str(origin);
    text.push_str(path_and_query);
    let uri = http::Uri::try_from(text)
        .map_err(|e| SendError::Failed(format!("cannot build upstream URI: {e}")))?;
    let mut req = Request::new(body);
    *req.method_mut() = method;
    *req.uri_mut() = uri;
    *req.headers_mut() = headers;
    match tokio::time::timeout(timeout, client.request(req)).await {
        Ok(r) => r.map_err(|e| SendError::Failed(error_text(&e))),
        Err(_) => Err(SendError::Timeout(timeout)),
    }
}

/// One upstream request for `target`: over this thread's own pool for a
/// plain-http upstream, else over the shared client; the response head must
/// come within the target's timeout.
pub async fn send_target(
    proxy: &Proxy,
    target: &ProxyTarget,
    method: Method,
    path: PathAndQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<Response<Body>, SendError> {
    match &target.upstream {
        Some(up) if method != Method::CONNECT => {
            let mut req = Request::new(body);
            *req.method_mut() = method;
            *req.uri_mut() = Uri::from(path);
            *req.headers_mut() = headers;
            super::pool::request(up, req, target.timeout).await
        }
        // Boxed: the shared client's future is large and rarely taken here.
        _ => Box::pin(send(
            proxy.out.pick(target.spec.verify_tls),
            method,
            &target.origin,
            path.as_str(),
            headers,
            body,
            target.timeout,
        ))
        .await
        .map(|resp| {
            let (p, b) = resp.into_parts();
            Response::from_parts(
                p,
                Body::Stream(b.map_err(|e| Box::new(e) as BoxError).boxed_unsync()),
            )
        }),
    }
}

fn client_body(b: InBody) -> Body {
    match b {
        // Nothing to stream (a GET): no boxing.
        InBody::Stream(s) if hyper::body::Body::is_end_stream(&s) => Body::empty(),
        InBody::Stream(s) => Body::Stream(s.map_err(|e| Box::new(e) as BoxError).boxed_unsync()),
        InBody::Read(b) => Body::from_bytes(b),
        InBody::Piped(b) => b,
    }
}

fn too_large(target: &ProxyTarget, e: BoxError) -> Response<Body> {
    text(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!(
            "cannot copy request body to {} replicas: {e}",
            target.replicas
        ),
    )
}

/// Forwards a matched request, through the target's toxics when it has any;
/// answers the upstream's status, headers and (streamed) body, 502 with the
/// reason, 504 when the upstream does not answer in time, or 508 past
/// [`MAX_PROXY_HOPS`]. The caller adds this hop's headers.
pub async fn forward(
    proxy: &Arc<Proxy>,
    target: Arc<ProxyTarget>,
    m: Matched,
    parts: &Parts,
    body: InBody,
) -> Response<Body> {
    let hops = hops(&parts.headers);
    if hops >= MAX_PROXY_HOPS {
        return text(
            StatusCode::LOOP_DETECTED,
            format!(
                "proxy target {}: request already passed {hops} goto proxies (limit {MAX_PROXY_HOPS}): a proxy loop?",
                target.spec.name
            ),
        );
    }
    if proxy.toxics.active() {
        if let Some(set) = proxy.toxics.get(&target.spec.name) {
            // Boxed: rare, and inline it would grow every forward's future.
            return Box::pin(super::toxic::forward(
                proxy, &set, target, m, parts, body, hops,
            ))
            .await;
        }
    }
    forward_plain(proxy, target, m, parts, body, hops).await
}

/// [`forward`] past the hop check and the toxics; `hops` is the count the
/// request arrived with.
pub(super) async fn forward_plain(
    proxy: &Arc<Proxy>,
    target: Arc<ProxyTarget>,
    m: Matched,
    parts: &Parts,
    body: InBody,
    hops: u32,
) -> Response<Body> {
    let name = &target.spec.name;
    // The request's own path (a shared buffer) when nothing rewrites it.
    let path = match parts.uri.path_and_query() {
        Some(pq) if target.passes_path(parts.uri.query()) => pq.clone(),
        _ => {
            let p = target.upstream_path(parts.uri.path(), parts.uri.query(), &m);
            match PathAndQuery::try_from(p) {
                Ok(pq) => pq,
                Err(e) => {
                    return text(
                        StatusCode::BAD_GATEWAY,
                        format!(
                        "proxy target {name}: upstream {} failed: cannot build upstream URI: {e}",
                        target.spec.url
                    ),
                    )
                }
            }
        }
    };
    // A reused map; the copy leaves out hop-by-hop headers, Host (set from
    // the upstream URL), Expect (this hop answered any `100-continue`
    // itself) and the hop count (set below).
    let mut headers = crate::reuse::header_map();
    copy_for_upstream(&parts.headers, &mut headers, &PROXY_HOPS);
    headers.insert(PROXY_HOPS.clone(), hop_value(hops + 1));
    apply_header_edits(&target, &m, &mut headers);
    let result = if target.replicas <= 1 {
        proxy.invoked(name, 1);
        let r = send_target(
            proxy,
            &target,
            parts.method.clone(),
            path,
            headers,
            client_body(body),
        )
        .await;
        proxy.answered(name, r.as_ref().ok().map(|r| r.status().as_u16()));
        r
    } else {
        let bytes = match body {
            InBody::Read(b) => b,
            InBody::Stream(s) => match Limited::new(s, REPLICA_BODY_LIMIT).collect().await {
                Ok(c) => c.to_bytes(),
                Err(e) => return too_large(&target, e),
            },
            InBody::Piped(s) => match Limited::new(s, REPLICA_BODY_LIMIT).collect().await {
                Ok(c) => c.to_bytes(),
                Err(e) => {
                    return text(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        format!(
                            "cannot copy request body to {} replicas: {e}",
                            target.replicas
                        ),
                    )
                }
            },
        };
        Box::pin(fan_out(
            proxy,
            &target,
            parts.method.clone(),
            path,
            headers,
            bytes,
        ))
        .await
    };
    match result {
        Ok(mut resp) => {
            strip_hop_by_hop(resp.headers_mut());
            *resp.version_mut() = http::Version::HTTP_11;
            resp
        }
        Err(e) => text(
            match e {
                SendError::Timeout(_) => StatusCode::GATEWAY_TIMEOUT,
                SendError::Failed(_) => StatusCode::BAD_GATEWAY,
            },
            format!(
                "proxy target {name}: upstream {} failed: {e}",
                target.spec.url
            ),
        ),
    }
}

/// Sends `replicas` copies in parallel; the first answer is returned.
async fn fan_out(
    proxy: &Arc<Proxy>,
    target: &Arc<ProxyTarget>,
    method: Method,
    path: PathAndQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response<Body>, SendError> {
    let n = target.replicas as usize;
    let (tx, mut rx) = tokio::sync::mpsc::channel(n);
    let won = Arc::new(AtomicBool::new(false));
    proxy.invoked(&target.spec.name, n as u64);
    for _ in 0..n {
        let (proxy, target, won, tx) = (proxy.clone(), target.clone(), won.clone(), tx.clone());
        let (method, path, headers, body) =
            (method.clone(), path.clone(), headers.clone(), body.clone());
        tokio::spawn(async move {
            let r = send_target(
                &proxy,
                &target,
                method,
                path,
                headers,
                Body::from_bytes(body),
            )
            .await;
            proxy.answered(
                &target.spec.name,
                r.as_ref().ok().map(|r| r.status().as_u16()),
            );
            match r {
                Ok(resp) if won.swap(true, Ordering::AcqRel) => {
                    // A later answer: drain it so its connection goes back to the pool.
                    let _ = resp.into_body().collect().await;
                }
                other => {
                    let _ = tx.send(other).await;
                }
            }
        });
    }
    drop(tx);
    let mut last_err = SendError::Failed("no replica answered".into());
    while let Some(r) = rx.recv().await {
        match r {
            Ok(resp) => return Ok(resp),
            Err(e) => last_err = e,
        }
    }
    Err(last_err)
}
