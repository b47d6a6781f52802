//! The programmable responder: admin APIs for forced status, delay, headers,
//! payloads, URI bypass and URI counts, and the runtime path that applies them.

pub mod payload;
pub mod runtime;
pub mod state;

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderName, HeaderValue};
use serde_json::json;

use crate::admin::{self, Admin};
use crate::body::{json, ok};
use crate::duration;
use crate::error::{ApiError, ApiResult};
use state::Forced;

/// Routes `/response/...` and `/request/uri/...` admin calls; `None` if not ours.
pub async fn route(a: &Admin<'_>) -> Option<ApiResult> {
    match a.segs {
        ["response", "status", rest @ ..] => status_api(a, rest),
        ["response", "delay", rest @ ..] => delay_api(a, rest),
        ["response", "headers", rest @ ..] => headers_api(a, rest),
        ["response", "payload", rest @ ..] => payload_api(a, rest),
        ["request", "uri", "bypass", rest @ ..] => bypass_api(a, rest),
        ["request", "uri", "counts", rest @ ..] => uri_counts_api(a, rest),
        _ => None,
    }
}

fn status_api(a: &Admin<'_>, rest: &[&str]) -> Option<ApiResult> {
    let mut r = a.port.responder.lock();
    Some(match rest {
        ["set", spec] if a.is_mutation() => {
            let (code_s, times_s) = match spec.split_once(':') {
                Some((c, t)) => (c, Some(t)),
                None => (*spec, None),
            };
            let code = match admin::status_code(code_s, true) {
                Ok(c) => c,
                Err(e) => return Some(Err(e)),
            };
            let times = match times_s.map(str::parse::<u32>) {
                None => None,
                Some(Ok(t)) if t > 0 => Some(t),
                Some(_) => {
                    return Some(Err(ApiError::bad(format!(
                        "invalid times in {spec:?}: must be a positive integer"
                    ))))
                }
            };
            if code == 0 {
                r.forced = None;
                Ok(ok("Forced response status cleared"))
            } else {
                r.forced = Some(Forced {
                    status: code,
                    times,
                    remaining: times,
                });
                Ok(ok(match times {
                    Some(t) => format!("Will respond with forced status: {code} times {t}"),
                    None => format!("Will respond with forced status: {code}"),
                }))
            }
        }
        ["clear"] if a.is_mutation() => {
            r.forced = None;
            Ok(ok("Forced response status cleared"))
        }
        ["counts", "clear"] if a.is_mutation() => {
            r.counts_requested.clear();
            r.counts_response.clear();
            Ok(ok("Response status counts cleared"))
        }
        [] if a.is_get() => Ok(json(&json!({
            "status": r.forced.map(|f| f.status).unwrap_or(0),
            "times": r.forced.and_then(|f| f.times),
            "remaining": r.forced.and_then(|f| f.remaining),
        }))),
        ["counts"] if a.is_get() => Ok(json(&json!({
            "countsByRequestedStatus": r.counts_requested,
            "countsByResponseStatus": r.counts_response,
        }))),
        ["counts", code] if a.is_get() => match admin::status_code(code, false) {
            Ok(c) => Ok(json(&json!({
                "status": c,
                "requested": r.counts_requested.get(&c).copied().unwrap_or(0),
                "responded": r.counts_response.get(&c).copied().unwrap_or(0),
            }))),
            Err(e) => Err(e),
        },
        _ => return None,
    })
}

fn delay_api(a: &Admin<'_>, rest: &[&str]) -> Option<ApiResult> {
    let mut r = a.port.responder.lock();
    Some(match rest {
        ["set", d] if a.is_mutation() => match duration::parse(d) {
            Ok(d) if d.is_zero() => {
                r.delay = None;
                Ok(ok("Delay cleared"))
            }
            Ok(d) => {
                r.delay = Some(d);
                Ok(ok(format!(
                    "Will delay all responses by {}",
                    duration::format(d)
                )))
            }
            Err(e) => Err(ApiError::BadRequest(e)),
        },
        ["clear"] if a.is_mutation() => {
            r.delay = None;
            Ok(ok("Delay cleared"))
        }
        [] if a.is_get() => Ok(json(&json!({
            "delay": duration::format(r.delay.unwrap_or_default()),
        }))),
        _ => return None,
    })
}

/// Headers that delimit or manage the connection: set by hand they would
/// break every response of the port (an empty chunked body, a wrong length).
const FRAMING_HEADERS: &[&str] = &[
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "upgrade",
    "te",
    "trailer",
    "proxy-connection",
];

fn headers_api(a: &Admin<'_>, rest: &[&str]) -> Option<ApiResult> {
    let mut r = a.port.responder.lock();
    Some(match rest {
        ["add", name, value] if a.is_mutation() => {
            let n = match HeaderName::from_bytes(name.as_bytes()) {
                Ok(n) => n,
                Err(_) => return Some(Err(ApiError::bad(format!("invalid header name {name:?}")))),
            };
            if FRAMING_HEADERS.contains(&n.as_str()) {
                return Some(Err(ApiError::bad(format!(
                    "response header {name} frames the message: goto sets it itself"
                ))));
            }
            let v = match HeaderValue::from_str(value) {
                Ok(v) => v,
                Err(_) => {
                    return Some(Err(ApiError::bad(format!(
                        "invalid header value {value:?}"
                    ))))
                }
            };
            let mut list = (*r.headers).clone();
            list.retain(|(k, _)| *k != n);
            list.push((n, v));
            r.headers = Arc::new(list);
            Ok(ok(format!(
                "Response header [{name}: {value}] will be sent"
            )))
        }
        ["remove", name] if a.is_mutation() => {
            let mut list = (*r.headers).clone();
            let before = list.len();
            list.retain(|(k, _)| !k.as_str().eq_ignore_ascii_case(name));
            if list.len() == before {
                return Some(Err(ApiError::NotFound(format!(
                    "response header {name} not configured"
                ))));
            }
            r.headers = Arc::new(list);
            Ok(ok(format!("Response header [{name}] removed")))
        }
        ["clear"] if a.is_mutation() => {
            r.headers = Arc::new(Vec::new());
            Ok(ok("Response headers cleared"))
        }
        [] | ["list"] if a.is_get() => {
            let m: BTreeMap<&str, &str> = r
                .headers
                .iter()
                .map(|(k, v)| (k.as_str(), v.to_str().unwrap_or("")))
                .collect();
            Ok(json(&m))
        }
        _ => return None,
    })
}

fn payload_api(a: &Admin<'_>, rest: &[&str]) -> Option<ApiResult> {
    let body = Bytes::copy_from_slice(a.body);
    let ct = a.content_type();
    let mut r = a.port.responder.lock();
    Some(match rest {
        ["set", "default"] if a.is_mutation() => {
            let n = body.len();
            r.payloads.set_default(body, ct);
            Ok(ok(format!("Default payload set ({n} bytes)")))
        }
        ["set", "uri"] if a.is_mutation() => match a.query_param("uri") {
            None => Err(ApiError::bad("missing query parameter uri")),
            Some(uri) => match r.payloads.set_uri(&uri, body, ct) {
                Ok(()) => Ok(ok(format!("Payload set for URI {uri}"))),
                Err(e) => Err(ApiError::BadRequest(e)),
            },
        },
        ["set", "header", name] if a.is_mutation() => {
            if HeaderName::from_bytes(name.as_bytes()).is_err() {
                return Some(Err(ApiError::bad(format!("invalid header name {name:?}"))));
            }
            r.payloads.set_header(name, None, body, ct);
            Ok(ok(format!("Payload set for header {name}")))
        }
        ["set", "header", name, "value", value] if a.is_mutation() => {
            if HeaderName::from_bytes(name.as_bytes()).is_err() {
                return Some(Err(ApiError::bad(format!("invalid header name {name:?}"))));
            }
            r.payloads.set_header(name, Some(value), body, ct);
            Ok(ok(format!("Payload set for header {name} : {value}")))
        }
        ["clear"] if a.is_mutation() => {
            r.payloads = Default::default();
            Ok(ok("Response payloads cleared"))
        }
        [] if a.is_get() => {
            let p = &r.payloads;
            Ok(json(&json!({
                "default": p.default.as_ref().map(|(b, ct)| json!({
                    "contentType": ct,
                    "payload": String::from_utf8_lossy(b),
                })),
                "uris": p.uris,
                "headers": p.headers,
            })))
        }
        _ => return None,
    })
}

fn bypass_api(a: &Admin<'_>, rest: &[&str]) -> Option<ApiResult> {
    let mut r = a.port.responder.lock();
    let uri = a.query_param("uri");
    Some(match rest {
        ["add"] if a.is_mutation() => match uri {
            Some(u) if u.starts_with('/') => {
                if !r.bypass_uris.contains(&u) {
                    r.bypass_uris.push(u.clone());
                }
                Ok(ok(format!("URI {u} will bypass forced status and delay")))
            }
            _ => Err(ApiError::bad(
                "query parameter uri must be a path starting with '/'",
            )),
        },
        ["remove"] if a.is_mutation() => match uri {
            Some(u) => {
                let before = r.bypass_uris.len();
                r.bypass_uris.retain(|x| *x != u);
                if r.bypass_uris.len() == before {
                    Err(ApiError::NotFound(format!("bypass URI {u} not configured")))
                } else {
                    Ok(ok(format!("Bypass URI {u} removed")))
                }
            }
            None => Err(ApiError::bad("missing query parameter uri")),
        },
        ["clear"] if a.is_mutation() => {
            r.bypass_uris.clear();
            r.bypass_counts.clear();
            Ok(ok("Bypass URIs cleared"))
        }
        ["status", "set", code] if a.is_mutation() => match admin::status_code(code, false) {
            Ok(c) => {
                r.bypass_status = c;
                Ok(ok(format!("Bypass URIs will respond with status {c}")))
            }
            Err(e) => Err(e),
        },
        [] | ["list"] if a.is_get() => Ok(json(&json!({
            "uris": r.bypass_uris,
            "status": r.bypass_status,
        }))),
        ["status"] if a.is_get() => Ok(json(&json!({ "status": r.bypass_status }))),
        ["counts"] if a.is_get() => match uri {
            Some(u) => Ok(json(
                &json!({ u.clone(): r.bypass_counts.get(&u).copied().unwrap_or(0) }),
            )),
            None => Ok(json(&r.bypass_counts)),
        },
        _ => return None,
    })
}

fn uri_counts_api(a: &Admin<'_>, rest: &[&str]) -> Option<ApiResult> {
    let mut r = a.port.responder.lock();
    Some(match rest {
        [] if a.is_get() => Ok(json(&r.uri_counts)),
        ["enable"] if a.is_mutation() => {
            r.uri_counts_enabled = true;
            Ok(ok("URI counting enabled"))
        }
        ["disable"] if a.is_mutation() => {
            r.uri_counts_enabled = false;
            Ok(ok("URI counting disabled"))
        }
        ["clear"] if a.is_mutation() => {
            r.uri_counts.clear();
            Ok(ok("URI counts cleared"))
        }
        _ => return None,
    })
}
