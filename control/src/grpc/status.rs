//! gRPC status codes: the canonical names and numbers, parsed from the
//! admin API's `{code}` (a name such as `UNAVAILABLE` or a number such as
//! `14`) and written into `grpc-status` trailers.

/// The canonical names, indexed by code.
const NAMES: [&str; 17] = [
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
];

pub const OK: u8 = 0;
pub const CANCELLED: u8 = 1;
pub const UNKNOWN: u8 = 2;
pub const INVALID_ARGUMENT: u8 = 3;
pub const DEADLINE_EXCEEDED: u8 = 4;
pub const NOT_FOUND: u8 = 5;
pub const RESOURCE_EXHAUSTED: u8 = 8;
pub const UNIMPLEMENTED: u8 = 12;
pub const INTERNAL: u8 = 13;
pub const UNAVAILABLE: u8 = 14;

/// The canonical name of `code` (`"UNKNOWN"` past the table).
pub fn name(code: u8) -> &'static str {
    NAMES.get(usize::from(code)).copied().unwrap_or("UNKNOWN")
}

/// The decimal text of `code`, for trailers and counts without formatting.
pub fn text(code: u8) -> &'static str {
    const DIGITS: [&str; 17] = [
        "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13", "14", "15", "16",
    ];
    DIGITS.get(usize::from(code)).copied().unwrap_or("2")
}

/// `UNAVAILABLE`, `unavailable` or `14`.
pub fn parse(s: &str) -> Result<u8, super::GrpcError> {
    let s = s.trim();
    if let Ok(n) = s.parse::<u8>() {
        if usize::from(n) < NAMES.len() {
            return Ok(n);
        }
    }
    NAMES
        .iter()
        .position(|n| n.eq_ignore_ascii_case(s))
        .map(|i| i as u8)
        .ok_or_else(|| super::GrpcError::Status(s.to_string()))
}

/// A call's outcome other than OK: a code and a message for `grpc-message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub code: u8,
    pub message: String,
}

impl Status {
    pub fn new(code: u8, message: impl Into<String>) -> Status {
        Status {
            code,
            message: message.into(),
        }
    }
}

/// `grpc-message` is percent-encoded (the spec's reserved bytes and
/// anything outside printable ASCII).
pub fn encode_message(m: &str) -> String {
    let mut out = String::with_capacity(m.len());
    for b in m.bytes() {
        if (0x20..0x7f).contains(&b) && b != b'%' {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push_str(&format!("{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers_parse() {
        assert_eq!(parse("UNAVAILABLE").ok(), Some(14));
        assert_eq!(parse("unavailable").ok(), Some(14));
        assert_eq!(parse("14").ok(), Some(14));
        assert_eq!(parse("0").ok(), Some(0));
        assert!(parse("17").is_err());
        assert!(parse("NOPE").is_err());
        assert_eq!(name(4), "DEADLINE_EXCEEDED");
        assert_eq!(text(16), "16");
        assert_eq!(encode_message("a b%\n"), "a b%25%0A");
    }
}
