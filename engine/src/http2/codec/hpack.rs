//! HPACK (RFC 7541): the response decoder, with the dynamic table and
//! Huffman strings as servers send them, and the few encoding primitives the
//! request template needs: indexed static fields and literals without
//! indexing, and ([`Indexed`]) a request's constant fields put in the
//! peer's dynamic table once per connection and named by index after that.
//!
//! The decoder keeps evicted entries' buffers and reuses them, so a server
//! that indexes a fresh `date` in every response costs no allocation once
//! the table is warm.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};

use super::huffman;

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
/// Longest string accepted in a header block.
const MAX_STRING: usize = 64 * 1024;

/// Why a header block could not be decoded (a connection error:
/// COMPRESSION_ERROR).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HpackError {
    /// The block ended inside a field.
    Truncated,
    /// An integer too large for any sane field.
    Overflow,
    /// Index 0 or past the tables.
    BadIndex,
    /// A table size update above our limit, or after a field.
    BadSizeUpdate,
    /// An invalid Huffman string.
    Huffman,
    /// A string longer than we accept.
    TooLong,
}

struct Entry {
    name: Vec<u8>,
    value: Vec<u8>,
}

impl Entry {
    fn size(&self) -> usize {
        32 + self.name.len() + self.value.len()
    }
}

/// The response header decoder of one connection.
pub struct Decoder {
    /// Newest first.
    table: VecDeque<Entry>,
    size: usize,
    max_size: usize,
    spare: Vec<Entry>,
    name: Vec<u8>,
    value: Vec<u8>,
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder::new()
    }
}

impl Decoder {
    pub fn new() -> Decoder {
        Decoder {
            table: VecDeque::new(),
            size: 0,
            max_size: TABLE_SIZE,
            spare: Vec::new(),
            name: Vec::new(),
            value: Vec::new(),
        }
    }

    /// Decodes a complete header block, calling `field(name, value)` for
    /// each field in order.
    pub fn decode(
        &mut self,
        block: &[u8],
        mut field: impl FnMut(&[u8], &[u8]),
    ) -> Result<(), HpackError> {
        let mut at = 0;
        let mut fields = 0usize;
        while let Some(&b) = block.get(at) {
            if b & 0x80 != 0 {
                let index = int(block, &mut at, 7)?;
                let (name, value) = self.get(index)?;
                field(name, value);
            } else if b & 0xe0 == 0x20 {
                // Allowed only before the first field.
                let size = int(block, &mut at, 5)?;
                if fields > 0 || size > TABLE_SIZE {
                    return Err(HpackError::BadSizeUpdate);
                }
                self.max_size = size;
                self.evict(0);
                continue;
            } else {
                let indexing = b & 0xc0 == 0x40;
                let index = int(block, &mut at, if indexing { 6 } else { 4 })?;
                let mut name = std::mem::take(&mut self.name);
                name.clear();
                if index == 0 {
                    string(block, &mut at, &mut name)?;
                } else {
                    name.extend_from_slice(self.get(index)?.0);
                }
                let mut value = std::mem::take(&mut self.value);
                value.clear();
                let r = string(block, &mut at, &mut value);
                if r.is_ok() {
                    field(&name, &value);
                    if indexing {
                        self.insert(&name, &value);
                    }
                }
                self.name = name;
                self.value = value;
                r?;
            }
            fields += 1;
        }
        Ok(())
    }

    /// The field at `index` (1-based, static then dynamic).
    fn get(&self, index: usize) -> Result<(&[u8], &[u8]), HpackError> {
        if index == 0 {
            return Err(HpackError::BadIndex);
        }
        if let Some((n, v)) = STATIC.get(index - 1) {
            return Ok((n.as_bytes(), v.as_bytes()));
        }
        self.table
            .get(index - 1 - STATIC.len())
            .map(|e| (&e.name[..], &e.value[..]))
            .ok_or(HpackError::BadIndex)
    }

    fn insert(&mut self, name: &[u8], value: &[u8]) {
        let size = 32 + name.len() + value.len();
        // An entry larger than the table empties it and is not added.
        self.evict(size);
        if size > self.max_size {
            return;
        }
        let mut e = self.spare.pop().unwrap_or(Entry {
            name: Vec::new(),
            value: Vec::new(),
        });
        e.name.clear();
        e.name.extend_from_slice(name);
        e.value.clear();
        e.value.extend_from_slice(value);
        self.size += size;
        self.table.push_front(e);
    }

    /// Evicts the oldest entries until `room` more bytes fit (or the table is
    /// empty).
    fn evict(&mut self, room: usize) {
        while self.size + room > self.max_size {
            let Some(e) = self.table.pop_back() else {
                break;
            };
            self.size -= e.size();
            self.spare.push(e);
        }
    }

    /// Entries in the dynamic table (tests).
    pub fn table_len(&self) -> usize {
        self.table.len()
    }

    /// The dynamic table's size by RFC 7541's accounting (tests).
    pub fn table_size(&self) -> usize {
        self.size
    }
}

/// Decodes an integer with an `n`-bit prefix starting at `block[*at]`.
fn int(block: &[u8], at: &mut usize, n: u32) -> Result<usize, HpackError> {
    let mask = (1u8 << n) - 1;
    let first = *block.get(*at).ok_or(HpackError::Truncated)? & mask;
    *at += 1;
    if first < mask {
        return Ok(usize::from(first));
    }
    let mut value = usize::from(mask);
    let mut shift = 0;
    loop {
        let b = *block.get(*at).ok_or(HpackError::Truncated)?;
        *at += 1;
        // Four continuation bytes reach 2^28: more than any field needs.
        if shift > 21 {
            return Err(HpackError::Overflow);
        }
        value += usize::from(b & 0x7f) << shift;
        shift += 7;
        if b & 0x80 == 0 {
            return Ok(value);
        }
    }
}

/// Decodes a string literal at `block[*at]` into `out`.
fn string(block: &[u8], at: &mut usize, out: &mut Vec<u8>) -> Result<(), HpackError> {
    let huff = block.get(*at).ok_or(HpackError::Truncated)? & 0x80 != 0;
    let len = int(block, at, 7)?;
    if len > MAX_STRING {
        return Err(HpackError::TooLong);
    }
    let end = at.checked_add(len).ok_or(HpackError::Truncated)?;
    let raw = block.get(*at..end).ok_or(HpackError::Truncated)?;
    *at = end;
    if huff {
        huffman::decode(raw, out).map_err(|_| HpackError::Huffman)
    } else {
        out.extend_from_slice(raw);
        Ok(())
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn fields(d: &mut Decoder, block: &[u8]) -> Vec<(String, String)> {
        let mut out = Vec::new();
        d.decode(block, |n, v| {
            out.push((
                String::from_utf8_lossy(n).into_owned(),
                String::from_utf8_lossy(v).into_owned(),
            ))
        })
        .unwrap();
        out
    }

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn integers_of_rfc7541_c1() {
        let mut b = Vec::new();
        put_int(&mut b, 0, 5, 10);
        assert_eq!(b, [0b01010]);
        let mut b = Vec::new();
        put_int(&mut b, 0, 5, 1337);
        assert_eq!(b, [0b11111, 0b1001_1010, 0b0000_1010]);
        let mut at = 0;
        assert_eq!(int(&b, &mut at, 5), Ok(1337));
        assert_eq!(at, 3);
        let mut at = 0;
        assert_eq!(
            int(&[0x7f, 0xff, 0xff, 0xff, 0xff, 0x0f], &mut at, 7),
            Err(HpackError::Overflow)
        );
    }

    /// Appendix C.5 (responses, no Huffman) and C.6 (with Huffman), each
    /// three blocks through one decoder with a 256-byte table.
    #[test]
    fn response_examples_of_rfc7541_c5_and_c6() {
        let c5 = [
            "4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 \
             2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 \
             6c65 2e63 6f6d",
            "4803 3330 37c1 c0bf",
            "88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d \
             54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049 \
             5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e \
             3d31",
        ];
        let c6 = [
            "4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 \
             2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3",
            "4883 640e ffc1 c0bf",
            "88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab \
             77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f \
             9587 3160 65c0 03ed 4ee5 b106 3d50 07",
        ];
        let date1 = "Mon, 21 Oct 2013 20:13:21 GMT";
        let date2 = "Mon, 21 Oct 2013 20:13:22 GMT";
        let loc = "https://www.example.com";
        let cookie = "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1";
        for blocks in [c5, c6] {
            let mut d = Decoder::new();
            // The examples run with a 256-byte table.
            d.decode(&[0x3f, 0xe1, 0x01], |_, _| {}).unwrap();
            assert_eq!(
                fields(&mut d, &hex(blocks[0])),
                pairs(&[
                    (":status", "302"),
                    ("cache-control", "private"),
                    ("date", date1),
                    ("location", loc)
                ])
            );
            assert_eq!(d.table_size(), 222);
            assert_eq!(
                fields(&mut d, &hex(blocks[1])),
                pairs(&[
                    (":status", "307"),
                    ("cache-control", "private"),
                    ("date", date1),
                    ("location", loc)
                ])
            );
            assert_eq!(d.table_size(), 222);
            assert_eq!(
                fields(&mut d, &hex(blocks[2])),
                pairs(&[
                    (":status", "200"),
                    ("cache-control", "private"),
                    ("date", date2),
                    ("location", loc),
                    ("content-encoding", "gzip"),
                    ("set-cookie", cookie)
                ])
            );
            assert_eq!(d.table_len(), 3);
            assert_eq!(d.table_size(), 215);
        }
    }

    /// Appendix C.3 (requests without Huffman): shows literal-name fields
    /// and indexing into a default-size table.
    #[test]
    fn request_examples_of_rfc7541_c3() {
        let mut d = Decoder::new();
        let b1 = hex("8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d");
        let b3 = hex("8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65");
        assert_eq!(
            fields(&mut d, &b1),
            pairs(&[
                (":method", "GET"),
                (":scheme", "http"),
                (":path", "/"),
                (":authority", "www.example.com")
            ])
        );
        let b2 = hex("8286 84be 5808 6e6f 2d63 6163 6865");
        assert_eq!(
            fields(&mut d, &b2)[4],
            pairs(&[("cache-control", "no-cache")])[0]
        );
        assert_eq!(
            fields(&mut d, &b3)[4],
            pairs(&[("custom-key", "custom-value")])[0]
        );
        assert_eq!(d.table_size(), 164);
    }

    #[test]
    fn bad_blocks_are_errors() {
        let mut d = Decoder::new();
        assert_eq!(d.decode(&[0x80], |_, _| {}), Err(HpackError::BadIndex));
        assert_eq!(d.decode(&[0xbe], |_, _| {}), Err(HpackError::BadIndex));
        assert_eq!(
            d.decode(&[0x40, 0x05, b'a'], |_, _| {}),
            Err(HpackError::Truncated)
        );
        assert_eq!(
            d.decode(&[0x88, 0x3f, 0xe1, 0x1f], |_, _| {}),
            Err(HpackError::BadSizeUpdate)
        );
        assert_eq!(
            d.decode(&[0x00, 0x81, 0x00, 0x00], |_, _| {}),
            Err(HpackError::Huffman)
        );
    }

    #[test]
    fn put_field_round_trips_without_the_dynamic_table() {
        let mut b = Vec::new();
        assert_eq!(put_field(&mut b, b":method", b"GET"), None);
        let at = put_field(&mut b, b":path", b"/x?id=0").unwrap();
        assert_eq!(&b[at..at + 7], b"/x?id=0");
        put_field(&mut b, b"x-long", &[b'v'; 200]);
        let mut d = Decoder::new();
        let f = fields(&mut d, &b);
        assert_eq!(f[0], (":method".into(), "GET".into()));
        assert_eq!(f[1], (":path".into(), "/x?id=0".into()));
        assert_eq!(f[2].1.len(), 200);
        assert_eq!(d.table_len(), 0);
    }

    #[test]
    fn indexed_fields_decode_the_same_first_and_later() {
        let big = vec![b'v'; 4000];
        let list: Vec<(&[u8], &[u8])> = vec![
            (b":method", b"POST"),
            (b":scheme", b"http"),
            (b":authority", b"127.0.0.1:9"),
            (b":path", b"/goto.test.Echo/Unary"),
            (b"content-type", b"application/grpc"),
            (b"te", b"trailers"),
            // Past the table's room: a literal in both forms.
            (b"x-big", &big),
            (b"user-agent", b"goto"),
        ];
        let want: Vec<(String, String)> = list
            .iter()
            .map(|(n, v)| {
                (
                    String::from_utf8_lossy(n).into_owned(),
                    String::from_utf8_lossy(v).into_owned(),
                )
            })
            .collect();
        let ix = Indexed::new(&list);
        let mut d = Decoder::new();
        assert_eq!(fields(&mut d, &ix.first), want);
        // :authority, :path, content-type, te and user-agent went in.
        assert_eq!(d.table_len(), 5);
        assert_eq!(d.table_size(), ix.size);
        for _ in 0..3 {
            assert_eq!(fields(&mut d, &ix.later), want);
        }
        assert_eq!(d.table_len(), 5);
        // Two static indexes, five one-byte references, the big literal.
        assert_eq!(ix.later.len(), 2 + 5 + (1 + 6 + 3 + 4000));
        let mut b = Vec::new();
        put_size_update(&mut b, 0);
        b.extend_from_slice(&ix.first);
        assert_eq!(fields(&mut d, &b), want);
    }
}
