//! Running the server: the control runtime, startup (the data store, the
//! startup listeners, the peer's registration), and shutdown on SIGINT or
//! SIGTERM.

use std::sync::Arc;

use crate::app::App;
use crate::config::ServerConfig;
use crate::startup::StartupError;
use crate::{peer, registry};

/// Runs the server until SIGINT or SIGTERM.
pub fn run_server(cfg: ServerConfig) -> Result<(), StartupError> {
    let rt = if cfg.control_threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(cfg.control_threads)
            .thread_name("goto-control")
            .enable_all()
            .build()
    }
    .map_err(StartupError::Runtime)?;
    rt.block_on(serve(cfg))
}

async fn serve(cfg: ServerConfig) -> Result<(), StartupError> {
    let port = cfg.port;
    if let Some(url) = &cfg.registry {
        peer::registry_base(url)?;
    }
    let app = App::new(cfg)?;
    if let Some(dir) = &app.cfg.data_dir {
        app.registry.open_store(dir, app.cfg.reset_damaged_store)?;
        tracing::info!(dir = ?dir, "registry state kept in the data directory");
        let weak = Arc::downgrade(&app.registry);
        app.probes.unready_when(Box::new(move || {
            let why = weak.upgrade()?.store_failure()?;
            Some(format!("registry data store failing: {why}"))
        }));
    }
    app.listeners.add_startup(&app, port)?;
    if let Some(admin) = app.cfg.security.admin_port.filter(|p| *p != port) {
        app.listeners.add_startup(&app, admin)?;
        tracing::info!(port = admin, "admin API served on this port only");
    }
    let cores = app
        .cfg
        .cores
        .unwrap_or_else(goto_engine::cpus::default_cores);
    tracing::info!(
        port,
        label = %app.instance_label,
        version = %app.cfg.build,
        engine_cores = cores,
        // The driver the engine will run, not the flag's `auto`.
        io_driver = %app.cfg.io_driver.expected(),
        io_driver_flag = %app.cfg.io_driver,
        "goto serving"
    );
    peer::start(&app.peer)?;
    if let Some(every) = app.cfg.peer_health_interval {
        tokio::spawn(registry::fanout::health_loop(app.registry.clone(), every));
    }
    shutdown_signal().await;
    tracing::info!("shutting down");
    peer::stop(&app.peer).await;
    app.listeners.close_all();
    if let Some(log) = &app.reqlog {
        log.flush();
    }
    Ok(())
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let term = async {
        match signal(SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term => {}
    }
}
