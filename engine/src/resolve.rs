//! Where a target's connections go: every address of its host (IPv4 and
//! IPv6), handed out round robin, one per new connection; fixed addresses
//! (`--resolve`), another host (`--connect-to`) or a Unix socket.
//!
//! A host name is resolved once when the plan is prepared (blocking, on the
//! caller's thread). After [`RESOLVE_TTL`], the next connect starts one
//! background thread that resolves again and swaps the list in; workers keep
//! using the old list meanwhile, so DNS never blocks a worker's ring.
//!
//! `GOTO_HOSTS_FILE=PATH` makes names resolve from that hosts(5) file only,
//! never through the system resolver: hermetic runs, and tests that need a
//! name to fail without a lookup leaving the machine.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The variable naming a hosts file that replaces the system resolver.
pub const HOSTS_FILE_VAR: &str = "GOTO_HOSTS_FILE";

/// How a name becomes addresses (the system's, or a test's).
pub(crate) type Resolver = Arc<dyn Fn(&str, u16) -> Vec<SocketAddr> + Send + Sync>;

/// How long a resolved address list is used before it is refreshed.
pub const RESOLVE_TTL: Duration = Duration::from_secs(30);

/// Where a target connects, when not simply to its URL's host and port.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Endpoint {
    /// The URL's host and port, resolved to all its addresses.
    #[default]
    Url,
    /// Another host and port, resolved likewise (curl's `--connect-to`).
    Host(String, u16),
    /// These addresses, never resolved (curl's `--resolve`).
    Addrs(Vec<SocketAddr>),
    /// A Unix domain socket path; the URL still gives `Host` and the path.
    Unix(PathBuf),
}

/// Where one new connection goes.
#[derive(Debug, Clone)]
pub(crate) enum Dest {
    /// Try `addrs[start]` first, then the others in turn.
    Tcp {
        addrs: Arc<[SocketAddr]>,
        start: usize,
    },
    Unix(Arc<PathBuf>),
}

/// A name resolved to a list that is refreshed in the background.
struct Dns {
    host: String,
    port: u16,
    resolver: Resolver,
    /// The current list and when it was resolved.
    current: Mutex<(Arc<[SocketAddr]>, Instant)>,
    refreshing: AtomicBool,
}

#[derive(Debug)]
enum Kind {
    Fixed(Arc<[SocketAddr]>),
    Dns(Arc<Dns>),
    Unix(Arc<PathBuf>),
}

/// A target's addresses, shared by every core's replicas.
#[derive(Debug)]
pub(crate) struct Endpoints {
    kind: Kind,
    next: AtomicUsize,
    ttl: Duration,
}

impl Endpoints {
    /// Resolves `endpoint` (blocking) for a URL's `host` and `port`.
    pub(crate) fn new(endpoint: &Endpoint, host: &str, port: u16) -> Endpoints {
        Self::with_resolver(endpoint, host, port, Arc::new(lookup))
    }

    /// Like [`Endpoints::new`], names resolved by `resolver`.
    pub(crate) fn with_resolver(
        endpoint: &Endpoint,
        host: &str,
        port: u16,
        resolver: Resolver,
    ) -> Endpoints {
        let kind = match endpoint {
            Endpoint::Url => Kind::Dns(Arc::new(Dns::new(host, port, resolver))),
            Endpoint::Host(h, p) => Kind::Dns(Arc::new(Dns::new(h, *p, resolver))),
            Endpoint::Addrs(a) => Kind::Fixed(a.clone().into()),
            Endpoint::Unix(p) => Kind::Unix(Arc::new(p.clone())),
        };
        Endpoints {
            kind,
            next: AtomicUsize::new(0),
            ttl: RESOLVE_TTL,
        }
    }

    /// The first address, if any.
    #[cfg(test)]
    fn first(&self) -> Option<SocketAddr> {
        match &self.kind {
            Kind::Fixed(a) => a.first().copied(),
            Kind::Dns(d) => d.list().0.first().copied(),
            Kind::Unix(_) => None,
        }
    }

    /// Where the next connection goes; `None` when the name resolves to
    /// nothing (a refresh is then under way, if the TTL allows).
    pub(crate) fn pick(&self) -> Option<Dest> {
        let addrs = match &self.kind {
            Kind::Unix(p) => return Some(Dest::Unix(p.clone())),
            Kind::Fixed(a) => a.clone(),
            Kind::Dns(d) => {
                let (list, at) = d.list();
                if at.elapsed() >= self.ttl {
                    Dns::refresh_in_background(d);
                }
                list
            }
        };
        if addrs.is_empty() {
            return None;
        }
        let start = self.next.fetch_add(1, Ordering::Relaxed) % addrs.len();
        Some(Dest::Tcp { addrs, start })
    }
}

impl std::fmt::Debug for Dns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dns")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("current", &self.current)
            .finish_non_exhaustive()
    }
}

impl Dns {
    fn new(host: &str, port: u16, resolver: Resolver) -> Dns {
        Dns {
            host: host.to_string(),
            port,
            current: Mutex::new((ordered(resolver(host, port)), Instant::now())),
            resolver,
            refreshing: AtomicBool::new(false),
        }
    }

    fn list(&self) -> (Arc<[SocketAddr]>, Instant) {
        let g = self.current.lock().unwrap_or_else(|e| e.into_inner());
        (g.0.clone(), g.1)
    }

    /// Starts one resolving thread unless one runs already. A failed
    /// resolution keeps the old list (a DNS hiccup must not empty it).
    fn refresh_in_background(dns: &Arc<Dns>) {
        if dns.refreshing.swap(true, Ordering::AcqRel) {
            return;
        }
        let d = dns.clone();
        let spawned = std::thread::Builder::new()
            .name("goto-resolve".into())
            .spawn(move || {
                let fresh = ordered((d.resolver)(&d.host, d.port));
                {
                    let mut g = d.current.lock().unwrap_or_else(|e| e.into_inner());
                    if !fresh.is_empty() {
                        g.0 = fresh;
                    }
                    g.1 = Instant::now();
                }
                d.refreshing.store(false, Ordering::Release);
            });
        if spawned.is_err() {
            // No thread to be had: try again on a later connect.
            dns.refreshing.store(false, Ordering::Release);
        }
    }
}

/// Every address of `host:port`, IPv4 first (loopback names often list
/// `::1` first while servers listen on 127.0.0.1 only; a refused address is
/// followed by the next one on connect anyway), duplicates dropped. With
/// `GOTO_HOSTS_FILE` set, names come from that file only.
pub fn resolve_all(host: &str, port: u16) -> Arc<[SocketAddr]> {
    ordered(lookup(host, port))
}

/// The addresses of `host:port`, as the resolver lists them.
fn lookup(host: &str, port: u16) -> Vec<SocketAddr> {
    let literal = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = literal.parse::<IpAddr>() {
        vec![SocketAddr::new(ip, port)]
    } else if let Some(hosts) = hosts_file() {
        hosts.lookup(host, port)
    } else {
        match (host, port).to_socket_addrs() {
            Ok(found) => found.collect(),
            Err(_) => Vec::new(),
        }
    }
}

/// IPv4 first, duplicates dropped.
fn ordered(found: Vec<SocketAddr>) -> Arc<[SocketAddr]> {
    let mut out: Vec<SocketAddr> = Vec::new();
    for a in found {
        if !out.contains(&a) {
            out.push(a);
        }
    }
    out.sort_by_key(|a| a.is_ipv6());
    out.into()
}

/// Names and their addresses from a hosts(5) file (lower-case names).
#[derive(Debug, Default)]
struct Hosts(HashMap<String, Vec<IpAddr>>);

impl Hosts {
    /// `ADDR NAME [NAME...]` lines; `#` starts a comment; bad lines are skipped.
    fn parse(text: &str) -> Hosts {
        let mut map: HashMap<String, Vec<IpAddr>> = HashMap::new();
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or("");
            let mut words = line.split_whitespace();
            let Some(Ok(ip)) = words.next().map(str::parse::<IpAddr>) else {
                continue;
            };
            for name in words {
                map.entry(name.to_ascii_lowercase()).or_default().push(ip);
            }
        }
        Hosts(map)
    }

    fn lookup(&self, host: &str, port: u16) -> Vec<SocketAddr> {
        let name = host.trim_end_matches('.').to_ascii_lowercase();
        self.0
            .get(&name)
            .map(|ips| ips.iter().map(|ip| SocketAddr::new(*ip, port)).collect())
            .unwrap_or_default()
    }
}

/// The `GOTO_HOSTS_FILE` table, read once; an unreadable file resolves
/// nothing (the point of the variable is that no lookup leaves the machine).
fn hosts_file() -> Option<&'static Hosts> {
    static HOSTS: OnceLock<Option<Hosts>> = OnceLock::new();
    HOSTS
        .get_or_init(|| {
            let path = std::env::var_os(HOSTS_FILE_VAR)?;
            Some(Hosts::parse(
                &std::fs::read_to_string(path).unwrap_or_default(),
            ))
        })
        .as_ref()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_addresses_round_robin() {
        let addrs: Vec<SocketAddr> = ["127.0.0.1:1", "127.0.0.2:1", "127.0.0.3:1"]
            .iter()
            .filter_map(|s| s.parse().ok())
            .collect();
        let e = Endpoints::new(&Endpoint::Addrs(addrs.clone()), "x", 1);
        let starts: Vec<SocketAddr> = (0..4)
            .filter_map(|_| match e.pick() {
                Some(Dest::Tcp { addrs, start }) => Some(addrs[start]),
                _ => None,
            })
            .collect();
        assert_eq!(starts, vec![addrs[0], addrs[1], addrs[2], addrs[0]]);
    }

    #[test]
    fn names_resolve_ipv4_first_and_refresh() {
        let e = Endpoints::new(&Endpoint::Url, "127.0.0.1", 80);
        assert_eq!(e.first(), "127.0.0.1:80".parse().ok());
        // "Unresolvable" through an injected resolver: no lookup leaves the
        // machine (issue 24 row 12).
        let calls = Arc::new(AtomicUsize::new(0));
        let answers: Arc<Mutex<Vec<&str>>> = Arc::new(Mutex::new(Vec::new()));
        let resolver: Resolver = {
            let (calls, answers) = (calls.clone(), answers.clone());
            Arc::new(move |host: &str, port: u16| {
                assert_eq!((host, port), ("svc.test", 80));
                calls.fetch_add(1, Ordering::SeqCst);
                let list = answers.lock().unwrap_or_else(|e| e.into_inner());
                list.iter().filter_map(|a| a.parse().ok()).collect()
            })
        };
        let set = |list: &[&'static str]| {
            *answers.lock().unwrap_or_else(|e| e.into_inner()) = list.to_vec();
        };
        let none = Endpoints::with_resolver(&Endpoint::Url, "svc.test", 80, resolver.clone());
        assert!(none.pick().is_none());
        set(&["[::1]:80", "127.0.0.2:80", "127.0.0.2:80"]);
        let mut quick = Endpoints::with_resolver(&Endpoint::Url, "svc.test", 80, resolver);
        assert_eq!(quick.first(), "127.0.0.2:80".parse().ok(), "IPv4 first");
        // A refresh runs in the background; a failed one keeps the old list.
        set(&[]);
        let before = calls.load(Ordering::SeqCst);
        quick.ttl = Duration::ZERO;
        assert!(quick.pick().is_some());
        let deadline = Instant::now() + Duration::from_secs(10);
        while calls.load(Ordering::SeqCst) == before && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(calls.load(Ordering::SeqCst) > before, "no refresh ran");
        assert!(quick.pick().is_some(), "a failed refresh emptied the list");
    }

    #[test]
    fn hosts_files_resolve_listed_names_only() {
        let h = Hosts::parse(
            "# comment\n127.0.0.1 Known.Test other.test # trailing\n::1 known.test\nbad line\n",
        );
        let addrs = |n: &str| h.lookup(n, 8080);
        assert_eq!(addrs("known.test").len(), 2);
        assert_eq!(addrs("KNOWN.test."), addrs("known.test"));
        assert_eq!(
            addrs("other.test"),
            vec![SocketAddr::from(([127, 0, 0, 1], 8080))]
        );
        assert!(addrs("no-such-host.invalid").is_empty());
        assert!(addrs("bad").is_empty());
        // Literals never reach a resolver.
        assert_eq!(
            resolve_all("[::1]", 1).first(),
            Some(&SocketAddr::from(([0u16, 0, 0, 0, 0, 0, 0, 1], 1)))
        );
    }
}
