//! Text written on every request (the echo document, the request log):
//! integers, socket addresses, millisecond durations and JSON strings
//! appended straight to a buffer. `core::fmt` pays for padding and dynamic
//! dispatch on each argument: one `127.0.0.1:5555` through `Display` cost
//! ~1,600 instructions, more than hyper's parse of the whole request.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::time::Duration;

/// Appends `n` in decimal.
pub fn push_u64(s: &mut String, n: u64) {
    s.push_str(itoa::Buffer::new().format(n));
}

/// Appends `n` zero-padded to `width` digits (`n` must fit).
pub fn push_padded(s: &mut String, n: u64, width: u32) {
    let mut div = 10u64.pow(width.saturating_sub(1));
    while div > 0 {
        s.push((b'0' + ((n / div) % 10) as u8) as char);
        div /= 10;
    }
}

/// Appends `a` as `Display` writes it (`127.0.0.1:80`, `[::1]:80`).
pub fn push_socket_addr(s: &mut String, a: SocketAddr) {
    match a {
        SocketAddr::V4(v4) => {
            for (i, o) in v4.ip().octets().into_iter().enumerate() {
                if i > 0 {
                    s.push('.');
                }
                push_u64(s, u64::from(o));
            }
            s.push(':');
            push_u64(s, u64::from(v4.port()));
        }
        // IPv6 text has compression rules (and scope ids): std writes it.
        SocketAddr::V6(_) => {
            let _ = write!(s, "{a}");
        }
    }
}

/// Appends `d` in milliseconds with three decimals, rounded to the
/// microsecond (`1.500`), as `{:.3}` of the float would.
pub fn push_millis(s: &mut String, d: Duration) {
    let micros = (d.as_nanos() + 500) / 1000;
    push_u64(s, u64::try_from(micros / 1000).unwrap_or(u64::MAX));
    s.push('.');
    push_padded(s, (micros % 1000) as u64, 3);
}

/// The protocol's name as `http::Version`'s `Debug` writes it.
pub fn version_text(v: http::Version) -> &'static str {
    match v {
        http::Version::HTTP_09 => "HTTP/0.9",
        http::Version::HTTP_10 => "HTTP/1.0",
        http::Version::HTTP_2 => "HTTP/2.0",
        http::Version::HTTP_3 => "HTTP/3.0",
        _ => "HTTP/1.1",
    }
}

/// A header value as text: visible ASCII as is (the usual case, checked
/// faster than UTF-8), anything else decoded lossily.
pub fn header_text(v: &http::HeaderValue) -> Cow<'_, str> {
    match v.to_str() {
        Ok(t) => Cow::Borrowed(t),
        Err(_) => String::from_utf8_lossy(v.as_bytes()),
    }
}

/// The bytes a JSON string escapes: `"`, `\` and control characters.
static ESCAPED: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        t[b] = true;
        b += 1;
    }
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t
};

/// Appends `v` as a JSON string, byte for byte as `serde_json` writes it.
pub fn push_json_str(s: &mut String, v: &str) {
    if !v.bytes().any(|b| ESCAPED[usize::from(b)]) {
        s.reserve(v.len() + 2);
        s.push('"');
        s.push_str(v);
        s.push('"');
        return;
    }
    // Rare: let serde_json pick the escapes, so the output cannot differ.
    match serde_json::to_string(v) {
        Ok(quoted) => s.push_str(&quoted),
        Err(_) => s.push_str("\"\""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_addresses_and_millis_match_core_fmt() {
        for n in [0u64, 7, 10, 99, 65535, 1_000_000, u64::MAX] {
            let mut s = String::new();
            push_u64(&mut s, n);
            assert_eq!(s, n.to_string());
        }
        for a in [
            "127.0.0.1:5555",
            "0.0.0.0:0",
            "255.255.255.255:65535",
            "[::1]:80",
            "[fe80::1%2]:8",
        ] {
            let a: SocketAddr = a.parse().unwrap();
            let mut s = String::new();
            push_socket_addr(&mut s, a);
            assert_eq!(s, a.to_string());
        }
        for us in [0u64, 1, 999, 1000, 1500, 2_000_000, 123_456_789] {
            let d = Duration::from_micros(us);
            let mut s = String::new();
            push_millis(&mut s, d);
            assert_eq!(s, format!("{:.3}", d.as_secs_f64() * 1000.0));
        }
    }

    #[test]
    fn json_strings_match_serde_json() {
        for v in [
            "",
            "plain",
            "say \"hi\"",
            "back\\slash",
            "tab\there",
            "nl\n",
            "\u{1}\u{1f}",
            "é ✓ \u{7f}",
        ] {
            let mut s = String::new();
            push_json_str(&mut s, v);
            assert_eq!(s, serde_json::to_string(v).unwrap());
        }
    }
}
