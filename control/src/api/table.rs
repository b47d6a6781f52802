//! A route table: the routes of one area under one path prefix.

use std::future::Future;
use std::pin::Pin;

use bytes::Bytes;
use http::{HeaderMap, Method};

use crate::error::ApiResult;

/// A boxed, sendable future (what async handlers return).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Which methods a route answers: queries take GET (and HEAD), mutations
/// take POST or PUT (the original tool accepts both).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Get,
    Mutate,
}

impl Verb {
    pub fn accepts(self, m: &Method) -> bool {
        match self {
            Verb::Get => *m == Method::GET || *m == Method::HEAD,
            Verb::Mutate => *m == Method::POST || *m == Method::PUT,
        }
    }

    /// The methods, as an `Allow` header and the reference list them.
    pub fn methods(self) -> &'static str {
        match self {
            Verb::Get => "GET",
            Verb::Mutate => "POST, PUT",
        }
    }
}

/// A handler of state `S`: answers at once, or later (it awaits I/O).
pub enum Handler<S> {
    Now(fn(&S, &Req<'_>) -> ApiResult),
    Later(for<'a> fn(&'a S, &'a Req<'a>) -> BoxFuture<'a, ApiResult>),
}

/// One route: verb, full path pattern (`/listeners/{port}/open`), handler.
pub struct Route<S> {
    pub verb: Verb,
    pub pattern: &'static str,
    pub handler: Handler<S>,
}

/// The routes of one area under `prefix`: every path at or below the
/// prefix belongs to the admin API (unmatched ones are 404/405), every
/// other path stays runtime traffic.
pub struct Table<S> {
    pub prefix: &'static str,
    pub routes: Vec<Route<S>>,
}

impl<S> Table<S> {
    pub fn new(prefix: &'static str) -> Table<S> {
        Table {
            prefix,
            routes: Vec::new(),
        }
    }

    fn add(mut self, verb: Verb, pattern: &'static str, handler: Handler<S>) -> Table<S> {
        debug_assert!(
            pattern == self.prefix || pattern.starts_with(&format!("{}/", self.prefix)),
            "{pattern} outside its table's prefix {}",
            self.prefix
        );
        self.routes.push(Route {
            verb,
            pattern,
            handler,
        });
        self
    }

    /// A query (GET, HEAD).
    pub fn get(self, pattern: &'static str, h: fn(&S, &Req<'_>) -> ApiResult) -> Table<S> {
        self.add(Verb::Get, pattern, Handler::Now(h))
    }

    /// A mutation (POST, PUT).
    pub fn post(self, pattern: &'static str, h: fn(&S, &Req<'_>) -> ApiResult) -> Table<S> {
        self.add(Verb::Mutate, pattern, Handler::Now(h))
    }

    /// A query that awaits.
    pub fn get_async(
        self,
        pattern: &'static str,
        h: for<'a> fn(&'a S, &'a Req<'a>) -> BoxFuture<'a, ApiResult>,
    ) -> Table<S> {
        self.add(Verb::Get, pattern, Handler::Later(h))
    }

    /// A mutation that awaits.
    pub fn post_async(
        self,
        pattern: &'static str,
        h: for<'a> fn(&'a S, &'a Req<'a>) -> BoxFuture<'a, ApiResult>,
    ) -> Table<S> {
        self.add(Verb::Mutate, pattern, Handler::Later(h))
    }
}

/// One admin call as handlers see it: path parameters (percent-decoded),
/// query, headers and the whole (bounded) body.
pub struct Req<'a> {
    pub method: &'a Method,
    /// `(name, value)` for each `{name}` of the matched pattern.
    pub params: Vec<(&'static str, &'a str)>,
    pub query: Option<&'a str>,
    pub headers: &'a HeaderMap,
    pub body: &'a Bytes,
}

impl<'a> Req<'a> {
    /// A request with no parameters, headers or body (tests, internal calls).
    pub fn new(method: &'a Method, headers: &'a HeaderMap, body: &'a Bytes) -> Req<'a> {
        Req {
            method,
            params: Vec::new(),
            query: None,
            headers,
            body,
        }
    }

    /// The `{name}` path parameter (the pattern guarantees it; "" otherwise).
    pub fn param(&self, name: &str) -> &'a str {
        self.params
            .iter()
            .find(|(n, _)| *n == name)
            .map_or("", |(_, v)| v)
    }
}
