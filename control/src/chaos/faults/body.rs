//! Response bodies and outcomes of faults: a dripped body (N bytes every D)
//! and the marker that makes the connection close without an answer.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::Response;
use http_body_util::BodyExt;
use hyper::body::{Body as HttpBody, Frame, SizeHint};
use tokio::time::Sleep;

use super::Drip;
use crate::body::{Body, BoxError};

/// A body sent `chunk` bytes at a time, `every` apart; its length is exact,
/// so HTTP/1.1 still sends a Content-Length.
pub struct DripBody {
    data: Bytes,
    chunk: usize,
    every: Duration,
    wait: Option<Pin<Box<Sleep>>>,
}

impl DripBody {
    pub fn new(data: Bytes, drip: Drip) -> DripBody {
        DripBody {
            data,
            chunk: drip.bytes.max(1),
            every: drip.every,
            wait: None,
        }
    }

    /// The body as a response body.
    pub fn into_body(self) -> Body {
        Body::Stream(self.boxed_unsync())
    }
}

impl HttpBody for DripBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        if this.data.is_empty() {
            return Poll::Ready(None);
        }
        if let Some(w) = this.wait.as_mut() {
            if w.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
        }
        let n = this.chunk.min(this.data.len());
        let piece = this.data.split_to(n);
        this.wait = (!this.data.is_empty()).then(|| Box::pin(tokio::time::sleep(this.every)));
        Poll::Ready(Some(Ok(Frame::data(piece))))
    }

    fn is_end_stream(&self) -> bool {
        self.data.is_empty()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.data.len() as u64)
    }
}

/// Marks a response that must not be sent: the connection is closed instead
/// (HTTP/1.1), or the stream reset (HTTP/2). The listener's service turns it
/// into an error, which is how hyper drops a connection without answering.
#[derive(Debug, Clone, Copy)]
pub struct Abort;

impl std::fmt::Display for Abort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection closed by a fault")
    }
}

impl std::error::Error for Abort {}

/// A response carrying [`Abort`].
pub fn abort_response() -> Response<Body> {
    let mut r = Response::new(Body::empty());
    r.extensions_mut().insert(Abort);
    r
}

/// Whether a response is an [`Abort`]; cheap when it is not (no extensions).
#[inline]
pub fn is_abort(r: &Response<Body>) -> bool {
    r.extensions().get::<Abort>().is_some()
}

/// The whole response body re-sent as a drip; the length is kept when known.
pub fn drip_body(body: Body, drip: Drip) -> Body {
    match body {
        Body::Full(None) => Body::empty(),
        Body::Full(Some(b)) => DripBody::new(b, drip).into_body(),
        // Streams (proxied bodies) are not dripped: they keep flowing as they come.
        s @ (Body::Stream(_) | Body::Pooled(_)) => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn drips_in_pieces_with_gaps() {
        let drip = Drip {
            bytes: 4,
            every: Duration::from_millis(20),
        };
        let mut b = DripBody::new(Bytes::from_static(b"0123456789"), drip);
        assert_eq!(b.size_hint().exact(), Some(10));
        let start = tokio::time::Instant::now();
        let mut pieces = Vec::new();
        while let Some(f) = b.frame().await {
            pieces.push(f.unwrap().into_data().unwrap());
        }
        assert_eq!(pieces, vec!["0123", "4567", "89"]);
        assert!(start.elapsed() >= Duration::from_millis(40));
    }

    #[test]
    fn abort_marker() {
        assert!(is_abort(&abort_response()));
        assert!(!is_abort(&Response::new(Body::empty())));
    }
}
