//! A connection's watch: what stage it is at (HTTP with requests in flight, idle between
//! requests, or upgraded to a WebSocket session) and the limits of each stage, enforced
//! where every byte passes: [`Watched`], the socket under TLS.
//!
//! - **Idle**: a connection with no request in flight is closed `idle_timeout` after its
//!   last response ended (or after it was accepted). Bytes that trickle in do not count as
//!   activity, so headers sent one byte at a time, a bare HTTP/2 preface and a TLS session
//!   that never sends a request all meet the same deadline as a quiet keep-alive.
//! - **Send stall**: a response the peer does not read for `send_stall` closes the
//!   connection (the peer holds a handler and its buffers otherwise).
//! - **Kill**: a request body that stops progressing (see `body.rs`) closes the whole
//!   connection, which the body alone could not do.
//!
//! Once upgraded, the WebSocket session's own limits take over (the `auth` deadline, pings,
//! the write timeout and the outbound queue), so the watch stands aside.

use super::gate::Admission;
use super::report::{self, Closed};
use futures_util::task::AtomicWaker;
use pin_project_lite::pin_project;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// The limits a watch enforces.
#[derive(Debug, Clone, Copy)]
pub(super) struct WatchLimits {
    pub(super) idle_timeout: Duration,
    pub(super) send_stall: Duration,
}

/// One connection's stage and limits, shared by its socket, its requests and, once
/// upgraded, its WebSocket session.
#[derive(Debug)]
pub struct ConnWatch {
    admission: Admission,
    limits: WatchLimits,
    opened: Instant,
    in_flight: AtomicUsize,
    /// Milliseconds after `opened` at which the connection last became idle.
    idle_since_ms: AtomicU64,
    upgraded: AtomicBool,
    /// 0, or 1 + the [`Closed`] reason it was closed for.
    closed: AtomicU8,
    reader: AtomicWaker,
}

impl ConnWatch {
    pub(super) fn new(admission: Admission, limits: WatchLimits) -> Arc<ConnWatch> {
        Arc::new(ConnWatch {
            admission,
            limits,
            opened: Instant::now(),
            in_flight: AtomicUsize::new(0),
            idle_since_ms: AtomicU64::new(0),
            upgraded: AtomicBool::new(false),
            closed: AtomicU8::new(0),
            reader: AtomicWaker::new(),
        })
    }

    /// The connection is being upgraded to a WebSocket: its session's limits apply now.
    pub fn upgraded(&self) {
        self.upgraded.store(true, Ordering::Relaxed);
        self.reader.wake();
    }

    /// Its WebSocket session authenticated: it leaves the unauthenticated count.
    pub fn authenticated(&self) {
        self.admission.authenticated();
    }

    /// A request arrived; the connection is busy until the [`RequestGuard`] drops.
    pub(super) fn request_started(self: &Arc<ConnWatch>) -> RequestGuard {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        RequestGuard {
            watch: self.clone(),
        }
    }

    /// Close the connection for `reason` (reported once, however often it is called).
    pub(super) fn close(&self, reason: Closed) {
        if self
            .closed
            .compare_exchange(0, reason as u8 + 1, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
        {
            report::closed(reason);
        }
        self.reader.wake();
    }

    fn closed(&self) -> bool {
        self.closed.load(Ordering::Relaxed) != 0
    }

    /// When an idle connection is to be closed; `None` while busy or upgraded.
    fn idle_deadline(&self) -> Option<Instant> {
        if self.upgraded.load(Ordering::Relaxed) || self.in_flight.load(Ordering::Relaxed) > 0 {
            return None;
        }
        let since = Duration::from_millis(self.idle_since_ms.load(Ordering::Relaxed));
        Some(self.opened + since + self.limits.idle_timeout)
    }
}

/// A request in flight; its drop (when the response body has been sent or abandoned)
/// may make the connection idle.
#[derive(Debug)]
pub(super) struct RequestGuard {
    watch: Arc<ConnWatch>,
}

impl Drop for RequestGuard {
    fn drop(&mut self) {
        let watch = &self.watch;
        if watch.in_flight.fetch_sub(1, Ordering::Relaxed) == 1 {
            let since = watch.opened.elapsed().as_millis() as u64;
            watch.idle_since_ms.store(since, Ordering::Relaxed);
            watch.reader.wake();
        }
    }
}

fn closed_error() -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, "closed by a connection limit")
}

pin_project! {
    /// The socket of a watched connection.
    pub(super) struct Watched<IO> {
        #[pin]
        io: IO,
        watch: Arc<ConnWatch>,
        idle: Option<Pin<Box<Sleep>>>,
        stall: Option<Pin<Box<Sleep>>>,
    }
}

impl<IO> Watched<IO> {
    pub(super) fn new(io: IO, watch: Arc<ConnWatch>) -> Watched<IO> {
        Watched {
            io,
            watch,
            idle: None,
            stall: None,
        }
    }
}

/// Poll `sleep` armed for `deadline`; `true` once it has passed.
fn passed(sleep: &mut Option<Pin<Box<Sleep>>>, deadline: Instant, cx: &mut Context<'_>) -> bool {
    let sleep = sleep.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
    if sleep.deadline() != deadline {
        sleep.as_mut().reset(deadline);
    }
    sleep.as_mut().poll(cx).is_ready()
}

impl<IO: AsyncRead> AsyncRead for Watched<IO> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.project();
        if this.watch.closed() {
            return Poll::Ready(Err(closed_error()));
        }
        // Checked on every read, not only when one waits: bytes trickling in keep a read
        // from ever waiting, and must not keep the connection open.
        if let Some(deadline) = this.watch.idle_deadline()
            && Instant::now() >= deadline
        {
            this.watch.close(Closed::Idle);
            return Poll::Ready(Err(closed_error()));
        }
        match this.io.poll_read(cx, buf) {
            Poll::Pending => {
                this.watch.reader.register(cx.waker());
                if this.watch.closed() {
                    return Poll::Ready(Err(closed_error()));
                }
                match this.watch.idle_deadline() {
                    Some(deadline) if passed(this.idle, deadline, cx) => {
                        this.watch.close(Closed::Idle);
                        Poll::Ready(Err(closed_error()))
                    }
                    Some(_) => Poll::Pending,
                    None => {
                        *this.idle = None;
                        Poll::Pending
                    }
                }
            }
            done => done,
        }
    }
}

impl<IO: AsyncRead + AsyncWrite> Watched<IO> {
    fn on_write<T>(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        write: impl FnOnce(Pin<&mut IO>, &mut Context<'_>) -> Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        let this = self.project();
        if this.watch.closed() {
            return Poll::Ready(Err(closed_error()));
        }
        match write(this.io, cx) {
            Poll::Pending => {
                if this.watch.upgraded.load(Ordering::Relaxed) {
                    *this.stall = None;
                    return Poll::Pending;
                }
                let deadline = match this.stall {
                    Some(sleep) => sleep.deadline(),
                    None => Instant::now() + this.watch.limits.send_stall,
                };
                if passed(this.stall, deadline, cx) {
                    this.watch.close(Closed::SendStalled);
                    return Poll::Ready(Err(closed_error()));
                }
                Poll::Pending
            }
            done => {
                *this.stall = None;
                done
            }
        }
    }
}

impl<IO: AsyncRead + AsyncWrite> AsyncWrite for Watched<IO> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.on_write(cx, |io, cx| io.poll_write(cx, buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.on_write(cx, |io, cx| io.poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.on_write(cx, |io, cx| io.poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().io.poll_shutdown(cx)
    }
}
