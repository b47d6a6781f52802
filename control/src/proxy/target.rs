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

use std::sync::atomic::{AtomicBool, Ordering};

use http::{HeaderMap, HeaderName, HeaderValue};

use super::matcher::{query_pairs, Seg};
pub use super::matcher::{Captures, Hit, KvMatch, Template, UriPattern};
pub use super::spec::{
    is_false, parse_http_url, upstream_timeout, valid_name, MatchSpec, Pairs, ProxyTargetSpec,
    DEFAULT_UPSTREAM_TIMEOUT, MAX_FANOUT,
};
use super::ProxyError;
use crate::api::query_decode;

/// A validated target.
#[derive(Debug)]
pub struct ProxyTarget {
    pub spec: ProxyTargetSpec,
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
    /// The proxy's own pool's upstream (plain http); `None`: the shared client.
    pub upstream: Option<super::pool::Upstream>,
    /// The request's path and query go upstream unchanged (no base path,
    /// `replaceURI`, query edits or `sendID`).
    passthrough: bool,
}

/// The result of matching a request against a target.
pub struct Matched {
    pub captures: Captures,
    /// The path's unmatched rest after a URI pattern (kept after `replaceURI`).
    pub rest: String,
    /// The URI pattern that matched (an index into the target's).
    pub uri: Option<usize>,
    /// Header and query criteria that matched.
    pub hits: Vec<Hit>,
}

impl ProxyTarget {
    pub fn new(spec: ProxyTargetSpec) -> Result<ProxyTarget, ProxyError> {
        if !valid_name(&spec.name) {
            return Err(ProxyError::Name(spec.name));
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
            return Err(ProxyError::NoCriteria);
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
        let known = |t: &Template, field: &'static str| -> Result<(), ProxyError> {
            match t.vars().find(|v| !vars.contains(v)) {
                Some(v) => Err(ProxyError::Uncaptured {
                    field,
                    var: v.to_string(),
                }),
                None => Ok(()),
            }
        };
        let replace_uri = match spec.replace_uri.as_deref().filter(|s| !s.is_empty()) {
            None => None,
            Some(r) if !r.starts_with('/') => return Err(ProxyError::ReplaceUri(r.to_string())),
            Some(r) => {
                let t = Template::parse(r)?;
                known(&t, "replaceURI")?;
                Some(t)
            }
        };
        let mut add_headers = Vec::new();
        for (k, v) in spec.add_headers.to_vec("addHeaders")? {
            let name = HeaderName::from_bytes(k.trim().as_bytes())
                .map_err(|_| ProxyError::AddHeaderName(k.clone()))?;
            let v = v.unwrap_or_default();
            let t = Template::parse(&v)?;
            known(&t, "addHeaders")?;
            // Literal parts must already be a valid header value.
            HeaderValue::from_str(&t.fill(&Vec::new(), None))
                .map_err(|_| ProxyError::AddHeaderValue(v.clone()))?;
            add_headers.push((name, t));
        }
        let remove_headers = spec
            .remove_headers
            .iter()
            .map(|h| {
                HeaderName::from_bytes(h.trim().as_bytes())
                    .map_err(|_| ProxyError::RemoveHeaderName(h.clone()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut add_query = Vec::new();
        for (k, v) in spec.add_query.to_vec("addQuery")? {
            if k.trim().is_empty() {
                return Err(ProxyError::EmptyAddQueryKey);
            }
            let t = Template::parse(&v.unwrap_or_default())?;
            known(&t, "addQuery")?;
            add_query.push((k.trim().to_string(), t));
        }
        if spec.replicas == 0 || spec.replicas > MAX_FANOUT {
            return Err(ProxyError::Replicas(spec.replicas));
        }
        let timeout = upstream_timeout(spec.timeout.as_deref())?;
        let passthrough = base_path.is_empty()
            && replace_uri.is_none()
            && add_query.is_empty()
            && spec.remove_query.is_empty()
            && !spec.send_id;
        Ok(ProxyTarget {
            timeout,
            upstream: super::pool::Upstream::register(&origin),
            passthrough,
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
            uri: None,
            hits: Vec::new(),
        };
        for (i, u) in self.uris.iter().enumerate() {
            if let Some(at) = u.matches(path, &mut m.captures) {
                // Only a `replaceURI` uses the rest: no copy otherwise.
                if self.replace_uri.is_some() {
                    m.rest = path[at..].to_string();
                }
                m.uri = Some(i);
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
        (m.uri.is_some() || !m.hits.is_empty()).then_some(m)
    }

    /// The text of the URI pattern that matched.
    pub fn uri_text(&self, m: &Matched) -> Option<&str> {
        m.uri
            .and_then(|i| self.uris.get(i))
            .map(|u| u.text.as_str())
    }

    /// Whether [`ProxyTarget::upstream_path`] would give back `path` and `query`
    /// unchanged (empty query parts are dropped there, so not with those).
    pub fn passes_path(&self, query: Option<&str>) -> bool {
        self.passthrough && query.is_none_or(|q| !q.is_empty() && !q.split('&').any(str::is_empty))
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
            let key = query_decode(kv.split_once('=').map_or(kv, |(k, _)| k));
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

#[cfg(test)]
mod tests {
    use super::*;

    fn target(json: &str) -> Result<ProxyTarget, String> {
        ProxyTarget::new(serde_json::from_str(json).map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())
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
