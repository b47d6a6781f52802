//! [`Host`]: what a listener needs of the instance it serves for. The
//! wiring (the crate's `App`) implements it; the listeners are generic over
//! it, so the runtime path is monomorphised and calls nothing dynamically.

use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, Method, Response};
use hyper_util::rt::TokioExecutor;
use hyper_util::server::conn::auto::Builder;

use super::conn_guard::ConnTimeouts;
use super::Listeners;
use crate::api::BoxFuture;
use crate::body::Body;
use crate::host::HostInfo;
use crate::port::PortState;
use crate::proxy::client::Outbound;
use crate::reqlog::RequestLog;
use crate::security::AdminSecurity;

/// The instance as its listeners see it: the settings connections run
/// under, what a new port is set up with, and the admin API.
pub trait Host: Send + Sync + Sized + 'static {
    /// Open connections per listener (`--max-conns`).
    fn max_conns(&self) -> usize;
    /// Bytes unfinished request heads may hold per listener.
    fn max_head_memory(&self) -> usize;
    fn timeouts(&self) -> &ConnTimeouts;
    fn security(&self) -> &AdminSecurity;
    /// Whether new listeners log runtime requests (`--request-logs`).
    fn request_logs(&self) -> bool;
    /// The request log, when there is one.
    fn reqlog(&self) -> Option<&RequestLog>;
    /// The connection builder every listener serves with.
    fn http(&self) -> &Builder<TokioExecutor>;
    fn host(&self) -> &HostInfo;
    /// The instance's label: a new listener's unless it names its own.
    fn label(&self) -> &str;
    /// The pooled outbound clients a new port's proxy and triggers use.
    fn out(&self) -> &Outbound;
    fn listeners(&self) -> &Listeners;
    /// Whether a route table owns `path` (else it is runtime traffic).
    fn is_admin(&self, path: &str) -> bool;
    /// Answers an admin call, already checked and with its body read, from
    /// the route tables with `port`'s state.
    fn admin<'a>(
        self: &'a Arc<Self>,
        port: &'a Arc<PortState>,
        method: &'a Method,
        path: &'a str,
        query: Option<&'a str>,
        headers: &'a HeaderMap,
        body: &'a Bytes,
    ) -> BoxFuture<'a, Response<Body>>;
}
