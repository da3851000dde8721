//! `sockeye`: a Socket.IO gateway for any web backend.

use std::process::ExitCode;

use sockeye_server::config::Loaded;
use sockeye_server::{app, config, shutdown};

#[tokio::main]
async fn main() -> ExitCode {
    let config = match config::load() {
        Ok(Loaded::Run(config)) => *config,
        Ok(Loaded::Print(config)) => {
            print!("{}", config.to_toml());
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("sockeye: {e}");
            return ExitCode::from(2);
        }
    };
    shutdown::init_tracing(config.log_format);
    if let Some(file) = &config.file {
        tracing::info!(file = %file.display(), "configuration read");
    }
    tracing::debug!(?config, "effective configuration");
    let listen = config.listen;
    let path = config.engine.path.clone();
    let shutdown_timeout = std::time::Duration::from_millis(config.shutdown_timeout_ms);
    let header_read_timeout = std::time::Duration::from_millis(config.header_read_timeout_ms);
    let (router, gateway) = match app::build(config).await {
        Ok(built) => built,
        Err(e) => {
            tracing::error!(error = %e, "cannot start");
            return ExitCode::FAILURE;
        }
    };
    let listener = match tokio::net::TcpListener::bind(listen).await {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(%listen, error = %e, "cannot listen");
            return ExitCode::FAILURE;
        }
    };
    // The address actually bound (port 0 picks a free one); tests and scripts read it.
    let bound = listener.local_addr().unwrap_or(listen);
    tracing::info!(
        url = %format!("http://{bound}"),
        socket_io = %path,
        "sockeye is listening (chat at /chat, vote at /vote, health at /health, metrics at /metrics)"
    );
    let limits = shutdown::ServeLimits {
        shutdown_timeout,
        header_read_timeout,
    };
    match shutdown::serve(listener, router, gateway, limits).await {
        Ok(()) => {
            tracing::info!("stopped");
            ExitCode::SUCCESS
        }
        Err(e) => {
            tracing::error!(error = %e, "server error");
            ExitCode::FAILURE
        }
    }
}
