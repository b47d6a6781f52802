//! `/probes/...` (readiness and liveness, settable), `/health`, `/version`.

use std::time::Duration;

use http::StatusCode;
use serde_json::json as j;

use super::{BuildInfo, Probes};
use crate::api::{status_code, Req, Table};
use crate::body::{json, ok, text};
use crate::error::{ApiError, ApiResult};

/// What `/health` and `/version` report of the instance.
pub trait Identity: Sync + 'static {
    fn label(&self) -> &str;
    fn build(&self) -> &BuildInfo;
    fn uptime(&self) -> Duration;
    /// Why the `--data-dir` store is failing, if it is.
    fn store_failure(&self) -> Option<String>;
}

fn probe(p: &Probes, kind: &str) -> ApiResult {
    let probe = p
        .get(kind)
        .ok_or_else(|| ApiError::NotFound(format!("no probe {kind}")))?;
    let status = probe.hit();
    if kind == "readiness" {
        if let Some(why) = p.unready_reason() {
            return Ok(text(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("{kind}: 503 ({why})"),
            ));
        }
    }
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    Ok(text(code, format!("{kind}: {status}")))
}

fn set(p: &Probes, q: &Req<'_>, kind: &str) -> ApiResult {
    let code = status_code(q.param("code"), false)?;
    if let Some(probe) = p.get(kind) {
        probe.set(code);
    }
    Ok(ok(format!("{kind} probe will answer {code}")))
}

pub fn probes_table() -> Table<Probes> {
    Table::<Probes>::new("/probes")
        .get("/probes", |p, _| {
            Ok(json(&j!({
                "readiness": {"status": p.readiness.status(), "count": p.readiness.count()},
                "liveness": {"status": p.liveness.status(), "count": p.liveness.count()},
            })))
        })
        .get("/probes/readiness", |p, _| probe(p, "readiness"))
        .get("/probes/liveness", |p, _| probe(p, "liveness"))
        .post("/probes/readiness/set/status/{code}", |p, q| {
            set(p, q, "readiness")
        })
        .post("/probes/liveness/set/status/{code}", |p, q| {
            set(p, q, "liveness")
        })
}

/// `GET /health`: 200 while the server runs, whatever the chaos settings;
/// 503 while the `--data-dir` store is failing (its writes fail).
pub fn health_table<I: Identity>() -> Table<I> {
    Table::<I>::new("/health").get("/health", |app, _| {
        if let Some(why) = app.store_failure() {
            let mut r = json(&j!({
                "status": "failing",
                "store": why,
                "label": app.label(),
                "version": app.build().version,
                "uptimeSeconds": app.uptime().as_secs(),
            }));
            *r.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
            return Ok(r);
        }
        Ok(json(&j!({
            "status": "ok",
            "label": app.label(),
            "version": app.build().version,
            "uptimeSeconds": app.uptime().as_secs(),
        })))
    })
}

/// `GET /version`: version, git revision and build date.
pub fn version_table<I: Identity>() -> Table<I> {
    Table::<I>::new("/version").get("/version", |app, _| Ok(json(app.build())))
}
