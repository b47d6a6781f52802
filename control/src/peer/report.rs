//! The peer's reports to its registry's locker: what changed in the client
//! results since the last report, every [`REPORT_EVERY`] once registered.

use std::collections::BTreeSet;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use http::{Method, StatusCode};
use serde_json::Value;

use super::{blocking, pause, registry_client, Ctx, Peer, Sent, REGISTRY_TIMEOUT};
use crate::registry::call::{call, seg};
use crate::registry::TIMELINE_KEY;

/// How often results are compared with what the locker last got.
const REPORT_EVERY: Duration = Duration::from_millis(500);

/// Reports results to the locker every [`REPORT_EVERY`] once registered.
pub(super) async fn report_loop(peer: Arc<Peer>) {
    let Some(ctx) = peer.ctx.get() else {
        return;
    };
    let mut rx = peer.stop.subscribe();
    loop {
        if !pause(&mut rx, REPORT_EVERY).await {
            return;
        }
        if peer.registered.load(Ordering::Acquire) {
            report_once(&peer, ctx).await;
        }
    }
}

/// Stores what changed since the last report: `client` (overall results,
/// with histograms so the registry can merge latency), `client_<id>` per
/// invocation (a finished invocation's key is locked once) and
/// `client_timeline_<minute>` (the intervals that ended in that wall-clock
/// minute, with their histograms: only the current minute's key changes, so
/// a long run's timeline is not sent again and again).
pub(super) async fn report_once(peer: &Peer, ctx: &Ctx) {
    let mut sent = peer.sent.lock().await;
    let generation = peer.generation.load(Ordering::Acquire);
    if sent.generation != generation {
        // A new registration: the registry may be new or may have moved the
        // old locker away, so everything is sent again.
        *sent = Sent {
            generation,
            ..Sent::default()
        };
    }
    let mut docs: Vec<(String, String, bool)> = Vec::new();
    let client = peer.setup.client.clone();
    let read = blocking(move || {
        Ok((
            client.results(true),
            client.invocation_results(),
            client.reported_timelines(),
        ))
    })
    .await;
    // Timeline keys held at the locker that this report no longer has
    // (results cleared, or intervals past the bound): removed below.
    let mut stale: BTreeSet<String> = BTreeSet::new();
    match read {
        Ok((overall, invocations, timelines)) => {
            stale = sent
                .data
                .keys()
                .filter(|k| k.starts_with(TIMELINE_KEY))
                .cloned()
                .collect();
            for (minute, chunk) in timelines {
                let key = format!("{TIMELINE_KEY}{minute}");
                stale.remove(&key);
                docs.push((key, text(&chunk), false));
            }
            if !overall.is_empty() || sent.data.contains_key(crate::registry::CLIENT_KEY) {
                docs.push((crate::registry::CLIENT_KEY.into(), text(&overall), false));
            }
            for (id, doc) in invocations {
                let finished = doc.finished.unwrap_or(false);
                docs.push((format!("client_{id}"), text(&doc), finished));
            }
        }
        Err(e) => tracing::debug!(error = %e, "cannot read own results"),
    }
    // Job runs as `job_<id>_<run>`: their results as a JSON array.
    for r in peer.setup.jobs.reports() {
        let runs: Vec<Value> = r.results.iter().map(|x| x.locker_json()).collect();
        let text = Value::Array(runs).to_string();
        docs.push((format!("job_{}_{}", r.id, r.run), text, r.finished));
    }
    let locker = format!(
        "{}/registry/peers/{}/{}/locker",
        ctx.base,
        seg(&ctx.label),
        seg(&ctx.address)
    );
    for key in stale {
        let url = format!("{locker}/remove/{}", seg(&key));
        match call(
            registry_client(peer, ctx),
            Method::POST,
            &url,
            "",
            REGISTRY_TIMEOUT,
        )
        .await
        {
            // Gone either way (a 404: the registry no longer had it).
            Ok(r) if r.status.is_success() || r.status == StatusCode::NOT_FOUND => {
                sent.data.remove(&key);
            }
            Ok(r) => tracing::warn!(key = %key, status = %r.status, "locker refused a removal"),
            Err(e) => tracing::warn!(key = %key, error = %e, "cannot remove from the locker"),
        }
    }
    for (key, text, finished) in docs {
        if sent.data.get(&key) != Some(&text) {
            let url = format!("{locker}/store/{}", seg(&key));
            match call(
                registry_client(peer, ctx),
                Method::POST,
                &url,
                text.clone(),
                REGISTRY_TIMEOUT,
            )
            .await
            {
                Ok(r) if r.status.is_success() => {
                    sent.data.insert(key.clone(), text);
                }
                Ok(r) => {
                    tracing::warn!(key = %key, status = %r.status, "locker refused results");
                    continue;
                }
                Err(e) => {
                    tracing::warn!(key = %key, error = %e, "cannot report results");
                    continue;
                }
            }
        }
        if finished && !sent.locked.contains(&key) {
            let url = format!("{locker}/lock/{}", seg(&key));
            if let Ok(r) = call(
                registry_client(peer, ctx),
                Method::POST,
                &url,
                "",
                REGISTRY_TIMEOUT,
            )
            .await
            {
                if r.status.is_success() {
                    sent.locked.insert(key);
                }
            }
        }
    }
}

fn text<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_default()
}
