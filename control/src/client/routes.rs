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
use super::Client;
use super::{header_names, results};
use crate::api::{self, parse_flag, BoxFuture, Req, Table};
use crate::body::{json, ok};
use crate::error::{ApiError, ApiResult};

pub fn table() -> Table<Arc<Client>> {
    Table::<Arc<Client>>::new("/client")
        .post_async("/client/targets/add", |client, q| {
            Box::pin(add_target(client, q.body))
        })
        .post("/client/targets/clear", |client, _| clear_targets(client))
        .get("/client/targets", |client, _| Ok(list_targets(client)))
        .get("/client/targets/list", |client, _| Ok(list_targets(client)))
        .get_async("/client/targets/active", |client, _| {
            Box::pin(active(client))
        })
        .post_async("/client/targets/invoke/all", invoke_all)
        .post("/client/targets/stop/all", |client, _| stop(client, None))
        .post("/client/targets/{targets}/remove", |client, q| {
            remove_targets(client, q.param("targets"))
        })
        .post_async("/client/targets/{targets}/invoke", invoke_named)
        .post("/client/targets/{targets}/stop", |client, q| {
            stop(client, Some(q.param("targets")))
        })
        .post("/client/blocking/set/{flag}", |client, q| {
            set_blocking(client, q.param("flag"))
        })
        .get("/client/blocking", |client, _| {
            Ok(json(&json!({ "blocking": client.blocking() })))
        })
        .post("/client/track/headers/add/{headers}", |client, q| {
            track_add(client, q.param("headers"))
        })
        .post("/client/track/headers/remove/{headers}", |client, q| {
            track_remove(client, q.param("headers"))
        })
        .post("/client/track/headers/clear", |client, _| {
            client.clear_tracked();
            Ok(ok("All tracking headers cleared"))
        })
        .get("/client/track/headers", list_tracked)
        .get("/client/track/headers/list", list_tracked)
        .get_async("/client/results", |client, q| {
            Box::pin(async move {
                let hist = q.query_flag("histograms")?.unwrap_or(false);
                results(client, hist).await
            })
        })
        .get_async("/client/results/invocations", |client, _| {
            Box::pin(invocation_results(client))
        })
        .post("/client/results/clear", |client, _| {
            client.clear_results(None);
            Ok(ok("Results cleared"))
        })
        .post("/client/results/{targets}/clear", |client, q| {
            clear_some_results(client, q.param("targets"))
        })
        .get("/client/results/timeline", |client, _| Ok(timeline(client)))
        .post("/client/targets/{targets}/rate/set/{rate}", |client, q| {
            set_rate(client, q.param("targets"), q.param("rate"))
        })
}

fn timeline(client: &Arc<Client>) -> http::Response<crate::body::Body> {
    json(&serde_json::to_value(client.timelines()).unwrap_or_default())
}

/// Changes running targets' rate (requests/s over all replicas).
fn set_rate(client: &Arc<Client>, names: &str, rate: &str) -> ApiResult {
    let ts = client.named(&api::list(names))?;
    let r: f64 = rate
        .trim()
        .parse()
        .ok()
        .filter(|r: &f64| r.is_finite() && *r > 0.0)
        .ok_or_else(|| ApiError::bad(format!("invalid rate {rate:?}: a number above 0")))?;
    client.set_rate(&ts, r)?;
    let names: Vec<&str> = ts.iter().map(Target::name).collect();
    Ok(ok(format!(
        "Rate of {} set to {r} requests/s",
        names.join(",")
    )))
}

fn list_tracked(client: &Arc<Client>, _: &Req<'_>) -> ApiResult {
    Ok(ok(client.tracked().join(",")))
}

fn invoke_all<'a>(client: &'a Arc<Client>, q: &'a Req<'a>) -> BoxFuture<'a, ApiResult> {
    Box::pin(async move { invoke(client, None, q.query_flag("blocking")?).await })
}

fn invoke_named<'a>(client: &'a Arc<Client>, q: &'a Req<'a>) -> BoxFuture<'a, ApiResult> {
    Box::pin(
        async move { invoke(client, Some(q.param("targets")), q.query_flag("blocking")?).await },
    )
}

/// Runs blocking work off the control thread.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::Unavailable(format!("internal task failed: {e}")))?
}

async fn add_target(client: &Arc<Client>, body: &[u8]) -> ApiResult {
    let t = Target::from_json(body)?;
    let echo = t.echo();
    let a2 = client.clone();
    blocking(move || Ok(a2.add_target(t)?)).await?;
    Ok(ok(format!("Added target: {echo}")))
}

fn clear_targets(client: &Arc<Client>) -> ApiResult {
    client.clear_targets();
    Ok(ok("Targets cleared"))
}

fn list_targets(client: &Arc<Client>) -> http::Response<crate::body::Body> {
    let mut m = Map::new();
    for t in client.targets() {
        m.insert(
            t.name().to_string(),
            serde_json::to_value(&t.input).unwrap_or(Value::Null),
        );
    }
    json(&Value::Object(m))
}

fn remove_targets(client: &Arc<Client>, names: &str) -> ApiResult {
    let removed = client.remove_targets(&api::list(names))?;
    Ok(ok(format!("Targets removed: {}", removed.join(","))))
}

/// Starts targets as one invocation; `?blocking=Y|N` (`block_now`)
/// overrides the blocking flag for this call only (a registry fanning out
/// must not wait for the traffic to end).
async fn invoke(client: &Arc<Client>, names: Option<&str>, block_now: Option<bool>) -> ApiResult {
    let names = names.map(api::list);
    let block = block_now.unwrap_or_else(|| client.blocking());
    let a2 = client.clone();
    let id = blocking(move || Ok(a2.invoke_named(names.as_deref())?)).await?;
    if !block {
        return Ok(ok("Targets invoked"));
    }
    let Some(inv) = client.invocation(id) else {
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

fn stop(client: &Arc<Client>, names: Option<&str>) -> ApiResult {
    client.stop(names.map(api::list).as_deref())?;
    Ok(ok("Targets stopped"))
}

fn set_blocking(client: &Arc<Client>, flag: &str) -> ApiResult {
    let on = parse_flag(flag, "blocking")?;
    client.set_blocking(on);
    Ok(ok(if on {
        "Invocation will block for results"
    } else {
        "Invocation will not block for results"
    }))
}

fn track_add(client: &Arc<Client>, names: &str) -> ApiResult {
    client.track(&header_names(names)?);
    Ok(ok(format!("Header {names} will be tracked")))
}

fn track_remove(client: &Arc<Client>, names: &str) -> ApiResult {
    client.untrack(&header_names(names)?);
    Ok(ok(format!("Header {names} will not be tracked")))
}

fn clear_some_results(client: &Arc<Client>, names: &str) -> ApiResult {
    let list = api::list(names);
    if list.is_empty() {
        return Err(ApiError::bad("no target names given"));
    }
    client.clear_results(Some(&list));
    Ok(ok(format!(
        "Results cleared for targets: {}",
        list.join(",")
    )))
}

fn to_json<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or_default()
}

async fn results(client: &Arc<Client>, histograms: bool) -> ApiResult {
    let a2 = client.clone();
    let doc = blocking(move || Ok(a2.results(histograms))).await?;
    Ok(json(&to_json(&doc)))
}

async fn invocation_results(client: &Arc<Client>) -> ApiResult {
    let a2 = client.clone();
    let docs = blocking(move || Ok(a2.invocation_results())).await?;
    Ok(json(&to_json(&docs)))
}

async fn active(client: &Arc<Client>) -> ApiResult {
    let invs = client.invocations();
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
