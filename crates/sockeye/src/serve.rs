//! Serving a server on a port without any web framework.

use std::future::Future;

use tokio::net::{TcpListener, ToSocketAddrs};

use crate::SocketIo;

/// Serves `io` on `addr` until the process ends.
pub async fn serve(addr: impl ToSocketAddrs, io: SocketIo) -> std::io::Result<()> {
    let listener = TcpListener::bind(addr).await?;
    sockeye_engine::serve(listener, io.service()).await
}

/// Serves `io` on an already bound listener until `shutdown` completes; then every
/// connection is closed (the clients reconnect elsewhere).
pub async fn serve_with_shutdown(
    listener: TcpListener,
    io: SocketIo,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let closer = io.clone();
    sockeye_engine::serve_with_shutdown(listener, io.service(), async move {
        shutdown.await;
        closer.close();
    })
    .await
}
