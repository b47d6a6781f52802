//! The HPACK response decoder of one connection: the dynamic table (with
//! evicted entries' buffers kept for reuse), integers and string literals
//! (raw or Huffman).

use std::collections::VecDeque;

use super::super::huffman;
use super::{STATIC, TABLE_SIZE};

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
pub(super) fn int(block: &[u8], at: &mut usize, n: u32) -> Result<usize, HpackError> {
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
