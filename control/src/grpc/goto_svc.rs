//! `goto.Goto`, the built-in echo: `Echo` (unary), `StreamOut` (a count of
//! answers an interval apart), `StreamIn` (many requests, one answer) and
//! `StreamInOut` (an answer per request). Every answer carries the payload
//! with the listener's label, host and port and the call's metadata.

use std::collections::BTreeMap;
use std::time::Duration;

use http::HeaderMap;
use hyper::body::Incoming;
use prost::Message as _;

use super::call::Call;
use super::frame::{self, Reader};
use super::pb::{EchoRequest, EchoResponse, StreamOutRequest};
use super::status::{self, Status};
use crate::body::Body;
use crate::chaos::faults::spec::MAX_DELAY;
use crate::textfmt::header_text;

/// Most answers one `StreamOut` sends.
const MAX_COUNT: u32 = 100_000;
/// Most requests one `StreamIn` takes.
const MAX_IN: u32 = 1_000_000;

fn bad(e: impl std::fmt::Display) -> Status {
    Status::new(
        status::INVALID_ARGUMENT,
        format!("cannot decode the request: {e}"),
    )
}

/// The request's metadata: every header but the transport's own; a
/// repeated key's values joined with ", " (as the HTTP echo does).
pub fn metadata(h: &HeaderMap) -> BTreeMap<String, String> {
    let mut m: BTreeMap<String, String> = BTreeMap::new();
    for (k, v) in h {
        if matches!(k.as_str(), "content-type" | "te") {
            continue;
        }
        let v = header_text(v);
        match m.get_mut(k.as_str()) {
            Some(prev) => {
                prev.push_str(", ");
                prev.push_str(&v);
            }
            None => {
                m.insert(k.as_str().to_string(), v.into_owned());
            }
        }
    }
    m
}

/// The answer to `payload` (metadata, identity) before its stream position.
fn answer(call: &Call, payload: String) -> EchoResponse {
    EchoResponse {
        payload,
        label: call.who.label.clone(),
        host: call.who.host.clone(),
        port: u32::from(call.who.port),
        metadata: metadata(&call.parts.headers),
        method: call.method().to_string(),
        index: 0,
        count: 0,
        remote_address: call.who.remote.clone(),
    }
}

pub async fn serve(call: Call, method: &str, body: Incoming) -> http::Response<Body> {
    match method {
        "Echo" => {
            let r = match call.read_one(body).await {
                Ok(m) => EchoRequest::decode(m).map_err(bad),
                Err(s) => Err(s),
            };
            let r = r.map(|req| frame::encode(&answer(&call, req.payload)));
            call.unary(r)
        }
        "StreamOut" => {
            let req = match call.read_one(body).await {
                Ok(m) => StreamOutRequest::decode(m).map_err(bad),
                Err(s) => Err(s),
            };
            let req = match req.and_then(|r| stream_out_plan(&r).map(|p| (r.payload, p))) {
                Ok(r) => r,
                Err(s) => return call.fail(s),
            };
            let (payload, (count, every)) = req;
            let base = answer(&call, payload);
            call.streaming(move |sink| async move {
                for i in 0..count {
                    if i > 0 && !every.is_zero() {
                        crate::timer::sleep_for(every).await;
                    }
                    let mut a = base.clone();
                    a.index = i;
                    sink.send(&a).await?;
                }
                Ok(())
            })
        }
        "StreamIn" => {
            let mut r = Reader::new(body);
            let mut payloads: Vec<String> = Vec::new();
            let mut n = 0u32;
            let out = loop {
                match r.next().await {
                    Ok(Some(m)) => match EchoRequest::decode(m) {
                        Ok(req) if n < MAX_IN => {
                            n += 1;
                            payloads.push(req.payload);
                        }
                        Ok(_) => {
                            break Err(Status::new(
                                status::RESOURCE_EXHAUSTED,
                                format!("more than {MAX_IN} messages"),
                            ))
                        }
                        Err(e) => break Err(bad(e)),
                    },
                    Ok(None) => break Ok(()),
                    Err(s) => break Err(s),
                }
            };
            let out = out.map(|()| {
                let mut a = answer(&call, payloads.join(","));
                a.count = n;
                frame::encode(&a)
            });
            call.unary(out)
        }
        "StreamInOut" => {
            let base = answer(&call, String::new());
            let mut r = Reader::new(body);
            call.streaming(move |sink| async move {
                let mut i = 0u32;
                loop {
                    let next = tokio::select! {
                        m = r.next() => m?,
                        _ = sink.closed() => return Ok(()),
                    };
                    let Some(m) = next else { return Ok(()) };
                    let req = EchoRequest::decode(m).map_err(bad)?;
                    let mut a = base.clone();
                    a.payload = req.payload;
                    a.index = i;
                    i = i.saturating_add(1);
                    sink.send(&a).await?;
                }
            })
        }
        other => {
            let m = format!("goto.Goto has no method {other}");
            call.fail(Status::new(status::UNIMPLEMENTED, m))
        }
    }
}

/// `count` (default 1, at most [`MAX_COUNT`]) and `interval` (a Go duration, default none).
fn stream_out_plan(r: &StreamOutRequest) -> Result<(u32, Duration), Status> {
    let count = if r.count == 0 { 1 } else { r.count };
    if count > MAX_COUNT {
        return Err(Status::new(
            status::INVALID_ARGUMENT,
            format!("count {count} is over the most, {MAX_COUNT}"),
        ));
    }
    let every = if r.interval.trim().is_empty() {
        Duration::ZERO
    } else {
        goto_engine::duration::parse(r.interval.trim())
            .map_err(|e| Status::new(status::INVALID_ARGUMENT, format!("invalid interval: {e}")))?
    };
    if every > MAX_DELAY {
        return Err(Status::new(
            status::INVALID_ARGUMENT,
            "interval is over the most, 1h",
        ));
    }
    Ok((count, every))
}
