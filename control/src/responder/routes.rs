//! The responder's admin routes: headers, payloads, URI bypass and URI
//! counts (`/response/...`, `/request/uri/...`). Its forced status and fixed
//! delay are set through the fault tables, which own `/response/status` and
//! `/response/delay` (their forms touch both).

use bytes::Bytes;
use parking_lot::Mutex;
use serde_json::json;

use super::state::Responder;
use crate::api::{header_name, status_code, Req, Table};
use crate::body::{json, ok};
use crate::error::{ApiError, ApiResult};

type R = Mutex<Responder>;

/// The responder's tables, on its per-port state.
pub fn tables() -> Vec<Table<R>> {
    vec![
        Table::<R>::new("/response/headers")
            .post("/response/headers/add/{header}/{value}", |r, q| {
                let (name, value) = (q.param("header"), q.param("value"));
                let n = header_name(name)?;
                let v = http::HeaderValue::from_str(value)
                    .map_err(|_| ApiError::bad(format!("invalid header value {value:?}")))?;
                r.lock().add_header(n, v)?;
                Ok(ok(format!(
                    "Response header [{name}: {value}] will be sent"
                )))
            })
            .post("/response/headers/remove/{header}", |r, q| {
                let name = q.param("header");
                if r.lock().remove_header(name) {
                    Ok(ok(format!("Response header [{name}] removed")))
                } else {
                    Err(ApiError::NotFound(format!(
                        "response header {name} not configured"
                    )))
                }
            })
            .post("/response/headers/clear", |r, _| {
                r.lock().clear_headers();
                Ok(ok("Response headers cleared"))
            })
            .get("/response/headers", list_headers)
            .get("/response/headers/list", list_headers),
        Table::<R>::new("/response/payload")
            .post("/response/payload/set/default", |r, q| {
                let n = q.body.len();
                r.lock()
                    .payloads
                    .set_default(Bytes::copy_from_slice(q.body), q.content_type());
                Ok(ok(format!("Default payload set ({n} bytes)")))
            })
            .post("/response/payload/set/uri", |r, q| {
                let uri = q.query_required("uri")?;
                r.lock().payloads.set_uri(
                    &uri,
                    Bytes::copy_from_slice(q.body),
                    q.content_type(),
                )?;
                Ok(ok(format!("Payload set for URI {uri}")))
            })
            .post("/response/payload/set/header/{header}", |r, q| {
                let name = q.param("header");
                header_name(name)?;
                let body = Bytes::copy_from_slice(q.body);
                r.lock()
                    .payloads
                    .set_header(name, None, body, q.content_type());
                Ok(ok(format!("Payload set for header {name}")))
            })
            .post(
                "/response/payload/set/header/{header}/value/{value}",
                |r, q| {
                    let (name, value) = (q.param("header"), q.param("value"));
                    header_name(name)?;
                    let body = Bytes::copy_from_slice(q.body);
                    r.lock()
                        .payloads
                        .set_header(name, Some(value), body, q.content_type());
                    Ok(ok(format!("Payload set for header {name} : {value}")))
                },
            )
            .post("/response/payload/clear", |r, _| {
                r.lock().payloads = Default::default();
                Ok(ok("Response payloads cleared"))
            })
            .get("/response/payload", |r, _| {
                let r = r.lock();
                let p = &r.payloads;
                Ok(json(&json!({
                    "default": p.default.as_ref().map(|(b, ct)| json!({
                        "contentType": ct,
                        "payload": String::from_utf8_lossy(b),
                    })),
                    "uris": p.uris,
                    "headers": p.headers,
                })))
            }),
        Table::<R>::new("/request/uri/bypass")
            .post("/request/uri/bypass/add", |r, q| match q.query("uri") {
                Some(u) if u.starts_with('/') => {
                    r.lock().add_bypass(u.clone());
                    Ok(ok(format!("URI {u} will bypass forced status and delay")))
                }
                _ => Err(ApiError::bad(
                    "query parameter uri must be a path starting with '/'",
                )),
            })
            .post("/request/uri/bypass/remove", |r, q| {
                let u = q.query_required("uri")?;
                if r.lock().remove_bypass(&u) {
                    Ok(ok(format!("Bypass URI {u} removed")))
                } else {
                    Err(ApiError::NotFound(format!("bypass URI {u} not configured")))
                }
            })
            .post("/request/uri/bypass/clear", |r, _| {
                r.lock().clear_bypass();
                Ok(ok("Bypass URIs cleared"))
            })
            .post("/request/uri/bypass/status/set/{code}", |r, q| {
                let c = status_code(q.param("code"), false)?;
                r.lock().bypass_status = c;
                Ok(ok(format!("Bypass URIs will respond with status {c}")))
            })
            .get("/request/uri/bypass", list_bypass)
            .get("/request/uri/bypass/list", list_bypass)
            .get("/request/uri/bypass/status", |r, _| {
                Ok(json(&json!({ "status": r.lock().bypass_status })))
            })
            .get("/request/uri/bypass/counts", |r, q| {
                let r = r.lock();
                Ok(match q.query("uri") {
                    Some(u) => {
                        let n = r.bypass_counts.get(&u).copied().unwrap_or(0);
                        json(&json!({ u: n }))
                    }
                    None => json(&r.bypass_counts),
                })
            }),
        Table::<R>::new("/request/uri/counts")
            .get("/request/uri/counts", |r, _| Ok(json(&r.lock().uri_counts)))
            .post("/request/uri/counts/enable", |r, _| {
                r.lock().uri_counts_enabled = true;
                Ok(ok("URI counting enabled"))
            })
            .post("/request/uri/counts/disable", |r, _| {
                r.lock().uri_counts_enabled = false;
                Ok(ok("URI counting disabled"))
            })
            .post("/request/uri/counts/clear", |r, _| {
                r.lock().uri_counts.clear();
                Ok(ok("URI counts cleared"))
            }),
    ]
}

/// `{code}` or `{code}:{times}`: forces a status (0 clears it).
fn list_headers(r: &R, _: &Req<'_>) -> ApiResult {
    Ok(json(&r.lock().header_view()))
}

fn list_bypass(r: &R, _: &Req<'_>) -> ApiResult {
    let r = r.lock();
    Ok(json(
        &json!({ "uris": r.bypass_uris, "status": r.bypass_status }),
    ))
}
