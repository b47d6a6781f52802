//! HTTP/2 frames (RFC 9113 section 4 and 6): the 9-byte header, parsing a
//! frame out of a byte slice, and appending the frames a client sends to an
//! output buffer. Pure: no state beyond the bytes given.

/// Frame types.
pub const DATA: u8 = 0x0;
pub const HEADERS: u8 = 0x1;
pub const PRIORITY: u8 = 0x2;
pub const RST_STREAM: u8 = 0x3;
pub const SETTINGS: u8 = 0x4;
pub const PUSH_PROMISE: u8 = 0x5;
pub const PING: u8 = 0x6;
pub const GOAWAY: u8 = 0x7;
pub const WINDOW_UPDATE: u8 = 0x8;
pub const CONTINUATION: u8 = 0x9;

/// Flags.
pub const END_STREAM: u8 = 0x1;
pub const ACK: u8 = 0x1;
pub const END_HEADERS: u8 = 0x4;
pub const PADDED: u8 = 0x8;
pub const PRIORITY_FLAG: u8 = 0x20;

/// SETTINGS identifiers.
pub const SETTINGS_HEADER_TABLE_SIZE: u16 = 0x1;
pub const SETTINGS_ENABLE_PUSH: u16 = 0x2;
pub const SETTINGS_MAX_CONCURRENT_STREAMS: u16 = 0x3;
pub const SETTINGS_INITIAL_WINDOW_SIZE: u16 = 0x4;
pub const SETTINGS_MAX_FRAME_SIZE: u16 = 0x5;

/// Error codes.
pub const NO_ERROR: u32 = 0x0;
pub const PROTOCOL_ERROR: u32 = 0x1;
pub const FLOW_CONTROL_ERROR: u32 = 0x3;
pub const FRAME_SIZE_ERROR: u32 = 0x6;
pub const CANCEL: u32 = 0x8;
pub const COMPRESSION_ERROR: u32 = 0x9;
pub const ENHANCE_YOUR_CALM: u32 = 0xb;

/// The client connection preface.
pub const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// Size of a frame header.
pub const HEADER_LEN: usize = 9;
/// The smallest (and default) SETTINGS_MAX_FRAME_SIZE.
pub const DEFAULT_MAX_FRAME: u32 = 16_384;
/// The largest SETTINGS_MAX_FRAME_SIZE a peer may announce.
pub const MAX_MAX_FRAME: u32 = (1 << 24) - 1;
/// The largest flow-control window.
pub const MAX_WINDOW: u32 = (1 << 31) - 1;

/// Why bytes are not a valid frame (a connection error).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameError {
    /// Longer than the size we announced.
    TooLarge,
    /// A length or field that the frame type does not allow.
    Size,
    /// Padding longer than the payload, or a field in the wrong place.
    Protocol,
}

impl FrameError {
    /// The GOAWAY error code for this error.
    pub fn code(self) -> u32 {
        match self {
            FrameError::TooLarge | FrameError::Size => FRAME_SIZE_ERROR,
            FrameError::Protocol => PROTOCOL_ERROR,
        }
    }
}

/// A frame's 9-byte header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    pub len: u32,
    pub kind: u8,
    pub flags: u8,
    pub stream: u32,
}

impl Head {
    pub fn parse(b: &[u8; HEADER_LEN]) -> Head {
        Head {
            len: u32::from_be_bytes([0, b[0], b[1], b[2]]),
            kind: b[3],
            flags: b[4],
            // The reserved bit is ignored on receipt.
            stream: u32::from_be_bytes([b[5], b[6], b[7], b[8]]) & MAX_WINDOW,
        }
    }

    pub fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }
}

/// A parsed frame: borrowed from the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame<'a> {
    /// `data` without padding; `flow` is what counts against the windows
    /// (the whole payload, padding included).
    Data {
        stream: u32,
        data: &'a [u8],
        flow: u32,
        end: bool,
    },
    /// A header block fragment, without padding and priority fields.
    Headers {
        stream: u32,
        block: &'a [u8],
        end_stream: bool,
        end_headers: bool,
    },
    Continuation {
        stream: u32,
        block: &'a [u8],
        end_headers: bool,
    },
    RstStream {
        stream: u32,
        code: u32,
    },
    /// SETTINGS pairs, 6 bytes each (see [`settings`]).
    Settings {
        ack: bool,
        pairs: &'a [u8],
    },
    PushPromise {
        stream: u32,
    },
    Ping {
        ack: bool,
        data: [u8; 8],
    },
    GoAway {
        last_stream: u32,
        code: u32,
    },
    WindowUpdate {
        stream: u32,
        increment: u32,
    },
    /// PRIORITY and unknown types: ignored.
    Other,
}

/// Parses the first frame of `buf`: `Ok(None)` when it is not complete yet,
/// else the frame and how many bytes it took. `max_len` is the frame size
/// we accept.
pub fn parse(buf: &[u8], max_len: u32) -> Result<Option<(Frame<'_>, usize)>, FrameError> {
    let Some(head) = buf.first_chunk::<HEADER_LEN>() else {
        return Ok(None);
    };
    let head = Head::parse(head);
    if head.len > max_len {
        return Err(FrameError::TooLarge);
    }
    let total = HEADER_LEN + head.len as usize;
    let Some(payload) = buf.get(HEADER_LEN..total) else {
        return Ok(None);
    };
    Ok(Some((frame(head, payload)?, total)))
}

/// Interprets a complete frame's payload.
pub fn frame(head: Head, payload: &[u8]) -> Result<Frame<'_>, FrameError> {
    let stream = head.stream;
    fn needs_stream(f: Frame<'_>) -> Result<Frame<'_>, FrameError> {
        match f {
            Frame::Data { stream: 0, .. }
            | Frame::Headers { stream: 0, .. }
            | Frame::Continuation { stream: 0, .. }
            | Frame::RstStream { stream: 0, .. }
            | Frame::PushPromise { stream: 0 } => Err(FrameError::Protocol),
            f => Ok(f),
        }
    }
    match head.kind {
        DATA => {
            let data = unpad(head, payload)?;
            needs_stream(Frame::Data {
                stream,
                data,
                flow: head.len,
                end: head.has(END_STREAM),
            })
        }
        HEADERS => {
            let mut block = unpad(head, payload)?;
            if head.has(PRIORITY_FLAG) {
                block = block.get(5..).ok_or(FrameError::Size)?;
            }
            needs_stream(Frame::Headers {
                stream,
                block,
                end_stream: head.has(END_STREAM),
                end_headers: head.has(END_HEADERS),
            })
        }
        CONTINUATION => needs_stream(Frame::Continuation {
            stream,
            block: payload,
            end_headers: head.has(END_HEADERS),
        }),
        RST_STREAM => {
            let code: [u8; 4] = payload.try_into().map_err(|_| FrameError::Size)?;
            needs_stream(Frame::RstStream {
                stream,
                code: u32::from_be_bytes(code),
            })
        }
        SETTINGS => {
            if stream != 0 {
                return Err(FrameError::Protocol);
            }
            let ack = head.has(ACK);
            if !payload.len().is_multiple_of(6) || (ack && !payload.is_empty()) {
                return Err(FrameError::Size);
            }
            Ok(Frame::Settings {
                ack,
                pairs: payload,
            })
        }
        PUSH_PROMISE => needs_stream(Frame::PushPromise { stream }),
        PING => {
            if stream != 0 {
                return Err(FrameError::Protocol);
            }
            let data: [u8; 8] = payload.try_into().map_err(|_| FrameError::Size)?;
            Ok(Frame::Ping {
                ack: head.has(ACK),
                data,
            })
        }
        GOAWAY => {
            if stream != 0 {
                return Err(FrameError::Protocol);
            }
            let (Some(last), Some(code)) = (payload.get(0..4), payload.get(4..8)) else {
                return Err(FrameError::Size);
            };
            Ok(Frame::GoAway {
                last_stream: be32(last) & MAX_WINDOW,
                code: be32(code),
            })
        }
        WINDOW_UPDATE => {
            let inc: [u8; 4] = payload.try_into().map_err(|_| FrameError::Size)?;
            Ok(Frame::WindowUpdate {
                stream,
                increment: u32::from_be_bytes(inc) & MAX_WINDOW,
            })
        }
        _ => Ok(Frame::Other),
    }
}

fn be32(b: &[u8]) -> u32 {
    b.iter().fold(0, |a, x| (a << 8) | u32::from(*x))
}

/// The payload without its padding (PADDED flag).
fn unpad(head: Head, payload: &[u8]) -> Result<&[u8], FrameError> {
    if !head.has(PADDED) {
        return Ok(payload);
    }
    let (&pad, rest) = payload.split_first().ok_or(FrameError::Size)?;
    rest.len()
        .checked_sub(usize::from(pad))
        .map(|n| &rest[..n])
        .ok_or(FrameError::Protocol)
}

/// The (identifier, value) pairs of a SETTINGS payload.
pub fn settings(pairs: &[u8]) -> impl Iterator<Item = (u16, u32)> + '_ {
    pairs
        .chunks_exact(6)
        .map(|c| (u16::from_be_bytes([c[0], c[1]]), be32(&c[2..6])))
}

/// Appends a frame header.
pub fn put_head(out: &mut Vec<u8>, len: usize, kind: u8, flags: u8, stream: u32) {
    let l = (len as u32).to_be_bytes();
    out.extend_from_slice(&[l[1], l[2], l[3], kind, flags]);
    out.extend_from_slice(&stream.to_be_bytes());
}

/// Appends a SETTINGS frame with `pairs`.
pub fn put_settings(out: &mut Vec<u8>, pairs: &[(u16, u32)]) {
    put_head(out, pairs.len() * 6, SETTINGS, 0, 0);
    for (id, v) in pairs {
        out.extend_from_slice(&id.to_be_bytes());
        out.extend_from_slice(&v.to_be_bytes());
    }
}

pub fn put_settings_ack(out: &mut Vec<u8>) {
    put_head(out, 0, SETTINGS, ACK, 0);
}

pub fn put_ping_ack(out: &mut Vec<u8>, data: &[u8; 8]) {
    put_head(out, 8, PING, ACK, 0);
    out.extend_from_slice(data);
}

pub fn put_window_update(out: &mut Vec<u8>, stream: u32, increment: u32) {
    put_head(out, 4, WINDOW_UPDATE, 0, stream);
    out.extend_from_slice(&increment.to_be_bytes());
}

pub fn put_rst_stream(out: &mut Vec<u8>, stream: u32, code: u32) {
    put_head(out, 4, RST_STREAM, 0, stream);
    out.extend_from_slice(&code.to_be_bytes());
}

pub fn put_goaway(out: &mut Vec<u8>, last_stream: u32, code: u32) {
    put_head(out, 8, GOAWAY, 0, 0);
    out.extend_from_slice(&last_stream.to_be_bytes());
    out.extend_from_slice(&code.to_be_bytes());
}

/// Appends a header block as HEADERS plus CONTINUATION frames of at most
/// `max_frame` bytes each.
pub fn put_headers(out: &mut Vec<u8>, stream: u32, block: &[u8], end_stream: bool, max_frame: u32) {
    let max = (max_frame as usize).max(1);
    let mut chunks = block.chunks(max);
    let first = chunks.next().unwrap_or(&[]);
    let single = block.len() <= max;
    let mut flags = if end_stream { END_STREAM } else { 0 };
    if single {
        flags |= END_HEADERS;
    }
    put_head(out, first.len(), HEADERS, flags, stream);
    out.extend_from_slice(first);
    let mut rest = chunks.peekable();
    while let Some(c) = rest.next() {
        let flags = if rest.peek().is_none() {
            END_HEADERS
        } else {
            0
        };
        put_head(out, c.len(), CONTINUATION, flags, stream);
        out.extend_from_slice(c);
    }
}

/// Appends one DATA frame.
pub fn put_data(out: &mut Vec<u8>, stream: u32, data: &[u8], end: bool) {
    put_head(
        out,
        data.len(),
        DATA,
        if end { END_STREAM } else { 0 },
        stream,
    );
    out.extend_from_slice(data);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(buf: &[u8]) -> Frame<'_> {
        let (f, n) = parse(buf, DEFAULT_MAX_FRAME).unwrap().unwrap();
        assert_eq!(n, buf.len());
        f
    }

    #[test]
    fn written_frames_parse_back() {
        let mut b = Vec::new();
        put_settings(&mut b, &[(SETTINGS_INITIAL_WINDOW_SIZE, 1 << 20)]);
        match one(&b) {
            Frame::Settings { ack: false, pairs } => {
                assert_eq!(
                    settings(pairs).collect::<Vec<_>>(),
                    [(SETTINGS_INITIAL_WINDOW_SIZE, 1 << 20)]
                );
            }
            f => panic!("{f:?}"),
        }
        for (write, want) in [
            (
                (|b: &mut Vec<u8>| put_window_update(b, 3, 77)) as fn(&mut Vec<u8>),
                Frame::WindowUpdate {
                    stream: 3,
                    increment: 77,
                },
            ),
            (
                |b| put_rst_stream(b, 5, CANCEL),
                Frame::RstStream {
                    stream: 5,
                    code: CANCEL,
                },
            ),
            (
                |b| put_goaway(b, 7, NO_ERROR),
                Frame::GoAway {
                    last_stream: 7,
                    code: NO_ERROR,
                },
            ),
            (
                |b| put_ping_ack(b, &[1, 2, 3, 4, 5, 6, 7, 8]),
                Frame::Ping {
                    ack: true,
                    data: [1, 2, 3, 4, 5, 6, 7, 8],
                },
            ),
            (
                |b| put_data(b, 9, b"hey", true),
                Frame::Data {
                    stream: 9,
                    data: b"hey",
                    flow: 3,
                    end: true,
                },
            ),
            (
                |b| put_settings_ack(b),
                Frame::Settings {
                    ack: true,
                    pairs: &[],
                },
            ),
        ] {
            let mut b = Vec::new();
            write(&mut b);
            assert_eq!(one(&b), want);
        }
    }

    #[test]
    fn long_header_blocks_split_into_continuations() {
        let block: Vec<u8> = (0..40u8).collect();
        let mut b = Vec::new();
        put_headers(&mut b, 1, &block, true, 16);
        let mut at = 0;
        let mut got = Vec::new();
        let mut frames = Vec::new();
        while let Some((f, n)) = parse(&b[at..], 16).unwrap() {
            at += n;
            match f {
                Frame::Headers {
                    block,
                    end_stream,
                    end_headers,
                    ..
                } => {
                    assert!(end_stream);
                    got.extend_from_slice(block);
                    frames.push(end_headers);
                }
                Frame::Continuation {
                    block, end_headers, ..
                } => {
                    got.extend_from_slice(block);
                    frames.push(end_headers);
                }
                f => panic!("{f:?}"),
            }
        }
        assert_eq!(got, block);
        assert_eq!(frames, [false, false, true]);
    }

    #[test]
    fn padding_priority_partial_and_bad_frames() {
        // HEADERS, PADDED + PRIORITY: pad length 2, 5 priority bytes, block, pad.
        let mut b = Vec::new();
        put_head(
            &mut b,
            1 + 5 + 3 + 2,
            HEADERS,
            PADDED | PRIORITY_FLAG | END_HEADERS,
            1,
        );
        b.extend_from_slice(&[2, 0, 0, 0, 0, 16, 0x88, 0x89, 0x8a, 0, 0]);
        assert_eq!(
            one(&b),
            Frame::Headers {
                stream: 1,
                block: &[0x88, 0x89, 0x8a],
                end_stream: false,
                end_headers: true
            }
        );
        assert_eq!(parse(&b[..5], 100), Ok(None));
        assert_eq!(parse(&b[..12], 100), Ok(None));
        // Padding longer than the payload.
        let mut b = Vec::new();
        put_head(&mut b, 2, DATA, PADDED, 1);
        b.extend_from_slice(&[5, 0]);
        assert_eq!(parse(&b, 100), Err(FrameError::Protocol));
        // DATA on stream 0, a short PING, an oversized frame.
        let mut b = Vec::new();
        put_data(&mut b, 0, b"x", false);
        assert_eq!(parse(&b, 100), Err(FrameError::Protocol));
        let mut b = Vec::new();
        put_head(&mut b, 3, PING, 0, 0);
        b.extend_from_slice(&[0; 3]);
        assert_eq!(parse(&b, 100), Err(FrameError::Size));
        assert_eq!(parse(&b, 2), Err(FrameError::TooLarge));
    }
}
