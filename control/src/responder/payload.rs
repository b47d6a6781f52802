//! Configured response payloads and their precedence: URI match (with
//! `{placeholders}` filled from the request path), then header (and value)
//! match, then the default.

use super::ResponderError;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue};
use serde::Serialize;

#[derive(Clone, Serialize)]
pub struct UriPayload {
    pub uri: String,
    #[serde(skip)]
    segments: Vec<String>,
    #[serde(skip)]
    pub body: Bytes,
    #[serde(rename = "contentType")]
    pub content_type: String,
    #[serde(rename = "payload")]
    pub preview: String,
}

#[derive(Clone, Serialize)]
pub struct HeaderPayload {
    pub header: String,
    pub value: Option<String>,
    #[serde(skip)]
    pub body: Bytes,
    #[serde(rename = "contentType")]
    pub content_type: String,
    #[serde(rename = "payload")]
    pub preview: String,
}

#[derive(Clone, Default)]
pub struct Payloads {
    pub default: Option<(Bytes, String)>,
    pub uris: Vec<UriPayload>,
    pub headers: Vec<HeaderPayload>,
}

fn preview(b: &Bytes) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn ctype(ct: &str) -> HeaderValue {
    HeaderValue::from_str(ct).unwrap_or_else(|_| HeaderValue::from_static("text/plain"))
}

impl Payloads {
    pub fn is_empty(&self) -> bool {
        self.default.is_none() && self.uris.is_empty() && self.headers.is_empty()
    }

    pub fn set_default(&mut self, body: Bytes, content_type: String) {
        self.default = Some((body, content_type));
    }

    /// Adds (or replaces) a payload for a URI pattern such as `/foo/{f}/bar/{b}`.
    pub fn set_uri(
        &mut self,
        uri: &str,
        body: Bytes,
        content_type: String,
    ) -> Result<(), ResponderError> {
        let segments = uri_pattern(uri)?;
        self.uris.retain(|p| p.uri != uri);
        let preview = preview(&body);
        self.uris.push(UriPayload {
            uri: uri.to_string(),
            segments,
            body,
            content_type,
            preview,
        });
        Ok(())
    }

    pub fn set_header(
        &mut self,
        header: &str,
        value: Option<&str>,
        body: Bytes,
        content_type: String,
    ) {
        let header = header.to_ascii_lowercase();
        self.headers
            .retain(|p| !(p.header == header && p.value.as_deref() == value));
        let preview = preview(&body);
        self.headers.push(HeaderPayload {
            header,
            value: value.map(str::to_string),
            body,
            content_type,
            preview,
        });
    }

    /// The payload for a request, by precedence; `None` means "echo the request".
    pub fn find(&self, path: &str, headers: &HeaderMap) -> Option<(Bytes, HeaderValue)> {
        if self.is_empty() {
            return None;
        }
        for p in &self.uris {
            if let Some(captures) = match_uri(&p.segments, path) {
                let body = if captures.is_empty() {
                    p.body.clone()
                } else {
                    fill(&p.body, &captures)
                };
                return Some((body, ctype(&p.content_type)));
            }
        }
        // A payload for header+value is more specific than one for the header alone.
        let mut by_name = None;
        for p in &self.headers {
            if let Some(v) = headers.get(p.header.as_str()) {
                match &p.value {
                    Some(want) if v.as_bytes() == want.as_bytes() => {
                        return Some((p.body.clone(), ctype(&p.content_type)));
                    }
                    None if by_name.is_none() => by_name = Some(p),
                    _ => {}
                }
            }
        }
        if let Some(p) = by_name {
            return Some((p.body.clone(), ctype(&p.content_type)));
        }
        self.default.as_ref().map(|(b, ct)| (b.clone(), ctype(ct)))
    }
}

fn split(path: &str) -> impl Iterator<Item = &str> {
    path.split('/').filter(|s| !s.is_empty())
}

/// The segments of a URI pattern such as `/foo/{f}/bar` (placeholders in
/// braces), validated.
pub fn uri_pattern(uri: &str) -> Result<Vec<String>, ResponderError> {
    if !uri.starts_with('/') {
        return Err(ResponderError::UriStart(uri.to_string()));
    }
    let segments: Vec<String> = split(uri).map(str::to_string).collect();
    for s in &segments {
        if s.starts_with('{') != s.ends_with('}') || (s.starts_with('{') && s.len() < 3) {
            return Err(ResponderError::Placeholder {
                segment: s.clone(),
                uri: uri.to_string(),
            });
        }
    }
    Ok(segments)
}

/// Matches a path against pattern segments; returns `{name}` captures.
pub fn match_uri<'p, 'a>(pattern: &'p [String], path: &'a str) -> Option<Vec<(&'p str, &'a str)>> {
    let mut caps = Vec::new();
    let mut segs = split(path);
    for p in pattern {
        let s = segs.next()?;
        if let Some(name) = p.strip_prefix('{').and_then(|n| n.strip_suffix('}')) {
            caps.push((name, s));
        } else if p != s {
            return None;
        }
    }
    if segs.next().is_some() {
        return None;
    }
    Some(caps)
}

fn fill(body: &Bytes, caps: &[(&str, &str)]) -> Bytes {
    let Ok(text) = std::str::from_utf8(body) else {
        return body.clone();
    };
    let mut out = text.to_string();
    for (name, value) in caps {
        out = out.replace(&format!("{{{name}}}"), value);
    }
    Bytes::from(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_placeholders_fill_payload() {
        let mut p = Payloads::default();
        p.set_uri(
            "/foo/{f}/bar/{b}",
            Bytes::from("f={f} b={b}"),
            "text/plain".into(),
        )
        .unwrap();
        let (body, _) = p.find("/foo/1/bar/2", &HeaderMap::new()).unwrap();
        assert_eq!(&body[..], b"f=1 b=2");
        assert!(p.find("/foo/1/bar", &HeaderMap::new()).is_none());
    }

    #[test]
    fn precedence_uri_header_default() {
        let mut p = Payloads::default();
        p.set_default(Bytes::from("d"), "text/plain".into());
        p.set_header("x", None, Bytes::from("h"), "text/plain".into());
        p.set_header("x", Some("1"), Bytes::from("hv"), "text/plain".into());
        p.set_uri("/u", Bytes::from("u"), "text/plain".into())
            .unwrap();
        let mut h = HeaderMap::new();
        assert_eq!(&p.find("/z", &h).unwrap().0[..], b"d");
        h.insert("x", HeaderValue::from_static("2"));
        assert_eq!(&p.find("/z", &h).unwrap().0[..], b"h");
        h.insert("x", HeaderValue::from_static("1"));
        assert_eq!(&p.find("/z", &h).unwrap().0[..], b"hv");
        assert_eq!(&p.find("/u", &h).unwrap().0[..], b"u");
    }
}
