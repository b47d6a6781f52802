//! The Prometheus text exposition format (version 0.0.4), written by hand:
//! metric families with `# HELP`/`# TYPE`, labelled samples, and histograms
//! with fixed log-spaced buckets built from an HDR latency histogram at
//! scrape time. Pure: it only builds a `String`.

use std::fmt::Write as _;

use hdrhistogram::Histogram;

/// The `Content-Type` of the text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Latency bucket bounds in seconds: 1-2.5-5 steps from 100 µs to 60 s.
pub const LATENCY_BUCKETS: [f64; 18] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0, 30.0, 60.0,
];

/// The kind of a metric family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

/// An exposition being written. Samples of a family must follow its
/// [`Exposition::family`] line, as the format requires.
#[derive(Debug, Default)]
pub struct Exposition {
    out: String,
}

impl Exposition {
    pub fn new() -> Exposition {
        Exposition::default()
    }

    /// Starts a family: its HELP and TYPE lines.
    pub fn family(&mut self, name: &str, kind: Kind, help: &str) -> &mut Self {
        let kind = match kind {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        };
        let help = help.replace('\\', "\\\\").replace('\n', "\\n");
        let _ = writeln!(self.out, "# HELP {name} {help}");
        let _ = writeln!(self.out, "# TYPE {name} {kind}");
        self
    }

    /// One sample line.
    pub fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) -> &mut Self {
        self.out.push_str(name);
        write_labels(&mut self.out, labels, None);
        self.out.push(' ');
        write_value(&mut self.out, value);
        self.out.push('\n');
        self
    }

    /// The samples of one histogram series from an HDR histogram of
    /// microseconds: cumulative `_bucket`s over [`LATENCY_BUCKETS`] and
    /// `+Inf`, `_sum` (seconds) and `_count`.
    pub fn latency_histogram(
        &mut self,
        name: &str,
        labels: &[(&str, &str)],
        h: &Histogram<u64>,
    ) -> &mut Self {
        let bucket = format!("{name}_bucket");
        for le in LATENCY_BUCKETS {
            let le_us = (le * 1e6) as u64;
            let n = if h.is_empty() {
                0
            } else {
                h.count_between(0, le_us)
            };
            self.out.push_str(&bucket);
            let le_text = format_value(le);
            write_labels(&mut self.out, labels, Some(&le_text));
            let _ = writeln!(self.out, " {n}");
        }
        self.out.push_str(&bucket);
        write_labels(&mut self.out, labels, Some("+Inf"));
        let _ = writeln!(self.out, " {}", h.len());
        let sum = if h.is_empty() {
            0.0
        } else {
            h.mean() * h.len() as f64 / 1e6
        };
        self.sample(&format!("{name}_sum"), labels, sum);
        self.sample(&format!("{name}_count"), labels, h.len() as f64);
        self
    }

    /// The finished text.
    pub fn finish(self) -> String {
        self.out
    }
}

fn write_labels(out: &mut String, labels: &[(&str, &str)], le: Option<&str>) {
    if labels.is_empty() && le.is_none() {
        return;
    }
    out.push('{');
    let mut first = true;
    let all = labels.iter().copied().chain(le.map(|v| ("le", v)));
    for (k, v) in all {
        if !first {
            out.push(',');
        }
        first = false;
        out.push_str(k);
        out.push_str("=\"");
        for c in v.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '"' => out.push_str("\\\""),
                '\n' => out.push_str("\\n"),
                c => out.push(c),
            }
        }
        out.push('"');
    }
    out.push('}');
}

fn format_value(v: f64) -> String {
    let mut s = String::new();
    write_value(&mut s, v);
    s
}

fn write_value(out: &mut String, v: f64) {
    if v.is_nan() {
        out.push_str("NaN");
    } else if v.is_infinite() {
        out.push_str(if v > 0.0 { "+Inf" } else { "-Inf" });
    } else if v.fract() == 0.0 && v.abs() < 1e15 {
        let _ = write!(out, "{}", v as i64);
    } else {
        let _ = write!(out, "{v}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_families_samples_and_histograms() {
        let mut h = Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).unwrap();
        h.record(200).unwrap(); // 0.2 ms
        h.record(3_000).unwrap(); // 3 ms
        h.record(90_000_000).unwrap(); // 90 s: only +Inf
        let mut e = Exposition::new();
        e.family("goto_requests_total", Kind::Counter, "Requests.")
            .sample(
                "goto_requests_total",
                &[("port", "8080"), ("status", "200")],
                3.0,
            )
            .sample("goto_requests_total", &[("v", "a\"b\\c\nd")], 1.5);
        e.family("lat_seconds", Kind::Histogram, "Latency.")
            .latency_histogram("lat_seconds", &[("target", "t")], &h);
        let text = e.finish();
        assert!(text.contains("# TYPE goto_requests_total counter\n"));
        assert!(text.contains("goto_requests_total{port=\"8080\",status=\"200\"} 3\n"));
        assert!(text.contains("{v=\"a\\\"b\\\\c\\nd\"} 1.5\n"));
        assert!(text.contains("lat_seconds_bucket{target=\"t\",le=\"0.0001\"} 0\n"));
        assert!(text.contains("lat_seconds_bucket{target=\"t\",le=\"0.00025\"} 1\n"));
        assert!(text.contains("lat_seconds_bucket{target=\"t\",le=\"0.005\"} 2\n"));
        assert!(text.contains("lat_seconds_bucket{target=\"t\",le=\"60\"} 2\n"));
        assert!(text.contains("lat_seconds_bucket{target=\"t\",le=\"+Inf\"} 3\n"));
        assert!(text.contains("lat_seconds_count{target=\"t\"} 3\n"));
    }
}
