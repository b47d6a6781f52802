//! Why a proxy target spec (or the URL, pairs and timeout checks triggers
//! share with it) does not validate; the text names the field.

use super::spec::MAX_FANOUT;
use crate::error::ApiError;

#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error("invalid target name {0:?}: non-empty, no ',', '/', '?', '#', '%' or spaces")]
    Name(String),
    #[error("invalid url {url:?}: {source}")]
    Url {
        url: String,
        source: http::uri::InvalidUri,
    },
    #[error("unsupported url scheme {scheme:?} in {url:?}: http or https")]
    Scheme { scheme: String, url: String },
    #[error("url {0:?} needs a scheme, e.g. http://host:port")]
    NoScheme(String),
    #[error("url {0:?} has no host")]
    NoHost(String),
    #[error("url {0:?} must not have a query; use addQuery")]
    Query(String),
    #[error("{field}: each entry must be [name] or [name, value], got {entry:?}")]
    Pair {
        field: &'static str,
        entry: Vec<String>,
    },
    #[error("timeout must be positive")]
    TimeoutZero,
    /// A timeout that does not parse (the reason is the parser's).
    #[error("timeout: {0}")]
    Timeout(String),
    #[error("unbalanced '}}' in {0:?}")]
    Unbalanced(String),
    #[error("unclosed '{{' in {0:?}")]
    Unclosed(String),
    #[error("invalid placeholder {{{var}}} in {text:?}")]
    Placeholder { var: String, text: String },
    #[error("match uri {0:?} must start with '/'")]
    UriStart(String),
    #[error("invalid segment {seg:?} in match uri {uri:?}: use a whole {{var}}")]
    UriSegment { seg: String, uri: String },
    #[error("invalid match header name {0:?}")]
    MatchHeader(String),
    #[error("empty match query key")]
    EmptyQueryKey,
    #[error("invalid match value {0:?}: use a whole {{var}}")]
    MatchValue(String),
    #[error("match needs at least one of uris, headers or query")]
    NoCriteria,
    #[error("{field} uses {{{var}}}, which no match criterion captures")]
    Uncaptured { field: &'static str, var: String },
    #[error("replaceURI {0:?} must start with '/'")]
    ReplaceUri(String),
    #[error("invalid addHeaders name {0:?}")]
    AddHeaderName(String),
    #[error("invalid addHeaders value {0:?}")]
    AddHeaderValue(String),
    #[error("invalid removeHeaders name {0:?}")]
    RemoveHeaderName(String),
    #[error("addQuery: empty key")]
    EmptyAddQueryKey,
    #[error("replicas must be 1-{MAX_FANOUT}, got {0}")]
    Replicas(u32),
}

impl From<ProxyError> for ApiError {
    fn from(e: ProxyError) -> ApiError {
        ApiError::BadRequest(e.to_string())
    }
}

/// Why no client verifying https certificates is at hand.
#[derive(Debug, Clone, thiserror::Error)]
pub enum OutboundError {
    /// No roots (system or `--certs`) could be loaded; `reason` says why.
    #[error("cannot verify TLS: {reason}")]
    NoRoots { reason: String },
}
