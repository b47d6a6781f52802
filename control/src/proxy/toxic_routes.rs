//! Toxic routes of proxy targets (`/request/proxy/targets/{target}/toxics...`).

use std::sync::Arc;

use super::Proxy;
use crate::api::{Req, Table};
use crate::body::{json, ok};
use crate::chaos::toxics::ToxicSpec;
use crate::error::ApiError;

/// The target named in the path, which must exist.
fn target<'a>(p: &Proxy, q: &Req<'a>) -> Result<&'a str, ApiError> {
    let name = q.param("target");
    p.named(name)
        .map_err(|_| ApiError::NotFound(format!("unknown proxy target {name:?}")))?;
    Ok(name)
}

pub fn table() -> Table<Arc<Proxy>> {
    Table::<Arc<Proxy>>::new("/request/proxy")
        .post("/request/proxy/targets/{target}/toxics/add", |p, q| {
            let t = target(p, q)?;
            let spec: ToxicSpec = q.json()?;
            let name = p.toxics.add(t, spec)?;
            Ok(ok(format!("Toxic {name} added to proxy target {t}")))
        })
        .get("/request/proxy/targets/{target}/toxics", |p, q| {
            let t = target(p, q)?;
            Ok(json(&p.toxics.list(t)))
        })
        .post(
            "/request/proxy/targets/{target}/toxics/{name}/remove",
            |p, q| {
                let t = target(p, q)?;
                let name = q.param("name");
                if p.toxics.remove(t, name) {
                    Ok(ok(format!("Toxic {name} removed from proxy target {t}")))
                } else {
                    Err(ApiError::NotFound(format!(
                        "proxy target {t} has no toxic {name:?}"
                    )))
                }
            },
        )
        .post("/request/proxy/targets/{target}/toxics/clear", |p, q| {
            let t = target(p, q)?;
            p.toxics.clear(t);
            Ok(ok(format!("Toxics of proxy target {t} cleared")))
        })
}
