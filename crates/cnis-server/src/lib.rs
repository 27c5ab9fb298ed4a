//! The register service over HTTP: the JSON API (`/api/v1`, described by
//! the OpenAPI document at `/api/openapi.json`, generated from the
//! handlers), the caseworkers' pages, health and readiness, and the built
//! GOV.UK Frontend and MOJ Frontend assets.
//!
//! Start-up is a library function ([`Application::build`]) that binds a
//! listener (port 0 for tests) and returns the running address, so tests
//! start the real server. Handlers only translate: each calls one use case
//! of `cnis_app::service` on the blocking pool, which decides access,
//! scope and audit. Request logs carry the method, the route's pattern,
//! the status and the time taken: never a query string, a body or a
//! child's id.

pub mod api;
pub mod api_ap;
pub mod api_cases;
pub mod api_identity;
pub mod assets;
pub mod auth;
pub mod pages;
pub mod pages_admin;
pub mod pages_ap;
pub mod pages_cases;
pub mod pages_consent;
pub mod pages_identity;
pub mod pages_new_entry;
pub mod problem;
pub mod state;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use cnis_app::service::entries::ImportReport;
use cnis_app::service::{Actor, Service};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};

use crate::problem::ApiError;
use crate::state::{AppState, SignInLimit};

/// How the server runs.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Address to listen on (port 0: any free port).
    pub bind: SocketAddr,
    /// The analytical database with tracking runs, for imports.
    pub analytics: Option<PathBuf>,
    /// Mark cookies `Secure`. Browsers treat `localhost` as secure, so this
    /// stays on except for plain-HTTP clients in tests.
    pub secure_cookies: bool,
    /// Sign-in attempts a minute from one address.
    pub sign_ins_per_minute: u32,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            analytics: None,
            secure_cookies: true,
            sign_ins_per_minute: 30,
        }
    }
}

/// Makes drafts from a tracking run in the analytical database given to
/// the server.
pub async fn import_run(state: &AppState, actor: Actor, run: i64) -> Result<ImportReport, ApiError> {
    let path = state.analytics.clone();
    state.blocking(move |s| s.import_leavers_from(&actor, path.as_deref(), run)).await
}

/// The OpenAPI document's security schemes.
struct Security;

impl utoipa::Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                auth::SESSION_COOKIE,
                "Session cookie from POST /api/v1/session; changes also need the X-CSRF-Token header",
            ))),
        );
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("API token from `cnis user token`"))
                    .build(),
            ),
        );
    }
}

#[derive(utoipa::OpenApi)]
#[openapi(
    info(title = "cnis register service", description = "The children not in school register, identity lookup and audit. Errors are problem details (RFC 9457)."),
    modifiers(&Security),
    tags((name = "register"), (name = "identity"), (name = "session"), (name = "audit"), (name = "accounts"), (name = "casework"), (name = "alternative provision"), (name = "statistics"), (name = "service"))
)]
struct ApiDoc;

/// Every page module's routes, each a list of (method, path).
const PAGE_ROUTES: &[&[(&str, &str)]] = &[
    pages::ROUTES,
    pages_cases::ROUTES,
    pages_identity::ROUTES,
    pages_ap::ROUTES,
    pages_consent::ROUTES,
    pages_admin::ROUTES,
    pages_new_entry::ROUTES,
];

/// The router and the OpenAPI document.
pub fn router(state: AppState) -> Router {
    let (api_router, _) = api::routes().split_for_parts();
    pages::routes()
        .merge(pages_cases::routes())
        .merge(pages_identity::routes())
        .merge(pages_ap::routes())
        .merge(pages_consent::routes())
        .merge(pages_admin::routes())
        .merge(pages_new_entry::routes())
        .merge(api_router)
        .route("/api/openapi.json", axum::routing::get(openapi_json))
        .merge(assets::routes())
        .fallback(not_found)
        .with_state(state)
        .layer(middleware::from_fn(log_request))
        .layer(RequestBodyLimitLayer::new(256 * 1024))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'",
            ),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")))
        .layer(SetResponseHeaderLayer::if_not_present(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")))
        .layer(SetResponseHeaderLayer::if_not_present(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")))
        .layer(SetResponseHeaderLayer::if_not_present(header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
}

/// The OpenAPI document of every API route.
pub fn openapi() -> utoipa::openapi::OpenApi {
    use utoipa::OpenApi;
    let (_, paths) = api::routes().split_for_parts();
    let mut doc = ApiDoc::openapi();
    doc.merge(paths);
    doc
}

async fn openapi_json(state: axum::extract::State<AppState>) -> Response {
    let mut r = Response::new(axum::body::Body::from(state.openapi.as_bytes().to_vec()));
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

async fn not_found(req: Request) -> Response {
    use axum::response::IntoResponse;
    if req.uri().path().starts_with("/api/") {
        ApiError::new(axum::http::StatusCode::NOT_FOUND, "No such API route; see /api/openapi.json.").into_response()
    } else {
        pages::not_found_page().into_response()
    }
}

/// One log line a request: method, route pattern, status, milliseconds.
async fn log_request(req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let route = req.extensions().get::<MatchedPath>().map_or("(no route)".to_string(), |m| m.as_str().to_string());
    let started = std::time::Instant::now();
    let response = next.run(req).await;
    let status = response.status().as_u16();
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    if status >= 500 {
        tracing::warn!(%method, route, status, ms, "request");
    } else {
        tracing::info!(%method, route, status, ms, "request");
    }
    response
}

/// Every (method, path) the server answers, from the router's own tables:
/// the API's from its OpenAPI paths, the pages' from [`pages::ROUTES`].
pub fn endpoints() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (path, item) in openapi().paths.paths {
        for (method, op) in [
            ("GET", &item.get),
            ("POST", &item.post),
            ("PUT", &item.put),
            ("DELETE", &item.delete),
            ("PATCH", &item.patch),
        ] {
            if op.is_some() {
                out.push((method.to_string(), path.clone()));
            }
        }
    }
    out.push(("GET".into(), "/api/openapi.json".into()));
    for (method, path) in PAGE_ROUTES.iter().flat_map(|r| r.iter()) {
        out.push((method.to_string(), path.to_string()));
    }
    out.sort();
    out
}

/// A running server.
pub struct Application {
    address: SocketAddr,
    listener: tokio::net::TcpListener,
    router: Router,
}

impl Application {
    /// Binds the listener and builds the router.
    pub async fn build(service: Arc<Service>, config: ServerConfig) -> std::io::Result<Application> {
        let listener = tokio::net::TcpListener::bind(config.bind).await?;
        let address = listener.local_addr()?;
        let openapi = openapi().to_json().map_err(std::io::Error::other)?;
        let state = AppState {
            service,
            openapi: Arc::new(openapi),
            sign_ins: Arc::new(SignInLimit::new(config.sign_ins_per_minute)),
            analytics: config.analytics,
            secure_cookies: config.secure_cookies,
        };
        Ok(Application { address, listener, router: router(state) })
    }

    /// The address it listens on.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Serves until `shutdown` completes, then finishes the requests in
    /// flight.
    pub async fn run_until(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        axum::serve(self.listener, self.router.into_make_service_with_connect_info::<SocketAddr>())
            .with_graceful_shutdown(shutdown)
            .await
    }
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}

/// Runs the daily sweep once a day, off the async threads.
pub async fn sweep_daily(service: Arc<Service>) {
    loop {
        let s = service.clone();
        let today = chrono::Utc::now().date_naive();
        match tokio::task::spawn_blocking(move || s.sweep(today).and_then(|r| Ok((r, s.escalate_overdue(today)?))))
            .await
        {
            Ok(Ok(((left, deleted), escalated))) => tracing::info!(left, deleted, escalated, "daily sweep"),
            Ok(Err(e)) => tracing::error!(error = %e, "daily sweep failed"),
            Err(e) => tracing::error!(error = %e, "daily sweep panicked"),
        }
        tokio::time::sleep(Duration::from_secs(24 * 3600)).await;
    }
}
