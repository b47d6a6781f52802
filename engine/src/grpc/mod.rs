//! gRPC over the engine's HTTP/2 codec: what a call is ([`GrpcCall`], its
//! path and its request message framed once at plan time), the status
//! codes and their canonical names, the HTTP-to-gRPC status mapping for
//! responses that carry no `grpc-status`, `grpc-message` percent-decoding,
//! and the response message framing ([`Deframer`], fed DATA as it
//! arrives). Descriptors and JSON-to-protobuf live in [`describe`].

pub mod describe;

use bytes::Bytes;

pub use describe::{Descriptors, GrpcError};

/// Canonical gRPC status names, by code (0 to 16).
pub const STATUS_NAMES: [&str; 17] = [
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
];

/// Codes past 16 are counted here (as UNKNOWN, which is what the spec says
/// a client should make of a code it does not know).
pub const UNKNOWN: u8 = 2;
pub const INTERNAL: u8 = 13;
pub const UNAVAILABLE: u8 = 14;

/// The canonical name of a status code.
pub fn status_name(code: u8) -> &'static str {
    STATUS_NAMES
        .get(usize::from(code))
        .copied()
        .unwrap_or("UNKNOWN")
}

/// The code of a canonical name (any case).
pub fn status_code(name: &str) -> Option<u8> {
    STATUS_NAMES
        .iter()
        .position(|n| n.eq_ignore_ascii_case(name))
        .map(|i| i as u8)
}

/// The status a response without `grpc-status` stands for: the gRPC spec's
/// HTTP-to-gRPC table for a non-200 HTTP status; a 200 that ended without
/// one is INTERNAL (the server broke the protocol).
pub fn from_http_status(http: u16) -> u8 {
    match http {
        200 => INTERNAL,
        400 => INTERNAL,
        401 => 16,
        403 => 7,
        404 => 12,
        429 | 502 | 503 | 504 => UNAVAILABLE,
        _ => UNKNOWN,
    }
}

/// Parses a `grpc-status` value: decimal digits, at most 3.
pub fn parse_status(v: &[u8]) -> Option<u8> {
    if v.is_empty() || v.len() > 3 || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n = v.iter().fold(0u16, |n, d| n * 10 + u16::from(d - b'0'));
    Some(if n > 16 { UNKNOWN } else { n as u8 })
}

/// Percent-decodes a `grpc-message` (the spec's percent-encoding of UTF-8);
/// bad escapes are kept as they are.
pub fn decode_message(v: &[u8]) -> String {
    let mut out = Vec::with_capacity(v.len());
    let mut i = 0;
    while i < v.len() {
        if v[i] == b'%' && i + 2 < v.len() {
            let hex = |c: u8| (c as char).to_digit(16);
            if let (Some(a), Some(b)) = (hex(v[i + 1]), hex(v[i + 2])) {
                out.push((a * 16 + b) as u8);
                i += 3;
                continue;
            }
        }
        out.push(v[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Which side streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CallKind {
    #[default]
    Unary,
    ServerStreaming,
    ClientStreaming,
    Bidi,
}

/// One gRPC method call as a target sends it, built once at plan time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrpcCall {
    /// `/package.Service/Method`.
    pub path: String,
    /// The request message with its 5-byte prefix (uncompressed), as
    /// many times as a call sends it.
    pub framed: Bytes,
    pub kind: CallKind,
    /// Request messages each call sends (1 unless streaming from the client).
    pub messages: u32,
    /// Client and bidi streaming: how far apart a call's messages go (the
    /// first at once); `None` sends them back to back.
    pub interval: Option<std::time::Duration>,
}

impl GrpcCall {
    /// A call of `path` with the protobuf bytes `message`.
    pub fn new(path: String, message: &[u8], kind: CallKind) -> GrpcCall {
        GrpcCall {
            path,
            framed: frame_message(message),
            kind,
            messages: 1,
            interval: None,
        }
    }

    /// Client and bidi streaming: a call's messages go `every` apart (the
    /// first at once); zero sends them back to back.
    pub fn with_interval(mut self, every: std::time::Duration) -> GrpcCall {
        self.interval = (!every.is_zero()).then_some(every);
        self
    }

    /// The pacing of a call's messages: the interval and the bytes of one
    /// framed message, when they are paced and there is more than one.
    pub fn pace(&self) -> Option<(std::time::Duration, usize)> {
        let every = self.interval?;
        (self.messages > 1).then(|| (every, self.framed.len() / self.messages as usize))
    }

    /// Client and bidi streaming: each call sends the message `n` times
    /// (at least once; the framed bytes are built here, once).
    pub fn with_messages(mut self, n: u32) -> GrpcCall {
        let n = n.max(1);
        let one = self.framed.clone();
        let mut all = Vec::with_capacity(one.len() * n as usize);
        for _ in 0..n {
            all.extend_from_slice(&one);
        }
        self.framed = Bytes::from(all);
        self.messages = n;
        self
    }

    /// Whether the client side streams.
    pub fn client_streams(&self) -> bool {
        matches!(self.kind, CallKind::ClientStreaming | CallKind::Bidi)
    }
}

/// `message` with the length prefix (flag 0: not compressed).
pub fn frame_message(message: &[u8]) -> Bytes {
    let mut out = Vec::with_capacity(5 + message.len());
    out.push(0);
    out.extend_from_slice(&(message.len() as u32).to_be_bytes());
    out.extend_from_slice(message);
    Bytes::from(out)
}

/// `grpc-timeout` for a request timeout: whole milliseconds (at most 8
/// digits, as the spec allows), or seconds past that; none for zero.
pub fn timeout_header(t: std::time::Duration) -> Option<String> {
    if t.is_zero() {
        return None;
    }
    let ms = t.as_millis().max(1);
    if ms < 100_000_000 {
        Some(format!("{ms}m"))
    } else {
        Some(format!("{}S", t.as_secs().min(99_999_999)))
    }
}

/// Counts the length-prefixed messages of a response body fed in pieces
/// (messages may span DATA frames and frames may hold several); the bytes
/// themselves are not kept.
#[derive(Debug, Default, Clone, Copy)]
pub struct Deframer {
    /// Prefix bytes seen of the current message (0 to 5).
    prefix_seen: u8,
    prefix: [u8; 5],
    /// Body bytes still to skip of the current message.
    left: u32,
    pub messages: u32,
    /// A message arrived with the compressed flag set (we never ask for it).
    pub compressed: bool,
}

impl Deframer {
    pub fn reset(&mut self) {
        *self = Deframer::default();
    }

    pub fn feed(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            if self.left > 0 {
                let n = (self.left as usize).min(data.len());
                self.left -= n as u32;
                data = &data[n..];
                continue;
            }
            let need = 5 - usize::from(self.prefix_seen);
            let n = need.min(data.len());
            let at = usize::from(self.prefix_seen);
            self.prefix[at..at + n].copy_from_slice(&data[..n]);
            self.prefix_seen += n as u8;
            data = &data[n..];
            if self.prefix_seen == 5 {
                self.prefix_seen = 0;
                self.messages += 1;
                self.compressed |= self.prefix[0] & 1 == 1;
                self.left = u32::from_be_bytes([
                    self.prefix[1],
                    self.prefix[2],
                    self.prefix[3],
                    self.prefix[4],
                ]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deframer_counts_across_pieces() {
        let mut body = frame_message(b"hello").to_vec();
        body.extend_from_slice(&frame_message(b""));
        body.extend_from_slice(&frame_message(&[7; 300]));
        for split in 1..body.len() {
            let mut d = Deframer::default();
            for piece in body.chunks(split) {
                d.feed(piece);
            }
            assert_eq!(d.messages, 3, "split {split}");
        }
    }

    #[test]
    fn statuses_and_messages() {
        assert_eq!(parse_status(b"14"), Some(14));
        assert_eq!(parse_status(b"99"), Some(UNKNOWN));
        assert_eq!(parse_status(b"x"), None);
        assert_eq!(status_name(14), "UNAVAILABLE");
        assert_eq!(status_code("unavailable"), Some(14));
        assert_eq!(from_http_status(503), UNAVAILABLE);
        assert_eq!(from_http_status(404), 12);
        assert_eq!(decode_message(b"caf%C3%A9 %2"), "café %2");
        assert_eq!(
            timeout_header(std::time::Duration::from_secs(30)).as_deref(),
            Some("30000m")
        );
    }
}
