//! Frames parsed from and written to bytes, and the malformed ones refused.

use super::*;

fn one(buf: &[u8]) -> Frame<'_> {
    let (f, n) = parse(buf, DEFAULT_MAX_FRAME).unwrap().unwrap();
    assert_eq!(n, buf.len());
    f
}

#[test]
fn written_frames_parse_back() {
    let mut b = Vec::new();
    put_settings(&mut b, &[(SETTINGS_INITIAL_WINDOW_SIZE, 1 << 20)]);
    match one(&b) {
        Frame::Settings { ack: false, pairs } => {
            assert_eq!(
                settings(pairs).collect::<Vec<_>>(),
                [(SETTINGS_INITIAL_WINDOW_SIZE, 1 << 20)]
            );
        }
        f => panic!("{f:?}"),
    }
    for (write, want) in [
        (
            (|b: &mut Vec<u8>| put_window_update(b, 3, 77)) as fn(&mut Vec<u8>),
            Frame::WindowUpdate {
                stream: 3,
                increment: 77,
            },
        ),
        (
            |b| put_rst_stream(b, 5, CANCEL),
            Frame::RstStream {
                stream: 5,
                code: CANCEL,
            },
        ),
        (
            |b| put_goaway(b, 7, NO_ERROR),
            Frame::GoAway {
                last_stream: 7,
                code: NO_ERROR,
            },
        ),
        (
            |b| put_ping_ack(b, &[1, 2, 3, 4, 5, 6, 7, 8]),
            Frame::Ping {
                ack: true,
                data: [1, 2, 3, 4, 5, 6, 7, 8],
            },
        ),
        (
            |b| put_data(b, 9, b"hey", true),
            Frame::Data {
                stream: 9,
                data: b"hey",
                flow: 3,
                end: true,
            },
        ),
        (
            |b| put_settings_ack(b),
            Frame::Settings {
                ack: true,
                pairs: &[],
            },
        ),
    ] {
        let mut b = Vec::new();
        write(&mut b);
        assert_eq!(one(&b), want);
    }
}

#[test]
fn long_header_blocks_split_into_continuations() {
    let block: Vec<u8> = (0..40u8).collect();
    let mut b = Vec::new();
    put_headers(&mut b, 1, &block, true, 16);
    let mut at = 0;
    let mut got = Vec::new();
    let mut frames = Vec::new();
    while let Some((f, n)) = parse(&b[at..], 16).unwrap() {
        at += n;
        match f {
            Frame::Headers {
                block,
                end_stream,
                end_headers,
                ..
            } => {
                assert!(end_stream);
                got.extend_from_slice(block);
                frames.push(end_headers);
            }
            Frame::Continuation {
                block, end_headers, ..
            } => {
                got.extend_from_slice(block);
                frames.push(end_headers);
            }
            f => panic!("{f:?}"),
        }
    }
    assert_eq!(got, block);
    assert_eq!(frames, [false, false, true]);
}

#[test]
fn padding_priority_partial_and_bad_frames() {
    // HEADERS, PADDED + PRIORITY: pad length 2, 5 priority bytes, block, pad.
    let mut b = Vec::new();
    put_head(
        &mut b,
        1 + 5 + 3 + 2,
        HEADERS,
        PADDED | PRIORITY_FLAG | END_HEADERS,
        1,
    );
    b.extend_from_slice(&[2, 0, 0, 0, 0, 16, 0x88, 0x89, 0x8a, 0, 0]);
    assert_eq!(
        one(&b),
        Frame::Headers {
            stream: 1,
            block: &[0x88, 0x89, 0x8a],
            end_stream: false,
            end_headers: true
        }
    );
    assert_eq!(parse(&b[..5], 100), Ok(None));
    assert_eq!(parse(&b[..12], 100), Ok(None));
    // Padding longer than the payload.
    let mut b = Vec::new();
    put_head(&mut b, 2, DATA, PADDED, 1);
    b.extend_from_slice(&[5, 0]);
    assert_eq!(parse(&b, 100), Err(FrameError::Protocol));
    // DATA on stream 0, a short PING, an oversized frame.
    let mut b = Vec::new();
    put_data(&mut b, 0, b"x", false);
    assert_eq!(parse(&b, 100), Err(FrameError::Protocol));
    let mut b = Vec::new();
    put_head(&mut b, 3, PING, 0, 0);
    b.extend_from_slice(&[0; 3]);
    assert_eq!(parse(&b, 100), Err(FrameError::Size));
    assert_eq!(parse(&b, 2), Err(FrameError::TooLarge));
}
