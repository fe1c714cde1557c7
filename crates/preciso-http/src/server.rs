//! The HTTP server: an accept loop over hyper's HTTP/1.1 connections, with the limits
//! `axum::serve` does not have. `axum::serve` gives hyper no timer, so a client that never
//! finishes its headers held a connection forever (slowloris); here:
//! - `header_read_timeout`: hyper drops a connection whose request head is not complete in
//!   time, counted from when it starts waiting for one (also between kept-alive requests);
//! - `keepalive_timeout`: a connection with no request in flight and no bytes moving for this
//!   long is closed (a watchdog per connection; hyper has no idle setting of its own);
//! - `max_connections`: a slot is taken before `accept`, so beyond the cap new clients wait
//!   in the kernel's listen backlog instead of costing memory here;
//! - shutdown: stop accepting, ask every connection to close after its current response, and
//!   return once all have (the caller bounds that wait with its grace period).
//!
//! HTTP/1.1 only: hyper's HTTP/2 server has no header timeout, and the version detection of
//! its auto builder waits for a first byte without any timer. A TLS proxy in front may speak
//! HTTP/2 to clients.

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tower::Service;

/// Connection limits (`[http]` settings).
#[derive(Debug, Clone, Copy)]
pub struct ServerLimits {
    pub header_read_timeout: Duration,
    pub keepalive_timeout: Duration,
    pub max_connections: usize,
}

impl Default for ServerLimits {
    fn default() -> Self {
        ServerLimits {
            header_read_timeout: Duration::from_secs(10),
            keepalive_timeout: Duration::from_secs(5),
            max_connections: 1024,
        }
    }
}

/// Serves `app` until `shutdown` resolves, then waits for open connections to finish.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ServerLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let mut make_service = app.into_make_service_with_connect_info::<SocketAddr>();
    let max = limits.max_connections.clamp(1, Semaphore::MAX_PERMITS);
    let slots = Arc::new(Semaphore::new(max));
    let (stop, stopped) = watch::channel(false);
    let mut h1 = http1::Builder::new();
    h1.timer(TokioTimer::new()).header_read_timeout(limits.header_read_timeout);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    accept_error(e).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let activity = Arc::new(Activity::new());
        let router = make_service.call(peer).await.unwrap_or_else(|never| match never {});
        let service =
            TowerToHyperService::new(InFlight { inner: router, activity: activity.clone() });
        let io = TokioIo::new(Tracked { inner: stream, activity: activity.clone() });
        let connection = h1.serve_connection(io, service);
        let stopped = stopped.clone();
        let idle = limits.keepalive_timeout;
        tokio::spawn(async move {
            drive(connection, &activity, idle, stopped).await;
            drop(slot);
        });
    }
    drop(listener);
    let _ = stop.send(true);
    // Every connection holds a slot until it is done.
    let _ = slots.acquire_many(max as u32).await;
    Ok(())
}

/// Runs one connection to its end, closing it gracefully when it idles past `idle` or when
/// the server stops.
async fn drive<C>(
    connection: C,
    activity: &Activity,
    idle: Duration,
    mut stop: watch::Receiver<bool>,
) where
    C: Future<Output = hyper::Result<()>> + GracefulConnection,
{
    let mut connection = std::pin::pin!(connection);
    let mut closing = *stop.borrow();
    if closing {
        connection.as_mut().close();
    }
    loop {
        let check_at = tokio::time::Instant::from_std(activity.idle_deadline(idle));
        tokio::select! {
            ended = connection.as_mut() => {
                if let Err(e) = ended {
                    // Header timeouts, resets, malformed requests (hyper answered those).
                    tracing::debug!(error = %e, "connection ended");
                }
                return;
            }
            () = tokio::time::sleep_until(check_at), if !closing => {
                if activity.is_idle(idle) {
                    connection.as_mut().close();
                    closing = true;
                }
            }
            _ = stop.changed(), if !closing => {
                connection.as_mut().close();
                closing = true;
            }
        }
    }
}

/// hyper's graceful close: no new request on the connection; the one in flight finishes.
trait GracefulConnection {
    fn close(self: Pin<&mut Self>);
}

impl<I, S> GracefulConnection for http1::Connection<I, S>
where
    S: hyper::service::HttpService<hyper::body::Incoming>,
    S::ResBody: 'static,
    <S::ResBody as hyper::body::Body>::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    I: hyper::rt::Read + hyper::rt::Write + Unpin + 'static,
{
    fn close(self: Pin<&mut Self>) {
        self.graceful_shutdown();
    }
}

async fn accept_error(e: std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(e.kind(), ConnectionRefused | ConnectionAborted | ConnectionReset) {
        return;
    }
    // Out of file descriptors, most likely: back off instead of spinning.
    tracing::error!(error = %e, "accepting a connection failed");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

/// When a connection last moved bytes, and how many of its requests are being answered.
struct Activity {
    started: Instant,
    /// Milliseconds after `started`.
    last: AtomicU64,
    in_flight: AtomicUsize,
}

impl Activity {
    fn new() -> Self {
        Activity {
            started: Instant::now(),
            last: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
        }
    }

    fn touch(&self) {
        self.last.store(self.started.elapsed().as_millis() as u64, Ordering::Relaxed);
    }

    fn last(&self) -> Instant {
        self.started + Duration::from_millis(self.last.load(Ordering::Relaxed))
    }

    fn is_idle(&self, idle: Duration) -> bool {
        self.in_flight.load(Ordering::Acquire) == 0 && self.last().elapsed() >= idle
    }

    /// When to look again: `idle` after the last activity, or a full `idle` from now while a
    /// request is being answered.
    fn idle_deadline(&self, idle: Duration) -> Instant {
        if self.in_flight.load(Ordering::Acquire) > 0 {
            Instant::now() + idle
        } else {
            self.last() + idle
        }
    }
}

/// The socket, noting every read and write in `activity`.
struct Tracked {
    inner: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Tracked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.touch();
        }
        result
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        result
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Counts the connection's requests in flight, from the call until the response is ready.
#[derive(Clone)]
struct InFlight<S> {
    inner: S,
    activity: Arc<Activity>,
}

/// Decrements the count when the request's future ends, however it ends.
struct Answering(Arc<Activity>);

impl Drop for Answering {
    fn drop(&mut self) {
        self.0.touch();
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

impl<S, R> Service<R> for InFlight<S>
where
    S: Service<R>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: R) -> Self::Future {
        self.activity.in_flight.fetch_add(1, Ordering::AcqRel);
        let answering = Answering(self.activity.clone());
        let response = self.inner.call(request);
        Box::pin(async move {
            let response = response.await;
            drop(answering);
            response
        })
    }
}
