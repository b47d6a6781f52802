//! RFC 3339 timestamps (UTC, microseconds) for JSON documents and the
//! request log, from the `time` crate's calendar.

use std::cell::RefCell;
use std::fmt::Write as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::textfmt::push_padded;

/// `2026-11-28T13:45:01.123456Z`; times before 1970 print as the epoch.
pub fn rfc3339(t: SystemTime) -> String {
    let mut s = String::with_capacity(27);
    write_rfc3339(&mut s, t);
    s
}

/// Appends [`rfc3339`] of `t` to `s` (no allocation: the request log's path).
/// The calendar part changes once a second, so each thread keeps the last
/// one it formatted and only writes the microseconds afresh.
pub fn write_rfc3339(s: &mut String, t: SystemTime) {
    let since = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    SECOND.with(|cache| {
        let mut cache = cache.borrow_mut();
        let (cached, text) = &mut *cache;
        if *cached != Some(secs) {
            text.clear();
            let d = time::OffsetDateTime::from(UNIX_EPOCH + Duration::from_secs(secs));
            let _ = write!(
                text,
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
                d.year(),
                u8::from(d.month()),
                d.day(),
                d.hour(),
                d.minute(),
                d.second(),
            );
            *cached = Some(secs);
        }
        s.push_str(text);
    });
    s.push('.');
    push_padded(s, u64::from(since.subsec_micros()), 6);
    s.push('Z');
}

thread_local! {
    /// The last second formatted on this thread, and its text.
    static SECOND: RefCell<(Option<u64>, String)> = const { RefCell::new((None, String::new())) };
}

/// Reads back what [`rfc3339`] wrote (`YYYY-MM-DDTHH:MM:SS[.frac]Z`, UTC);
/// `None` for anything else.
pub fn parse_rfc3339(s: &str) -> Option<SystemTime> {
    let s = s.strip_suffix('Z')?;
    let (date, clock) = s.split_once('T')?;
    let mut d = date.splitn(3, '-');
    let year: i32 = d.next()?.parse().ok()?;
    let month: u8 = d.next()?.parse().ok()?;
    let day: u8 = d.next()?.parse().ok()?;
    let (hms, frac) = clock.split_once('.').unwrap_or((clock, ""));
    let mut c = hms.splitn(3, ':');
    let hour: u8 = c.next()?.parse().ok()?;
    let minute: u8 = c.next()?.parse().ok()?;
    let second: u8 = c.next()?.parse().ok()?;
    // Up to microseconds; digits beyond are dropped.
    let digits: String = frac.chars().take(6).collect();
    if !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let micro: u32 = format!("{digits:0<6}").parse().ok()?;
    let date =
        time::Date::from_calendar_date(year, time::Month::try_from(month).ok()?, day).ok()?;
    let clock = time::Time::from_hms_micro(hour, minute, second, micro).ok()?;
    Some(
        time::PrimitiveDateTime::new(date, clock)
            .assume_utc()
            .into(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_instants() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000000Z");
        let t = UNIX_EPOCH + Duration::from_micros(1_795_873_501_123_456);
        assert_eq!(rfc3339(t), "2026-11-28T13:45:01.123456Z");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(&rfc3339(leap)[..10], "2000-02-29");
        // The same second again (from the cache), then the next one.
        assert_eq!(
            rfc3339(t + Duration::from_micros(9)),
            "2026-11-28T13:45:01.123465Z"
        );
        assert_eq!(
            rfc3339(t + Duration::from_secs(1)),
            "2026-11-28T13:45:02.123456Z"
        );
        for t in [UNIX_EPOCH, t, leap] {
            assert_eq!(parse_rfc3339(&rfc3339(t)), Some(t));
        }
        assert_eq!(
            parse_rfc3339("2026-11-28T13:45:01Z"),
            Some(UNIX_EPOCH + Duration::from_secs(1_795_873_501))
        );
        assert!(parse_rfc3339("2026-13-28T13:45:01Z").is_none());
        assert!(parse_rfc3339("yesterday").is_none());
    }
}
