//! `/jobs/...`: add, list, run, stop and remove jobs; their results.

use std::sync::Arc;

use super::spec::JobInput;
use super::Jobs;
use crate::api::{Req, Table};
use crate::body::{json, ok};
use crate::error::{ApiError, ApiResult};

pub fn table() -> Table<Arc<Jobs>> {
    Table::<Arc<Jobs>>::new("/jobs")
        .post("/jobs/add", |jobs, q| {
            let input: JobInput = q.json()?;
            let line = serde_json::to_string(&input).unwrap_or_default();
            let (_, run) = jobs.add(input)?;
            Ok(ok(match run {
                Some(n) => format!("Added job: {line} (auto run {n} started)"),
                None => format!("Added job: {line}"),
            }))
        })
        .post("/jobs/clear", |jobs, _| {
            jobs.remove(&jobs.all_ids());
            Ok(ok("Jobs cleared"))
        })
        .post("/jobs/run/all", |jobs, _| run(jobs, jobs.all_ids()))
        .post("/jobs/stop/all", |jobs, _| {
            jobs.stop(&jobs.all_ids());
            Ok(ok("All jobs stopped"))
        })
        .get("/jobs", list)
        .get("/jobs/list", list)
        .get("/jobs/results", |jobs, _| Ok(json(&jobs.all_results())))
        .get("/jobs/{job}/results", |jobs, q| {
            let id = q.param("job");
            jobs.job_results(id)
                .map(|v| json(&v))
                .ok_or_else(|| ApiError::NotFound(format!("unknown job {id:?}")))
        })
        .post("/jobs/{jobs}/remove", |jobs, q| {
            let ids = jobs.resolve(q.param("jobs"))?;
            jobs.remove(&ids);
            Ok(ok(format!("Jobs removed: {}", ids.join(","))))
        })
        .post("/jobs/{jobs}/run", |jobs, q| {
            let ids = jobs.resolve(q.param("jobs"))?;
            run(jobs, ids)
        })
        .post("/jobs/{jobs}/stop", |jobs, q| {
            let ids = jobs.resolve(q.param("jobs"))?;
            jobs.stop(&ids);
            Ok(ok(format!("Jobs stopped: {}", ids.join(","))))
        })
}

fn list(jobs: &Arc<Jobs>, _: &Req<'_>) -> ApiResult {
    Ok(json(&jobs.listing()))
}

fn run(jobs: &Arc<Jobs>, ids: Vec<String>) -> ApiResult {
    let started = jobs.run_jobs(ids)?;
    Ok(ok(format!("Jobs started: {}", started.join(", "))))
}
