//! weir's HTTP server: the Hugging Face Hub routes that `huggingface_hub` uses, the Git LFS batch
//! API, and the native JSON API under `/api/v1/`.
//!
//! Invariant: every byte served and every change made passed `weir_authz::authorize`. Handlers
//! authenticate through [`auth::Caller`], ask the authorization module, then talk to the store;
//! errors go through [`error::ApiError`] only.

mod access;
pub mod auth;
mod board;
pub mod conn;
pub mod error;
mod evals;
mod events;
mod exports;
pub mod extract;
mod funding;
mod gate;
mod grants;
mod hub;
mod incidents;
mod jobs;
mod lfs;
pub mod limits;
pub mod log;
pub(crate) mod lookup;
mod native;
pub mod ndjson;
pub mod observe;
pub mod openapi;
mod publishers;
mod releases;
mod research;
pub mod routes;
mod tokens;
mod ui;
mod views;
pub mod webhook;

use std::sync::Arc;
use weir_wire::ErrorCode;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use weir_store::Store;

pub use error::ApiError;

/// Everything a handler needs, built once at startup and passed down explicitly.
pub use hub::download::SmallBlobs;

#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub config: Arc<ServerConfig>,
    /// Per-address and per-account counters for anonymous and low-level callers.
    /// Small blobs' bytes, by content address (see [`SmallBlobs`]).
    pub small_blobs: Arc<SmallBlobs>,
    /// `model_info` answers at the current state version.
    pub info: Arc<hub::download::InfoMemo>,
    /// The research environment, when the operator enabled it ([`AppState::with_enclave`]).
    pub enclave: Option<Arc<weir_registry::jobs::Enclave>>,
    /// Notification e-mail, when the operator configured SMTP ([`AppState::with_mailer`]).
    pub mailer: Option<Arc<weir_registry::mail::Mailer>>,
    /// This registry's Prometheus metrics (see [`observe`]).
    pub metrics: Arc<observe::Metrics>,
}

impl AppState {
    pub fn new(store: Store, config: ServerConfig) -> AppState {
        AppState {
            store,
            config: Arc::new(config),
            small_blobs: Arc::new(SmallBlobs::default()),
            info: Arc::new(hub::download::info_memo()),
            enclave: None,
            mailer: None,
            metrics: Arc::new(observe::Metrics::new()),
        }
    }

    /// This state with notification e-mail: [`start`] runs the sender.
    pub fn with_mailer(mut self, mailer: weir_registry::mail::Mailer) -> AppState {
        self.mailer = Some(Arc::new(mailer));
        self
    }

    /// This state with a research environment: jobs are accepted and [`start`] runs them.
    pub fn with_enclave(mut self, enclave: weir_registry::jobs::Enclave) -> AppState {
        self.enclave = Some(Arc::new(enclave));
        self
    }
}

pub struct ServerConfig {
    /// Base URL written into responses (repo URLs, commit URLs, LFS upload links). No trailing '/'.
    pub public_url: String,
    /// Key for the self-authorizing LFS upload links.
    pub upload_key: Vec<u8>,
    /// How long an LFS upload link stays valid.
    pub upload_link_ttl_secs: i64,
    /// The transparency log's Ed25519 signed-note key; its name is the log's origin.
    pub log_signer: weir_tlog::note::Signer,
    /// How often the sequencer integrates pending events and signs a checkpoint.
    pub log_interval_ms: u64,
    /// The P-256 key that signs releases (OpenSSF model-signing bundles).
    pub release_key: weir_signing::model_signing::ReleaseKey,
    /// Prefix of OSV ids (`x_WEIR` → `x_WEIR-2026-0001`); `x_` marks a local database.
    pub osv_prefix: String,
    /// The one currency of the funding ledger.
    pub currency: weir_registry::funding::Currency,
    /// Whether webhooks may point at loopback, private or link-local addresses (off: a webhook
    /// must not turn the registry into a probe of its own network).
    pub allow_private_webhooks: bool,
    /// Whether `/metrics` answers without an admin token (off: the operators' to read).
    pub metrics_public: bool,
    /// Connection bounds: cap, header-read and idle timeouts.
    pub limits: conn::ServeLimits,
    /// With blobs on an object store: how long the presigned URL of a T0/T1 LFS file's redirect
    /// is valid (seconds). `None` streams every download through the server (`proxy`).
    pub blob_redirect_ttl_secs: Option<u64>,
}

/// JSON bodies are small; blob uploads stream and are bounded by their signed size instead.
pub const JSON_BODY_LIMIT: usize = 16 * 1024 * 1024;

/// Every route, in one table (see [`routes::table`]).
pub(crate) fn all_routes() -> routes::Routes {
    routes::Routes::new()
        .merge(hub::routes().tag("hub"))
        .merge(lfs::routes().tag("lfs"))
        .merge(native::routes().tag("native"))
        .merge(openapi::routes().tag("native"))
        .merge(access::routes().tag("access"))
        .merge(events::routes().tag("events"))
        .merge(tokens::routes().tag("tokens"))
        .merge(exports::routes().tag("exports"))
        .merge(research::routes().tag("research"))
        .merge(jobs::routes().tag("jobs"))
        .merge(grants::routes().tag("grants"))
        .merge(board::routes().tag("board"))
        .merge(funding::routes().tag("funding"))
        .merge(log::routes().tag("log"))
        .merge(releases::routes().tag("releases"))
        .merge(evals::routes().tag("evals"))
        .merge(incidents::routes().tag("incidents"))
        .merge(publishers::routes().tag("publishers"))
        .merge(observe::routes().tag("observe"))
        .merge(ui::routes().tag("ui"))
}

pub fn router(state: AppState) -> Router {
    all_routes()
        .router
        .route_layer(axum::middleware::from_fn(observe::tag_route))
        .fallback(not_found)
        .layer(axum::middleware::from_fn(json_errors))
        .layer(axum::middleware::from_fn(conn::close_if_body_unread))
        .layer(DefaultBodyLimit::max(JSON_BODY_LIMIT))
        .layer(
            tower_http::trace::TraceLayer::new_for_http()
                .make_span_with(|req: &axum::http::Request<axum::body::Body>| {
                    tracing::info_span!(
                        "request",
                        id = %req
                            .headers()
                            .get(observe::REQUEST_ID)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or(""),
                        method = %req.method(),
                        path = %logged_path(req.uri().path()),
                    )
                })
                // One line per answer (status and latency) at INFO under `tower_http`: off with
                // the default filter, on with WEIR_LOG=tower_http=info (an access log).
                .on_response(
                    tower_http::trace::DefaultOnResponse::new().level(tracing::Level::INFO),
                ),
        )
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            observe::observe,
        ))
        .with_state(state)
}

/// The path a request is logged under: never its query (an LFS upload link's signature travels
/// there) and never the secret of an export download link.
pub fn logged_path(path: &str) -> &str {
    const SECRET: &str = "/api/v1/exports/download/";
    if path.starts_with(SECRET) {
        "/api/v1/exports/download/[redacted]"
    } else {
        path
    }
}

/// The largest request head (request line and headers) answered; larger ones get a JSON 431.
pub const MAX_HEADER_BYTES: usize = 32 * 1024;

/// Every error has the JSON envelope and the Hub headers: request heads over
/// [`MAX_HEADER_BYTES`] get a 431 here, and the bodiless answers axum and tower-http make
/// themselves (405, 413, 416, …) are rewritten into the envelope.
async fn json_errors(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::http::{StatusCode, header};
    use axum::response::IntoResponse;
    let head: usize = req.uri().to_string().len()
        + req
            .headers()
            .iter()
            .map(|(k, v)| k.as_str().len() + v.len() + 4)
            .sum::<usize>();
    if head > MAX_HEADER_BYTES {
        return ApiError::new(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            ErrorCode::HeadersTooLarge,
            format!("the request's headers are {head} bytes; at most {MAX_HEADER_BYTES}"),
        )
        .next("send fewer or shorter headers")
        .into_response();
    }
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let resp = next.run(req).await;
    let status = resp.status();
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return resp;
    }
    let (code, message, next_step) = match status {
        StatusCode::METHOD_NOT_ALLOWED => (
            ErrorCode::MethodNotAllowed,
            format!("{method} is not allowed on {path}"),
            "see docs/API.md for the methods each route takes",
        ),
        StatusCode::PAYLOAD_TOO_LARGE => (
            ErrorCode::TooLarge,
            format!("the request body is larger than {path} accepts"),
            "see docs/API.md for the limits",
        ),
        StatusCode::RANGE_NOT_SATISFIABLE => (
            ErrorCode::RangeNotSatisfiable,
            "the requested range is outside the file".to_string(),
            "ask for a range within the file's size (Content-Length of a HEAD request)",
        ),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => (
            ErrorCode::UnsupportedMediaType,
            "the request's Content-Type is not accepted here".to_string(),
            "send application/json",
        ),
        _ => return resp,
    };
    let mut out = ApiError::new(status, code, message)
        .next(next_step)
        .into_response();
    // Keep the headers that matter to clients (Allow on 405, Content-Range on 416).
    for name in [header::ALLOW, header::CONTENT_RANGE] {
        if let Some(v) = resp.headers().get(&name) {
            out.headers_mut().insert(name, v.clone());
        }
    }
    observe::carry_route(&resp, &mut out);
    out
}

pub(crate) async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::NOT_FOUND,
        ErrorCode::NotFound,
        format!("no route for {}", uri.path()),
    )
    .next("see docs/API.md for the routes weir serves")
}

/// Readies a registry to answer: re-classifies every repo (the policy or the evaluators may
/// have changed while it was down), starts the log sequencer, and returns the router.
pub async fn start(state: AppState) -> Router {
    match weir_registry::classification::reclassify_all(
        &state.store,
        None,
        weir_registry::classification::Lowering::Never,
        crate::now(),
    )
    .await
    {
        Ok(0) => {}
        Ok(n) => tracing::info!(raised = n, "re-classification raised tiers"),
        Err(e) => tracing::error!(error = %e, "re-classification at start-up failed"),
    }
    // A decision a stopped server was applying ends as failed, on the log (propose it again).
    match weir_registry::board::recover(&state.store, crate::now()).await {
        Ok(0) => {}
        Ok(n) => tracing::warn!(proposals = n, "board decisions interrupted while applying"),
        Err(e) => tracing::error!(error = %e, "board recovery at start-up failed"),
    }
    log::spawn_sequencer(state.clone());
    // The histograms' samples are folded into buckets every few seconds, scraped or not.
    let metrics = state.metrics.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(5));
        loop {
            tick.tick().await;
            metrics.upkeep();
        }
    });
    if let Some(mailer) = state.mailer.clone() {
        spawn_mailer(state.store.clone(), mailer);
    }
    if let Some(enclave) = state.enclave.clone().filter(|e| e.autostart) {
        tokio::spawn(weir_registry::jobs::run_queue(
            state.store.clone(),
            enclave,
            std::future::pending::<()>(),
        ));
    }
    router(state)
}

/// How often the e-mail sender looks for notifications to send, and reminders to make.
pub const MAIL_INTERVAL: std::time::Duration = std::time::Duration::from_millis(500);

/// Sends notification e-mails and makes deadline reminders until the process ends.
fn spawn_mailer(store: Store, mailer: Arc<weir_registry::mail::Mailer>) {
    tokio::spawn(async move {
        let mut round: u64 = 0;
        loop {
            let at = crate::now();
            // Reminders once a minute; sending every round.
            if round.is_multiple_of(120)
                && let Err(e) = weir_registry::mail::remind_deadlines(&store, at).await
            {
                tracing::warn!(error = %e, "deadline reminders failed; retrying");
            }
            if let Err(e) = weir_registry::mail::deliver_once(&store, &mailer, at).await {
                tracing::warn!(error = %e, "sending notification e-mail failed; retrying");
            }
            round = round.wrapping_add(1);
            tokio::time::sleep(MAIL_INTERVAL).await;
        }
    });
}

/// Serves until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let limits = state.config.limits.clone();
    conn::serve_router(listener, start(state).await, limits, shutdown).await
}

pub(crate) use weir_registry::clock::{iso8601, now};

#[cfg(test)]
mod tests {
    #[test]
    fn logged_paths_carry_no_secret() {
        assert_eq!(
            super::logged_path("/api/v1/exports/download/0123abcd"),
            "/api/v1/exports/download/[redacted]"
        );
        assert_eq!(
            super::logged_path("/api/models/acme/m"),
            "/api/models/acme/m"
        );
    }
}
