//! `/registry/...`: peers and epochs, targets and jobs by label (pushed to
//! pods), fan-out of invocations, health checks, and lockers.

use std::sync::Arc;

use super::call::seg;
use super::fanout::{self, Step};
use super::Registry;
use super::{dump, fold_peers, labels, locker_op, no_locker, peers, results, timeline};
use crate::api::{BoxFuture, Req, Table};
use crate::body::{json, ok};
use crate::error::{ApiError, ApiResult};

type H = for<'a> fn(&'a Arc<Registry>, &'a Req<'a>) -> BoxFuture<'a, ApiResult>;

/// Fans one POST out to every pod of `{peer}`; the path is built from the call.
macro_rules! fan {
    ($path:expr) => {{
        let h: H = |reg, q| {
            Box::pin(async move {
                let path: String = $path(q);
                fanout::fan(reg, q.param("peer"), vec![Step::post(path, "")]).await
            })
        };
        h
    }};
}

pub fn table() -> Table<Arc<Registry>> {
    Table::<Arc<Registry>>::new("/registry")
        .post("/registry/peers/add", |reg, q| peers::register(reg, q.body))
        .get("/registry/peers", |reg, _| {
            Ok(json(&peers::peers_json(reg)))
        })
        .post("/registry/peers/clear/epochs", |reg, _| {
            Ok(peers::clear_epochs(reg))
        })
        .post("/registry/peers/clear", |reg, _| {
            reg.inner.lock().peers.clear();
            Ok(ok("All peers cleared"))
        })
        .get_async("/registry/peers/health", |reg, _| {
            Box::pin(async move { Ok(json(&fanout::health(reg, None, None).await)) })
        })
        .post_async("/registry/peers/health/cleanup", |reg, _| {
            Box::pin(fanout::cleanup(reg, None))
        })
        .get("/registry/peers/targets", |reg, _| {
            Ok(json(&labels::all_config(reg, |c| &c.targets)))
        })
        .get("/registry/peers/jobs", |reg, _| {
            Ok(json(&labels::all_config(reg, |c| &c.jobs)))
        })
        .post_async("/registry/peers/targets/invoke/all", |reg, _| {
            Box::pin(fanout::fan_all(
                reg,
                "/client/targets/invoke/all?blocking=N",
            ))
        })
        .post_async("/registry/peers/targets/stop/all", |reg, _| {
            Box::pin(fanout::fan_all(reg, "/client/targets/stop/all"))
        })
        .post_async("/registry/peers/track/headers/{headers}", |reg, q| {
            Box::pin(labels::track(reg, q.param("headers")))
        })
        .get("/registry/peers/lockers", all_lockers)
        .get("/registry/peers/locker", all_lockers)
        .post("/registry/peers/lockers/clear", clear_lockers)
        .post("/registry/peer/lockers/clear", clear_lockers)
        .get_async("/registry/peers/lockers/targets/results", |reg, q| {
            Box::pin(async move {
                let detailed = q.query_flag("detailed")?.unwrap_or(false);
                off_thread(reg, move |a| results::summed_results(a, detailed)).await
            })
        })
        .get_async(
            "/registry/peers/lockers/targets/results/timeline",
            |reg, _| Box::pin(off_thread(reg, timeline::merged_timelines)),
        )
        .get_async("/registry/peers/lockers/targets/results/peers", |reg, q| {
            Box::pin(async move {
                let seconds = q.query_flag("seconds")?.unwrap_or(false);
                off_thread(reg, move |a| fold_peers::peer_views(a, seconds)).await
            })
        })
        .get("/registry/peer/lockers", |reg, _| {
            Ok(dump::stream(reg, dump::Dump::AllFlat))
        })
        .get("/registry/peer/{peer}/locker", |reg, q| {
            let peer = q.param("peer");
            let st = reg.inner.lock();
            let v = st.lockers.label_flat_json(peer);
            v.or_else(|| st.empty_locker(peer))
                .map(|v| json(&v))
                .ok_or_else(|| no_locker(peer))
        })
        .post("/registry/peer/{peer}/locker/clear", clear_label_locker)
        .post("/registry/peers/{peer}/locker/clear", clear_label_locker)
        .post("/registry/peers/{peer}/remember", |reg, q| {
            peers::remember(reg, q.param("peer"), q.body)
        })
        .post("/registry/peers/{peer}/remove/{address}", |reg, q| {
            peers::deregister(reg, q.param("peer"), q.param("address"))
        })
        .get_async("/registry/peers/{peer}/health", |reg, q| {
            Box::pin(fanout::peer_health(reg, q.param("peer"), None))
        })
        .post_async("/registry/peers/{peer}/health/cleanup", |reg, q| {
            Box::pin(fanout::cleanup(reg, Some(q.param("peer"))))
        })
        .get_async("/registry/peers/{peer}/health/{address}", |reg, q| {
            Box::pin(fanout::peer_health(
                reg,
                q.param("peer"),
                Some(q.param("address")),
            ))
        })
        .post_async("/registry/peers/{peer}/targets/add", |reg, q| {
            Box::pin(labels::add_target(reg, q.param("peer"), q.body))
        })
        .post_async("/registry/peers/{peer}/targets/clear", |reg, q| {
            Box::pin(labels::clear_targets(reg, q.param("peer")))
        })
        .get("/registry/peers/{peer}/targets", |reg, q| {
            Ok(json(&labels::label_config(reg, q.param("peer"), |c| {
                &c.targets
            })))
        })
        .post_async(
            "/registry/peers/{peer}/targets/invoke/all",
            fan!(|_: &Req<'_>| "/client/targets/invoke/all?blocking=N".to_string()),
        )
        .post_async(
            "/registry/peers/{peer}/targets/stop/all",
            fan!(|_: &Req<'_>| "/client/targets/stop/all".to_string()),
        )
        .post_async(
            "/registry/peers/{peer}/targets/{targets}/remove",
            |reg, q| {
                Box::pin(labels::remove_targets(
                    reg,
                    q.param("peer"),
                    q.param("targets"),
                ))
            },
        )
        .post_async(
            "/registry/peers/{peer}/targets/{targets}/invoke",
            fan!(|q: &Req<'_>| format!(
                "/client/targets/{}/invoke?blocking=N",
                seg(q.param("targets"))
            )),
        )
        .post_async(
            "/registry/peers/{peer}/targets/{targets}/stop",
            fan!(|q: &Req<'_>| format!("/client/targets/{}/stop", seg(q.param("targets")))),
        )
        .post_async("/registry/peers/{peer}/jobs/add", |reg, q| {
            Box::pin(labels::add_job(reg, q.param("peer"), q.body))
        })
        .post_async("/registry/peers/{peer}/jobs/clear", |reg, q| {
            Box::pin(labels::remove_jobs(reg, q.param("peer"), None))
        })
        .get("/registry/peers/{peer}/jobs", |reg, q| {
            Ok(json(&labels::label_config(reg, q.param("peer"), |c| {
                &c.jobs
            })))
        })
        .post_async(
            "/registry/peers/{peer}/jobs/run/all",
            fan!(|_: &Req<'_>| "/jobs/run/all".to_string()),
        )
        .post_async(
            "/registry/peers/{peer}/jobs/stop/all",
            fan!(|_: &Req<'_>| "/jobs/stop/all".to_string()),
        )
        .post_async(
            "/registry/peers/{peer}/jobs/{jobs}/run",
            fan!(|q: &Req<'_>| format!("/jobs/{}/run", seg(q.param("jobs")))),
        )
        .post_async(
            "/registry/peers/{peer}/jobs/{jobs}/stop",
            fan!(|q: &Req<'_>| format!("/jobs/{}/stop", seg(q.param("jobs")))),
        )
        .post_async("/registry/peers/{peer}/jobs/{jobs}/remove", |reg, q| {
            Box::pin(labels::remove_jobs(
                reg,
                q.param("peer"),
                Some(q.param("jobs")),
            ))
        })
        .get("/registry/peers/{peer}/locker", |reg, q| {
            let peer = q.param("peer");
            let st = reg.inner.lock();
            let v = st.lockers.label_json(peer);
            v.or_else(|| st.empty_locker(peer))
                .map(|v| json(&v))
                .ok_or_else(|| no_locker(peer))
        })
        .get("/registry/peers/{peer}/{address}/locker", |reg, q| {
            let (peer, addr) = (q.param("peer"), q.param("address"));
            let v = reg.inner.lock().lockers.instance_json(peer, addr);
            v.map(|v| json(&v))
                .ok_or_else(|| ApiError::NotFound(format!("no locker for {peer} at {addr}")))
        })
        .post("/registry/peers/{peer}/{address}/locker/clear", |reg, q| {
            let (peer, addr) = (q.param("peer"), q.param("address"));
            let raw = |a: &str, k: &str| reg.raw_text(peer, a, k);
            let cleared = reg
                .inner
                .lock()
                .lockers
                .clear_instance_with(peer, addr, &raw);
            if cleared {
                Ok(ok(format!("Locker cleared for {peer} at {addr}")))
            } else {
                Err(ApiError::NotFound(format!(
                    "no locker for {peer} at {addr}"
                )))
            }
        })
        .post(
            "/registry/peers/{peer}/{address}/locker/store/{key}",
            |reg, q| locker_call(reg, q, "store"),
        )
        .post(
            "/registry/peers/{peer}/{address}/locker/remove/{key}",
            |reg, q| locker_call(reg, q, "remove"),
        )
        .post(
            "/registry/peers/{peer}/{address}/locker/lock/{key}",
            |reg, q| locker_call(reg, q, "lock"),
        )
}

/// Decoding and merging many peers' histograms is CPU work: it runs on
/// tokio's blocking pool so the control thread keeps answering.
async fn off_thread(
    reg: &Arc<Registry>,
    f: impl FnOnce(&Registry) -> http::Response<crate::body::Body> + Send + 'static,
) -> ApiResult {
    let a = reg.clone();
    tokio::task::spawn_blocking(move || f(&a))
        .await
        .map_err(|e| ApiError::Unavailable(format!("internal task failed: {e}")))
}

fn all_lockers(reg: &Arc<Registry>, _: &Req<'_>) -> ApiResult {
    Ok(dump::stream(reg, dump::Dump::All))
}

fn clear_lockers(reg: &Arc<Registry>, _: &Req<'_>) -> ApiResult {
    reg.inner.lock().lockers.clear_all();
    Ok(ok("All lockers cleared"))
}

fn clear_label_locker(reg: &Arc<Registry>, q: &Req<'_>) -> ApiResult {
    let peer = q.param("peer");
    let mut st = reg.inner.lock();
    if st.lockers.clear_label(peer) || st.is_label(peer) {
        Ok(ok(format!("Locker cleared for peer: {peer}")))
    } else {
        Err(no_locker(peer))
    }
}

fn locker_call(reg: &Arc<Registry>, q: &Req<'_>, op: &str) -> ApiResult {
    locker_op(
        reg,
        q.param("peer"),
        q.param("address"),
        op,
        q.param("key"),
        q.body,
    )
}
