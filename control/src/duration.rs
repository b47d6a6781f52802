//! Go-syntax durations (`200ms`, `1m30s`, `10us`), as the API and target fields use them.

use std::time::Duration;

/// Parses a Go duration string. `0` alone is allowed; negative values are not.
/// Exact to the nanosecond (integer arithmetic, like Go): `1.000000007s` is
/// 1,000,000,007 ns; digits past the nanosecond are dropped.
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
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => return Err(bad()),
        };
        rest = &rest[unit_len..];
        // 30 integer digits times the largest unit still fits in a u128.
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
        total_ns = total_ns
            .checked_add(int * unit_ns + frac_ns)
            .filter(|t| *t <= u128::from(u64::MAX))
            .ok_or_else(bad)?;
    }
    u64::try_from(total_ns)
        .map(Duration::from_nanos)
        .map_err(|_| bad())
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
        return format!("{}µs", trim_float(ns as f64 / 1e3));
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
        assert_eq!(parse("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse("0").unwrap(), Duration::ZERO);
        assert_eq!(parse("2h").unwrap(), Duration::from_secs(7200));
        assert_eq!(parse(".5s").unwrap(), Duration::from_millis(500));
        assert_eq!(parse("1h0.5m").unwrap(), Duration::from_secs(3630));
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
        let d = parse("1.000000007s").unwrap();
        assert_eq!(parse(&format(d)).unwrap(), d);
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
    fn formats_like_go() {
        assert_eq!(format(Duration::from_millis(200)), "200ms");
        assert_eq!(format(Duration::from_secs(90)), "1m30s");
        assert_eq!(format(Duration::from_secs(5)), "5s");
        assert_eq!(format(Duration::ZERO), "0s");
        assert_eq!(format(Duration::from_millis(1500)), "1.5s");
    }
}
