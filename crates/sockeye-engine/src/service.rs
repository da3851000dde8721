//! The tower service and layer: Engine.IO requests under the configured path are
//! answered here, every other request goes to the inner service.

use std::convert::Infallible;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body::Body;
use pin_project_lite::pin_project;
use tower_service::Service;

use crate::body::{BoxError, EngineBody};
use crate::dispatch;
use crate::engine::Engine;
use crate::response::EngineResponse;
use crate::{CloseReason, EngineConfig, EngineHandler};

/// A `tower::Service` answering Engine.IO requests under the configured path and
/// passing every other request to an inner service (404 by default).
///
/// Clones share the same sessions. Websocket upgrades need a server that supports
/// HTTP upgrades (hyper with `with_upgrades`, as [`serve`](crate::serve) and axum do).
pub struct EngineService<H, S = NotFound> {
    engine: Arc<Engine>,
    inner: S,
    _handler: PhantomData<fn() -> H>,
}

/// The default inner service: answers 404.
#[derive(Clone, Copy, Debug, Default)]
pub struct NotFound;

/// A `tower::Layer` wrapping an inner service (e.g. an axum `Router`) with Engine.IO.
/// Every service it makes shares the same sessions.
pub struct EngineLayer<H> {
    engine: Arc<Engine>,
    _handler: PhantomData<fn() -> H>,
}

impl<H: EngineHandler> EngineService<H> {
    pub fn new(config: EngineConfig, handler: H) -> Self {
        EngineService {
            engine: Arc::new(Engine::new(config, Arc::new(handler))),
            inner: NotFound,
            _handler: PhantomData,
        }
    }
}

impl<H, S> EngineService<H, S> {
    /// The same engine (and sessions) in front of another inner service.
    pub fn with_inner<S2>(self, inner: S2) -> EngineService<H, S2> {
        EngineService {
            engine: self.engine,
            inner,
            _handler: PhantomData,
        }
    }

    /// Number of open sessions.
    pub fn session_count(&self) -> usize {
        self.engine.count()
    }

    /// Closes every session: [`CloseReason::ForcedClose`] flushes each session's
    /// queue first; any other reason closes at once.
    pub fn close_all(&self, reason: CloseReason) {
        self.engine.close_all(reason)
    }

    pub fn config(&self) -> &EngineConfig {
        &self.engine.config
    }

    fn is_engine_path(&self, path: &str) -> bool {
        let base = &self.engine.config.path;
        path == base || (base.len() > 1 && path == base.trim_end_matches('/'))
    }
}

impl<H, S: Clone> Clone for EngineService<H, S> {
    fn clone(&self) -> Self {
        EngineService {
            engine: self.engine.clone(),
            inner: self.inner.clone(),
            _handler: PhantomData,
        }
    }
}

impl<H, S: std::fmt::Debug> std::fmt::Debug for EngineService<H, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineService")
            .field("config", &self.engine.config)
            .field("sessions", &self.engine.count())
            .field("inner", &self.inner)
            .finish()
    }
}

type EngineFuture = Pin<Box<dyn Future<Output = EngineResponse> + Send>>;

pin_project! {
    /// Response future of [`EngineService`].
    #[project = ResponseFutureProj]
    pub enum ResponseFuture<F> {
        Engine { future: EngineFuture },
        Inner { #[pin] future: F },
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<EngineBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            ResponseFutureProj::Engine { future } => future
                .as_mut()
                .poll(cx)
                .map(|res| Ok(res.map(EngineBody::payload))),
            ResponseFutureProj::Inner { future } => future
                .poll(cx)
                .map(|res| res.map(|res| res.map(|body| EngineBody::Inner { body }))),
        }
    }
}

impl<H, S, ReqBody, ResBody> Service<Request<ReqBody>> for EngineService<H, S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone,
    ReqBody: Body<Data = Bytes> + Send + 'static,
    ReqBody::Error: Into<BoxError>,
{
    type Response = Response<EngineBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        if self.is_engine_path(request.uri().path()) {
            let engine = self.engine.clone();
            return ResponseFuture::Engine {
                future: Box::pin(dispatch::handle(engine, request)),
            };
        }
        // The ready inner service takes the call; a fresh clone waits for the next.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        ResponseFuture::Inner {
            future: inner.call(request),
        }
    }
}

impl<B> Service<Request<B>> for NotFound {
    type Response = Response<http_body_util::Empty<Bytes>>;
    type Error = Infallible;
    type Future = std::future::Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _request: Request<B>) -> Self::Future {
        let mut res = Response::new(http_body_util::Empty::new());
        *res.status_mut() = StatusCode::NOT_FOUND;
        std::future::ready(Ok(res))
    }
}

impl<H: EngineHandler> EngineLayer<H> {
    pub fn new(config: EngineConfig, handler: H) -> Self {
        EngineLayer {
            engine: Arc::new(Engine::new(config, Arc::new(handler))),
            _handler: PhantomData,
        }
    }
}

impl<H> EngineLayer<H> {
    /// Number of open sessions.
    pub fn session_count(&self) -> usize {
        self.engine.count()
    }

    /// See [`EngineService::close_all`].
    pub fn close_all(&self, reason: CloseReason) {
        self.engine.close_all(reason)
    }

    pub fn config(&self) -> &EngineConfig {
        &self.engine.config
    }
}

impl<H> Clone for EngineLayer<H> {
    fn clone(&self) -> Self {
        EngineLayer {
            engine: self.engine.clone(),
            _handler: PhantomData,
        }
    }
}

impl<H> std::fmt::Debug for EngineLayer<H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineLayer")
            .field("config", &self.engine.config)
            .finish()
    }
}

impl<H, S> tower_layer::Layer<S> for EngineLayer<H> {
    type Service = EngineService<H, S>;

    fn layer(&self, inner: S) -> Self::Service {
        EngineService {
            engine: self.engine.clone(),
            inner,
            _handler: PhantomData,
        }
    }
}
