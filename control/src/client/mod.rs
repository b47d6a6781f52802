//! The client API (`/client/...`): targets, tracked headers, invocations on
//! the load engine, and results in the scenarios' shape.
//!
//! Anything that may block (starting the engine, resolving hosts, asking the
//! cores for their counters) runs on tokio's blocking pool so the control
//! thread keeps answering.

pub mod results;
pub mod state;
pub mod target;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use goto_engine::TargetStats;
use serde_json::{json, Map, Value};

use crate::admin::{self, Admin};
use crate::body::{json, ok};
use crate::error::{ApiError, ApiResult};
use crate::App;
pub use state::Client;
use target::Target;

/// Routes `/client/...` admin calls; `None` if not ours.
pub async fn route(a: &Admin<'_>) -> Option<ApiResult> {
    let app = a.app.clone();
    let mutation = a.is_mutation();
    let get = a.is_get();
    Some(match a.segs {
        ["client", "targets", "add"] if mutation => add_target(&app, a.body).await,
        ["client", "targets", "clear"] if mutation => clear_targets(&app),
        ["client", "targets"] | ["client", "targets", "list"] if get => Ok(list_targets(&app)),
        ["client", "targets", "active"] if get => active(&app).await,
        ["client", "targets", "invoke", "all"] if mutation => match blocking_override(a) {
            Ok(b) => invoke(&app, None, b).await,
            Err(e) => Err(e),
        },
        ["client", "targets", "stop", "all"] if mutation => stop(&app, None),
        ["client", "targets", names, "remove"] if mutation => remove_targets(&app, names),
        ["client", "targets", names, "invoke"] if mutation => match blocking_override(a) {
            Ok(b) => invoke(&app, Some(names), b).await,
            Err(e) => Err(e),
        },
        ["client", "targets", names, "stop"] if mutation => stop(&app, Some(names)),
        ["client", "blocking", "set", flag] if mutation => set_blocking(&app, flag),
        ["client", "blocking"] if get => Ok(json(&json!({
            "blocking": app.client.inner.lock().blocking
        }))),
        ["client", "track", "headers", "add", names] if mutation => track_add(&app, names),
        ["client", "track", "headers", "remove", names] if mutation => track_remove(&app, names),
        ["client", "track", "headers", "clear"] if mutation => {
            app.client.inner.lock().tracked.clear();
            Ok(ok("All tracking headers cleared"))
        }
        ["client", "track", "headers"] | ["client", "track", "headers", "list"] if get => {
            Ok(ok(app.client.inner.lock().tracked.join(",")))
        }
        ["client", "results"] if get => {
            let hist = a
                .query_param("histograms")
                .is_some_and(|v| matches!(v.as_str(), "Y" | "y" | "true" | "1"));
            results(&app, hist).await
        }
        ["client", "results", "invocations"] if get => invocation_results(&app).await,
        ["client", "results", "clear"] if mutation => {
            app.client.clear_results(None);
            Ok(ok("Results cleared"))
        }
        ["client", "results", names, "clear"] if mutation => clear_some_results(&app, names),
        ["client", ..] => Err(ApiError::NotFound(format!(
            "no client API {} /{}",
            a.method,
            a.segs.join("/")
        ))),
        _ => return None,
    })
}

/// Runs blocking work off the control thread.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::Unavailable(format!("internal task failed: {e}")))?
}

async fn add_target(app: &Arc<App>, body: &[u8]) -> ApiResult {
    let t = Target::from_json(body)?;
    let echo = t.echo();
    let auto = t.auto_invoke();
    {
        let mut inner = app.client.inner.lock();
        match inner.targets.iter_mut().find(|x| x.name() == t.name()) {
            Some(slot) => *slot = t.clone(),
            None => inner.targets.push(t.clone()),
        }
    }
    if auto {
        let tracked = app.client.inner.lock().tracked.clone();
        let a2 = app.clone();
        blocking(move || a2.client.invoke(vec![t], &tracked)).await?;
    }
    Ok(ok(format!("Added target: {echo}")))
}

fn clear_targets(app: &Arc<App>) -> ApiResult {
    app.client.inner.lock().targets.clear();
    Ok(ok("Targets cleared"))
}

fn list_targets(app: &Arc<App>) -> http::Response<crate::body::Body> {
    let inner = app.client.inner.lock();
    let mut m = Map::new();
    for t in &inner.targets {
        m.insert(
            t.name().to_string(),
            serde_json::to_value(&t.input).unwrap_or(Value::Null),
        );
    }
    json(&Value::Object(m))
}

/// Resolves a comma list of target names; unknown ones are a 404.
fn named(app: &Arc<App>, names: &str) -> Result<Vec<Target>, ApiError> {
    let wanted = admin::list(names);
    if wanted.is_empty() {
        return Err(ApiError::bad("no target names given"));
    }
    let inner = app.client.inner.lock();
    let mut out = Vec::with_capacity(wanted.len());
    let mut missing = Vec::new();
    for w in &wanted {
        match inner.targets.iter().find(|t| t.name() == w) {
            Some(t) => out.push(t.clone()),
            None => missing.push(w.as_str()),
        }
    }
    if !missing.is_empty() {
        return Err(ApiError::NotFound(format!(
            "no such target: {}",
            missing.join(",")
        )));
    }
    Ok(out)
}

fn remove_targets(app: &Arc<App>, names: &str) -> ApiResult {
    let ts = named(app, names)?;
    let mut inner = app.client.inner.lock();
    inner
        .targets
        .retain(|t| !ts.iter().any(|r| r.name() == t.name()));
    let removed: Vec<&str> = ts.iter().map(Target::name).collect();
    Ok(ok(format!("Targets removed: {}", removed.join(","))))
}

/// `?blocking=Y|N` on an invoke call overrides the blocking flag for that
/// call only (a registry fanning out must not wait for the traffic to end).
fn blocking_override(a: &Admin<'_>) -> Result<Option<bool>, ApiError> {
    match a.query_param("blocking").as_deref() {
        None => Ok(None),
        Some("Y" | "y" | "true" | "1") => Ok(Some(true)),
        Some("N" | "n" | "false" | "0") => Ok(Some(false)),
        Some(v) => Err(ApiError::bad(format!(
            "invalid blocking flag {v:?}: use Y or N"
        ))),
    }
}

async fn invoke(app: &Arc<App>, names: Option<&str>, block_now: Option<bool>) -> ApiResult {
    let targets = match names {
        Some(n) => named(app, n)?,
        None => app.client.inner.lock().targets.clone(),
    };
    if targets.is_empty() {
        return Err(ApiError::bad("no targets to invoke"));
    }
    let (tracked, block) = {
        let inner = app.client.inner.lock();
        (inner.tracked.clone(), block_now.unwrap_or(inner.blocking))
    };
    let a2 = app.clone();
    let id = blocking(move || a2.client.invoke(targets, &tracked)).await?;
    if !block {
        return Ok(ok("Targets invoked"));
    }
    let inv = app.client.inner.lock().invocations.get(&id).cloned();
    let Some(inv) = inv else {
        return Ok(ok("Targets invoked"));
    };
    // Polling keeps the control thread free; if the caller hangs up, hyper
    // drops this future and the traffic goes on unwatched.
    while !inv.lock().is_finished() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let doc = blocking(move || {
        let mut g = inv.lock();
        let stats = g.snapshot();
        let mut doc = results::document(&stats, &g.meta, false);
        doc.insert("invocation".into(), Value::from(g.id));
        Ok(doc)
    })
    .await?;
    Ok(json(&Value::Object(doc)))
}

fn stop(app: &Arc<App>, names: Option<&str>) -> ApiResult {
    let names: Option<Vec<String>> = match names {
        Some(n) => Some(
            named(app, n)?
                .iter()
                .map(|t| t.name().to_string())
                .collect(),
        ),
        None => None,
    };
    for inv in app.client.invocations() {
        let mut g = inv.lock();
        match &names {
            None => g.stop_all(),
            Some(ns) => ns.iter().for_each(|n| g.stop_target(n)),
        }
    }
    Ok(ok("Targets stopped"))
}

fn set_blocking(app: &Arc<App>, flag: &str) -> ApiResult {
    let on = match flag {
        "Y" | "y" | "true" | "1" => true,
        "N" | "n" | "false" | "0" => false,
        _ => {
            return Err(ApiError::bad(format!(
                "invalid blocking flag {flag:?}: use Y or N"
            )))
        }
    };
    app.client.inner.lock().blocking = on;
    Ok(ok(if on {
        "Invocation will block for results"
    } else {
        "Invocation will not block for results"
    }))
}

/// Header names as the client API accepts them (RFC 9110 tokens), lower-cased.
pub(crate) fn header_names(names: &str) -> Result<Vec<String>, ApiError> {
    let list = admin::list(names);
    if list.is_empty() {
        return Err(ApiError::bad("no header names given"));
    }
    for h in &list {
        if !h
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
        {
            return Err(ApiError::bad(format!("invalid header name {h:?}")));
        }
    }
    Ok(list.into_iter().map(|h| h.to_ascii_lowercase()).collect())
}

fn track_add(app: &Arc<App>, names: &str) -> ApiResult {
    let list = header_names(names)?;
    let mut inner = app.client.inner.lock();
    for h in &list {
        if !inner.tracked.contains(h) {
            inner.tracked.push(h.clone());
        }
    }
    Ok(ok(format!("Header {names} will be tracked")))
}

fn track_remove(app: &Arc<App>, names: &str) -> ApiResult {
    let list = header_names(names)?;
    app.client
        .inner
        .lock()
        .tracked
        .retain(|h| !list.contains(h));
    Ok(ok(format!("Header {names} will not be tracked")))
}

fn clear_some_results(app: &Arc<App>, names: &str) -> ApiResult {
    let list = admin::list(names);
    if list.is_empty() {
        return Err(ApiError::bad("no target names given"));
    }
    app.client.clear_results(Some(&list));
    Ok(ok(format!(
        "Results cleared for targets: {}",
        list.join(",")
    )))
}

/// Snapshot of every invocation: (id, finished, stats, meta).
type Snap = (
    u64,
    bool,
    BTreeMap<String, TargetStats>,
    HashMap<String, results::TargetMeta>,
);

async fn snapshots(app: &Arc<App>) -> Result<Vec<Snap>, ApiError> {
    let invs = app.client.invocations();
    blocking(move || {
        Ok(invs
            .iter()
            .map(|inv| {
                let mut g = inv.lock();
                let finished = g.is_finished();
                let s = g.snapshot();
                (g.id, finished, s, g.meta.clone())
            })
            .collect())
    })
    .await
}

async fn results(app: &Arc<App>, histograms: bool) -> ApiResult {
    let snaps = snapshots(app).await?;
    let mut merged: BTreeMap<String, TargetStats> = BTreeMap::new();
    let mut meta = HashMap::new();
    for (_, _, stats, m) in snaps {
        for (name, s) in stats {
            merged.entry(name).or_default().merge(&s);
        }
        meta.extend(m);
    }
    Ok(json(&Value::Object(results::document(
        &merged, &meta, histograms,
    ))))
}

async fn invocation_results(app: &Arc<App>) -> ApiResult {
    let mut out = Map::new();
    for (id, finished, stats, meta) in snapshots(app).await? {
        let mut doc = results::document(&stats, &meta, false);
        doc.insert("finished".into(), Value::from(finished));
        out.insert(id.to_string(), Value::Object(doc));
    }
    Ok(json(&Value::Object(out)))
}

async fn active(app: &Arc<App>) -> ApiResult {
    let invs = app.client.invocations();
    let doc = blocking(move || {
        let mut active = Map::new();
        for inv in &invs {
            let mut g = inv.lock();
            if g.is_finished() {
                continue;
            }
            let stats = g.snapshot();
            let mut targets = Map::new();
            for name in g.targets.clone() {
                let s = stats.get(&name);
                targets.insert(
                    name.clone(),
                    json!({
                        "completedRequestCount": s.map_or(0, |s| s.requests),
                        "stopRequested": g.stop_requested.contains(&name),
                        "stopped": s.is_some_and(|s| s.stopped && s.finished),
                        "finished": s.is_some_and(|s| s.finished),
                    }),
                );
            }
            active.insert(g.id.to_string(), Value::Object(targets));
        }
        Ok(json!({ "activeCount": active.len(), "activeInvocations": active }))
    })
    .await?;
    Ok(json(&doc))
}
