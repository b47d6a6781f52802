//! The fuzz harness bodies (fuzz/src/harness.rs, the same file cargo-fuzz
//! runs on nightly) driven on stable by proptest: arbitrary bytes plus
//! mutations of realistic inputs, a few hundred cases per parser, so CI
//! checks every invariant the fuzzers check in a few seconds. Regression
//! inputs found by fuzzing are fixed cases at the end, named after the bug.

#[allow(dead_code)]
#[path = "../fuzz/src/harness.rs"]
mod harness;

use proptest::prelude::*;

/// Realistic starting points for each parser; proptest splices arbitrary
/// bytes into them so cases reach past the first validity check.
const RESPONSES: &[&[u8]] = &[
    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nVia-Goto: a\r\n\r\nok",
    b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 503 X\r\nTransfer-Encoding: chunked\r\nX-A: 1\r\n\r\n2\r\nab\r\n0\r\n\r\n",
    b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\nuntil close",
    b"HTTP/1.1 204 No Content\r\nContent-Length: 9\r\n\r\nHTTP/1.1 304 N\r\n\r\n",
];
const CHUNKED: &[&[u8]] = &[
    b"4;ext=1\r\nWiki\r\nA\r\n0123456789\r\n0\r\nX-T: 1\r\n\r\n",
    b"0\r\n\r\n",
];
/// HTTP/2 server bytes (the first byte is the read split): SETTINGS, a
/// head with a field it indexes and a body; a head reusing that index, a
/// reset, PING, WINDOW_UPDATE and GOAWAY; RFC 7541 C.6.1's Huffman block
/// over HEADERS + CONTINUATION with a padded DATA frame (fuzz/seeds/h2_frames).
const H2_FRAMES: &[&[u8]] = &[
    &[
        20, 0, 0, 12, 4, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 100, 0, 4, 0, 1, 0, 0, 0, 0, 8, 1, 4, 0, 0,
        0, 1, 136, 64, 3, 120, 45, 97, 1, 49, 0, 0, 2, 0, 1, 0, 0, 0, 1, 111, 107,
    ],
    &[
        9, 0, 0, 2, 1, 5, 0, 0, 0, 3, 137, 190, 0, 0, 4, 3, 0, 0, 0, 0, 5, 0, 0, 0, 8, 0, 0, 8, 6,
        0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 0, 0, 4, 8, 0, 0, 0, 0, 0, 0, 0, 16, 0, 0, 0, 8, 7,
        0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0,
    ],
    &[
        30, 0, 0, 12, 4, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 100, 0, 4, 0, 1, 0, 0, 0, 0, 20, 1, 0, 0, 0,
        0, 5, 72, 130, 100, 2, 88, 133, 174, 195, 119, 26, 75, 97, 150, 208, 122, 190, 148, 16, 84,
        212, 0, 0, 34, 9, 4, 0, 0, 0, 5, 68, 168, 32, 5, 149, 4, 11, 129, 102, 224, 130, 166, 45,
        27, 255, 110, 145, 157, 41, 173, 23, 24, 99, 199, 143, 11, 151, 200, 233, 174, 130, 174,
        67, 211, 0, 0, 7, 0, 9, 0, 0, 0, 5, 2, 98, 111, 100, 121, 0, 0,
    ],
];
const URLS: &[&str] = &[
    "http://127.0.0.1:8080/a/b?x=1#frag",
    "https://[::1]:9/?q",
    "HTTP://h?x",
    "http://a:1",
];
const DURATIONS: &[&str] = &["200ms", "1m30s", "1.5h", "10µs", "0.000000003s", "0"];
const CLIENT_TARGETS: &[&str] = &[
    r#"{"name":"t1","method":"GET","url":"http://127.0.0.1:8081/echo","headers":[["x","y"]],"replicas":2,"requestCount":3,"delay":"10ms","retries":1,"retriableStatusCodes":[502],"keepOpen":"1s"}"#,
    r#"{"name":"t2","method":"POST","url":"http://[::1]:1/","body":"b","protocol":"HTTP/2.0","rate":5,"duration":"1s","sendID":true}"#,
];
const PROXY_TARGETS: &[&str] = &[
    "{\"name\":\"p\",\"url\":\"http://127.0.0.1:8081/base\",\"replaceURI\":\"/x/{v}\",\"addQuery\":{\"q\":\"{v}\"},\"match\":{\"uris\":[\"/a/{v}\"],\"headers\":[[\"x-a\",\"{h}\"]],\"query\":[[\"k\",\"{w}\"]]}}\u{0}/a/b/c?k=1&x=2",
    "{\"name\":\"q\",\"url\":\"https://h:1\",\"match\":{\"uris\":[\"/\"]},\"removeQuery\":[\"x\"],\"sendID\":true}\u{0}/z?x=1",
];
const JOBS: &[&str] = &[
    r#"{"id":"j","task":{"method":"GET","url":"http://127.0.0.1:1/x","headers":[["a","b"]],"replicas":2,"requestCount":2,"parseJSON":true},"count":3,"delay":"10ms","timeout":"1s"}"#,
    r#"{"id":"c","task":{"cmd":"echo","args":["hi"],"outputMarkers":{"m":1},"outputSeparator":" "},"auto":true}"#,
];

/// A seed with an arbitrary byte string written over it at some place.
fn mutated(seeds: &'static [&'static [u8]]) -> impl Strategy<Value = Vec<u8>> {
    (
        prop::sample::select(seeds),
        any::<prop::sample::Index>(),
        prop::collection::vec(any::<u8>(), 0..8),
        any::<bool>(),
    )
        .prop_map(|(seed, at, bytes, overwrite)| {
            let mut v = seed.to_vec();
            let at = at.index(v.len() + 1);
            if overwrite {
                let end = (at + bytes.len()).min(v.len());
                v.splice(at..end, bytes);
            } else {
                v.splice(at..at, bytes);
            }
            v
        })
}

fn as_bytes(seeds: &'static [&'static str]) -> &'static [&'static [u8]] {
    Box::leak(
        seeds
            .iter()
            .map(|s| s.as_bytes())
            .collect::<Vec<_>>()
            .into_boxed_slice(),
    )
}

/// Arbitrary bytes half the time, a mutated seed the other half.
fn input(seeds: &'static [&'static [u8]]) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![prop::collection::vec(any::<u8>(), 0..300), mutated(seeds)]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn response_reader(ctl in any::<u8>(), body in input(RESPONSES)) {
        let mut data = vec![ctl];
        data.extend_from_slice(&body);
        harness::response(&data);
    }

    #[test]
    fn h2_frames_and_hpack(data in input(H2_FRAMES)) {
        harness::h2_frames(&data);
    }

    #[test]
    fn chunked_decoder(data in input(CHUNKED)) {
        harness::chunked(&data);
    }

    #[test]
    fn url_parser(data in input(as_bytes(URLS))) {
        harness::url(&data);
    }

    #[test]
    fn duration_parser(data in input(as_bytes(DURATIONS))) {
        harness::duration(&data);
    }

    #[test]
    fn client_target_json(data in input(as_bytes(CLIENT_TARGETS))) {
        harness::client_target(&data);
    }

    #[test]
    fn proxy_target_json(data in input(as_bytes(PROXY_TARGETS))) {
        harness::proxy_target(&data);
    }

    #[test]
    fn job_spec_json(data in input(as_bytes(JOBS))) {
        harness::job_spec(&data);
    }
}

#[test]
fn seeds_pass_every_harness() {
    for s in RESPONSES {
        harness::response(&[&[0u8][..], s].concat());
    }
    CHUNKED.iter().for_each(|s| harness::chunked(s));
    H2_FRAMES.iter().for_each(|s| harness::h2_frames(s));
    URLS.iter().for_each(|s| harness::url(s.as_bytes()));
    DURATIONS
        .iter()
        .for_each(|s| harness::duration(s.as_bytes()));
    CLIENT_TARGETS
        .iter()
        .for_each(|s| harness::client_target(s.as_bytes()));
    PROXY_TARGETS
        .iter()
        .for_each(|s| harness::proxy_target(s.as_bytes()));
    JOBS.iter().for_each(|s| harness::job_spec(s.as_bytes()));
}

/// A host with an unbracketed colon and bracket was accepted, then sent as a
/// Host header naming another host.
#[test]
fn url_with_unbracketed_colon_in_host_round_trips() {
    harness::url(b"http://a]:b:80/");
    harness::url(b"http://a:b:80/x");
}

/// Parsing through an f64 lost the last nanosecond.
#[test]
fn duration_with_nanosecond_fraction_round_trips() {
    harness::duration(b"1.000000007s");
    harness::duration(b"2h0.000000000001s");
}

/// Found by the duration fuzz target: 28 digits of hours overflowed.
#[test]
fn duration_with_huge_hours_is_refused_not_overflowed() {
    harness::duration(b"1222222222222222222222222205.h5?s");
    harness::duration(b"999999999999999999999999999999h");
}
