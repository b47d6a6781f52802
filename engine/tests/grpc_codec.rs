//! The HTTP/2 codec in gRPC mode, driven with hand-built server frames:
//! response messages counted across DATA frames, `grpc-status` and
//! `grpc-message` read from trailers (HEADERS after DATA) and from a
//! trailers-only response, and left alone when the connection is not gRPC.

use goto_engine::grpc::frame_message;
use goto_engine::h2codec::conn::{Conn, Outcome};
use goto_engine::h2codec::frame::{put_data, put_headers};
use goto_engine::h2codec::hpack::put_field;

fn block(fields: &[(&[u8], &[u8])]) -> Vec<u8> {
    let mut b = Vec::new();
    for (n, v) in fields {
        put_field(&mut b, n, v);
    }
    b
}

fn grpc_conn() -> Conn {
    let mut c = Conn::new(Vec::new());
    c.set_grpc(true);
    c.out.clear();
    c
}

#[test]
fn trailers_after_split_messages_give_status_and_count() {
    let mut c = grpc_conn();
    let s = c.open(&[0x82], false);
    let mut body = frame_message(b"first").to_vec();
    body.extend_from_slice(&frame_message(&[1; 40]));
    let mut b = Vec::new();
    put_headers(
        &mut b,
        1,
        &block(&[(b":status", b"200"), (b"content-type", b"application/grpc")]),
        false,
        16_384,
    );
    // The two messages split over three DATA frames, mid-prefix.
    put_data(&mut b, 1, &body[..3], false);
    put_data(&mut b, 1, &body[3..20], false);
    put_data(&mut b, 1, &body[20..], false);
    put_headers(
        &mut b,
        1,
        &block(&[(b"grpc-status", b"14"), (b"grpc-message", b"caf%C3%A9")]),
        true,
        16_384,
    );
    assert_eq!(c.receive(&b), Ok(b.len()));
    let slot = &c.slots[s];
    assert_eq!(slot.outcome, Some(Outcome::Done));
    assert_eq!(slot.status, 200);
    assert_eq!(slot.deframer.messages, 2);
    assert_eq!(slot.grpc_status, Some(14));
    assert_eq!(
        goto_engine::grpc::decode_message(&slot.grpc_message),
        "café"
    );
}

#[test]
fn a_trailers_only_response_carries_the_status() {
    let mut c = grpc_conn();
    let s = c.open(&[0x82], false);
    let mut b = Vec::new();
    put_headers(
        &mut b,
        1,
        &block(&[(b":status", b"200"), (b"grpc-status", b"5")]),
        true,
        16_384,
    );
    assert_eq!(c.receive(&b), Ok(b.len()));
    let slot = &c.slots[s];
    assert_eq!(slot.outcome, Some(Outcome::Done));
    assert_eq!(slot.grpc_status, Some(5));
    assert_eq!(slot.deframer.messages, 0);
}

#[test]
fn plain_http2_ignores_grpc_fields() {
    let mut c = Conn::new(Vec::new());
    let s = c.open(&[0x82], true);
    let mut b = Vec::new();
    put_headers(&mut b, 1, &block(&[(b":status", b"200")]), false, 16_384);
    put_data(&mut b, 1, &frame_message(b"x"), false);
    put_headers(&mut b, 1, &block(&[(b"grpc-status", b"0")]), true, 16_384);
    assert_eq!(c.receive(&b), Ok(b.len()));
    let slot = &c.slots[s];
    assert_eq!(slot.outcome, Some(Outcome::Done));
    assert_eq!(slot.grpc_status, None);
    assert_eq!(slot.deframer.messages, 0);
}
