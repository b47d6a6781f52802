//! The `/grpc/...` admin routes of a listener: health flips, gRPC faults,
//! user protos and their responses, counts.
//!
//! The server as a whole (health's empty service name) is spelt `-` in
//! `/grpc/health/{service}/set/...` (no proto name can be `-`), or left out:
//! `/grpc/health/set/{status}`.

use std::sync::Arc;

use super::chaos::{DelayFault, ResetFault, ShareFault, StatusFault};
use super::health;
use super::status;
use super::GrpcState;
use crate::api::{Req, Table};
use crate::body::{json, ok};
use crate::chaos::faults::spec::{percent, DelaySpec};
use crate::error::{ApiError, ApiResult};

fn bad(e: String) -> ApiError {
    ApiError::BadRequest(e)
}

/// `?method=/pkg.Svc/Method`, checked for its shape.
fn method(q: &Req<'_>) -> Result<Option<String>, ApiError> {
    match q.query("method") {
        None => Ok(None),
        Some(m) => {
            let ok = m
                .strip_prefix('/')
                .and_then(|r| r.split_once('/'))
                .is_some_and(|(s, n)| !s.is_empty() && !n.is_empty() && !n.contains('/'));
            if ok {
                Ok(Some(m))
            } else {
                Err(bad(format!(
                    "invalid method {m:?}: must be /package.Service/Method"
                )))
            }
        }
    }
}

fn for_method(m: &Option<String>) -> String {
    m.as_ref().map(|m| format!(" for {m}")).unwrap_or_default()
}

fn pct(q: &Req<'_>) -> Result<f64, ApiError> {
    Ok(percent(q.param("percent"))?)
}

fn set_health(g: &GrpcState, service: &str, st: &str) -> ApiResult {
    let s = health::parse_status(st)?;
    g.health.set(service, s)?;
    let shown = if service.is_empty() {
        "the server"
    } else {
        service
    };
    Ok(ok(format!(
        "Health of {shown} set to {}",
        health::status_name(s)
    )))
}

fn set_status(g: &GrpcState, q: &Req<'_>, share: Option<f64>) -> ApiResult {
    let spec = q.param("code");
    let (code, times) = match (share, spec.split_once(':')) {
        (None, Some((c, t))) => {
            let t: u32 =
                t.parse().ok().filter(|t| *t > 0).ok_or_else(|| {
                    bad(format!("invalid times {t:?}: must be a positive integer"))
                })?;
            (c, Some(t))
        }
        (Some(_), Some(_)) => {
            return Err(bad(
                "a status share takes no :times (use /grpc/status/set/{code}:{times})".into(),
            ))
        }
        (_, None) => (spec, None),
    };
    let code = status::parse(code)?;
    let m = method(q)?;
    let percent = share.unwrap_or(100.0);
    g.faults.set_status(StatusFault {
        code,
        message: q.query("message").unwrap_or_default(),
        times,
        percent,
        method: m.clone(),
    });
    let how = match times {
        Some(t) => format!("for the next {t} calls"),
        None => format!("for {percent}% of calls"),
    };
    Ok(ok(format!(
        "gRPC status {} {how}{}",
        status::name(code),
        for_method(&m)
    )))
}

fn set_delay(g: &GrpcState, q: &Req<'_>, share: f64) -> ApiResult {
    let d = DelaySpec::parse(q.param("delay"))?;
    let m = method(q)?;
    g.faults.set_delay(DelayFault {
        delay: d,
        percent: share,
        method: m.clone(),
    });
    Ok(ok(format!(
        "gRPC delay {d} for {share}% of calls{}",
        for_method(&m)
    )))
}

pub fn table() -> Table<Arc<GrpcState>> {
    Table::<Arc<GrpcState>>::new("/grpc")
        .get("/grpc/health", |g, _| Ok(json(&g.health.view())))
        .post("/grpc/health/set/{status}", |g, q| {
            set_health(g, "", q.param("status"))
        })
        .post("/grpc/health/{service}/set/{status}", |g, q| {
            let s = match q.param("service") {
                "-" => "",
                s => s,
            };
            set_health(g, s, q.param("status"))
        })
        .post("/grpc/status/set/{code}", |g, q| set_status(g, q, None))
        .post("/grpc/status/set/{code}/percent/{percent}", |g, q| {
            let p = pct(q)?;
            set_status(g, q, Some(p))
        })
        .post("/grpc/status/clear", |g, _| {
            g.faults.clear_status();
            Ok(ok("gRPC status cleared"))
        })
        .post("/grpc/delay/set/{delay}", |g, q| set_delay(g, q, 100.0))
        .post("/grpc/delay/set/{delay}/percent/{percent}", |g, q| {
            let p = pct(q)?;
            set_delay(g, q, p)
        })
        .post("/grpc/delay/clear", |g, _| {
            g.faults.clear_delay();
            Ok(ok("gRPC delay cleared"))
        })
        .post("/grpc/reset/set/{percent}", |g, q| {
            let p = pct(q)?;
            let m = method(q)?;
            let code = match q.query("code") {
                Some(c) => super::frame::parse_h2_code(&c)?,
                None => 8,
            };
            g.faults.set_reset(ResetFault {
                percent: p,
                method: m.clone(),
                code,
            });
            Ok(ok(format!(
                "gRPC stream resets ({}) for {p}% of calls{}",
                super::frame::h2_code_name(code),
                for_method(&m)
            )))
        })
        .post("/grpc/goaway/set/{percent}", |g, q| {
            let p = pct(q)?;
            let m = method(q)?;
            g.faults.set_goaway(ShareFault {
                percent: p,
                method: m.clone(),
            });
            Ok(ok(format!("GOAWAY after {p}% of calls{}", for_method(&m))))
        })
        .get("/grpc/faults", |g, _| Ok(json(&g.faults.view())))
        .post("/grpc/faults/clear", |g, _| {
            g.faults.clear();
            Ok(ok("gRPC faults cleared"))
        })
        .post("/grpc/faults/seed/{seed}", |g, q| {
            let s = q.param("seed");
            let seed: u64 = s.parse().map_err(|_| {
                bad(format!(
                    "invalid seed {s:?}: must be a non-negative integer"
                ))
            })?;
            g.faults.seed(seed);
            Ok(ok(format!("gRPC fault seed set to {seed}")))
        })
        .get("/grpc/faults/counts", |g, _| Ok(json(&g.faults.counts())))
        .post("/grpc/faults/counts/clear", |g, _| {
            g.faults.clear_counts();
            Ok(ok("gRPC fault counts cleared"))
        })
        .get("/grpc/protos", |g, _| Ok(json(&g.protos.read().view())))
        .post("/grpc/protos/add/{name}", |g, q| {
            let src = std::str::from_utf8(q.body)
                .map_err(|_| bad("the proto is not UTF-8 text".into()))?;
            if src.trim().is_empty() {
                return Err(bad("missing .proto text in the body".into()));
            }
            let services = g.protos.write().add(q.param("name"), src)?;
            g.health.add_serving(&services);
            Ok(json(&serde_json::json!({
                "file": super::descriptors::file_name(q.param("name")).unwrap_or_default(),
                "services": services,
            })))
        })
        .post("/grpc/protos/clear", |g, _| {
            g.protos.write().clear();
            Ok(ok("User protos cleared"))
        })
        .post("/grpc/responses/set/{service}/{method}", |g, q| {
            let path =
                g.protos
                    .write()
                    .set_response(q.param("service"), q.param("method"), q.body)?;
            Ok(ok(format!("Response of {path} set")))
        })
        .get("/grpc/counts", |g, _| Ok(json(&g.counts.view())))
        .post("/grpc/counts/clear", |g, _| {
            g.counts.clear();
            Ok(ok("gRPC counts cleared"))
        })
}
