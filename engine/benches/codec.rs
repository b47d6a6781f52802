//! Micro-benchmarks of the hot path outside the kernel: response parsing,
//! chunked framing, request-id patching, counting, and the merge a snapshot
//! does. A plain timing loop (no bench framework); run with
//! `cargo bench -p goto-engine` and compare ns/op between commits.

use std::hint::black_box;
use std::time::{Duration, Instant};

use goto_engine::http1::request::{write_request_id, RequestTemplate};
use goto_engine::http1::url::Url;
use goto_engine::http1::ResponseReader;
use goto_engine::stats::TargetStats;

/// Runs `f` for about `budget` and prints ns per call (and MB/s for `bytes`).
fn bench(name: &str, bytes: usize, mut f: impl FnMut()) {
    let budget = Duration::from_millis(400);
    for _ in 0..1000 {
        f();
    }
    let mut iters = 0u64;
    let start = Instant::now();
    while start.elapsed() < budget {
        for _ in 0..1000 {
            f();
        }
        iters += 1000;
    }
    let ns = start.elapsed().as_nanos() as f64 / iters as f64;
    if bytes > 0 {
        println!(
            "{name:<40} {ns:>9.1} ns/op {:>9.0} MB/s",
            bytes as f64 / ns * 1e3
        );
    } else {
        println!("{name:<40} {ns:>9.1} ns/op");
    }
}

fn main() {
    let nginx: &[u8] = b"HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Sat, 28 Nov 2026 04:00:00 GMT\r\n\
        Content-Type: application/octet-stream\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok";
    let tracked: Vec<Box<[u8]>> = vec![b"via-goto".to_vec().into()];
    let mut reader = ResponseReader::new(false);
    bench("parse small response (no tracking)", nginx.len(), || {
        let step = reader.advance(black_box(nginx), &[], |_, _, _| {});
        black_box(step.ok());
    });
    let goto: &[u8] =
        b"HTTP/1.1 200 OK\r\nVia-Goto: Server-8080\r\nGoto-Host: pod-1@10.0.0.1:8080\r\n\
        Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";
    let mut hits = 0u64;
    bench("parse goto response (1 tracked header)", goto.len(), || {
        let step = reader.advance(black_box(goto), &tracked, |_, _, v| hits += v.len() as u64);
        black_box(step.ok());
    });
    black_box(hits);

    let mut chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for _ in 0..16 {
        chunked.extend_from_slice(b"400\r\n");
        chunked.extend_from_slice(&[b'x'; 0x400]);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    bench("parse 16 KiB chunked response", chunked.len(), || {
        let step = reader.advance(black_box(&chunked), &[], |_, _, _| {});
        black_box(step.ok());
    });

    let url = Url::parse("http://127.0.0.1:8080/p?a=1").unwrap_or_else(|e| panic!("{e}"));
    let template =
        RequestTemplate::build("GET", &url, &[], b"", true).unwrap_or_else(|e| panic!("{e}"));
    let mut req = template.bytes().to_vec();
    let offset = template.id_offset().unwrap_or(0);
    let mut n = 0u128;
    bench("patch request id (uuid v4)", 0, || {
        n = n.wrapping_add(0x9e37_79b9_7f4a_7c15);
        write_request_id(black_box(&mut req), offset, n);
    });

    let mut one = TargetStats::new();
    let mut h = goto_engine::stats::latency_histogram();
    bench("record latency (hdr histogram)", 0, || {
        h.saturating_record(black_box(1234));
    });
    for i in 0..10_000u64 {
        one.latency.saturating_record(100 + i);
        *one.status_counts.entry(200).or_insert(0) += 1;
    }
    one.header_value_counts
        .entry("via-goto".into())
        .or_default()
        .insert("Server-8080".into(), 10_000);
    let mut merged = TargetStats::new();
    bench("merge one core's TargetStats", 0, || {
        merged.merge(black_box(&one));
    });
}
