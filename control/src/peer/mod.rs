//! The peer side of the registry: register at startup with `--registry`,
//! apply what comes back, remind periodically, report results to the locker
//! with `--locker` (`report`), and deregister at shutdown.
//!
//! What the registry hands out is applied by calling the client and jobs
//! state directly, through the same constructors the admin API validates
//! with; results are read from the client state, not over HTTP.

mod report;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use http::{Method, StatusCode};
use parking_lot::Mutex;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::watch;

use crate::client::target::Target;
use crate::client::Client;
use crate::host::HostInfo;
use crate::jobs::spec::JobInput;
use crate::jobs::Jobs;
use crate::proxy::client::Outbound;
use crate::registry::call::{call, seg, CallError, Caller};
use report::{report_loop, report_once};

/// First wait between registration attempts; doubles up to [`BACKOFF_MAX`].
const BACKOFF_START: Duration = Duration::from_millis(200);
const BACKOFF_MAX: Duration = Duration::from_secs(5);
/// Bound of one call to the registry.
const REGISTRY_TIMEOUT: Duration = Duration::from_secs(5);
/// Shutdown budget: a last report, then deregistration.
const FLUSH_TIMEOUT: Duration = Duration::from_millis(900);
const DEREGISTER_TIMEOUT: Duration = Duration::from_millis(1000);

/// Why the peer side cannot start: the `--registry` URL, or an https
/// registry with no roots to verify it.
#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    #[error("invalid --registry URL {url:?}: {source}")]
    Url {
        url: String,
        source: http::uri::InvalidUri,
    },
    #[error("--registry {0}: want http[s]://host[:port]")]
    Scheme(String),
    #[error("--registry {0}: no host")]
    NoHost(String),
    #[error("--registry {url}: cannot verify its certificate: {reason}")]
    Unverifiable { url: String, reason: String },
}

/// What goes wrong once running (registering, applying what came back);
/// logged, and registration retried.
#[derive(Debug, thiserror::Error)]
enum SyncError {
    #[error(transparent)]
    Call(#[from] CallError),
    #[error("registry answered {status}: {text}")]
    Refused { status: StatusCode, text: String },
    #[error("unreadable registration reply: {0}")]
    Reply(serde_json::Error),
    #[error("internal task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
    /// A target from the registry that does not validate.
    #[error(transparent)]
    Target(#[from] crate::error::ApiError),
    #[error(transparent)]
    Client(#[from] crate::client::error::ClientError),
}

/// Who this instance is to the registry, and where the registry is.
#[derive(Debug, Clone)]
struct Ctx {
    /// `http://host[:port][/prefix]`, no trailing slash.
    base: String,
    label: String,
    address: String,
    /// The registration body.
    info: String,
}

/// What the wiring gives the peer side: where the registry is, who this
/// instance is, and the state registrations are applied to.
pub struct PeerSetup {
    /// `--registry`, when set.
    pub registry: Option<String>,
    /// `--locker`: report client results to the registry's locker.
    pub locker: bool,
    pub remind_interval: Duration,
    /// The instance's label.
    pub label: String,
    pub host: HostInfo,
    /// The port the registry calls this instance's admin API on.
    pub admin_port: u16,
    pub client: Arc<Client>,
    pub jobs: Arc<Jobs>,
    pub out: Outbound,
    /// What goto's calls to the registry carry in `Authorization`
    /// (`--admin-token`).
    pub bearer: Option<http::HeaderValue>,
}

/// This instance's registration state.
pub struct Peer {
    setup: PeerSetup,
    /// Calls to an http registry.
    insecure: Caller,
    /// Calls to an https registry (verified; `Err`: no roots to verify with).
    verifying: Result<Caller, crate::proxy::error::OutboundError>,
    ctx: OnceLock<Ctx>,
    stop: watch::Sender<bool>,
    registered: AtomicBool,
    /// Successful registrations so far; a change tells the reporter that
    /// the registry may have lost what it had.
    generation: AtomicU64,
    /// Names of targets applied from the registry, so a re-registration
    /// does not auto-invoke them again.
    applied: Mutex<BTreeSet<String>>,
    /// What the locker holds, as far as this instance knows.
    sent: tokio::sync::Mutex<Sent>,
}

#[derive(Default)]
struct Sent {
    generation: u64,
    data: BTreeMap<String, String>,
    locked: BTreeSet<String>,
}

impl Peer {
    pub fn new(setup: PeerSetup) -> Peer {
        let bearer = setup.bearer.clone();
        Peer {
            insecure: Caller::new(setup.out.insecure.clone(), bearer.clone()),
            verifying: setup.out.verifying.clone().map(|c| Caller::new(c, bearer)),
            setup,
            ctx: OnceLock::new(),
            stop: watch::channel(false).0,
            registered: AtomicBool::new(false),
            generation: AtomicU64::new(0),
            applied: Mutex::new(BTreeSet::new()),
            sent: tokio::sync::Mutex::new(Sent::default()),
        }
    }
}

/// Checks the `--registry` URL: `http://host[:port][/prefix]`.
pub fn registry_base(url: &str) -> Result<String, PeerError> {
    let uri: http::Uri = url.trim().parse().map_err(|source| PeerError::Url {
        url: url.to_string(),
        source,
    })?;
    let scheme = match uri.scheme_str() {
        Some(s @ ("http" | "https")) => s,
        _ => return Err(PeerError::Scheme(url.to_string())),
    };
    let auth = uri
        .authority()
        .ok_or_else(|| PeerError::NoHost(url.to_string()))?;
    Ok(format!(
        "{scheme}://{auth}{}",
        uri.path().trim_end_matches('/')
    ))
}

/// Starts registration in the background when `--registry` is set.
pub fn start(peer: &Arc<Peer>) -> Result<(), PeerError> {
    let s = &peer.setup;
    let Some(url) = &s.registry else {
        return Ok(());
    };
    let base = registry_base(url)?;
    // An https registry is verified (system roots and --certs): without any
    // roots that cannot work, so say so now rather than retry forever.
    if base.starts_with("https://") {
        if let Err(crate::proxy::error::OutboundError::NoRoots { reason }) = &peer.verifying {
            return Err(PeerError::Unverifiable {
                url: url.clone(),
                reason: reason.clone(),
            });
        }
    }
    let ip = if s.host.ip.contains(':') {
        format!("[{}]", s.host.ip)
    } else {
        s.host.ip.clone()
    };
    let address = format!("{ip}:{}", s.admin_port);
    let info = json!({
        "name": s.label,
        "namespace": s.host.namespace,
        "pod": s.host.name,
        "address": address,
        "instance": uuid::Uuid::new_v4().to_string(),
    })
    .to_string();
    let ctx = Ctx {
        base,
        label: s.label.clone(),
        address,
        info,
    };
    if peer.ctx.set(ctx).is_err() {
        return Ok(());
    }
    let a = peer.clone();
    tokio::spawn(async move { run(a).await });
    if s.locker {
        let a = peer.clone();
        tokio::spawn(async move { report_loop(a).await });
    }
    Ok(())
}

/// Deregisters from the registry, if registered; bounded in time.
pub async fn stop(peer: &Arc<Peer>) {
    let Some(ctx) = peer.ctx.get() else {
        return;
    };
    peer.stop.send_replace(true);
    if !peer.registered.load(Ordering::Acquire) {
        return;
    }
    if peer.setup.locker {
        // The last results of a pod going away are the ones worth keeping.
        let _ = tokio::time::timeout(FLUSH_TIMEOUT, report_once(peer, ctx)).await;
    }
    let url = format!(
        "{}/registry/peers/{}/remove/{}",
        ctx.base,
        seg(&ctx.label),
        seg(&ctx.address)
    );
    match call(
        registry_client(peer, ctx),
        Method::POST,
        &url,
        "",
        DEREGISTER_TIMEOUT,
    )
    .await
    {
        Ok(r) if r.status.is_success() => tracing::info!("deregistered from the registry"),
        Ok(r) => tracing::warn!(status = %r.status, reply = %r.text(), "deregistration refused"),
        Err(e) => tracing::warn!(error = %e, "cannot deregister"),
    }
}

/// The client for calls to the registry: verifying for https (checked at
/// start to be usable).
fn registry_client<'a>(peer: &'a Peer, ctx: &Ctx) -> &'a Caller {
    match &peer.verifying {
        Ok(c) if ctx.base.starts_with("https://") => c,
        _ => &peer.insecure,
    }
}

/// Resolves once stop was asked for.
async fn stopped(rx: &mut watch::Receiver<bool>) {
    let _ = rx.wait_for(|s| *s).await;
}

/// Sleeps `d`; false if stop came first.
async fn pause(rx: &mut watch::Receiver<bool>, d: Duration) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(d) => true,
        _ = stopped(rx) => false,
    }
}

/// Registers (with backoff), applies the reply, then reminds until stopped;
/// a reminder the registry does not recognise means register again.
async fn run(peer: Arc<Peer>) {
    let Some(ctx) = peer.ctx.get() else {
        return;
    };
    let mut rx = peer.stop.subscribe();
    loop {
        let mut delay = BACKOFF_START;
        let reply = loop {
            match register_once(&peer, ctx).await {
                Ok(r) => break r,
                Err(e) => {
                    tracing::warn!(registry = %ctx.base, error = %e, "cannot register; retrying");
                    if !pause(&mut rx, delay).await {
                        return;
                    }
                    delay = (delay * 2).min(BACKOFF_MAX);
                }
            }
        };
        apply(&peer, reply).await;
        peer.registered.store(true, Ordering::Release);
        peer.generation.fetch_add(1, Ordering::AcqRel);
        loop {
            if !pause(&mut rx, peer.setup.remind_interval).await {
                return;
            }
            let url = format!("{}/registry/peers/{}/remember", ctx.base, seg(&ctx.label));
            match call(
                registry_client(&peer, ctx),
                Method::POST,
                &url,
                ctx.info.clone(),
                REGISTRY_TIMEOUT,
            )
            .await
            {
                Ok(r) if r.status.is_success() => {}
                Ok(r) if r.status == StatusCode::NOT_FOUND => {
                    tracing::info!("registry does not know this peer; registering again");
                    peer.registered.store(false, Ordering::Release);
                    break;
                }
                Ok(r) => tracing::warn!(status = %r.status, reply = %r.text(), "reminder refused"),
                Err(e) => tracing::warn!(error = %e, "cannot remind the registry"),
            }
        }
    }
}

/// What a registration answers.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Registration {
    #[serde(default)]
    epoch: u64,
    #[serde(default)]
    targets: Vec<Value>,
    #[serde(default)]
    jobs: Vec<Value>,
    #[serde(default)]
    tracking_headers: Vec<String>,
}

async fn register_once(peer: &Peer, ctx: &Ctx) -> Result<Registration, SyncError> {
    let url = format!("{}/registry/peers/add", ctx.base);
    let r = call(
        registry_client(peer, ctx),
        Method::POST,
        &url,
        ctx.info.clone(),
        REGISTRY_TIMEOUT,
    )
    .await?;
    if !r.status.is_success() {
        return Err(SyncError::Refused {
            status: r.status,
            text: r.text(),
        });
    }
    let reg: Registration = serde_json::from_slice(&r.body).map_err(SyncError::Reply)?;
    tracing::info!(registry = %ctx.base, epoch = reg.epoch, targets = reg.targets.len(), "registered");
    Ok(reg)
}

/// Runs blocking work (starting the engine, reading the cores' counters)
/// off the runtime's threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, SyncError> + Send + 'static,
) -> Result<T, SyncError> {
    tokio::task::spawn_blocking(f).await?
}

/// Applies tracked headers and targets; targets marked `autoInvoke` start
/// as they are added, except ones this instance already got before.
async fn apply(peer: &Peer, reg: Registration) {
    if !reg.tracking_headers.is_empty() {
        match crate::client::header_names(&reg.tracking_headers.join(",")) {
            Ok(names) => peer.setup.client.track(&names),
            Err(e) => tracing::warn!(error = %e, "cannot apply tracked headers"),
        }
    }
    for mut t in reg.targets {
        let name = t
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        // A push can land between the registry's reply and this loop: a
        // target already here was pushed and has started if it was to.
        let pushed = peer.setup.client.has_target(&name);
        let seen = !peer.applied.lock().insert(name.clone()) || pushed;
        if seen {
            if let Some(o) = t.as_object_mut() {
                o.remove("autoInvoke");
            }
        }
        let client = peer.setup.client.clone();
        let added = blocking(move || {
            let target = Target::from_json(t.to_string().as_bytes())?;
            Ok(client.add_target(target)?)
        })
        .await;
        match added {
            Ok(()) => tracing::info!(target = %name, "target from the registry applied"),
            Err(e) => tracing::warn!(target = %name, error = %e, "cannot apply target"),
        }
    }
    for mut j in reg.jobs {
        let id = j
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        // As with targets: an `auto` job runs once per process, not again at
        // every re-registration.
        let seen =
            !peer.applied.lock().insert(format!("job:{id}")) || peer.setup.jobs.contains(&id);
        if seen {
            if let Some(o) = j.as_object_mut() {
                o.remove("auto");
            }
        }
        let added = serde_json::from_value::<JobInput>(j)
            .map_err(|e| format!("invalid job: {e}"))
            .and_then(|input| peer.setup.jobs.add(input).map_err(|e| e.to_string()));
        match added {
            Ok(_) => tracing::info!(job = %id, "job from the registry applied"),
            Err(e) => tracing::warn!(job = %id, error = %e, "cannot apply job"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_urls() {
        assert_eq!(
            registry_base("http://goto-registry").ok().as_deref(),
            Some("http://goto-registry")
        );
        assert_eq!(
            registry_base("http://127.0.0.1:8000/").ok().as_deref(),
            Some("http://127.0.0.1:8000")
        );
        assert_eq!(
            registry_base("https://r:8443/").ok().as_deref(),
            Some("https://r:8443")
        );
        assert!(registry_base("ftp://r")
            .unwrap_err()
            .to_string()
            .contains("http[s]"));
        assert!(registry_base("goto-registry:8000").is_err());
        assert!(registry_base("").is_err());
    }
}
