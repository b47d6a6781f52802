//! The text report of `goto load`, in the layout of wrk and oha.

use goto_engine::{canonical_reason, Histogram, RunSnapshot, TargetStats};

use super::summary::{
    fell_behind, lag_row, latency_row, per_second, Counts, RunInfo, LATENCY_COLUMNS,
};

pub(super) fn text_report(info: &RunInfo<'_>, snap: &RunSnapshot, s: &TargetStats) -> String {
    use std::fmt::Write as _;
    let c = Counts::of(s);
    let mut o = String::new();
    let _ = writeln!(o, "goto load {}", info.url);
    match (info.urls.len(), info.url_groups) {
        (0 | 1, _) => {}
        (n, 1) => {
            let _ = writeln!(
                o,
                "  {n} URLs, each connection takes them in turn per request"
            );
        }
        (n, g) if g == n => {
            let _ = writeln!(o, "  {n} URLs, connections dealt round robin over them");
        }
        (n, g) => {
            let _ = writeln!(
                o,
                "  {n} URLs on {g} hosts: connections dealt over the hosts, \
                 each taking its host's URLs in turn per request"
            );
        }
    }
    if let Some(f) = &info.fatal {
        let _ = writeln!(o, "  NOT STARTED: {f}");
    }
    if let Some(sig) = info.interrupted {
        let _ = writeln!(
            o,
            "  INTERRUPTED by {sig}: the figures cover the run until then"
        );
    }
    if let Some(per) = info.http2 {
        let _ = writeln!(
            o,
            "  {} streams over {} connections on {} cores ({})",
            info.connections,
            info.connections.div_ceil(per),
            info.cores,
            info.io_driver
        );
    } else {
        let _ = writeln!(
            o,
            "  {} connections on {} cores ({})",
            info.connections, info.cores, info.io_driver
        );
    }
    if let Some(stages) = &info.stages {
        let _ = writeln!(
            o,
            "  {} stages over {:.3}s (latency from the scheduled send time)",
            stages.stages().len(),
            stages.total().as_secs_f64()
        );
    } else if let Some(rate) = info.rate {
        let _ = writeln!(
            o,
            "  rate {rate} requests/s (latency from the scheduled send time)"
        );
    }
    let _ = writeln!(o);
    let _ = writeln!(o, "  Requests:      {}", c.attempts);
    let _ = writeln!(o, "  Answered:      {}", c.answered);
    let _ = writeln!(o, "  Duration:      {:.3}s", snap.elapsed.as_secs_f64());
    let _ = writeln!(
        o,
        "  Requests/sec:  {:.2} (answered)",
        per_second(c.answered, snap.elapsed)
    );
    let _ = writeln!(
        o,
        "  Success rate:  {:.2}% ({}, of all requests sent)",
        c.success_rate * 100.0,
        if info.grpc {
            "gRPC status OK"
        } else {
            "status below 400"
        }
    );
    let _ = writeln!(o, "  Non-2xx:       {}", c.non_2xx);
    let _ = writeln!(o, "  Errors:        {}", c.errors);
    let _ = writeln!(
        o,
        "  In flight:     {} (at the end, not counted above)",
        s.in_flight
    );
    let _ = writeln!(o, "  Reconnects:    {}", s.reconnects);
    let _ = writeln!(
        o,
        "  Transfer:      {} read, {} written",
        human_bytes(s.bytes_read),
        human_bytes(s.bytes_written)
    );
    // wrk's name for it, which wrk users look for.
    let _ = writeln!(
        o,
        "  Transfer/sec:  {} read, {} written",
        human_bytes(per_second(s.bytes_read, snap.elapsed) as u64),
        human_bytes(per_second(s.bytes_written, snap.elapsed) as u64)
    );
    let _ = writeln!(o);
    // An empty histogram would print a row of 0.000, which reads as
    // instant answers; say plainly that there is nothing to measure.
    if s.latency.is_empty() {
        let _ = writeln!(o, "  Latency: no request was answered");
    } else {
        let _ = write!(o, "  {:<12}", "Latency (ms)");
        for name in LATENCY_COLUMNS {
            let _ = write!(o, " {name:>8}");
        }
        let _ = writeln!(o);
        let mut row = |label: &str, h: &Histogram<u64>| {
            let _ = write!(o, "  {label:<12}");
            for v in latency_row(h) {
                let _ = write!(o, " {v:>8.3}");
            }
            let _ = writeln!(o);
        };
        if info.paced() {
            row("corrected", &s.latency);
            row("uncorrected", &s.latency_uncorrected);
        } else {
            row("", &s.latency);
        }
    }
    // How late requests left against their schedule: shown under a rate,
    // or whenever a wait (a delay) made any request late.
    if info.paced() || (!s.schedule_lag.is_empty() && s.schedule_lag.max() > 0) {
        let [p50, p90, p99, max] = lag_row(&s.schedule_lag);
        let _ = writeln!(
            o,
            "  Schedule lag (ms)  p50 {p50:.3}  p90 {p90:.3}  p99 {p99:.3}  max {max:.3}"
        );
    }
    if let Some(warning) = fell_behind(info, snap.elapsed, s) {
        let _ = writeln!(o);
        let _ = writeln!(o, "  Warning: {warning}");
    }
    let _ = writeln!(o);
    let _ = writeln!(o, "  Status codes:");
    for (code, n) in &s.status_counts {
        let label = if *code == 0 {
            "0 (transport errors)".to_string()
        } else {
            format!("{code} {}", canonical_reason(*code))
        };
        let _ = writeln!(o, "    {label:<32} {n}");
    }
    if info.grpc {
        let _ = writeln!(o, "  gRPC status:");
        for (code, n) in &s.grpc_status_counts {
            let label = format!("{code} {}", goto_engine::grpc::status_name(*code));
            match s.grpc_messages.get(code) {
                Some(m) => {
                    let _ = writeln!(o, "    {label:<32} {n}  ({m})");
                }
                None => {
                    let _ = writeln!(o, "    {label:<32} {n}");
                }
            }
        }
        let _ = writeln!(
            o,
            "  Messages:      {} sent, {} received",
            s.messages_sent, s.messages_received
        );
        if let Some(h) = s.time_to_first_message.as_ref().filter(|h| !h.is_empty()) {
            let [p50, p90, p99, max] = lag_row(h);
            let _ = writeln!(
                o,
                "  First message (ms)  p50 {p50:.3}  p90 {p90:.3}  p99 {p99:.3}  max {max:.3}"
            );
        }
    }
    if !s.errors.is_empty() {
        let _ = writeln!(o, "  Errors:");
        for (kind, n) in &s.errors {
            let _ = writeln!(o, "    {:<32} {n}", kind.to_string());
        }
    }
    if !s.header_counts.is_empty() {
        let _ = writeln!(o, "  Tracked headers:");
        for (name, n) in &s.header_counts {
            let _ = writeln!(o, "    {name:<32} {n}");
            for (value, n) in s.header_value_counts.get(name).into_iter().flatten() {
                let _ = writeln!(o, "      {value:<30} {n}");
            }
        }
    }
    let _ = writeln!(o);
    let _ = writeln!(o, "  IO driver:     {}", info.io_driver);
    o
}

fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.2} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_sizes() {
        assert_eq!(human_bytes(10), "10 B");
        assert_eq!(human_bytes(1536), "1.50 KiB");
    }
}
