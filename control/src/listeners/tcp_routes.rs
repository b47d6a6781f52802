//! Routes of TCP listeners: counts and toxics (`/listeners/{port}/...`),
//! over the listeners that own them.

use std::sync::Arc;

use super::Listeners;
use crate::api::{Req, Table};
use crate::body::{json, ok};
use crate::chaos::tcp::TcpState;
use crate::chaos::toxics::{http::list, ToxicSpec};
use crate::error::{ApiError, ApiResult};

fn tcp(listeners: &Listeners, q: &Req<'_>) -> Result<Arc<TcpState>, ApiError> {
    let port = q.port_param("port")?;
    Ok(listeners.tcp(port)?)
}

pub fn table() -> Table<Listeners> {
    Table::<Listeners>::new("/listeners")
        .get("/listeners/{port}/counts", |app, q| {
            Ok(json(&tcp(app, q)?.counts.view()))
        })
        .post("/listeners/{port}/counts/clear", |app, q| {
            let t = tcp(app, q)?;
            t.counts.clear();
            Ok(ok(format!("Counts of listener {} cleared", t.port)))
        })
        .get("/listeners/{port}/toxics", |app, q| {
            Ok(json(&list(&tcp(app, q)?.toxics)))
        })
        .post("/listeners/{port}/toxics/add", |app, q| {
            let t = tcp(app, q)?;
            if t.spec.upstream().is_none() {
                return Err(ApiError::bad(format!(
                    "listener {} is not a TCP proxy (toxics need an upstream)",
                    t.port
                )));
            }
            let spec: ToxicSpec = q.json()?;
            let name = t.toxics.add(spec)?;
            Ok(ok(format!("Toxic {name} added to listener {}", t.port)))
        })
        .post("/listeners/{port}/toxics/{name}/remove", remove)
        .post("/listeners/{port}/toxics/clear", |app, q| {
            let t = tcp(app, q)?;
            t.toxics.clear();
            Ok(ok(format!("Toxics of listener {} cleared", t.port)))
        })
}

fn remove(app: &Listeners, q: &Req<'_>) -> ApiResult {
    let t = tcp(app, q)?;
    let name = q.param("name");
    if t.toxics.remove(name) {
        Ok(ok(format!("Toxic {name} removed from listener {}", t.port)))
    } else {
        Err(ApiError::NotFound(format!(
            "listener {} has no toxic {name:?}",
            t.port
        )))
    }
}
