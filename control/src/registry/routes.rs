//! `/registry/...`: peers and epochs, targets and jobs by label (pushed to
//! pods), fan-out of invocations, health checks, and lockers.

use std::sync::Arc;

use super::call::seg;
use super::fanout::{self, Step};
use super::{dump, fold_peers, labels, locker_op, no_locker, peers, results, timeline};
use crate::api::{BoxFuture, Req, Table};
use crate::body::{json, ok};
use crate::error::{ApiError, ApiResult};
use crate::App;

type H = for<'a> fn(&'a Arc<App>, &'a Req<'a>) -> BoxFuture<'a, ApiResult>;

/// Fans one POST out to every pod of `{peer}`; the path is built from the call.
macro_rules! fan {
    ($path:expr) => {{
        let h: H = |app, q| {
            Box::pin(async move {
                let path: String = $path(q);
                fanout::fan(app, q.param("peer"), vec![Step::post(path, "")]).await
            })
        };
        h
    }};
}

pub fn table() -> Table<Arc<App>> {
    Table::<Arc<App>>::new("/registry")
        .post("/registry/peers/add", |app, q| peers::register(app, q.body))
        .get("/registry/peers", |app, _| {
            Ok(json(&peers::peers_json(app)))
        })
        .post("/registry/peers/clear/epochs", |app, _| {
            Ok(peers::clear_epochs(app))
        })
        .post("/registry/peers/clear", |app, _| {
            app.registry.inner.lock().peers.clear();
            Ok(ok("All peers cleared"))
        })
        .get_async("/registry/peers/health", |app, _| {
            Box::pin(async move { Ok(json(&fanout::health(app, None, None).await)) })
        })
        .post_async("/registry/peers/health/cleanup", |app, _| {
            Box::pin(fanout::cleanup(app, None))
        })
        .get("/registry/peers/targets", |app, _| {
            Ok(json(&labels::all_config(app, |c| &c.targets)))
        })
        .get("/registry/peers/jobs", |app, _| {
            Ok(json(&labels::all_config(app, |c| &c.jobs)))
        })
        .post_async("/registry/peers/targets/invoke/all", |app, _| {
            Box::pin(fanout::fan_all(
                app,
                "/client/targets/invoke/all?blocking=N",
            ))
        })
        .post_async("/registry/peers/targets/stop/all", |app, _| {
            Box::pin(fanout::fan_all(app, "/client/targets/stop/all"))
        })
        .post_async("/registry/peers/track/headers/{headers}", |app, q| {
            Box::pin(labels::track(app, q.param("headers")))
        })
        .get("/registry/peers/lockers", all_lockers)
        .get("/registry/peers/locker", all_lockers)
        .post("/registry/peers/lockers/clear", clear_lockers)
        .post("/registry/peer/lockers/clear", clear_lockers)
        .get_async("/registry/peers/lockers/targets/results", |app, q| {
            Box::pin(async move {
                let detailed = q.query_flag("detailed")?.unwrap_or(false);
                off_thread(app, move |a| results::summed_results(a, detailed)).await
            })
        })
        .get_async(
            "/registry/peers/lockers/targets/results/timeline",
            |app, _| Box::pin(off_thread(app, timeline::merged_timelines)),
        )
        .get_async("/registry/peers/lockers/targets/results/peers", |app, q| {
            Box::pin(async move {
                let seconds = q.query_flag("seconds")?.unwrap_or(false);
                off_thread(app, move |a| fold_peers::peer_views(a, seconds)).await
            })
        })
        .get("/registry/peer/lockers", |app, _| {
            Ok(dump::stream(app, dump::Dump::AllFlat))
        })
        .get("/registry/peer/{peer}/locker", |app, q| {
            let peer = q.param("peer");
            let st = app.registry.inner.lock();
            let v = st.lockers.label_flat_json(peer);
            v.or_else(|| st.empty_locker(peer))
                .map(|v| json(&v))
                .ok_or_else(|| no_locker(peer))
        })
        .post("/registry/peer/{peer}/locker/clear", clear_label_locker)
        .post("/registry/peers/{peer}/locker/clear", clear_label_locker)
        .post("/registry/peers/{peer}/remember", |app, q| {
            peers::remember(app, q.param("peer"), q.body)
        })
        .post("/registry/peers/{peer}/remove/{address}", |app, q| {
            peers::deregister(app, q.param("peer"), q.param("address"))
        })
        .get_async("/registry/peers/{peer}/health", |app, q| {
            Box::pin(fanout::peer_health(app, q.param("peer"), None))
        })
        .post_async("/registry/peers/{peer}/health/cleanup", |app, q| {
            Box::pin(fanout::cleanup(app, Some(q.param("peer"))))
        })
        .get_async("/registry/peers/{peer}/health/{address}", |app, q| {
            Box::pin(fanout::peer_health(
                app,
                q.param("peer"),
                Some(q.param("address")),
            ))
        })
        .post_async("/registry/peers/{peer}/targets/add", |app, q| {
            Box::pin(labels::add_target(app, q.param("peer"), q.body))
        })
        .post_async("/registry/peers/{peer}/targets/clear", |app, q| {
            Box::pin(labels::clear_targets(app, q.param("peer")))
        })
        .get("/registry/peers/{peer}/targets", |app, q| {
            Ok(json(&labels::label_config(app, q.param("peer"), |c| {
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
            |app, q| {
                Box::pin(labels::remove_targets(
                    app,
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
        .post_async("/registry/peers/{peer}/jobs/add", |app, q| {
            Box::pin(labels::add_job(app, q.param("peer"), q.body))
        })
        .post_async("/registry/peers/{peer}/jobs/clear", |app, q| {
            Box::pin(labels::remove_jobs(app, q.param("peer"), None))
        })
        .get("/registry/peers/{peer}/jobs", |app, q| {
            Ok(json(&labels::label_config(app, q.param("peer"), |c| {
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
        .post_async("/registry/peers/{peer}/jobs/{jobs}/remove", |app, q| {
            Box::pin(labels::remove_jobs(
                app,
                q.param("peer"),
                Some(q.param("jobs")),
            ))
        })
        .get("/registry/peers/{peer}/locker", |app, q| {
            let peer = q.param("peer");
            let st = app.registry.inner.lock();
            let v = st.lockers.label_json(peer);
            v.or_else(|| st.empty_locker(peer))
                .map(|v| json(&v))
                .ok_or_else(|| no_locker(peer))
        })
        .get("/registry/peers/{peer}/{address}/locker", |app, q| {
            let (peer, addr) = (q.param("peer"), q.param("address"));
            let v = app.registry.inner.lock().lockers.instance_json(peer, addr);
            v.map(|v| json(&v))
                .ok_or_else(|| ApiError::NotFound(format!("no locker for {peer} at {addr}")))
        })
        .post("/registry/peers/{peer}/{address}/locker/clear", |app, q| {
            let (peer, addr) = (q.param("peer"), q.param("address"));
            let raw = |a: &str, k: &str| app.registry.raw_text(peer, a, k);
            let cleared = app
                .registry
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
            |app, q| locker_call(app, q, "store"),
        )
        .post(
            "/registry/peers/{peer}/{address}/locker/remove/{key}",
            |app, q| locker_call(app, q, "remove"),
        )
        .post(
            "/registry/peers/{peer}/{address}/locker/lock/{key}",
            |app, q| locker_call(app, q, "lock"),
        )
}

/// Decoding and merging many peers' histograms is CPU work: it runs on
/// tokio's blocking pool so the control thread keeps answering.
async fn off_thread(
    app: &Arc<App>,
    f: impl FnOnce(&App) -> http::Response<crate::body::Body> + Send + 'static,
) -> ApiResult {
    let a = app.clone();
    tokio::task::spawn_blocking(move || f(&a))
        .await
        .map_err(|e| ApiError::Unavailable(format!("internal task failed: {e}")))
}

fn all_lockers(app: &Arc<App>, _: &Req<'_>) -> ApiResult {
    Ok(dump::stream(app, dump::Dump::All))
}

fn clear_lockers(app: &Arc<App>, _: &Req<'_>) -> ApiResult {
    app.registry.inner.lock().lockers.clear_all();
    Ok(ok("All lockers cleared"))
}

fn clear_label_locker(app: &Arc<App>, q: &Req<'_>) -> ApiResult {
    let peer = q.param("peer");
    let mut st = app.registry.inner.lock();
    if st.lockers.clear_label(peer) || st.is_label(peer) {
        Ok(ok(format!("Locker cleared for peer: {peer}")))
    } else {
        Err(no_locker(peer))
    }
}

fn locker_call(app: &Arc<App>, q: &Req<'_>, op: &str) -> ApiResult {
    locker_op(
        app,
        q.param("peer"),
        q.param("address"),
        op,
        q.param("key"),
        q.body,
    )
}
