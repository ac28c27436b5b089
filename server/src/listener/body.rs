//! The two bodies the listener wraps around every request.
//!
//! [`ProgressBody`] holds a request body to a minimum pace: at least `min_bytes` in every
//! `window` until it ends, or the connection is closed. One byte every few seconds would
//! otherwise hold a handler, its buffers and a connection for as long as the sender likes;
//! an honest upload, even on a poor mobile link, is thousands of times faster. The window
//! only runs while the handler is reading, so a handler busy elsewhere costs the client
//! nothing.
//!
//! [`TrackedBody`] holds a response body and the request's [`RequestGuard`], so the
//! connection counts as busy until the last byte of the response is handed to the socket.

use super::report::Closed;
use super::watch::{ConnWatch, RequestGuard};
use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::{Instant, Sleep};

/// The pace a request body must keep.
#[derive(Debug, Clone, Copy)]
pub(super) struct BodyPace {
    pub(super) window: Duration,
    pub(super) min_bytes: u64,
}

/// The error a body that fell below its pace ends with.
#[derive(Debug, thiserror::Error)]
#[error("request body too slow: fewer than {min_bytes} bytes in {window:?}")]
pub(super) struct BodyTooSlow {
    min_bytes: u64,
    window: Duration,
}

pin_project! {
    pub struct ProgressBody<B> {
        #[pin]
        inner: B,
        watch: Arc<ConnWatch>,
        pace: BodyPace,
        received: u64,
        deadline: Option<Pin<Box<Sleep>>>,
    }
}

impl<B> ProgressBody<B> {
    pub(super) fn new(inner: B, watch: Arc<ConnWatch>, pace: BodyPace) -> ProgressBody<B> {
        ProgressBody {
            inner,
            watch,
            pace,
            received: 0,
            deadline: None,
        }
    }
}

impl<B> Body for ProgressBody<B>
where
    B: Body<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.project();
        let pace = *this.pace;
        let deadline = this
            .deadline
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(pace.window)));
        let too_slow = |watch: &ConnWatch| {
            watch.close(Closed::BodyStalled);
            Poll::Ready(Some(Err(BodyTooSlow {
                min_bytes: pace.min_bytes,
                window: pace.window,
            }
            .into())))
        };
        match this.inner.poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    *this.received += data.len() as u64;
                }
                if *this.received >= pace.min_bytes {
                    *this.received = 0;
                    deadline.as_mut().reset(Instant::now() + pace.window);
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e.into()))),
            Poll::Ready(None) => Poll::Ready(None),
            // Judged only while the handler waits on the client: bytes that arrive keep
            // coming back as frames until the buffers run dry.
            Poll::Pending => {
                if deadline.as_mut().poll(cx).is_ready() {
                    return too_slow(this.watch);
                }
                Poll::Pending
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

pin_project! {
    pub struct TrackedBody<B> {
        #[pin]
        inner: B,
        guard: RequestGuard,
    }
}

impl<B> TrackedBody<B> {
    pub(super) fn new(inner: B, guard: RequestGuard) -> TrackedBody<B> {
        TrackedBody { inner, guard }
    }
}

impl<B: Body> Body for TrackedBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        self.project().inner.poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
