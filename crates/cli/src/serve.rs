//! `orderlake serve` (dashboard, docs, SQL endpoint) and `orderlake docs generate`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use orderlake_serve::{Live, PgUser, ServeOptions};

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
    /// Seconds between checks for a changed warehouse (another process's build or ingest).
    #[arg(long, default_value_t = 2.0)]
    pub refresh_secs: f64,
    /// Also keep gold fresh from a landing folder (see `orderlake watch`): each micro-batch's
    /// commit is served at once.
    #[arg(long, requires = "landing")]
    pub watch: bool,
    #[command(flatten)]
    pub live: crate::watch::LiveArgs,
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
        .with_context(|| format!("opening the warehouse at {}", warehouse.display()))
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
    let options = ServeOptions {
        http: Some(args.http.clone()),
        pg: (!args.no_pg).then(|| args.pg.clone()),
        users: users.clone(),
        refresh_every: Duration::from_secs_f64(args.refresh_secs),
        commits,
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
            if let Some(password) = &generated {
                println!("     password for {user}: {password}   (set users with --pg-user NAME:PASSWORD)");
            }
        }
        println!("Ctrl-C to stop.");
    })
    .await?;
    Ok(ExitCode::SUCCESS)
}

pub async fn docs(global: &GlobalArgs, command: &DocsCommand) -> Result<ExitCode> {
    match command {
        DocsCommand::Generate { out } => {
            let live = open_live(global).await?;
            let out = out
                .clone()
                .unwrap_or_else(|| live.project().target_dir().join("docs"));
            let site = orderlake_serve::docs::render(live.project(), Some(&live.snapshot()))?;
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
