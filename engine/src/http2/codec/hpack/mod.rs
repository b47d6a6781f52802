//! HPACK (RFC 7541): the response decoder, with the dynamic table and
//! Huffman strings as servers send them, and the few encoding primitives the
//! request template needs: indexed static fields and literals without
//! indexing, and ([`Indexed`]) a request's constant fields put in the
//! peer's dynamic table once per connection and named by index after that.
//!
//! The decoder keeps evicted entries' buffers and reuses them, so a server
//! that indexes a fresh `date` in every response costs no allocation once
//! the table is warm.
//!
//! `decode` holds the decoder, `encode` the request-side primitives; the
//! static table and the table size both use live here.

mod decode;
mod encode;
#[cfg(test)]
mod tests;

pub use decode::{Decoder, HpackError};
pub use encode::{put_field, put_int, put_size_update, put_string, Indexed};

/// The static table (Appendix A), index 1 first.
pub const STATIC: [(&str, &str); 61] = [
    (":authority", ""),
    (":method", "GET"),
    (":method", "POST"),
    (":path", "/"),
    (":path", "/index.html"),
    (":scheme", "http"),
    (":scheme", "https"),
    (":status", "200"),
    (":status", "204"),
    (":status", "206"),
    (":status", "304"),
    (":status", "400"),
    (":status", "404"),
    (":status", "500"),
    ("accept-charset", ""),
    ("accept-encoding", "gzip, deflate"),
    ("accept-language", ""),
    ("accept-ranges", ""),
    ("accept", ""),
    ("access-control-allow-origin", ""),
    ("age", ""),
    ("allow", ""),
    ("authorization", ""),
    ("cache-control", ""),
    ("content-disposition", ""),
    ("content-encoding", ""),
    ("content-language", ""),
    ("content-length", ""),
    ("content-location", ""),
    ("content-range", ""),
    ("content-type", ""),
    ("cookie", ""),
    ("date", ""),
    ("etag", ""),
    ("expect", ""),
    ("expires", ""),
    ("from", ""),
    ("host", ""),
    ("if-match", ""),
    ("if-modified-since", ""),
    ("if-none-match", ""),
    ("if-range", ""),
    ("if-unmodified-since", ""),
    ("last-modified", ""),
    ("link", ""),
    ("location", ""),
    ("max-forwards", ""),
    ("proxy-authenticate", ""),
    ("proxy-authorization", ""),
    ("range", ""),
    ("referer", ""),
    ("refresh", ""),
    ("retry-after", ""),
    ("server", ""),
    ("set-cookie", ""),
    ("strict-transport-security", ""),
    ("transfer-encoding", ""),
    ("user-agent", ""),
    ("vary", ""),
    ("via", ""),
    ("www-authenticate", ""),
];

/// The dynamic table size we allow (SETTINGS_HEADER_TABLE_SIZE's default).
pub const TABLE_SIZE: usize = 4096;
