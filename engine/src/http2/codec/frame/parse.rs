//! Parsing: the first complete frame of a byte slice, checked against
//! RFC 9113's size and placement rules, borrowed from the input.

use super::{
    Frame, FrameError, Head, ACK, CONTINUATION, DATA, END_HEADERS, END_STREAM, GOAWAY, HEADERS,
    HEADER_LEN, MAX_WINDOW, PADDED, PING, PRIORITY_FLAG, PUSH_PROMISE, RST_STREAM, SETTINGS,
    WINDOW_UPDATE,
};

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
