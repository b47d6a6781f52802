//! A proxy target: its JSON spec, validated once into matchers and
//! templates (so the request path never parses configuration), and the
//! matching of one request against it.
//!
//! Match criteria are OR-ed: any URI pattern, header or query parameter.
//! A URI pattern matches a path prefix on segment boundaries (so `/` matches
//! everything) and `{var}` captures one segment; the unmatched rest of the
//! path is kept after a `replaceURI`. A header or query criterion is
//! `[name]` (present), `[name, value]` (equal) or `[name, "{var}"]` (present,
//! value captured). Captures fill `{var}` in `replaceURI`, `addHeaders` and
//! `addQuery`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};

use http::{HeaderMap, HeaderName, HeaderValue};
use serde::{Deserialize, Serialize};

use crate::api::percent_decode;

/// Largest fan-out of one request.
pub const MAX_REPLICAS: u32 = 32;

/// `[[name, value]...]` or `{name: value}`; values optional in the list form.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(untagged)]
pub enum Pairs {
    List(Vec<Vec<String>>),
    Map(BTreeMap<String, String>),
}

impl Default for Pairs {
    fn default() -> Pairs {
        Pairs::List(Vec::new())
    }
}

impl Pairs {
    /// (name, optional value) pairs; an entry that is not 1 or 2 strings is an error.
    pub fn to_vec(&self, field: &str) -> Result<Vec<(String, Option<String>)>, String> {
        match self {
            Pairs::Map(m) => Ok(m
                .iter()
                .map(|(k, v)| (k.clone(), Some(v.clone())))
                .collect()),
            Pairs::List(l) => l
                .iter()
                .map(|e| match e.as_slice() {
                    [k] => Ok((k.clone(), None)),
                    [k, v] => Ok((k.clone(), Some(v.clone()))),
                    _ => Err(format!(
                        "{field}: each entry must be [name] or [name, value], got {e:?}"
                    )),
                })
                .collect(),
        }
    }
}

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MatchSpec {
    #[serde(default)]
    pub uris: Vec<String>,
    #[serde(default)]
    pub headers: Pairs,
    #[serde(default)]
    pub query: Pairs,
}

fn one() -> u32 {
    1
}

fn yes() -> bool {
    true
}

/// The JSON a user posts to `/request/proxy/targets/add`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TargetSpec {
    pub name: String,
    pub url: String,
    #[serde(default, rename = "sendID")]
    pub send_id: bool,
    /// For https upstreams: verify the certificate against the system roots
    /// and `--certs` (off by default, as for client targets).
    #[serde(default, rename = "verifyTLS", skip_serializing_if = "is_false")]
    pub verify_tls: bool,
    #[serde(
        default,
        rename = "replaceURI",
        skip_serializing_if = "Option::is_none"
    )]
    pub replace_uri: Option<String>,
    #[serde(default)]
    pub add_headers: Pairs,
    #[serde(default)]
    pub remove_headers: Vec<String>,
    #[serde(default)]
    pub add_query: Pairs,
    #[serde(default)]
    pub remove_query: Vec<String>,
    #[serde(rename = "match", alias = "matchAny", default)]
    pub matches: MatchSpec,
    #[serde(default = "one")]
    pub replicas: u32,
    /// Targets are enabled unless the spec says otherwise.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// How long the upstream may take to answer (Go duration; default
    /// [`DEFAULT_UPSTREAM_TIMEOUT`]); past it the client gets a 504.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
}

/// How long an upstream (proxy target, trigger) may take to answer.
pub const DEFAULT_UPSTREAM_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// A `timeout` field: a positive Go duration, or the default when absent.
pub fn upstream_timeout(field: Option<&str>) -> Result<std::time::Duration, String> {
    match field.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(DEFAULT_UPSTREAM_TIMEOUT),
        Some(t) => match goto_engine::duration::parse(t) {
            Ok(d) if !d.is_zero() => Ok(d),
            Ok(_) => Err("timeout must be positive".into()),
            Err(e) => Err(format!("timeout: {e}")),
        },
    }
}

/// Values captured from a request: `{var}` -> text.
pub type Captures = Vec<(String, String)>;

#[derive(Debug, Clone, PartialEq)]
enum Part {
    Lit(String),
    Var(String),
}

/// A string with `{var}` placeholders, split once at validation.
#[derive(Debug, Clone)]
pub struct Template {
    parts: Vec<Part>,
}

fn valid_var(v: &str) -> bool {
    !v.is_empty()
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
}

/// The variable name of a whole `{var}` string, if it is one.
fn whole_var(s: &str) -> Option<&str> {
    s.strip_prefix('{')?
        .strip_suffix('}')
        .filter(|v| valid_var(v))
}

impl Template {
    pub fn parse(s: &str) -> Result<Template, String> {
        let mut parts = Vec::new();
        let mut rest = s;
        while let Some(open) = rest.find(['{', '}']) {
            if rest.as_bytes()[open] == b'}' {
                return Err(format!("unbalanced '}}' in {s:?}"));
            }
            let close = rest[open..]
                .find('}')
                .map(|i| open + i)
                .ok_or_else(|| format!("unclosed '{{' in {s:?}"))?;
            let var = &rest[open + 1..close];
            if !valid_var(var) {
                return Err(format!("invalid placeholder {{{var}}} in {s:?}"));
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

    fn vars(&self) -> impl Iterator<Item = &str> {
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
enum Seg {
    Lit(String),
    Var(String),
}

#[derive(Debug)]
pub struct UriPattern {
    pub text: String,
    segs: Vec<Seg>,
}

impl UriPattern {
    fn parse(s: &str) -> Result<UriPattern, String> {
        if !s.starts_with('/') {
            return Err(format!("match uri {s:?} must start with '/'"));
        }
        let mut segs = Vec::new();
        for seg in s.split('/').filter(|x| !x.is_empty()) {
            if let Some(v) = whole_var(seg) {
                segs.push(Seg::Var(v.to_string()));
            } else if seg.contains(['{', '}']) {
                return Err(format!(
                    "invalid segment {seg:?} in match uri {s:?}: use a whole {{var}}"
                ));
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
    fn matches(&self, path: &str, caps: &mut Captures) -> Option<usize> {
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
enum ValueMatch {
    Present,
    Equals(String),
    Capture(String),
}

/// One header or query criterion.
#[derive(Debug)]
pub struct KvMatch {
    /// Lower-case header name, or the query key as given.
    pub key: String,
    header: Option<HeaderName>,
    value: ValueMatch,
}

impl KvMatch {
    fn parse(key: &str, value: Option<&str>, header: bool) -> Result<KvMatch, String> {
        let key = key.trim();
        let name = if header {
            Some(
                HeaderName::from_bytes(key.as_bytes())
                    .map_err(|_| format!("invalid match header name {key:?}"))?,
            )
        } else if key.is_empty() {
            return Err("empty match query key".into());
        } else {
            None
        };
        let value = match value.map(str::trim) {
            None | Some("") => ValueMatch::Present,
            Some(v) => match whole_var(v) {
                Some(var) => ValueMatch::Capture(var.to_string()),
                None if v.contains(['{', '}']) => {
                    return Err(format!("invalid match value {v:?}: use a whole {{var}}"))
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

    fn check(&self, actual: &str, caps: &mut Captures) -> bool {
        match &self.value {
            ValueMatch::Present => true,
            ValueMatch::Equals(v) => v.eq_ignore_ascii_case(actual),
            ValueMatch::Capture(var) => {
                caps.push((var.clone(), actual.to_string()));
                true
            }
        }
    }

    fn var(&self) -> Option<&str> {
        match &self.value {
            ValueMatch::Capture(v) => Some(v),
            _ => None,
        }
    }
}

/// Which criterion matched, for the counts.
#[derive(Debug, Clone)]
pub enum Hit {
    Uri(String),
    Header(String, String),
    Query(String, String),
}

/// A validated target.
#[derive(Debug)]
pub struct Target {
    pub spec: TargetSpec,
    pub enabled: AtomicBool,
    /// `scheme://host[:port]` of the upstream.
    pub origin: String,
    /// Path of the target URL, without a trailing '/'.
    pub base_path: String,
    uris: Vec<UriPattern>,
    headers: Vec<KvMatch>,
    query: Vec<KvMatch>,
    pub replace_uri: Option<Template>,
    pub add_headers: Vec<(HeaderName, Template)>,
    pub remove_headers: Vec<HeaderName>,
    pub add_query: Vec<(String, Template)>,
    pub remove_query: Vec<String>,
    pub replicas: u32,
    pub timeout: std::time::Duration,
}

/// The result of matching a request against a target.
pub struct Matched {
    pub captures: Captures,
    /// The path's unmatched rest after a URI pattern (kept after `replaceURI`).
    pub rest: String,
    pub hits: Vec<Hit>,
}

/// Valid target names are usable in comma-separated path lists.
pub fn valid_name(n: &str) -> bool {
    !n.is_empty() && !n.contains([',', '/', '?', '#', '%']) && !n.chars().any(char::is_whitespace)
}

impl Target {
    pub fn new(spec: TargetSpec) -> Result<Target, String> {
        if !valid_name(&spec.name) {
            return Err(format!(
                "invalid target name {:?}: non-empty, no ',', '/', '?', '#', '%' or spaces",
                spec.name
            ));
        }
        let (origin, base_path) = parse_http_url(&spec.url)?;
        let m = &spec.matches;
        let uris = m
            .uris
            .iter()
            .map(|u| UriPattern::parse(u))
            .collect::<Result<Vec<_>, _>>()?;
        let headers = m
            .headers
            .to_vec("match.headers")?
            .iter()
            .map(|(k, v)| KvMatch::parse(k, v.as_deref(), true))
            .collect::<Result<Vec<_>, _>>()?;
        let query = m
            .query
            .to_vec("match.query")?
            .iter()
            .map(|(k, v)| KvMatch::parse(k, v.as_deref(), false))
            .collect::<Result<Vec<_>, _>>()?;
        if uris.is_empty() && headers.is_empty() && query.is_empty() {
            return Err("match needs at least one of uris, headers or query".into());
        }
        let mut vars: Vec<&str> = uris
            .iter()
            .flat_map(|u| u.segs.iter())
            .filter_map(|s| match s {
                Seg::Var(v) => Some(v.as_str()),
                Seg::Lit(_) => None,
            })
            .collect();
        vars.extend(headers.iter().chain(query.iter()).filter_map(KvMatch::var));
        let known = |t: &Template, field: &str| -> Result<(), String> {
            match t.vars().find(|v| !vars.contains(v)) {
                Some(v) => Err(format!(
                    "{field} uses {{{v}}}, which no match criterion captures"
                )),
                None => Ok(()),
            }
        };
        let replace_uri = match spec.replace_uri.as_deref().filter(|s| !s.is_empty()) {
            None => None,
            Some(r) if !r.starts_with('/') => {
                return Err(format!("replaceURI {r:?} must start with '/'"))
            }
            Some(r) => {
                let t = Template::parse(r)?;
                known(&t, "replaceURI")?;
                Some(t)
            }
        };
        let mut add_headers = Vec::new();
        for (k, v) in spec.add_headers.to_vec("addHeaders")? {
            let name = HeaderName::from_bytes(k.trim().as_bytes())
                .map_err(|_| format!("invalid addHeaders name {k:?}"))?;
            let v = v.unwrap_or_default();
            let t = Template::parse(&v)?;
            known(&t, "addHeaders")?;
            // Literal parts must already be a valid header value.
            HeaderValue::from_str(&t.fill(&Vec::new(), None))
                .map_err(|_| format!("invalid addHeaders value {v:?}"))?;
            add_headers.push((name, t));
        }
        let remove_headers = spec
            .remove_headers
            .iter()
            .map(|h| {
                HeaderName::from_bytes(h.trim().as_bytes())
                    .map_err(|_| format!("invalid removeHeaders name {h:?}"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut add_query = Vec::new();
        for (k, v) in spec.add_query.to_vec("addQuery")? {
            if k.trim().is_empty() {
                return Err("addQuery: empty key".into());
            }
            let t = Template::parse(&v.unwrap_or_default())?;
            known(&t, "addQuery")?;
            add_query.push((k.trim().to_string(), t));
        }
        if spec.replicas == 0 || spec.replicas > MAX_REPLICAS {
            return Err(format!(
                "replicas must be 1-{MAX_REPLICAS}, got {}",
                spec.replicas
            ));
        }
        let timeout = upstream_timeout(spec.timeout.as_deref())?;
        Ok(Target {
            timeout,
            enabled: AtomicBool::new(spec.enabled),
            origin,
            base_path,
            uris,
            headers,
            query,
            replace_uri,
            add_headers,
            remove_headers,
            add_query,
            remove_query: spec
                .remove_query
                .iter()
                .map(|q| q.trim().to_string())
                .collect(),
            replicas: spec.replicas,
            spec,
        })
    }

    pub fn is_enabled(&self) -> bool {
        self.enabled.load(Ordering::Relaxed)
    }

    /// Matches one request: any criterion (OR); captures come from every criterion that matched.
    pub fn matches(&self, path: &str, query: Option<&str>, headers: &HeaderMap) -> Option<Matched> {
        let mut m = Matched {
            captures: Vec::new(),
            rest: String::new(),
            hits: Vec::new(),
        };
        for u in &self.uris {
            if let Some(at) = u.matches(path, &mut m.captures) {
                m.rest = path[at..].to_string();
                m.hits.push(Hit::Uri(u.text.clone()));
                break;
            }
        }
        for h in &self.headers {
            let Some(name) = &h.header else { continue };
            if let Some(v) = headers.get(name) {
                let v = String::from_utf8_lossy(v.as_bytes());
                if h.check(&v, &mut m.captures) {
                    m.hits.push(Hit::Header(h.key.clone(), v.into_owned()));
                }
            }
        }
        if !self.query.is_empty() {
            let pairs = query_pairs(query);
            for q in &self.query {
                if let Some((_, v)) = pairs.iter().find(|(k, _)| *k == q.key) {
                    if q.check(v, &mut m.captures) {
                        m.hits.push(Hit::Query(q.key.clone(), v.clone()));
                    }
                }
            }
        }
        (!m.hits.is_empty()).then_some(m)
    }

    /// Path and query to request upstream, after `replaceURI`, query edits and `sendID`.
    pub fn upstream_path(&self, path: &str, query: Option<&str>, m: &Matched) -> String {
        let mut out = self.base_path.clone();
        match &self.replace_uri {
            Some(t) => {
                out.push_str(&t.fill(&m.captures, Some(false)));
                if !m.rest.is_empty() {
                    if out.ends_with('/') && m.rest.starts_with('/') {
                        out.pop();
                    }
                    out.push_str(&m.rest);
                }
            }
            None => out.push_str(path),
        }
        if out.is_empty() {
            out.push('/');
        }
        let mut q: Vec<String> = Vec::new();
        for kv in query.unwrap_or("").split('&').filter(|kv| !kv.is_empty()) {
            let key = percent_decode(kv.split_once('=').map_or(kv, |(k, _)| k));
            let dropped =
                self.remove_query.contains(&key) || self.add_query.iter().any(|(k, _)| *k == key);
            if !dropped {
                q.push(kv.to_string());
            }
        }
        for (k, t) in &self.add_query {
            q.push(format!(
                "{}={}",
                super::client::encode_uri_part(k, true),
                t.fill(&m.captures, Some(true))
            ));
        }
        if self.spec.send_id {
            q.push(format!("x-request-id={}", uuid::Uuid::new_v4()));
        }
        if !q.is_empty() {
            out.push('?');
            out.push_str(&q.join("&"));
        }
        out
    }
}

/// (decoded key, decoded value) pairs of a query string.
fn query_pairs(query: Option<&str>) -> Vec<(String, String)> {
    query
        .unwrap_or("")
        .split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

/// Keeps `verifyTLS` out of echoes unless it was asked for.
pub fn is_false(b: &bool) -> bool {
    !*b
}

/// `http[s]://host[:port][/path]` -> (origin `scheme://host[:port]`, path
/// without trailing '/').
pub fn parse_http_url(url: &str) -> Result<(String, String), String> {
    let uri: http::Uri = url
        .parse()
        .map_err(|e| format!("invalid url {url:?}: {e}"))?;
    let scheme = match uri.scheme_str() {
        Some(s @ ("http" | "https")) => s,
        Some(s) => {
            return Err(format!(
                "unsupported url scheme {s:?} in {url:?}: http or https"
            ))
        }
        None => return Err(format!("url {url:?} needs a scheme, e.g. http://host:port")),
    };
    let authority = uri
        .authority()
        .ok_or_else(|| format!("url {url:?} has no host"))?;
    if uri.query().is_some() {
        return Err(format!("url {url:?} must not have a query; use addQuery"));
    }
    Ok((
        format!("{scheme}://{authority}"),
        uri.path().trim_end_matches('/').to_string(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(json: &str) -> Result<Target, String> {
        Target::new(serde_json::from_str(json).map_err(|e| e.to_string())?)
    }

    #[test]
    fn uri_captures_fill_replace_uri_and_keep_rest() {
        let t = target(
            r#"{"name":"t","url":"http://h:1/base","match":{"uris":["/foo/{x}/bar/{y}"]},"replaceURI":"/y/{y}/x/{x}"}"#,
        )
        .unwrap();
        let m = t
            .matches("/foo/1/bar/2/more", Some("a=1"), &HeaderMap::new())
            .unwrap();
        assert_eq!(
            t.upstream_path("/foo/1/bar/2/more", Some("a=1"), &m),
            "/base/y/2/x/1/more?a=1"
        );
        assert!(t.matches("/foo/1/baz/2", None, &HeaderMap::new()).is_none());
    }

    #[test]
    fn slash_matches_everything() {
        let t = target(r#"{"name":"t","url":"http://h:1","match":{"uris":["/"]}}"#).unwrap();
        let m = t.matches("/any/thing", None, &HeaderMap::new()).unwrap();
        assert_eq!(t.upstream_path("/any/thing", None, &m), "/any/thing");
    }

    #[test]
    fn header_and_query_captures() {
        let t = target(
            r#"{"name":"t","url":"http://h:1","match":{"headers":[["x-a","{a}"]],"query":[["q","{b}"]]},
                "addHeaders":[["x-b","{b}"]],"addQuery":[["qa","{a}"]],"removeQuery":["drop"]}"#,
        )
        .unwrap();
        let mut h = HeaderMap::new();
        h.insert("x-a", "v a".parse().unwrap());
        let m = t.matches("/p", Some("q=2&drop=1&keep=3"), &h).unwrap();
        assert_eq!(
            m.captures,
            vec![
                ("a".to_string(), "v a".to_string()),
                ("b".to_string(), "2".to_string())
            ]
        );
        assert_eq!(
            t.upstream_path("/p", Some("q=2&drop=1&keep=3"), &m),
            "/p?q=2&keep=3&qa=v%20a"
        );
    }

    #[test]
    fn rejects_bad_patterns() {
        for bad in [
            r#"{"name":"t","url":"http://h:1","match":{"uris":["nope"]}}"#,
            r#"{"name":"t","url":"http://h:1","match":{"uris":["/a/{b"]}}"#,
            r#"{"name":"t","url":"http://h:1","match":{"uris":["/a"]},"replaceURI":"/{zz}"}"#,
            r#"{"name":"t","url":"ftp://h:1","match":{"uris":["/a"]}}"#,
            r#"{"name":"t","url":"http://h:1","match":{}}"#,
            r#"{"name":"a,b","url":"http://h:1","match":{"uris":["/"]}}"#,
            r#"{"name":"t","url":"http://h:1","match":{"uris":["/"]},"replicas":0}"#,
        ] {
            assert!(target(bad).is_err(), "accepted {bad}");
        }
    }
}
