//! Where a target's connections go: every address of its host (IPv4 and
//! IPv6), handed out round robin, one per new connection; fixed addresses
//! (`--resolve`), another host (`--connect-to`) or a Unix socket.
//!
//! A host name is resolved once when the plan is prepared (blocking, on the
//! caller's thread). After [`RESOLVE_TTL`], the next connect starts one
//! background thread that resolves again and swaps the list in; workers keep
//! using the old list meanwhile, so DNS never blocks a worker's ring.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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
#[derive(Debug)]
struct Dns {
    host: String,
    port: u16,
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
        let kind = match endpoint {
            Endpoint::Url => Kind::Dns(Arc::new(Dns::new(host, port))),
            Endpoint::Host(h, p) => Kind::Dns(Arc::new(Dns::new(h, *p))),
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

impl Dns {
    fn new(host: &str, port: u16) -> Dns {
        Dns {
            host: host.to_string(),
            port,
            current: Mutex::new((resolve_all(host, port), Instant::now())),
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
                let fresh = resolve_all(&d.host, d.port);
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
/// followed by the next one on connect anyway), duplicates dropped.
pub fn resolve_all(host: &str, port: u16) -> Arc<[SocketAddr]> {
    let Ok(found) = (host, port).to_socket_addrs() else {
        return Arc::from(Vec::new());
    };
    let mut out: Vec<SocketAddr> = Vec::new();
    for a in found {
        if !out.contains(&a) {
            out.push(a);
        }
    }
    out.sort_by_key(|a| a.is_ipv6());
    out.into()
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
        let none = Endpoints::new(&Endpoint::Url, "no-such-host.invalid", 80);
        assert!(none.pick().is_none());
        let mut quick = Endpoints::new(&Endpoint::Url, "127.0.0.1", 80);
        quick.ttl = Duration::ZERO;
        // A refresh runs in the background; the old list keeps serving.
        assert!(quick.pick().is_some());
        assert!(quick.pick().is_some());
    }
}
