//! `orderlake scheduler`, `orderlake jobs` and `orderlake maintain`: the project's
//! `schedules.yml` run unattended, and what the jobs call that no other command does.
//!
//! A run is `orderlake <command>` started as a child process of this binary, with the same
//! project, warehouse, target, vars and engine: a job does exactly what a person typing it would,
//! and a crash or a timeout takes down that run only. Runs are recorded in the warehouse's
//! `_orderlake.job_runs`.

use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use chrono::{DateTime, NaiveDate, Utc};
use clap::{Args, Subcommand};
use orderlake_engine::Warehouse;
use orderlake_engine::job_log;
use orderlake_engine::maintenance::MaintenancePolicy;
use orderlake_jobs::{
    Clock, Finished, Job, JobRun, Launcher, Outcome, Recorder, Scheduler, Schedules,
};
use tokio::io::AsyncReadExt;

use crate::GlobalArgs;

/// The last this many characters of a run's output are kept with it.
const DETAIL_CHARS: usize = 2000;

#[derive(Args)]
pub struct SchedulerArgs {
    /// Go through the jobs due from this time (RFC 3339, or a date for its midnight UTC) to
    /// --simulate-until, each run in turn, without waiting in between: a dry run of a day or
    /// a backfill. The commands really run.
    #[arg(long, requires = "simulate_until", value_parser = instant)]
    simulate_from: Option<DateTime<Utc>>,
    #[arg(long, requires = "simulate_from", value_parser = instant)]
    simulate_until: Option<DateTime<Utc>>,
}

#[derive(Subcommand)]
pub enum JobsCommand {
    /// Each job with its schedule, its last run and its next.
    List,
    /// Run one job now (it must not be running elsewhere).
    Run { job: String },
    /// The recorded runs, newest first.
    Log {
        #[arg(long)]
        job: Option<String>,
        #[arg(long, default_value_t = 30)]
        limit: usize,
    },
}

#[derive(Args)]
pub struct MaintainArgs {
    /// Files that left a table are deleted this many hours after they left (time travel and
    /// long readers reach back this far).
    #[arg(long, default_value_t = 168)]
    keep_removed_hours: u64,
    /// Compact a table once it has this many data files.
    #[arg(long, default_value_t = 16)]
    compact_at_files: usize,
}

/// `--simulate-from`: a time, or a date meaning its midnight UTC.
fn instant(text: &str) -> std::result::Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
        .ok_or_else(|| format!("`{text}`: write a time as 2026-11-30T02:00:00Z or a date"))
}

/// Starts runs as `orderlake …` child processes of this binary.
pub struct ChildLauncher {
    exe: PathBuf,
    project: PathBuf,
    global: Vec<String>,
    desk: Option<String>,
}

impl ChildLauncher {
    pub fn new(global: &GlobalArgs, project: &Path, schedules: &Schedules) -> Result<Self> {
        let exe = std::env::current_exe().context("finding this program to start jobs with")?;
        let mut args = vec!["--project-dir".to_string(), project.display().to_string()];
        if let Some(warehouse) = &global.warehouse {
            args.extend(["--warehouse".into(), warehouse.to_string()]);
        }
        if let Some(target) = &global.target {
            args.extend(["--target".into(), target.clone()]);
        }
        if let Some(vars) = &global.vars {
            args.extend(["--vars".into(), vars.clone()]);
        }
        if let Some(engine) = &global.engine {
            args.extend(["--engine".into(), engine.to_string()]);
        }
        let desk = schedules.desk.as_ref().map(|d| {
            if d.contains("://") || Path::new(d).is_absolute() {
                d.clone()
            } else {
                project.join(d).display().to_string()
            }
        });
        Ok(ChildLauncher {
            exe,
            project: project.to_path_buf(),
            global: args,
            desk,
        })
    }
}

impl Launcher for ChildLauncher {
    async fn launch(&self, job: &Job, due: DateTime<Utc>) -> Finished {
        let invocation = job.invocation(due, &self.project, self.desk.as_deref());
        let mut command = tokio::process::Command::new(&self.exe);
        command
            .args(&self.global)
            .args(&invocation.args)
            .current_dir(&self.project)
            .stdin(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let partial = invocation
            .stdout_to
            .as_ref()
            .map(|file| file.with_extension("csv.partial"));
        match &partial {
            Some(partial) => {
                let opened = partial
                    .parent()
                    .map(std::fs::create_dir_all)
                    .unwrap_or(Ok(()))
                    .and_then(|()| std::fs::File::create(partial));
                match opened {
                    Ok(file) => {
                        command.stdout(file);
                    }
                    Err(e) => return failed(format!("{}: {e}", partial.display())),
                }
            }
            None => {
                command.stdout(Stdio::piped());
            }
        }
        let mut child = match command.spawn() {
            Ok(child) => child,
            Err(e) => return failed(format!("starting {}: {e}", self.exe.display())),
        };
        // Both pipes are drained while the child runs, so a chatty command never blocks.
        let mut stdout = child.stdout.take();
        let mut stderr = child.stderr.take();
        let read_out = async {
            let mut text = String::new();
            if let Some(out) = stdout.as_mut() {
                let _ = out.read_to_string(&mut text).await;
            }
            text
        };
        let read_err = async {
            let mut text = String::new();
            if let Some(err) = stderr.as_mut() {
                let _ = err.read_to_string(&mut text).await;
            }
            text
        };
        let (out, err, status) = tokio::join!(read_out, read_err, child.wait());
        let status = match status {
            Ok(status) => status,
            Err(e) => return failed(format!("waiting for the run: {e}")),
        };
        let mut detail = [out.trim(), err.trim()]
            .into_iter()
            .filter(|t| !t.is_empty())
            .collect::<Vec<_>>()
            .join("\n");
        if status.success() {
            if let (Some(partial), Some(file)) = (&partial, &invocation.stdout_to) {
                if let Err(e) = std::fs::rename(partial, file) {
                    return failed(format!("{}: {e}", file.display()));
                }
                let bytes = std::fs::metadata(file).map(|m| m.len()).unwrap_or(0);
                detail = format!("wrote {} ({bytes} bytes)", file.display());
            }
        } else if let Some(partial) = &partial {
            let _ = std::fs::remove_file(partial);
        }
        Finished {
            outcome: if status.success() {
                Outcome::Success
            } else {
                Outcome::Failed
            },
            exit_code: status.code(),
            detail: tail(&detail, DETAIL_CHARS),
        }
    }
}

fn failed(detail: String) -> Finished {
    Finished {
        outcome: Outcome::Failed,
        exit_code: None,
        detail,
    }
}

/// The last `chars` characters of `text`.
fn tail(text: &str, chars: usize) -> String {
    let count = text.chars().count();
    if count <= chars {
        return text.to_string();
    }
    let skip = count - chars;
    format!("…{}", text.chars().skip(skip).collect::<String>())
}

/// Keeps runs in the warehouse's job log, one commit per run, and says each on stdout when
/// asked to.
pub struct LogRecorder {
    warehouse: tokio::sync::Mutex<Warehouse>,
    echo: bool,
}

impl LogRecorder {
    pub fn new(warehouse: Warehouse, echo: bool) -> Self {
        LogRecorder {
            warehouse: tokio::sync::Mutex::new(warehouse),
            echo,
        }
    }
}

impl Recorder for LogRecorder {
    async fn last_due(&self) -> std::collections::BTreeMap<String, DateTime<Utc>> {
        let warehouse = self.warehouse.lock().await;
        match job_log::last_due(&warehouse).await {
            Ok(last) => last,
            Err(e) => {
                tracing::warn!("the job log cannot be read ({e}): nothing is caught up");
                Default::default()
            }
        }
    }

    async fn record(&self, run: JobRun) {
        if self.echo {
            println!("{}", run_line(&run));
        }
        let warehouse = self.warehouse.lock().await;
        if let Err(e) = job_log::append(&warehouse, std::slice::from_ref(&run)).await {
            tracing::error!("job {} run {} not logged: {e}", run.job, run.run_id);
        }
    }
}

fn run_line(run: &JobRun) -> String {
    let first_line = run.detail.lines().last().unwrap_or("");
    format!(
        "{}  {:<24} {:<16} {:<12} {:>8.1}s  {}",
        run.scheduled_for.format("%Y-%m-%d %H:%M"),
        run.job,
        run.action,
        run.outcome.as_str(),
        run.seconds(),
        first_line
    )
}

fn load_schedules(root: &Path) -> Result<Schedules> {
    match Schedules::load(root)? {
        Some(schedules) => Ok(schedules),
        None => bail!(
            "{}: no schedules here: list jobs in {} (see README, \"Run it unattended\")",
            root.display(),
            orderlake_jobs::SCHEDULES_FILE
        ),
    }
}

/// The project's scheduler for `schedules`, recording into its warehouse.
pub async fn project_scheduler(
    global: &GlobalArgs,
    project: &orderlake_project::Project,
    schedules: &Schedules,
    clock: Clock,
    echo: bool,
) -> Result<Scheduler<ChildLauncher, LogRecorder>> {
    let launcher = ChildLauncher::new(global, &project.root, schedules)?;
    let warehouse = crate::open_warehouse(project).await?;
    let recorder = LogRecorder::new(warehouse, echo);
    Ok(
        Scheduler::new(schedules.jobs.clone(), launcher, recorder, clock)
            .with_locks(project.target_dir().join("jobs")),
    )
}

/// `orderlake scheduler`: runs the jobs until Ctrl-C (or through a simulated stretch).
pub async fn scheduler(global: &GlobalArgs, args: &SchedulerArgs) -> Result<ExitCode> {
    let project = crate::load_project(global)?;
    let schedules = load_schedules(&project.root)?;
    let (clock, until) = match (args.simulate_from, args.simulate_until) {
        (Some(from), Some(until)) => {
            if until <= from {
                bail!("--simulate-until must come after --simulate-from");
            }
            (Clock::simulated_from(from), Some(until))
        }
        _ => (Clock::wall(), None),
    };
    let scheduler = project_scheduler(global, &project, &schedules, clock, true).await?;
    eprintln!(
        "{} jobs from {}{}",
        schedules.jobs.len(),
        schedules.path.display(),
        if until.is_some() {
            ", simulated"
        } else {
            "; Ctrl-C stops"
        }
    );
    scheduler
        .run(until, async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await;
    Ok(ExitCode::SUCCESS)
}

/// `orderlake jobs …`.
pub async fn jobs(global: &GlobalArgs, command: &JobsCommand) -> Result<ExitCode> {
    let project = crate::load_project(global)?;
    let schedules = load_schedules(&project.root)?;
    match command {
        JobsCommand::List => {
            let warehouse = crate::open_warehouse(&project).await?;
            let last = job_log::last_runs(&warehouse).await?;
            let now = Utc::now();
            println!(
                "{:<24} {:<16} {:<34} {:<26} last run",
                "job", "action", "schedule", "next run"
            );
            for job in &schedules.jobs {
                let next = job
                    .schedule
                    .next_after(now)
                    .map(|t| {
                        t.with_timezone(&job.schedule.timezone)
                            .format("%Y-%m-%d %H:%M %Z")
                            .to_string()
                    })
                    .unwrap_or_else(|| "never".into());
                let last = last
                    .get(&job.name)
                    .map(|r| {
                        format!(
                            "{} {} ({:.1} s)",
                            r.started_at.format("%Y-%m-%d %H:%M UTC"),
                            r.outcome,
                            r.seconds
                        )
                    })
                    .unwrap_or_else(|| "never".into());
                let schedule = format!("{} {}", job.schedule.cron, job.schedule.timezone);
                println!(
                    "{:<24} {:<16} {:<34} {:<26} {}",
                    job.name,
                    job.action.kind(),
                    schedule,
                    next,
                    last
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        JobsCommand::Run { job } => {
            if schedules.job(job).is_none() {
                let names: Vec<_> = schedules.jobs.iter().map(|j| j.name.as_str()).collect();
                bail!(
                    "{}: no job `{job}` (jobs: {})",
                    schedules.path.display(),
                    names.join(", ")
                );
            }
            let scheduler =
                project_scheduler(global, &project, &schedules, Clock::wall(), true).await?;
            let run = scheduler.run_now(job).await;
            Ok(match run.map(|r| r.outcome) {
                Some(Outcome::Success) => ExitCode::SUCCESS,
                _ => ExitCode::FAILURE,
            })
        }
        JobsCommand::Log { job, limit } => {
            let warehouse = crate::open_warehouse(&project).await?;
            match job_log::recent(&warehouse, job.as_deref(), *limit).await? {
                Some(batches) => print!(
                    "{}",
                    crate::ensure_newline(orderlake_engine::output::format_batches(
                        &batches,
                        orderlake_engine::output::Format::Table
                    )?)
                ),
                None => println!("no job has run yet"),
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `orderlake maintain`: compacts, vacuums and checkpoints every Delta table.
pub async fn maintain(global: &GlobalArgs, args: &MaintainArgs) -> Result<ExitCode> {
    let project = crate::load_project(global)?;
    let warehouse = crate::open_warehouse(&project).await?;
    let policy = MaintenancePolicy {
        compact_at_files: args.compact_at_files.max(2),
        keep_removed_files: Duration::from_secs(args.keep_removed_hours.saturating_mul(3600)),
        checkpoint: true,
        ..MaintenancePolicy::default()
    };
    let done = warehouse.maintain_all(&policy).await?;
    let (mut compacted, mut deleted) = (0, 0);
    for table in &done {
        compacted += table.files_compacted;
        deleted += table.files_deleted;
        if table.did_anything() {
            println!(
                "{}: {} small files compacted into {}, {} old files deleted",
                table.relation, table.files_compacted, table.files_written, table.files_deleted
            );
        }
    }
    println!(
        "maintained {} tables: {compacted} files compacted, {deleted} old files deleted, \
         each log checkpointed",
        done.len()
    );
    Ok(ExitCode::SUCCESS)
}

/// Runs `scheduler` until `shutdown`, as a task of `serve`.
pub fn spawn(
    scheduler: Arc<Scheduler<ChildLauncher, LogRecorder>>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move { scheduler.run(None, shutdown).await })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simulated_times_are_rfc3339_or_a_date() {
        assert_eq!(
            instant("2026-11-30").expect("date").to_rfc3339(),
            "2026-11-30T00:00:00+00:00"
        );
        assert_eq!(
            instant("2026-11-30T02:00:00-03:00")
                .expect("time")
                .to_rfc3339(),
            "2026-11-30T05:00:00+00:00"
        );
        assert!(instant("tomorrow").is_err());
    }

    #[test]
    fn a_runs_detail_keeps_the_end_of_long_output() {
        assert_eq!(tail("short", 10), "short");
        assert_eq!(tail("0123456789abc", 3), "…abc");
    }
}
