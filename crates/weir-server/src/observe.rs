//! Observability: Prometheus metrics on `/metrics`, request ids, and the probes `/healthz`
//! (the process answers) and `/readyz` (the database, the blob store and the sequencer).
//!
//! - Each [`AppState`] has its own recorder ([`Metrics`]), so two registries in one process
//!   (the tests) never count each other's requests.
//! - Labels are route templates (`/api/models/{ns}/{name}`), methods, status codes, decision
//!   reasons, states: never a repo, an account, an address or a token. A private repo's name
//!   is never in the output.
//! - `/metrics` needs an operator's (admin) token unless the operator makes it public
//!   (`metrics_public`): what the registry serves and refuses is the operators' to read.
//! - Every request gets an id: the `x-request-id` it came with (bounded, printable), or a new
//!   one; it is in the request's log span and the answer's `x-request-id`.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};
use serde_json::json;

use crate::auth::Caller;
use crate::{ApiError, AppState};

/// The latency histogram's buckets, in seconds.
pub const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

/// Requests between two folds of the histograms' samples (see [`Metrics::upkeep`]).
pub const UPKEEP_EVERY: u64 = 4096;

/// The methods that are labels as themselves; any other (hyper takes any token) is `OTHER`,
/// so a caller inventing methods makes no new series.
fn method_label(m: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *m {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "OTHER",
    }
}

/// A body that counts the data bytes passing through it, and keeps its size hint (so the
/// answer's `Content-Length` stays) and end-of-stream.
struct Counted<B> {
    inner: B,
    counter: metrics::Counter,
}

impl<B> axum::body::HttpBody for Counted<B>
where
    B: axum::body::HttpBody<Data = axum::body::Bytes> + Unpin,
{
    type Data = axum::body::Bytes;
    type Error = B::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        let polled = std::pin::Pin::new(&mut self.inner).poll_frame(cx);
        if let std::task::Poll::Ready(Some(Ok(f))) = &polled
            && let Some(d) = f.data_ref()
        {
            self.counter.increment(d.len() as u64);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// A registry's metrics: its own recorder and the handle that renders it.
pub struct Metrics {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
    /// Requests since the histograms' samples were last folded into their buckets.
    since_upkeep: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        // The buckets are constant and not empty, so this never falls back.
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Full("weir_http_request_duration_seconds".into()),
                LATENCY_BUCKETS,
            )
            .unwrap_or_else(|_| PrometheusBuilder::new());
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        Metrics {
            recorder,
            handle,
            since_upkeep: Default::default(),
        }
    }

    /// Folds the histograms' pending samples into their buckets (they are kept one by one until
    /// then): every [`UPKEEP_EVERY`] requests, at every scrape, and every few seconds
    /// ([`crate::start`]), so their memory stays bounded whether or not anybody scrapes.
    pub fn upkeep(&self) {
        self.since_upkeep
            .store(0, std::sync::atomic::Ordering::Relaxed);
        self.handle.run_upkeep();
    }

    fn tick(&self) {
        let n = self
            .since_upkeep
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if n >= UPKEEP_EVERY {
            self.upkeep();
        }
    }

    /// Runs `f` with this registry's recorder as the current one (the `metrics` macros inside
    /// record here).
    pub fn with<T>(&self, f: impl FnOnce() -> T) -> T {
        metrics::with_local_recorder(&self.recorder, f)
    }

    /// A file download's gate decision: allowed or not, and its reason code.
    pub fn download_decision(&self, allow: bool, reason: &'static str) {
        self.with(|| {
            metrics::counter!("weir_download_decisions_total",
                "allow" => if allow { "true" } else { "false" }, "reason" => reason)
            .increment(1);
        });
    }

    /// A download sent to the object store by a presigned redirect (its bytes are not counted
    /// in `weir_bytes_served_total`).
    pub fn download_redirected(&self) {
        self.with(|| {
            metrics::counter!("weir_download_redirects_total").increment(1);
        });
    }

    fn render(&self) -> String {
        self.upkeep();
        self.handle.render()
    }
}

/// The route a request matched, carried from the router to the outer middleware.
#[derive(Clone)]
struct RouteTag(Arc<str>);

/// Inside the router: tags the answer with the route template it matched.
pub async fn tag_route(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| Arc::<str>::from(m.as_str()));
    let mut resp = next.run(req).await;
    if let Some(r) = route {
        resp.extensions_mut().insert(RouteTag(r));
    }
    resp
}

/// Keeps the route an answer matched on the answer that replaces it (an error rewritten into
/// the envelope is still counted under its route).
pub fn carry_route(from: &Response, to: &mut Response) {
    if let Some(r) = from.extensions().get::<RouteTag>() {
        to.extensions_mut().insert(r.clone());
    }
}

/// The request-id header, in and out.
pub const REQUEST_ID: &str = "x-request-id";

/// A request's id: the one it brought (at most 64 printable ASCII characters), or a new one.
fn request_id(req: &Request) -> String {
    req.headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 64 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_string)
        .unwrap_or_else(|| hex::encode(rand::random::<[u8; 12]>()))
}

/// Outside the router: gives the request its id, counts it by route, method and status, times
/// it, and counts the bytes that come in and go out as the bodies stream.
pub async fn observe(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let id = request_id(&req);
    if let Ok(v) = HeaderValue::from_str(&id) {
        req.headers_mut().insert(REQUEST_ID, v);
    }
    let method = method_label(req.method());
    metrics_tick(&state);
    let started = Instant::now();
    let metrics = state.metrics.clone();
    let ingested = metrics.with(|| metrics::counter!("weir_http_request_bytes_total"));
    let req = req.map(|body| {
        Body::new(Counted {
            inner: body,
            counter: ingested,
        })
    });
    let mut resp = next.run(req).await;
    let route = resp
        .extensions()
        .get::<RouteTag>()
        .map(|r| r.0.to_string())
        .unwrap_or_else(|| "unmatched".into());
    let status = resp.status().as_u16().to_string();
    let (served, elapsed) = metrics.with(|| {
        metrics::counter!("weir_http_requests_total",
            "route" => route.clone(), "method" => method, "status" => status)
        .increment(1);
        (
            metrics::counter!("weir_http_response_bytes_total", "route" => route.clone()),
            metrics::histogram!("weir_http_request_duration_seconds",
                "route" => route, "method" => method),
        )
    });
    // Time to the answer's head: a large download's body streams on after it.
    elapsed.record(started.elapsed().as_secs_f64());
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert(REQUEST_ID, v);
    }
    resp.map(|body| {
        Body::new(Counted {
            inner: body,
            counter: served,
        })
    })
}

fn metrics_tick(state: &AppState) {
    state.metrics.tick();
}

pub fn routes() -> crate::routes::Routes {
    crate::routes::Routes::new()
        .add("/metrics", &["GET"], axum::routing::get(metrics_text))
        .add("/healthz", &["GET"], axum::routing::get(healthz))
        .add("/readyz", &["GET"], axum::routing::get(readyz))
}

/// `GET /metrics`: the Prometheus text exposition, with the gauges read from the database
/// now (log size and lag, queue depths, jobs by state).
async fn metrics_text(State(state): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    if !state.config.metrics_public && !caller.authorize(&weir_authz::Action::Administer).allow {
        caller.require_user()?;
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            weir_wire::ErrorCode::NotOperator,
            "the metrics are the operators': send an admin token",
        )
        .next("scrape with an admin token (Prometheus: authorization: credentials), or set metrics_public"));
    }
    let g = state
        .store
        .db
        .gauges(crate::now())
        .await
        .map_err(weir_registry::ServiceError::from)?;
    state.metrics.with(|| {
        metrics::gauge!("weir_log_size").set(g.log_size as f64);
        metrics::gauge!("weir_log_pending").set(g.log_pending as f64);
        metrics::gauge!("weir_log_integration_lag_seconds").set(g.log_lag_secs as f64);
        metrics::gauge!("weir_access_requests_pending").set(g.requests_pending as f64);
        metrics::gauge!("weir_mail_outbox_pending").set(g.mail_pending as f64);
        for (s, n) in &g.jobs_by_state {
            metrics::gauge!("weir_jobs", "state" => s.clone()).set(*n as f64);
        }
    });
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        state.metrics.render(),
    )
        .into_response())
}

/// `GET /healthz`: the process answers.
async fn healthz() -> Response {
    axum::Json(json!({"status": "ok"})).into_response()
}

/// How far behind the sequencer may fall before `/readyz` says so: this many of its intervals,
/// and never under [`MIN_LAG_SECS`].
pub const LAG_INTERVALS: u64 = 10;
pub const MIN_LAG_SECS: i64 = 30;

/// `GET /readyz`: 200 when the database answers, the blob store is there and the sequencer
/// keeps up; 503 naming what is not.
async fn readyz(State(state): State<AppState>) -> Response {
    let db = state.store.db.readiness(crate::now()).await;
    let blobs = state.store.blobs.ready().await;
    let max_lag = ((state.config.log_interval_ms * LAG_INTERVALS / 1000) as i64).max(MIN_LAG_SECS);
    let (db_ok, lag) = match &db {
        Ok(lag) => (true, Some(*lag)),
        Err(e) => {
            tracing::warn!(error = %e, "readyz: the database does not answer");
            (false, None)
        }
    };
    let sequencer_ok = lag.is_some_and(|l| l <= max_lag);
    let ok = db_ok && blobs.is_ok() && sequencer_ok;
    let body = json!({
        "status": if ok { "ready" } else { "unready" },
        "checks": {
            "database": if db_ok { "ok" } else { "unreachable" },
            "blobs": match &blobs { Ok(()) => "ok".to_string(), Err(e) => e.clone() },
            "sequencer": match lag {
                Some(l) if l <= max_lag => format!("ok ({l} s behind)"),
                Some(l) => format!("{l} s behind (more than {max_lag} s)"),
                None => "unknown".into(),
            },
        }
    });
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, axum::Json(body)).into_response()
}
