//! `/request/headers/track/...`: which request headers are counted, and
//! their counts.

use super::HeaderTracking;
use crate::api::{header_names, Req, Table};
use crate::body::{json, ok};
use crate::error::{ApiError, ApiResult};

pub fn table() -> Table<HeaderTracking> {
    Table::<HeaderTracking>::new("/request/headers/track")
        .post("/request/headers/track/add/{headers}", |t, q| {
            let headers = q.param("headers");
            t.track(header_names(headers)?);
            Ok(ok(format!("Header {headers} will be tracked")))
        })
        .post("/request/headers/track/clear", |t, _| {
            t.clear();
            Ok(ok("All tracking headers cleared"))
        })
        .post("/request/headers/track/counts/clear", |t, _| {
            t.clear_counts(None)?;
            Ok(ok("Header tracking counts cleared"))
        })
        .post("/request/headers/track/counts/clear/{headers}", |t, q| {
            let headers = q.param("headers");
            t.clear_counts(Some(&header_names(headers)?))?;
            Ok(ok(format!("Header tracking counts cleared for {headers}")))
        })
        .post("/request/headers/track/{headers}/remove", |t, q| {
            let headers = q.param("headers");
            t.remove(&header_names(headers)?)?;
            Ok(ok(format!("Header {headers} removed from tracking")))
        })
        .get("/request/headers/track", list)
        .get("/request/headers/track/list", list)
        .get("/request/headers/track/counts", |t, _| {
            Ok(json(&t.counts_json()))
        })
        .get("/request/headers/track/{header}/counts", |t, q| {
            let header = q.param("header");
            t.header_counts_json(header)
                .map(|v| json(&v))
                .ok_or_else(|| ApiError::bad(format!("header {header} is not tracked")))
        })
}

fn list(t: &HeaderTracking, _: &Req<'_>) -> ApiResult {
    Ok(json(&t.names()))
}
