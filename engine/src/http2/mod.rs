//! HTTP/2 as the engine speaks it, without I/O: `codec` (frames, HPACK with
//! Huffman, flow control, the connection state machine) and `request`, a
//! target's request template (a header block encoded once). The loops that
//! run them over a socket are in `crate::drive::http2`.

pub mod codec;
pub(crate) mod request;
