//! `orderlake watch` and `serve --watch`: the landing folder kept flowing through to gold.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Args;
use orderlake_watch::{Cycle, LiveLake, Trigger, WatchOptions};

use crate::GlobalArgs;

#[derive(Args, Clone)]
pub struct LiveArgs {
    /// The landing folder to watch, or s3://bucket/prefix (listed every second).
    #[arg(long, value_parser = crate::storage_location)]
    pub landing: Option<orderlake_project::StorageLocation>,
    /// The schema of the bronze tables.
    #[arg(long = "bronze-schema", default_value = "bronze")]
    pub bronze_schema: String,
    /// Milliseconds of quiet in the landing folder before a micro-batch starts.
    #[arg(long, default_value_t = 100)]
    pub debounce_ms: u64,
    /// List the folder every this many seconds instead of listening for file events (for
    /// network mounts and other folders whose events are unreliable).
    #[arg(long)]
    pub poll: Option<f64>,
    /// Files that left a table (rewritten, compacted) are deleted this many minutes later; readers
    /// of older versions and time travel reach back that far.
    #[arg(long, default_value_t = 60.0)]
    pub retention_minutes: f64,
}

#[derive(Args, Clone)]
pub struct WatchArgs {
    #[command(flatten)]
    pub live: LiveArgs,
    /// One JSON object per micro-batch on stdout (for scripts and benchmarks).
    #[arg(long)]
    pub json: bool,
}

impl LiveArgs {
    fn options(&self) -> Result<WatchOptions> {
        let Some(landing) = &self.landing else {
            bail!("--landing: which folder to watch?");
        };
        let mut options = WatchOptions::new(landing);
        options.bronze_schema = self.bronze_schema.clone();
        options.debounce = Duration::from_millis(self.debounce_ms);
        if let Some(poll) = self.poll {
            if !(poll > 0.0 && poll.is_finite()) {
                bail!("--poll: must be a positive number of seconds");
            }
            options.poll = Some(Duration::from_secs_f64(poll));
        }
        if !(self.retention_minutes >= 0.0 && self.retention_minutes.is_finite()) {
            bail!("--retention-minutes: must be zero or a positive number of minutes");
        }
        options.maintenance.keep_removed_files =
            Duration::from_secs_f64(self.retention_minutes * 60.0);
        Ok(options)
    }

    /// Opens the live lake of the project.
    pub async fn open(&self, global: &GlobalArgs) -> Result<LiveLake> {
        let options = self.options()?;
        let landing = options.landing.clone();
        let project = Arc::new(crate::load_project(global)?);
        LiveLake::open(project, options)
            .await
            .with_context(|| format!("watching {landing}"))
    }
}

pub async fn watch(global: &GlobalArgs, args: &WatchArgs) -> Result<ExitCode> {
    let lake = args.live.open(global).await?;
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        let _ = stop.send(true);
    });
    if !args.json
        && let Some(landing) = &args.live.landing
    {
        println!("Watching {landing} (Ctrl-C to stop).");
    }
    let json = args.json;
    lake.run(shutdown, move |cycle| print_cycle(cycle, json))
        .await
        .context("watching")?;
    Ok(ExitCode::SUCCESS)
}

/// One line per micro-batch: what came in, what was refreshed, how long from event to commit.
pub fn print_cycle(cycle: &Cycle, json: bool) {
    let outcome = cycle.outcome.as_ref();
    let count = |pred: &dyn Fn(&orderlake_engine::run::NodeResult) -> bool| {
        outcome.map_or(0, |o| o.results.iter().filter(|r| pred(r)).count())
    };
    let refreshed = count(&|r| r.refresh.is_some());
    let incremental = count(&|r| {
        r.refresh
            .as_ref()
            .is_some_and(|f| f.mode == orderlake_engine::run::RefreshMode::Incremental)
    });
    let tests = count(&|r| r.failures.is_some());
    let problems: Vec<String> = outcome
        .map(|o| {
            o.results
                .iter()
                .filter(|r| {
                    matches!(
                        r.status,
                        orderlake_engine::run::Status::Error | orderlake_engine::run::Status::Fail
                    )
                })
                .map(|r| {
                    format!(
                        "{}: {}",
                        r.unique_id,
                        r.message.as_deref().unwrap_or("failed")
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let latency = (cycle.committed_at - cycle.seen_at)
        .num_microseconds()
        .unwrap_or(0) as f64
        / 1e6;
    if json {
        let line = serde_json::json!({
            "cycle": cycle.number,
            "trigger": match cycle.trigger {
                Trigger::Start => "start",
                Trigger::FileEvent => "file_event",
                Trigger::Rescan => "rescan",
            },
            "files": cycle.files.iter().map(|f| &f.file).collect::<Vec<_>>(),
            "entities": cycle.entities,
            "rows_loaded": cycle.rows_loaded(),
            "rows_quarantined": cycle.rows_quarantined(),
            "rows_rescued": cycle.files.iter().map(|f| f.rows_rescued).sum::<u64>(),
            "new_columns": cycle.files.iter().filter(|f| !f.new_columns.is_empty())
                .map(|f| (f.entity.clone(), f.new_columns.clone()))
                .collect::<std::collections::BTreeMap<_, _>>(),
            "nodes_refreshed": refreshed,
            "nodes_incremental": incremental,
            "tests": tests,
            "tests_deferred": cycle.tests_deferred,
            "failed": cycle.failed(),
            "problems": problems,
            "run_id": outcome.map(|o| o.run_id.clone()),
            "seen_at": cycle.seen_at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            "committed_at": cycle.committed_at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            "finished_at": cycle.finished_at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            "ingest_seconds": cycle.ingest_seconds,
            "refresh_seconds": cycle.refresh_seconds,
        });
        println!("{line}");
        return;
    }
    let time = cycle.committed_at.format("%H:%M:%S%.3f");
    let what = if cycle.trigger == Trigger::Start {
        "caught up".to_string()
    } else if cycle.files.is_empty() && refreshed == 0 {
        "deferred tests".to_string()
    } else {
        format!(
            "{} file(s), {} rows ({} quarantined) into {}",
            cycle.files.len(),
            cycle.rows_loaded(),
            cycle.rows_quarantined(),
            cycle
                .entities
                .iter()
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    println!(
        "{time} {what} → refreshed {refreshed} nodes ({incremental} incrementally), {tests} tests; \
         ingest {:.2}s + refresh {:.2}s; seen → committed {latency:.2}s{}{}",
        cycle.ingest_seconds,
        cycle.refresh_seconds,
        if cycle.tests_deferred {
            " (tests deferred: more files waiting)"
        } else {
            ""
        },
        if problems.is_empty() {
            ""
        } else {
            "  PROBLEMS:"
        }
    );
    for f in &cycle.files {
        if !f.new_columns.is_empty() {
            println!(
                "    {} added column(s) to {}: {}",
                f.file,
                f.entity,
                f.new_columns.join(", ")
            );
        }
        if f.rows_rescued > 0 {
            println!(
                "    {}: {} row(s) with unknown columns or misfit values kept in {}",
                f.file,
                f.rows_rescued,
                orderlake_ingest::RESCUED_DATA
            );
        }
    }
    for p in problems {
        println!("    {p}");
    }
}
