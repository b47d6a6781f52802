//! The response body type of every handler, small response builders, and
//! the request body as the runtime path and the proxy see it.
//!
//! Most responses are a single buffer; proxied responses stream. One enum keeps
//! the common case free of boxing.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use http::{header, HeaderValue, Response, StatusCode};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::BodyExt;
use hyper::body::{Body as HttpBody, Frame, Incoming, SizeHint};

pub mod pooled;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A response body: a whole buffer, or a stream (proxy).
pub enum Body {
    Full(Option<Bytes>),
    Stream(UnsyncBoxBody<Bytes, BoxError>),
    /// An upstream's answer over the proxy's own pool (unboxed: no allocation).
    Pooled(pooled::PooledBody),
}

impl Body {
    pub fn empty() -> Body {
        Body::Full(None)
    }

    pub fn from_bytes(b: impl Into<Bytes>) -> Body {
        let b = b.into();
        if b.is_empty() {
            Body::Full(None)
        } else {
            Body::Full(Some(b))
        }
    }
}

impl HttpBody for Body {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match self.get_mut() {
            Body::Full(b) => Poll::Ready(b.take().map(|b| Ok(Frame::data(b)))),
            Body::Stream(s) => Pin::new(s).poll_frame(cx),
            Body::Pooled(s) => Pin::new(s).poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Body::Full(b) => b.is_none(),
            Body::Stream(s) => s.is_end_stream(),
            Body::Pooled(s) => s.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Body::Full(Some(b)) => SizeHint::with_exact(b.len() as u64),
            Body::Full(None) => SizeHint::with_exact(0),
            Body::Stream(s) => s.size_hint(),
            Body::Pooled(s) => s.size_hint(),
        }
    }
}

/// A request body: still streaming, or already read.
pub enum InBody {
    Stream(Incoming),
    Read(Bytes),
    /// Passed through something on the way (a proxy target's toxics).
    Piped(Body),
}

impl InBody {
    /// Reads up to `limit` bytes, draining (and counting) the rest, within
    /// `timeout`. A malformed body (bad chunked framing, a short length) is a
    /// 400 and a body still coming at the deadline a 408: never a silently
    /// truncated echo.
    pub async fn read_capped(
        self,
        limit: usize,
        timeout: std::time::Duration,
    ) -> Result<(Bytes, u64), Response<Body>> {
        let read = match self {
            InBody::Read(b) => {
                let n = b.len() as u64;
                return Ok((b.slice(..b.len().min(limit)), n));
            }
            // Most requests have no body: no timer, no buffer.
            InBody::Stream(s) if s.is_end_stream() => return Ok((Bytes::new(), 0)),
            InBody::Stream(s) => tokio::time::timeout(timeout, read_capped(s, limit))
                .await
                .map(|r| r.map_err(|e| e.to_string())),
            InBody::Piped(s) => tokio::time::timeout(timeout, read_capped(s, limit))
                .await
                .map(|r| r.map_err(|e| e.to_string())),
        };
        match read {
            Ok(Ok(done)) => Ok(done),
            Ok(Err(e)) => Err(text(
                StatusCode::BAD_REQUEST,
                format!("malformed request body: {e}"),
            )),
            Err(_) => Err(text(
                StatusCode::REQUEST_TIMEOUT,
                format!(
                    "request body not received within {}",
                    goto_engine::duration::format(timeout)
                ),
            )),
        }
    }
}

async fn read_capped<B>(mut s: B, limit: usize) -> Result<(Bytes, u64), B::Error>
where
    B: HttpBody<Data = Bytes> + Unpin,
{
    let mut kept = BytesMut::new();
    let mut total = 0u64;
    while let Some(frame) = s.frame().await {
        if let Ok(data) = frame?.into_data() {
            total += data.len() as u64;
            let room = limit.saturating_sub(kept.len());
            kept.extend_from_slice(&data[..data.len().min(room)]);
        }
    }
    Ok((kept.freeze(), total))
}

static TEXT: HeaderValue = HeaderValue::from_static("text/plain; charset=utf-8");
static JSON: HeaderValue = HeaderValue::from_static("application/json");

/// A plain-text response: the message plus a newline, as curl users expect.
pub fn text(status: StatusCode, msg: impl Into<String>) -> Response<Body> {
    let mut s = msg.into();
    if !s.ends_with('\n') {
        s.push('\n');
    }
    let mut r = Response::new(Body::from_bytes(s));
    *r.status_mut() = status;
    r.headers_mut().insert(header::CONTENT_TYPE, TEXT.clone());
    r
}

/// 200 with a one-line message.
pub fn ok(msg: impl Into<String>) -> Response<Body> {
    text(StatusCode::OK, one_line(&msg.into()))
}

/// Messages and reasons quote user input (decoded path segments can hold
/// `%0A`): control characters are escaped so they always stay one line.
pub fn one_line(msg: &str) -> String {
    // A tab is a valid header-value (label) character and breaks no line.
    let breaks = |c: char| c.is_control() && c != '\t';
    if !msg.chars().any(breaks) {
        return msg.to_string();
    }
    msg.chars()
        .map(|c| {
            if breaks(c) {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// 200 with a JSON document.
pub fn json<T: serde::Serialize + ?Sized>(v: &T) -> Response<Body> {
    match serde_json::to_vec(v) {
        Ok(mut b) => {
            b.push(b'\n');
            let mut r = Response::new(Body::from_bytes(b));
            r.headers_mut().insert(header::CONTENT_TYPE, JSON.clone());
            r
        }
        Err(e) => text(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot encode JSON: {e}"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::one_line;

    #[test]
    fn reasons_stay_on_one_line() {
        assert_eq!(one_line("no target a\nb\r"), "no target a\\nb\\r");
        assert_eq!(one_line("plain é\tx"), "plain é\tx");
    }
}
