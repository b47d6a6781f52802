//! Criterion benches of the histogram encodings peers send to the registry
//! (`goto_control::histcodec`): the plain V2 encoding used for timeline
//! intervals, the deflated one used for results, and the registry's
//! decode-and-add per interval. Sizes are printed once per case.
//!
//! Run with `cargo bench --bench histcodec`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use goto_control::histcodec::{decode, encode, encode_plain};
use goto_engine::Histogram;

/// `n` latencies spread over `spread` microseconds above 200 us.
fn histogram(n: u64, spread: u64) -> Histogram<u64> {
    let mut h = goto_engine::stats::latency_histogram();
    let mut x: u64 = 12345;
    for _ in 0..n {
        // An LCG: a spread without a rand dependency.
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        h.saturating_record(200 + (x >> 33) % spread);
    }
    h
}

fn encodings(c: &mut Criterion) {
    let mut g = c.benchmark_group("histcodec");
    for (n, spread) in [(100u64, 2_000u64), (5_000, 5_000), (50_000, 50_000)] {
        let h = histogram(n, spread);
        let plain = encode_plain(&h).unwrap_or_default();
        let deflated = encode(&h).unwrap_or_default();
        eprintln!(
            "{n} samples over {spread} us: plain {} B, deflated {} B",
            plain.len(),
            deflated.len()
        );
        g.bench_with_input(BenchmarkId::new("encode_plain", n), &h, |b, h| {
            b.iter(|| encode_plain(black_box(h)))
        });
        g.bench_with_input(BenchmarkId::new("encode_deflate", n), &h, |b, h| {
            b.iter(|| encode(black_box(h)))
        });
        g.bench_with_input(BenchmarkId::new("decode_add", n), &plain, |b, p| {
            let mut acc = goto_engine::stats::latency_histogram();
            b.iter(|| {
                if let Ok(d) = decode(black_box(p)) {
                    acc.add(&d).ok();
                }
            })
        });
    }
    g.finish();
}

criterion_group!(benches, encodings);
criterion_main!(benches);
