//! Mounting the server in a `tower` stack (axum, hyper).

use sockeye_engine::{EngineService, NotFound};
use tower_layer::Layer;

use crate::io::IoHandler;
use crate::SocketIo;

/// The `tower` service of a [`SocketIo`] server: answers under the configured path and
/// passes other requests to `S`.
pub type SocketIoService<S = NotFound> = EngineService<IoHandler, S>;

/// A `tower` layer putting a [`SocketIo`] server in front of another service.
///
/// ```no_run
/// # async fn run() -> std::io::Result<()> {
/// let (layer, io) = sockeye::SocketIo::builder().build_layer();
/// io.ns("/", |_socket: sockeye::Socket| async {});
/// let app = axum::Router::new()
///     .route("/", axum::routing::get(|| async { "hello" }))
///     .layer(layer);
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
/// axum::serve(listener, app).await
/// # }
/// ```
#[derive(Clone)]
pub struct SocketIoLayer {
    io: SocketIo,
}

impl SocketIoLayer {
    pub(crate) fn new(io: SocketIo) -> Self {
        SocketIoLayer { io }
    }
}

impl<S> Layer<S> for SocketIoLayer {
    type Service = SocketIoService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        self.io.service().with_inner(inner)
    }
}
