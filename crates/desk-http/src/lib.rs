//! The order desk over HTTP.
//!
//! - `/api/…`: a JSON API, one endpoint per operation and report, described by the OpenAPI
//!   document at `/api/openapi.json`. Every call carries `Authorization: Bearer <token>`; the
//!   token maps to a role (clerk, manager, analyst) that the desk checks per operation.
//! - `/`: server-rendered web forms for order entry, payments and the reports (the token is kept
//!   in an HTTP-only cookie after signing in).
//!
//! The desk is one SQLite database in WAL mode. Writes go to one writer thread that takes
//! every operation waiting and runs them in one transaction, each in a savepoint of its own (a
//! failed one undoes only itself), then commits once and answers them all: under load a commit
//! serves many requests. Reads (reports, balances, sign-in) run on a pool of read-only
//! connections, so they never wait behind writes. A POST with an `Idempotency-Key` header is
//! applied once per caller and key; a retry answers the first result.

mod api;
mod error;
mod web;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use axum::response::IntoResponse;
use orderlake_desk::{Actor, Checkpoints, Desk, DeskError};
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use api::ApiDoc;
pub use error::{ApiError, ErrorBody};
pub use web::{Cell, tabulate};

/// How many operations one commit may carry at most.
const MAX_BATCH: usize = 256;
/// Read-only connections for reports and sign-in.
const READERS: usize = 4;

/// What the writer thread answers once the batch holding the operation has committed.
type Reply = Box<dyn FnOnce(Result<(), String>) + Send>;
/// An operation for the writer thread: runs on the desk, returns how to answer.
type Job = Box<dyn FnOnce(&mut Desk) -> Reply + Send>;

/// The one writer: a thread owning the read-write desk, fed through a channel.
struct Writer {
    jobs: std::sync::mpsc::Sender<Job>,
}

impl Writer {
    fn start(mut desk: Desk) -> Writer {
        let (jobs, queue) = std::sync::mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("desk-writer".into())
            .spawn(move || {
                while let Ok(first) = queue.recv() {
                    let mut batch = vec![first];
                    while batch.len() < MAX_BATCH {
                        match queue.try_recv() {
                            Ok(job) => batch.push(job),
                            Err(_) => break,
                        }
                    }
                    run_batch(&mut desk, batch);
                }
            })
            .expect("spawn the desk writer thread");
        Writer { jobs }
    }
}

/// Runs a batch in one transaction and answers each operation after the commit. If the
/// transaction cannot even begin (another process holds the database), each runs alone.
fn run_batch(desk: &mut Desk, batch: Vec<Job>) {
    let mut pending = batch;
    let mut replies: Vec<Reply> = Vec::with_capacity(pending.len());
    let committed = desk.within(|d| {
        for job in pending.drain(..) {
            replies.push(job(d));
        }
        Ok(())
    });
    let outcome = committed.map_err(|e| format!("committing the batch: {e}"));
    for reply in replies {
        reply(outcome.clone());
    }
    for job in pending {
        job(desk)(Ok(()));
    }
}

/// Read-only desks, taken in turn.
struct Readers {
    desks: Vec<Mutex<Desk>>,
    next: AtomicUsize,
}

tokio::task_local! {
    /// The `Idempotency-Key` of the request being handled, with its digest (set by
    /// [`idempotency_layer`]).
    static IDEMPOTENCY: Option<Idempotency>;
}

#[derive(Debug, Clone)]
struct Idempotency {
    key: String,
    operation: String,
    digest: String,
}

/// How often the background thread checkpoints the WAL.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(200);

/// How long a signed-in token is trusted without asking the database again: a token revoked
/// (by `orderlake desk token revoke`) stops working within this time.
const SIGN_IN_TTL: Duration = Duration::from_secs(1);

/// Tokens recently signed in, with their caller.
type SignedIn = Mutex<std::collections::HashMap<String, (Actor, std::time::Instant)>>;

/// What every handler shares: the writer, the readers, and where events are published.
#[derive(Clone)]
pub struct AppState {
    writer: Arc<Writer>,
    readers: Arc<Readers>,
    signed_in: Arc<SignedIn>,
    /// Where `POST /api/publish` and the background publisher write change events.
    landing: Option<PathBuf>,
}

impl AppState {
    /// Serves `desk`: it becomes the writer; readers are opened on the same database (none for
    /// an in-memory one: reads then queue with the writes).
    pub fn new(desk: Desk, landing: Option<PathBuf>) -> Self {
        let location = desk.location().clone();
        // An in-memory SQLite database has no file to open again.
        let path = location
            .file()
            .filter(|p| !p.as_os_str().is_empty() && *p != std::path::Path::new(":memory:"))
            .map(PathBuf::from);
        let shared = path.is_some() || matches!(location, orderlake_desk::DeskDb::Postgres(_));
        // Opened on a thread of their own: PostgreSQL's synchronous client must not connect
        // on an async runtime's thread.
        let desks = if shared {
            std::thread::scope(|s| {
                s.spawn(|| {
                    (0..READERS)
                        .filter_map(|_| Desk::open_reader(&location).ok())
                        .map(Mutex::new)
                        .collect()
                })
                .join()
                .unwrap_or_default()
            })
        } else {
            Vec::new()
        };
        let background = desk.set_checkpoints(Checkpoints::Background).is_ok();
        let writer = Arc::new(Writer::start(desk));
        if let Some(path) = path
            && background
        {
            start_checkpointer(path, Arc::downgrade(&writer));
        }
        AppState {
            writer,
            signed_in: Arc::default(),
            readers: Arc::new(Readers {
                desks,
                next: AtomicUsize::new(0),
            }),
            landing,
        }
    }

    /// Runs a write as the caller that `token` stands for (signed in on a reader).
    async fn call_token<T, F>(&self, token: Option<String>, f: F) -> Result<T, ApiError>
    where
        T: Serialize + DeserializeOwned + Send + 'static,
        F: FnOnce(&mut Desk, &Actor) -> orderlake_desk::Result<T> + Send + 'static,
    {
        let actor = self.authenticate(token).await?;
        self.call(actor, f).await
    }

    /// Runs a read as the caller that `token` stands for.
    async fn read_token<T, F>(&self, token: Option<String>, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&Desk, &Actor) -> orderlake_desk::Result<T> + Send + 'static,
    {
        let actor = self.authenticate(token).await?;
        self.read(actor, f).await
    }

    /// The caller a bearer token stands for. Every request signs in, so a token seen within
    /// [`SIGN_IN_TTL`] is answered from memory instead of a database lookup.
    async fn authenticate(&self, token: Option<String>) -> Result<Actor, ApiError> {
        let token = token.ok_or(ApiError::from(DeskError::Unauthorized))?;
        if let Some((actor, at)) = self
            .signed_in
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&token)
            && at.elapsed() < SIGN_IN_TTL
        {
            return Ok(actor.clone());
        }
        let presented = token.clone();
        let actor = self
            .with_reader(move |d| d.authenticate(&presented))
            .await?;
        let mut signed_in = self.signed_in.lock().unwrap_or_else(|p| p.into_inner());
        // Bounded: old entries go when it grows (many tokens, or someone guessing).
        if signed_in.len() > 10_000 {
            signed_in.retain(|_, (_, at)| at.elapsed() < SIGN_IN_TTL);
        }
        signed_in.insert(token, (actor.clone(), std::time::Instant::now()));
        Ok(actor)
    }

    /// Runs an operation on the writer as an authenticated caller. With an `Idempotency-Key`
    /// on the request, it runs once per caller and key: a retry gets the first result.
    async fn call<T, F>(&self, actor: Actor, f: F) -> Result<T, ApiError>
    where
        T: Serialize + DeserializeOwned + Send + 'static,
        F: FnOnce(&mut Desk, &Actor) -> orderlake_desk::Result<T> + Send + 'static,
    {
        let idempotency = IDEMPOTENCY.try_with(Clone::clone).ok().flatten();
        match idempotency {
            None => self.with_writer(move |desk| f(desk, &actor)).await,
            Some(i) => {
                let remembered = self
                    .with_writer(move |desk| {
                        desk.idempotent(&actor, &i.key, &i.operation, &i.digest, |d| {
                            let value = f(d, &actor)?;
                            serde_json::to_string(&value).map_err(|e| {
                                DeskError::invalid("result", format!("cannot be kept: {e}"))
                            })
                        })
                    })
                    .await?;
                serde_json::from_str(&remembered.result).map_err(ApiError::internal)
            }
        }
    }

    /// Runs a read on a reader as an authenticated caller.
    async fn read<T, F>(&self, actor: Actor, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&Desk, &Actor) -> orderlake_desk::Result<T> + Send + 'static,
    {
        self.with_reader(move |desk| f(desk, &actor)).await
    }

    /// Runs `f` on the writer thread, answering once its batch has committed.
    async fn with_writer<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Desk) -> orderlake_desk::Result<T> + Send + 'static,
    {
        let (answer, answered) = tokio::sync::oneshot::channel::<Result<T, ApiError>>();
        let job: Job = Box::new(move |desk| {
            // A panic inside an operation rolled its savepoint back: the batch goes on.
            let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(desk)));
            Box::new(move |committed| {
                let result = match (out, committed) {
                    (Ok(Ok(value)), Ok(())) => Ok(value),
                    (Ok(Ok(_)), Err(e)) => Err(ApiError::internal(e)),
                    (Ok(Err(e)), _) => Err(ApiError::from(e)),
                    (Err(_), _) => Err(ApiError::internal("the operation panicked")),
                };
                let _ = answer.send(result);
            })
        });
        self.writer
            .jobs
            .send(job)
            .map_err(|_| ApiError::internal("the desk writer has stopped"))?;
        answered
            .await
            .map_err(|_| ApiError::internal("the desk writer dropped the operation"))?
    }

    /// Runs `f` on a read-only desk on a blocking thread (on the writer when there are none).
    async fn with_reader<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&Desk) -> orderlake_desk::Result<T> + Send + 'static,
    {
        if self.readers.desks.is_empty() {
            return self.with_writer(move |desk| f(desk)).await;
        }
        let readers = self.readers.clone();
        tokio::task::spawn_blocking(move || {
            let n = readers.desks.len();
            let start = readers.next.fetch_add(1, Ordering::Relaxed);
            // The first free reader, else wait for the one whose turn it is.
            let guard = (0..n)
                .find_map(|i| readers.desks[(start + i) % n].try_lock().ok())
                .unwrap_or_else(|| {
                    readers.desks[start % n]
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                });
            f(&guard).map_err(ApiError::from)
        })
        .await
        .map_err(ApiError::internal)?
    }
}

/// Checkpoints the WAL from its own connection every [`CHECKPOINT_EVERY`], so no write pays
/// for it, for as long as `server` (the server's writer) lives: a stopped server leaves no
/// thread behind.
fn start_checkpointer<T: Send + Sync + 'static>(
    path: PathBuf,
    server: std::sync::Weak<T>,
) -> Option<std::thread::JoinHandle<()>> {
    let spawned = std::thread::Builder::new()
        .name("desk-checkpoint".into())
        .spawn(move || {
            let Ok(desk) = Desk::open(&path) else {
                return;
            };
            while server.strong_count() > 0 {
                std::thread::sleep(CHECKPOINT_EVERY);
                if let Err(e) = desk.checkpoint() {
                    tracing::warn!("desk checkpoint: {e}");
                }
            }
        });
    match spawned {
        Ok(handle) => Some(handle),
        Err(e) => {
            tracing::warn!("no background checkpoints: {e}");
            None
        }
    }
}

/// Reads `Idempotency-Key` on writes: the request's method, path, query and body make its
/// digest, kept for the handler's operation (a retry must be the same request).
async fn idempotency_layer(req: Request, next: axum::middleware::Next) -> axum::response::Response {
    let Some(header) = req.headers().get("idempotency-key") else {
        return next.run(req).await;
    };
    if req.method() == axum::http::Method::GET || req.method() == axum::http::Method::HEAD {
        return next.run(req).await;
    }
    let key = match header.to_str() {
        Ok(key) => key.trim().to_string(),
        Err(_) => {
            return ApiError::invalid("Idempotency-Key", "must be printable ASCII").into_response();
        }
    };
    let (parts, body) = req.into_parts();
    let bytes = match axum::body::to_bytes(body, 4 << 20).await {
        Ok(bytes) => bytes,
        Err(e) => return ApiError::invalid("body", e.to_string()).into_response(),
    };
    let operation = format!("{} {}", parts.method, parts.uri.path());
    let digest = orderlake_desk::request_digest(&[
        operation.as_bytes(),
        parts.uri.query().unwrap_or("").as_bytes(),
        &bytes,
    ]);
    let req = Request::from_parts(parts, axum::body::Body::from(bytes));
    let idempotency = Idempotency {
        key,
        operation,
        digest,
    };
    IDEMPOTENCY.scope(Some(idempotency), next.run(req)).await
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
        state.authenticate(bearer(&parts.headers)).await.map(Caller)
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
        .layer(axum::middleware::from_fn(idempotency_layer))
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
                match publisher.with_writer(move |d| d.publish(&landing)).await {
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

#[cfg(test)]
mod checkpointer_tests {
    #[test]
    fn the_checkpointer_stops_with_its_server() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("desk.db");
        drop(orderlake_desk::Desk::open(&path).expect("desk"));
        let server = std::sync::Arc::new(());
        let handle =
            super::start_checkpointer(path, std::sync::Arc::downgrade(&server)).expect("spawned");
        std::thread::sleep(super::CHECKPOINT_EVERY * 2);
        assert!(!handle.is_finished(), "runs while the server does");
        drop(server);
        let deadline = std::time::Instant::now() + super::CHECKPOINT_EVERY * 10;
        while !handle.is_finished() && std::time::Instant::now() < deadline {
            std::thread::sleep(super::CHECKPOINT_EVERY / 4);
        }
        assert!(
            handle.is_finished(),
            "a stopped server leaves no checkpointer behind"
        );
    }
}
