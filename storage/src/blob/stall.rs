//! A reader that fails when its source stops sending: an object store that hangs in the
//! middle of a body (the process stopped, its sockets still open) ends the read with an
//! error after the configured timeout, instead of holding the download, and the client,
//! open forever. The S3 client's own timeouts end when the response headers arrive; the
//! body is this guard's.

use super::BlobReader;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, ReadBuf};
use tokio::time::{Instant, Sleep};

/// `inner`, failing with `TimedOut` when a read waits longer than `limit` for data.
pub(super) fn guard(inner: BlobReader, limit: Duration) -> BlobReader {
    Box::pin(StallGuard {
        inner,
        limit,
        deadline: Box::pin(tokio::time::sleep(limit)),
        armed: false,
    })
}

struct StallGuard {
    inner: BlobReader,
    limit: Duration,
    deadline: Pin<Box<Sleep>>,
    /// The deadline runs only while a read is waiting: time in which nobody read (the
    /// client applying backpressure) does not count against the store.
    armed: bool,
}

impl AsyncRead for StallGuard {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.inner.as_mut().poll_read(cx, buf) {
            Poll::Ready(result) => {
                self.armed = false;
                Poll::Ready(result)
            }
            Poll::Pending => {
                if !self.armed {
                    self.armed = true;
                    let deadline = Instant::now() + self.limit;
                    self.deadline.as_mut().reset(deadline);
                }
                self.deadline.as_mut().poll(cx).map(|()| {
                    Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "the object store stopped sending",
                    ))
                })
            }
        }
    }
}

// Timing tests run on tokio's paused clock: no test here waits in real time.
#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test(start_paused = true)]
    async fn a_source_that_stops_sending_fails_the_read_after_the_limit() {
        let (mut writer, reader) = tokio::io::duplex(64);
        let mut guarded = guard(Box::pin(reader), Duration::from_millis(200));
        writer.write_all(b"abc").await.unwrap();
        let mut first = [0u8; 3];
        guarded.read_exact(&mut first).await.unwrap();
        assert_eq!(&first, b"abc");
        // Then nothing more (the writer stays open, like a stopped process's socket).
        let started = tokio::time::Instant::now();
        let error = guarded.read(&mut [0u8; 8]).await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
        // Time is paused and moves only when every task waits: exactly the limit passed.
        assert_eq!(started.elapsed(), Duration::from_millis(200));
        drop(writer);
    }

    /// A client that stops reading for a while (backpressure) is not the store stalling:
    /// only time spent waiting in a read counts.
    #[tokio::test(start_paused = true)]
    async fn time_nobody_reads_does_not_count() {
        let (mut writer, reader) = tokio::io::duplex(64);
        let mut guarded = guard(Box::pin(reader), Duration::from_millis(200));
        writer.write_all(b"abc").await.unwrap();
        let mut first = [0u8; 3];
        guarded.read_exact(&mut first).await.unwrap();
        tokio::time::sleep(Duration::from_millis(400)).await;
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            writer.write_all(b"def").await.unwrap();
            tokio::time::sleep(Duration::from_millis(500)).await;
        });
        let mut second = [0u8; 3];
        guarded.read_exact(&mut second).await.unwrap();
        assert_eq!(&second, b"def");
    }

    #[tokio::test(start_paused = true)]
    async fn a_source_that_keeps_sending_is_read_to_the_end() {
        let (mut writer, reader) = tokio::io::duplex(64);
        let mut guarded = guard(Box::pin(reader), Duration::from_millis(300));
        tokio::spawn(async move {
            for _ in 0..10 {
                writer.write_all(b"0123456789").await.unwrap();
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
        let mut all = Vec::new();
        guarded.read_to_end(&mut all).await.unwrap();
        assert_eq!(all.len(), 100);
    }
}
