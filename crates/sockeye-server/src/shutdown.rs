//! Logging set-up and the serve loop with graceful shutdown.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::http::Request;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Notify};
use tower::ServiceExt;

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

/// Time limits of the HTTP server.
#[derive(Clone, Copy, Debug)]
pub struct ServeLimits {
    /// How long a graceful shutdown may take before the process exits anyway.
    pub shutdown_timeout: Duration,
    /// How long a client may take to send a request's headers (slowloris defence):
    /// hyper closes the connection when they are not all there in time.
    pub header_read_timeout: Duration,
}

/// Serves until SIGTERM or SIGINT, then stops accepting, closes every Socket.IO
/// connection (clients reconnect elsewhere) and waits at most `shutdown_timeout` for
/// the rest.
///
/// A second signal during that wait ends it at once: an operator pressing Ctrl-C
/// twice means "now", as with most servers.
///
/// Each connection is served by hyper directly (not `axum::serve`, which has no header
/// read timeout), with upgrades for websockets and the peer address in the request
/// extensions as axum's `ConnectInfo`.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    gateway: Gateway,
    limits: ServeLimits,
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
    // The accept loop is a task of its own, on the runtime's workers beside the
    // connections it starts rather than on the main thread: a new connection then
    // wakes no other thread.
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut accepting = tokio::spawn(accept_loop(
        listener,
        router,
        limits.header_read_timeout,
        stop_rx,
    ));
    let server = async move {
        tokio::select! {
            joined = &mut accepting => return joined.map_err(std::io::Error::other)?,
            _ = signal => {}
        }
        let _ = stop_tx.send(true);
        accepting.await.map_err(std::io::Error::other)?
    };
    tokio::select! {
        result = server => result,
        forced = async {
            started.notified().await;
            tokio::select! {
                _ = tokio::time::sleep(limits.shutdown_timeout) => false,
                _ = wait_for_signal() => true,
            }
        } => {
            if forced {
                tracing::warn!("second signal: exiting without waiting for connections");
            } else {
                tracing::warn!(timeout = ?limits.shutdown_timeout, "shutdown took too long; exiting");
            }
            Ok(())
        }
    }
}

/// Accepts until `stop` turns true, then asks every HTTP connection to finish its
/// request in flight and waits for them all to end.
async fn accept_loop(
    listener: TcpListener,
    router: Router,
    header_read_timeout: Duration,
    mut stop: watch::Receiver<bool>,
) -> std::io::Result<()> {
    // Every connection task holds a receiver of `conns`: `closed()` on the sender
    // resolves once they have all ended.
    let (conns_tx, conns_rx) = watch::channel(false);
    sockeye_engine::tune_listener(&listener);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.wait_for(|stop| *stop) => break,
        };
        let (stream, peer) = match accepted {
            Ok(pair) => pair,
            Err(error) if is_connection_error(&error) => continue,
            Err(error) => {
                // Out of file descriptors, say: back off instead of spinning.
                tracing::warn!(%error, "accept failed");
                tokio::select! {
                    _ = tokio::time::sleep(ACCEPT_BACKOFF) => continue,
                    _ = stop.wait_for(|stop| *stop) => break,
                }
            }
        };
        tokio::spawn(serve_connection(
            stream,
            peer,
            router.clone(),
            header_read_timeout,
            conns_rx.clone(),
        ));
    }
    drop(conns_rx);
    let _ = conns_tx.send(true);
    conns_tx.closed().await;
    Ok(())
}

const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Errors of one incoming connection that say nothing about the listener.
fn is_connection_error(error: &std::io::Error) -> bool {
    matches!(
        error.kind(),
        std::io::ErrorKind::ConnectionRefused
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::ConnectionReset
    )
}

async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    header_read_timeout: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        router.clone().oneshot(request)
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(header_read_timeout);
    let connection = builder
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades();
    tokio::pin!(connection);
    let result = tokio::select! {
        result = connection.as_mut() => result,
        _ = async { drop(stop.wait_for(|stop| *stop).await) } => {
            connection.as_mut().graceful_shutdown();
            connection.as_mut().await
        }
    };
    if let Err(error) = result {
        tracing::debug!(%error, %peer, "HTTP connection ended with an error");
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
