//! The connection state machine driven with hand-built server frames.

use super::*;
use crate::error::ParseErrorKind;
use crate::http2::codec::frame::{put_data, put_head, put_headers};

fn conn() -> Conn {
    let mut c = Conn::new(vec![b"x-a".to_vec().into_boxed_slice()]);
    c.out.clear();
    c
}

/// Every frame in `out`: (type, flags, stream, payload).
fn frames(out: &[u8]) -> Vec<(u8, u8, u32, Vec<u8>)> {
    let mut v = Vec::new();
    let mut at = 0;
    while at + 9 <= out.len() {
        let h = frame::Head::parse(out[at..at + 9].try_into().unwrap());
        let end = at + 9 + h.len as usize;
        v.push((h.kind, h.flags, h.stream, out[at + 9..end].to_vec()));
        at = end;
    }
    v
}

fn feed(c: &mut Conn, bytes: &[u8]) -> Result<usize, ConnError> {
    c.receive(bytes)
}

#[test]
fn preface_settings_and_window_come_first() {
    let c = Conn::new(Vec::new());
    assert!(c.out.starts_with(frame::PREFACE));
    let f = frames(&c.out[frame::PREFACE.len()..]);
    assert_eq!(f[0].0, frame::SETTINGS);
    assert_eq!(
        f[1],
        (
            frame::WINDOW_UPDATE,
            0,
            0,
            (CONNECTION_WINDOW - 65_535).to_be_bytes().to_vec()
        )
    );
}

#[test]
fn a_response_completes_its_stream_with_status_and_tracked_headers() {
    let mut c = conn();
    let s = c.open(&[0x82, 0x86, 0x84], true);
    assert_eq!(frames(&c.out)[0].0, frame::HEADERS);
    assert_eq!(frames(&c.out)[0].1, frame::END_STREAM | frame::END_HEADERS);
    let mut b = Vec::new();
    // 200, x-a: 1 (literal, indexed), then a body in two parts.
    put_headers(
        &mut b,
        1,
        &[0x88, 0x40, 3, b'x', b'-', b'a', 1, b'1'],
        false,
        16_384,
    );
    put_data(&mut b, 1, b"he", false);
    let half = b.len();
    put_data(&mut b, 1, b"llo", true);
    assert_eq!(feed(&mut c, &b[..half + 4]), Ok(half));
    assert_eq!(c.slots[s].outcome, Some(Outcome::Pending));
    assert_eq!(feed(&mut c, &b[half..]), Ok(b.len() - half));
    let slot = &c.slots[s];
    assert_eq!(slot.outcome, Some(Outcome::Done));
    assert_eq!(slot.status, 200);
    assert_eq!(slot.tracked, [(0, 0, 1)]);
    assert_eq!(slot.values, b"1");
    assert_eq!(slot.bytes, (7 + 3 + 3 + 1 + 5) as u64);
    c.out.clear();
    c.release(s);
    // A finished stream is not reset.
    assert!(c.out.is_empty());
    // The next stream reuses the slot and takes the next id; the indexed
    // x-a (62) decodes from the dynamic table.
    let s2 = c.open(&[0x82], true);
    assert_eq!(s2, s);
    let mut b = Vec::new();
    put_headers(&mut b, 3, &[0x8d, 0xbe], true, 16_384);
    feed(&mut c, &b).unwrap();
    assert_eq!(c.slots[s2].status, 404);
    assert_eq!(c.slots[s2].values, b"1");
}

#[test]
fn settings_are_acked_and_limit_concurrent_streams() {
    let mut c = conn();
    let mut b = Vec::new();
    frame::put_settings(&mut b, &[(frame::SETTINGS_MAX_CONCURRENT_STREAMS, 1)]);
    feed(&mut c, &b).unwrap();
    assert_eq!(frames(&c.out), [(frame::SETTINGS, frame::ACK, 0, vec![])]);
    assert_eq!(c.can_open(), Ok(true));
    let s = c.open(&[0x82], true);
    assert_eq!(c.can_open(), Ok(false));
    c.out.clear();
    c.release(s);
    // Released before its response: reset, and room for another.
    assert_eq!(
        frames(&c.out),
        [(
            frame::RST_STREAM,
            0,
            1,
            frame::CANCEL.to_be_bytes().to_vec()
        )]
    );
    assert_eq!(c.can_open(), Ok(true));
}

#[test]
fn request_bodies_wait_for_window_updates() {
    let mut c = conn();
    let body = vec![7u8; 100_000];
    let s = c.open(&[0x83], false);
    let mut sent = 0;
    assert!(!c.send_body(s, &body, &mut sent));
    assert_eq!(sent, 65_535);
    let data: usize = frames(&c.out)
        .iter()
        .filter(|f| f.0 == frame::DATA)
        .map(|f| f.3.len())
        .sum();
    assert_eq!(data, 65_535);
    let mut b = Vec::new();
    frame::put_window_update(&mut b, 0, 50_000);
    frame::put_window_update(&mut b, 1, 50_000);
    feed(&mut c, &b).unwrap();
    c.out.clear();
    assert!(c.send_body(s, &body, &mut sent));
    assert_eq!(sent, body.len());
    let last = frames(&c.out).pop().unwrap();
    assert_eq!((last.0, last.1), (frame::DATA, frame::END_STREAM));
}

#[test]
fn a_body_released_in_parts_ends_the_stream_with_the_last() {
    let mut c = conn();
    let body = [1u8, 2, 3, 4, 5, 6];
    let s = c.open(&[0x83], false);
    let mut sent = 0;
    assert!(!c.send_body_part(s, &body[..2], &mut sent, false));
    // Nothing more to send yet: no empty frame.
    assert!(!c.send_body_part(s, &body[..2], &mut sent, false));
    assert!(!c.send_body_part(s, &body[..4], &mut sent, false));
    assert!(c.send_body_part(s, &body, &mut sent, true));
    let data: Vec<_> = frames(&c.out)
        .into_iter()
        .filter(|f| f.0 == frame::DATA)
        .map(|f| (f.1, f.3))
        .collect();
    assert_eq!(
        data,
        [
            (0, vec![1, 2]),
            (0, vec![3, 4]),
            (frame::END_STREAM, vec![5, 6])
        ]
    );
}

#[test]
fn large_response_bodies_give_the_windows_back_in_batches() {
    let mut c = conn();
    let s = c.open(&[0x82], true);
    let mut b = Vec::new();
    put_headers(&mut b, 1, &[0x88], false, 16_384);
    feed(&mut c, &b).unwrap();
    let chunk = vec![0u8; 16_384];
    let mut updates = Vec::new();
    for _ in 0..(5 << 20) / chunk.len() {
        let mut b = Vec::new();
        put_data(&mut b, 1, &chunk, false);
        c.out.clear();
        feed(&mut c, &b).unwrap();
        updates.extend(
            frames(&c.out)
                .into_iter()
                .filter(|f| f.0 == frame::WINDOW_UPDATE),
        );
    }
    let stream: u32 = updates
        .iter()
        .filter(|f| f.2 == 1)
        .map(|f| u32::from_be_bytes(f.3[..4].try_into().unwrap()))
        .sum();
    let connection: u32 = updates
        .iter()
        .filter(|f| f.2 == 0)
        .map(|f| u32::from_be_bytes(f.3[..4].try_into().unwrap()))
        .sum();
    assert_eq!(stream, 5 << 20);
    assert_eq!(connection, CONNECTION_WINDOW / 2);
    // Batched: one update per half window, not one per frame.
    assert_eq!(updates.len(), 10 + 1);
    assert_eq!(c.slots[s].bytes, (5 << 20) + 10);
}

#[test]
fn goaway_refuses_streams_above_its_last_id_and_ends_new_ones() {
    let mut c = conn();
    let a = c.open(&[0x82], true);
    let b_ = c.open(&[0x82], true);
    let mut b = Vec::new();
    frame::put_goaway(&mut b, 1, frame::NO_ERROR);
    feed(&mut c, &b).unwrap();
    assert_eq!(c.slots[a].outcome, Some(Outcome::Pending));
    match c.slots[b_].outcome {
        Some(Outcome::Failed(e)) => assert!(e.refused && e.before_response),
        o => panic!("{o:?}"),
    }
    assert!(!c.usable());
    assert!(matches!(c.can_open(), Err(e) if e.refused));
    // Stream 1 still completes.
    let mut b = Vec::new();
    put_headers(&mut b, 1, &[0x88], true, 16_384);
    feed(&mut c, &b).unwrap();
    assert_eq!(c.slots[a].outcome, Some(Outcome::Done));
}

#[test]
fn resets_pings_and_protocol_errors() {
    let mut c = conn();
    let a = c.open(&[0x82], true);
    let b_ = c.open(&[0x82], true);
    let mut b = Vec::new();
    frame::put_rst_stream(&mut b, 1, 0x2);
    put_head(&mut b, 8, frame::PING, 0, 0);
    b.extend_from_slice(b"12345678");
    feed(&mut c, &b).unwrap();
    match c.slots[a].outcome {
        Some(Outcome::Failed(e)) => {
            assert_eq!(e.kind, ErrorKind::Reset);
            assert!(!e.fatal && !e.refused);
        }
        o => panic!("{o:?}"),
    }
    assert!(frames(&c.out).contains(&(frame::PING, frame::ACK, 0, b"12345678".to_vec())));
    // HTTP/1.1 bytes are not a frame: the connection dies, streams fail.
    assert!(feed(&mut c, b"HTTP/1.1 400 Bad Request\r\n\r\n").is_err());
    assert!(c.is_dead());
    match c.slots[b_].outcome {
        Some(Outcome::Failed(e)) => {
            assert_eq!(e.kind, ErrorKind::Parse(ParseErrorKind::InvalidHead));
            assert!(e.fatal);
        }
        o => panic!("{o:?}"),
    }
    assert!(frames(&c.out).iter().any(|f| f.0 == frame::GOAWAY));
}

#[test]
fn continuation_must_follow_its_headers() {
    let mut c = conn();
    let s = c.open(&[0x82], true);
    let block = [0x88, 0x40, 3, b'x', b'-', b'a', 1, b'2'];
    let mut b = Vec::new();
    put_headers(&mut b, 1, &block, true, 3);
    feed(&mut c, &b).unwrap();
    assert_eq!(c.slots[s].outcome, Some(Outcome::Done));
    assert_eq!(c.slots[s].values, b"2");
    let mut c = conn();
    c.open(&[0x82], true);
    let mut b = Vec::new();
    put_head(&mut b, 1, frame::HEADERS, 0, 1);
    b.push(0x88);
    frame::put_window_update(&mut b, 0, 1);
    assert_eq!(feed(&mut c, &b), Err(ConnError(frame::PROTOCOL_ERROR)));
}

#[test]
fn informational_heads_are_skipped_but_cannot_end_a_stream() {
    let mut c = conn();
    let s = c.open(&[0x82], true);
    let mut b = Vec::new();
    // 103 (literal :status with the static name), then 200 with a body.
    put_headers(
        &mut b,
        1,
        &[
            0x08, 3, b'1', b'0', b'3', 0x40, 3, b'x', b'-', b'a', 1, b'9',
        ],
        false,
        16_384,
    );
    put_headers(&mut b, 1, &[0x88], false, 16_384);
    put_data(&mut b, 1, b"", true);
    feed(&mut c, &b).unwrap();
    assert_eq!(c.slots[s].outcome, Some(Outcome::Done));
    assert_eq!(c.slots[s].status, 200);
    assert!(c.slots[s].tracked.is_empty());
    let mut c = conn();
    c.open(&[0x82], true);
    let mut b = Vec::new();
    put_headers(&mut b, 1, &[0x08, 3, b'1', b'0', b'0'], true, 16_384);
    assert_eq!(feed(&mut c, &b), Err(ConnError(frame::PROTOCOL_ERROR)));
}

#[test]
fn a_flood_of_settings_and_pings_the_writer_never_takes_ends_with_enhance_your_calm() {
    let mut c = conn();
    let s = c.open(&[0x82], true);
    let mut one = Vec::new();
    frame::put_settings(&mut one, &[]);
    put_head(&mut one, 8, frame::PING, 0, 0);
    one.extend_from_slice(b"12345678");
    // While the writer takes what is queued, acks never pile up.
    let mut taken = Vec::new();
    for _ in 0..MAX_QUEUED_ACKS * 2 {
        feed(&mut c, &one).unwrap();
        c.take_out(&mut taken);
        taken.clear();
    }
    assert!(!c.is_dead());
    // A writer that never takes them (the peer does not read): bounded.
    let mut r = Ok(0);
    for _ in 0..MAX_QUEUED_ACKS {
        r = feed(&mut c, &one);
        if r.is_err() {
            break;
        }
    }
    assert_eq!(r, Err(ConnError(frame::ENHANCE_YOUR_CALM)));
    assert!(c.is_dead());
    assert!(c.out.len() < (MAX_QUEUED_ACKS as usize + 1) * 40);
    assert!(matches!(c.slots[s].outcome, Some(Outcome::Failed(_))));
    let f = frames(&c.out);
    assert_eq!(f.last().map(|f| f.0), Some(frame::GOAWAY));
    assert_eq!(
        f.last().map(|f| f.3[4..8].to_vec()),
        Some(frame::ENHANCE_YOUR_CALM.to_be_bytes().to_vec())
    );
}

/// The header blocks of the HEADERS frames in `out`.
fn blocks(out: &[u8]) -> Vec<Vec<u8>> {
    frames(out)
        .into_iter()
        .filter(|f| f.0 == frame::HEADERS)
        .map(|f| f.3)
        .collect()
}

#[test]
fn indexed_requests_prime_the_peer_table_once_and_follow_its_limit() {
    use crate::http2::codec::hpack::Indexed;
    let fields: [(&[u8], &[u8]); 3] = [
        (b":method", b"POST"),
        (b":path", b"/goto.test.Echo/Unary"),
        (b"te", b"trailers"),
    ];
    let ix = Indexed::new(&fields);
    let other = Indexed::new(&fields);
    let plain = [0x83u8];
    let mut c = conn();
    for _ in 0..3 {
        c.open_indexed(&plain, Some(&ix), true);
    }
    // Primed by one request: another template's fields go plain.
    c.open_indexed(&plain, Some(&other), true);
    assert_eq!(
        blocks(&c.out),
        [
            ix.first.clone(),
            ix.later.clone(),
            ix.later.clone(),
            plain.to_vec()
        ]
    );
    // The peer lowers its table below what the fields take: the next block
    // empties the table and says the limit, and requests go plain.
    c.out.clear();
    let mut b = Vec::new();
    frame::put_settings(&mut b, &[(frame::SETTINGS_HEADER_TABLE_SIZE, 64)]);
    assert_eq!(feed(&mut c, &b), Ok(b.len()));
    c.out.clear();
    c.open_indexed(&plain, Some(&ix), true);
    c.open_indexed(&plain, Some(&ix), true);
    assert_eq!(
        blocks(&c.out),
        [vec![0x20, 0x3f, 0x21, 0x83], plain.to_vec()]
    );
    // A limit they fit in: primed again after the update.
    let mut c = conn();
    let mut b = Vec::new();
    frame::put_settings(&mut b, &[(frame::SETTINGS_HEADER_TABLE_SIZE, 1024)]);
    assert_eq!(feed(&mut c, &b), Ok(b.len()));
    c.out.clear();
    c.open_indexed(&plain, Some(&ix), true);
    c.open_indexed(&plain, Some(&ix), true);
    let mut first = vec![0x20, 0x3f, 0xe1, 0x07];
    first.extend_from_slice(&ix.first);
    assert_eq!(blocks(&c.out), [first, ix.later.clone()]);
}
