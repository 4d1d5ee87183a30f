//! Serving connections: HTTP/1.1 on hyper with the bounds a public server needs.
//!
//! - a cap on open connections (beyond it, new ones wait in the listen backlog, so a flood of
//!   idle sockets cannot take the memory of the process);
//! - a header-read timeout, started when the connection opens, so half-open connections that
//!   never finish their headers (slowloris) are closed;
//! - an idle timeout between requests on keep-alive connections (hyper has none of its own);
//! - `TCP_NODELAY`, so small responses are not held back by delayed ACKs;
//! - the client address in the request extensions ([`ClientAddr`]) for per-address limits;
//! - graceful shutdown: stop accepting, let requests in flight finish.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};

/// Connection bounds (configurable: `weir serve --max-connections`, `--header-read-timeout`,
/// `--idle-timeout`; documented in docs/API.md).
#[derive(Debug, Clone)]
pub struct ServeLimits {
    /// Open connections at most; more wait in the backlog until one closes.
    pub max_connections: usize,
    /// A request's headers must arrive within this, from the moment the connection opens.
    pub header_read_timeout: Duration,
    /// A keep-alive connection with no request in flight and no bytes moving is closed after
    /// this.
    pub idle_timeout: Duration,
    /// Largest request head hyper buffers (the JSON 431 answer for heads over
    /// [`crate::MAX_HEADER_BYTES`] comes from the router, below this).
    pub max_head_bytes: usize,
    /// Open connections from one address at most (IPv6 counted per /64); more are closed at once.
    pub max_connections_per_address: usize,
    /// While a request is in flight, fewer than [`MIN_BYTES_PER_WINDOW`] bytes moving in this
    /// window (a body trickled in, a response never read) closes the connection.
    pub stall_timeout: Duration,
}

/// What a connection with a request in flight must move per [`ServeLimits::stall_timeout`].
pub const MIN_BYTES_PER_WINDOW: u64 = 1024;

impl Default for ServeLimits {
    fn default() -> ServeLimits {
        ServeLimits {
            max_connections: 1024,
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_head_bytes: 256 * 1024,
            max_connections_per_address: 256,
            stall_timeout: Duration::from_secs(30),
        }
    }
}

/// The peer address of the connection a request came on.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub SocketAddr);

/// Activity of one connection: when bytes last moved, and how many requests are in flight.
#[derive(Default)]
struct Activity {
    last: AtomicU64,
    in_flight: AtomicUsize,
    /// Bytes read and written so far.
    moved: AtomicU64,
}

impl Activity {
    fn touch(&self, epoch: Instant, bytes: usize) {
        self.last
            .store(epoch.elapsed().as_millis() as u64, Ordering::Relaxed);
        self.moved.fetch_add(bytes as u64, Ordering::Relaxed);
    }
}

/// The key connections are counted under: the address, IPv6 by its /64 (one host's range).
pub fn address_key(ip: std::net::IpAddr) -> std::net::IpAddr {
    match ip {
        std::net::IpAddr::V6(v) => match v.to_ipv4_mapped() {
            Some(v4) => std::net::IpAddr::V4(v4),
            None => {
                std::net::IpAddr::V6(std::net::Ipv6Addr::from(u128::from(v) & (u128::MAX << 64)))
            }
        },
        v4 => v4,
    }
}

/// Open connections per address; a slot is given back when its connection ends.
#[derive(Default)]
struct PerAddress(std::sync::Mutex<std::collections::HashMap<std::net::IpAddr, usize>>);

struct AddressSlot(Arc<PerAddress>, std::net::IpAddr);

impl PerAddress {
    fn take(self: &Arc<Self>, ip: std::net::IpAddr, max: usize) -> Option<AddressSlot> {
        let key = address_key(ip);
        let mut m = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let n = m.entry(key).or_insert(0);
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(AddressSlot(self.clone(), key))
    }
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        let mut m = self.0.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = m.get_mut(&self.1) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                m.remove(&self.1);
            }
        }
    }
}

/// A TCP stream that records when bytes move.
struct Tracked {
    inner: TcpStream,
    activity: Arc<Activity>,
    epoch: Instant,
}

impl AsyncRead for Tracked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        let n = buf.filled().len() - before;
        if n > 0 {
            self.activity.touch(self.epoch, n);
        }
        r
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, data);
        if let Poll::Ready(Ok(n)) = r
            && n > 0
        {
            self.activity.touch(self.epoch, n);
        }
        r
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = r
            && n > 0
        {
            self.activity.touch(self.epoch, n);
        }
        r
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// Decrements the in-flight count when a response (or its failure) is done with.
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Serves `router` on `listener` until `shutdown` resolves, then lets requests in flight
/// finish (at most 30 s).
pub async fn serve_router(
    listener: TcpListener,
    router: Router,
    limits: ServeLimits,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let per_address = Arc::new(PerAddress::default());
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            p = permits.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // One host cannot take every slot.
        let Some(slot) = per_address.take(peer.ip(), limits.max_connections_per_address.max(1))
        else {
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let limits = limits.clone();
        let mut stop = stop_rx.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let _slot = slot;
            let activity = Arc::new(Activity::default());
            let epoch = Instant::now();
            activity.touch(epoch, 0);
            let io = TokioIo::new(Tracked {
                inner: stream,
                activity: activity.clone(),
                epoch,
            });
            let a = activity.clone();
            let service = hyper::service::service_fn(
                move |mut req: hyper::Request<hyper::body::Incoming>| {
                    req.extensions_mut().insert(ClientAddr(peer));
                    a.in_flight.fetch_add(1, Ordering::Relaxed);
                    let guard = InFlight(a.clone());
                    let router = router.clone();
                    async move {
                        let resp =
                            tower::ServiceExt::oneshot(router, req.map(axum::body::Body::new))
                                .await;
                        // The guard lives until the response body is done streaming.
                        resp.map(|r| {
                            r.map(|b| {
                                axum::body::Body::new(GuardedBody {
                                    inner: b,
                                    _guard: guard,
                                })
                            })
                        })
                    }
                },
            );
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_read_timeout)
                .max_buf_size(limits.max_head_bytes.max(8192))
                .keep_alive(true)
                .serve_connection(io, service);
            let mut conn = std::pin::pin!(conn);
            let idle_ms = limits.idle_timeout.as_millis() as u64;
            let stall = limits.stall_timeout;
            let tick_ms = (idle_ms.min(stall.as_millis() as u64) / 4).clamp(50, 5000);
            let mut tick = tokio::time::interval(Duration::from_millis(tick_ms));
            // Bytes moved when the current stall window began, and when it began.
            let mut window = (0u64, Instant::now());
            loop {
                tokio::select! {
                    r = conn.as_mut() => {
                        if let Err(e) = r {
                            tracing::debug!(error = %e, %peer, "connection ended");
                        }
                        break;
                    }
                    _ = tick.tick() => {
                        let idle = epoch.elapsed().as_millis() as u64
                            - activity.last.load(Ordering::Relaxed).min(epoch.elapsed().as_millis() as u64);
                        let moved = activity.moved.load(Ordering::Relaxed);
                        if activity.in_flight.load(Ordering::Relaxed) == 0 {
                            window = (moved, Instant::now());
                            if idle > idle_ms {
                                conn.as_mut().graceful_shutdown();
                            }
                        } else if window.1.elapsed() >= stall {
                            // A request in flight that moves almost nothing holds its slot for
                            // nobody's benefit: a trickled body, a response never read.
                            if moved - window.0 < MIN_BYTES_PER_WINDOW {
                                tracing::debug!(%peer, "closing a stalled connection");
                                break;
                            }
                            window = (moved, Instant::now());
                        }
                    }
                    r = stop.changed() => {
                        if r.is_ok() {
                            conn.as_mut().graceful_shutdown();
                        }
                        // Finish what is in flight, bounded.
                        let _ = tokio::time::timeout(Duration::from_secs(30), conn.as_mut()).await;
                        break;
                    }
                }
            }
        });
    }
    let _ = stop_tx.send(true);
    // Wait until every connection has closed (their permits came back), bounded.
    let all = limits.max_connections.max(1) as u32;
    let _ = tokio::time::timeout(Duration::from_secs(31), permits.acquire_many(all)).await;
    Ok(())
}

/// A response body that keeps its connection's in-flight guard alive until it is dropped.
struct GuardedBody {
    inner: axum::body::Body,
    _guard: InFlight,
}

impl hyper::body::Body for GuardedBody {
    type Data = bytes::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}

/// A request body that records whether it was read to its end.
struct ReadTracked {
    inner: axum::body::Body,
    done: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl http_body::Body for ReadTracked {
    type Data = bytes::Bytes;
    type Error = axum::Error;
    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        let r = std::pin::Pin::new(&mut self.inner).poll_frame(cx);
        if matches!(r, std::task::Poll::Ready(None)) || self.inner.is_end_stream() {
            self.done.store(true, std::sync::atomic::Ordering::Release);
        }
        r
    }
    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }
    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// An answer given before the request's body was read (a refusal, a 501, a missing repo) ends
/// the connection with `Connection: close`: the unread bytes would otherwise be read as the
/// next request on a keep-alive connection, or the server would drop it under a client that
/// reuses it (which then sees "disconnected without a response").
pub(crate) async fn close_if_body_unread(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use http_body::Body as _;
    if req.body().is_end_stream() {
        return next.run(req).await;
    }
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (parts, body) = req.into_parts();
    let tracked = ReadTracked {
        inner: body,
        done: done.clone(),
    };
    let req = axum::extract::Request::from_parts(parts, axum::body::Body::new(tracked));
    let mut res = next.run(req).await;
    if !done.load(std::sync::atomic::Ordering::Acquire) {
        res.headers_mut().insert(
            axum::http::header::CONNECTION,
            axum::http::HeaderValue::from_static("close"),
        );
    }
    res
}
