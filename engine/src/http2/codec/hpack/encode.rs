//! The HPACK encoding primitives the request template needs: integers,
//! raw string literals, fields that leave the dynamic table alone, and
//! [`Indexed`], a request's constant fields put in the peer's table once
//! per connection and named by index after that.

use std::sync::atomic::{AtomicU64, Ordering};

use super::{STATIC, TABLE_SIZE};

/// Appends an integer with an `n`-bit prefix; `flags` fills the prefix
/// byte's high bits.
pub fn put_int(out: &mut Vec<u8>, flags: u8, n: u32, mut value: usize) {
    let mask = (1usize << n) - 1;
    if value < mask {
        out.push(flags | value as u8);
        return;
    }
    out.push(flags | mask as u8);
    value -= mask;
    while value >= 0x80 {
        out.push((value as u8 & 0x7f) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Appends a raw (not Huffman) string literal.
pub fn put_string(out: &mut Vec<u8>, s: &[u8]) {
    put_int(out, 0, 7, s.len());
    out.extend_from_slice(s);
}

/// Appends a field without touching the dynamic table: fully indexed when
/// the static table has the pair, else a literal without indexing (with an
/// indexed name when the static table has the name). Returns where the
/// value's bytes start in `out` (for a value rewritten per request), or
/// `None` when it was indexed.
pub fn put_field(out: &mut Vec<u8>, name: &[u8], value: &[u8]) -> Option<usize> {
    let by_name = STATIC.iter().position(|(n, _)| n.as_bytes() == name);
    if let Some(i) = static_pair(name, value) {
        put_int(out, 0x80, 7, i + 1);
        return None;
    }
    match by_name {
        Some(i) => put_int(out, 0, 4, i + 1),
        None => {
            out.push(0);
            put_string(out, name);
        }
    }
    put_int(out, 0, 7, value.len());
    let at = out.len();
    out.extend_from_slice(value);
    Some(at)
}

/// A request's constant header fields encoded for a connection's dynamic
/// table: `first` adds the fields the static table lacks to the peer's
/// table (literals with incremental indexing), `later` names them by index
/// (a byte or two each), valid on a connection whose peer decoded `first`.
/// The peer's decoder then resolves a request from its table instead of
/// parsing and validating every literal again, which is most of what an
/// HPACK decoder does per request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Indexed {
    /// Unique per value built, so a connection knows which one its peer's
    /// table holds.
    pub id: u64,
    pub first: Vec<u8>,
    pub later: Vec<u8>,
    /// The table bytes `first` uses (RFC 7541 4.1 sizes).
    pub size: usize,
}

impl Indexed {
    /// Encodes `fields` in order. Fully static pairs stay static indexes;
    /// others are indexed while they fit in [`TABLE_SIZE`] (so nothing is
    /// ever evicted and `later`'s indexes stay valid), the rest stay
    /// literals without indexing in both forms.
    pub fn new(fields: &[(&[u8], &[u8])]) -> Indexed {
        // Per field: Some(insertion number) when it goes in the table.
        let mut inserted: Vec<Option<usize>> = Vec::with_capacity(fields.len());
        let mut first = Vec::new();
        let mut size = 0;
        let mut count = 0;
        for &(name, value) in fields {
            let entry = 32 + name.len() + value.len();
            if static_pair(name, value).is_some() || size + entry > TABLE_SIZE {
                put_field(&mut first, name, value);
                inserted.push(None);
                continue;
            }
            match STATIC.iter().position(|(n, _)| n.as_bytes() == name) {
                Some(i) => put_int(&mut first, 0x40, 6, i + 1),
                None => {
                    first.push(0x40);
                    put_string(&mut first, name);
                }
            }
            put_string(&mut first, value);
            size += entry;
            inserted.push(Some(count));
            count += 1;
        }
        let mut later = Vec::new();
        for (&(name, value), at) in fields.iter().zip(&inserted) {
            match at {
                // The newest entry is index 62 (the first after the static table).
                Some(n) => put_int(&mut later, 0x80, 7, STATIC.len() + count - n),
                None => {
                    put_field(&mut later, name, value);
                }
            }
        }
        static IDS: AtomicU64 = AtomicU64::new(1);
        Indexed {
            id: IDS.fetch_add(1, Ordering::Relaxed),
            first,
            later,
            size,
        }
    }
}

/// Appends a dynamic table size update (at the start of a header block).
pub fn put_size_update(out: &mut Vec<u8>, size: usize) {
    put_int(out, 0x20, 5, size);
}

fn static_pair(name: &[u8], value: &[u8]) -> Option<usize> {
    STATIC
        .iter()
        .position(|(n, v)| n.as_bytes() == name && v.as_bytes() == value && !v.is_empty())
}
