//! A hand-written HTTP/2 client codec (RFC 9113, HPACK per RFC 7541) for
//! load: `frame` parses and writes frames, `hpack` (with `huffman`) decodes
//! response headers and encodes the request template once, `conn` is a
//! connection's protocol state without I/O (`http2::io` runs it on a
//! worker's runtime: a reader and a writer task per connection; streams
//! wait on their slot). Requests cost a copy of a prebuilt header block; steady
//! state allocates nothing per request.

pub mod conn;
pub mod frame;
pub mod hpack;
pub mod huffman;
mod huffman_table;
pub mod slot;
