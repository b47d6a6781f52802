//! A proxy target's JSON spec as users post it (`/request/proxy/targets/add`),
//! and the checks of its names and URLs that triggers share.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::ProxyError;

/// Largest fan-out of one request.
pub const MAX_FANOUT: u32 = 32;

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
    pub fn to_vec(&self, field: &'static str) -> Result<Vec<(String, Option<String>)>, ProxyError> {
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
                    _ => Err(ProxyError::Pair {
                        field,
                        entry: e.clone(),
                    }),
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
pub struct ProxyTargetSpec {
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
pub fn upstream_timeout(field: Option<&str>) -> Result<std::time::Duration, ProxyError> {
    match field.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(DEFAULT_UPSTREAM_TIMEOUT),
        Some(t) => match goto_engine::duration::parse(t) {
            Ok(d) if !d.is_zero() => Ok(d),
            Ok(_) => Err(ProxyError::TimeoutZero),
            Err(e) => Err(ProxyError::Timeout(e)),
        },
    }
}

/// Valid target names are usable in comma-separated path lists.
pub fn valid_name(n: &str) -> bool {
    !n.is_empty() && !n.contains([',', '/', '?', '#', '%']) && !n.chars().any(char::is_whitespace)
}

/// Keeps `verifyTLS` out of echoes unless it was asked for.
pub fn is_false(b: &bool) -> bool {
    !*b
}

/// `http[s]://host[:port][/path]` -> (origin `scheme://host[:port]`, path
/// without trailing '/').
pub fn parse_http_url(url: &str) -> Result<(String, String), ProxyError> {
    let uri: http::Uri = url.parse().map_err(|source| ProxyError::Url {
        url: url.to_string(),
        source,
    })?;
    let scheme = match uri.scheme_str() {
        Some(s @ ("http" | "https")) => s,
        Some(s) => {
            return Err(ProxyError::Scheme {
                scheme: s.to_string(),
                url: url.to_string(),
            })
        }
        None => return Err(ProxyError::NoScheme(url.to_string())),
    };
    let authority = uri
        .authority()
        .ok_or_else(|| ProxyError::NoHost(url.to_string()))?;
    if uri.query().is_some() {
        return Err(ProxyError::Query(url.to_string()));
    }
    Ok((
        format!("{scheme}://{authority}"),
        uri.path().trim_end_matches('/').to_string(),
    ))
}
