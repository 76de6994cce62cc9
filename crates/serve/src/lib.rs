//! Serving a warehouse to people and tools: the dashboard over the gold tables, the docs site
//! with the lineage graph, and a read-only PostgreSQL-wire SQL endpoint for BI tools.
//!
//! Everything reads one [`Live`] warehouse: a snapshot that is replaced when a build or an
//! ingest commits, so the dashboard redraws and SQL clients see new gold without a restart.

pub mod dashboard;
pub mod docs;
pub mod error;
pub mod http;
pub mod live;
pub mod pg;

use std::sync::{Arc, RwLock};
use std::time::Duration;

pub use error::{Result, ServeError};
pub use live::{Live, Snapshot};
pub use pg::connection::Limits as PgLimits;
pub use pg::tls::{Tls, TlsSource};
pub use pg::{PgOptions, PgUser};

/// Where and how to serve.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// The dashboard and docs; `None` to not serve HTTP.
    pub http: Option<String>,
    /// The SQL endpoint; `None` to not serve it.
    pub pg: Option<String>,
    /// Who may log in to the SQL endpoint, TLS, and its connection limits.
    pub sql: PgOptions,
    /// How often to look for a changed warehouse.
    pub refresh_every: Duration,
    /// Announcements of commits made in this process (the watch mode): each one swaps the
    /// snapshot at once instead of at the next poll.
    pub commits: Option<tokio::sync::watch::Receiver<u64>>,
    /// The project's schedule and the runs going on, when a scheduler runs in this process:
    /// the Jobs page shows each job's next run and what is running.
    pub jobs: Option<Arc<JobsView>>,
    /// health.yml: the metrics and thresholds of the Health page and `/api/health`.
    pub health: Arc<orderlake_monitor::HealthConfig>,
}

/// What the Jobs page knows of a scheduler running beside the server.
#[derive(Debug)]
pub struct JobsView {
    pub schedules: orderlake_jobs::Schedules,
    pub board: orderlake_jobs::Board,
}

/// One job as the Jobs page and `/api/jobs` show it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ScheduledJob {
    pub job: String,
    pub action: &'static str,
    pub cron: String,
    pub timezone: String,
    pub description: String,
    /// The next due time, in the job's time zone.
    pub next_run: Option<String>,
    pub running: Option<orderlake_jobs::Running>,
}

impl JobsView {
    pub fn jobs(&self, now: chrono::DateTime<chrono::Utc>) -> Vec<ScheduledJob> {
        let running = self.board.running();
        self.schedules
            .jobs
            .iter()
            .map(|job| ScheduledJob {
                job: job.name.clone(),
                action: job.action.kind(),
                cron: job.schedule.cron.clone(),
                timezone: job.schedule.timezone.to_string(),
                description: job.schedule.describe(),
                next_run: job
                    .schedule
                    .next_after(now)
                    .map(|t| t.with_timezone(&job.schedule.timezone).to_rfc3339()),
                running: running.get(&job.name).cloned(),
            })
            .collect()
    }
}

/// The addresses actually bound (port 0 picks a free one).
#[derive(Debug, Clone)]
pub struct Bound {
    pub http: Option<std::net::SocketAddr>,
    pub pg: Option<std::net::SocketAddr>,
}

async fn bind(addr: &str) -> Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Bind {
            addr: addr.to_string(),
            source,
        })
}

/// Binds the listeners, then serves until `shutdown` changes. `on_bound` hears the addresses
/// once both listen, before the first request.
pub async fn serve(
    live: Arc<Live>,
    options: ServeOptions,
    shutdown: tokio::sync::watch::Receiver<bool>,
    on_bound: impl FnOnce(&Bound),
) -> Result<()> {
    let http_listener = match &options.http {
        Some(addr) => Some(bind(addr).await?),
        None => None,
    };
    let pg_listener = match &options.pg {
        Some(addr) => Some(bind(addr).await?),
        None => None,
    };
    let bound = Bound {
        http: http_listener.as_ref().and_then(|l| l.local_addr().ok()),
        pg: pg_listener.as_ref().and_then(|l| l.local_addr().ok()),
    };
    let site = docs::site(&live).await?;
    let docs_site: http::DocsSite = Arc::new(RwLock::new(site));
    on_bound(&bound);

    let mut tasks = tokio::task::JoinSet::new();
    {
        let live = live.clone();
        let docs_site = docs_site.clone();
        let mut shutdown = shutdown.clone();
        let every = options.refresh_every;
        let mut commits = options.commits.clone();
        tasks.spawn(async move {
            loop {
                let committed = async {
                    match commits.as_mut() {
                        Some(c) => {
                            if c.changed().await.is_err() {
                                // The watcher is gone: only the poll is left.
                                std::future::pending::<()>().await;
                            }
                        }
                        None => std::future::pending::<()>().await,
                    }
                };
                tokio::select! {
                    _ = tokio::time::sleep(every) => {}
                    _ = committed => {}
                    _ = shutdown.changed() => return,
                }
                match live.refresh().await {
                    Ok(true) => match docs::site(&live).await {
                        Ok(site) => *docs_site.write().unwrap_or_else(|p| p.into_inner()) = site,
                        Err(e) => tracing::warn!("docs: {e}"),
                    },
                    Ok(false) => {}
                    Err(e) => tracing::warn!("refreshing the warehouse: {e}"),
                }
            }
        });
    }
    if let Some(listener) = http_listener {
        let app = http::router(http::AppState::new(
            live.clone(),
            docs_site,
            options.jobs.clone(),
            options.health.clone(),
        ));
        let mut shutdown = shutdown.clone();
        tasks.spawn(async move {
            let result = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = shutdown.changed().await;
                })
                .await;
            if let Err(e) = result {
                tracing::error!("http: {e}");
            }
        });
    }
    if let Some(listener) = pg_listener {
        let live = live.clone();
        let sql = options.sql.clone();
        let shutdown = shutdown.clone();
        tasks.spawn(async move { pg::serve(live, listener, &sql, shutdown).await });
    }
    while tasks.join_next().await.is_some() {}
    Ok(())
}
