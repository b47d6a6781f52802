//! `goto load`'s duration flags: the one Go-duration parser the API uses
//! (`goto_control::duration`), plus wrk's habit of a bare number as seconds.

use std::time::Duration;

/// Parses Go-style durations (`1h2m3.5s`, `300ms`, `10us`, `10µs`, `0`)
/// with the API's parser; a bare number is seconds (as wrk's `-d 10`).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    if let Ok(secs) = t.parse::<f64>() {
        return Duration::try_from_secs_f64(secs)
            .map_err(|_| format!("invalid duration {t:?} (try 10s, 1m30s, 500ms)"));
    }
    goto_control::duration::parse(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("1.5h"), Ok(Duration::from_secs(5400)));
        assert!(parse_duration("10x").is_err());
        assert!(parse_duration("").is_err());
        assert!(parse_duration("-1s").is_err());
        // The API's units, the Greek mu included.
        assert_eq!(parse_duration("10\u{3bc}s"), Ok(Duration::from_micros(10)));
    }
}
