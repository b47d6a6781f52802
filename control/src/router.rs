//! Splits admin calls from runtime traffic and dispatches admin calls to
//! their API area. Admin responses carry the identity headers too.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use http::{Request, Response};
use http_body_util::BodyExt;
use hyper::body::Incoming;

use crate::admin::{percent_decode, Admin};
use crate::body::Body;
use crate::error::ApiError;
use crate::port::PortState;
use crate::responder::runtime::{self, InBody};
use crate::{
    client, jobs, listeners, proxy, registry, responder, timeouts, tracking, triggers, App,
};

/// Largest admin request body accepted.
pub const ADMIN_BODY_LIMIT: usize = 4 * 1024 * 1024;

fn is_admin_area(first: &str) -> bool {
    matches!(
        first,
        "listeners" | "label" | "response" | "request" | "client" | "registry" | "jobs"
    )
}

pub async fn handle(
    app: &Arc<App>,
    port: &Arc<PortState>,
    remote: SocketAddr,
    req: Request<Incoming>,
) -> Response<Body> {
    let first = req
        .uri()
        .path()
        .trim_start_matches('/')
        .split('/')
        .next()
        .unwrap_or("");
    if !is_admin_area(first) || !app.cfg.security.serves_admin(port.port) {
        let (parts, body) = req.into_parts();
        return runtime::serve(app, port, remote, parts, InBody::Stream(body)).await;
    }
    let (parts, body) = req.into_parts();
    if let Err(e) = app.cfg.security.check(&parts.method, &parts.headers) {
        let mut r = e.into_response();
        runtime::stamp(port, r.headers_mut());
        return r;
    }
    let body = match read_admin_body(body, app.cfg.timeouts.body).await {
        Ok(b) => b,
        Err(err) => {
            let mut r = err.into_response();
            runtime::stamp(port, r.headers_mut());
            return r;
        }
    };
    let decoded: Vec<String> = parts
        .uri
        .path()
        .split('/')
        .filter(|s| !s.is_empty())
        .map(percent_decode)
        .collect();
    let segs: Vec<&str> = decoded.iter().map(String::as_str).collect();
    let a = Admin {
        app,
        port,
        method: &parts.method,
        segs: &segs,
        query: parts.uri.query(),
        headers: &parts.headers,
        body: &body,
    };
    let result = match segs.first().copied() {
        Some("listeners") | Some("label") => listeners::route(&a).await,
        Some("response") | Some("request") => {
            match responder::route(&a)
                .await
                .or_else(|| tracking::route(&a))
                .or_else(|| timeouts::route(&a))
            {
                Some(r) => Some(r),
                None => match proxy::route(&a).await {
                    Some(r) => Some(r),
                    None => triggers::route(&a).await,
                },
            }
        }
        Some("client") => client::route(&a).await,
        Some("registry") => match registry::route(&a).await {
            // A registry change is durable (with --data-dir) before it is acknowledged.
            Some(Ok(r)) if a.is_mutation() && r.status().is_success() => {
                Some(app.registry.save().map(|()| r))
            }
            other => other,
        },
        Some("jobs") => jobs::route(&a).await,
        _ => None,
    };
    match result {
        Some(r) => {
            let mut resp = r.unwrap_or_else(ApiError::into_response);
            runtime::stamp(port, resp.headers_mut());
            resp
        }
        // A wrong method or a malformed path inside an API area would
        // otherwise get the catch-all's 200 echo and look like success.
        None if owned_area(&segs) => {
            let mut resp = ApiError::NotFound(format!(
                "no API {} /{} (mutations take PUT or POST, queries GET)",
                parts.method,
                segs.join("/")
            ))
            .into_response();
            runtime::stamp(port, resp.headers_mut());
            resp
        }
        None => runtime::serve(app, port, remote, parts, InBody::Read(body)).await,
    }
}

/// Paths wholly owned by an admin API (client and registry answer their own
/// 404s). Other `/response/...` and `/request/...` paths stay runtime traffic.
fn owned_area(segs: &[&str]) -> bool {
    matches!(
        segs,
        ["listeners", ..]
            | ["label", ..]
            | ["jobs", ..]
            | [
                "response",
                "status" | "delay" | "headers" | "payload" | "trigger",
                ..
            ]
            | ["request", "uri", "bypass" | "counts", ..]
            | ["request", "headers", "track", ..]
            | ["request", "timeout" | "proxy", ..]
    )
}

/// Past the limit, this much more of an oversized body is read and dropped
/// (for at most [`DRAIN_TIME`]) before the 413 goes out: closing a socket
/// with unread data makes the kernel reset it, and the client would see a
/// reset instead of the reason. Beyond that the connection is cut.
const DRAIN_LIMIT: usize = 64 * 1024 * 1024;
const DRAIN_TIME: std::time::Duration = std::time::Duration::from_secs(5);

/// Reads an admin body of at most [`ADMIN_BODY_LIMIT`] bytes within `timeout`.
async fn read_admin_body(body: Incoming, timeout: std::time::Duration) -> Result<Bytes, ApiError> {
    match tokio::time::timeout(timeout, read_admin_body_now(body)).await {
        Ok(r) => r,
        Err(_) => Err(ApiError::Timeout(format!(
            "request body not received within {}",
            crate::duration::format(timeout)
        ))),
    }
}

async fn read_admin_body_now(mut body: Incoming) -> Result<Bytes, ApiError> {
    let mut buf = BytesMut::new();
    let mut over = false;
    let mut drained = 0usize;
    let deadline = tokio::time::Instant::now() + DRAIN_TIME;
    loop {
        let frame = if over {
            match tokio::time::timeout_at(deadline, body.frame()).await {
                Ok(f) => f,
                Err(_) => break,
            }
        } else {
            body.frame().await
        };
        let Some(frame) = frame else { break };
        let frame = frame.map_err(|e| ApiError::bad(format!("cannot read request body: {e}")))?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        if over {
            drained += data.len();
            if drained > DRAIN_LIMIT {
                break;
            }
        } else if buf.len() + data.len() > ADMIN_BODY_LIMIT {
            over = true;
            buf = BytesMut::new();
        } else {
            buf.extend_from_slice(&data);
        }
    }
    if over {
        return Err(ApiError::TooLarge(ADMIN_BODY_LIMIT));
    }
    Ok(buf.freeze())
}
