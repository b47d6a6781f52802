//! A client target's gRPC call (`"protocol":"grpc"`): descriptors from
//! `protoFiles` (`{"name.proto": "text"}`) or `protoset` (base64), the
//! method from `call`, the request message from `data` (a JSON object, or
//! a string holding JSON), `metadata` pairs as request metadata; built
//! once when the target is added, so a bad one is a 400 naming the fix.

use std::collections::BTreeMap;

use base64::Engine as _;
use goto_engine::grpc::{Descriptors, GrpcCall};

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
    pub stream_interval: Option<std::time::Duration>,
}

/// Builds the call of a gRPC target.
pub fn call(g: &GrpcInput<'_>) -> Result<GrpcCall, ApiError> {
    let bad = |why: String| ApiError::bad(format!("invalid target {}: {why}", g.name));
    let Some(method) = g.call.map(str::trim).filter(|c| !c.is_empty()) else {
        return Err(bad(
            "protocol grpc needs \"call\": \"package.Service/Method\"".into(),
        ));
    };
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
                "protocol grpc needs protoFiles {\"name.proto\": \"text\"} or protoset (base64)"
                    .into(),
            )),
        };
    let json = match g.data {
        None | Some(serde_json::Value::Null) => "{}".to_string(),
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(v @ serde_json::Value::Object(_)) => v.to_string(),
        Some(_) => return Err(bad("data must be a JSON object or a string of JSON".into())),
    };
    let call = descriptors
        .call(method, &json)
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
