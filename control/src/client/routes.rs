//! `/client/...`: the client API's routes and handlers over [`Client`]:
//! they parse the request, ask the client's state through its methods (never
//! its lock) and render the answer; its refusals ([`ClientError`]) become
//! API errors through one `From`.
//!
//! [`Client`]: super::Client
//! [`ClientError`]: super::error::ClientError

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Map, Value};

use super::target::Target;
use super::{header_names, results};
use crate::api::{self, parse_flag, BoxFuture, Req, Table};
use crate::body::{json, ok};
use crate::error::{ApiError, ApiResult};
use crate::App;

pub fn table() -> Table<Arc<App>> {
    Table::<Arc<App>>::new("/client")
        .post_async("/client/targets/add", |app, q| {
            Box::pin(add_target(app, q.body))
        })
        .post("/client/targets/clear", |app, _| clear_targets(app))
        .get("/client/targets", |app, _| Ok(list_targets(app)))
        .get("/client/targets/list", |app, _| Ok(list_targets(app)))
        .get_async("/client/targets/active", |app, _| Box::pin(active(app)))
        .post_async("/client/targets/invoke/all", invoke_all)
        .post("/client/targets/stop/all", |app, _| stop(app, None))
        .post("/client/targets/{targets}/remove", |app, q| {
            remove_targets(app, q.param("targets"))
        })
        .post_async("/client/targets/{targets}/invoke", invoke_named)
        .post("/client/targets/{targets}/stop", |app, q| {
            stop(app, Some(q.param("targets")))
        })
        .post("/client/blocking/set/{flag}", |app, q| {
            set_blocking(app, q.param("flag"))
        })
        .get("/client/blocking", |app, _| {
            Ok(json(&json!({ "blocking": app.client.blocking() })))
        })
        .post("/client/track/headers/add/{headers}", |app, q| {
            track_add(app, q.param("headers"))
        })
        .post("/client/track/headers/remove/{headers}", |app, q| {
            track_remove(app, q.param("headers"))
        })
        .post("/client/track/headers/clear", |app, _| {
            app.client.clear_tracked();
            Ok(ok("All tracking headers cleared"))
        })
        .get("/client/track/headers", list_tracked)
        .get("/client/track/headers/list", list_tracked)
        .get_async("/client/results", |app, q| {
            Box::pin(async move {
                let hist = q.query_flag("histograms")?.unwrap_or(false);
                results(app, hist).await
            })
        })
        .get_async("/client/results/invocations", |app, _| {
            Box::pin(invocation_results(app))
        })
        .post("/client/results/clear", |app, _| {
            app.client.clear_results(None);
            Ok(ok("Results cleared"))
        })
        .post("/client/results/{targets}/clear", |app, q| {
            clear_some_results(app, q.param("targets"))
        })
        .get("/client/results/timeline", |app, _| Ok(timeline(app)))
        .post("/client/targets/{targets}/rate/set/{rate}", |app, q| {
            set_rate(app, q.param("targets"), q.param("rate"))
        })
}

fn timeline(app: &Arc<App>) -> http::Response<crate::body::Body> {
    json(&serde_json::to_value(app.client.timelines()).unwrap_or_default())
}

/// Changes running targets' rate (requests/s over all replicas).
fn set_rate(app: &Arc<App>, names: &str, rate: &str) -> ApiResult {
    let ts = app.client.named(&api::list(names))?;
    let r: f64 = rate
        .trim()
        .parse()
        .ok()
        .filter(|r: &f64| r.is_finite() && *r > 0.0)
        .ok_or_else(|| ApiError::bad(format!("invalid rate {rate:?}: a number above 0")))?;
    app.client.set_rate(&ts, r)?;
    let names: Vec<&str> = ts.iter().map(Target::name).collect();
    Ok(ok(format!(
        "Rate of {} set to {r} requests/s",
        names.join(",")
    )))
}

fn list_tracked(app: &Arc<App>, _: &Req<'_>) -> ApiResult {
    Ok(ok(app.client.tracked().join(",")))
}

fn invoke_all<'a>(app: &'a Arc<App>, q: &'a Req<'a>) -> BoxFuture<'a, ApiResult> {
    Box::pin(async move { invoke(app, None, q.query_flag("blocking")?).await })
}

fn invoke_named<'a>(app: &'a Arc<App>, q: &'a Req<'a>) -> BoxFuture<'a, ApiResult> {
    Box::pin(async move { invoke(app, Some(q.param("targets")), q.query_flag("blocking")?).await })
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
    let a2 = app.clone();
    blocking(move || Ok(a2.client.add_target(t)?)).await?;
    Ok(ok(format!("Added target: {echo}")))
}

fn clear_targets(app: &Arc<App>) -> ApiResult {
    app.client.clear_targets();
    Ok(ok("Targets cleared"))
}

fn list_targets(app: &Arc<App>) -> http::Response<crate::body::Body> {
    let mut m = Map::new();
    for t in app.client.targets() {
        m.insert(
            t.name().to_string(),
            serde_json::to_value(&t.input).unwrap_or(Value::Null),
        );
    }
    json(&Value::Object(m))
}

fn remove_targets(app: &Arc<App>, names: &str) -> ApiResult {
    let removed = app.client.remove_targets(&api::list(names))?;
    Ok(ok(format!("Targets removed: {}", removed.join(","))))
}

/// Starts targets as one invocation; `?blocking=Y|N` (`block_now`)
/// overrides the blocking flag for this call only (a registry fanning out
/// must not wait for the traffic to end).
async fn invoke(app: &Arc<App>, names: Option<&str>, block_now: Option<bool>) -> ApiResult {
    let names = names.map(api::list);
    let block = block_now.unwrap_or_else(|| app.client.blocking());
    let a2 = app.clone();
    let id = blocking(move || Ok(a2.client.invoke_named(names.as_deref())?)).await?;
    if !block {
        return Ok(ok("Targets invoked"));
    }
    let Some(inv) = app.client.invocation(id) else {
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
        doc.invocation = Some(g.id);
        Ok(doc)
    })
    .await?;
    Ok(json(&to_json(&doc)))
}

fn stop(app: &Arc<App>, names: Option<&str>) -> ApiResult {
    app.client.stop(names.map(api::list).as_deref())?;
    Ok(ok("Targets stopped"))
}

fn set_blocking(app: &Arc<App>, flag: &str) -> ApiResult {
    let on = parse_flag(flag, "blocking")?;
    app.client.set_blocking(on);
    Ok(ok(if on {
        "Invocation will block for results"
    } else {
        "Invocation will not block for results"
    }))
}

fn track_add(app: &Arc<App>, names: &str) -> ApiResult {
    app.client.track(&header_names(names)?);
    Ok(ok(format!("Header {names} will be tracked")))
}

fn track_remove(app: &Arc<App>, names: &str) -> ApiResult {
    app.client.untrack(&header_names(names)?);
    Ok(ok(format!("Header {names} will not be tracked")))
}

fn clear_some_results(app: &Arc<App>, names: &str) -> ApiResult {
    let list = api::list(names);
    if list.is_empty() {
        return Err(ApiError::bad("no target names given"));
    }
    app.client.clear_results(Some(&list));
    Ok(ok(format!(
        "Results cleared for targets: {}",
        list.join(",")
    )))
}

fn to_json<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or_default()
}

async fn results(app: &Arc<App>, histograms: bool) -> ApiResult {
    let a2 = app.clone();
    let doc = blocking(move || Ok(a2.client.results(histograms))).await?;
    Ok(json(&to_json(&doc)))
}

async fn invocation_results(app: &Arc<App>) -> ApiResult {
    let a2 = app.clone();
    let docs = blocking(move || Ok(a2.client.invocation_results())).await?;
    Ok(json(&to_json(&docs)))
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
