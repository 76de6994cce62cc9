//! `orderlake serve` (dashboard, docs, SQL endpoint) and `orderlake docs generate`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use orderlake_serve::{Live, PgLimits, PgOptions, PgUser, ServeOptions, Tls, TlsSource};

use crate::GlobalArgs;

#[derive(Args, Clone)]
pub struct ServeArgs {
    /// Address of the dashboard and docs.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub http: String,
    /// Address of the PostgreSQL-wire SQL endpoint.
    #[arg(long, default_value = "127.0.0.1:5433")]
    pub pg: String,
    /// Do not serve SQL.
    #[arg(long)]
    pub no_pg: bool,
    /// Who may log in over SQL, as NAME:PASSWORD (repeat, or comma-separate in the env).
    /// Without any, a user `orderlake` gets a random password, printed at start.
    #[arg(long = "pg-user", env = "ORDERLAKE_PG_USERS", value_delimiter = ',')]
    pub pg_users: Vec<String>,
    #[command(flatten)]
    pub sql: SqlEndpointArgs,
    /// Seconds between checks for a changed warehouse (another process's build or ingest).
    #[arg(long, default_value_t = 2.0)]
    pub refresh_secs: f64,
    /// Also keep gold fresh from a landing folder (see `orderlake watch`): each micro-batch's
    /// commit is served at once.
    #[arg(long, requires = "landing")]
    pub watch: bool,
    #[command(flatten)]
    pub live: crate::watch::LiveArgs,
    /// Do not run the jobs of the project's schedules.yml (another process runs them, e.g.
    /// `orderlake scheduler`).
    #[arg(long)]
    pub no_schedules: bool,
}

/// TLS and limits of the SQL endpoint.
#[derive(Args, Clone, Debug)]
pub struct SqlEndpointArgs {
    /// Serve TLS with this certificate (PEM; the chain, leaf first) ...
    #[arg(long, requires = "tls_key", conflicts_with = "tls_self_signed")]
    pub tls_cert: Option<PathBuf>,
    /// ... and this private key (PEM).
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Serve TLS with a self-signed certificate, made once in <project>/target/tls and reused;
    /// its SHA-256 fingerprint is printed at start.
    #[arg(long)]
    pub tls_self_signed: bool,
    /// Clients connected at once; more are told "too many clients" and closed.
    #[arg(long, default_value_t = 100)]
    pub pg_max_connections: usize,
    /// Seconds a connection may sit idle (no statement sent or running) before it is closed.
    #[arg(long, default_value_t = 600.0)]
    pub pg_idle_timeout: f64,
}

impl Default for SqlEndpointArgs {
    fn default() -> Self {
        SqlEndpointArgs {
            tls_cert: None,
            tls_key: None,
            tls_self_signed: false,
            pg_max_connections: 100,
            pg_idle_timeout: 600.0,
        }
    }
}

impl SqlEndpointArgs {
    /// The endpoint's TLS, made or loaded now so a bad file fails before anything listens.
    fn tls(&self, project: &orderlake_project::Project) -> Result<Option<Tls>> {
        let source = match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => TlsSource::Files {
                cert: cert.clone(),
                key: key.clone(),
            },
            _ if self.tls_self_signed => TlsSource::SelfSigned {
                dir: project.target_dir().join("tls"),
            },
            _ => return Ok(None),
        };
        Ok(Some(orderlake_serve::pg::tls::load(&source)?))
    }

    fn limits(&self) -> Result<PgLimits> {
        if self.pg_max_connections == 0 {
            bail!("--pg-max-connections must be at least 1");
        }
        if !(self.pg_idle_timeout > 0.0 && self.pg_idle_timeout.is_finite()) {
            bail!("--pg-idle-timeout must be a positive number of seconds");
        }
        Ok(PgLimits {
            max_connections: self.pg_max_connections,
            idle_timeout: Duration::from_secs_f64(self.pg_idle_timeout),
        })
    }
}

#[derive(Subcommand, Clone)]
pub enum DocsCommand {
    /// Write the docs site (every node, its columns and SQL, and the lineage graph).
    Generate {
        /// Where to write it (default: <project>/target/docs).
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

async fn open_live(global: &GlobalArgs) -> Result<Arc<Live>> {
    let project = crate::load_project(global)?;
    let warehouse = project.target.warehouse.clone();
    Live::open(Arc::new(project))
        .await
        .with_context(|| format!("opening the warehouse at {warehouse}"))
}

fn users(args: &ServeArgs) -> Result<(Vec<PgUser>, Option<String>)> {
    let mut users = Vec::new();
    for (i, text) in args.pg_users.iter().enumerate() {
        match PgUser::parse(text) {
            Some(u) => users.push(u),
            None => bail!(
                "--pg-user #{}: expected NAME:PASSWORD, got '{}'",
                i + 1,
                text.split(':').next().unwrap_or("")
            ),
        }
    }
    if users.is_empty() {
        let password = uuid::Uuid::new_v4().simple().to_string()[..16].to_string();
        users.push(PgUser {
            name: "orderlake".into(),
            password: password.clone(),
        });
        return Ok((users, Some(password)));
    }
    Ok((users, None))
}

pub async fn serve(global: &GlobalArgs, args: &ServeArgs) -> Result<ExitCode> {
    if !(args.refresh_secs > 0.0 && args.refresh_secs.is_finite()) {
        bail!("--refresh-secs must be a positive number of seconds");
    }
    let (users, generated) = users(args)?;
    let limits = args.sql.limits()?;
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    // With --watch, the watcher catches up first (pending files, a whole build), so the first
    // snapshot served is already fresh; then every micro-batch's commit is announced.
    let commits = if args.watch {
        let lake = args.live.open(global).await?;
        let (announce, commits) = tokio::sync::watch::channel(0u64);
        let watching = shutdown.clone();
        let (caught_up_tx, caught_up) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let mut caught_up_tx = Some(caught_up_tx);
            let result = lake
                .run(watching, move |cycle| {
                    crate::watch::print_cycle(cycle, false);
                    announce.send_replace(cycle.number);
                    if let Some(tx) = caught_up_tx.take() {
                        let _ = tx.send(());
                    }
                })
                .await;
            if let Err(e) = result {
                eprintln!("error: watching stopped: {e}");
            }
        });
        let _ = caught_up.await;
        Some(commits)
    } else {
        None
    };
    let live = open_live(global).await?;
    let tls = if args.no_pg {
        None
    } else {
        args.sql.tls(live.project())?
    };
    let mut scheduler_task = None;
    let jobs = match orderlake_jobs::Schedules::load(&live.project().root)? {
        Some(schedules) if !args.no_schedules => {
            let scheduler = crate::jobs::project_scheduler(
                global,
                live.project(),
                &schedules,
                orderlake_jobs::Clock::wall(),
                true,
            )
            .await?;
            let view = Arc::new(orderlake_serve::JobsView {
                board: scheduler.board(),
                schedules,
            });
            println!(
                "Jobs: {} from {} run here (the Jobs page lists them; --no-schedules to not)",
                view.schedules.jobs.len(),
                view.schedules.path.display()
            );
            let mut stopped = shutdown.clone();
            scheduler_task = Some(crate::jobs::spawn(Arc::new(scheduler), async move {
                let _ = stopped.changed().await;
            }));
            Some(view)
        }
        _ => None,
    };
    let options = ServeOptions {
        http: Some(args.http.clone()),
        pg: (!args.no_pg).then(|| args.pg.clone()),
        sql: PgOptions {
            users: users.clone(),
            tls: tls.clone(),
            limits,
        },
        refresh_every: Duration::from_secs_f64(args.refresh_secs),
        commits,
        jobs,
        health: Arc::new(crate::health::config(live.project())?),
    };
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        let _ = stop.send(true);
    });
    let project_name = live.project().name.clone();
    orderlake_serve::serve(live, options, shutdown, |bound| {
        if let Some(http) = bound.http {
            println!("Dashboard: http://{http}/   docs: http://{http}/docs/   ({project_name})");
        }
        if let Some(pg) = bound.pg {
            let user = &users[0].name;
            println!(
                "SQL: psql \"postgresql://{user}@{}:{}/{project_name}\"  (read-only; SCRAM-SHA-256)",
                pg.ip(),
                pg.port()
            );
            if let Some(tls) = &tls {
                println!(
                    "     TLS on: sslmode=require (or verify-full with sslrootcert={}); SHA-256 fingerprint {}",
                    tls.cert_path.display(),
                    tls.fingerprint
                );
            }
            if let Some(password) = &generated {
                println!("     password for {user}: {password}   (set users with --pg-user NAME:PASSWORD)");
            }
        }
        println!("Ctrl-C to stop.");
    })
    .await?;
    if let Some(task) = scheduler_task {
        // Runs in progress are stopped and logged as interrupted.
        let _ = task.await;
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn docs(global: &GlobalArgs, command: &DocsCommand) -> Result<ExitCode> {
    match command {
        DocsCommand::Generate { out } => {
            let live = open_live(global).await?;
            let out = out
                .clone()
                .unwrap_or_else(|| live.project().target_dir().join("docs"));
            let site = orderlake_serve::docs::site(&live).await?;
            let files = orderlake_serve::docs::write(&site, &out)?;
            println!(
                "Wrote the docs site ({files} files) to {}: open {}",
                out.display(),
                out.join("index.html").display()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}
