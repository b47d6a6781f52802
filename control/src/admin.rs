//! The admin request context handed to every API area, and helpers for
//! reading its path, query and body.

use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, Method};

use crate::error::ApiError;
use crate::port::PortState;
use crate::App;

/// One admin API call, with its body already read (bounded).
pub struct Admin<'a> {
    pub app: &'a Arc<App>,
    pub port: &'a Arc<PortState>,
    pub method: &'a Method,
    pub segs: &'a [&'a str],
    pub query: Option<&'a str>,
    pub headers: &'a HeaderMap,
    pub body: &'a Bytes,
}

impl Admin<'_> {
    /// Mutations accept both PUT and POST.
    pub fn is_mutation(&self) -> bool {
        *self.method == Method::POST || *self.method == Method::PUT
    }

    pub fn is_get(&self) -> bool {
        *self.method == Method::GET || *self.method == Method::HEAD
    }

    /// A query parameter, percent-decoded.
    pub fn query_param(&self, name: &str) -> Option<String> {
        query_param(self.query, name)
    }

    /// The body parsed as JSON into `T`, with a one-line reason on failure.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, ApiError> {
        if self.body.iter().all(u8::is_ascii_whitespace) {
            return Err(ApiError::bad("missing JSON body"));
        }
        serde_json::from_slice(self.body)
            .map_err(|e| ApiError::bad(format!("invalid JSON body: {e}")))
    }

    /// Content-Type of the admin request, for payloads.
    pub fn content_type(&self) -> String {
        self.headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty() && *v != "application/x-www-form-urlencoded")
            .unwrap_or("text/plain")
            .to_string()
    }
}

pub fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    query?.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        (percent_decode(k) == name).then(|| percent_decode(v))
    })
}

/// Decodes `%XX` escapes (and `+` in queries is left alone: paths use it literally).
pub fn percent_decode(s: &str) -> String {
    if !s.contains('%') {
        return s.to_string();
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = |c: u8| (c as char).to_digit(16);
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Splits a comma-separated list (`t1,t2`), dropping empty items.
pub fn list(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(str::to_string)
        .collect()
}

/// Parses a status code: 100-599 (or 0 where `allow_zero`).
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_percent_escapes() {
        assert_eq!(percent_decode("a%20b"), "a b");
        assert_eq!(percent_decode("%2Ffoo%7Bx%7D"), "/foo{x}");
        assert_eq!(percent_decode("bad%2"), "bad%2");
        assert_eq!(percent_decode("%"), "%");
    }

    #[test]
    fn finds_query_params() {
        assert_eq!(
            query_param(Some("uri=/a%2Fb&x=1"), "uri").as_deref(),
            Some("/a/b")
        );
        assert_eq!(query_param(Some("x=1"), "uri"), None);
    }
}
