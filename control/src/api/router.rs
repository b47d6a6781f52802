//! The router: mounted tables, matched in order; 404 and 405 come from them.

use bytes::Bytes;
use http::{header, HeaderMap, HeaderValue, Method, Response, StatusCode};
use serde::Serialize;

use super::extract::percent_decode;
use super::table::{BoxFuture, Handler, Req, Table, Verb};
use crate::body::{text, Body};
use crate::error::{ApiError, ApiResult};

/// A handler bound to its projection from the call context `C`.
trait Bound<C>: Send + Sync {
    fn call<'a>(&'a self, ctx: &'a C, req: &'a Req<'a>) -> BoxFuture<'a, ApiResult>;
}

struct Projected<S: 'static, C: 'static> {
    project: fn(&C) -> &S,
    handler: Handler<S>,
}

impl<S: Sync + 'static, C: Sync + 'static> Bound<C> for Projected<S, C> {
    fn call<'a>(&'a self, ctx: &'a C, req: &'a Req<'a>) -> BoxFuture<'a, ApiResult> {
        let state = (self.project)(ctx);
        match self.handler {
            Handler::Now(f) => Box::pin(std::future::ready(f(state, req))),
            Handler::Later(f) => f(state, req),
        }
    }
}

enum Seg {
    Lit(&'static str),
    Param(&'static str),
}

struct Mounted<C> {
    verb: Verb,
    pattern: &'static str,
    segs: Vec<Seg>,
    run: Box<dyn Bound<C>>,
}

/// One endpoint, as `GET /api/endpoints` and the reference list it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Endpoint {
    pub method: &'static str,
    pub path: &'static str,
}

/// Every mounted route, and the prefixes that make a path an admin call.
pub struct Router<C> {
    routes: Vec<Mounted<C>>,
    /// Each table's prefix, split into segments.
    prefixes: Vec<Vec<&'static str>>,
    /// The prefixes' distinct first segments: the runtime path's one check.
    firsts: Vec<&'static str>,
}

enum Found<'r> {
    Route(usize, Vec<(&'static str, &'r str)>),
    WrongMethod(Vec<Verb>),
    Nothing,
}

/// Whether two patterns match the same paths: equal literals, parameters
/// in the same places.
fn same_shape(a: &[Seg], b: &[Seg]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|pair| match pair {
            (Seg::Lit(x), Seg::Lit(y)) => x == y,
            (Seg::Param(_), Seg::Param(_)) => true,
            _ => false,
        })
}

fn split(path: &str) -> impl Iterator<Item = &str> {
    path.split('/').filter(|s| !s.is_empty())
}

impl<C: Sync + 'static> Default for Router<C> {
    fn default() -> Self {
        Router {
            routes: Vec::new(),
            prefixes: Vec::new(),
            firsts: Vec::new(),
        }
    }
}

impl<C: Sync + 'static> Router<C> {
    pub fn new() -> Router<C> {
        Router::default()
    }

    /// Adds a table whose handlers see `project(ctx)`.
    ///
    /// # Panics
    /// When a route of `table` is already mounted (same method and path
    /// shape, whatever its parameters are called): each route belongs to one
    /// table, so the answer never depends on mount order. Tables are code,
    /// not input; every test that builds the admin API checks this.
    pub fn mount<S: Sync + 'static>(mut self, table: Table<S>, project: fn(&C) -> &S) -> Router<C> {
        let prefix: Vec<&'static str> = split(table.prefix).collect();
        if let Some(first) = prefix.first() {
            if !self.firsts.contains(first) {
                self.firsts.push(first);
            }
        }
        self.prefixes.push(prefix);
        for r in table.routes {
            let segs = split(r.pattern)
                .map(
                    |s| match s.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                        Some(name) => Seg::Param(name),
                        None => Seg::Lit(s),
                    },
                )
                .collect::<Vec<Seg>>();
            if let Some(old) = self
                .routes
                .iter()
                .find(|m| m.verb == r.verb && same_shape(&m.segs, &segs))
            {
                panic!(
                    "route {} {} is mounted twice (already as {})",
                    r.verb.methods(),
                    r.pattern,
                    old.pattern
                );
            }
            self.routes.push(Mounted {
                verb: r.verb,
                pattern: r.pattern,
                segs,
                run: Box::new(Projected {
                    project,
                    handler: r.handler,
                }),
            });
        }
        self
    }

    /// Whether `path` (raw, as received) is an admin call: at or under some
    /// table's prefix. Runtime requests mostly stop at the first segment.
    #[inline]
    pub fn is_admin(&self, path: &str) -> bool {
        // The first segment by a byte scan: `split` costs ~200 instructions,
        // paid by every runtime request.
        let trimmed = path.trim_start_matches('/');
        let end = trimmed
            .bytes()
            .position(|b| b == b'/')
            .unwrap_or(trimmed.len());
        let first = &trimmed[..end];
        if first.is_empty() || !self.firsts.contains(&first) {
            return false;
        }
        self.prefixes.iter().any(|p| {
            p[0] == first && {
                let mut rest = split(path).skip(1);
                p[1..].iter().all(|s| rest.next() == Some(*s))
            }
        })
    }

    /// Every route, in mount order.
    pub fn endpoints(&self) -> Vec<Endpoint> {
        self.routes
            .iter()
            .map(|r| Endpoint {
                method: match r.verb {
                    Verb::Get => "GET",
                    Verb::Mutate => "POST",
                },
                path: r.pattern,
            })
            .collect()
    }

    fn find<'r>(&self, method: &Method, segs: &[&'r str]) -> Found<'r> {
        let mut wrong = Vec::new();
        for (i, r) in self.routes.iter().enumerate() {
            if r.segs.len() != segs.len() {
                continue;
            }
            let mut params = Vec::new();
            let hit = r.segs.iter().zip(segs).all(|(p, s)| match p {
                Seg::Lit(l) => l == s,
                Seg::Param(n) => {
                    params.push((*n, *s));
                    true
                }
            });
            if !hit {
                continue;
            }
            if r.verb.accepts(method) {
                return Found::Route(i, params);
            }
            if !wrong.contains(&r.verb) {
                wrong.push(r.verb);
            }
        }
        if wrong.is_empty() {
            Found::Nothing
        } else {
            Found::WrongMethod(wrong)
        }
    }

    /// Answers one admin call (the caller checked [`Router::is_admin`] and
    /// read the body).
    pub async fn dispatch(
        &self,
        ctx: &C,
        method: &Method,
        path: &str,
        query: Option<&str>,
        headers: &HeaderMap,
        body: &Bytes,
    ) -> Response<Body> {
        let decoded: Vec<String> = split(path).map(percent_decode).collect();
        let segs: Vec<&str> = decoded.iter().map(String::as_str).collect();
        match self.find(method, &segs) {
            Found::Route(i, params) => {
                let req = Req {
                    method,
                    params,
                    query,
                    headers,
                    body,
                };
                self.routes[i]
                    .run
                    .call(ctx, &req)
                    .await
                    .unwrap_or_else(ApiError::into_response)
            }
            Found::WrongMethod(verbs) => {
                let allow = verbs
                    .iter()
                    .map(|v| v.methods())
                    .collect::<Vec<_>>()
                    .join(", ");
                let mut r = text(
                    StatusCode::METHOD_NOT_ALLOWED,
                    crate::body::one_line(&format!(
                        "{method} not allowed on /{}: use {allow}",
                        segs.join("/")
                    )),
                );
                if let Ok(v) = HeaderValue::from_str(&allow) {
                    r.headers_mut().insert(header::ALLOW, v);
                }
                r
            }
            // A wrong path inside an API area would otherwise get the
            // catch-all's 200 echo and look like success.
            Found::Nothing => ApiError::NotFound(format!(
                "no API {method} /{} (see GET /api/endpoints)",
                segs.join("/")
            ))
            .into_response(),
        }
    }

    /// The pattern a path and method would be served by (tests, docs).
    pub fn pattern_of(&self, method: &Method, path: &str) -> Option<&'static str> {
        let segs: Vec<&str> = split(path).collect();
        match self.find(method, &segs) {
            Found::Route(i, _) => Some(self.routes[i].pattern),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body::ok;

    fn one(prefix: &'static str, pattern: &'static str) -> Table<()> {
        Table::<()>::new(prefix).post(pattern, |_, _| Ok(ok("done")))
    }

    #[test]
    #[should_panic(
        expected = "route POST, PUT /a/{y}/set is mounted twice (already as /a/{x}/set)"
    )]
    fn a_route_claimed_by_two_tables_is_refused() {
        let _ = Router::<()>::new()
            .mount(one("/a", "/a/{x}/set"), |c| c)
            .mount(one("/a", "/a/{y}/set"), |c| c);
    }

    #[test]
    fn a_literal_beside_a_parameter_is_not_a_duplicate() {
        let r = Router::<()>::new()
            .mount(one("/a", "/a/all/set"), |c| c)
            .mount(one("/a", "/a/{x}/set"), |c| c);
        assert_eq!(r.endpoints().len(), 2);
    }
}
