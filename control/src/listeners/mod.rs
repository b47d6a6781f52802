//! Listeners: the ports this instance serves, each with its own state. Ports
//! can be added, closed (connections refused), reopened and removed at run
//! time (`/listeners/...`); [`serve`] accepts their connections and splits
//! admin calls from runtime traffic.

pub mod conn_guard;
mod host;
pub mod port_prefix;
pub mod routes;
pub mod serve;
pub mod tcp_routes;
pub mod tls;

use std::collections::BTreeMap;
use std::sync::Arc;

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::chaos::tcp::{TcpFields, TcpSpec, TcpState};
use crate::error::ApiError;
use crate::port::{Label, PortSetup, PortState};
pub use host::Host;
use serve::{start, start_tcp};
use tls::ServerTls;

struct Entry {
    state: Arc<PortState>,
    protocol: String,
    startup: bool,
    /// `https` listeners: the acceptor, kept across close and reopen.
    tls: Option<Arc<ServerTls>>,
    /// Present while open; sending `true` closes the listener and its connections.
    close: Option<watch::Sender<bool>>,
    /// `tcp` listeners: their mode or upstream, toxics and counts.
    tcp: Option<Arc<TcpState>>,
}

#[derive(Default)]
pub struct Listeners {
    inner: Mutex<BTreeMap<u16, Entry>>,
}

#[derive(Serialize)]
pub struct ListenerView {
    port: u16,
    protocol: String,
    label: String,
    open: bool,
    startup: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    mode: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    upstream: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddListener {
    port: u16,
    #[serde(default)]
    protocol: Option<String>,
    #[serde(default)]
    label: Option<String>,
    #[serde(default)]
    open: Option<bool>,
    /// `https`: PEM certificate chain and key; a self-signed certificate
    /// for this host is made when both are absent.
    #[serde(default)]
    cert: Option<String>,
    #[serde(default)]
    key: Option<String>,
    /// `tcp`: `mode`, or `upstream` (a raw TCP proxy), `payload`, `interval`.
    #[serde(default)]
    mode: Option<String>,
    #[serde(default)]
    upstream: Option<String>,
    #[serde(default)]
    payload: Option<String>,
    #[serde(default)]
    interval: Option<String>,
}

impl AddListener {
    fn tcp_fields(&self) -> TcpFields {
        TcpFields {
            mode: self.mode.clone(),
            upstream: self.upstream.clone(),
            payload: self.payload.clone(),
            interval: self.interval.clone(),
        }
    }
}

/// Why a listener could not be added or opened (at startup or through
/// `/listeners/...`, where it becomes an [`ApiError`]).
#[derive(Debug, thiserror::Error)]
pub enum ListenError {
    #[error("cannot listen on port {port}: {source}")]
    Bind { port: u16, source: std::io::Error },
    #[error("listener {0} already exists")]
    Exists(u16),
    #[error("no listener on port {0}")]
    NoSuch(u16),
    /// A spec the listener cannot be made from (the reason says which part).
    #[error("{0}")]
    Invalid(String),
    /// The listener exists but serves another protocol.
    #[error("listener {port} is not {kind}")]
    NotKind { port: u16, kind: &'static str },
    #[error(transparent)]
    Label(#[from] crate::port::LabelError),
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    #[error(transparent)]
    Tcp(#[from] crate::chaos::tcp::TcpError),
    /// The startup port stays: it is the control port of last resort.
    #[error("cannot {action} the startup listener {port}")]
    Startup { port: u16, action: &'static str },
}

impl From<ListenError> for ApiError {
    fn from(e: ListenError) -> ApiError {
        match e {
            ListenError::Exists(_) => ApiError::Conflict(e.to_string()),
            ListenError::NoSuch(_) | ListenError::NotKind { .. } => {
                ApiError::NotFound(e.to_string())
            }
            ListenError::Bind { .. }
            | ListenError::Invalid(_)
            | ListenError::Label(_)
            | ListenError::Tls(_)
            | ListenError::Tcp(_)
            | ListenError::Startup { .. } => ApiError::BadRequest(e.to_string()),
        }
    }
}

fn invalid(msg: impl Into<String>) -> ListenError {
    ListenError::Invalid(msg.into())
}

/// How an added listener serves.
pub struct ListenerSpec<'a> {
    pub port: u16,
    pub protocol: &'a str,
    pub label: Option<&'a str>,
    pub open: bool,
    pub cert: Option<&'a str>,
    pub key: Option<&'a str>,
    pub tcp: TcpFields,
}

impl Listeners {
    pub fn get(&self, port: u16) -> Option<Arc<PortState>> {
        self.inner.lock().get(&port).map(|e| e.state.clone())
    }

    /// An HTTP (or HTTPS) listener's state; `None` for TCP ones.
    pub fn http(&self, port: u16) -> Option<Arc<PortState>> {
        let inner = self.inner.lock();
        inner
            .get(&port)
            .filter(|e| e.tcp.is_none())
            .map(|e| e.state.clone())
    }

    pub fn ports(&self) -> Vec<u16> {
        self.inner.lock().keys().copied().collect()
    }

    /// Adds a plain listener and starts serving it (the startup port).
    pub fn add_startup<H: Host>(&self, app: &Arc<H>, port: u16) -> Result<(), ListenError> {
        let spec = ListenerSpec {
            port,
            protocol: "http",
            label: None,
            open: true,
            cert: None,
            key: None,
            tcp: TcpFields::default(),
        };
        self.add(app, &spec, true)
    }

    /// Adds a listener and (unless `open` is false) starts serving it.
    pub fn add<H: Host>(
        &self,
        app: &Arc<H>,
        spec: &ListenerSpec<'_>,
        startup: bool,
    ) -> Result<(), ListenError> {
        let (port, protocol, label, open) = (spec.port, spec.protocol, spec.label, spec.open);
        if port == 0 {
            return Err(invalid("port must be 1-65535"));
        }
        if protocol != "tcp" && !spec.tcp.is_empty() {
            return Err(invalid(
                "mode, upstream, payload and interval are for tcp listeners (protocol \"tcp\")",
            ));
        }
        let tcp = match protocol {
            "tcp" => Some(Arc::new(
                TcpState::new(port, TcpSpec::new(&spec.tcp)?).with_max_conns(app.max_conns()),
            )),
            _ => None,
        };
        let tls = match (protocol, spec.cert, spec.key) {
            ("http" | "tcp", None, None) => None,
            ("http", _, _) => {
                return Err(invalid(
                    "cert and key are for https listeners (protocol \"https\")",
                ))
            }
            ("https", None, None) => Some(Arc::new(
                ServerTls::self_signed(app.host())?,
            )),
            ("https", Some(c), Some(k)) => Some(Arc::new(
                ServerTls::from_pem(c, k)?,
            )),
            ("https", _, _) => {
                return Err(invalid(
                    "an https listener needs both cert and key (PEM), or neither for a self-signed one",
                ))
            }
            _ => {
                return Err(invalid(format!(
                    "unsupported listener protocol {protocol:?}: \"http\" (HTTP/1.1 and h2c), \"https\" (TLS with HTTP/1.1 and h2) or \"tcp\" (a mode or an upstream)"
                )))
            }
        };
        // An empty label would send an empty Via-Goto: treat it as unset.
        let label = label.filter(|l| !l.trim().is_empty());
        let label = Label::new(label.unwrap_or(app.label()))?;
        let mut inner = self.inner.lock();
        if inner.contains_key(&port) {
            return Err(ListenError::Exists(port));
        }
        let goto_host = app.host().goto_host(port);
        let state = Arc::new(PortState::new(PortSetup {
            port,
            label,
            default_label: app.label(),
            goto_host: &goto_host,
            request_logs: app.request_logs(),
            out: app.out().clone(),
        }));
        let close = match (open, &tcp) {
            (false, _) => None,
            (true, Some(t)) => Some(start_tcp(t)?),
            (true, None) => Some(start(app, &state, tls.clone())?),
        };
        inner.insert(
            port,
            Entry {
                state,
                protocol: protocol.to_string(),
                startup,
                tls,
                close,
                tcp,
            },
        );
        Ok(())
    }

    pub fn open<H: Host>(&self, app: &Arc<H>, port: u16) -> Result<bool, ListenError> {
        let mut inner = self.inner.lock();
        let e = inner.get_mut(&port).ok_or(ListenError::NoSuch(port))?;
        if e.close.is_some() {
            return Ok(false);
        }
        e.close = Some(match &e.tcp {
            Some(t) => start_tcp(t)?,
            None => start(app, &e.state, e.tls.clone())?,
        });
        Ok(true)
    }

    /// A tcp listener's state; 404 for other listeners.
    pub fn tcp(&self, port: u16) -> Result<Arc<TcpState>, ListenError> {
        let inner = self.inner.lock();
        let e = inner.get(&port).ok_or(ListenError::NoSuch(port))?;
        e.tcp
            .clone()
            .ok_or(ListenError::NotKind { port, kind: "tcp" })
    }

    pub fn close(&self, port: u16) -> Result<bool, ListenError> {
        let mut inner = self.inner.lock();
        let e = inner.get_mut(&port).ok_or(ListenError::NoSuch(port))?;
        // The startup port is the control port of last resort: closing it
        // could leave no way to reach the API (reopen needs a listener).
        if e.startup {
            return Err(ListenError::Startup {
                port,
                action: "close",
            });
        }
        Ok(match e.close.take() {
            Some(tx) => {
                let _ = tx.send(true);
                true
            }
            None => false,
        })
    }

    pub fn remove(&self, port: u16) -> Result<(), ListenError> {
        let mut inner = self.inner.lock();
        match inner.get(&port) {
            None => return Err(ListenError::NoSuch(port)),
            Some(e) if e.startup => {
                return Err(ListenError::Startup {
                    port,
                    action: "remove",
                })
            }
            Some(_) => {}
        }
        if let Some(e) = inner.remove(&port) {
            if let Some(tx) = e.close {
                let _ = tx.send(true);
            }
        }
        Ok(())
    }

    /// The certificate (PEM) an https listener presents.
    pub fn cert_pem(&self, port: u16) -> Result<String, ListenError> {
        let inner = self.inner.lock();
        let e = inner.get(&port).ok_or(ListenError::NoSuch(port))?;
        e.tls
            .as_ref()
            .map(|t| t.cert_pem.clone())
            .ok_or(ListenError::NotKind {
                port,
                kind: "https",
            })
    }

    /// Closes every listener (shutdown).
    pub fn close_all(&self) {
        for e in self.inner.lock().values_mut() {
            if let Some(tx) = e.close.take() {
                let _ = tx.send(true);
            }
        }
    }

    pub fn view(&self) -> BTreeMap<u16, ListenerView> {
        self.inner
            .lock()
            .iter()
            .map(|(p, e)| {
                (
                    *p,
                    ListenerView {
                        port: *p,
                        protocol: e.protocol.clone(),
                        label: e.state.label_text(),
                        open: e.close.is_some(),
                        startup: e.startup,
                        mode: e.tcp.as_ref().map(|t| t.spec.mode_name()),
                        upstream: e
                            .tcp
                            .as_ref()
                            .and_then(|t| t.spec.upstream().map(String::from)),
                    },
                )
            })
            .collect()
    }
}
