//! The fault routes (`/response/faults/...`, status and delay shares,
//! `/response/close`, `/response/size`, `/response/drip`). They take the
//! whole port: the fixed delay and the forced status stay the responder's,
//! and the forms that set or clear a delay or status touch both. The status
//! share, delay and close forms take `?uri=/pattern` to apply to matching
//! requests only (then the responder's own settings are left alone).

use super::spec::{percent, size, DelaySpec};
use super::{Drip, FaultError};
use crate::api::{status_code, Req, Table};
use crate::body::{json, ok};
use crate::error::{ApiError, ApiResult};
use crate::responder::state::Responder;
use goto_engine::duration;
use parking_lot::Mutex;
use serde_json::json as j;

/// What the fault routes need of a port: its faults, and the responder's
/// fixed delay, forced status and status counts, which these tables own
/// the routes of (some forms replace or clear both).
pub trait FaultPort: Sync + 'static {
    fn faults(&self) -> &super::Faults;
    fn port_number(&self) -> u16;
    fn set_fixed_delay(&self, d: std::time::Duration);
    fn fixed_delay(&self) -> std::time::Duration;
    fn clear_forced_status(&self);
    /// The responder's state: its forced status and the status counts.
    fn responder(&self) -> &Mutex<Responder>;
}

fn pct(q: &Req<'_>) -> Result<f64, ApiError> {
    Ok(percent(q.param("percent"))?)
}

fn delay(s: &str) -> Result<DelaySpec, ApiError> {
    Ok(DelaySpec::parse(s)?)
}

/// The `?uri=` pattern, when given.
fn uri(q: &Req<'_>) -> Option<String> {
    q.query("uri")
}

/// " for URI /x" when a pattern is given.
fn for_uri(uri: &Option<String>) -> String {
    uri.as_ref()
        .map(|u| format!(" for URI {u}"))
        .unwrap_or_default()
}

/// Changes the faults of `?uri=` (or the port's); a 400 on a bad pattern or value.
fn update<P: FaultPort>(
    p: &P,
    uri: &Option<String>,
    f: impl FnOnce(&mut super::FaultConfig) -> Result<(), FaultError>,
) -> Result<(), ApiError> {
    Ok(p.faults().update_uri(uri.as_deref(), f).and_then(|r| r)?)
}

/// The fault tables, which own `/response/status`, `/response/delay` and
/// the other fault prefixes outright.
pub fn tables<P: FaultPort>() -> Vec<Table<P>> {
    vec![
        Table::<P>::new("/response/faults")
            .get("/response/faults", |p, _| Ok(json(&p.faults().view())))
            .post("/response/faults/clear", |p, _| {
                p.faults().clear();
                Ok(ok("Faults cleared"))
            })
            .post("/response/faults/seed/{seed}", |p, q| {
                let s = q.param("seed");
                let seed: u64 = s.parse().map_err(|_| {
                    ApiError::bad(format!(
                        "invalid seed {s:?}: must be a non-negative integer"
                    ))
                })?;
                p.faults().seed(seed);
                Ok(ok(format!("Fault seed set to {seed}")))
            })
            .get("/response/faults/counts", |p, _| {
                let mut v = serde_json::to_value(p.faults().counts()).unwrap_or_default();
                if let Some(o) = v.as_object_mut() {
                    o.insert("port".into(), p.port_number().into());
                }
                Ok(json(&v))
            })
            .post("/response/faults/counts/clear", |p, _| {
                p.faults().clear_counts();
                Ok(ok("Fault counts cleared"))
            })
            .post("/response/faults/headers/enable", |p, _| {
                p.faults().set_headers(true);
                Ok(ok("Faults from Goto-Fault-* request headers enabled"))
            })
            .post("/response/faults/headers/disable", |p, _| {
                p.faults().set_headers(false);
                Ok(ok("Faults from Goto-Fault-* request headers disabled"))
            }),
        Table::<P>::new("/response/status")
            .post("/response/status/set/{code}", set_status)
            .post("/response/status/counts/clear", |p, _| {
                p.responder().lock().clear_status_counts();
                Ok(ok("Response status counts cleared"))
            })
            .get("/response/status", |p, _| {
                let f = p.responder().lock().forced;
                Ok(json(&j!({
                    "status": f.map(|f| f.status).unwrap_or(0),
                    "times": f.and_then(|f| f.times),
                    "remaining": f.and_then(|f| f.remaining),
                })))
            })
            .get("/response/status/counts", |p, _| {
                let r = p.responder().lock();
                Ok(json(&j!({
                    "countsByRequestedStatus": r.counts_requested,
                    "countsByResponseStatus": r.counts_response,
                })))
            })
            .get("/response/status/counts/{code}", |p, q| {
                let c = status_code(q.param("code"), false)?;
                let r = p.responder().lock();
                Ok(json(&j!({
                    "status": c,
                    "requested": r.counts_requested.get(&c).copied().unwrap_or(0),
                    "responded": r.counts_response.get(&c).copied().unwrap_or(0),
                })))
            })
            .post("/response/status/set/{code}/percent/{percent}", |p, q| {
                let code = status_code(q.param("code"), false)?;
                let share = pct(q)?;
                let u = uri(q);
                update(p, &u, |c| c.set_status(code, share))?;
                Ok(ok(format!(
                    "Will respond with status {code} to {share}% of requests{}",
                    for_uri(&u)
                )))
            })
            .post("/response/status/clear", |p, q| {
                let u = uri(q);
                if u.is_none() {
                    p.clear_forced_status();
                }
                update(p, &u, |c| {
                    c.status.clear();
                    Ok(())
                })?;
                Ok(ok(format!("Forced response status cleared{}", for_uri(&u))))
            }),
        Table::<P>::new("/response/delay")
            .get("/response/delay", |p, _| {
                // Everything active: the delay every response waits (fixed
                // or a range) and the percent shares on top of it.
                let view = p.faults().view();
                let fixed = p.fixed_delay();
                let range = view.get("range").cloned().unwrap_or_default();
                let every = match range.as_str() {
                    Some(r) => r.to_string(),
                    None => duration::format(fixed),
                };
                Ok(json(&serde_json::json!({
                    "delay": every,
                    "shares": view.get("delay").cloned().unwrap_or_default(),
                    "byUri": view.get("byUri").map(|b| {
                        b.as_object().map(|m| m.iter().map(|(k, v)| (k.clone(), serde_json::json!({
                            "shares": v.get("delay").cloned().unwrap_or_default(),
                        }))).collect::<serde_json::Map<_, _>>())
                    }).unwrap_or_default(),
                })))
            })
            .post("/response/delay/set/{duration}", |p, q| {
                let d = delay(q.param("duration"))?;
                if let Some(u) = uri(q) {
                    // A pattern's delay, fixed or a range, is always drawn here.
                    update(p, &Some(u.clone()), |c| {
                        c.clear_delays();
                        c.set_delay(d, 100.0)
                    })?;
                    return Ok(ok(if d.is_zero() {
                        format!("Delay cleared for URI {u}")
                    } else {
                        format!("Will delay all responses by {d} for URI {u}")
                    }));
                }
                // The delay every response waits: a fixed one (the
                // responder's) or a range drawn per request, one replacing
                // the other. Percent shares stay and come on top of it.
                if d.min == d.max {
                    p.faults().update(|c| c.set_range(None));
                    p.set_fixed_delay(d.min);
                    return Ok(ok(if d.is_zero() {
                        "Delay cleared".to_string()
                    } else {
                        format!("Will delay all responses by {}", duration::format(d.min))
                    }));
                }
                p.set_fixed_delay(Default::default());
                p.faults().update(|c| c.set_range(Some(d)));
                Ok(ok(format!("Will delay all responses by {d}")))
            })
            .post(
                "/response/delay/set/{duration}/percent/{percent}",
                |p, q| {
                    let d = delay(q.param("duration"))?;
                    let share = pct(q)?;
                    let u = uri(q);
                    update(p, &u, |c| c.set_delay(d, share))?;
                    Ok(ok(format!(
                        "Will delay {share}% of responses by {d}{}",
                        for_uri(&u)
                    )))
                },
            )
            .post("/response/delay/clear", |p, q| {
                let u = uri(q);
                if u.is_none() {
                    p.set_fixed_delay(Default::default());
                }
                update(p, &u, |c| {
                    c.clear_delays();
                    Ok(())
                })?;
                Ok(ok(format!("Delay cleared{}", for_uri(&u))))
            }),
        Table::<P>::new("/response/close")
            .post("/response/close/percent/{percent}", |p, q| {
                let share = pct(q)?;
                let u = uri(q);
                update(p, &u, |c| {
                    c.set_close(share);
                    Ok(())
                })?;
                Ok(ok(format!(
                    "Will close the connection without answering {share}% of requests{}",
                    for_uri(&u)
                )))
            })
            .post("/response/close/clear", |p, q| {
                let u = uri(q);
                update(p, &u, |c| {
                    c.set_close(0.0);
                    Ok(())
                })?;
                Ok(ok(format!("Close fault cleared{}", for_uri(&u))))
            }),
        Table::<P>::new("/response/size")
            .post("/response/size/set/{size}", |p, q| set_size(p, q, 100.0))
            .post("/response/size/set/{size}/percent/{percent}", |p, q| {
                set_size(p, q, pct(q)?)
            })
            .post("/response/size/clear", |p, _| {
                p.faults().update(|c| c.set_size(0, 0.0));
                Ok(ok("Response size fault cleared"))
            }),
        Table::<P>::new("/response/drip")
            .post("/response/drip/set/{bytes}/every/{every}", |p, q| {
                set_drip(p, q, 100.0)
            })
            .post(
                "/response/drip/set/{bytes}/every/{every}/percent/{percent}",
                |p, q| set_drip(p, q, pct(q)?),
            )
            .post("/response/drip/clear", |p, _| {
                p.faults().update(|c| {
                    c.set_drip(
                        Drip {
                            bytes: 0,
                            every: Default::default(),
                        },
                        0.0,
                    )
                });
                Ok(ok("Drip fault cleared"))
            }),
    ]
}

fn set_size<P: FaultPort>(p: &P, q: &Req<'_>, share: f64) -> ApiResult {
    let n = size(q.param("size"))?;
    p.faults().update(|c| c.set_size(n, share));
    Ok(ok(format!(
        "Will respond with {n}-byte bodies to {share}% of requests"
    )))
}

fn set_drip<P: FaultPort>(p: &P, q: &Req<'_>, share: f64) -> ApiResult {
    let bytes = size(q.param("bytes"))?;
    if bytes == 0 {
        return Err(ApiError::bad("drip bytes must be above 0"));
    }
    let every = duration::parse(q.param("every")).map_err(ApiError::BadRequest)?;
    p.faults()
        .update(|c| c.set_drip(Drip { bytes, every }, share));
    Ok(ok(format!(
        "Will send response bodies {bytes} bytes every {} to {share}% of requests",
        duration::format(every)
    )))
}

fn set_status<P: FaultPort>(p: &P, q: &Req<'_>) -> ApiResult {
    let spec = q.param("code");
    let (code_s, times_s) = match spec.split_once(':') {
        Some((c, t)) => (c, Some(t)),
        None => (spec, None),
    };
    let code = status_code(code_s, true)?;
    let times = match times_s.map(str::parse::<u32>) {
        None => None,
        Some(Ok(t)) if t > 0 => Some(t),
        Some(_) => {
            return Err(ApiError::bad(format!(
                "invalid times in {spec:?}: must be a positive integer"
            )))
        }
    };
    p.responder().lock().force(code, times);
    Ok(ok(match (code, times) {
        (0, _) => "Forced response status cleared".to_string(),
        (_, Some(t)) => format!("Will respond with forced status: {code} times {t}"),
        (_, None) => format!("Will respond with forced status: {code}"),
    }))
}
