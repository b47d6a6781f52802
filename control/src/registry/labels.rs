//! What the registry hands out per peer label: targets (validated by the
//! client API's own parser) and jobs, in the order they were added.

use serde_json::{Map, Value};

use crate::client::target::Target;
use crate::error::ApiError;

#[derive(Debug, Clone, Default)]
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
