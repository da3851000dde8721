//! A minimal HTTP/1.1 server for an [`EngineService`](crate::EngineService) (or any
//! tower service): hyper with upgrades enabled, the peer address in the request
//! extensions as [`RemoteAddr`].

use std::future::{poll_fn, Future};
use std::io;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body::Body;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower_service::Service;

use crate::body::BoxError;
use crate::RemoteAddr;

/// Bounds the accept back-off: after a failed `accept` (out of file descriptors, say)
/// the loop sleeps, doubling from the minimum, instead of spinning.
const ACCEPT_BACKOFF_MIN: Duration = Duration::from_millis(5);
const ACCEPT_BACKOFF_MAX: Duration = Duration::from_secs(1);
/// A client must send its request headers within this time.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Serves `service` on `listener` until the process ends.
pub async fn serve<S, B>(listener: TcpListener, service: S) -> io::Result<()>
where
    S: Service<Request<Incoming>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    serve_with_shutdown(listener, service, std::future::pending()).await
}

/// Serves `service` on `listener` until `shutdown` completes. Then it stops accepting,
/// asks every open HTTP connection to finish its request in flight and close, and
/// returns without waiting for them (websocket connections are not HTTP connections
/// any more: close the sessions with `EngineService::close_all`).
///
/// The accept loop runs as a task of its own, on the runtime's workers beside the
/// connections it starts, not on whatever thread polls this future (the main thread,
/// for `#[tokio::main]`): a new connection then wakes no other thread.
pub async fn serve_with_shutdown<S, B>(
    listener: TcpListener,
    service: S,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()>
where
    S: Service<Request<Incoming>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut accepting = tokio::spawn(accept_loop(listener, service, stop_rx));
    tokio::select! {
        joined = &mut accepting => return flatten(joined),
        _ = shutdown => {}
    }
    let _ = stop_tx.send(true);
    flatten(accepting.await)
}

fn flatten(joined: Result<io::Result<()>, tokio::task::JoinError>) -> io::Result<()> {
    joined.map_err(io::Error::other)?
}

/// Accepts connections until `stop` turns true.
async fn accept_loop<S, B>(
    listener: TcpListener,
    service: S,
    mut stop: watch::Receiver<bool>,
) -> io::Result<()>
where
    S: Service<Request<Incoming>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    tune_listener(&listener);
    let mut backoff = ACCEPT_BACKOFF_MIN;
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.wait_for(|stop| *stop) => break,
        };
        let (stream, peer) = match accepted {
            Ok(pair) => {
                backoff = ACCEPT_BACKOFF_MIN;
                pair
            }
            Err(error) if is_connection_error(&error) => continue,
            Err(error) => {
                tracing::warn!(%error, ?backoff, "accept failed, backing off");
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = stop.wait_for(|stop| *stop) => break,
                }
                backoff = (backoff * 2).min(ACCEPT_BACKOFF_MAX);
                continue;
            }
        };
        tokio::spawn(serve_connection(
            stream,
            peer,
            service.clone(),
            stop.clone(),
        ));
    }
    Ok(())
}

/// TCP options set once on the listener rather than on every connection: accepted
/// sockets inherit `TCP_NODELAY` (Socket.IO packets are small and must not wait for
/// Nagle), and with `TCP_DEFER_ACCEPT` (Linux) a connection is handed over only once
/// its first bytes have arrived, so the first read finds the request instead of
/// nothing, and a client that connects and sends nothing costs no task.
pub fn tune_listener(listener: &TcpListener) {
    let socket = socket2::SockRef::from(listener);
    if let Err(error) = socket.set_tcp_nodelay(true) {
        tracing::debug!(%error, "could not set TCP_NODELAY on the listener");
    }
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let seconds: libc::c_int = DEFER_ACCEPT_SECS;
        // SAFETY: setsockopt reads `size_of::<c_int>()` bytes from a pointer to a live
        // c_int, on the listener's own descriptor, which `listener` keeps open.
        let rc = unsafe {
            libc::setsockopt(
                listener.as_raw_fd(),
                libc::IPPROTO_TCP,
                libc::TCP_DEFER_ACCEPT,
                (&seconds as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if rc != 0 {
            tracing::debug!(error = %io::Error::last_os_error(), "could not set TCP_DEFER_ACCEPT");
        }
    }
}

/// How long the kernel holds a connection that sent nothing before handing it over
/// anyway (it is then served as usual, and the header read timeout applies).
#[cfg(target_os = "linux")]
const DEFER_ACCEPT_SECS: libc::c_int = 5;

/// Errors of one incoming connection that say nothing about the listener.
fn is_connection_error(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

async fn serve_connection<S, B>(
    stream: tokio::net::TcpStream,
    peer: std::net::SocketAddr,
    service: S,
    mut stop: watch::Receiver<bool>,
) where
    S: Service<Request<Incoming>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    let hyper_service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
        request.extensions_mut().insert(RemoteAddr(peer));
        let mut service = service.clone();
        async move {
            poll_fn(|cx| service.poll_ready(cx)).await?;
            service.call(request).await
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    let connection = builder
        .serve_connection(TokioIo::new(stream), hyper_service)
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
