//! Fuzz harness bodies: each takes arbitrary bytes, drives one parser of
//! untrusted input and panics only when an invariant breaks (a panic inside
//! the parser counts too). The cargo-fuzz targets in fuzz/fuzz_targets call
//! these on nightly; tests/fuzz_smoke.rs includes this same file and drives it
//! with proptest on stable, so CI runs every body on every change.

use goto_control::{client, jobs, proxy};
use goto_engine::duration;
use goto_engine::h2codec::conn::{self, Conn};
use goto_engine::h2codec::hpack::{self, Decoder};
use goto_engine::h2codec::huffman;
use goto_engine::http1::body::BodyDecoder;
use goto_engine::http1::response::BodyKind;
use goto_engine::http1::url::Url;
use goto_engine::http1::{Complete, ResponseReader};
use goto_engine::ParseErrorKind;

/// What a reader made of a byte stream: the responses completed before the
/// first error, each with its tracked header values, and whether one came.
type Outcome = (Vec<(Complete, Vec<(usize, Vec<u8>)>)>, bool);

/// Feeds `chunks` as a connection does (append, advance, drop what was
/// consumed) and signals the close at the end.
fn drive_reader(chunks: &[&[u8]], head_request: bool, tracked: &[Box<[u8]>]) -> Outcome {
    let mut reader = ResponseReader::new(head_request);
    let mut buf: Vec<u8> = Vec::new();
    let mut seen = Vec::new();
    let mut values = Vec::new();
    for chunk in chunks {
        buf.extend_from_slice(chunk);
        loop {
            let step = match reader.advance(&buf, tracked, |_, i, v| values.push((i, v.to_vec()))) {
                Ok(step) => step,
                Err(_) => return (seen, true),
            };
            assert!(step.consumed <= buf.len(), "consumed past the input");
            buf.drain(..step.consumed);
            match step.complete {
                Some(c) => seen.push((c, std::mem::take(&mut values))),
                None => break,
            }
        }
    }
    if let Some(c) = reader.finish_on_eof() {
        seen.push((c, std::mem::take(&mut values)));
    }
    (seen, false)
}

/// The response reader: any split of the same bytes gives the same responses
/// (or the same failure). Byte 0 picks HEAD and the split points.
pub fn response(data: &[u8]) {
    let Some((&ctl, input)) = data.split_first() else {
        return;
    };
    let head_request = ctl & 1 == 1;
    let tracked: Vec<Box<[u8]>> = vec![b"via-goto".to_vec().into(), b"x-a".to_vec().into()];
    let whole = drive_reader(&[input], head_request, &tracked);
    let cut = usize::from(ctl >> 1) * input.len() / 127;
    let (a, b) = input.split_at(cut.min(input.len()));
    assert_eq!(
        whole,
        drive_reader(&[a, b], head_request, &tracked),
        "split at {cut}"
    );
    // Small pieces re-parse the head each time: keep it bounded.
    if input.len() <= 4096 {
        let size = usize::from(ctl >> 4) + 1;
        let pieces: Vec<&[u8]> = input.chunks(size).collect();
        assert_eq!(
            whole,
            drive_reader(&pieces, head_request, &tracked),
            "pieces of {size}"
        );
    }
}

fn feed_chunked<'a>(
    pieces: impl IntoIterator<Item = &'a [u8]>,
) -> Result<(usize, bool), ParseErrorKind> {
    let mut d = BodyDecoder::new(BodyKind::Chunked);
    let mut used = 0;
    for p in pieces {
        if d.is_done() {
            break;
        }
        let n = d.feed(p)?;
        assert!(n <= p.len(), "decoder consumed past its input");
        used += n;
    }
    Ok((used, d.is_done()))
}

/// The chunked decoder: arbitrary bytes decode the same whole and byte by
/// byte; and the bytes chunk-encoded (sizes taken from the bytes) decode to
/// exactly the encoding's length.
pub fn chunked(data: &[u8]) {
    let whole = feed_chunked([data]);
    assert_eq!(whole, feed_chunked(data.chunks(1)));
    let mut encoded = Vec::new();
    let mut rest = data;
    while let Some(&size) = rest.first() {
        let n = (usize::from(size) % 17 + 1).min(rest.len());
        let ext = if size & 0x80 != 0 { ";x=1" } else { "" };
        encoded.extend_from_slice(format!("{n:X}{ext}\r\n").as_bytes());
        encoded.extend_from_slice(&rest[..n]);
        encoded.extend_from_slice(b"\r\n");
        rest = &rest[n..];
    }
    encoded.extend_from_slice(b"0\r\nX-Trailer: t\r\n\r\n");
    let done = Ok((encoded.len(), true));
    assert_eq!(feed_chunked([&encoded[..]]), done);
    assert_eq!(feed_chunked(encoded.chunks(3)), done);
}

/// The load client's URL parser: an accepted URL has a port, a path starting
/// with `/`, no spaces or controls, and the parts it yields (as sent on the
/// wire) parse back to the same URL. The proxy's URL check must not panic.
pub fn url(data: &[u8]) {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let _ = proxy::target::parse_http_url(s);
    let _ = goto_engine::TargetSpec::try_new("t", s);
    let Ok(u) = Url::parse(s) else {
        return;
    };
    assert_ne!(u.port, 0);
    assert!(u.path_and_query.starts_with('/'));
    let clean = |t: &str| {
        !t.bytes()
            .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
    };
    assert!(clean(&u.host) && clean(&u.path_and_query) && !u.host.is_empty());
    let scheme = if u.https { "https" } else { "http" };
    let again = format!("{scheme}://{}{}", u.authority, u.path_and_query);
    assert_eq!(Url::parse(&again).as_ref(), Ok(&u), "{again}");
}

/// Go durations: an accepted duration prints in Go syntax that parses back to
/// exactly the same value.
pub fn duration(data: &[u8]) {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(d) = duration::parse(s) else {
        return;
    };
    let text = duration::format(d);
    assert_eq!(duration::parse(&text), Ok(d), "{s:?} printed as {text:?}");
}

/// `POST /client/targets/add` bodies: validated or refused, and an accepted
/// target echoes as JSON that is accepted again.
pub fn client_target(data: &[u8]) {
    let Ok(t) = client::target::Target::from_json(data) else {
        return;
    };
    let echo = t.echo();
    assert!(
        client::target::Target::from_json(echo.as_bytes()).is_ok(),
        "echo {echo} refused"
    );
}

/// `POST /request/proxy/targets/add` bodies, then a request matched against
/// the target: bytes up to the first NUL are the JSON, the rest the request's
/// path and query.
pub fn proxy_target(data: &[u8]) {
    let (json, request) = match data.iter().position(|b| *b == 0) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &b"/"[..]),
    };
    let Ok(spec) = serde_json::from_slice::<proxy::target::ProxyTargetSpec>(json) else {
        return;
    };
    let Ok(target) = proxy::target::ProxyTarget::new(spec) else {
        return;
    };
    let request = String::from_utf8_lossy(request);
    let (path, query) = match request.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (&*request, None),
    };
    let mut headers = http::HeaderMap::new();
    headers.insert("x-a", http::HeaderValue::from_static("1"));
    if let Some(m) = target.matches(path, query, &headers) {
        let _ = target.upstream_path(path, query, &m);
    }
}

/// `POST /jobs/add` bodies, with command jobs allowed so their checks run too.
pub fn job_spec(data: &[u8]) {
    let Ok(input) = serde_json::from_slice::<jobs::spec::JobInput>(data) else {
        return;
    };
    let _ = jobs::spec::JobSpec::new(&input, true);
    let _ = jobs::spec::JobSpec::new(&input, false);
}

/// Bytes from an HTTP/2 server into a client connection that has three
/// streams open (the first byte picks where the input is split in two
/// reads): frames and HPACK blocks must never panic, a connection error must
/// leave the connection dead, and a finished stream must have a final
/// status and tracked values inside its buffer. The same bytes also go
/// through a lone HPACK decoder and a Huffman round trip.
pub fn h2_frames(data: &[u8]) {
    let Some((&split, rest)) = data.split_first() else {
        return;
    };
    let mut conn = Conn::new(vec![b"x-a".to_vec().into_boxed_slice()]);
    // GET http / with no body.
    let slots: Vec<usize> = (0..3)
        .map(|_| conn.open(&[0x82, 0x86, 0x84], true))
        .collect();
    let at = usize::from(split).min(rest.len());
    let mut buf = Vec::new();
    for chunk in [&rest[..at], &rest[at..]] {
        buf.extend_from_slice(chunk);
        match conn.receive(&buf) {
            Ok(n) => {
                assert!(n <= buf.len(), "used past the input");
                buf.drain(..n);
            }
            Err(_) => {
                assert!(conn.is_dead(), "a connection error left it usable");
                break;
            }
        }
    }
    for &s in &slots {
        let slot = &conn.slots[s];
        if slot.outcome == Some(conn::Outcome::Done) {
            assert!((200..1000).contains(&slot.status), "{}", slot.status);
        }
        for &(i, start, end) in &slot.tracked {
            assert_eq!(i, 0);
            assert!(start <= end && end as usize <= slot.values.len());
        }
    }
    for s in slots {
        conn.release(s);
    }
    let mut d = Decoder::new();
    let _ = d.decode(rest, |_, _| {});
    assert!(d.table_size() <= hpack::TABLE_SIZE);
    let mut enc = Vec::new();
    huffman::encode(rest, &mut enc);
    let mut dec = Vec::new();
    assert_eq!(huffman::decode(&enc, &mut dec), Ok(()));
    assert_eq!(dec, rest, "Huffman round trip");
}
