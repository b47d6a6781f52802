//! What a validated target matches with and fills in: `{var}` templates,
//! URI patterns (prefix on segment boundaries, `{var}` captures one
//! segment), header and query criteria, and which criterion hit.

use http::HeaderName;

use super::ProxyError;
use crate::api::query_decode;

/// Values captured from a request: `{var}` -> text.
pub type Captures = Vec<(String, String)>;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Part {
    Lit(String),
    Var(String),
}

/// A string with `{var}` placeholders, split once at validation.
#[derive(Debug, Clone)]
pub struct Template {
    pub(crate) parts: Vec<Part>,
}

pub(crate) fn valid_var(v: &str) -> bool {
    !v.is_empty()
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
}

/// The variable name of a whole `{var}` string, if it is one.
pub(crate) fn whole_var(s: &str) -> Option<&str> {
    s.strip_prefix('{')?
        .strip_suffix('}')
        .filter(|v| valid_var(v))
}

impl Template {
    pub fn parse(s: &str) -> Result<Template, ProxyError> {
        let mut parts = Vec::new();
        let mut rest = s;
        while let Some(open) = rest.find(['{', '}']) {
            if rest.as_bytes()[open] == b'}' {
                return Err(ProxyError::Unbalanced(s.to_string()));
            }
            let close = rest[open..]
                .find('}')
                .map(|i| open + i)
                .ok_or_else(|| ProxyError::Unclosed(s.to_string()))?;
            let var = &rest[open + 1..close];
            if !valid_var(var) {
                return Err(ProxyError::Placeholder {
                    var: var.to_string(),
                    text: s.to_string(),
                });
            }
            if open > 0 {
                parts.push(Part::Lit(rest[..open].to_string()));
            }
            parts.push(Part::Var(var.to_string()));
            rest = &rest[close + 1..];
        }
        if !rest.is_empty() {
            parts.push(Part::Lit(rest.to_string()));
        }
        Ok(Template { parts })
    }

    pub(crate) fn vars(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| match p {
            Part::Var(v) => Some(v.as_str()),
            Part::Lit(_) => None,
        })
    }

    /// Fills placeholders; a variable not captured by this request is empty.
    /// `encode` percent-encodes captured text for use inside a URI.
    pub fn fill(&self, caps: &Captures, encode: Option<bool>) -> String {
        let mut out = String::new();
        for p in &self.parts {
            match p {
                Part::Lit(l) => out.push_str(l),
                Part::Var(v) => {
                    if let Some((_, val)) = caps.iter().find(|(k, _)| k == v) {
                        match encode {
                            Some(in_query) => {
                                out.push_str(&super::client::encode_uri_part(val, in_query))
                            }
                            None => out.push_str(val),
                        }
                    }
                }
            }
        }
        out
    }
}

#[derive(Debug)]
pub(crate) enum Seg {
    Lit(String),
    Var(String),
}

#[derive(Debug)]
pub struct UriPattern {
    pub text: String,
    pub(crate) segs: Vec<Seg>,
}

impl UriPattern {
    pub(crate) fn parse(s: &str) -> Result<UriPattern, ProxyError> {
        if !s.starts_with('/') {
            return Err(ProxyError::UriStart(s.to_string()));
        }
        let mut segs = Vec::new();
        for seg in s.split('/').filter(|x| !x.is_empty()) {
            if let Some(v) = whole_var(seg) {
                segs.push(Seg::Var(v.to_string()));
            } else if seg.contains(['{', '}']) {
                return Err(ProxyError::UriSegment {
                    seg: seg.to_string(),
                    uri: s.to_string(),
                });
            } else {
                segs.push(Seg::Lit(seg.to_string()));
            }
        }
        Ok(UriPattern {
            text: s.to_string(),
            segs,
        })
    }

    /// On a match, the byte offset in `path` where the unmatched rest starts.
    pub(crate) fn matches(&self, path: &str, caps: &mut Captures) -> Option<usize> {
        let mut pos = 0;
        let mut found = Vec::new();
        for seg in &self.segs {
            while path[pos..].starts_with('/') {
                pos += 1;
            }
            let end = path[pos..].find('/').map_or(path.len(), |i| pos + i);
            if end == pos {
                return None;
            }
            let s = &path[pos..end];
            match seg {
                Seg::Lit(l) if l == s => {}
                Seg::Lit(_) => return None,
                Seg::Var(v) => found.push((v.clone(), s.to_string())),
            }
            pos = end;
        }
        caps.extend(found);
        Some(pos)
    }
}

#[derive(Debug)]
pub(crate) enum ValueMatch {
    Present,
    Equals(String),
    Capture(String),
}

/// One header or query criterion.
#[derive(Debug)]
pub struct KvMatch {
    /// Lower-case header name, or the query key as given.
    pub key: String,
    pub(crate) header: Option<HeaderName>,
    pub(crate) value: ValueMatch,
}

impl KvMatch {
    pub(crate) fn parse(
        key: &str,
        value: Option<&str>,
        header: bool,
    ) -> Result<KvMatch, ProxyError> {
        let key = key.trim();
        let name = if header {
            Some(
                HeaderName::from_bytes(key.as_bytes())
                    .map_err(|_| ProxyError::MatchHeader(key.to_string()))?,
            )
        } else if key.is_empty() {
            return Err(ProxyError::EmptyQueryKey);
        } else {
            None
        };
        let value = match value.map(str::trim) {
            None | Some("") => ValueMatch::Present,
            Some(v) => match whole_var(v) {
                Some(var) => ValueMatch::Capture(var.to_string()),
                None if v.contains(['{', '}']) => {
                    return Err(ProxyError::MatchValue(v.to_string()))
                }
                None => ValueMatch::Equals(v.to_string()),
            },
        };
        let key = name
            .as_ref()
            .map_or_else(|| key.to_string(), |n| n.as_str().to_string());
        Ok(KvMatch {
            key,
            header: name,
            value,
        })
    }

    pub(crate) fn check(&self, actual: &str, caps: &mut Captures) -> bool {
        match &self.value {
            ValueMatch::Present => true,
            ValueMatch::Equals(v) => v.eq_ignore_ascii_case(actual),
            ValueMatch::Capture(var) => {
                caps.push((var.clone(), actual.to_string()));
                true
            }
        }
    }

    pub(crate) fn var(&self) -> Option<&str> {
        match &self.value {
            ValueMatch::Capture(v) => Some(v),
            _ => None,
        }
    }
}

/// Which criterion matched, for the counts.
#[derive(Debug, Clone)]
pub enum Hit {
    Header(String, String),
    Query(String, String),
}

/// (decoded key, decoded value) pairs of a query string.
pub(crate) fn query_pairs(query: Option<&str>) -> Vec<(String, String)> {
    query
        .unwrap_or("")
        .split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (query_decode(k), query_decode(v))
        })
        .collect()
}
