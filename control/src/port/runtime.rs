//! The runtime path: every non-admin request on a listener. It takes the
//! port's decision (status, delay, payload, headers), waits out the delay,
//! and answers with the payload or an echo of the request, then logs it.

use std::sync::Arc;
use std::time::Duration;

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::request::Parts;
use http::{Response, StatusCode};
use hyper::body::Body as _;

use super::PortState;
use crate::body::{Body, InBody};
use crate::chaos::faults::body::{abort_response, drip_body, is_abort};
use crate::chaos::faults::FaultDraw;
use crate::proxy::client::is_hop_by_hop;
use crate::reqlog::RequestLog;
use crate::responder::state::{Decision, Route};
use crate::responder::ResponderError;

/// Echoed request bodies are kept up to this size; the rest is drained and counted.
const ECHO_BODY_LIMIT: usize = 64 * 1024;

pub static VIA_GOTO: HeaderName = HeaderName::from_static("via-goto");
pub static GOTO_HOST: HeaderName = HeaderName::from_static("goto-host");

fn route_of(path: &str) -> Result<Route, ResponderError> {
    if path == "/echo" || path == "/echo/" {
        return Ok(Route::Echo);
    }
    if let Some(code) = path.strip_prefix("/status/") {
        let code = code.trim_end_matches('/');
        return match code.parse::<u16>() {
            Ok(c) if (100..=599).contains(&c) => Ok(Route::Status(c)),
            _ => Err(ResponderError::StatusPath(code.to_string())),
        };
    }
    Ok(Route::CatchAll)
}

/// What the runtime path takes from the instance: its request log (when
/// `--request-logs` is on) and how long a request body may take to arrive.
#[derive(Clone, Copy)]
pub struct Instance<'a> {
    pub reqlog: Option<&'a RequestLog>,
    pub body_timeout: Duration,
    /// The client's address as text (rendered once per connection).
    pub remote_text: &'a str,
}

/// Serves one runtime request on `port`.
pub async fn serve(
    app: Instance<'_>,
    port: &Arc<PortState>,
    parts: Parts,
    body: InBody,
) -> Response<Body> {
    let resp = serve_parts(app, port, &parts, body).await;
    // The request's header map serves a later answer (or upstream request).
    crate::reuse::recycle(parts.headers);
    resp
}

async fn serve_parts(
    app: Instance<'_>,
    port: &Arc<PortState>,
    parts: &Parts,
    body: InBody,
) -> Response<Body> {
    // Each chaos feature is behind one atomic flag so an unconfigured port pays no lock.
    let plan = if port.faults.active() {
        match port.faults.draw(parts.uri.path(), &parts.headers) {
            // Closed before anything else: no answer, no proxying, no counts.
            Ok(p) if p.close => return abort_response(),
            Ok(p) => Some(p),
            Err(e) => {
                let mut resp = crate::body::text(StatusCode::BAD_REQUEST, e.to_string());
                stamp(port, resp.headers_mut());
                return resp;
            }
        }
    } else {
        None
    };
    let proxied = if port.proxy.active() {
        port.proxy
            .find(parts.uri.path(), parts.uri.query(), &parts.headers)
    } else {
        None
    };
    // Logs the request when finished below, or as given up if the client
    // goes first and hyper drops this future.
    let log_line = match app.reqlog {
        Some(log) if port.logs_on() => Some(log.begin(port.port, app.remote_text, parts)),
        _ => None,
    };
    let route = match route_of(parts.uri.path()) {
        Ok(r) => r,
        // A proxied path is the upstream's business, whatever it looks like here.
        Err(_) if proxied.is_some() => Route::CatchAll,
        Err(e) => {
            let mut resp = crate::body::text(StatusCode::BAD_REQUEST, e.to_string());
            stamp(port, resp.headers_mut());
            if let Some(l) = log_line {
                l.finish(400, resp.body().size_hint().exact());
            }
            return resp;
        }
    };
    // Held across the delay and the response: if the client closes the
    // connection first, hyper drops this future and the guard counts it.
    let timeout_guard = if port.timeouts.active() {
        port.timeouts.guard(&parts.headers)
    } else {
        None
    };
    let (decision, forced) = {
        let mut r = port.responder.lock();
        // Read under the decision's lock, so concurrent requests agree on who
        // consumed a `503:2`; bypassed URIs ignore the forced status.
        let fault = plan.as_ref().and_then(|p| p.status);
        let forced_pending = r.forced.is_some() || fault.is_some();
        let d = r.decide(
            parts.uri.path(),
            route,
            &parts.headers,
            proxied.is_some(),
            fault,
        );
        let forced = forced_pending && !d.bypassed;
        (d, forced)
    };
    let fault_delay = plan
        .as_ref()
        .and_then(|p| p.delay)
        .filter(|_| !decision.bypassed);
    // A fault's delay adds to the fixed one.
    let delay = decision.delay.unwrap_or_default() + fault_delay.unwrap_or_default();
    // Ends at the deadline (a plain tokio sleep ends ~1 ms late).
    crate::timer::sleep_for(delay).await;
    let resp = match proxied {
        // A forced status answers locally instead of forwarding (the seed's `503:2`).
        Some((target, m)) if !forced => {
            // Not boxed (an allocation a request): the forward's future is
            // small, its rare parts (connecting, toxics, https) boxed inside.
            let mut resp =
                crate::proxy::forward::forward(&port.proxy, target, m, parts, body).await;
            if is_abort(&resp) {
                return resp;
            }
            // Counted by what the upstream (or the 502 for it) answered.
            port.responder.lock().count_response(resp.status().as_u16());
            let h = resp.headers_mut();
            stamp(port, h);
            for (k, v) in decision.headers.iter() {
                h.insert(k.clone(), v.clone());
            }
            resp
        }
        _ => {
            let resp = respond(port, parts, body, route, decision, app).await;
            match plan {
                Some(p) => body_faults(resp, p),
                None => resp,
            }
        }
    };
    let status = resp.status().as_u16();
    if let Some(g) = timeout_guard {
        g.complete();
    }
    if port.tracking.active() {
        let requested = match route {
            Route::Status(c) => Some(c),
            _ => None,
        };
        port.tracking.record(&parts.headers, requested, status);
    }
    if port.triggers.active() {
        port.triggers.fire(status);
    }
    if let Some(l) = log_line {
        l.finish(status, resp.body().size_hint().exact());
    }
    resp
}

/// Replaces the body by the size fault's, and drips it.
fn body_faults(mut resp: Response<Body>, plan: FaultDraw) -> Response<Body> {
    if let Some(b) = plan.size {
        *resp.body_mut() = Body::from_bytes(b);
    }
    if let Some(d) = plan.drip {
        let body = std::mem::replace(resp.body_mut(), Body::empty());
        *resp.body_mut() = drip_body(body, d);
    }
    resp
}

async fn respond(
    port: &PortState,
    parts: &Parts,
    body: InBody,
    route: Route,
    decision: Decision,
    app: Instance<'_>,
) -> Response<Body> {
    let status = StatusCode::from_u16(decision.status).unwrap_or(StatusCode::OK);
    let mut resp = Response::new(Body::empty());
    *resp.status_mut() = status;
    *resp.headers_mut() = crate::reuse::header_map();
    let h = resp.headers_mut();
    let echo = matches!(route, Route::CatchAll | Route::Echo);
    if echo {
        copy_request_headers(&parts.headers, h);
    }
    stamp(port, h);
    for (k, v) in decision.headers.iter() {
        h.insert(k.clone(), v.clone());
    }
    match (decision.payload, route) {
        (Some((payload, ct)), r) if r != Route::Echo => {
            h.insert(header::CONTENT_TYPE, ct);
            *resp.body_mut() = Body::from_bytes(payload);
        }
        (_, Route::Status(code)) => {
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
            *resp.body_mut() = Body::from_bytes(format!("Requested status: {code}\n"));
        }
        _ => {
            let (req_body, total) = match body.read_capped(ECHO_BODY_LIMIT, app.body_timeout).await
            {
                Ok(read) => read,
                Err(mut refusal) => {
                    stamp(port, refusal.headers_mut());
                    return refusal;
                }
            };
            let out = crate::reuse::body_with(|s| {
                super::echo::write_echo(s, parts, &req_body, total, app.remote_text, port.port)
            });
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            *resp.body_mut() = Body::from_bytes(out);
        }
    }
    resp
}

fn stamp(port: &PortState, h: &mut HeaderMap) {
    port.stamp(h)
}

/// Not echoed: the body's own headers, hop-by-hop ones, and goto's identity
/// headers (this hop sets its own).
fn skip_echo(name: &HeaderName) -> bool {
    let n = name.as_str();
    n.starts_with("content-") || is_hop_by_hop(n) || matches!(n, "via-goto" | "goto-host")
}

/// Copies the request's headers back (all but Content-* and hop-by-hop).
fn copy_request_headers(req: &HeaderMap, out: &mut HeaderMap) {
    for (k, v) in req.iter() {
        if !skip_echo(k) {
            out.append(k.clone(), v.clone());
        }
    }
}

pub fn protocol(v: http::Version) -> &'static str {
    crate::textfmt::version_text(v)
}
