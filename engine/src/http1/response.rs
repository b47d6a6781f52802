//! Response head parser: httparse over a stack array of headers, no
//! allocation. Only the status, `Content-Length`, `Transfer-Encoding`,
//! `Connection` and the tracked headers are looked at.

use std::mem::MaybeUninit;

use crate::error::ParseErrorKind;

/// Most header lines a response head may carry.
pub const MAX_HEADERS: usize = 100;
/// Largest response head accepted; a longer one is a parse error.
pub const MAX_HEAD: usize = 64 * 1024;

/// How the body of a response is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    /// No body (HEAD request, 1xx, 204, 304).
    None,
    /// `Content-Length: n`.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// Read until the server closes the connection.
    Eof,
}

/// What the connection needs to know about a parsed head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    pub status: u16,
    /// Bytes the head occupies, including the final CRLF CRLF.
    pub len: usize,
    pub body: BodyKind,
    /// Whether the connection may carry another request afterwards.
    pub keep_alive: bool,
}

impl Head {
    /// 1xx interim responses (except 101) precede the real one and are skipped.
    pub fn is_interim(&self) -> bool {
        (100..200).contains(&self.status) && self.status != 101
    }
}

/// Parses a response head at the start of `buf`.
///
/// Returns `Ok(None)` when more bytes are needed. `tracked` holds lower-case
/// header names; `on_tracked(status, i, value)` is called for each header of
/// a final (non-1xx) head whose name matches `tracked[i]` case-insensitively.
pub fn parse_head<F: FnMut(u16, usize, &[u8])>(
    buf: &[u8],
    head_request: bool,
    tracked: &[Box<[u8]>],
    mut on_tracked: F,
) -> Result<Option<Head>, ParseErrorKind> {
    // Uninitialised header slots: initialising 100 of them on every parse
    // costs more than parsing a short head.
    let mut headers = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
    let mut resp = httparse::Response::new(&mut []);
    let parsed = httparse::ParserConfig::default().parse_response_with_uninit_headers(
        &mut resp,
        buf,
        &mut headers,
    );
    let len = match parsed {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) if buf.len() >= MAX_HEAD => {
            return Err(ParseErrorKind::HeadTooLarge)
        }
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => return Err(ParseErrorKind::TooManyHeaders),
        Err(_) => return Err(ParseErrorKind::InvalidHead),
    };
    if len > MAX_HEAD {
        return Err(ParseErrorKind::HeadTooLarge);
    }
    let status = resp.code.ok_or(ParseErrorKind::InvalidHead)?;
    if status < 100 {
        return Err(ParseErrorKind::InvalidStatus);
    }
    let http11 = resp.version == Some(1);
    let interim = (100..200).contains(&status) && status != 101;
    let mut content_length: Option<u64> = None;
    let mut chunked = false;
    let mut transfer_encoding = false;
    let mut close = false;
    let mut keep_alive_token = false;
    // Interim (1xx) heads are skipped; only the final head is counted.
    let tracked = if interim { &[][..] } else { tracked };
    for h in resp.headers.iter() {
        let name = h.name.as_bytes();
        // Dispatch on the length first: most headers match none of the three
        // names and are rejected without comparing a byte.
        match name.len() {
            14 if eq_letters(name, b"content-length") => {
                let n = parse_length(h.value).ok_or(ParseErrorKind::InvalidContentLength)?;
                if content_length.is_some_and(|prev| prev != n) {
                    return Err(ParseErrorKind::InvalidContentLength);
                }
                content_length = Some(n);
            }
            17 if eq_letters(name, b"transfer-encoding") => {
                transfer_encoding = true;
                // Chunked counts only as the final coding.
                chunked = last_token(h.value).is_some_and(|t| t.eq_ignore_ascii_case(b"chunked"));
            }
            10 if eq_letters(name, b"connection") => {
                for token in h.value.split(|b| *b == b',') {
                    let token = token.trim_ascii();
                    close |= token.eq_ignore_ascii_case(b"close");
                    keep_alive_token |= token.eq_ignore_ascii_case(b"keep-alive");
                }
            }
            _ => {}
        }
        for (i, t) in tracked.iter().enumerate() {
            // `t` is lower-case already; the length test rejects most names.
            if t.len() == name.len() && eq_lowercase(name, t) {
                on_tracked(status, i, h.value);
            }
        }
    }
    let mut keep_alive = if http11 {
        !close
    } else {
        keep_alive_token && !close
    };
    let no_body = head_request || (100..200).contains(&status) || status == 204 || status == 304;
    let body = if no_body {
        BodyKind::None
    } else if transfer_encoding {
        if chunked {
            BodyKind::Chunked
        } else {
            BodyKind::Eof
        }
    } else if let Some(n) = content_length {
        BodyKind::Length(n)
    } else {
        BodyKind::Eof
    };
    if body == BodyKind::Eof || status == 101 {
        keep_alive = false;
    }
    Ok(Some(Head {
        status,
        len,
        body,
        keep_alive,
    }))
}

/// `name` (a header name, which httparse has checked holds only token
/// characters) equals `lower`, made of lower-case letters and `-`, ignoring
/// ASCII case; both at least 8 bytes. Compares eight bytes at a time with the
/// 0x20 bit forced on: for those characters that bit is the only difference
/// between cases, and no other token character maps onto them (`\r` would
/// map to `-`, but it is not a token character).
#[inline]
fn eq_letters(name: &[u8], lower: &[u8]) -> bool {
    const CASE: u64 = 0x2020_2020_2020_2020;
    let word = |b: &[u8], at: usize| -> u64 {
        let mut w = [0u8; 8];
        w.copy_from_slice(&b[at..at + 8]);
        u64::from_le_bytes(w)
    };
    let n = lower.len();
    if name.len() != n || n < 8 {
        return name.eq_ignore_ascii_case(lower);
    }
    let mut at = 0;
    while at + 8 < n {
        if word(name, at) | CASE != word(lower, at) {
            return false;
        }
        at += 8;
    }
    // The last eight bytes, overlapping the previous word if need be.
    word(name, n - 8) | CASE == word(lower, n - 8)
}

/// `name` equals `lower` (already lower-case, same length) ignoring ASCII case.
#[inline]
fn eq_lowercase(name: &[u8], lower: &[u8]) -> bool {
    name.iter()
        .zip(lower)
        .all(|(a, b)| a.to_ascii_lowercase() == *b)
}

fn parse_length(v: &[u8]) -> Option<u64> {
    let v = v.trim_ascii();
    if v.is_empty() || v.len() > 19 || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(v.iter().fold(0u64, |n, d| n * 10 + u64::from(d - b'0')))
}

fn last_token(v: &[u8]) -> Option<&[u8]> {
    v.split(|b| *b == b',').next_back().map(|t| t.trim_ascii())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(buf: &[u8]) -> Result<Option<Head>, ParseErrorKind> {
        parse_head(buf, false, &[], |_, _, _| {})
    }

    #[test]
    fn content_length_and_keep_alive() {
        let h = parse(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            .unwrap()
            .unwrap();
        assert_eq!(
            h,
            Head {
                status: 200,
                len: 38,
                body: BodyKind::Length(2),
                keep_alive: true
            }
        );
        let h = parse(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
            .unwrap()
            .unwrap();
        assert!(!h.keep_alive);
        let h = parse(b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n")
            .unwrap()
            .unwrap();
        assert!(!h.keep_alive);
        let h = parse(b"HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n")
            .unwrap()
            .unwrap();
        assert!(h.keep_alive);
    }

    #[test]
    fn body_kinds() {
        let h = parse(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n")
            .unwrap()
            .unwrap();
        assert_eq!(h.body, BodyKind::Chunked);
        let h = parse(b"HTTP/1.1 200 OK\r\n\r\n").unwrap().unwrap();
        assert_eq!((h.body, h.keep_alive), (BodyKind::Eof, false));
        for status in ["204 No Content", "304 Not Modified", "100 Continue"] {
            let raw = format!("HTTP/1.1 {status}\r\nContent-Length: 5\r\n\r\n");
            assert_eq!(parse(raw.as_bytes()).unwrap().unwrap().body, BodyKind::None);
        }
        let h = parse_head(
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n",
            true,
            &[],
            |_, _, _| {},
        );
        assert_eq!(h.unwrap().unwrap().body, BodyKind::None);
    }

    #[test]
    fn partial_bad_and_oversized() {
        assert_eq!(parse(b"HTTP/1.1 200 OK\r\nContent-Le"), Ok(None));
        assert_eq!(
            parse(b"HTTZ/1.1 200 OK\r\n\r\n"),
            Err(ParseErrorKind::InvalidHead)
        );
        assert_eq!(
            parse(b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n"),
            Err(ParseErrorKind::InvalidContentLength)
        );
        assert_eq!(
            parse(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"),
            Err(ParseErrorKind::InvalidContentLength)
        );
        let mut big = b"HTTP/1.1 200 OK\r\nX: ".to_vec();
        big.resize(MAX_HEAD + 10, b'a');
        assert_eq!(parse(&big), Err(ParseErrorKind::HeadTooLarge));
        let mut many = b"HTTP/1.1 200 OK\r\n".to_vec();
        for _ in 0..=MAX_HEADERS {
            many.extend_from_slice(b"A: b\r\n");
        }
        many.extend_from_slice(b"\r\n");
        assert_eq!(parse(&many), Err(ParseErrorKind::TooManyHeaders));
    }

    #[test]
    fn status_000_is_an_invalid_response_not_a_transport_error() {
        for line in ["000 Zero", "099 Low", "000"] {
            let raw = format!("HTTP/1.1 {line}\r\nContent-Length: 0\r\n\r\n");
            assert_eq!(
                parse(raw.as_bytes()),
                Err(ParseErrorKind::InvalidStatus),
                "{line}"
            );
        }
        assert_eq!(
            parse(b"HTTP/1.1 100 Continue\r\n\r\n")
                .unwrap()
                .unwrap()
                .status,
            100
        );
        assert_eq!(
            parse(b"HTTP/1.1 999 Odd\r\n\r\n").unwrap().unwrap().status,
            999
        );
    }

    #[test]
    fn framing_names_match_in_any_case_and_only_themselves() {
        for name in [
            "content-length",
            "Content-Length",
            "CONTENT-LENGTH",
            "cOnTeNt-LeNgTh",
        ] {
            assert!(eq_letters(name.as_bytes(), b"content-length"), "{name}");
        }
        for name in [
            "content_length",
            "content-lengtx",
            "xontent-length",
            "content-lengt",
        ] {
            assert!(!eq_letters(name.as_bytes(), b"content-length"), "{name}");
        }
        assert!(eq_letters(b"Transfer-Encoding", b"transfer-encoding"));
        assert!(!eq_letters(b"Transfer-Encodinf", b"transfer-encoding"));
        assert!(eq_letters(b"CONNECTION", b"connection"));
        assert!(!eq_letters(b"connectiom", b"connection"));
        let h = parse(b"HTTP/1.1 200 OK\r\nCONTENT-LENGTH: 3\r\nCONNECTION: Close\r\n\r\n")
            .unwrap()
            .unwrap();
        assert_eq!((h.body, h.keep_alive), (BodyKind::Length(3), false));
    }

    #[test]
    fn tracked_headers_match_case_insensitively() {
        let tracked: Vec<Box<[u8]>> = vec![b"via-goto".to_vec().into(), b"x".to_vec().into()];
        let mut seen = Vec::new();
        let raw =
            b"HTTP/1.1 200 OK\r\nVIA-Goto: a\r\nX: 1\r\nx: 2\r\nY: 3\r\nContent-Length: 0\r\n\r\n";
        parse_head(raw, false, &tracked, |_, i, v| seen.push((i, v.to_vec()))).unwrap();
        assert_eq!(
            seen,
            vec![(0, b"a".to_vec()), (1, b"1".to_vec()), (1, b"2".to_vec())]
        );
    }
}
