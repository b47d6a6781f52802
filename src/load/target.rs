//! Turns `goto load`'s flags into validated engine targets: URLs parsed with
//! the `url` crate (non-ASCII paths percent-encoded, `user:password@` taken
//! as basic auth), the body, headers, and where connections go
//! (`--resolve`, `--connect-to`, `--unix-socket`); several URLs share the
//! connections round robin.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use base64::Engine as _;
use goto_engine::{Bytes, Endpoint, Stages, TargetSpec, MAX_BODY, MAX_STREAMS_PER_CONNECTION};

use super::duration::parse_duration;
use super::flags::LoadArgs;

/// Duration of a run when neither `-n` nor `-d` is given.
const DEFAULT_DURATION: Duration = Duration::from_secs(10);
/// Most URLs `--urls-from-file` may list.
const MAX_URLS: usize = 10_000;

/// A target URL as the CLI understood it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct TargetUrl {
    /// What the engine parses: no userinfo, path percent-encoded.
    pub(super) engine_url: String,
    /// Host without IPv6 brackets, as `--resolve` and `--connect-to` match it.
    pub(super) host: String,
    pub(super) port: u16,
    pub(super) https: bool,
    /// `user:password` from the URL, percent-decoded.
    pub(super) credentials: Option<String>,
}

/// Parses an http or https URL.
pub(super) fn parse_url(s: &str) -> Result<TargetUrl, String> {
    let s = s.trim();
    // `host:port/` parses as a relative URL or as scheme `host`: name the
    // real mistake (no scheme) and the fix instead of the parser's words.
    if !s.contains("://") {
        return Err(format!(
            "missing http:// or https:// in {s:?} (try http://{s})"
        ));
    }
    let u = url::Url::parse(s).map_err(|e| format!("invalid URL {s:?}: {e}"))?;
    let https = match u.scheme() {
        "http" => false,
        "https" => true,
        other => {
            return Err(format!(
                "invalid URL {s:?}: scheme {other:?} is not http or https"
            ))
        }
    };
    let host = match u.host() {
        Some(url::Host::Domain(d)) => d.to_string(),
        Some(url::Host::Ipv4(a)) => a.to_string(),
        Some(url::Host::Ipv6(a)) => a.to_string(),
        None => return Err(format!("invalid URL {s:?}: missing host")),
    };
    let port = u
        .port_or_known_default()
        .ok_or_else(|| format!("invalid URL {s:?}: missing port"))?;
    let credentials = if u.username().is_empty() && u.password().is_none() {
        None
    } else {
        let dec = |p: &str| {
            percent_encoding::percent_decode_str(p)
                .decode_utf8_lossy()
                .into_owned()
        };
        Some(format!(
            "{}:{}",
            dec(u.username()),
            dec(u.password().unwrap_or(""))
        ))
    };
    // host_str keeps IPv6 brackets; port() is only a non-default port.
    let authority = match u.port() {
        Some(p) => format!("{}:{p}", u.host_str().unwrap_or_default()),
        None => u.host_str().unwrap_or_default().to_string(),
    };
    let query = u.query().map(|q| format!("?{q}")).unwrap_or_default();
    Ok(TargetUrl {
        engine_url: format!("{}://{authority}{}{query}", u.scheme(), u.path()),
        host,
        port,
        https,
        credentials,
    })
}

/// The URLs of the run: the positional one or the lines of the file.
pub(super) fn urls(args: &LoadArgs) -> Result<Vec<TargetUrl>, String> {
    let raw: Vec<String> = match (&args.url, &args.urls_from_file) {
        (Some(u), _) => vec![u.clone()],
        (None, Some(path)) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(String::from)
                .collect()
        }
        (None, None) => return Err("a URL or --urls-from-file is required".into()),
    };
    if raw.is_empty() {
        return Err("the URL file lists no URL".into());
    }
    if raw.len() > MAX_URLS {
        return Err(format!("at most {MAX_URLS} URLs, got {}", raw.len()));
    }
    raw.iter().map(|u| parse_url(u)).collect()
}

/// A `--resolve HOST:PORT:ADDR[,ADDR]` rule.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ResolveRule {
    host: String,
    port: u16,
    addrs: Vec<SocketAddr>,
}

fn parse_resolve(s: &str) -> Result<ResolveRule, String> {
    let bad = |why: &str| format!("--resolve {s:?}: {why} (want HOST:PORT:ADDR[,ADDR])");
    let (host, rest) = split_host(s).ok_or_else(|| bad("missing port"))?;
    let (port, addrs) = rest.split_once(':').ok_or_else(|| bad("missing address"))?;
    let port: u16 = port.parse().map_err(|_| bad("invalid port"))?;
    let addrs = addrs
        .split(',')
        .map(|a| {
            let a = a.trim().trim_start_matches('[').trim_end_matches(']');
            a.parse::<IpAddr>()
                .map(|ip| SocketAddr::new(ip, port))
                .map_err(|_| bad(&format!("invalid address {a:?}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if host.is_empty() {
        return Err(bad("missing host"));
    }
    Ok(ResolveRule {
        host: host.to_string(),
        port,
        addrs,
    })
}

/// A `--connect-to HOST1:PORT1:HOST2:PORT2` rule (empty parts as curl).
#[derive(Debug, Clone, PartialEq, Eq)]
struct ConnectRule {
    from_host: String,
    from_port: Option<u16>,
    to_host: String,
    to_port: Option<u16>,
}

fn parse_connect_to(s: &str) -> Result<ConnectRule, String> {
    let bad = |why: &str| format!("--connect-to {s:?}: {why} (want HOST1:PORT1:HOST2:PORT2)");
    let port = |p: &str| -> Result<Option<u16>, String> {
        if p.is_empty() {
            Ok(None)
        } else {
            p.parse().map(Some).map_err(|_| bad("invalid port"))
        }
    };
    let (h1, rest) = split_host(s).ok_or_else(|| bad("missing parts"))?;
    let (p1, rest) = rest.split_once(':').ok_or_else(|| bad("missing parts"))?;
    let (h2, p2) = split_host(rest).ok_or_else(|| bad("missing parts"))?;
    Ok(ConnectRule {
        from_host: h1.to_string(),
        from_port: port(p1)?,
        to_host: h2.to_string(),
        to_port: port(p2)?,
    })
}

/// Splits `host:rest` where host may be `[v6]`; brackets are removed.
fn split_host(s: &str) -> Option<(&str, &str)> {
    if let Some(v6) = s.strip_prefix('[') {
        let (host, rest) = v6.split_once(']')?;
        Some((host, rest.strip_prefix(':')?))
    } else {
        s.split_once(':')
    }
}

/// Where connections to `url` go under the rules (curl's order: connect-to
/// first, then resolve of the host it leads to).
fn endpoint_for(
    url: &TargetUrl,
    connect: &[ConnectRule],
    resolve: &[ResolveRule],
    unix: Option<&Path>,
) -> Endpoint {
    if let Some(path) = unix {
        return Endpoint::Unix(path.to_path_buf());
    }
    let (mut host, mut port, mut moved) = (url.host.clone(), url.port, false);
    if let Some(rule) = connect.iter().find(|r| {
        (r.from_host.is_empty() || r.from_host.eq_ignore_ascii_case(&url.host))
            && r.from_port.is_none_or(|p| p == url.port)
    }) {
        if !rule.to_host.is_empty() {
            host = rule.to_host.clone();
        }
        port = rule.to_port.unwrap_or(port);
        moved = true;
    }
    if let Some(rule) = resolve
        .iter()
        .find(|r| r.port == port && r.host.eq_ignore_ascii_case(&host))
    {
        return Endpoint::Addrs(rule.addrs.clone());
    }
    if moved {
        Endpoint::Host(host, port)
    } else {
        Endpoint::Url
    }
}

/// The request body from `-b`, `-b @file` or `-D file`.
fn body(args: &LoadArgs) -> Result<Bytes, String> {
    let read = |path: &Path| -> Result<Bytes, String> {
        let meta =
            std::fs::metadata(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        if meta.len() > MAX_BODY as u64 {
            return Err(format!(
                "body file {} is larger than {MAX_BODY} bytes",
                path.display()
            ));
        }
        std::fs::read(path)
            .map(Bytes::from)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))
    };
    match (&args.body, &args.body_file) {
        (_, Some(path)) => read(path),
        (Some(b), None) => match b.strip_prefix('@') {
            Some(path) => read(Path::new(path)),
            None => Ok(Bytes::from(b.clone().into_bytes())),
        },
        (None, None) => Ok(Bytes::new()),
    }
}

/// Headers from `-H`, `-T`, basic auth and `--disable-keepalive`.
fn headers(args: &LoadArgs, credentials: Option<&str>) -> Result<Vec<(String, String)>, String> {
    let mut headers = Vec::with_capacity(args.headers.len() + 3);
    for h in &args.headers {
        let (name, value) = h
            .split_once(':')
            .ok_or_else(|| format!("header {h:?} is not `Name: value`"))?;
        headers.push((name.trim().to_string(), value.trim().to_string()));
    }
    let has = |headers: &[(String, String)], n: &str| {
        headers.iter().any(|(k, _)| k.eq_ignore_ascii_case(n))
    };
    if let Some(t) = &args.content_type {
        if !has(&headers, "content-type") {
            headers.push(("Content-Type".into(), t.clone()));
        }
    }
    let auth = args.basic_auth.as_deref().or(credentials);
    if let Some(a) = auth {
        if !a.contains(':') {
            return Err(format!("basic auth {a:?} is not `user:password`"));
        }
        if !has(&headers, "authorization") {
            let token = base64::engine::general_purpose::STANDARD.encode(a.as_bytes());
            headers.push(("Authorization".into(), format!("Basic {token}")));
        }
    }
    if args.disable_keepalive && !has(&headers, "connection") {
        headers.push(("Connection".into(), "close".into()));
    }
    Ok(headers)
}

/// Turns flags into validated targets, one per group of URLs sharing a
/// connection's destination, with the connections (and `-n`, `-r`) dealt
/// over them round robin.
pub(super) fn build_targets(args: &LoadArgs) -> Result<Vec<TargetSpec>, String> {
    if args.connections == 0 {
        return Err("--connections must be at least 1".into());
    }
    if args.requests == Some(0) {
        return Err("--requests must be at least 1".into());
    }
    if args.cores == Some(0) {
        return Err("--cores must be at least 1".into());
    }
    if args.duration == Some(Duration::ZERO) {
        return Err("--duration must be more than 0 (leave it out to run by -n alone)".into());
    }
    if args.streams.is_some() && !args.http2 && !args.grpc {
        return Err("--streams needs --http2 (or --grpc)".into());
    }
    let streams = args.streams.unwrap_or(MAX_STREAMS_PER_CONNECTION);
    if !(1..=MAX_STREAMS_PER_CONNECTION).contains(&streams) {
        return Err(format!(
            "--streams must be 1 to {MAX_STREAMS_PER_CONNECTION}"
        ));
    }
    let urls = urls(args)?;
    if args.unix_socket.is_some() && (args.http2 || args.grpc || urls.iter().any(|u| u.https)) {
        return Err("--unix-socket takes plain HTTP/1.1 (http URLs, no --http2) only".into());
    }
    let resolve = args
        .resolve
        .iter()
        .map(|s| parse_resolve(s))
        .collect::<Result<Vec<_>, _>>()?;
    let connect = args
        .connect_to
        .iter()
        .map(|s| parse_connect_to(s))
        .collect::<Result<Vec<_>, _>>()?;
    let mut body = body(args)?;
    let grpc = super::grpc::call(args, &body)?;
    if grpc.is_some() {
        // The body was the message's JSON; the call carries its bytes.
        body = Bytes::new();
    }
    let track_headers: Vec<String> = args
        .track_headers
        .iter()
        .flat_map(|h| h.split(','))
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .collect();
    // h2load's habit: with --streams, -c counts connections (replicas are
    // streams).
    let connections = match args.streams {
        Some(m) => args
            .connections
            .checked_mul(m)
            .ok_or("--connections times --streams is too large")?,
        None => args.connections,
    };
    // Fewer requests than connections: extra connections would only idle.
    let connections = match args.requests {
        Some(n) => connections.min(u32::try_from(n).unwrap_or(u32::MAX)),
        None => connections,
    };
    // URLs one connection can serve (same scheme, host, port, credentials
    // and endpoint) form a group whose connections take them in turn per
    // request; connections are dealt over the groups. HTTP/2 keeps one
    // group per URL.
    let endpoint = |u: &TargetUrl| endpoint_for(u, &connect, &resolve, args.unix_socket.as_deref());
    let mut groups: Vec<Vec<&TargetUrl>> = Vec::new();
    for u in &urls {
        let same = |g: &Vec<&TargetUrl>| {
            let f = g[0];
            !args.http2
                && (f.https, &f.host, f.port, &f.credentials)
                    == (u.https, &u.host, u.port, &u.credentials)
                && endpoint(f) == endpoint(u)
        };
        match groups.iter_mut().find(|g| same(g)) {
            Some(g) => g.push(u),
            None => groups.push(vec![u]),
        }
    }
    let n = groups.len() as u32;
    if connections < n {
        return Err(format!(
            "{n} URLs on different hosts (or ports) need at least {n} connections (-c), \
             got {connections}"
        ));
    }
    let stages = match &args.stages {
        Some(text) => {
            if args.duration.is_some() {
                return Err("--stages sets the run's duration (their sum); drop -d".into());
            }
            if n > 1 {
                return Err("--stages takes one URL, not --urls-from-file".into());
            }
            Some(
                Stages::parse(text, args.rate.unwrap_or(0.0), parse_duration)
                    .map_err(|e| e.to_string())?,
            )
        }
        None => None,
    };
    let duration = match (args.duration, args.requests, &stages) {
        (_, _, Some(s)) => Some(s.total()),
        (Some(d), _, None) => Some(d),
        (None, None, None) => Some(DEFAULT_DURATION),
        (None, Some(_), None) => None,
    };
    let mut out = Vec::with_capacity(groups.len());
    for (i, group) in groups.iter().enumerate() {
        let url = group[0];
        let i = i as u32;
        // Connection c goes to group c mod n.
        let replicas = connections / n + u32::from(i < connections % n);
        // Connection c sends total/connections (+1 for the first total%connections).
        let total = args.requests.map(|total| {
            let c = u64::from(connections);
            (0..u64::from(replicas))
                .map(|k| u64::from(i) + k * u64::from(n))
                .map(|conn| total / c + u64::from(conn < total % c))
                .sum::<u64>()
        });
        let spec = TargetSpec {
            name: if i == 0 {
                "load".into()
            } else {
                format!("load-{}", i + 1)
            },
            method: args.method.clone(),
            url: url.engine_url.clone(),
            headers: headers(args, url.credentials.as_deref())?,
            body: body.clone(),
            replicas,
            requests_per_replica: None,
            total_requests: total,
            duration,
            rate: args
                .rate
                .map(|r| r * f64::from(replicas) / f64::from(connections)),
            delay: Duration::ZERO,
            connect_timeout: args.connect_timeout.0,
            request_timeout: args.timeout.0,
            idle_timeout: Duration::ZERO,
            verify_tls: !args.insecure,
            track_headers: track_headers.clone(),
            endpoint: endpoint(url),
            more_urls: group[1..].iter().map(|u| u.engine_url.clone()).collect(),
            stages: stages.clone(),
            http2: args.http2 || grpc.is_some(),
            streams_per_connection: streams,
            grpc: grpc.clone(),
            send_id: args.send_id,
            ..TargetSpec::default()
        };
        spec.validate().map_err(|e| e.to_string())?;
        out.push(spec);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_normalised() {
        let u = parse_url("http://me:p%40ss@Example.com:8080/caf\u{e9}?q=1#frag").unwrap();
        assert_eq!(u.engine_url, "http://example.com:8080/caf%C3%A9?q=1");
        assert_eq!(u.credentials.as_deref(), Some("me:p@ss"));
        assert_eq!((u.host.as_str(), u.port), ("example.com", 8080));
        let v6 = parse_url("https://[::1]/").unwrap();
        assert_eq!((v6.host.as_str(), v6.port, v6.https), ("::1", 443, true));
        assert_eq!(v6.engine_url, "https://[::1]/");
        assert!(parse_url("ftp://h/").is_err());
        assert!(parse_url("not a url").is_err());
    }

    #[test]
    fn resolve_and_connect_to_rules() {
        let r = parse_resolve("name:80:127.0.0.1,[::1]").unwrap();
        assert_eq!(r.addrs.len(), 2);
        assert_eq!(r.addrs[1], "[::1]:80".parse().unwrap());
        assert!(parse_resolve("name:80").is_err());
        assert!(parse_resolve("name:x:127.0.0.1").is_err());
        let c = parse_connect_to("::127.0.0.1:9000").unwrap();
        assert_eq!(c.from_host, "");
        assert_eq!(c.to_port, Some(9000));
        let url = parse_url("http://svc:80/").unwrap();
        assert_eq!(
            endpoint_for(&url, &[c], &[], None),
            Endpoint::Host("127.0.0.1".into(), 9000)
        );
        assert_eq!(
            endpoint_for(&url, &[], std::slice::from_ref(&r), None),
            Endpoint::Url,
            "port differs"
        );
        let r80 = parse_resolve("svc:80:127.0.0.2").unwrap();
        assert_eq!(
            endpoint_for(&url, &[], &[r80], None),
            Endpoint::Addrs(vec!["127.0.0.2:80".parse().unwrap()])
        );
    }
}
