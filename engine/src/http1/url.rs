//! A small `http`/`https` URL parser: just what a load target needs (scheme,
//! host, port, path and query); userinfo and non-HTTP schemes are refused.

/// A parsed target URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    pub https: bool,
    /// Host without IPv6 brackets.
    pub host: String,
    pub port: u16,
    /// Path and query as sent on the request line (never empty; starts with `/`).
    pub path_and_query: String,
    /// `host[:port]` for the `Host` header; the port only when not the scheme default.
    pub authority: String,
}

impl Url {
    /// Parses `http://host[:port][/path][?query][#fragment]` (https likewise).
    pub fn parse(s: &str) -> Result<Url, &'static str> {
        let s = s.trim();
        let (https, rest) = if let Some(r) = strip_prefix_ci(s, "http://") {
            (false, r)
        } else if let Some(r) = strip_prefix_ci(s, "https://") {
            (true, r)
        } else if s.contains("://") {
            return Err("scheme must be http or https");
        } else {
            return Err("missing http:// or https://");
        };
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(end);
        if authority.is_empty() {
            return Err("missing host");
        }
        if authority.contains('@') {
            return Err("user info in URLs is not supported");
        }
        let default_port = if https { 443 } else { 80 };
        let (host, port) = split_host_port(authority, default_port)?;
        if host.is_empty() {
            return Err("missing host");
        }
        if host
            .bytes()
            .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
        {
            return Err("invalid host");
        }
        let tail = tail.split('#').next().unwrap_or("");
        if tail
            .bytes()
            .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
        {
            return Err("spaces or control characters in path");
        }
        let path_and_query = if tail.starts_with('/') {
            tail.to_string()
        } else {
            format!("/{tail}")
        };
        let host_for_header = if host.contains(':') {
            format!("[{host}]")
        } else {
            host.clone()
        };
        let authority = if port == default_port {
            host_for_header
        } else {
            format!("{host_for_header}:{port}")
        };
        Ok(Url {
            https,
            host,
            port,
            path_and_query,
            authority,
        })
    }
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

/// Splits `host[:port]` or `[v6][:port]`.
pub(crate) fn split_host_port(
    authority: &str,
    default_port: u16,
) -> Result<(String, u16), &'static str> {
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let close = rest.find(']').ok_or("unclosed [ in host")?;
        let host = &rest[..close];
        let after = &rest[close + 1..];
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p),
            None if after.is_empty() => None,
            None => return Err("invalid host"),
        };
        // Only an IPv6 address goes in brackets.
        if !host.contains(':') || host.contains('[') {
            return Err("invalid host");
        }
        (host, port)
    } else {
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        };
        // A colon or bracket left in the host is an IPv6 address without its
        // brackets (or garbage): it would make a Host header that means
        // something else.
        if host.contains([':', '[', ']']) {
            return Err("invalid host (an IPv6 address needs brackets)");
        }
        (host, port)
    };
    let port = match port {
        None | Some("") => default_port,
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|p| *p != 0)
            .ok_or("invalid port")?,
    };
    Ok((host.to_string(), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Broke the url fuzz target's round trip: `http://a]:b:80` was accepted with host
    /// `a]:b`, sent as `Host: [a]:b]`, which reads back as another host.
    #[test]
    fn unbracketed_colon_or_bracket_in_host_is_refused() {
        for bad in [
            "http://a]:b:80/",
            "http://a:b:80/",
            "http://::1:80/",
            "http://a[b/",
        ] {
            assert!(Url::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(Url::parse("http://[::1]/").unwrap().authority, "[::1]");
    }

    #[test]
    fn parses_common_shapes() {
        let u = Url::parse("http://127.0.0.1:8080/a/b?x=1#frag").unwrap();
        assert_eq!(
            (u.https, u.host.as_str(), u.port),
            (false, "127.0.0.1", 8080)
        );
        assert_eq!(u.path_and_query, "/a/b?x=1");
        assert_eq!(u.authority, "127.0.0.1:8080");
        let u = Url::parse("https://example.com").unwrap();
        assert_eq!(
            (u.port, u.path_and_query.as_str(), u.authority.as_str()),
            (443, "/", "example.com")
        );
        let u = Url::parse("http://[::1]:9/?q").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.authority.as_str()),
            ("::1", 9, "[::1]:9")
        );
        assert_eq!(Url::parse("HTTP://h?x").unwrap().path_and_query, "/?x");
    }

    #[test]
    fn refuses_bad_urls() {
        for bad in [
            "",
            "localhost:80",
            "ftp://x",
            "http://",
            "http://h:0",
            "http://h:99999",
            "http://u@h",
            "http://h/a b",
            "http://[h]:1",
            "http://[a[:b]/",
        ] {
            assert!(Url::parse(bad).is_err(), "{bad}");
        }
    }
}
