//! Extractors: the one parser for each kind of admin input (Y/N flags,
//! comma lists, header names, status codes, durations, JSON bodies), each
//! failing with a one-line 400 reason.

use std::time::Duration;

use http::HeaderName;

use super::table::Req;
use crate::error::ApiError;

/// Decodes `%XX` escapes in a path segment (a `+` stays as it is: paths
/// use it literally; an invalid escape is kept as written).
pub fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

/// Decodes a query key or value the way Go's `url.ParseQuery` (the original
/// goto's) does: `+` is a space, then `%XX` escapes.
pub fn query_decode(s: &str) -> String {
    if s.contains('+') {
        percent_decode(&s.replace('+', " "))
    } else {
        percent_decode(s)
    }
}

/// Splits a comma-separated list (`t1,t2`), dropping empty items.
pub fn list(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(str::to_string)
        .collect()
}

/// A comma list that must name something: `what` says what, in the 400.
pub fn names(s: &str, what: &str) -> Result<Vec<String>, ApiError> {
    let l = list(s);
    if l.is_empty() {
        return Err(ApiError::bad(format!("no {what} given")));
    }
    Ok(l)
}

/// A Y/N flag (`Y`, `y`, `true`, `1` / `N`, `n`, `false`, `0`).
pub fn parse_flag(v: &str, what: &str) -> Result<bool, ApiError> {
    match v {
        "Y" | "y" | "true" | "1" => Ok(true),
        "N" | "n" | "false" | "0" => Ok(false),
        _ => Err(ApiError::bad(format!(
            "invalid {what} flag {v:?}: use Y or N"
        ))),
    }
}

/// One header name (an RFC 9110 token), lower-cased.
pub fn header_name(s: &str) -> Result<HeaderName, ApiError> {
    HeaderName::from_bytes(s.trim().as_bytes())
        .map_err(|_| ApiError::bad(format!("invalid header name {s:?}")))
}

/// A comma list of header names; every name valid, or a 400.
pub fn header_names(s: &str) -> Result<Vec<HeaderName>, ApiError> {
    names(s, "header names")?
        .iter()
        .map(|n| header_name(n))
        .collect()
}

/// A status code: 100-599 (or 0 where `allow_zero`).
pub fn status_code(s: &str, allow_zero: bool) -> Result<u16, ApiError> {
    match s.parse::<u16>() {
        Ok(0) if allow_zero => Ok(0),
        Ok(c) if (100..=599).contains(&c) => Ok(c),
        _ => Err(ApiError::bad(format!(
            "invalid status code {s:?}: must be 100-599{}",
            if allow_zero { " or 0 to reset" } else { "" }
        ))),
    }
}

/// A Go-syntax duration (`200ms`, `1m30s`, `10µs`; as in Go, a number
/// needs a unit, except `0`).
pub fn duration(s: &str) -> Result<Duration, ApiError> {
    goto_engine::duration::parse(s).map_err(ApiError::BadRequest)
}

/// Removes shell line continuations (`\` + newline) that the seed's
/// multi-line curl commands leave inside JSON bodies. A valid JSON document
/// never holds a backslash before a raw newline, so this cannot change one.
fn strip_continuations(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len());
    let mut i = 0;
    while i < body.len() {
        let rest = &body[i..];
        if rest.starts_with(b"\\\r\n") {
            i += 3;
        } else if rest.starts_with(b"\\\n") {
            i += 2;
        } else {
            out.push(body[i]);
            i += 1;
        }
    }
    out
}

impl Req<'_> {
    /// A query parameter, percent-decoded.
    pub fn query(&self, name: &str) -> Option<String> {
        self.query?.split('&').find_map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (query_decode(k) == name).then(|| query_decode(v))
        })
    }

    /// A required query parameter.
    pub fn query_required(&self, name: &str) -> Result<String, ApiError> {
        self.query(name)
            .ok_or_else(|| ApiError::bad(format!("missing query parameter {name}")))
    }

    /// `?name=Y|N`: `None` when absent.
    pub fn query_flag(&self, name: &str) -> Result<Option<bool>, ApiError> {
        self.query(name).map(|v| parse_flag(&v, name)).transpose()
    }

    /// The body as JSON (the seed's line continuations tolerated).
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, ApiError> {
        if self.body.iter().all(u8::is_ascii_whitespace) {
            return Err(ApiError::bad("missing JSON body"));
        }
        match serde_json::from_slice(self.body) {
            Ok(v) => Ok(v),
            Err(e) => {
                let err = || match super::fields::unknown_field(&e.to_string()) {
                    Some(hint) => ApiError::bad(hint),
                    None => ApiError::bad(format!("invalid JSON body: {e}")),
                };
                if self.body.windows(2).any(|w| w == b"\\\n" || w == b"\\\r") {
                    serde_json::from_slice(&strip_continuations(self.body)).map_err(|_| err())
                } else {
                    Err(err())
                }
            }
        }
    }

    /// Content-Type of the call, for payloads (a form's default is plain text).
    pub fn content_type(&self) -> String {
        self.headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty() && *v != "application/x-www-form-urlencoded")
            .unwrap_or("text/plain")
            .to_string()
    }

    /// The `{name}` parameter as a port (1-65535).
    pub fn port_param(&self, name: &str) -> Result<u16, ApiError> {
        let v = self.param(name);
        v.parse::<u16>()
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| ApiError::bad(format!("invalid port {v:?}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_percent_escapes() {
        assert_eq!(percent_decode("a%20b"), "a b");
        assert_eq!(percent_decode("%2Ffoo%7Bx%7D"), "/foo{x}");
        assert_eq!(percent_decode("bad%2"), "bad%2");
        assert_eq!(percent_decode("%"), "%");
        assert_eq!(percent_decode("a+b"), "a+b");
        assert_eq!(query_decode("a+b%2Bc"), "a b+c");
    }

    #[test]
    fn finds_query_params() {
        let (m, h, b) = (
            http::Method::GET,
            http::HeaderMap::new(),
            bytes::Bytes::new(),
        );
        let mut r = Req::new(&m, &h, &b);
        r.query = Some("uri=/a%2Fb&x=1&f=N");
        assert_eq!(r.query("uri").as_deref(), Some("/a/b"));
        assert_eq!(r.query("nope"), None);
        assert_eq!(r.query_flag("f").unwrap(), Some(false));
        assert!(r.query_flag("x").is_ok());
        r.query = Some("f=maybe");
        assert!(r.query_flag("f").is_err());
    }

    #[test]
    fn lists_flags_and_names() {
        assert_eq!(list(" a,,b "), ["a", "b"]);
        assert!(names(",", "targets").is_err());
        assert!(parse_flag("Y", "x").unwrap());
        assert!(parse_flag("yes", "x").is_err());
        assert_eq!(header_names("X-A,b").unwrap()[0].as_str(), "x-a");
        assert!(header_names("bad name").is_err());
        assert_eq!(status_code("0", true).unwrap(), 0);
        assert!(status_code("0", false).is_err());
        assert!(status_code("600", false).is_err());
    }

    #[test]
    fn json_bodies_tolerate_line_continuations() {
        let (m, h) = (http::Method::POST, http::HeaderMap::new());
        let b = bytes::Bytes::from_static(b"{\"a\": \\\n 1}");
        let v: serde_json::Value = Req::new(&m, &h, &b).json().unwrap();
        assert_eq!(v["a"], 1);
        let empty = bytes::Bytes::new();
        assert!(Req::new(&m, &h, &empty)
            .json::<serde_json::Value>()
            .is_err());
    }
}
