//! `sockeye`: a Socket.IO gateway for any web backend.

use std::process::ExitCode;

use sockeye_server::{app, config, shutdown};

#[tokio::main]
async fn main() -> ExitCode {
    let config = match config::load() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("sockeye: {e}");
            return ExitCode::from(2);
        }
    };
    shutdown::init_tracing(config.log_format);
    let listen = config.listen;
    let shutdown_timeout = std::time::Duration::from_millis(config.shutdown_timeout_ms);
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
    tracing::info!(address = %listen, "sockeye is listening (chat at /chat, vote at /vote)");
    match shutdown::serve(listener, router, gateway, shutdown_timeout).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "server error");
            ExitCode::FAILURE
        }
    }
}
