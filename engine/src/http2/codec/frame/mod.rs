//! HTTP/2 frames (RFC 9113 section 4 and 6): the 9-byte header, parsing a
//! frame out of a byte slice, and appending the frames a client sends to an
//! output buffer. Pure: no state beyond the bytes given.
//!
//! This file holds the constants and the frame types; `parse` reads frames,
//! `write` appends them.

mod parse;
#[cfg(test)]
mod tests;
mod write;

pub use parse::{frame, parse, settings};
pub use write::{
    put_data, put_goaway, put_head, put_headers, put_ping_ack, put_rst_stream, put_settings,
    put_settings_ack, put_window_update,
};

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
