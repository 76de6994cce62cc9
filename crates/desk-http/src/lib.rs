//! The order desk over HTTP.
//!
//! - `/api/…`: a JSON API, one endpoint per operation and report, described by the OpenAPI
//!   document at `/api/openapi.json`. Every call carries `Authorization: Bearer <token>`; the
//!   token maps to a role (clerk, manager, analyst) that the desk checks per operation.
//! - `/`: server-rendered web forms for order entry, payments and the reports (the token is kept
//!   in an HTTP-only cookie after signing in).
//!
//! The desk is one SQLite database; operations are short transactions, so they run one at a time
//! on a blocking thread behind a mutex, and the async runtime is never blocked on SQLite.

mod api;
mod error;
mod web;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use orderlake_desk::{Actor, Desk, DeskError};
use serde::de::DeserializeOwned;

pub use api::ApiDoc;
pub use error::{ApiError, ErrorBody};
pub use web::{Cell, tabulate};

/// What every handler shares: the desk.
#[derive(Clone)]
pub struct AppState {
    desk: Arc<Mutex<Desk>>,
    /// Where `POST /api/publish` and the background publisher write change events.
    landing: Option<PathBuf>,
}

impl AppState {
    pub fn new(desk: Desk, landing: Option<PathBuf>) -> Self {
        AppState {
            desk: Arc::new(Mutex::new(desk)),
            landing,
        }
    }

    /// Runs `f` on a blocking thread as the caller that `token` stands for.
    async fn call_token<T, F>(&self, token: Option<String>, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Desk, &Actor) -> orderlake_desk::Result<T> + Send + 'static,
    {
        self.with_desk(move |desk| {
            let actor = desk.authenticate(token.as_deref().ok_or(DeskError::Unauthorized)?)?;
            f(desk, &actor)
        })
        .await
    }

    /// Runs `f` on a blocking thread as an authenticated caller.
    async fn call<T, F>(&self, actor: Actor, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Desk, &Actor) -> orderlake_desk::Result<T> + Send + 'static,
    {
        self.with_desk(move |desk| f(desk, &actor)).await
    }

    /// Runs `f` on a blocking thread with the desk (no caller: publishing, health).
    async fn with_desk<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Desk) -> orderlake_desk::Result<T> + Send + 'static,
    {
        let desk = self.desk.clone();
        tokio::task::spawn_blocking(move || {
            // A panic inside an operation dropped its transaction (rolled back), so the desk
            // behind a poisoned lock is still consistent.
            let mut desk = desk.lock().unwrap_or_else(|p| p.into_inner());
            f(&mut desk).map_err(ApiError::from)
        })
        .await
        .map_err(ApiError::internal)?
    }
}

/// The bearer token of a request, from `Authorization: Bearer …`.
fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_string())
}

/// The authenticated caller. Extracted before the body, so a call without a valid token is
/// refused with 401 whatever else is wrong with it.
pub struct Caller(pub Actor);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer(&parts.headers);
        state
            .with_desk(move |d| d.authenticate(token.as_deref().ok_or(DeskError::Unauthorized)?))
            .await
            .map(Caller)
    }
}

/// A JSON body whose deserialization errors come back as JSON naming the field.
pub struct Body<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = ApiError;
    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        axum::Json::<T>::from_request(req, state)
            .await
            .map(|axum::Json(v)| Body(v))
            .map_err(|r| ApiError::from_rejection("body", &r.body_text()))
    }
}

/// A query string whose errors come back as JSON naming the parameter.
pub struct Params<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Params<T> {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(v)| Params(v))
            .map_err(|r| ApiError::from_rejection("query", &r.body_text()))
    }
}

/// A numeric id in the path (`/api/orders/{id}`), refused as JSON when it is not one.
pub struct Id(pub i64);

impl<S: Send + Sync> FromRequestParts<S> for Id {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let axum::extract::Path(raw) =
            axum::extract::Path::<String>::from_request_parts(parts, state)
                .await
                .map_err(|r| ApiError::from_rejection("id", &r.body_text()))?;
        raw.parse()
            .map(Id)
            .map_err(|_| ApiError::invalid("id", format!("'{raw}' is not a number")))
    }
}

/// The whole application: the JSON API under `/api` and the web forms at `/`.
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(api::routes())
        .merge(web::routes())
        .with_state(state)
}

/// Where and how to serve the desk.
pub struct ServeOptions {
    pub addr: SocketAddr,
    /// When set, unpublished change events are written there as NDJSON every `publish_every`.
    pub landing: Option<PathBuf>,
    pub publish_every: Duration,
}

/// Serves the desk until `shutdown` resolves; publishes the outbox in the background.
pub async fn serve(
    desk: Desk,
    options: ServeOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let state = AppState::new(desk, options.landing.clone());
    let listener = tokio::net::TcpListener::bind(options.addr).await?;
    tracing::info!(addr = %listener.local_addr()?, "desk listening");
    if let Some(landing) = options.landing.clone() {
        let publisher = state.clone();
        let every = options.publish_every;
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                let landing = landing.clone();
                match publisher.with_desk(move |d| d.publish(&landing)).await {
                    Ok(files) if !files.is_empty() => {
                        let events: usize = files.iter().map(|f| f.events).sum();
                        tracing::info!(files = files.len(), events, "published desk events");
                    }
                    Ok(_) => {}
                    Err(e) => tracing::error!(error = %e.body.message, "publishing failed"),
                }
            }
        });
    }
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}
