//! Codec tests across the reader: fixed cases and property tests that any
//! split of valid responses parses the same, and that arbitrary bytes never
//! panic.

use proptest::prelude::*;

use super::*;

type Seen = Vec<(Complete, Vec<(usize, Vec<u8>)>)>;

/// Feeds `chunks` the way a connection does: append, advance, drop what was
/// consumed; at the end, signal the close.
fn drive(
    chunks: &[&[u8]],
    head_request: bool,
    tracked: &[Box<[u8]>],
) -> Result<Seen, ParseErrorKind> {
    let mut reader = ResponseReader::new(head_request);
    let mut buf = Vec::new();
    let mut seen = Vec::new();
    let mut headers = Vec::new();
    for chunk in chunks {
        buf.extend_from_slice(chunk);
        loop {
            let step = reader.advance(&buf, tracked, |_, i, v| headers.push((i, v.to_vec())))?;
            buf.drain(..step.consumed);
            match step.complete {
                Some(c) => seen.push((c, std::mem::take(&mut headers))),
                None => break,
            }
        }
    }
    if let Some(c) = reader.finish_on_eof() {
        seen.push((c, std::mem::take(&mut headers)));
    }
    Ok(seen)
}

fn tracked() -> Vec<Box<[u8]>> {
    vec![b"via-goto".to_vec().into(), b"x-id".to_vec().into()]
}

#[test]
fn keep_alive_sequence_with_interim_and_close_delimited() {
    let raw: &[u8] = b"HTTP/1.1 100 Continue\r\nVia-Goto: interim\r\n\r\n\
        HTTP/1.1 200 OK\r\nVia-Goto: a\r\nContent-Length: 2\r\n\r\nok\
        HTTP/1.1 503 Service Unavailable\r\nTransfer-Encoding: chunked\r\nX-ID: 7\r\n\r\n2\r\nab\r\n0\r\n\r\n\
        HTTP/1.0 200 OK\r\n\r\nuntil close";
    let seen = drive(&[raw], false, &tracked()).unwrap();
    let statuses: Vec<_> = seen.iter().map(|(c, _)| (c.status, c.keep_alive)).collect();
    assert_eq!(statuses, vec![(200, true), (503, true), (200, false)]);
    assert_eq!(seen[0].1, vec![(0, b"a".to_vec())]);
    assert_eq!(seen[1].1, vec![(1, b"7".to_vec())]);
}

#[test]
fn truncated_body_is_not_a_response() {
    let raw: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort";
    assert!(drive(&[raw], false, &[]).unwrap().is_empty());
}

#[test]
fn head_response_has_no_body_despite_length() {
    let raw: &[u8] =
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n";
    let seen = drive(&[raw], true, &[]).unwrap();
    assert_eq!(seen.len(), 2);
}

/// One generated response: its bytes and what parsing it must yield.
#[derive(Debug, Clone)]
struct Generated {
    bytes: Vec<u8>,
    status: u16,
    tracked_values: Vec<(usize, Vec<u8>)>,
}

fn response_strategy() -> impl Strategy<Value = Generated> {
    let status = prop::sample::select(vec![200u16, 201, 204, 301, 304, 404, 500, 503]);
    let body = prop::collection::vec(any::<u8>(), 0..300);
    let chunked = any::<bool>();
    let chunk_sizes = prop::collection::vec(1usize..64, 1..8);
    let via = prop::option::of("[a-zA-Z0-9-]{1,12}");
    let interim = any::<bool>();
    let case = prop::sample::select(vec!["Via-Goto", "via-goto", "VIA-GOTO"]);
    (status, body, chunked, chunk_sizes, via, interim, case).prop_map(
        |(status, body, chunked, sizes, via, interim, case)| {
            let mut out = Vec::new();
            if interim {
                out.extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
            }
            out.extend_from_slice(format!("HTTP/1.1 {status} X\r\nServer: t\r\n").as_bytes());
            let mut tracked_values = Vec::new();
            if let Some(v) = &via {
                out.extend_from_slice(format!("{case}: {v}\r\n").as_bytes());
                tracked_values.push((0, v.as_bytes().to_vec()));
            }
            let has_body = status != 204 && status != 304;
            if chunked {
                out.extend_from_slice(b"Transfer-Encoding: chunked\r\n\r\n");
                if has_body {
                    let mut rest = &body[..];
                    let mut i = 0;
                    while !rest.is_empty() {
                        let n = sizes[i % sizes.len()].min(rest.len());
                        out.extend_from_slice(format!("{n:x};e=1\r\n").as_bytes());
                        out.extend_from_slice(&rest[..n]);
                        out.extend_from_slice(b"\r\n");
                        rest = &rest[n..];
                        i += 1;
                    }
                    out.extend_from_slice(b"0\r\nTrailer: t\r\n\r\n");
                }
            } else {
                out.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
                if has_body {
                    out.extend_from_slice(&body);
                }
            }
            Generated {
                bytes: out,
                status,
                tracked_values,
            }
        },
    )
}

fn split_at_points(bytes: &[u8], mut points: Vec<usize>) -> Vec<&[u8]> {
    points.iter_mut().for_each(|p| *p %= bytes.len() + 1);
    points.sort_unstable();
    points.dedup();
    let mut chunks = Vec::new();
    let mut last = 0;
    for p in points {
        chunks.push(&bytes[last..p]);
        last = p;
    }
    chunks.push(&bytes[last..]);
    chunks
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn any_split_of_valid_responses_parses_the_same(
        responses in prop::collection::vec(response_strategy(), 1..4),
        points in prop::collection::vec(any::<usize>(), 0..12),
    ) {
        let all: Vec<u8> = responses.iter().flat_map(|r| r.bytes.clone()).collect();
        let whole = drive(&[&all], false, &tracked()).unwrap();
        let expected: Vec<_> = responses.iter().map(|r| (r.status, r.tracked_values.clone())).collect();
        let got: Vec<_> = whole.iter().map(|(c, h)| (c.status, h.clone())).collect();
        prop_assert_eq!(&got, &expected);
        prop_assert!(whole.iter().all(|(c, _)| c.keep_alive));
        let split = drive(&split_at_points(&all, points), false, &tracked()).unwrap();
        prop_assert_eq!(split, whole);
    }

    #[test]
    fn arbitrary_bytes_never_panic(
        bytes in prop::collection::vec(any::<u8>(), 0..2048),
        points in prop::collection::vec(any::<usize>(), 0..8),
        head_request in any::<bool>(),
    ) {
        let _ = drive(&split_at_points(&bytes, points), head_request, &tracked());
    }

    #[test]
    fn arbitrary_bodies_after_a_valid_head_never_panic(
        body in prop::collection::vec(any::<u8>(), 0..1024),
        chunked in any::<bool>(),
        points in prop::collection::vec(any::<usize>(), 0..8),
    ) {
        let mut bytes = if chunked {
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec()
        } else {
            b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n".to_vec()
        };
        bytes.extend_from_slice(&body);
        let _ = drive(&split_at_points(&bytes, points), false, &tracked());
    }
}
