//! Go-syntax durations (`200ms`, `1m30s`, `10us`), the one parser shared by
//! the command line and the admin API, and Go's way of printing them.

use std::time::Duration;

/// Parses a Go duration: a sequence of decimal numbers with units `ns`,
/// `us` (also `µs`, `μs`), `ms`, `s`, `m`, `h`; `0` alone is allowed,
/// negative values are not. The admin API takes exactly this (as Go's
/// `time.ParseDuration` does: `10` without a unit is an error).
pub fn parse(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if s.is_empty() {
        return Err("empty duration".into());
    }
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    let bad = || format!("invalid duration {s:?} (use Go syntax like 200ms, 1s, 1m30s)");
    let digits = |t: &str| t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let mut rest = s;
    let mut total_ns: u128 = 0;
    // Integer arithmetic, exact to the nanosecond like Go's: through an f64,
    // `1.000000007s` came out 1,000,000,006 ns.
    while !rest.is_empty() {
        let n = digits(rest);
        let int = &rest[..n];
        rest = &rest[n..];
        let mut frac = "";
        if let Some(r) = rest.strip_prefix('.') {
            let n = digits(r);
            frac = &r[..n];
            rest = &r[n..];
        }
        if int.is_empty() && frac.is_empty() {
            return Err(bad());
        }
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit_ns: u128 = match &rest[..unit_len] {
            "ns" => 1,
            // ASCII, the micro sign (U+00B5) and the Greek mu (U+03BC).
            "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => return Err(bad()),
        };
        rest = &rest[unit_len..];
        // Longer than any u64 of nanoseconds: refused before parsing.
        if int.len() > 30 {
            return Err(bad());
        }
        let int: u128 = if int.is_empty() {
            0
        } else {
            int.parse().map_err(|_| bad())?
        };
        // 24 fraction digits are finer than a nanosecond of an hour.
        let frac = &frac[..frac.len().min(24)];
        let frac_ns = if frac.is_empty() {
            0
        } else {
            let f: u128 = frac.parse().map_err(|_| bad())?;
            f * unit_ns / 10u128.pow(frac.len() as u32)
        };
        // Checked: a long number of hours overflows even a u128.
        total_ns = int
            .checked_mul(unit_ns)
            .and_then(|n| n.checked_add(frac_ns))
            .and_then(|n| n.checked_add(total_ns))
            .filter(|t| *t <= u128::from(u64::MAX))
            .ok_or_else(bad)?;
    }
    u64::try_from(total_ns)
        .map(Duration::from_nanos)
        .map_err(|_| bad())
}

/// [`parse`], plus a bare number meaning seconds (`-d 10`): the command
/// line's shorthand.
pub fn parse_or_seconds(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return t
            .parse::<f64>()
            .ok()
            .and_then(|secs| Duration::try_from_secs_f64(secs).ok())
            .ok_or_else(|| format!("invalid duration {t:?} (try 10s, 1m30s, 500ms)"));
    }
    parse(s)
}

/// Formats a duration the way Go prints it (`1m30s`, `200ms`, `0s`).
pub fn format(d: Duration) -> String {
    let ns = d.as_nanos();
    if ns == 0 {
        return "0s".into();
    }
    if ns < 1_000 {
        return format!("{ns}ns");
    }
    if ns < 1_000_000 {
        return format!("{}\u{b5}s", trim_float(ns as f64 / 1e3));
    }
    if ns < 1_000_000_000 {
        return format!("{}ms", trim_float(ns as f64 / 1e6));
    }
    let mut out = String::new();
    let total_s = d.as_secs();
    let h = total_s / 3600;
    let m = (total_s % 3600) / 60;
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if h > 0 || m > 0 {
        out.push_str(&format!("{m}m"));
    }
    let secs = (total_s % 60) as f64 + f64::from(d.subsec_nanos()) / 1e9;
    out.push_str(&format!("{}s", trim_float(secs)));
    out
}

fn trim_float(v: f64) -> String {
    let s = format!("{v:.9}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_go_syntax() {
        assert_eq!(parse("200ms").unwrap(), Duration::from_millis(200));
        assert_eq!(parse("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse("10us").unwrap(), Duration::from_micros(10));
        assert_eq!(parse("10\u{b5}s").unwrap(), Duration::from_micros(10));
        assert_eq!(parse("10\u{3bc}s").unwrap(), Duration::from_micros(10));
        assert_eq!(parse("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse("0").unwrap(), Duration::ZERO);
        assert_eq!(parse("2h").unwrap(), Duration::from_secs(7200));
        assert_eq!(parse("1h2m3.5s").unwrap(), Duration::from_millis(3_723_500));
    }

    /// Broke the duration fuzz target's round trip: parsing through an f64
    /// made `1.000000007s` 1,000,000,006 ns, printed back as another value.
    #[test]
    fn fractions_are_exact_to_the_nanosecond() {
        assert_eq!(
            parse("1.000000007s").unwrap(),
            Duration::from_nanos(1_000_000_007)
        );
        assert_eq!(parse("0.000000003s").unwrap(), Duration::from_nanos(3));
        assert_eq!(
            parse("1.0000000019s").unwrap(),
            Duration::from_nanos(1_000_000_001)
        );
        assert_eq!(parse(".5s").unwrap(), Duration::from_millis(500));
        let d = parse("1.000000007s").unwrap();
        assert_eq!(parse(&format(d)).unwrap(), d);
    }

    /// Found by the duration fuzz target: 28 digits of hours overflowed the
    /// u128 product (a panic with overflow checks, a wrong value without).
    #[test]
    fn huge_counts_of_hours_are_refused_not_overflowed() {
        let input = format!("1{}05.h5s", "2".repeat(26));
        assert!(parse(&input).is_err());
        assert!(parse(&format!("{}h", "9".repeat(30))).is_err());
    }

    #[test]
    fn rejects_garbage() {
        for s in [
            "",
            "abc",
            "10",
            "1x",
            "-1s",
            "ms",
            "1s2",
            "1e400s",
            ".s",
            "1.5.5s",
            "99999999999999999999h",
            "1000000000000000000000000000000000ns",
        ] {
            assert!(parse(s).is_err(), "{s} should fail");
        }
    }

    #[test]
    fn bare_seconds_on_the_command_line() {
        assert_eq!(parse_or_seconds("10").unwrap(), Duration::from_secs(10));
        assert_eq!(
            parse_or_seconds("2.5").unwrap(),
            Duration::from_millis(2500)
        );
        assert_eq!(
            parse_or_seconds("10\u{3bc}s").unwrap(),
            Duration::from_micros(10)
        );
        for s in ["", "-1", "-1s", "1e400", "10x"] {
            assert!(parse_or_seconds(s).is_err(), "{s} should fail");
        }
    }

    #[test]
    fn formats_like_go() {
        assert_eq!(format(Duration::from_millis(200)), "200ms");
        assert_eq!(format(Duration::from_secs(90)), "1m30s");
        assert_eq!(format(Duration::from_secs(5)), "5s");
        assert_eq!(format(Duration::ZERO), "0s");
        assert_eq!(format(Duration::from_millis(1500)), "1.5s");
    }
}
