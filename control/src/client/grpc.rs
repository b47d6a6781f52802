//! A client target's gRPC call (`"protocol":"grpc"`): descriptors from
//! `protoFiles` (`{"name.proto": "text"}`) or `protoset` (base64), the
//! method from `call`, the request message from `data` (a JSON object, or
//! a string holding JSON), `metadata` pairs as request metadata; built
//! once when the target is added, so a bad one is a 400 naming the fix.
//! With `"reflect": true` the descriptors come from the server's
//! reflection service when the target is invoked ([`reflected`]): the
//! registry checks targets it never runs, against servers it cannot reach.

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine as _;
use goto_engine::grpc::{Descriptors, GrpcCall};

use super::target::TargetInput;
use crate::error::ApiError;

/// Most proto text or protoset bytes a target may carry.
const MAX_DESCRIPTORS: usize = 16 << 20;
/// Most messages `streamMessages` may ask a call to send.
const MAX_STREAM_MESSAGES: u32 = 100_000;

/// The gRPC fields of a target, as given.
pub struct GrpcInput<'a> {
    pub name: &'a str,
    pub call: Option<&'a str>,
    pub data: Option<&'a serde_json::Value>,
    pub proto_files: Option<&'a BTreeMap<String, String>>,
    pub protoset: Option<&'a str>,
    pub stream_messages: Option<u32>,
    pub stream_interval: Option<Duration>,
    /// Descriptors from the server's reflection, at invocation.
    pub reflect: bool,
}

/// The gRPC fields of `t` (its `streamInterval` parsed).
pub fn input(t: &TargetInput) -> Result<GrpcInput<'_>, ApiError> {
    let stream_interval = match t.stream_interval.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(s) => Some(
            goto_engine::duration::parse(s)
                .map_err(|e| ApiError::bad(format!("invalid streamInterval {s:?}: {e}")))?,
        ),
    };
    Ok(GrpcInput {
        name: &t.name,
        call: t.call.as_deref(),
        data: t.data.as_ref(),
        proto_files: t.proto_files.as_ref(),
        protoset: t.protoset.as_deref(),
        stream_messages: t.stream_messages,
        stream_interval,
        reflect: t.reflect == Some(true),
    })
}

/// Builds the call of a gRPC target; `None` for a `reflect` one, whose
/// fields are checked here as far as they can be without its descriptors.
pub fn call(g: &GrpcInput<'_>) -> Result<Option<GrpcCall>, ApiError> {
    let bad = |why: String| ApiError::bad(format!("invalid target {}: {why}", g.name));
    method(g)?;
    if g.reflect {
        if g.proto_files.is_some() || g.protoset.is_some() {
            return Err(bad("give reflect, protoFiles or protoset, one only".into()));
        }
        json(g)?;
        if g.stream_messages
            .is_some_and(|n| !(1..=MAX_STREAM_MESSAGES).contains(&n))
        {
            return Err(bad(format!(
                "streamMessages must be 1 to {MAX_STREAM_MESSAGES}"
            )));
        }
        return Ok(None);
    }
    let descriptors =
        match (g.proto_files, g.protoset) {
            (Some(_), Some(_)) => return Err(bad("give protoFiles or protoset, not both".into())),
            (Some(files), None) => {
                if files.values().map(String::len).sum::<usize>() > MAX_DESCRIPTORS {
                    return Err(bad(format!(
                        "protoFiles hold more than {MAX_DESCRIPTORS} bytes"
                    )));
                }
                Descriptors::from_proto_texts(files).map_err(|e| bad(e.to_string()))?
            }
            (None, Some(b64)) => {
                if b64.len() > MAX_DESCRIPTORS * 4 / 3 + 4 {
                    return Err(bad(format!(
                        "protoset is larger than {MAX_DESCRIPTORS} bytes"
                    )));
                }
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(b64.trim())
                    .map_err(|e| bad(format!("protoset is not base64: {e}")))?;
                Descriptors::from_protoset(&bytes).map_err(|e| bad(e.to_string()))?
            }
            (None, None) => return Err(bad(
                "protocol grpc needs protoFiles {\"name.proto\": \"text\"}, protoset (base64) or reflect: true"
                    .into(),
            )),
        };
    build(g, &descriptors).map(Some)
}

/// Why a `reflect` target's call could not be made at invocation.
#[derive(Debug, thiserror::Error)]
pub enum ReflectedError {
    /// The target's method, or the descriptors do not hold it or fit its
    /// data (as at add time).
    #[error(transparent)]
    Target(#[from] ApiError),
    #[error("target {target}: {source}")]
    Fetch {
        target: String,
        source: super::reflect::ReflectError,
    },
    #[error("target {0}: reflection failed")]
    Panicked(String),
}

/// The call of a `reflect` target, at invocation: the descriptors of its
/// service from the reflection service at `url` (within `timeout`), then
/// the call built as at add time. The error says which step failed.
pub fn reflected(
    g: &GrpcInput<'_>,
    url: &str,
    timeout: Duration,
) -> Result<GrpcCall, ReflectedError> {
    let method = method(g)?;
    let service = method
        .trim_start_matches('/')
        .rsplit_once('/')
        .map_or(method, |(s, _)| s);
    // Its own thread: the fetch runs a small runtime of its own, which
    // must not start inside the caller's.
    let fetched = std::thread::scope(|s| {
        s.spawn(|| super::reflect::fetch_blocking(url, service, timeout))
            .join()
    });
    let descriptors = match fetched {
        Ok(Ok(d)) => d,
        Ok(Err(source)) => {
            return Err(ReflectedError::Fetch {
                target: g.name.to_string(),
                source,
            })
        }
        Err(_) => return Err(ReflectedError::Panicked(g.name.to_string())),
    };
    Ok(build(g, &descriptors)?)
}

/// The method a target names.
fn method<'a>(g: &GrpcInput<'a>) -> Result<&'a str, ApiError> {
    g.call
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .ok_or_else(|| {
            ApiError::bad(format!(
                "invalid target {}: protocol grpc needs \"call\": \"package.Service/Method\"",
                g.name
            ))
        })
}

/// The request message as JSON text.
fn json(g: &GrpcInput<'_>) -> Result<String, ApiError> {
    match g.data {
        None | Some(serde_json::Value::Null) => Ok("{}".to_string()),
        Some(serde_json::Value::String(s)) => Ok(s.clone()),
        Some(v @ serde_json::Value::Object(_)) => Ok(v.to_string()),
        Some(_) => Err(ApiError::bad(format!(
            "invalid target {}: data must be a JSON object or a string of JSON",
            g.name
        ))),
    }
}

/// The call from `descriptors`, with the streaming fields applied.
fn build(g: &GrpcInput<'_>, descriptors: &Descriptors) -> Result<GrpcCall, ApiError> {
    let bad = |why: String| ApiError::bad(format!("invalid target {}: {why}", g.name));
    let method = method(g)?;
    let call = descriptors
        .call(method, &json(g)?)
        .map_err(|e| bad(e.to_string()))?;
    let call = with_messages(g, method, call)?;
    let Some(every) = g.stream_interval else {
        return Ok(call);
    };
    if !call.client_streams() {
        return Err(bad(format!(
            "streamInterval needs a client or bidi streaming method; {method} is not"
        )));
    }
    Ok(call.with_interval(every))
}

/// `call` with `streamMessages` applied (checked against the method).
fn with_messages(g: &GrpcInput<'_>, method: &str, call: GrpcCall) -> Result<GrpcCall, ApiError> {
    let bad = |why: String| ApiError::bad(format!("invalid target {}: {why}", g.name));
    let Some(n) = g.stream_messages else {
        return Ok(call);
    };
    if !(1..=MAX_STREAM_MESSAGES).contains(&n) {
        return Err(bad(format!(
            "streamMessages must be 1 to {MAX_STREAM_MESSAGES}"
        )));
    }
    if !call.client_streams() {
        return Err(bad(format!(
            "streamMessages needs a client or bidi streaming method; {method} is not"
        )));
    }
    if call.framed.len() as u64 * u64::from(n) > goto_engine::MAX_BODY as u64 {
        return Err(bad(format!(
            "streamMessages {n} makes a call larger than {} bytes",
            goto_engine::MAX_BODY
        )));
    }
    Ok(call.with_messages(n))
}
