//! Criterion benches of the merge a snapshot does: every core's counters for
//! a target folded into one [`TargetStats`]. The merge is off the request
//! path, but the control plane snapshots live runs every second or so, and
//! its cost grows with tracked header values and histogram spread. Also the
//! one histogram write each response costs on the request path.
//!
//! Run with `cargo bench --bench stats_merge`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use goto_engine::stats::TargetStats;
use goto_engine::ErrorKind;

/// One core's counters after a busy run: `requests` latencies spread over
/// 100 us..100 ms, a few status codes and errors, and `values` distinct
/// values of one tracked header.
fn core_stats(seed: u64, requests: u64, values: usize) -> TargetStats {
    let mut s = TargetStats::new();
    let mut x = seed | 1;
    for _ in 0..requests {
        // xorshift: a spread of latencies without a rand dependency.
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let us = 100 + x % 100_000;
        s.latency.saturating_record(us);
        s.latency_uncorrected.saturating_record(us);
    }
    s.requests = requests;
    s.status_counts.insert(200, requests - 20);
    s.status_counts.insert(503, 10);
    s.status_counts.insert(0, 10);
    s.errors.insert(ErrorKind::Timeout, 10);
    s.header_counts.insert("via-goto".into(), requests);
    let per = (requests / values.max(1) as u64).max(1);
    let hv = s.header_value_counts.entry("via-goto".into()).or_default();
    for v in 0..values {
        hv.insert(format!("server-{v}"), per);
    }
    s.bytes_read = requests * 120;
    s.bytes_written = requests * 40;
    s
}

fn merge(c: &mut Criterion) {
    let mut group = c.benchmark_group("stats_merge");
    for (cores, values) in [(1, 1), (2, 10), (8, 10), (8, 1000)] {
        let parts: Vec<TargetStats> = (0..cores)
            .map(|i| core_stats(0x9e37_79b9 + i as u64, 100_000, values))
            .collect();
        group.throughput(Throughput::Elements(cores as u64));
        group.bench_with_input(
            BenchmarkId::new(format!("{cores}_cores"), format!("{values}_values")),
            &parts,
            |b, parts| {
                b.iter(|| {
                    let mut merged = TargetStats::new();
                    for p in parts {
                        merged.merge(black_box(p));
                    }
                    black_box(merged.latency.value_at_quantile(0.99))
                })
            },
        );
    }
    group.finish();
}

fn record(c: &mut Criterion) {
    let mut h = goto_engine::stats::latency_histogram();
    let mut us = 100u64;
    c.bench_function("record_latency_hdr", |b| {
        b.iter(|| {
            us = if us > 100_000 { 100 } else { us + 37 };
            h.saturating_record(black_box(us));
        })
    });
}

criterion_group!(benches, merge, record);
criterion_main!(benches);
