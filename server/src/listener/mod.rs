//! The TLS listener: accepting connections, holding each stage before a session exists to
//! a limit, and serving HTTP/1.1, HTTP/2 and WebSocket upgrades on the router.
//!
//! Our own accept loop rather than a ready-made server, because the limits must sit at the
//! accept (a refused connection costs no TLS handshake), under TLS (where bytes pass, so
//! that a stalled peer is seen whatever the protocol above) and around each request (which
//! ends a connection's idle time). The stages and their limits:
//!
//! | stage | limit | closes after |
//! |---|---|---|
//! | accept | [`gate`]: per address, new per address per second, unauthenticated, file budget | refused at once |
//! | PROXY header (trusted proxies, `proxy_protocol = "v2"`) | a valid header; then the per-address limits on the client it names | closed, or refused |
//! | TLS handshake | `tls_handshake_timeout_secs` (the PROXY header included) | the timeout |
//! | no request in flight: before the first, between keep-alive requests, while headers arrive, an HTTP/2 connection without streams | `idle_timeout_secs` | the timeout |
//! | request body | `body_min_bytes` per `body_progress_secs` | the window |
//! | response | `send_stall_secs` without the peer reading | the stall |
//! | WebSocket | the session's `auth` deadline, pings, write timeout, queue | (see `ws`) |
//!
//! Every refusal and close is counted by reason and logged, throttled (`report`).
//!
//! Behind a load balancer, [`proxy`] says who the client is: the address the connection
//! log hashes and the per-address limits count. A trusted proxy's own address is never
//! counted per address (it carries everyone); a client it names in a PROXY header is, once
//! the header is read; clients named only by `X-Forwarded-For` (request by request) are
//! not, since the gate decides before any request (the proxy is the place to limit them).

mod body;
mod gate;
mod private;
mod proxy;
mod report;
mod watch;

pub use gate::{GateLimits, file_budget};
pub use private::serve_private;
pub use proxy::Proxies;
pub use report::{Closed, Refused};
pub use watch::ConnWatch;

use crate::connlog::ClientConn;
use axum::Router;
use axum::extract::ConnectInfo;
use body::{BodyPace, ProgressBody, TrackedBody};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;
use watch::{WatchLimits, Watched};

/// Everything the listener enforces, read from the config.
#[derive(Debug, Clone)]
pub struct ListenerLimits {
    pub gate: GateLimits,
    pub tls_handshake_timeout: Duration,
    pub idle_timeout: Duration,
    pub body_progress: Duration,
    pub body_min_bytes: u64,
    pub send_stall: Duration,
    /// Concurrent requests on one HTTP/2 connection.
    pub http2_max_streams: u32,
    /// Who may name the client, and how.
    pub proxies: Proxies,
}

/// Accept and serve until `shutdown` fires, then stop accepting and give open HTTP
/// connections `drain` to finish their requests (upgraded sessions drain on their own).
pub async fn serve(
    listener: std::net::TcpListener,
    tls: tokio_rustls::TlsAcceptor,
    app: Router,
    limits: ListenerLimits,
    shutdown: CancellationToken,
    drain: Duration,
) -> std::io::Result<()> {
    listener.set_nonblocking(true)?;
    let listener = tokio::net::TcpListener::from_std(listener)?;
    let gate = gate::Gate::new(limits.gate.clone());
    let proxies = Arc::new(limits.proxies.clone());
    let builder = Arc::new(http_builder(&limits));
    let graceful = GracefulShutdown::new();
    loop {
        let accepted = tokio::select! {
            biased;
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                accept_failed(&error).await;
                continue;
            }
        };
        // A trusted proxy's own address is not counted per address: the client it names is.
        let from_proxy = proxies.trusts(peer.ip());
        let admitted = if from_proxy {
            gate.admit_unattributed()
        } else {
            gate.admit(peer.ip())
        };
        let mut admission = match admitted {
            Ok(admission) => admission,
            Err(reason) => {
                report::refused(reason);
                continue;
            }
        };
        // Frames are small and latency-bound: without TCP_NODELAY, Nagle's algorithm holds
        // a second small write until the peer's delayed ACK (~40 ms on Linux).
        let _ = stream.set_nodelay(true);
        let watch_limits = WatchLimits {
            idle_timeout: limits.idle_timeout,
            send_stall: limits.send_stall,
        };
        let pace = BodyPace {
            window: limits.body_progress,
            min_bytes: limits.body_min_bytes,
        };
        let app = app.clone();
        let proxies = proxies.clone();
        let handshake = limits.tls_handshake_timeout;
        let acceptor = tls.clone();
        let builder = builder.clone();
        let watcher = graceful.watcher();
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            // One deadline for the PROXY header and the TLS handshake together.
            let deadline = tokio::time::Instant::now() + handshake;
            let mut stream = stream;
            let origin = if from_proxy && proxies.proxy_protocol_v2 {
                let header = tokio::select! {
                    _ = shutdown.cancelled() => return,
                    header = tokio::time::timeout_at(deadline, proxy::read_header(&mut stream)) => header,
                };
                match header {
                    Ok(Ok(named)) => named.unwrap_or(peer),
                    Ok(Err(error)) => {
                        tracing::debug!(%error, "a trusted proxy's connection without a valid PROXY header");
                        report::closed(Closed::ProxyHeader);
                        return;
                    }
                    Err(_) => {
                        report::closed(Closed::Handshake);
                        return;
                    }
                }
            } else {
                peer
            };
            if !proxies.trusts(origin.ip())
                && let Err(reason) = admission.attribute(origin.ip())
            {
                report::refused(reason);
                return;
            }
            let connection = Connection {
                client: Clients::new(origin, &proxies),
                watch: ConnWatch::new(admission, watch_limits),
                app,
                pace,
            };
            let io = Watched::new(stream, connection.watch.clone());
            let tls = tokio::select! {
                _ = shutdown.cancelled() => return,
                tls = tokio::time::timeout_at(deadline, acceptor.accept(io)) => tls,
            };
            let tls = match tls {
                Ok(Ok(tls)) => tls,
                // A failed handshake (a scanner, a client that distrusts the certificate) is
                // the peer's business: nothing to count or log.
                Ok(Err(_)) => return,
                Err(_) => {
                    report::closed(Closed::Handshake);
                    return;
                }
            };
            let served = builder.serve_connection_with_upgrades(
                TokioIo::new(tls),
                hyper::service::service_fn(move |request| connection.call(request)),
            );
            let _ = watcher.watch(served.into_owned()).await;
        });
    }
    drop(listener);
    if tokio::time::timeout(drain, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("some HTTP connections did not finish within the drain timeout");
    }
    Ok(())
}

/// HTTP/1.1 and HTTP/2 with their own limits set (hyper's defaults are for trusted peers).
/// hyper's own header timeout is off: the watch's idle deadline covers headers (and counts
/// what it closes).
fn http_builder(limits: &ListenerLimits) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(None)
        .max_buf_size(64 * 1024);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(limits.http2_max_streams)
        .max_header_list_size(32 * 1024)
        .max_pending_accept_reset_streams(32)
        .max_local_error_reset_streams(64);
    builder
}

/// An accept that failed: a peer that vanished first is nothing; running out of file
/// descriptors is counted and waited out (retrying at once would spin).
async fn accept_failed(error: &std::io::Error) {
    use rustix::io::Errno;
    let out_of_files = [Errno::MFILE, Errno::NFILE]
        .iter()
        .any(|errno| error.raw_os_error() == Some(errno.raw_os_error()));
    if out_of_files {
        report::refused(Refused::FileBudget);
    } else {
        tracing::debug!(%error, "accept failed");
    }
    tokio::time::sleep(Duration::from_millis(if out_of_files { 50 } else { 1 })).await;
}

/// Who a connection's requests come from.
#[derive(Clone)]
enum Clients {
    /// Its one client: the peer, or the client a PROXY header named.
    Direct(ClientConn),
    /// A trusted proxy, each request naming its client in `X-Forwarded-For`.
    Forwarded(Arc<Forwarded>),
}

/// A trusted proxy's connection: a proxy may carry several clients' requests on one
/// connection, so each client seen on it is its own entry of the connection log (the last
/// few are kept, so that interleaved requests do not make a new entry each time).
struct Forwarded {
    peer: SocketAddr,
    proxies: Arc<Proxies>,
    seen: Mutex<Vec<(IpAddr, ClientConn)>>,
}

/// Clients remembered per forwarded connection.
const SEEN_CLIENTS: usize = 8;

impl Clients {
    fn new(origin: SocketAddr, proxies: &Arc<Proxies>) -> Clients {
        if proxies.trusts(origin.ip()) {
            Clients::Forwarded(Arc::new(Forwarded {
                peer: origin,
                proxies: proxies.clone(),
                seen: Mutex::new(Vec::new()),
            }))
        } else {
            Clients::Direct(ClientConn::new(origin))
        }
    }

    /// The client of one request.
    fn of(&self, headers: &axum::http::HeaderMap) -> ClientConn {
        let forwarded = match self {
            Clients::Direct(client) => return client.clone(),
            Clients::Forwarded(forwarded) => forwarded,
        };
        let ip = forwarded.proxies.client(forwarded.peer.ip(), headers);
        let mut seen = forwarded.seen.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, client)) = seen.iter().find(|(known, _)| *known == ip) {
            return client.clone();
        }
        let port = if ip == forwarded.peer.ip() {
            forwarded.peer.port()
        } else {
            0
        };
        let client = ClientConn::new(SocketAddr::new(ip, port));
        if seen.len() >= SEEN_CLIENTS {
            seen.remove(0);
        }
        seen.push((ip, client.clone()));
        client
    }
}

/// One accepted connection's request handling.
#[derive(Clone)]
struct Connection {
    client: Clients,
    watch: Arc<ConnWatch>,
    app: Router,
    pace: BodyPace,
}

impl Connection {
    fn call(
        &self,
        request: hyper::Request<Incoming>,
    ) -> impl Future<
        Output = Result<hyper::Response<TrackedBody<axum::body::Body>>, std::convert::Infallible>,
    > + Send
    + use<> {
        let guard = self.watch.request_started();
        let (mut parts, incoming) = request.into_parts();
        parts
            .extensions
            .insert(ConnectInfo(self.client.of(&parts.headers)));
        parts.extensions.insert(self.watch.clone());
        let body =
            axum::body::Body::new(ProgressBody::new(incoming, self.watch.clone(), self.pace));
        let responded = self
            .app
            .clone()
            .oneshot(axum::http::Request::from_parts(parts, body));
        async move {
            let response = responded.await?;
            Ok(response.map(|body| TrackedBody::new(body, guard)))
        }
    }
}
