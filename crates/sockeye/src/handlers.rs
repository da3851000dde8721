//! The callbacks an application registers, and how they are run.
//!
//! Handlers are async. A handler's future is polled once right where the packet is
//! processed, so that handlers start in the order the packets arrived (as in Node.js,
//! where everything before the first `await` runs synchronously); only a handler that
//! actually waits is spawned as a task.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use crate::{ConnectError, DisconnectReason, Event, EventRefused, Socket};

pub(crate) type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

pub(crate) type ConnectionHandler = Arc<dyn Fn(Socket) -> BoxFuture<()> + Send + Sync>;
pub(crate) type ConnectMiddleware =
    Arc<dyn Fn(Socket) -> BoxFuture<Result<(), ConnectError>> + Send + Sync>;
pub(crate) type EventHandler = Arc<dyn Fn(Socket, Event) -> BoxFuture<()> + Send + Sync>;
pub(crate) type AnyHandler = Arc<dyn Fn(&Socket, &Event) + Send + Sync>;
pub(crate) type EventMiddleware =
    Arc<dyn Fn(&Socket, &mut Event) -> Result<(), EventRefused> + Send + Sync>;
pub(crate) type RefusedHandler = Arc<dyn Fn(&Socket, &Event, &EventRefused) + Send + Sync>;
pub(crate) type DisconnectHandler =
    Arc<dyn Fn(Socket, DisconnectReason) -> BoxFuture<()> + Send + Sync>;
pub(crate) type DisconnectingHandler = Arc<dyn Fn(&Socket, DisconnectReason) + Send + Sync>;

/// Runs a handler's future: polled once here, spawned only if it is not finished.
pub(crate) fn run_inline(mut fut: BoxFuture<()>) {
    let mut cx = Context::from_waker(Waker::noop());
    if fut.as_mut().poll(&mut cx).is_pending() {
        tokio::spawn(fut);
    }
}

/// Same as [`run_inline`], returning the output when the future finished at once.
pub(crate) fn poll_once<T: Send + 'static>(mut fut: BoxFuture<T>) -> Result<T, BoxFuture<T>> {
    let mut cx = Context::from_waker(Waker::noop());
    match fut.as_mut().poll(&mut cx) {
        Poll::Ready(v) => Ok(v),
        Poll::Pending => Err(fut),
    }
}
