//! Checks before a run, so `goto load` fails fast as wrk does: every host
//! resolves, the first connect to each endpoint succeeds (and for https
//! its certificate verifies), the open-files limit fits the connections,
//! `--cores` is capped at the cores available.

use std::net::{SocketAddr, TcpStream};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use goto_engine::{
    check_handshake, client_config, resolve_all, tls_server_name, Endpoint, ErrorKind, TargetSpec,
    TlsConfig,
};

use super::target::parse_url;

/// File descriptors kept free beyond one per connection.
const SPARE_FDS: u64 = 64;
/// Connect timeout of the probe when `--connect-timeout 0` (no timeout) is given.
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the run cannot start.
pub(super) struct Fatal {
    pub(super) message: String,
    /// The transport error the probe met, to show in the report.
    pub(super) error: Option<ErrorKind>,
}

/// Raises the open-files limit to fit `connections`, or says why not.
pub(super) fn fit_open_files(connections: u64) -> Result<(), String> {
    let needed = connections + SPARE_FDS;
    match goto_engine::raise_nofile_limit(needed) {
        Ok(got) if got >= needed => Ok(()),
        Ok(got) => Err(format!(
            "{connections} connections need {needed} open files but the limit is {got} \
             (raise `ulimit -n` or lower -c)"
        )),
        Err(e) => Err(format!(
            "{connections} connections need {needed} open files; cannot raise the limit: {e}"
        )),
    }
}

/// `--cores` capped at what this process may use (cgroup quota included,
/// as `available_parallelism` reads it); returns the cap when it applied.
pub(super) fn cap_cores(asked: Option<usize>) -> (Option<usize>, Option<usize>) {
    let available = std::thread::available_parallelism().map_or(1, |n| n.get());
    match asked {
        Some(n) if n > available => (Some(available), Some(available)),
        other => (other, None),
    }
}

/// Resolves and connects once to each distinct endpoint of `targets`; for
/// https, handshakes once, so a certificate that fails verification stops
/// the run at once (every connect would fail the same way).
pub(super) fn probe(
    targets: &[TargetSpec],
    connect_timeout: Duration,
    tls: &TlsConfig,
) -> Result<(), Fatal> {
    let timeout = if connect_timeout.is_zero() {
        PROBE_TIMEOUT
    } else {
        connect_timeout
    };
    let mut seen: Vec<(Endpoint, String, u16)> = Vec::new();
    for t in targets {
        let Ok(url) = parse_url(&t.url) else {
            continue;
        };
        let key = (t.endpoint.clone(), url.host.clone(), url.port);
        if seen.contains(&key) {
            continue;
        }
        seen.push(key);
        let sock = match &t.endpoint {
            Endpoint::Unix(path) => {
                // Plain http only: nothing to verify.
                if let Err(e) = UnixStream::connect(path) {
                    return Err(Fatal {
                        message: format!("cannot connect to {}: {e}", path.display()),
                        error: Some(ErrorKind::from_connect(&e)),
                    });
                }
                continue;
            }
            Endpoint::Addrs(addrs) => connect_any(addrs, timeout)?,
            Endpoint::Url => connect_name(&url.host, url.port, timeout)?,
            Endpoint::Host(h, p) => connect_name(h, *p, timeout)?,
        };
        if url.https {
            verify_tls(sock, t, &url.host, tls, timeout)?;
        }
    }
    Ok(())
}

/// Fails when the server's certificate is refused; other handshake
/// troubles are left to the run, which counts them per attempt.
fn verify_tls(
    sock: TcpStream,
    t: &TargetSpec,
    host: &str,
    tls: &TlsConfig,
    timeout: Duration,
) -> Result<(), Fatal> {
    let alpn: &[&[u8]] = if t.http2 { &[b"h2"] } else { &[b"http/1.1"] };
    let (Ok(config), Ok(name)) = (
        client_config(tls, t.verify_tls, alpn),
        tls_server_name(host, t.host_header()),
    ) else {
        // The engine reports a bad configuration or name itself.
        return Ok(());
    };
    let peer = sock
        .peer_addr()
        .map_or_else(|_| host.to_string(), |a| a.to_string());
    match check_handshake(sock, config, name, timeout) {
        Err(kind) if kind.is_verification() => Err(Fatal {
            message: format!(
                "TLS handshake with {peer} failed: {kind}; use -k (--insecure) to skip \
                 verification, or --cacert FILE to trust the server's CA"
            ),
            error: Some(ErrorKind::Tls(kind)),
        }),
        _ => Ok(()),
    }
}

fn connect_name(host: &str, port: u16, timeout: Duration) -> Result<TcpStream, Fatal> {
    let addrs = resolve_all(host, port);
    if addrs.is_empty() {
        return Err(Fatal {
            message: format!("cannot resolve host {host:?}"),
            error: Some(ErrorKind::Resolve),
        });
    }
    connect_any(&addrs, timeout)
}

/// Succeeds when any address accepts a connection (the engine likewise
/// moves on to the next address after a refused one).
fn connect_any(addrs: &[SocketAddr], timeout: Duration) -> Result<TcpStream, Fatal> {
    let mut last = None;
    for a in addrs {
        match TcpStream::connect_timeout(a, timeout) {
            Ok(s) => return Ok(s),
            Err(e) => last = Some((a, e)),
        }
    }
    Err(match last {
        Some((a, e)) => Fatal {
            message: format!("cannot connect to {a}: {e}"),
            error: Some(ErrorKind::from_connect(&e)),
        },
        None => Fatal {
            message: "no address to connect to".into(),
            error: Some(ErrorKind::Resolve),
        },
    })
}
