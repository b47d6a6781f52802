//! The duration parser of `goto load`'s flags: the engine's one Go-syntax
//! parser, with a bare number meaning seconds (`-d 10`), and the flag type
//! that prints its default back the same way in `--help`.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

pub use goto_engine::duration::parse_or_seconds as parse_duration;

/// A duration flag with a default (`--timeout`, `--connect-timeout`): zero
/// allowed (it means none), shown in `--help` in Go syntax (`30s`), so the
/// default is written once, as a [`Duration`] constant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlagDuration(pub Duration);

impl FromStr for FlagDuration {
    type Err = String;

    fn from_str(s: &str) -> Result<FlagDuration, String> {
        parse_duration(s).map(FlagDuration)
    }
}

impl fmt::Display for FlagDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&goto_engine::duration::format(self.0))
    }
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
    }

    #[test]
    fn flag_durations_print_back_as_they_parse() {
        for d in [
            Duration::ZERO,
            Duration::from_secs(10),
            Duration::from_secs(90),
        ] {
            let shown = FlagDuration(d).to_string();
            assert_eq!(
                shown.parse::<FlagDuration>(),
                Ok(FlagDuration(d)),
                "{shown}"
            );
        }
        assert_eq!(FlagDuration(Duration::from_secs(30)).to_string(), "30s");
    }
}
