//! The admin API layer: the only owner of the admin URL space.
//!
//! Each area hands over [`Table`]s of routes (verb, path pattern with
//! `{param}` segments, handler); the [`Router`] mounts them with a projection
//! from the per-call context to the area's state, answers 404/405 from them,
//! and tells the listener which paths are admin calls at all. Handlers are
//! thin functions of the area's state and a [`Req`], whose extractors parse
//! path parameters, flags, lists, header names, status codes, durations and
//! JSON bodies with one-line 400 reasons.

mod extract;
pub mod fields;
mod read;
mod router;
mod table;

pub use extract::{
    duration, header_name, header_names, list, names, parse_flag, percent_decode, query_decode,
    status_code,
};
pub use read::{read_admin_body, ADMIN_BODY_LIMIT};
pub use router::{Endpoint, Router};
pub use table::{BoxFuture, Handler, Req, Route, Table, Verb};
