//! HPACK against RFC 7541's examples, bad blocks, and the encoder's round
//! trips through the decoder.

use super::decode::int;
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
