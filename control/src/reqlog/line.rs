//! Formats one request-log line, text or JSON, straight into the log's
//! buffer (no allocation per line: this runs for every runtime request).

use std::fmt::Write as _;
use std::time::SystemTime;

use http::HeaderMap;

use super::Entry;
use crate::textfmt::{header_text, push_millis, push_u64, version_text};
use crate::timefmt::write_rfc3339;

/// `2026-11-30T23:30:01.123456Z [8080] 127.0.0.1:5555 GET /x HTTP/1.1 {h: v}
/// 0.412ms 27B -> 200`; a given-up request ends `2001.0ms client gave up -> 499`.
pub fn text_line(s: &mut String, now: SystemTime, e: &Entry<'_>) {
    write_rfc3339(s, now);
    let p = e.parts;
    s.push_str(" [");
    push_u64(s, u64::from(e.port));
    s.push_str("] ");
    s.push_str(e.remote);
    s.push(' ');
    s.push_str(p.method.as_str());
    s.push(' ');
    push_uri(s, &p.uri);
    s.push(' ');
    s.push_str(version_text(p.version));
    s.push_str(" {");
    for (i, (k, v)) in p.headers.iter().enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        s.push_str(k.as_str());
        s.push_str(": ");
        push_escaped(s, &header_text(v));
    }
    // The status stays last (`-> 200`), as before duration and bytes came.
    s.push_str("} ");
    push_millis(s, e.duration);
    s.push_str("ms");
    if let Some(b) = e.bytes {
        s.push(' ');
        push_u64(s, b);
        s.push('B');
    }
    if e.aborted {
        s.push_str(" client gave up");
    }
    if let Some(g) = e.grpc_status {
        s.push_str(" grpc-status ");
        push_u64(s, u64::from(g));
    }
    s.push_str(" -> ");
    push_u64(s, u64::from(e.status));
}

/// The URI as its `Display` writes it; an origin-form one (the usual case)
/// without going through `core::fmt`.
fn push_uri(s: &mut String, uri: &http::Uri) {
    if uri.scheme().is_some() || uri.authority().is_some() {
        let _ = write!(s, "{uri}");
        return;
    }
    s.push_str(uri.path());
    if let Some(q) = uri.query() {
        s.push('?');
        s.push_str(q);
    }
}

/// Appends `v` with control characters escaped, so a header value cannot
/// forge or break a text log line.
fn push_escaped(s: &mut String, v: &str) {
    // Control characters are U+0000-001F and U+007F-009F; the last ones
    // start with byte 0xC2 in UTF-8, so a byte scan finds every candidate.
    if !v.bytes().any(|b| b < 0x20 || b == 0x7f || b == 0xc2) {
        s.push_str(v);
        return;
    }
    for c in v.chars() {
        if c.is_control() {
            let _ = write!(s, "{}", c.escape_default());
        } else {
            s.push(c);
        }
    }
}

/// One JSON object: time, port, remote, method, uri, protocol, headers,
/// status, durationMs, bytes (when known), aborted (when true).
pub fn json_line(s: &mut String, now: SystemTime, e: &Entry<'_>) {
    let p = e.parts;
    s.push_str("{\"time\":\"");
    write_rfc3339(s, now);
    s.push_str("\",\"port\":");
    push_u64(s, u64::from(e.port));
    s.push_str(",\"remote\":\"");
    s.push_str(e.remote);
    s.push('"');
    s.push_str(",\"method\":");
    json_str(s, p.method.as_str());
    s.push_str(",\"uri\":");
    json_uri(s, &p.uri);
    s.push_str(",\"protocol\":\"");
    s.push_str(version_text(p.version));
    s.push('"');
    s.push_str(",\"headers\":");
    json_headers(s, &p.headers);
    s.push_str(",\"status\":");
    push_u64(s, u64::from(e.status));
    s.push_str(",\"durationMs\":");
    push_millis(s, e.duration);
    if let Some(b) = e.bytes {
        s.push_str(",\"bytes\":");
        push_u64(s, b);
    }
    if e.aborted {
        s.push_str(",\"aborted\":true");
    }
    if let Some(g) = e.grpc_status {
        s.push_str(",\"grpcStatus\":");
        push_u64(s, u64::from(g));
    }
    s.push('}');
}

/// Headers as an object; repeated names are joined with ", " as in the echo.
fn json_headers(s: &mut String, h: &HeaderMap) {
    s.push('{');
    for (i, k) in h.keys().enumerate() {
        if i > 0 {
            s.push(',');
        }
        json_str(s, k.as_str());
        s.push_str(":\"");
        for (j, v) in h.get_all(k).iter().enumerate() {
            if j > 0 {
                s.push_str(", ");
            }
            escape_into(s, &header_text(v));
        }
        s.push('"');
    }
    s.push('}');
}

/// The URI as a JSON string (formatted, then escaped).
fn json_uri(s: &mut String, v: &http::Uri) {
    s.push('"');
    let start = s.len();
    push_uri(s, v);
    if s[start..].bytes().any(needs_escape) {
        let raw = s.split_off(start);
        escape_into(s, &raw);
    }
    s.push('"');
}

fn json_str(s: &mut String, v: &str) {
    s.push('"');
    escape_into(s, v);
    s.push('"');
}

fn needs_escape(b: u8) -> bool {
    b == b'"' || b == b'\\' || b < 0x20
}

fn escape_into(s: &mut String, v: &str) {
    for c in v.chars() {
        match c {
            '"' => s.push_str("\\\""),
            '\\' => s.push_str("\\\\"),
            '\n' => s.push_str("\\n"),
            '\r' => s.push_str("\\r"),
            '\t' => s.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(s, "\\u{:04x}", c as u32);
            }
            c => s.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    fn parts() -> http::request::Parts {
        let (p, _) = http::Request::builder()
            .method("POST")
            .uri("/a%22b?x=1")
            .header("x-q", "say \"hi\"\\")
            .header("x-m", "1")
            .header("x-m", "2")
            .body(())
            .unwrap()
            .into_parts();
        p
    }

    #[test]
    fn json_line_parses_and_escapes() {
        let p = parts();
        let e = Entry {
            port: 8080,
            remote: "127.0.0.1:5555",
            parts: &p,
            status: 499,
            duration: Duration::from_micros(1500),
            bytes: None,
            aborted: true,
            grpc_status: None,
        };
        let mut s = String::new();
        json_line(&mut s, UNIX_EPOCH + Duration::from_secs(86_400), &e);
        let v: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert_eq!(v["time"], "1970-01-02T00:00:00.000000Z");
        assert_eq!(v["uri"], "/a%22b?x=1");
        assert_eq!(v["headers"]["x-q"], "say \"hi\"\\");
        assert_eq!(v["headers"]["x-m"], "1, 2");
        assert_eq!(v["status"], 499);
        assert_eq!(v["durationMs"], 1.5);
        assert_eq!(v["aborted"], true);
        assert!(v.get("bytes").is_none());
    }

    #[test]
    fn text_line_escapes_every_control_character() {
        for v in [
            "plain",
            "tab\there",
            "del\u{7f}",
            "c1\u{85}x",
            "latin é",
            "nl\n",
        ] {
            let mut fast = String::new();
            push_escaped(&mut fast, v);
            let slow: String = v
                .chars()
                .map(|c| {
                    if c.is_control() {
                        c.escape_default().to_string()
                    } else {
                        c.to_string()
                    }
                })
                .collect();
            assert_eq!(fast, slow, "{v:?}");
        }
    }

    #[test]
    fn text_line_has_time_status_duration_bytes() {
        let p = parts();
        let e = Entry {
            port: 8080,
            remote: "[::1]:80",
            parts: &p,
            status: 200,
            duration: Duration::from_millis(2),
            bytes: Some(27),
            aborted: false,
            grpc_status: None,
        };
        let mut s = String::new();
        text_line(&mut s, UNIX_EPOCH, &e);
        assert!(
            s.starts_with("1970-01-01T00:00:00.000000Z [8080] [::1]:80 POST "),
            "{s}"
        );
        assert!(s.ends_with("} 2.000ms 27B -> 200"), "{s}");
    }
}
