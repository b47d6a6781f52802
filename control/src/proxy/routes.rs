//! `/request/proxy/...`: targets, their invocation by hand, and counts.

use std::sync::Arc;

use super::target::ProxyTargetSpec;
use super::{Proxy, TargetAction};
use crate::api::{BoxFuture, Req, Table};
use crate::body::{json, ok};
use crate::error::ApiResult;

pub fn table() -> Table<Arc<Proxy>> {
    Table::<Arc<Proxy>>::new("/request/proxy")
        .post("/request/proxy/targets/add", |p, q| {
            let spec: ProxyTargetSpec = q.json()?;
            let line = p.add(spec)?;
            Ok(ok(format!("Added proxy target: {line}")))
        })
        .post("/request/proxy/targets/clear", |p, _| {
            p.clear();
            Ok(ok("Proxy targets cleared"))
        })
        .get("/request/proxy/targets", list)
        .get("/request/proxy/targets/list", list)
        .post_async("/request/proxy/targets/{targets}/invoke", invoke)
        .post_async("/request/proxy/targets/invoke/{targets}", invoke)
        .post("/request/proxy/targets/{target}/remove", |p, q| {
            act(p, q, TargetAction::Remove, "removed")
        })
        .post("/request/proxy/targets/{target}/enable", |p, q| {
            act(p, q, TargetAction::Enable, "enabled")
        })
        .post("/request/proxy/targets/{target}/disable", |p, q| {
            act(p, q, TargetAction::Disable, "disabled")
        })
        .get("/request/proxy/counts", |p, _| Ok(json(&p.counts_json())))
        .post("/request/proxy/counts/clear", |p, _| {
            p.clear_counts();
            Ok(ok("Proxy counts cleared"))
        })
}

fn list(p: &Arc<Proxy>, _: &Req<'_>) -> ApiResult {
    Ok(json(&p.views()))
}

fn act(p: &Arc<Proxy>, q: &Req<'_>, action: TargetAction, done: &str) -> ApiResult {
    let name = q.param("target");
    p.act(name, action)?;
    Ok(ok(format!("Proxy target {name} {done}")))
}

fn invoke<'a>(p: &'a Arc<Proxy>, q: &'a Req<'a>) -> BoxFuture<'a, ApiResult> {
    Box::pin(async move {
        let targets = p.named(q.param("targets"))?;
        let outcomes = p.invoke(targets).await;
        Ok(ok(format!(
            "Proxy targets invoked: {}",
            outcomes.join("; ")
        )))
    })
}
