//! Body framing as a small byte-driven state machine: length, chunked or
//! read-to-close. Bodies are consumed and counted, never stored, and any
//! split of the input gives the same result.

use super::response::BodyKind;
use crate::error::ParseErrorKind;

/// Most hex digits a chunk size may have (fits in a u64).
const MAX_CHUNK_SIZE_DIGITS: u8 = 16;

/// Tracks how much of a response body is still to come.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyDecoder {
    Length(u64),
    Chunked(Chunk),
    Eof,
    Done,
}

/// Position inside a chunked body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chunk {
    Size { size: u64, digits: u8 },
    Ext { size: u64 },
    SizeLf { size: u64 },
    Data(u64),
    DataCr,
    DataLf,
    TrailerStart,
    TrailerLine,
    EndLf,
}

impl BodyDecoder {
    pub fn new(kind: BodyKind) -> BodyDecoder {
        match kind {
            BodyKind::None | BodyKind::Length(0) => BodyDecoder::Done,
            BodyKind::Length(n) => BodyDecoder::Length(n),
            BodyKind::Chunked => BodyDecoder::Chunked(Chunk::Size { size: 0, digits: 0 }),
            BodyKind::Eof => BodyDecoder::Eof,
        }
    }

    pub fn is_done(&self) -> bool {
        *self == BodyDecoder::Done
    }

    /// Consumes body bytes from the front of `data`; returns how many belong
    /// to this body. Stops at the end of the body (the rest is not ours).
    pub fn feed(&mut self, data: &[u8]) -> Result<usize, ParseErrorKind> {
        match self {
            BodyDecoder::Done => Ok(0),
            BodyDecoder::Eof => Ok(data.len()),
            BodyDecoder::Length(rem) => {
                let n = (*rem).min(data.len() as u64);
                *rem -= n;
                if *rem == 0 {
                    *self = BodyDecoder::Done;
                }
                Ok(n as usize)
            }
            BodyDecoder::Chunked(state) => {
                let (used, done) = feed_chunked(state, data)?;
                if done {
                    *self = BodyDecoder::Done;
                }
                Ok(used)
            }
        }
    }

    /// The server closed the connection: fine for a read-to-close body,
    /// a truncated response otherwise.
    pub fn finish_on_eof(&mut self) -> bool {
        match self {
            BodyDecoder::Eof | BodyDecoder::Done => {
                *self = BodyDecoder::Done;
                true
            }
            _ => false,
        }
    }
}

fn feed_chunked(state: &mut Chunk, data: &[u8]) -> Result<(usize, bool), ParseErrorKind> {
    let mut i = 0;
    while i < data.len() {
        if let Chunk::Data(rem) = state {
            // Skip chunk data in bulk rather than byte by byte.
            let n = (*rem).min((data.len() - i) as u64);
            *rem -= n;
            i += n as usize;
            if *rem == 0 {
                *state = Chunk::DataCr;
            }
            continue;
        }
        let b = data[i];
        i += 1;
        match step(*state, b)? {
            Some(next) => *state = next,
            None => return Ok((i, true)),
        }
    }
    Ok((i, false))
}

/// One framing byte outside chunk data; `None` means the body just ended.
fn step(state: Chunk, b: u8) -> Result<Option<Chunk>, ParseErrorKind> {
    let bad = Err(ParseErrorKind::InvalidChunk);
    let next = match state {
        Chunk::Size { size, digits } => match hex(b) {
            Some(d) if digits < MAX_CHUNK_SIZE_DIGITS => Chunk::Size {
                size: size << 4 | u64::from(d),
                digits: digits + 1,
            },
            Some(_) => return bad,
            None if digits == 0 => return bad,
            None => match b {
                b';' | b' ' | b'\t' => Chunk::Ext { size },
                b'\r' => Chunk::SizeLf { size },
                b'\n' => after_size(size),
                _ => return bad,
            },
        },
        Chunk::Ext { size } => match b {
            b'\r' => Chunk::SizeLf { size },
            b'\n' => after_size(size),
            _ => Chunk::Ext { size },
        },
        Chunk::SizeLf { size } if b == b'\n' => after_size(size),
        Chunk::DataCr if b == b'\r' => Chunk::DataLf,
        Chunk::DataCr | Chunk::DataLf if b == b'\n' => Chunk::Size { size: 0, digits: 0 },
        Chunk::TrailerStart => match b {
            b'\r' => Chunk::EndLf,
            b'\n' => return Ok(None),
            _ => Chunk::TrailerLine,
        },
        Chunk::TrailerLine if b == b'\n' => Chunk::TrailerStart,
        Chunk::TrailerLine => Chunk::TrailerLine,
        Chunk::EndLf if b == b'\n' => return Ok(None),
        // Data never reaches here (handled in bulk); the rest are framing errors.
        Chunk::SizeLf { .. } | Chunk::DataCr | Chunk::DataLf | Chunk::EndLf | Chunk::Data(_) => {
            return bad
        }
    };
    Ok(Some(next))
}

fn after_size(size: u64) -> Chunk {
    if size == 0 {
        Chunk::TrailerStart
    } else {
        Chunk::Data(size)
    }
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn whole(kind: BodyKind, data: &[u8]) -> (usize, bool) {
        let mut d = BodyDecoder::new(kind);
        let n = d.feed(data).unwrap();
        (n, d.is_done())
    }

    #[test]
    fn length_stops_at_the_end() {
        assert_eq!(whole(BodyKind::Length(3), b"abcdef"), (3, true));
        assert_eq!(whole(BodyKind::Length(9), b"abc"), (3, false));
        assert_eq!(whole(BodyKind::None, b"abc"), (0, true));
    }

    #[test]
    fn chunked_with_extensions_and_trailers() {
        let body = b"4;ext=1\r\nWiki\r\nA\r\n0123456789\r\n0\r\nX-T: 1\r\n\r\nNEXT";
        assert_eq!(whole(BodyKind::Chunked, body), (body.len() - 4, true));
        let body = b"0\r\n\r\n";
        assert_eq!(whole(BodyKind::Chunked, body), (5, true));
        // Byte by byte gives the same.
        let body = b"3\r\nabc\r\n0\r\n\r\n";
        let mut d = BodyDecoder::new(BodyKind::Chunked);
        let used: usize = body
            .iter()
            .map(|b| d.feed(std::slice::from_ref(b)).unwrap())
            .sum();
        assert_eq!((used, d.is_done()), (body.len(), true));
    }

    #[test]
    fn chunked_errors() {
        for bad in [
            &b"x\r\n"[..],
            b"\r\n",
            b"3\r\nabcX",
            b"11111111111111111\r\n",
        ] {
            let mut d = BodyDecoder::new(BodyKind::Chunked);
            assert_eq!(d.feed(bad), Err(ParseErrorKind::InvalidChunk), "{bad:?}");
        }
    }

    #[test]
    fn eof_bodies_end_on_close_only() {
        let mut d = BodyDecoder::new(BodyKind::Eof);
        assert_eq!(d.feed(b"anything").unwrap(), 8);
        assert!(d.finish_on_eof());
        let mut d = BodyDecoder::new(BodyKind::Length(4));
        d.feed(b"ab").unwrap();
        assert!(!d.finish_on_eof());
    }
}
