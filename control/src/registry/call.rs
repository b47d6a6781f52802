//! A small outbound HTTP helper for the registry and the peer: one request
//! on the instance's pooled client, bounded in time, body read whole, and
//! carrying the admin token calls between goto instances need.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Method, Request, StatusCode};
use http_body_util::{BodyExt, Limited};

use crate::body::Body;
use crate::proxy::client::{error_text, HttpClient};

/// Largest reply body read from a peer or registry.
const REPLY_LIMIT: usize = 16 * 1024 * 1024;

/// What a call got back.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: StatusCode,
    pub body: Bytes,
}

impl Reply {
    /// The body as text, trimmed of the trailing newline.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).trim_end().to_string()
    }
}

/// Why a call to another instance got no reply.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("invalid request to {url}: {source}")]
    Request { url: String, source: http::Error },
    /// The connection or the exchange failed (the text says how).
    #[error("{0}")]
    Transport(String),
    /// The reply body failed or was too large (its error is boxed, so
    /// only its text is kept).
    #[error("cannot read reply: {0}")]
    Read(String),
    #[error("timed out after {}ms", .0.as_millis())]
    Timeout(Duration),
}

/// How goto calls another instance's admin API: a pooled client, and the
/// `Authorization` value (from `--admin-token`) the calls carry, if any.
#[derive(Clone)]
pub struct Caller {
    client: HttpClient,
    bearer: Option<HeaderValue>,
}

impl Caller {
    pub fn new(client: HttpClient, bearer: Option<HeaderValue>) -> Caller {
        Caller { client, bearer }
    }
}

/// Sends `method url` with `body`; an error on transport failure or
/// when `timeout` passes first.
pub async fn call(
    caller: &Caller,
    method: Method,
    url: &str,
    body: impl Into<Bytes>,
    timeout: Duration,
) -> Result<Reply, CallError> {
    let mut req = Request::builder()
        .method(method)
        .uri(url)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(Body::from_bytes(body.into()))
        .map_err(|source| CallError::Request {
            url: url.to_string(),
            source,
        })?;
    // Calls between goto instances are admin calls: they carry our token.
    if let Some(bearer) = &caller.bearer {
        req.headers_mut()
            .insert(http::header::AUTHORIZATION, bearer.clone());
    }
    let work = async {
        let resp = caller
            .client
            .request(req)
            .await
            .map_err(|e| CallError::Transport(error_text(&e)))?;
        let status = resp.status();
        let body = Limited::new(resp.into_body(), REPLY_LIMIT)
            .collect()
            .await
            .map_err(|e| CallError::Read(e.to_string()))?
            .to_bytes();
        Ok(Reply { status, body })
    };
    match tokio::time::timeout(timeout, work).await {
        Ok(r) => r,
        Err(_) => Err(CallError::Timeout(timeout)),
    }
}

/// Percent-encodes a path segment (an address, a key, a label).
pub fn seg(s: &str) -> String {
    crate::proxy::client::encode_uri_part(s, true)
}
