//! A job's definition as the API takes it (`POST /jobs/add`), validated into
//! the form the runner uses. The input is kept as given, for listing.

use std::collections::BTreeMap;
use std::time::Duration;

use super::JobError;
use http::{HeaderName, HeaderValue, Method};
use serde::{Deserialize, Serialize};

use goto_engine::duration;

/// Bounds that keep one job from holding unbounded memory or tasks.
pub const MAX_COUNT: u32 = 10_000;
pub const MAX_RESULTS: u32 = 10_000;
pub const MAX_KEEP_RUNS: u32 = 100;
pub const MAX_JOB_REPLICAS: u32 = 100;
pub const MAX_REQUESTS: u32 = 10_000;
const DEFAULT_MAX_RESULTS: u32 = 10;
const DEFAULT_KEEP_RUNS: u32 = 5;

/// `POST /jobs/add` body, in the original goto's field names.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct JobInput {
    pub id: String,
    pub task: serde_json::Value,
    #[serde(default)]
    pub auto: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_delay: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_results: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_results: Option<u32>,
    #[serde(default)]
    pub keep_first: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_trigger: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finish_trigger: Option<String>,
}

/// Why a job definition does not validate (the text names the field).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    #[error("job id is required")]
    NoId,
    #[error("job id {0:?} may not contain '/', ',', '?', '#' or spaces")]
    BadId(String),
    /// A duration field that does not parse (the reason is the parser's).
    #[error("{field}: {reason}")]
    Duration { field: &'static str, reason: String },
    #[error("{field} {value} is over the limit of {max}")]
    OverLimit {
        field: &'static str,
        value: u32,
        max: u32,
    },
    #[error("task must be an object with either `url` (HTTP task) or `cmd` (command task)")]
    TaskNotObject,
    #[error("task needs either `url` (HTTP task) or `cmd` (command task)")]
    NoTaskKind,
    #[error("command jobs are disabled: start goto with --allow-command-jobs to run OS commands")]
    CommandsDisabled,
    /// A task's JSON that does not deserialize.
    #[error("invalid {kind} task: {reason}")]
    Task { kind: &'static str, reason: String },
    #[error("command task needs a non-empty cmd")]
    EmptyCmd,
    #[error("output marker {0:?}: field indexes start at 1")]
    MarkerIndex(String),
    #[error("invalid method {0:?}")]
    Method(String),
    #[error("invalid url {0:?}")]
    Url(String),
    #[error("invalid url {0:?}: expected http[s]://host[:port]/path")]
    UrlScheme(String),
    #[error("invalid url {0:?}: no host")]
    UrlHost(String),
    #[error("invalid header name {0:?}")]
    HeaderName(String),
    #[error("invalid value for header {0:?}")]
    HeaderValue(String),
    #[error("headers must be [name, value] pairs")]
    HeaderPair,
}

/// A task's JSON error, an unknown field named with its closest known one.
fn task_error(kind: &'static str, e: &serde_json::Error) -> SpecError {
    let text = e.to_string();
    let reason = crate::api::fields::unknown_field(&text).unwrap_or(text);
    SpecError::Task { kind, reason }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct HttpTaskInput {
    #[serde(default)]
    method: Option<String>,
    url: String,
    #[serde(default)]
    headers: Vec<Vec<String>>,
    #[serde(default)]
    body: String,
    #[serde(default)]
    replicas: Option<u32>,
    #[serde(default)]
    request_count: Option<u32>,
    #[serde(default, rename = "parseJSON")]
    parse_json: bool,
    #[serde(default, rename = "verifyTLS")]
    verify_tls: bool,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CommandTaskInput {
    cmd: String,
    #[serde(default)]
    args: Vec<String>,
    #[serde(default)]
    output_markers: BTreeMap<String, usize>,
    #[serde(default)]
    output_separator: Option<String>,
}

/// An HTTP task: `replicas` concurrent loops of `requestCount` requests; each
/// response body is one result (parsed as JSON with `parseJSON`).
#[derive(Debug, Clone)]
pub struct HttpTask {
    pub method: Method,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub replicas: u32,
    pub request_count: u32,
    pub parse_json: bool,
    /// For https URLs: verify the certificate (off by default).
    pub verify_tls: bool,
}

/// A command task: each line the command prints is one result. A line split
/// by `separator` (whitespace when unset) gives fields; `markers` name fields
/// (1-based) whose values are handed to an `outputTrigger` job as `{name}`.
#[derive(Debug, Clone)]
pub struct CommandTask {
    pub cmd: String,
    pub args: Vec<String>,
    pub markers: BTreeMap<String, usize>,
    pub separator: Option<String>,
}

#[derive(Debug, Clone)]
pub enum Task {
    Http(HttpTask),
    Command(CommandTask),
}

/// A validated job.
#[derive(Debug, Clone)]
pub struct JobSpec {
    pub id: String,
    pub task: Task,
    pub auto: bool,
    pub delay: Duration,
    pub initial_delay: Duration,
    pub count: u32,
    pub max_results: u32,
    pub keep_results: u32,
    pub keep_first: bool,
    pub timeout: Option<Duration>,
    pub output_trigger: Option<String>,
    pub finish_trigger: Option<String>,
}

fn dur(field: &'static str, v: &Option<String>) -> Result<Duration, SpecError> {
    match v.as_deref() {
        None | Some("") => Ok(Duration::ZERO),
        Some(s) => duration::parse(s).map_err(|reason| SpecError::Duration { field, reason }),
    }
}

fn bounded(field: &'static str, v: Option<u32>, default: u32, max: u32) -> Result<u32, SpecError> {
    match v {
        None | Some(0) => Ok(default),
        Some(n) if n <= max => Ok(n),
        Some(n) => Err(SpecError::OverLimit {
            field,
            value: n,
            max,
        }),
    }
}

impl JobSpec {
    /// Validates a job; `allow_commands` is the startup switch for command tasks.
    pub fn new(input: &JobInput, allow_commands: bool) -> Result<JobSpec, JobError> {
        Ok(JobSpec::build(input, allow_commands)?)
    }

    fn build(input: &JobInput, allow_commands: bool) -> Result<JobSpec, SpecError> {
        let id = input.id.trim();
        if id.is_empty() {
            return Err(SpecError::NoId);
        }
        if id.contains(['/', ',', '?', '#', ' ']) {
            return Err(SpecError::BadId(id.to_string()));
        }
        let task = parse_task(&input.task, allow_commands)?;
        let timeout = dur("timeout", &input.timeout)?;
        let trigger = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        Ok(JobSpec {
            id: id.to_string(),
            task,
            auto: input.auto,
            delay: dur("delay", &input.delay)?,
            initial_delay: dur("initialDelay", &input.initial_delay)?,
            count: bounded("count", input.count, 1, MAX_COUNT)?,
            max_results: bounded(
                "maxResults",
                input.max_results,
                DEFAULT_MAX_RESULTS,
                MAX_RESULTS,
            )?,
            keep_results: bounded(
                "keepResults",
                input.keep_results,
                DEFAULT_KEEP_RUNS,
                MAX_KEEP_RUNS,
            )?,
            keep_first: input.keep_first,
            timeout: (!timeout.is_zero()).then_some(timeout),
            output_trigger: trigger(&input.output_trigger),
            finish_trigger: trigger(&input.finish_trigger),
        })
    }
}

fn parse_task(v: &serde_json::Value, allow_commands: bool) -> Result<Task, SpecError> {
    let obj = v.as_object().ok_or(SpecError::TaskNotObject)?;
    if obj.contains_key("cmd") {
        if !allow_commands {
            return Err(SpecError::CommandsDisabled);
        }
        let t: CommandTaskInput =
            serde_json::from_value(v.clone()).map_err(|e| task_error("command", &e))?;
        if t.cmd.trim().is_empty() {
            return Err(SpecError::EmptyCmd);
        }
        if let Some((name, _)) = t.output_markers.iter().find(|(_, i)| **i == 0) {
            return Err(SpecError::MarkerIndex(name.clone()));
        }
        return Ok(Task::Command(CommandTask {
            cmd: t.cmd,
            args: t.args,
            markers: t.output_markers,
            separator: t.output_separator.filter(|s| !s.is_empty()),
        }));
    }
    if !obj.contains_key("url") {
        return Err(SpecError::NoTaskKind);
    }
    let t: HttpTaskInput = serde_json::from_value(v.clone()).map_err(|e| task_error("HTTP", &e))?;
    let method = t
        .method
        .as_deref()
        .unwrap_or("GET")
        .trim()
        .to_ascii_uppercase();
    let method = Method::from_bytes(method.as_bytes()).map_err(|_| SpecError::Method(method))?;
    check_url(&t.url)?;
    let mut headers = Vec::with_capacity(t.headers.len());
    for h in &t.headers {
        match h.as_slice() {
            [k, v] => {
                HeaderName::from_bytes(k.as_bytes())
                    .map_err(|_| SpecError::HeaderName(k.clone()))?;
                HeaderValue::from_str(v).map_err(|_| SpecError::HeaderValue(k.clone()))?;
                headers.push((k.clone(), v.clone()));
            }
            _ => return Err(SpecError::HeaderPair),
        }
    }
    Ok(Task::Http(HttpTask {
        method,
        url: t.url,
        headers,
        body: t.body,
        replicas: bounded("replicas", t.replicas, 1, MAX_JOB_REPLICAS)?,
        request_count: bounded("requestCount", t.request_count, 1, MAX_REQUESTS)?,
        parse_json: t.parse_json,
        verify_tls: t.verify_tls,
    }))
}

/// Checks a task URL; markers (`{name}`) may still be in it, so it is checked
/// with them blanked out, and parsed for real when a run sends it.
fn check_url(url: &str) -> Result<(), SpecError> {
    let probe = blank_markers(url);
    let uri: http::Uri = probe.parse().map_err(|_| SpecError::Url(url.to_string()))?;
    if !matches!(uri.scheme_str(), Some("http" | "https")) {
        return Err(SpecError::UrlScheme(url.to_string()));
    }
    if uri.host().unwrap_or_default().is_empty() {
        return Err(SpecError::UrlHost(url.to_string()));
    }
    Ok(())
}

fn blank_markers(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut in_marker = false;
    for c in s.chars() {
        match c {
            '{' => in_marker = true,
            '}' if in_marker => {
                in_marker = false;
                out.push('x');
            }
            _ if !in_marker => out.push(c),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(task: serde_json::Value) -> JobInput {
        serde_json::from_value(serde_json::json!({"id": "j1", "task": task})).unwrap()
    }

    #[test]
    fn http_task_defaults_and_bounds() {
        let s = JobSpec::new(
            &input(serde_json::json!({"url": "http://127.0.0.1:1/x"})),
            false,
        )
        .unwrap();
        assert_eq!((s.count, s.max_results, s.keep_results), (1, 10, 5));
        let Task::Http(t) = s.task else { panic!() };
        assert_eq!((t.method, t.replicas, t.request_count), (Method::GET, 1, 1));
        let mut i = input(serde_json::json!({"url": "http://127.0.0.1:1/{a}"}));
        i.count = Some(MAX_COUNT + 1);
        assert!(JobSpec::new(&i, false)
            .unwrap_err()
            .to_string()
            .contains("count"));
    }

    #[test]
    fn rejects_bad_tasks() {
        for (task, want) in [
            (serde_json::json!({}), "either"),
            (serde_json::json!({"url": "ftp://x"}), "invalid url"),
            (
                serde_json::json!({"url": "http://h/", "headers": [["a"]]}),
                "pairs",
            ),
            (serde_json::json!({"cmd": "echo"}), "--allow-command-jobs"),
        ] {
            let e = JobSpec::new(&input(task.clone()), false)
                .unwrap_err()
                .to_string();
            assert!(e.contains(want), "{task}: {e}");
        }
        let e = JobSpec::new(
            &input(serde_json::json!({"cmd": "echo", "outputMarkers": {"a": 0}})),
            true,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("start at 1"), "{e}");
    }
}
