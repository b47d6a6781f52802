//! Forwarding through a target's toxics: the upstream chain delays (or cuts)
//! the request before it leaves and shapes its body; the downstream chain
//! does the same to the answer. A cut exchange closes the client's
//! connection unanswered, or mid-body once the head went out.

use std::sync::Arc;

use http::request::Parts;
use http::Response;

use super::forward::forward_plain;
use super::target::{Matched, ProxyTarget};
use super::Proxy;
use crate::body::{Body, InBody};
use crate::chaos::faults::body::abort_response;
use crate::chaos::toxics::ends::wrap_body;
use crate::chaos::toxics::http::wrap;
use crate::chaos::toxics::{Selected, Toxics};

pub async fn forward(
    proxy: &Arc<Proxy>,
    set: &Toxics,
    target: Arc<ProxyTarget>,
    m: Matched,
    parts: &Parts,
    body: InBody,
    hops: u32,
) -> Response<Body> {
    let Selected {
        mut upstream,
        mut downstream,
    } = set.select();
    let head = upstream.head();
    let body = if upstream.is_empty() {
        body
    } else {
        InBody::Piped(match body {
            InBody::Stream(s) => wrap_body(upstream, s),
            InBody::Read(b) => wrap(upstream, Body::from_bytes(b)),
            InBody::Piped(b) => wrap(upstream, b),
        })
    };
    if !head.wait().await {
        return abort_response();
    }
    let resp = forward_plain(proxy, target, m, parts, body, hops).await;
    if downstream.is_empty() {
        return resp;
    }
    // The body starts through the chain while the head waits its turn.
    let head = downstream.head();
    let (parts, body) = resp.into_parts();
    let body = wrap(downstream, body);
    if !head.wait().await {
        return abort_response();
    }
    Response::from_parts(parts, body)
}
