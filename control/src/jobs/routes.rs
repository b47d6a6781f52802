//! `/jobs/...`: add, list, run, stop and remove jobs; their results.

use std::sync::Arc;

use super::spec::JobInput;
use crate::api::{Req, Table};
use crate::body::{json, ok};
use crate::error::{ApiError, ApiResult};
use crate::App;

pub fn table() -> Table<Arc<App>> {
    Table::<Arc<App>>::new("/jobs")
        .post("/jobs/add", |app, q| {
            let input: JobInput = q.json()?;
            let line = serde_json::to_string(&input).unwrap_or_default();
            let (_, run) = app.jobs.add(app, input).map_err(ApiError::BadRequest)?;
            Ok(ok(match run {
                Some(n) => format!("Added job: {line} (auto run {n} started)"),
                None => format!("Added job: {line}"),
            }))
        })
        .post("/jobs/clear", |app, _| {
            app.jobs.remove(&app.jobs.all_ids());
            Ok(ok("Jobs cleared"))
        })
        .post("/jobs/run/all", |app, _| run(app, app.jobs.all_ids()))
        .post("/jobs/stop/all", |app, _| {
            app.jobs.stop(&app.jobs.all_ids());
            Ok(ok("All jobs stopped"))
        })
        .get("/jobs", list)
        .get("/jobs/list", list)
        .get("/jobs/results", |app, _| Ok(json(&app.jobs.all_results())))
        .get("/jobs/{job}/results", |app, q| {
            let id = q.param("job");
            app.jobs
                .job_results(id)
                .map(|v| json(&v))
                .ok_or_else(|| ApiError::NotFound(format!("unknown job {id:?}")))
        })
        .post("/jobs/{jobs}/remove", |app, q| {
            let ids = app.jobs.resolve(q.param("jobs"))?;
            app.jobs.remove(&ids);
            Ok(ok(format!("Jobs removed: {}", ids.join(","))))
        })
        .post("/jobs/{jobs}/run", |app, q| {
            let ids = app.jobs.resolve(q.param("jobs"))?;
            run(app, ids)
        })
        .post("/jobs/{jobs}/stop", |app, q| {
            let ids = app.jobs.resolve(q.param("jobs"))?;
            app.jobs.stop(&ids);
            Ok(ok(format!("Jobs stopped: {}", ids.join(","))))
        })
}

fn list(app: &Arc<App>, _: &Req<'_>) -> ApiResult {
    Ok(json(&app.jobs.listing()))
}

fn run(app: &Arc<App>, ids: Vec<String>) -> ApiResult {
    let started = app.jobs.run_jobs(app, ids)?;
    Ok(ok(format!("Jobs started: {}", started.join(", "))))
}
