//! The response body of [`EngineService`](crate::EngineService): either the engine's
//! own payload (a list of shared buffers, so polling responses need no copy of large
//! messages) or the inner service's body.

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

/// Boxed error of a response body.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

pin_project! {
    /// Response body of [`EngineService`](crate::EngineService).
    #[project = EngineBodyProj]
    pub enum EngineBody<B> {
        /// An Engine.IO response, as a list of chunks.
        Payload { chunks: VecDeque<Bytes> },
        /// The inner service's response.
        Inner { #[pin] body: B },
    }
}

impl<B> EngineBody<B> {
    /// An engine response made of `chunks`.
    pub(crate) fn payload(chunks: impl Into<VecDeque<Bytes>>) -> Self {
        EngineBody::Payload {
            chunks: chunks.into(),
        }
    }
}

impl<B> Body for EngineBody<B>
where
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match self.project() {
            EngineBodyProj::Payload { chunks } => {
                Poll::Ready(chunks.pop_front().map(|c| Ok(Frame::data(c))))
            }
            EngineBodyProj::Inner { body } => body
                .poll_frame(cx)
                .map(|frame| frame.map(|r| r.map_err(Into::into))),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            EngineBody::Payload { chunks } => chunks.is_empty(),
            EngineBody::Inner { body } => body.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            EngineBody::Payload { chunks } => {
                SizeHint::with_exact(chunks.iter().map(|c| c.len() as u64).sum())
            }
            EngineBody::Inner { body } => body.size_hint(),
        }
    }
}

impl<B> std::fmt::Debug for EngineBody<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EngineBody::Payload { chunks } => f
                .debug_struct("Payload")
                .field("chunks", &chunks.len())
                .finish(),
            EngineBody::Inner { .. } => f.write_str("Inner"),
        }
    }
}

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt;

    use super::*;

    #[tokio::test]
    async fn payload_body_yields_its_chunks() {
        let body: EngineBody<http_body_util::Empty<Bytes>> =
            EngineBody::payload(vec![Bytes::from("ab"), Bytes::from("c")]);
        assert_eq!(body.size_hint().exact(), Some(3));
        let all = body.collect().await.map(|c| c.to_bytes()).ok();
        assert_eq!(all, Some(Bytes::from("abc")));
    }

    #[tokio::test]
    async fn inner_body_passes_through() {
        let body: EngineBody<http_body_util::Full<Bytes>> = EngineBody::Inner {
            body: http_body_util::Full::new(Bytes::from("x")),
        };
        let all = body.collect().await.map(|c| c.to_bytes()).ok();
        assert_eq!(all, Some(Bytes::from("x")));
    }
}
