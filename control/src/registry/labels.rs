//! What the registry hands out per peer label: targets (validated by the
//! client API's own parser), jobs in the order they were added, and the
//! tracked headers every peer gets; changes are pushed to connected pods.

use std::sync::Arc;

use bytes::Bytes;
use serde_json::{Map, Value};

use super::call::seg;
use super::fanout::{push, Step};
use super::Registry;
use crate::body::ok;
use crate::client::target::Target;
use crate::error::{ApiError, ApiResult};

#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct LabelConfig {
    /// (name, target as the client API echoes it).
    pub targets: Vec<(String, Value)>,
    /// (id, job as given).
    pub jobs: Vec<(String, Value)>,
}

/// Parses and validates a target; returns its name, JSON and echo.
pub fn parse_target(body: &[u8]) -> Result<(String, Value, String), ApiError> {
    let t = Target::from_json(body)?;
    let v = serde_json::to_value(&t.input)
        .map_err(|e| ApiError::bad(format!("cannot encode target: {e}")))?;
    Ok((t.name().to_string(), v, t.echo()))
}

/// Parses a job: a JSON object with a non-empty `id`.
pub fn parse_job(body: &[u8]) -> Result<(String, Value), ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad("missing job JSON body"));
    }
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad(format!("invalid job JSON: {e}")))?;
    let id = v
        .get("id")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ApiError::bad("job needs an id"))?
        .to_string();
    // Validated as a peer would, except for the command switch, which is each
    // peer's own startup choice (a peer without it refuses the push).
    let input: crate::jobs::spec::JobInput = serde_json::from_value(v.clone())
        .map_err(|e| ApiError::bad(format!("invalid job: {e}")))?;
    crate::jobs::spec::JobSpec::new(&input, true)?;
    Ok((id, v))
}

/// Inserts or replaces by name, keeping the first position.
pub fn upsert(list: &mut Vec<(String, Value)>, name: String, v: Value) {
    match list.iter_mut().find(|(n, _)| *n == name) {
        Some(slot) => slot.1 = v,
        None => list.push((name, v)),
    }
}

/// Removes the named entries; a 404 naming those that are not there, with
/// nothing removed.
pub fn remove(
    list: &mut Vec<(String, Value)>,
    names: &[String],
    what: &str,
) -> Result<(), ApiError> {
    let missing: Vec<&str> = names
        .iter()
        .filter(|n| !list.iter().any(|(x, _)| x == *n))
        .map(String::as_str)
        .collect();
    if !missing.is_empty() {
        return Err(ApiError::NotFound(format!(
            "no such {what}: {}",
            missing.join(",")
        )));
    }
    list.retain(|(n, _)| !names.contains(n));
    Ok(())
}

pub fn to_map(list: &[(String, Value)]) -> Value {
    Value::Object(list.iter().cloned().collect::<Map<String, Value>>())
}

pub(super) fn all_config(
    reg: &Arc<Registry>,
    pick: fn(&LabelConfig) -> &Vec<(String, Value)>,
) -> Value {
    let st = reg.inner.lock();
    Value::Object(
        st.labels
            .iter()
            .map(|(l, c)| (l.clone(), to_map(pick(c))))
            .collect(),
    )
}

pub(super) fn label_config(
    reg: &Arc<Registry>,
    peer: &str,
    pick: fn(&LabelConfig) -> &Vec<(String, Value)>,
) -> Value {
    let st = reg.inner.lock();
    st.labels
        .get(peer)
        .map(|c| to_map(pick(c)))
        .unwrap_or_else(|| Value::Object(Map::new()))
}

pub(super) async fn add_target(reg: &Arc<Registry>, peer: &str, body: &Bytes) -> ApiResult {
    let (name, v, echo) = parse_target(body)?;
    let text = v.to_string();
    {
        let mut st = reg.inner.lock();
        let cfg = st.labels.entry(peer.to_string()).or_default();
        upsert(&mut cfg.targets, name, v);
    }
    push(reg, peer, vec![Step::post("/client/targets/add", text)]).await;
    Ok(ok(format!("Added target: {echo}")))
}

pub(super) async fn remove_targets(reg: &Arc<Registry>, peer: &str, names: &str) -> ApiResult {
    let list = crate::api::list(names);
    if list.is_empty() {
        return Err(ApiError::bad("no target names given"));
    }
    {
        let mut st = reg.inner.lock();
        let cfg = st
            .labels
            .get_mut(peer)
            .ok_or_else(|| ApiError::NotFound(format!("no targets for peer: {peer}")))?;
        remove(&mut cfg.targets, &list, "target")?;
    }
    let path = format!("/client/targets/{}/remove", seg(&list.join(",")));
    push(reg, peer, vec![Step::post(path, "")]).await;
    Ok(ok(format!("Targets removed: {}", list.join(","))))
}

pub(super) async fn clear_targets(reg: &Arc<Registry>, peer: &str) -> ApiResult {
    let names: Vec<String> = {
        let mut st = reg.inner.lock();
        match st.labels.get_mut(peer) {
            Some(c) => std::mem::take(&mut c.targets)
                .into_iter()
                .map(|(n, _)| n)
                .collect(),
            None => Vec::new(),
        }
    };
    if !names.is_empty() {
        let path = format!("/client/targets/{}/remove", seg(&names.join(",")));
        push(reg, peer, vec![Step::post(path, "")]).await;
    }
    Ok(ok(format!("Targets cleared for peer: {peer}")))
}

pub(super) async fn add_job(reg: &Arc<Registry>, peer: &str, body: &Bytes) -> ApiResult {
    let (id, v) = parse_job(body)?;
    let text = v.to_string();
    {
        let mut st = reg.inner.lock();
        let cfg = st.labels.entry(peer.to_string()).or_default();
        upsert(&mut cfg.jobs, id, v);
    }
    push(reg, peer, vec![Step::post("/jobs/add", text.clone())]).await;
    Ok(ok(format!("Added job: {text}")))
}

/// Removes jobs from a label (all of them with `names` = None) and from its
/// connected pods.
pub(super) async fn remove_jobs(reg: &Arc<Registry>, peer: &str, names: Option<&str>) -> ApiResult {
    let removed: Vec<String> = {
        let mut st = reg.inner.lock();
        match (st.labels.get_mut(peer), names) {
            (Some(c), None) => std::mem::take(&mut c.jobs)
                .into_iter()
                .map(|(n, _)| n)
                .collect(),
            (Some(c), Some(names)) => {
                let list = crate::api::names(names, "job ids")?;
                remove(&mut c.jobs, &list, "job")?;
                list
            }
            (None, None) => Vec::new(),
            (None, Some(_)) => return Err(ApiError::NotFound(format!("no jobs for peer: {peer}"))),
        }
    };
    if !removed.is_empty() {
        let path = format!("/jobs/{}/remove", seg(&removed.join(",")));
        push(reg, peer, vec![Step::post(path, "")]).await;
    }
    Ok(ok(match names {
        None => format!("Jobs cleared for peer: {peer}"),
        Some(_) => format!("Jobs removed: {}", removed.join(",")),
    }))
}

/// Header names as the client API accepts them, lower-cased.
pub(super) use crate::client::header_names;

pub(super) async fn track(reg: &Arc<Registry>, names: &str) -> ApiResult {
    let list = header_names(names)?;
    let labels: Vec<String> = {
        let mut st = reg.inner.lock();
        for h in &list {
            if !st.tracked.contains(h) {
                st.tracked.push(h.clone());
            }
        }
        st.peers.keys().cloned().collect()
    };
    let path = format!("/client/track/headers/add/{}", seg(&list.join(",")));
    for l in labels {
        push(reg, &l, vec![Step::post(path.clone(), "")]).await;
    }
    Ok(ok(format!(
        "Header {} will be tracked on peers",
        list.join(",")
    )))
}
