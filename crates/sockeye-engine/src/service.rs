//! The tower service. (Public surface fixed; internals to be implemented.)
use std::sync::Arc;

use crate::{EngineConfig, EngineHandler};

/// A `tower::Service` answering Engine.IO requests under the configured path and
/// passing every other request to an inner service (404 by default).
pub struct EngineService<H, S = NotFound> {
    _h: Arc<H>,
    _s: S,
    _c: EngineConfig,
}

/// The default inner service: answers 404.
#[derive(Clone, Copy, Debug, Default)]
pub struct NotFound;

/// A `tower::Layer` wrapping an inner service (e.g. an axum `Router`) with Engine.IO.
pub struct EngineLayer<H> {
    _h: Arc<H>,
}

impl<H: EngineHandler> EngineService<H> {
    pub fn new(config: EngineConfig, handler: H) -> Self {
        EngineService { _h: Arc::new(handler), _s: NotFound, _c: config }
    }
}
