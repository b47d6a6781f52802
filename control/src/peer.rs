//! The peer side of the registry: register at startup with `--registry`,
//! apply what comes back, remind periodically, report results to the locker
//! with `--locker`, and deregister at shutdown.

use std::sync::Arc;

use crate::App;

/// Starts registration in the background when `--registry` is set.
pub fn start(_app: &Arc<App>) {}

/// Deregisters from the registry, if registered; bounded in time.
pub async fn stop(_app: &Arc<App>) {}
