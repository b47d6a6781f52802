//! Writing: appending the frames a client sends to an output buffer.

use super::{
    ACK, CONTINUATION, DATA, END_HEADERS, END_STREAM, GOAWAY, HEADERS, PING, RST_STREAM, SETTINGS,
    WINDOW_UPDATE,
};

/// Appends a frame header.
#[inline]
pub fn put_head(out: &mut Vec<u8>, len: usize, kind: u8, flags: u8, stream: u32) {
    let l = (len as u32).to_be_bytes();
    let s = stream.to_be_bytes();
    out.extend_from_slice(&[l[1], l[2], l[3], kind, flags, s[0], s[1], s[2], s[3]]);
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
#[inline]
pub fn put_headers(out: &mut Vec<u8>, stream: u32, block: &[u8], end_stream: bool, max_frame: u32) {
    let max = (max_frame as usize).max(1);
    if block.len() <= max {
        // A request's block fits one frame (the usual case): one reserve.
        let flags = END_HEADERS | if end_stream { END_STREAM } else { 0 };
        out.reserve(9 + block.len());
        put_head(out, block.len(), HEADERS, flags, stream);
        out.extend_from_slice(block);
        return;
    }
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
