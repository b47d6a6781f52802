//! A client target as users write it (JSON, Go-style durations, the original
//! tool's field names), validated once into the engine's [`TargetSpec`].

use std::time::Duration;

use goto_engine::{Bytes, Stage, Stages, TargetSpec, Threshold, MAX_REPLICAS, MAX_RETRIES};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use goto_engine::duration;

/// The wire protocol of a target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Http1,
    Http2,
    /// gRPC over HTTP/2 (`"protocol":"grpc"`).
    Grpc,
}

/// A target exactly as added, echoed back in the original tool's field
/// order; absent optional fields stay absent.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TargetInput {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub method: String,
    #[serde(default)]
    pub url: String,
    #[serde(default)]
    pub headers: Vec<Vec<String>>,
    #[serde(default)]
    pub body: String,
    /// Accepted and echoed for compatibility; the body is always `body`.
    #[serde(default)]
    pub body_reader: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_upgrade: Option<bool>,
    #[serde(default = "one")]
    pub replicas: i64,
    #[serde(default = "one")]
    pub request_count: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub initial_delay: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delay: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retries: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_delay: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retriable_status_codes: Option<Vec<i64>>,
    #[serde(default)]
    pub keep_open: String,
    #[serde(rename = "sendID", default)]
    pub send_id: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conn_timeout: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conn_idle_timeout: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_timeout: Option<String>,
    #[serde(rename = "verifyTLS", skip_serializing_if = "Option::is_none")]
    pub verify_tls: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_invoke: Option<bool>,
    /// Open model: requests per second over all replicas (new).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate: Option<f64>,
    /// Run for this long at most (new).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration: Option<String>,
    /// Timeline interval (new; default 1s).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interval: Option<String>,
    /// Pass/fail checks shown in the results, e.g. "p99 < 50ms" (new).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thresholds: Option<Vec<String>>,
    /// Load shape (new): the rate ramps linearly through these stages from
    /// `rate` (or 0); the run lasts their sum.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stages: Option<Vec<Stage>>,
    /// gRPC (`"protocol":"grpc"`): the method, `package.Service/Method`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub call: Option<String>,
    /// gRPC: the request message, a JSON object or a string of JSON.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<serde_json::Value>,
    /// gRPC: request metadata, `[name, value]` pairs like `headers`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Vec<Vec<String>>>,
    /// gRPC: `.proto` sources by file name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proto_files: Option<std::collections::BTreeMap<String, String>>,
    /// gRPC: a descriptor set, base64.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protoset: Option<String>,
    /// gRPC client and bidi streaming: messages each call sends (default 1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream_messages: Option<u32>,
    /// gRPC client and bidi streaming: how far apart a call's messages go
    /// (the first at once; default back to back).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream_interval: Option<String>,
    /// gRPC: descriptors from the server's reflection service, fetched
    /// when the target is invoked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reflect: Option<bool>,
    /// Fields of the original goto's targets that goto takes and does not
    /// use, so its payloads keep working while typos are refused.
    #[serde(default, skip_serializing)]
    #[allow(dead_code)]
    burls: Option<serde_json::Value>,
    #[serde(default, skip_serializing)]
    #[allow(dead_code)]
    auto_payload: Option<serde_json::Value>,
    #[serde(default, skip_serializing)]
    #[allow(dead_code)]
    fallback: Option<serde_json::Value>,
    #[serde(default, skip_serializing)]
    #[allow(dead_code)]
    ab: Option<serde_json::Value>,
    #[serde(default, skip_serializing)]
    #[allow(dead_code)]
    random: Option<serde_json::Value>,
    #[serde(default, skip_serializing)]
    #[allow(dead_code)]
    collect_response: Option<serde_json::Value>,
    #[serde(default, skip_serializing)]
    #[allow(dead_code)]
    expectation: Option<serde_json::Value>,
    #[serde(default, skip_serializing)]
    #[allow(dead_code)]
    stream_payload: Option<serde_json::Value>,
    #[serde(default, skip_serializing)]
    #[allow(dead_code)]
    stream_delay: Option<serde_json::Value>,
    #[serde(default, skip_serializing)]
    #[allow(dead_code)]
    binary: Option<serde_json::Value>,
}

/// Open files kept for everything but a target's connections (listeners,
/// the admin API, the store, other targets' idle moments).
const SPARE_FDS: u64 = 256;

/// Shortest timeline interval a target may ask for.
const MIN_INTERVAL: Duration = Duration::from_millis(100);

fn one() -> i64 {
    1
}

/// A validated target.
#[derive(Debug, Clone)]
pub struct Target {
    pub input: TargetInput,
    pub protocol: Protocol,
    /// Everything but the tracked headers, which are set at invocation
    /// (and a `reflect` target's gRPC call, see [`Target::reflects`]).
    pub spec: TargetSpec,
    /// How often the timeline samples this target.
    pub interval: Duration,
    pub thresholds: Vec<Threshold>,
}

impl Target {
    pub fn name(&self) -> &str {
        &self.input.name
    }

    pub fn auto_invoke(&self) -> bool {
        self.input.auto_invoke == Some(true)
    }

    /// A gRPC target whose call is built from reflection at invocation.
    pub fn reflects(&self) -> bool {
        self.protocol == Protocol::Grpc && self.input.reflect == Some(true)
    }

    /// Parses and validates a target from its JSON text.
    pub fn from_json(body: &[u8]) -> Result<Target, ApiError> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Err(ApiError::bad("missing target JSON body"));
        }
        let input: TargetInput = serde_json::from_slice(body).map_err(|e| {
            match crate::api::fields::unknown_field(&e.to_string()) {
                Some(hint) => ApiError::bad(hint),
                None => ApiError::bad(format!("invalid target JSON: {e}")),
            }
        })?;
        Target::from_input(input)
    }

    /// Validates a parsed target; fills the defaults the echo shows.
    pub fn from_input(mut input: TargetInput) -> Result<Target, ApiError> {
        input.name = input.name.trim().to_string();
        if input.name.is_empty() {
            return Err(ApiError::bad("target needs a name"));
        }
        if input.name.contains(',') || input.name.contains('/') {
            return Err(ApiError::bad(format!(
                "invalid target name {:?}: ',' and '/' are not allowed",
                input.name
            )));
        }
        if input.url.trim().is_empty() {
            return Err(ApiError::bad(format!("target {} needs a url", input.name)));
        }
        if input.method.trim().is_empty() {
            input.method = "GET".into();
        }
        let protocol = match input.protocol.as_deref().map(str::trim) {
            None | Some("") => Protocol::Http1,
            Some(p)
                if p.eq_ignore_ascii_case("HTTP/1.1")
                    || p.eq_ignore_ascii_case("HTTP/1")
                    || p.eq_ignore_ascii_case("HTTP/1.0") =>
            {
                Protocol::Http1
            }
            Some(p)
                if p.eq_ignore_ascii_case("HTTP/2.0")
                    || p.eq_ignore_ascii_case("HTTP/2")
                    || p.eq_ignore_ascii_case("h2") =>
            {
                Protocol::Http2
            }
            Some(p) if p.eq_ignore_ascii_case("grpc") => Protocol::Grpc,
            Some(p) => {
                return Err(ApiError::bad(format!(
                    "invalid protocol {p:?}: use HTTP/1.1, HTTP/2.0 or grpc"
                )))
            }
        };
        if !(1..=i64::from(MAX_REPLICAS)).contains(&input.replicas) {
            return Err(ApiError::bad(format!(
                "replicas must be between 1 and {MAX_REPLICAS}, got {}",
                input.replicas
            )));
        }
        // Each HTTP/1.1 replica holds a connection: past the open-files
        // limit a run would only collect "too many open files" errors (and
        // keep their state), so refuse it here, as `goto load -c` does.
        if protocol == Protocol::Http1 {
            let needed = input.replicas as u64 + SPARE_FDS;
            match goto_engine::raise_nofile_limit(needed) {
                Ok(got) if got >= needed => {}
                Ok(got) => {
                    return Err(ApiError::bad(format!(
                        "{} replicas need {needed} open files but this process may open {got} \
                         (raise its open-files limit, `ulimit -n`, or lower replicas)",
                        input.replicas
                    )))
                }
                Err(e) => {
                    return Err(ApiError::bad(format!(
                        "{} replicas need {needed} open files; cannot raise the limit: {e}",
                        input.replicas
                    )))
                }
            }
        }
        if input.request_count < 0 {
            return Err(ApiError::bad(format!(
                "requestCount must be 0 (until stopped) or more, got {}",
                input.request_count
            )));
        }
        let retries = input.retries.unwrap_or(0);
        if !(0..=i64::from(MAX_RETRIES)).contains(&retries) {
            return Err(ApiError::bad(format!(
                "retries must be between 0 and {MAX_RETRIES}, got {retries}"
            )));
        }
        let mut headers = Vec::with_capacity(input.headers.len());
        let metadata = input.metadata.iter().flatten();
        if protocol != Protocol::Grpc && input.metadata.is_some() {
            return Err(ApiError::bad("metadata needs protocol grpc (use headers)"));
        }
        for h in input.headers.iter().chain(metadata) {
            match h.as_slice() {
                [k, v] => headers.push((k.clone(), v.clone())),
                _ => {
                    return Err(ApiError::bad(format!(
                        "invalid header {h:?}: each header is a [name, value] pair"
                    )))
                }
            }
        }
        let mut retriable = Vec::new();
        for c in input.retriable_status_codes.iter().flatten() {
            match u16::try_from(*c) {
                Ok(c) if (100..=999).contains(&c) => retriable.push(c),
                _ => {
                    return Err(ApiError::bad(format!(
                        "invalid retriable status code {c}: must be 100-999"
                    )))
                }
            }
        }
        let d =
            |field: &str, v: &Option<String>, default: Duration| -> Result<Duration, ApiError> {
                match v.as_deref().map(str::trim) {
                    None | Some("") => Ok(default),
                    Some(s) => duration::parse(s)
                        .map_err(|e| ApiError::bad(format!("invalid {field} {s:?}: {e}"))),
                }
            };
        let run_for = match input.duration.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(_) => Some(d("duration", &input.duration, Duration::ZERO)?),
        };
        // Unset fields take the engine's defaults: one set, in one place.
        let def = TargetSpec::default();
        let mut spec = TargetSpec {
            name: input.name.clone(),
            method: input.method.clone(),
            url: input.url.trim().to_string(),
            headers,
            body: Bytes::from(input.body.clone().into_bytes()),
            replicas: u32::try_from(input.replicas).unwrap_or(1),
            requests_per_replica: match input.request_count {
                0 => None,
                n => Some(n.unsigned_abs()),
            },
            duration: run_for,
            rate: input.rate,
            delay: d("delay", &input.delay, def.delay)?,
            initial_delay: d("initialDelay", &input.initial_delay, def.initial_delay)?,
            retries: u32::try_from(retries).unwrap_or(0),
            retry_delay: d("retryDelay", &input.retry_delay, def.retry_delay)?,
            retriable_status: retriable,
            send_id: input.send_id,
            connect_timeout: d("connTimeout", &input.conn_timeout, def.connect_timeout)?,
            request_timeout: d(
                "requestTimeout",
                &input.request_timeout,
                def.request_timeout,
            )?,
            idle_timeout: d(
                "connIdleTimeout",
                &input.conn_idle_timeout,
                def.idle_timeout,
            )?,
            verify_tls: input.verify_tls.unwrap_or(false),
            track_headers: Vec::new(),
            total_requests: None,
            ..def
        };
        if protocol == Protocol::Grpc {
            // None for a reflect target: resolved at invocation.
            spec.grpc = super::grpc::call(&super::grpc::input(&input)?)?;
            spec.method = "POST".into();
        } else if input.call.is_some()
            || input.proto_files.is_some()
            || input.protoset.is_some()
            || input.reflect.is_some()
        {
            return Err(ApiError::bad(format!(
                "invalid target {}: call, protoFiles, protoset and reflect need protocol grpc",
                input.name
            )));
        }
        if let Some(stages) = &input.stages {
            let shape = Stages::try_new(input.rate.unwrap_or(0.0), stages.clone())
                .map_err(|e| ApiError::bad(format!("invalid target {}: {e}", input.name)))?;
            // A shape runs for its length; the default count of 1 would end it at once.
            if input.request_count <= 1 {
                spec.requests_per_replica = None;
            }
            spec.duration = Some(
                spec.duration
                    .map_or(shape.total(), |d| d.min(shape.total())),
            );
            spec.stages = Some(shape);
        }
        spec.validate()
            .map_err(|e| ApiError::bad(format!("invalid target {}: {e}", input.name)))?;
        let interval = d("interval", &input.interval, Duration::from_secs(1))?;
        if interval < MIN_INTERVAL {
            return Err(ApiError::bad(format!(
                "interval must be at least {} ms",
                MIN_INTERVAL.as_millis()
            )));
        }
        let thresholds =
            goto_engine::threshold::parse_all(input.thresholds.as_deref().unwrap_or(&[]))
                .map_err(|e| ApiError::bad(e.to_string()))?;
        Ok(Target {
            input,
            protocol,
            spec,
            interval,
            thresholds,
        })
    }

    /// The echo after `Added target: `.
    pub fn echo(&self) -> String {
        serde_json::to_string(&self.input).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Target, ApiError> {
        Target::from_json(s.as_bytes())
    }

    #[test]
    fn seed_target_echoes_in_the_original_shape() {
        let t = parse(
            r#"{ "name": "target1", "method": "POST", "url": "http://127.0.0.1:1/some/api",
                 "headers":[["x", "x1"],["y", "y1"]], "body": "{\"test\":\"this\"}",
                 "replicas": 2, "requestCount": 200, "delay": "200ms", "sendID": true }"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            t.echo(),
            r#"{"name":"target1","method":"POST","url":"http://127.0.0.1:1/some/api","headers":[["x","x1"],["y","y1"]],"body":"{\"test\":\"this\"}","bodyReader":null,"replicas":2,"requestCount":200,"delay":"200ms","keepOpen":"","sendID":true}"#
        );
        assert_eq!(t.spec.delay, Duration::from_millis(200));
        assert_eq!(t.spec.requests_per_replica, Some(200));
        assert!(t.spec.send_id);
    }

    #[test]
    fn defaults_follow_the_contract() {
        let t =
            parse(r#"{"name":"t","url":"http://127.0.0.1:1/"}"#).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(t.spec.method, "GET");
        assert_eq!(t.spec.replicas, 1);
        assert_eq!(t.spec.requests_per_replica, Some(1));
        assert_eq!(t.spec.delay, Duration::from_millis(10));
        assert_eq!(t.spec.retry_delay, Duration::from_secs(1));
        assert_eq!(t.spec.connect_timeout, Duration::from_secs(30));
        assert_eq!(t.spec.idle_timeout, Duration::from_secs(300));
        assert!(!t.spec.verify_tls);
        assert_eq!(t.protocol, Protocol::Http1);
    }

    #[test]
    fn bad_targets_are_refused_with_a_reason() {
        for (body, want) in [
            (r#"{"name":"t"}"#, "needs a url"),
            (r#"{"url":"http://127.0.0.1/"}"#, "needs a name"),
            (
                r#"{"name":"t","url":"http://127.0.0.1/","delay":"soon"}"#,
                "invalid delay",
            ),
            (
                r#"{"name":"t","url":"http://127.0.0.1/","replicas":0}"#,
                "replicas",
            ),
            (
                r#"{"name":"t","url":"http://127.0.0.1/","replicas":100000000}"#,
                "replicas",
            ),
            (r#"{"name":"t","url":"ftp://127.0.0.1/"}"#, "invalid URL"),
            (
                r#"{"name":"t","url":"http://127.0.0.1/","protocol":"SPDY"}"#,
                "protocol",
            ),
            (
                r#"{"name":"t","url":"http://127.0.0.1/","headers":[["x"]]}"#,
                "pair",
            ),
            (
                r#"{"name":"t","url":"http://127.0.0.1/","rate":-1}"#,
                "rate",
            ),
            (r#"{"name":"t","#, "invalid target JSON"),
            ("", "missing"),
        ] {
            match parse(body) {
                Ok(_) => panic!("accepted {body}"),
                Err(e) => assert!(e.to_string().contains(want), "{body}: {e}"),
            }
        }
    }
}
