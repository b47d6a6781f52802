//! `/response/trigger/...`: triggers, their invocation by hand, and counts.

use super::{TriggerAction, TriggerSpec, Triggers};
use crate::api::{BoxFuture, Req, Table};
use crate::body::{json, ok};
use crate::error::ApiResult;

pub fn table() -> Table<Triggers> {
    Table::<Triggers>::new("/response/trigger")
        .post("/response/trigger/add", |t, q| {
            let spec: TriggerSpec = q.json()?;
            let line = t.add(spec)?;
            Ok(ok(format!("Added trigger: {line}")))
        })
        .post("/response/trigger/clear", |t, _| {
            t.clear();
            Ok(ok("Triggers cleared"))
        })
        .post("/response/trigger/counts/clear", |t, _| {
            t.clear_counts();
            Ok(ok("Trigger counts cleared"))
        })
        .get("/response/trigger", list)
        .get("/response/trigger/list", list)
        .get("/response/trigger/counts", |t, _| {
            Ok(json(&t.counts_json()))
        })
        .post_async("/response/trigger/{triggers}/invoke", invoke)
        .post("/response/trigger/{trigger}/remove", |t, q| {
            act(t, q, TriggerAction::Remove, "removed")
        })
        .post("/response/trigger/{trigger}/enable", |t, q| {
            act(t, q, TriggerAction::Enable, "enabled")
        })
        .post("/response/trigger/{trigger}/disable", |t, q| {
            act(t, q, TriggerAction::Disable, "disabled")
        })
}

fn list(t: &Triggers, _: &Req<'_>) -> ApiResult {
    Ok(json(&t.views()))
}

fn act(t: &Triggers, q: &Req<'_>, action: TriggerAction, done: &str) -> ApiResult {
    let name = q.param("trigger");
    t.act(name, action)?;
    Ok(ok(format!("Trigger {name} {done}")))
}

fn invoke<'a>(t: &'a Triggers, q: &'a Req<'a>) -> BoxFuture<'a, ApiResult> {
    Box::pin(async move {
        let outcomes = t.invoke(q.param("triggers")).await?;
        Ok(ok(format!("Triggers invoked: {}", outcomes.join("; "))))
    })
}
