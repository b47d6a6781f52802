//! Criterion benches of the codec on the hot path, outside the kernel:
//! response parsing (with and without a tracked header), chunked framing and
//! request-id patching. Run with `cargo bench --bench codec`;
//! byte throughput is reported for the parsers.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use goto_engine::http1::request::{write_request_id, RequestTemplate};
use goto_engine::http1::url::Url;
use goto_engine::http1::ResponseReader;

const NGINX: &[u8] = b"HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Sat, 28 Nov 2026 04:00:00 GMT\r\n\
    Content-Type: application/octet-stream\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok";
const GOTO: &[u8] =
    b"HTTP/1.1 200 OK\r\nVia-Goto: Server-8080\r\nGoto-Host: pod-1@10.0.0.1:8080\r\n\
    Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";

fn parse(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse");
    let mut reader = ResponseReader::new(false);
    group.throughput(Throughput::Bytes(NGINX.len() as u64));
    group.bench_function("nginx_response_untracked", |b| {
        b.iter(|| black_box(reader.advance(black_box(NGINX), &[], |_, _, _| {}).ok()))
    });
    let tracked: Vec<Box<[u8]>> = vec![b"via-goto".to_vec().into()];
    let mut hits = 0u64;
    group.throughput(Throughput::Bytes(GOTO.len() as u64));
    group.bench_function("goto_response_one_tracked", |b| {
        b.iter(|| {
            let step = reader.advance(black_box(GOTO), &tracked, |_, _, v| {
                hits += v.len() as u64;
            });
            black_box(step.ok())
        })
    });
    black_box(hits);

    let mut chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for _ in 0..16 {
        chunked.extend_from_slice(b"400\r\n");
        chunked.extend_from_slice(&[b'x'; 0x400]);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    group.throughput(Throughput::Bytes(chunked.len() as u64));
    group.bench_function("chunked_16KiB", |b| {
        b.iter(|| black_box(reader.advance(black_box(&chunked), &[], |_, _, _| {}).ok()))
    });
    group.finish();
}

fn request_id(c: &mut Criterion) {
    let url = Url::parse("http://127.0.0.1:8080/p?a=1").unwrap_or_else(|e| panic!("{e}"));
    let template =
        RequestTemplate::build("GET", &url, &[], b"", true).unwrap_or_else(|e| panic!("{e}"));
    let mut req = template.bytes().to_vec();
    let offset = template.id_offset().unwrap_or(0);
    let mut n = 0u128;
    c.bench_function("patch_request_id_uuid_v4", |b| {
        b.iter(|| {
            n = n.wrapping_add(0x9e37_79b9_7f4a_7c15);
            write_request_id(black_box(&mut req), offset, n);
        })
    });
}

criterion_group!(benches, parse, request_id);
criterion_main!(benches);
