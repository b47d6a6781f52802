//! HTTP/2 load on the engine's workers: h2c with prior knowledge for http
//! URLs, ALPN h2 over rustls for https, through the engine's own codec
//! (`crate::http2::codec`, run by `io`) on monoio's owned-buffer sockets
//! (the worker's own io_uring or epoll driver).
//!
//! A target's replicas are streams: replica `i` uses connection
//! `i % connections` (at most [`crate::MAX_STREAMS_PER_CONNECTION`] streams
//! each), and every connection with all its streams lives on one core, so
//! its frame loop and its streams are tasks of one runtime and count into
//! that core's counters. The prepared request is `crate::http2::request`;
//! `connect` opens connections, `pool` shares one among its streams,
//! `stream` is a replica's exchange (the loop is `crate::drive::replica`).

mod connect;
mod io;
mod pool;
mod stream;

use std::rc::Rc;
use std::time::Instant;

use crate::drive::replica::Replica;
use crate::local::{CoreTarget, LocalRun};
use pool::ConnSlot;
use stream::Stream;

/// Spawns this core's streams of an HTTP/2 target on the current runtime,
/// with one shared connection per connection index among them.
pub(crate) fn spawn_streams(
    run: &Rc<LocalRun>,
    target: &Rc<CoreTarget>,
    replicas: Vec<u32>,
    start: Instant,
) {
    let connections = target.prepared.spec.connections();
    let mut slots: Vec<(u32, Rc<ConnSlot>)> = Vec::new();
    for index in replicas {
        let conn = index % connections;
        let slot = match slots.iter().find(|(c, _)| *c == conn) {
            Some((_, s)) => s.clone(),
            None => {
                let s = Rc::new(ConnSlot::new());
                slots.push((conn, s.clone()));
                s
            }
        };
        let stream = Stream::new(target, slot, index, start);
        let replica = Replica::new(run.clone(), target.clone(), index, start, stream);
        monoio::spawn(replica.run());
    }
}
