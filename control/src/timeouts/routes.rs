//! `/request/timeout/...`: what is tracked, and the counts.

use super::TimeoutTracking;
use crate::api::{header_names, Table};
use crate::body::{json, ok};

pub fn table() -> Table<TimeoutTracking> {
    Table::<TimeoutTracking>::new("/request/timeout")
        .post("/request/timeout/track/all", |t, _| {
            t.track_all();
            Ok(ok("Activated timeout tracking for all requests"))
        })
        .post("/request/timeout/track/headers/{headers}", |t, q| {
            let headers = q.param("headers");
            t.track_headers(header_names(headers)?);
            Ok(ok(format!(
                "Will track request timeout for headers {headers}"
            )))
        })
        .post("/request/timeout/track/clear", |t, _| {
            t.clear();
            Ok(ok("Timeout tracking cleared"))
        })
        .get("/request/timeout/status", |t, _| Ok(json(&t.status_json())))
}
