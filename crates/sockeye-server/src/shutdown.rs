//! Logging set-up and the serve loop with graceful shutdown.

use std::future::IntoFuture;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::Notify;

use crate::config::LogFormat;
use crate::gateway::Gateway;

/// Structured logs through `tracing` on stderr, filtered by `RUST_LOG` (default `info`).
pub fn init_tracing(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colours only on a terminal: escape codes in a log file or journald are noise.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// Serves until SIGTERM or SIGINT, then stops accepting, closes every Socket.IO
/// connection (clients reconnect elsewhere) and waits at most `timeout` for the rest.
///
/// A second signal during that wait ends it at once: an operator pressing Ctrl-C
/// twice means "now", as with most servers.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    gateway: Gateway,
    timeout: Duration,
) -> std::io::Result<()> {
    let started = Arc::new(Notify::new());
    let signal = {
        let started = started.clone();
        async move {
            wait_for_signal().await;
            tracing::info!("shutting down: closing connections");
            started.notify_one();
            gateway.io.close();
        }
    };
    // The peer address reaches the engine (per-address handshake limits, logs).
    let app = router.into_make_service_with_connect_info::<std::net::SocketAddr>();
    let server = axum::serve(listener, app)
        .with_graceful_shutdown(signal)
        .into_future();
    tokio::select! {
        result = server => result,
        forced = async {
            started.notified().await;
            tokio::select! {
                _ = tokio::time::sleep(timeout) => false,
                _ = wait_for_signal() => true,
            }
        } => {
            if forced {
                tracing::warn!("second signal: exiting without waiting for connections");
            } else {
                tracing::warn!(?timeout, "shutdown took too long; exiting");
            }
            Ok(())
        }
    }
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => return std::future::pending().await,
            };
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
