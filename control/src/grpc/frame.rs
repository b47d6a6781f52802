//! gRPC's message framing over HTTP/2 bodies: the 5-byte prefix (a
//! compressed flag and a big-endian length) on the way in and out, and the
//! response bodies that end with `grpc-status` trailers (one message, or a
//! stream fed by a task).

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, BufMut, Bytes, BytesMut};
use http::{HeaderMap, HeaderValue};
use http_body_util::BodyExt;
use hyper::body::{Body as HttpBody, Frame, SizeHint};
use tokio::sync::mpsc;

use super::status::{self, Status};
use crate::body::BoxError;

/// Largest message accepted in a request (gRPC's usual default).
pub const MAX_MESSAGE: usize = 4 * 1024 * 1024;

pub static GRPC_STATUS: http::HeaderName = http::HeaderName::from_static("grpc-status");
pub static GRPC_MESSAGE: http::HeaderName = http::HeaderName::from_static("grpc-message");
pub static CONTENT_TYPE_GRPC: HeaderValue = HeaderValue::from_static("application/grpc");

/// One message with its prefix.
pub fn encode(msg: &impl prost::Message) -> Bytes {
    let len = msg.encoded_len();
    let mut b = BytesMut::with_capacity(5 + len);
    b.put_u8(0);
    b.put_u32(len as u32);
    // Cannot fail: the buffer has room for the whole message.
    let _ = msg.encode(&mut b);
    b.freeze()
}

/// Already encoded message bytes with their prefix.
pub fn encode_raw(msg: &[u8]) -> Bytes {
    let mut b = BytesMut::with_capacity(5 + msg.len());
    b.put_u8(0);
    b.put_u32(msg.len() as u32);
    b.put_slice(msg);
    b.freeze()
}

/// The trailers of a finished call: `grpc-status` and, when not OK and
/// given, `grpc-message`.
pub fn trailers(code: u8, message: &str) -> HeaderMap {
    let mut h = HeaderMap::with_capacity(2);
    put_status(&mut h, code, message);
    h
}

/// Adds `grpc-status` (and `grpc-message`) to headers or trailers.
pub fn put_status(h: &mut HeaderMap, code: u8, message: &str) {
    h.insert(
        GRPC_STATUS.clone(),
        HeaderValue::from_static(status::text(code)),
    );
    if !message.is_empty() {
        if let Ok(v) = HeaderValue::from_str(&status::encode_message(message)) {
            h.insert(GRPC_MESSAGE.clone(), v);
        }
    }
}

/// HTTP/2 error codes by name (RFC 9113 section 7), for reset faults.
const H2_CODES: [&str; 14] = [
    "NO_ERROR",
    "PROTOCOL_ERROR",
    "INTERNAL_ERROR",
    "FLOW_CONTROL_ERROR",
    "SETTINGS_TIMEOUT",
    "STREAM_CLOSED",
    "FRAME_SIZE_ERROR",
    "REFUSED_STREAM",
    "CANCEL",
    "COMPRESSION_ERROR",
    "CONNECT_ERROR",
    "ENHANCE_YOUR_CALM",
    "INADEQUATE_SECURITY",
    "HTTP_1_1_REQUIRED",
];

/// `CANCEL`, `refused_stream` or `8`.
pub fn parse_h2_code(s: &str) -> Result<u32, super::GrpcError> {
    let s = s.trim();
    if let Ok(n) = s.parse::<u32>() {
        if (n as usize) < H2_CODES.len() {
            return Ok(n);
        }
    }
    H2_CODES
        .iter()
        .position(|c| c.eq_ignore_ascii_case(s))
        .map(|i| i as u32)
        .ok_or_else(|| super::GrpcError::H2Code(s.to_string()))
}

pub fn h2_code_name(c: u32) -> &'static str {
    H2_CODES
        .get(c as usize)
        .copied()
        .unwrap_or("INTERNAL_ERROR")
}

/// Reads length-prefixed messages off a request body as they arrive.
pub struct Reader<B> {
    body: B,
    buf: BytesMut,
    done: bool,
}

impl<B> Reader<B>
where
    B: HttpBody<Data = Bytes> + Unpin,
    B::Error: std::fmt::Display,
{
    pub fn new(body: B) -> Reader<B> {
        Reader {
            body,
            buf: BytesMut::new(),
            done: false,
        }
    }

    /// The next message; `None` once the client half-closed cleanly.
    pub async fn next(&mut self) -> Result<Option<Bytes>, Status> {
        loop {
            if self.buf.len() >= 5 {
                if self.buf[0] != 0 {
                    return Err(Status::new(
                        status::UNIMPLEMENTED,
                        "compressed messages are not supported (send grpc-encoding identity)",
                    ));
                }
                let len = u32::from_be_bytes([self.buf[1], self.buf[2], self.buf[3], self.buf[4]])
                    as usize;
                if len > MAX_MESSAGE {
                    return Err(Status::new(
                        status::RESOURCE_EXHAUSTED,
                        format!("message of {len} bytes is over the limit of {MAX_MESSAGE}"),
                    ));
                }
                if self.buf.len() >= 5 + len {
                    self.buf.advance(5);
                    return Ok(Some(self.buf.split_to(len).freeze()));
                }
            }
            if self.done {
                if self.buf.is_empty() {
                    return Ok(None);
                }
                return Err(Status::new(
                    status::INTERNAL,
                    "the request ended inside a message",
                ));
            }
            match self.body.frame().await {
                None => self.done = true,
                Some(Ok(f)) => {
                    if let Ok(d) = f.into_data() {
                        self.buf.extend_from_slice(&d);
                    }
                }
                Some(Err(e)) => {
                    return Err(Status::new(
                        status::CANCELLED,
                        format!("request stream failed: {e}"),
                    ))
                }
            }
        }
    }
}

/// What a stream's task sends: a message, the final status, or a reset.
pub enum Out {
    Data(Bytes),
    Trailers(HeaderMap),
    /// Resets the stream (RST_STREAM) instead of finishing it.
    Reset,
}

/// A gRPC response body: one message then trailers, or a task's stream.
pub enum GrpcBody {
    Unary {
        data: Option<Bytes>,
        trailers: Option<HeaderMap>,
    },
    Channel(mpsc::Receiver<Out>),
    /// Fails at once with this HTTP/2 error code: hyper resets the stream
    /// (RST_STREAM) with the reason the error carries.
    Reset(u32),
}

/// The reset a body asks hyper for by failing.
#[derive(Debug, thiserror::Error)]
#[error("stream reset by a gRPC fault")]
pub struct ResetStream;

impl HttpBody for GrpcBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match self.get_mut() {
            GrpcBody::Unary { data, trailers } => {
                if let Some(d) = data.take() {
                    return Poll::Ready(Some(Ok(Frame::data(d))));
                }
                Poll::Ready(trailers.take().map(|t| Ok(Frame::trailers(t))))
            }
            GrpcBody::Channel(rx) => match rx.poll_recv(cx) {
                Poll::Ready(Some(Out::Data(d))) => Poll::Ready(Some(Ok(Frame::data(d)))),
                Poll::Ready(Some(Out::Trailers(t))) => {
                    rx.close();
                    Poll::Ready(Some(Ok(Frame::trailers(t))))
                }
                Poll::Ready(Some(Out::Reset)) => Poll::Ready(Some(Err(Box::new(ResetStream)))),
                Poll::Ready(None) => Poll::Ready(None),
                Poll::Pending => Poll::Pending,
            },
            GrpcBody::Reset(code) => Poll::Ready(Some(Err(Box::new(h2::Error::from(
                h2::Reason::from(*code),
            ))))),
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(
            self,
            GrpcBody::Unary {
                data: None,
                trailers: None
            }
        )
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            GrpcBody::Unary { data, .. } => {
                let mut h = SizeHint::new();
                h.set_lower(data.as_ref().map_or(0, |d| d.len() as u64));
                h
            }
            GrpcBody::Channel(_) | GrpcBody::Reset(_) => SizeHint::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::Full;

    #[tokio::test]
    async fn split_and_joined_messages_are_read_back() {
        let mut wire = BytesMut::new();
        wire.extend_from_slice(&encode_raw(b"hello"));
        wire.extend_from_slice(&encode_raw(b""));
        wire.extend_from_slice(&encode_raw(b"world!"));
        let mut r = Reader::new(Full::new(wire.freeze()));
        assert_eq!(r.next().await, Ok(Some(Bytes::from_static(b"hello"))));
        assert_eq!(r.next().await, Ok(Some(Bytes::new())));
        assert_eq!(r.next().await, Ok(Some(Bytes::from_static(b"world!"))));
        assert_eq!(r.next().await, Ok(None));
        let mut cut = Reader::new(Full::new(Bytes::from_static(&[0, 0, 0, 0, 9, 1])));
        assert_eq!(cut.next().await.map_err(|s| s.code), Err(status::INTERNAL));
        let mut big = Reader::new(Full::new(Bytes::from_static(&[0, 0xff, 0, 0, 0])));
        assert_eq!(
            big.next().await.map_err(|s| s.code),
            Err(status::RESOURCE_EXHAUSTED)
        );
    }
}
