//! Plans: what to send ([`TargetSpec`], validated once) and its prepared
//! form ([`PreparedTarget`]) with the request bytes prebuilt, the address
//! resolved, TLS chosen, and the replicas split over cores.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use rustls::pki_types::ServerName;
use rustls::ClientConfig;

use crate::error::PlanError;
use crate::grpc::GrpcCall;
use crate::http1::request::{is_token, RequestTemplate};
use crate::http1::url::Url;
use crate::http2::request::{H2Request, Parts as H2Parts, RequestId};
use crate::limits::{
    MAX_BODY, MAX_REPLICAS, MAX_REQUEST_HEADERS, MAX_RETRIES, MAX_STREAMS_PER_CONNECTION,
};
use crate::resolve::{Endpoint, Endpoints};
use crate::stages::{LiveRate, Stages};
use crate::tls::TlsConfigs;

/// One invocation: the targets that run together.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub targets: Vec<TargetSpec>,
}

/// What to send to one target, and how hard.
#[derive(Debug, Clone)]
pub struct TargetSpec {
    pub name: String,
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
    /// Concurrent connections, spread over the cores.
    pub replicas: u32,
    /// Requests each replica sends (closed model); `None` = no count limit.
    pub requests_per_replica: Option<u64>,
    /// Run for at most this long.
    pub duration: Option<Duration>,
    /// Open model: total requests per second across the replicas, sent on
    /// schedule; latency counts from the scheduled time.
    pub rate: Option<f64>,
    /// Closed model: pause between a replica's consecutive requests.
    pub delay: Duration,
    pub initial_delay: Duration,
    pub retries: u32,
    pub retry_delay: Duration,
    pub retriable_status: Vec<u16>,
    /// Adds the query parameter `x-request-id=<uuid v4>` to each request.
    pub send_id: bool,
    /// Zero means no timeout.
    pub connect_timeout: Duration,
    /// Zero means no timeout.
    pub request_timeout: Duration,
    /// A connection idle longer than this is replaced; zero means never.
    pub idle_timeout: Duration,
    pub verify_tls: bool,
    /// Response header names to count (any case; reported lower-case).
    pub track_headers: Vec<String>,
    /// Total requests for the target, spread as evenly as possible over the
    /// replicas (the first `total % replicas` send one more); overrides
    /// `requests_per_replica`. `goto load -n` uses it.
    pub total_requests: Option<u64>,
    /// Where connections go (default: every address of the URL's host).
    pub endpoint: Endpoint,
    /// A load shape: the rate ramps through these stages (from `rate`, or
    /// 0), and the run lasts at most their total.
    pub stages: Option<Stages>,
    /// Speak HTTP/2 (h2c with prior knowledge for http URLs, ALPN h2 for
    /// https): each replica is then a stream, and replicas share connections.
    pub http2: bool,
    /// HTTP/2 only: most replicas (streams) one connection carries, 1 to
    /// [`MAX_STREAMS_PER_CONNECTION`].
    pub streams_per_connection: u32,
    /// gRPC: the call (path and request message, built at plan time by
    /// [`crate::grpc::Descriptors::call`]); the target then speaks HTTP/2
    /// whatever `http2` says, and `method`/`body` are unused.
    pub grpc: Option<GrpcCall>,
    /// HTTP/1.1 only: more URLs with the scheme, host and port of `url`;
    /// each connection's requests go to `url` and these in turn, so every
    /// connection spreads over all the paths (oha's and vegeta's habit).
    pub more_urls: Vec<String>,
}

impl Default for TargetSpec {
    /// The control plane's defaults: GET, 1 replica x 1 request, 10ms delay,
    /// 30s connect and request timeouts, 5m idle timeout, no TLS verification.
    fn default() -> Self {
        TargetSpec {
            name: String::new(),
            method: "GET".into(),
            url: String::new(),
            headers: Vec::new(),
            body: Bytes::new(),
            replicas: 1,
            requests_per_replica: Some(1),
            duration: None,
            rate: None,
            delay: Duration::from_millis(10),
            initial_delay: Duration::ZERO,
            retries: 0,
            retry_delay: Duration::from_secs(1),
            retriable_status: Vec::new(),
            send_id: false,
            connect_timeout: Duration::from_secs(30),
            request_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(300),
            verify_tls: false,
            track_headers: Vec::new(),
            total_requests: None,
            endpoint: Endpoint::Url,
            stages: None,
            http2: false,
            streams_per_connection: MAX_STREAMS_PER_CONNECTION,
            grpc: None,
            more_urls: Vec::new(),
        }
    }
}

impl TargetSpec {
    /// A target with the defaults of [`TargetSpec::default`], validated.
    pub fn try_new(
        name: impl Into<String>,
        url: impl Into<String>,
    ) -> Result<TargetSpec, PlanError> {
        let t = TargetSpec {
            name: name.into(),
            url: url.into(),
            ..TargetSpec::default()
        };
        t.validate()?;
        Ok(t)
    }

    /// Checks everything that does not need the network: name, URL, method,
    /// headers, counts, rate.
    pub fn validate(&self) -> Result<(), PlanError> {
        self.check().map(|_| ())
    }

    /// The request to each of `more_urls`, which must share `url`'s
    /// scheme, host and port (one connection serves them all).
    fn alternates(&self, url: &Url) -> Result<Vec<RequestTemplate>, PlanError> {
        if !self.more_urls.is_empty() && self.http2 {
            return Err(PlanError::MoreUrlsHttp2);
        }
        self.more_urls
            .iter()
            .map(|u| {
                let other = Url::parse(u).map_err(|reason| PlanError::Url {
                    url: u.clone(),
                    reason,
                })?;
                if (other.https, &other.host, other.port) != (url.https, &url.host, url.port) {
                    return Err(PlanError::OtherAuthority(u.clone()));
                }
                RequestTemplate::build(
                    &self.method,
                    &other,
                    &self.headers,
                    &self.body,
                    self.send_id,
                )
            })
            .collect()
    }

    fn check(&self) -> Result<(Url, RequestTemplate), PlanError> {
        if self.name.trim().is_empty() {
            return Err(PlanError::EmptyName);
        }
        let url = Url::parse(&self.url).map_err(|reason| PlanError::Url {
            url: self.url.clone(),
            reason,
        })?;
        if self.headers.len() > MAX_REQUEST_HEADERS {
            return Err(PlanError::TooManyHeaders(self.headers.len()));
        }
        if self.body.len() > MAX_BODY {
            return Err(PlanError::BodyTooLarge(self.body.len()));
        }
        let request =
            RequestTemplate::build(&self.method, &url, &self.headers, &self.body, self.send_id)?;
        if self.replicas == 0 {
            return Err(PlanError::NoReplicas);
        }
        if self.replicas > MAX_REPLICAS {
            return Err(PlanError::TooManyReplicas(self.replicas));
        }
        if self.retries > MAX_RETRIES {
            return Err(PlanError::TooManyRetries(self.retries));
        }
        if let Some(rate) = self.rate {
            if !(rate.is_finite() && rate > 0.0) {
                return Err(PlanError::Rate);
            }
        }
        for h in &self.track_headers {
            if h.is_empty() || !h.bytes().all(is_token) {
                return Err(PlanError::TrackedHeader(h.clone()));
            }
        }
        if !(1..=MAX_STREAMS_PER_CONNECTION).contains(&self.streams_per_connection) {
            return Err(PlanError::Streams(self.streams_per_connection));
        }
        self.alternates(&url)?;
        Ok((url, request))
    }

    /// HTTP/2 connections the target's replicas share; replica `i` uses
    /// connection `i % connections` (1 for HTTP/1.1, where each replica has
    /// its own).
    pub fn connections(&self) -> u32 {
        if self.speaks_h2() {
            self.replicas
                .div_ceil(self.streams_per_connection.max(1))
                .max(1)
        } else {
            self.replicas
        }
    }

    /// Whether the target runs over HTTP/2 (asked for, or gRPC).
    pub fn speaks_h2(&self) -> bool {
        self.http2 || self.grpc.is_some()
    }

    /// True when the target asks for the open model (a positive rate, or stages).
    pub fn is_open(&self) -> bool {
        self.rate.is_some_and(|r| r > 0.0) || self.stages.is_some()
    }

    /// Requests replica `index` sends, if limited by count.
    pub fn requests_for_replica(&self, index: u32) -> Option<u64> {
        match self.total_requests {
            Some(total) => {
                let r = u64::from(self.replicas.max(1));
                Some(total / r + u64::from(u64::from(index) < total % r))
            }
            None => self.requests_per_replica,
        }
    }

    /// The `Host` header given for this target, if any (it names the TLS server too).
    pub fn host_header(&self) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("host"))
            .map(|(_, v)| v.as_str())
    }
}

/// TLS parameters of an https target (also used by the HTTP/2 runner).
#[derive(Debug, Clone)]
pub struct TlsTarget {
    pub config: Arc<ClientConfig>,
    pub server_name: ServerName<'static>,
}

/// A validated target, ready for the workers.
#[derive(Debug)]
pub(crate) struct PreparedTarget {
    pub spec: TargetSpec,
    /// Every address, handed out round robin to new connections (none when
    /// the host did not resolve: each request then counts an error).
    pub endpoints: Endpoints,
    pub request: RequestTemplate,
    /// The requests to `more_urls`, sent in turn after `request`.
    pub alternates: Vec<RequestTemplate>,
    pub head_request: bool,
    pub tls: Option<TlsTarget>,
    /// Lower-case tracked names, as bytes for the parser and as strings for reports.
    pub tracked: Vec<Box<[u8]>>,
    pub tracked_names: Vec<String>,
    /// The rate set while this run goes (open model only).
    pub live_rate: LiveRate,
    /// The HTTP/2 request template, for an HTTP/2 target.
    pub h2: Option<H2Request>,
}

impl PreparedTarget {
    /// The request a connection sends `k`-th: `request`, then each of the
    /// alternates, in turn.
    pub(crate) fn request_at(&self, k: usize) -> &RequestTemplate {
        match k % (self.alternates.len() + 1) {
            0 => &self.request,
            i => &self.alternates[i - 1],
        }
    }

    /// Validates and prepares a target; resolves its host (blocking).
    pub(crate) fn prepare(spec: TargetSpec, tls: &TlsConfigs) -> Result<PreparedTarget, PlanError> {
        let (url, request) = spec.check()?;
        let alternates = spec.alternates(&url)?;
        let tls = if url.https {
            Some(TlsTarget {
                config: if spec.speaks_h2() {
                    tls.get_h2(spec.verify_tls)?
                } else {
                    tls.get(spec.verify_tls)?
                },
                server_name: crate::tls::server_name(&url.host, spec.host_header())?,
            })
        } else {
            None
        };
        let endpoints = Endpoints::new(&spec.endpoint, &url.host, url.port);
        let mut tracked_names: Vec<String> = Vec::new();
        for h in &spec.track_headers {
            let lower = h.to_ascii_lowercase();
            if !tracked_names.contains(&lower) {
                tracked_names.push(lower);
            }
        }
        let tracked = tracked_names.iter().map(|n| n.as_bytes().into()).collect();
        let head_request = spec.method.eq_ignore_ascii_case("HEAD");
        let h2 = if let Some(call) = &spec.grpc {
            Some(grpc_request(&spec, call, &url)?)
        } else if spec.http2 {
            let parts = H2Parts {
                method: &spec.method,
                url: &spec.url,
                headers: &spec.headers,
                body: &spec.body,
                id: if spec.send_id {
                    RequestId::Query
                } else {
                    RequestId::None
                },
            };
            Some(H2Request::prepare(parts, &url)?)
        } else {
            None
        };
        Ok(PreparedTarget {
            h2,
            spec,
            endpoints,
            request,
            alternates,
            head_request,
            tls,
            tracked,
            tracked_names,
            live_rate: LiveRate::default(),
        })
    }
}

/// The HTTP/2 request of a gRPC call: POST to the method's path with the
/// gRPC headers, the target's headers as metadata, the framed message.
fn grpc_request(spec: &TargetSpec, call: &GrpcCall, url: &Url) -> Result<H2Request, PlanError> {
    let mut headers: Vec<(String, String)> = vec![
        ("content-type".into(), "application/grpc".into()),
        ("te".into(), "trailers".into()),
    ];
    if let Some(t) = crate::grpc::timeout_header(spec.request_timeout) {
        headers.push(("grpc-timeout".into(), t));
    }
    headers.extend(
        spec.headers
            .iter()
            .filter(|(k, _)| {
                let k = k.trim();
                !(k.eq_ignore_ascii_case("content-type") || k.eq_ignore_ascii_case("te"))
            })
            .cloned(),
    );
    let url = Url {
        path_and_query: call.path.clone(),
        ..url.clone()
    };
    let parts = H2Parts {
        method: "POST",
        url: &spec.url,
        headers: &headers,
        body: &call.framed,
        id: if spec.send_id {
            RequestId::Header
        } else {
            RequestId::None
        },
    };
    H2Request::prepare(parts, &url)
}

/// Validates a whole plan: at least one target, unique names.
pub(crate) fn validate_plan(plan: &Plan) -> Result<(), PlanError> {
    if plan.targets.is_empty() {
        return Err(PlanError::NoTargets);
    }
    for (i, t) in plan.targets.iter().enumerate() {
        t.validate()?;
        if plan.targets[..i].iter().any(|o| o.name == t.name) {
            return Err(PlanError::DuplicateName(t.name.clone()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn more_urls_share_the_first_urls_destination() {
        let mut t = TargetSpec::try_new("t", "http://127.0.0.1:9/a").unwrap();
        t.more_urls = vec!["http://127.0.0.1:9/b?q=1".into()];
        assert!(t.validate().is_ok());
        t.more_urls = vec!["http://127.0.0.1:10/b".into()];
        assert!(matches!(t.validate(), Err(PlanError::OtherAuthority(_))));
        t.more_urls = vec!["https://127.0.0.1:9/b".into()];
        assert!(matches!(t.validate(), Err(PlanError::OtherAuthority(_))));
        t.more_urls = vec!["http://127.0.0.1:9/b".into()];
        t.http2 = true;
        assert!(matches!(t.validate(), Err(PlanError::MoreUrlsHttp2)));
    }

    #[test]
    fn validation() {
        assert!(TargetSpec::try_new("t", "http://127.0.0.1:1/").is_ok());
        assert_eq!(
            TargetSpec::try_new("", "http://h/").unwrap_err(),
            PlanError::EmptyName
        );
        assert!(matches!(
            TargetSpec::try_new("t", "nope").unwrap_err(),
            PlanError::Url { .. }
        ));
        let bad_rate = TargetSpec {
            rate: Some(0.0),
            ..TargetSpec::try_new("t", "http://h/").unwrap()
        };
        assert_eq!(bad_rate.validate().unwrap_err(), PlanError::Rate);
        let no_replicas = TargetSpec {
            replicas: 0,
            ..TargetSpec::try_new("t", "http://h/").unwrap()
        };
        assert_eq!(no_replicas.validate().unwrap_err(), PlanError::NoReplicas);
        let dup = Plan {
            targets: vec![TargetSpec::try_new("a", "http://h/").unwrap(); 2],
        };
        assert_eq!(
            validate_plan(&dup).unwrap_err(),
            PlanError::DuplicateName("a".into())
        );
    }

    #[test]
    fn total_requests_spread_exactly() {
        let t = TargetSpec {
            replicas: 3,
            total_requests: Some(10),
            ..TargetSpec::default()
        };
        let per: Vec<_> = (0..3).map(|i| t.requests_for_replica(i).unwrap()).collect();
        assert_eq!(per, vec![4, 3, 3]);
    }
}
