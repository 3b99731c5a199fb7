//! Accepting connections so that slow or idle clients cannot hold the server.
//!
//! `axum::serve` reads forever: a client that trickles its headers, or opens connections and
//! sends nothing, keeps them, and enough of them exhaust the open-files limit so that nobody
//! else is answered. This loop serves the same router over hyper's HTTP/1 connections, and:
//! - a connection must send a complete request head within `HTTP_HEADER_TIMEOUT_SECONDS` of
//!   its first byte (a new connection: of being accepted);
//! - a kept-alive connection that sends nothing for `HTTP_IDLE_TIMEOUT_SECONDS` is closed;
//! - a request body must arrive within `HTTP_BODY_TIMEOUT_SECONDS` (where the body is read,
//!   `server::http`);
//! - at most `HTTP_MAX_CONNECTIONS` connections are open (WebSockets included). At the cap, a
//!   new connection closes the oldest one that is waiting for a request (between requests,
//!   or still sending its head); when none is waiting, the new one is refused.
//!
//! A connection's state (waiting, busy with a request, upgraded to a WebSocket) is kept in a
//! registry that a sweeper walks twice a second. Hyper's own header-read timer is set 2 s past
//! the longer of the two waits, as a backstop.
use crate::metrics::Metrics;
use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, watch};
use tower::Service;

/// The connection limits, from the configuration.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub header: Duration,
    pub idle: Duration,
    pub max_connections: usize,
}

impl Limits {
    pub fn from_config(c: &crate::config::Config) -> Limits {
        Limits {
            header: Duration::from_secs(c.http_header_timeout_seconds),
            idle: Duration::from_secs(c.http_idle_timeout_seconds),
            max_connections: match c.http_max_connections {
                0 => automatic_cap(),
                n => n as usize,
            },
        }
    }
}

/// Open files the process may hold, less a reserve for the database, logs and the files an
/// import reads; used when `HTTP_MAX_CONNECTIONS` is 0.
pub fn automatic_cap() -> usize {
    const RESERVE: usize = 256;
    let soft = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|l| {
            l.lines()
                .find(|l| l.starts_with("Max open files"))
                .and_then(|l| l.split_whitespace().nth(3)?.parse::<usize>().ok())
        })
        .unwrap_or(10_000);
    soft.saturating_sub(RESERVE).max(64)
}

const WAITING: u8 = 0;
const BUSY: u8 = 1;
const UPGRADED: u8 = 2;

/// One open connection.
struct Entry {
    id: u64,
    state: AtomicU8,
    /// When it began waiting for a request (ms since the registry started).
    waiting_since: AtomicU64,
    /// When the first byte of the awaited request came (0: none yet).
    first_byte: AtomicU64,
    /// Requests answered; 0 for a connection that has sent none yet.
    served: AtomicU64,
    close: Notify,
}

/// Every open connection, oldest first.
struct Registry {
    started: Instant,
    next: AtomicU64,
    open: Mutex<BTreeMap<u64, Arc<Entry>>>,
    metrics: Arc<Metrics>,
}

impl Registry {
    fn now(&self) -> u64 {
        self.started.elapsed().as_millis() as u64 + 1
    }

    fn add(&self) -> Arc<Entry> {
        let e = Arc::new(Entry {
            id: self.next.fetch_add(1, Ordering::Relaxed),
            state: AtomicU8::new(WAITING),
            waiting_since: AtomicU64::new(self.now()),
            first_byte: AtomicU64::new(0),
            served: AtomicU64::new(0),
            close: Notify::new(),
        });
        self.lock().insert(e.id, e.clone());
        self.metrics.internals.http_connections_open.inc();
        e
    }

    fn remove(&self, id: u64) {
        if self.lock().remove(&id).is_some() {
            self.metrics.internals.http_connections_open.dec();
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, Arc<Entry>>> {
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn closed(&self, reason: &str) {
        self.metrics
            .internals
            .http_connections_closed_total
            .with_label_values(&[reason])
            .inc();
    }

    /// Closes the oldest connection waiting for a request; false when none is.
    fn shed_oldest_waiting(&self) -> bool {
        let open = self.lock();
        let Some(e) = open
            .values()
            .find(|e| e.state.load(Ordering::Acquire) == WAITING)
        else {
            return false;
        };
        // Under the lock, so that the sweeper cannot pick it too.
        self.close(e, "shed");
        true
    }

    /// Tells the connection's task to drop it, and counts why.
    fn close(&self, e: &Entry, reason: &str) {
        e.close.notify_one();
        e.state.store(BUSY, Ordering::Release); // not picked twice
        self.closed(reason);
    }

    /// Closes the connections past their wait: a head not complete within `header` of its
    /// first byte (or of being accepted), or nothing sent for `idle` after a response.
    fn sweep(&self, limits: &Limits) {
        let now = self.now();
        let ms = |d: Duration| d.as_millis() as u64;
        // Under the lock, so that a connection is never both shed and timed out.
        for e in self.lock().values() {
            if e.state.load(Ordering::Acquire) != WAITING {
                continue;
            }
            let first = e.first_byte.load(Ordering::Acquire);
            let since = e.waiting_since.load(Ordering::Acquire);
            let (from, wait, reason) = match (first, e.served.load(Ordering::Acquire)) {
                (f, _) if f > 0 => (f, ms(limits.header), "header_timeout"),
                (_, 0) => (since, ms(limits.header), "header_timeout"),
                _ => (since, ms(limits.idle), "idle_timeout"),
            };
            if now.saturating_sub(from) > wait {
                self.close(e, reason);
            }
        }
    }
}

/// A connection's socket that notes when a request's first byte arrives, and leaves the
/// registry when dropped (after a WebSocket upgrade, the socket lives on in the upgrade).
struct Tracked {
    io: TcpStream,
    entry: Arc<Entry>,
    registry: Arc<Registry>,
}

impl AsyncRead for Tracked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.io).poll_read(cx, buf);
        let e = &self.entry;
        if buf.filled().len() > before
            && e.state.load(Ordering::Acquire) == WAITING
            && e.first_byte.load(Ordering::Acquire) == 0
        {
            e.first_byte.store(self.registry.now(), Ordering::Release);
        }
        r
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.registry.remove(self.entry.id);
    }
}

/// Serves `router` on `listener` until `shutdown` resolves, then lets the requests in flight
/// finish (WebSockets end with the process, as with `axum::serve`).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    metrics: Arc<Metrics>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let registry = Arc::new(Registry {
        started: Instant::now(),
        next: AtomicU64::new(1),
        open: Mutex::default(),
        metrics,
    });
    let sweeper = tokio::spawn(sweep(registry.clone(), limits));
    let (stop_tx, stop_rx) = watch::channel(());
    let (done_tx, done_rx) = watch::channel(());
    tokio::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            r = listener.accept() => r,
            _ = &mut shutdown => break,
        };
        let stream = match stream {
            Ok((s, _)) => s,
            Err(e) => {
                accept_failed(&registry, e).await;
                continue;
            }
        };
        if registry.lock().len() >= limits.max_connections && !registry.shed_oldest_waiting() {
            registry.closed("refused");
            continue;
        }
        let _ = stream.set_nodelay(true);
        // Counted here, not in the spawned task: a burst of accepts must see the cap.
        let entry = registry.add();
        let conn = Conn {
            registry: registry.clone(),
            router: router.clone(),
            limits,
            stop: stop_rx.clone(),
            done: done_rx.clone(),
        };
        tokio::spawn(conn.run(stream, entry));
    }
    drop(listener);
    sweeper.abort();
    drop((stop_tx, done_rx));
    done_tx.closed().await;
    Ok(())
}

async fn sweep(registry: Arc<Registry>, limits: Limits) {
    let mut every = tokio::time::interval(Duration::from_millis(500));
    loop {
        every.tick().await;
        registry.sweep(&limits);
    }
}

/// Out of file descriptors (or another accept error): make room by closing the oldest
/// waiting connection, and pause briefly so that the loop does not spin.
async fn accept_failed(registry: &Registry, e: io::Error) {
    tracing::warn!(error = %e, open = registry.lock().len(), "accepting a connection failed");
    registry.shed_oldest_waiting();
    tokio::time::sleep(Duration::from_millis(50)).await;
}

/// One connection's task.
struct Conn {
    registry: Arc<Registry>,
    router: Router,
    limits: Limits,
    stop: watch::Receiver<()>,
    /// Held until the connection ends, so that shutdown can wait for it.
    done: watch::Receiver<()>,
}

impl Conn {
    async fn run(mut self, stream: TcpStream, entry: Arc<Entry>) {
        let io = TokioIo::new(Tracked {
            io: stream,
            entry: entry.clone(),
            registry: self.registry.clone(),
        });
        let svc = Tracking {
            router: self.router.clone(),
            entry: entry.clone(),
            registry: self.registry.clone(),
        };
        let mut http = hyper::server::conn::http1::Builder::new();
        // A backstop only: later than the sweeper's own closes, so that those are counted by
        // their reason.
        let backstop = self.limits.header.max(self.limits.idle) + Duration::from_secs(2);
        http.timer(TokioTimer::new()).header_read_timeout(backstop);
        let conn = http.serve_connection(io, svc).with_upgrades();
        tokio::pin!(conn);
        let mut stopping = false;
        loop {
            tokio::select! {
                _ = conn.as_mut() => break,
                _ = entry.close.notified() => break,
                _ = self.stop.changed(), if !stopping => {
                    stopping = true;
                    conn.as_mut().graceful_shutdown();
                }
            }
        }
        drop(self.done);
    }
}

/// The router, with the connection's state kept: busy while a request is handled, then
/// waiting again, or upgraded for good.
#[derive(Clone)]
struct Tracking {
    router: Router,
    entry: Arc<Entry>,
    registry: Arc<Registry>,
}

impl hyper::service::Service<Request<Incoming>> for Tracking {
    type Response = axum::response::Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn call(&self, req: Request<Incoming>) -> Self::Future {
        let (mut router, entry, registry) = (
            self.router.clone(),
            self.entry.clone(),
            self.registry.clone(),
        );
        entry.state.store(BUSY, Ordering::Release);
        Box::pin(async move {
            let resp = router.call(req.map(Body::new)).await?;
            if resp.status() == StatusCode::SWITCHING_PROTOCOLS {
                entry.state.store(UPGRADED, Ordering::Release);
            } else {
                entry.served.fetch_add(1, Ordering::AcqRel);
                entry.first_byte.store(0, Ordering::Release);
                entry.waiting_since.store(registry.now(), Ordering::Release);
                entry.state.store(WAITING, Ordering::Release);
            }
            Ok(resp)
        })
    }
}
