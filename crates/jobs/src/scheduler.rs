//! The scheduler: starts each job when it is due, never two runs of one job at once (in this
//! process, by a running set; across processes, by a lock file per job), catches up the runs
//! missed while it was down as each job's [`CatchUp`] says, stops a run past its timeout, and
//! hands every run — including the ones it skipped — to a [`Recorder`].
//!
//! What a run does is the [`Launcher`]'s business (the CLI runs `orderlake <command>` as a child
//! process); when "now" is, the [`Clock`]'s, so a test or `orderlake scheduler --simulate-from`
//! can go through a day of jobs in seconds.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions, TryLockError};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::task::JoinSet;

use crate::spec::{CatchUp, Job};

/// At most this many missed runs of one job are caught up at start (`catch_up: all`).
pub const MAX_CATCH_UP: usize = 100;

/// Why a run happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// Its time came while the scheduler was up.
    Schedule,
    /// Its time came while no scheduler was up; run at start by the job's catch-up policy.
    CatchUp,
    /// Someone ran it (`orderlake jobs run`).
    Manual,
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Success,
    Failed,
    /// Stopped after the job's timeout.
    TimedOut,
    /// Not started: the job's previous run was still going (here or in another process).
    Skipped,
    /// Not started: its time passed while no scheduler was up, and the policy said not to.
    Missed,
    /// Stopped because the scheduler was shut down.
    Interrupted,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failed => "failed",
            Outcome::TimedOut => "timed_out",
            Outcome::Skipped => "skipped",
            Outcome::Missed => "missed",
            Outcome::Interrupted => "interrupted",
        }
    }
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Schedule => "schedule",
            Trigger::CatchUp => "catch_up",
            Trigger::Manual => "manual",
        }
    }
}

/// One run of a job, as recorded.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobRun {
    pub run_id: String,
    pub job: String,
    pub action: String,
    pub trigger: Trigger,
    /// The due time this run is for.
    pub scheduled_for: DateTime<Utc>,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub outcome: Outcome,
    /// The command's exit code, when it ran to an end.
    pub exit_code: Option<i32>,
    /// What the run said (the end of its output), or why it did not run.
    pub detail: String,
}

impl JobRun {
    /// A run of `job` that never started (skipped or missed), recorded at `at`.
    fn not_run(
        job: &Job,
        trigger: Trigger,
        scheduled_for: DateTime<Utc>,
        at: DateTime<Utc>,
        outcome: Outcome,
        detail: String,
    ) -> JobRun {
        JobRun {
            run_id: uuid::Uuid::new_v4().to_string(),
            job: job.name.clone(),
            action: job.action.kind().into(),
            trigger,
            scheduled_for,
            started_at: at,
            finished_at: at,
            outcome,
            exit_code: None,
            detail,
        }
    }

    pub fn seconds(&self) -> f64 {
        (self.finished_at - self.started_at).num_milliseconds() as f64 / 1000.0
    }
}

/// What a launched run came to.
#[derive(Debug, Clone, PartialEq)]
pub struct Finished {
    pub outcome: Outcome,
    pub exit_code: Option<i32>,
    pub detail: String,
}

/// Does a job's work for one due time. Dropping the future must stop the work (the scheduler
/// drops it at the job's timeout and at shutdown).
pub trait Launcher: Send + Sync + 'static {
    fn launch(&self, job: &Job, due: DateTime<Utc>) -> impl Future<Output = Finished> + Send;
}

/// Keeps the runs. Recording must not fail the scheduler: an implementation logs its own errors.
pub trait Recorder: Send + Sync + 'static {
    /// The latest due time each job has a recorded run for (of any outcome).
    fn last_due(&self) -> impl Future<Output = BTreeMap<String, DateTime<Utc>>> + Send;
    fn record(&self, run: JobRun) -> impl Future<Output = ()> + Send;
}

/// Where "now" comes from.
#[derive(Debug)]
pub struct Clock {
    kind: ClockKind,
}

#[derive(Debug)]
enum ClockKind {
    /// The system's wall clock.
    Wall,
    /// `origin` plus the time tokio says has passed: with tokio's paused test time, sleeps
    /// complete at once and runs take the (virtual) time their launcher sleeps.
    Tokio {
        origin: DateTime<Utc>,
        start: tokio::time::Instant,
    },
    /// Time stands still while runs go on and jumps to the next due time when none is left.
    Simulated { now: Mutex<DateTime<Utc>> },
}

impl Clock {
    pub fn wall() -> Clock {
        Clock {
            kind: ClockKind::Wall,
        }
    }

    /// A clock at `origin` that moves with tokio's time (for tests with paused time).
    pub fn tokio_from(origin: DateTime<Utc>) -> Clock {
        Clock {
            kind: ClockKind::Tokio {
                origin,
                start: tokio::time::Instant::now(),
            },
        }
    }

    /// A clock at `origin` that jumps from one due time to the next once the runs started at
    /// the last one have finished: a day of jobs in the time its runs take.
    pub fn simulated_from(origin: DateTime<Utc>) -> Clock {
        Clock {
            kind: ClockKind::Simulated {
                now: Mutex::new(origin),
            },
        }
    }

    pub fn is_simulated(&self) -> bool {
        matches!(self.kind, ClockKind::Simulated { .. })
    }

    pub fn now(&self) -> DateTime<Utc> {
        match &self.kind {
            ClockKind::Wall => Utc::now(),
            ClockKind::Tokio { origin, start } => {
                let elapsed = chrono::Duration::from_std(start.elapsed()).unwrap_or_default();
                *origin + elapsed
            }
            ClockKind::Simulated { now } => *now.lock().unwrap_or_else(|e| e.into_inner()),
        }
    }

    async fn sleep_until(&self, at: DateTime<Utc>) {
        match &self.kind {
            ClockKind::Wall => loop {
                // In steps of at most a minute, so a suspended laptop or a changed system
                // clock is noticed soon after.
                let left = (at - Utc::now()).to_std().unwrap_or_default();
                if left.is_zero() {
                    break;
                }
                tokio::time::sleep(left.min(Duration::from_secs(60))).await;
            },
            ClockKind::Tokio { .. } => {
                let left = (at - self.now()).to_std().unwrap_or_default();
                tokio::time::sleep(left).await;
            }
            ClockKind::Simulated { now } => {
                let mut now = now.lock().unwrap_or_else(|e| e.into_inner());
                if at > *now {
                    *now = at;
                }
            }
        }
    }
}

/// The runs going on now, by job: what the Jobs page shows as running.
#[derive(Debug, Clone, Default)]
pub struct Board {
    running: Arc<Mutex<BTreeMap<String, Running>>>,
}

/// A run in progress.
#[derive(Debug, Clone, Serialize)]
pub struct Running {
    pub since: DateTime<Utc>,
    pub scheduled_for: DateTime<Utc>,
    pub trigger: Trigger,
}

impl Board {
    pub fn running(&self) -> BTreeMap<String, Running> {
        self.running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn claim(&self, job: &str, running: Running) -> bool {
        let mut map = self.running.lock().unwrap_or_else(|e| e.into_inner());
        if map.contains_key(job) {
            return false;
        }
        map.insert(job.to_string(), running);
        true
    }

    fn release(&self, job: &str) {
        self.running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(job);
    }
}

/// Runs a project's jobs on time.
pub struct Scheduler<L, R> {
    jobs: Arc<Vec<Job>>,
    launcher: Arc<L>,
    recorder: Arc<R>,
    clock: Arc<Clock>,
    locks: Option<PathBuf>,
    board: Board,
}

impl<L: Launcher, R: Recorder> Scheduler<L, R> {
    pub fn new(jobs: Vec<Job>, launcher: L, recorder: R, clock: Clock) -> Self {
        Scheduler {
            jobs: Arc::new(jobs),
            launcher: Arc::new(launcher),
            recorder: Arc::new(recorder),
            clock: Arc::new(clock),
            locks: None,
            board: Board::default(),
        }
    }

    /// Keeps a lock file per job in `folder`, so two schedulers of one project (say `serve`
    /// and `orderlake scheduler`) never run the same job at once.
    pub fn with_locks(mut self, folder: PathBuf) -> Self {
        self.locks = Some(folder);
        self
    }

    pub fn board(&self) -> Board {
        self.board.clone()
    }

    /// Runs jobs until `until` (the runs due by then started and finished) or until `shutdown`
    /// completes (runs in progress are stopped and recorded as interrupted).
    pub async fn run(&self, until: Option<DateTime<Utc>>, shutdown: impl Future<Output = ()>) {
        let mut tasks = JoinSet::new();
        let start = self.clock.now();
        let last = self.recorder.last_due().await;
        let mut next: Vec<Option<DateTime<Utc>>> = Vec::with_capacity(self.jobs.len());
        for (index, job) in self.jobs.iter().enumerate() {
            if let Some(last) = last.get(&job.name) {
                let missed = job.schedule.due_between(*last, start, MAX_CATCH_UP + 1);
                self.catch_up(index, missed, &mut tasks).await;
            }
            next.push(job.schedule.next_after(start));
        }
        tokio::pin!(shutdown);
        while let Some(at) = next.iter().flatten().min().copied() {
            if until.is_some_and(|until| at > until) {
                break;
            }
            if self.clock.is_simulated() {
                // Simulated time moves only when nothing is running.
                while tasks.join_next().await.is_some() {}
            }
            tokio::select! {
                _ = self.clock.sleep_until(at) => {}
                _ = &mut shutdown => {
                    self.interrupt(&mut tasks).await;
                    return;
                }
            }
            let now = self.clock.now();
            for (index, due) in next.iter_mut().enumerate() {
                if *due == Some(at) {
                    self.start(index, vec![at], Trigger::Schedule, &mut tasks)
                        .await;
                    *due = self.jobs[index].schedule.next_after(at.max(now));
                }
            }
        }
        tokio::select! {
            _ = async { while tasks.join_next().await.is_some() {} } => {}
            _ = &mut shutdown => self.interrupt(&mut tasks).await,
        }
    }

    /// Stops the runs in progress and records them as interrupted.
    async fn interrupt(&self, tasks: &mut JoinSet<()>) {
        let running = self.board.running();
        tasks.abort_all();
        while tasks.join_next().await.is_some() {}
        let now = self.clock.now();
        for (name, run) in running {
            let action = self
                .jobs
                .iter()
                .find(|j| j.name == name)
                .map(|j| j.action.kind())
                .unwrap_or_default();
            self.recorder
                .record(JobRun {
                    run_id: uuid::Uuid::new_v4().to_string(),
                    job: name,
                    action: action.into(),
                    trigger: run.trigger,
                    scheduled_for: run.scheduled_for,
                    started_at: run.since,
                    finished_at: now,
                    outcome: Outcome::Interrupted,
                    exit_code: None,
                    detail: "stopped: the scheduler was shut down".into(),
                })
                .await;
        }
    }

    async fn catch_up(
        &self,
        index: usize,
        mut missed: Vec<DateTime<Utc>>,
        tasks: &mut JoinSet<()>,
    ) {
        let job = &self.jobs[index];
        if missed.is_empty() {
            return;
        }
        let (run, skip): (Vec<_>, Vec<_>) = match job.catch_up {
            CatchUp::Latest => {
                let latest = missed.pop().into_iter().collect();
                (latest, missed)
            }
            CatchUp::All => {
                let rest = missed.split_off(missed.len().min(MAX_CATCH_UP));
                (missed, rest)
            }
            CatchUp::Skip => (Vec::new(), missed),
        };
        if let Some(latest_skipped) = skip.last() {
            let now = self.clock.now();
            let more = if skip.len() > MAX_CATCH_UP { "+" } else { "" };
            let detail = format!(
                "{}{more} run(s) due from {} to {} passed while no scheduler was up; \
                 not run (catch_up: {:?})",
                skip.len(),
                skip[0].to_rfc3339(),
                latest_skipped.to_rfc3339(),
                job.catch_up
            )
            .to_lowercase();
            self.recorder
                .record(JobRun::not_run(
                    job,
                    Trigger::CatchUp,
                    *latest_skipped,
                    now,
                    Outcome::Missed,
                    detail,
                ))
                .await;
        }
        if !run.is_empty() {
            self.start(index, run, Trigger::CatchUp, tasks).await;
        }
    }

    /// Starts the runs `dues` of job `index`, one after another, unless the job is running.
    async fn start(
        &self,
        index: usize,
        dues: Vec<DateTime<Utc>>,
        trigger: Trigger,
        tasks: &mut JoinSet<()>,
    ) {
        let job = &self.jobs[index];
        let now = self.clock.now();
        let Some(first) = dues.first().copied() else {
            return;
        };
        let busy = if !self.board.claim(
            &job.name,
            Running {
                since: now,
                scheduled_for: first,
                trigger,
            },
        ) {
            Some("the job's previous run was still running".to_string())
        } else {
            match self.lock(&job.name) {
                Ok(lock) => {
                    let jobs = self.jobs.clone();
                    let launcher = self.launcher.clone();
                    let recorder = self.recorder.clone();
                    let clock = self.clock.clone();
                    let board = self.board.clone();
                    tasks.spawn(async move {
                        let job = &jobs[index];
                        let _release = Release {
                            board: &board,
                            job: &job.name,
                        };
                        for due in dues {
                            let run =
                                run_once(job, due, trigger, launcher.as_ref(), &clock, &board)
                                    .await;
                            recorder.record(run).await;
                        }
                        drop(lock);
                    });
                    return;
                }
                Err(why) => {
                    self.board.release(&job.name);
                    Some(why)
                }
            }
        };
        if let Some(why) = busy {
            for due in dues {
                tracing::warn!("job {} due at {due}: skipped: {why}", job.name);
                self.recorder
                    .record(JobRun::not_run(
                        job,
                        trigger,
                        due,
                        now,
                        Outcome::Skipped,
                        why.clone(),
                    ))
                    .await;
            }
        }
    }

    fn lock(&self, job: &str) -> Result<Option<File>, String> {
        match &self.locks {
            None => Ok(None),
            Some(folder) => lock_job(folder, job).map(Some),
        }
    }

    /// Runs one job now, outside its schedule (`orderlake jobs run`), holding its lock.
    pub async fn run_now(&self, name: &str) -> Option<JobRun> {
        let index = self.jobs.iter().position(|j| j.name == name)?;
        let job = &self.jobs[index];
        let due = self.clock.now();
        let lock = match self.lock(name) {
            Ok(lock) => lock,
            Err(why) => {
                let run = JobRun::not_run(job, Trigger::Manual, due, due, Outcome::Skipped, why);
                self.recorder.record(run.clone()).await;
                return Some(run);
            }
        };
        let run = run_once(
            job,
            due,
            Trigger::Manual,
            self.launcher.as_ref(),
            &self.clock,
            &self.board,
        )
        .await;
        drop(lock);
        self.recorder.record(run.clone()).await;
        Some(run)
    }
}

/// Takes `<folder>/<job>.lock`, or says who has it.
fn lock_job(folder: &Path, job: &str) -> Result<File, String> {
    let path = folder.join(format!("{job}.lock"));
    std::fs::create_dir_all(folder).map_err(|e| format!("{}: {e}", folder.display()))?;
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(TryLockError::WouldBlock) => Err(format!(
            "the job is running in another process (it holds {})",
            path.display()
        )),
        Err(TryLockError::Error(e)) => Err(format!("{}: {e}", path.display())),
    }
}

/// Frees the job's running slot when its task ends, however it ends.
struct Release<'a> {
    board: &'a Board,
    job: &'a str,
}

impl Drop for Release<'_> {
    fn drop(&mut self) {
        self.board.release(self.job);
    }
}

async fn run_once<L: Launcher>(
    job: &Job,
    due: DateTime<Utc>,
    trigger: Trigger,
    launcher: &L,
    clock: &Clock,
    board: &Board,
) -> JobRun {
    let started_at = clock.now();
    if let Some(running) = board
        .running
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get_mut(&job.name)
    {
        running.since = started_at;
        running.scheduled_for = due;
    }
    tracing::info!(
        "job {} ({}) due at {due}: started",
        job.name,
        job.action.kind()
    );
    // How long it took is measured, not read off the clock: a simulated clock stands still.
    let took = tokio::time::Instant::now();
    let finished = match tokio::time::timeout(job.timeout, launcher.launch(job, due)).await {
        Ok(finished) => finished,
        Err(_) => Finished {
            outcome: Outcome::TimedOut,
            exit_code: None,
            detail: format!(
                "stopped after its timeout of {}",
                humantime::format_duration(job.timeout)
            ),
        },
    };
    let finished_at = started_at + chrono::Duration::from_std(took.elapsed()).unwrap_or_default();
    tracing::info!(
        "job {} due at {due}: {}",
        job.name,
        finished.outcome.as_str()
    );
    JobRun {
        run_id: uuid::Uuid::new_v4().to_string(),
        job: job.name.clone(),
        action: job.action.kind().into(),
        trigger,
        scheduled_for: due,
        started_at,
        finished_at,
        outcome: finished.outcome,
        exit_code: finished.exit_code,
        detail: finished.detail,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{Action, Schedule};
    use chrono::TimeZone;

    fn utc(d: u32, h: u32, min: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, d, h, min, 0)
            .single()
            .expect("valid")
    }

    fn job(name: &str, cron: &str, catch_up: CatchUp) -> Job {
        Job {
            name: name.into(),
            schedule: Schedule::new(cron, chrono_tz::Tz::UTC).expect("cron"),
            catch_up,
            timeout: Duration::from_secs(3 * 3600),
            action: Action::Maintain {
                keep_removed_hours: None,
                compact_at_files: None,
            },
        }
    }

    /// Each job's run takes the (virtual) time given here; `slow` fails.
    struct Sleeper(BTreeMap<String, Duration>);

    impl Launcher for Sleeper {
        async fn launch(&self, job: &Job, _: DateTime<Utc>) -> Finished {
            let takes = self.0.get(&job.name).copied().unwrap_or_default();
            tokio::time::sleep(takes).await;
            Finished {
                outcome: if job.name == "slow" {
                    Outcome::Failed
                } else {
                    Outcome::Success
                },
                exit_code: Some(if job.name == "slow" { 1 } else { 0 }),
                detail: String::new(),
            }
        }
    }

    #[derive(Clone, Default)]
    struct Memory {
        last: BTreeMap<String, DateTime<Utc>>,
        runs: Arc<Mutex<Vec<JobRun>>>,
    }

    impl Recorder for Memory {
        async fn last_due(&self) -> BTreeMap<String, DateTime<Utc>> {
            self.last.clone()
        }
        async fn record(&self, run: JobRun) {
            self.runs.lock().expect("lock").push(run);
        }
    }

    impl Memory {
        fn runs(&self) -> Vec<(String, DateTime<Utc>, Outcome, Trigger)> {
            let mut runs: Vec<_> = self
                .runs
                .lock()
                .expect("lock")
                .iter()
                .map(|r| (r.job.clone(), r.scheduled_for, r.outcome, r.trigger))
                .collect();
            runs.sort_by_key(|r| (r.1, r.0.clone()));
            runs
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_day_of_jobs_runs_each_on_time_and_a_long_run_is_never_doubled() {
        let jobs = vec![
            job("every6h", "0 */6 * * *", CatchUp::Latest),
            // Takes 2.5 hours, due every hour: the two due while it runs are skipped.
            job("slow", "30 * * * *", CatchUp::Latest),
            job("nightly", "0 2 * * *", CatchUp::Latest),
        ];
        let mut takes = BTreeMap::new();
        takes.insert("slow".to_string(), Duration::from_secs(9000));
        takes.insert("every6h".to_string(), Duration::from_secs(60));
        let memory = Memory::default();
        let scheduler = Scheduler::new(
            jobs,
            Sleeper(takes),
            memory.clone(),
            Clock::tokio_from(utc(30, 0, 0)),
        );
        scheduler
            .run(Some(utc(30, 23, 59)), std::future::pending())
            .await;
        let runs = memory.runs();
        let of = |name: &str, outcome: Outcome| -> Vec<u32> {
            use chrono::Timelike;
            runs.iter()
                .filter(|r| r.0 == name && r.2 == outcome)
                .map(|r| r.1.hour())
                .collect()
        };
        assert_eq!(of("every6h", Outcome::Success), [6, 12, 18]);
        assert_eq!(of("nightly", Outcome::Success), [2]);
        // Runs at 0:30 (until 3:00), then 3:30 (until 6:00), 6:30, … : every third hour runs.
        assert_eq!(of("slow", Outcome::Failed), [0, 3, 6, 9, 12, 15, 18, 21]);
        assert_eq!(
            of("slow", Outcome::Skipped),
            [1, 2, 4, 5, 7, 8, 10, 11, 13, 14, 16, 17, 19, 20, 22, 23]
        );
        assert!(
            runs.iter().all(|r| r.3 == Trigger::Schedule),
            "nothing to catch up on a first start"
        );
        assert!(scheduler.board().running().is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn runs_missed_while_down_are_caught_up_by_each_jobs_policy() {
        let jobs = vec![
            job("latest", "0 * * * *", CatchUp::Latest),
            job("all", "0 * * * *", CatchUp::All),
            job("skip", "0 * * * *", CatchUp::Skip),
            job("new", "0 * * * *", CatchUp::Latest),
        ];
        let mut memory = Memory::default();
        // Each last ran at 20:00; the scheduler comes back at 23:10 (21, 22, 23 were missed).
        for name in ["latest", "all", "skip"] {
            memory.last.insert(name.into(), utc(29, 20, 0));
        }
        let scheduler = Scheduler::new(
            jobs,
            Sleeper(BTreeMap::new()),
            memory.clone(),
            Clock::tokio_from(utc(29, 23, 10)),
        );
        scheduler
            .run(Some(utc(29, 23, 30)), std::future::pending())
            .await;
        let runs = memory.runs();
        let hours = |name: &str, outcome: Outcome| -> Vec<u32> {
            use chrono::Timelike;
            runs.iter()
                .filter(|r| r.0 == name && r.2 == outcome && r.3 == Trigger::CatchUp)
                .map(|r| r.1.hour())
                .collect()
        };
        assert_eq!(hours("latest", Outcome::Success), [23]);
        assert_eq!(hours("latest", Outcome::Missed), [22]);
        assert_eq!(hours("all", Outcome::Success), [21, 22, 23]);
        assert_eq!(hours("skip", Outcome::Missed), [23]);
        assert!(hours("skip", Outcome::Success).is_empty());
        assert!(runs.iter().all(|r| r.0 != "new"), "a new job has no past");
    }

    #[tokio::test(start_paused = true)]
    async fn a_run_past_its_timeout_is_stopped() {
        let mut long = job("long", "0 * * * *", CatchUp::Latest);
        long.timeout = Duration::from_secs(600);
        let mut takes = BTreeMap::new();
        takes.insert("long".to_string(), Duration::from_secs(3600 * 5));
        let memory = Memory::default();
        let scheduler = Scheduler::new(
            vec![long],
            Sleeper(takes),
            memory.clone(),
            Clock::tokio_from(utc(30, 0, 30)),
        );
        scheduler
            .run(Some(utc(30, 2, 30)), std::future::pending())
            .await;
        let outcomes: Vec<_> = memory.runs().iter().map(|r| r.2).collect();
        assert_eq!(outcomes, [Outcome::TimedOut, Outcome::TimedOut]);
        let recorded = memory.runs.lock().expect("lock")[0].clone();
        assert_eq!(recorded.seconds(), 600.0);
        assert!(recorded.detail.contains("10m"), "{}", recorded.detail);
    }

    #[tokio::test(start_paused = true)]
    async fn a_shutdown_stops_the_runs_in_progress_and_records_them_interrupted() {
        let mut takes = BTreeMap::new();
        takes.insert("long".to_string(), Duration::from_secs(3600));
        let memory = Memory::default();
        let dir = tempfile::tempdir().expect("tempdir");
        let scheduler = Scheduler::new(
            vec![job("long", "0 * * * *", CatchUp::Latest)],
            Sleeper(takes),
            memory.clone(),
            Clock::tokio_from(utc(30, 0, 30)),
        )
        .with_locks(dir.path().to_path_buf());
        // Shut down at 01:15, a quarter of an hour into the 01:00 run.
        scheduler
            .run(None, tokio::time::sleep(Duration::from_secs(45 * 60)))
            .await;
        let runs = memory.runs.lock().expect("lock").clone();
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].outcome, Outcome::Interrupted);
        assert_eq!(runs[0].scheduled_for, utc(30, 1, 0));
        assert_eq!(runs[0].seconds(), 900.0);
        assert!(scheduler.board().running().is_empty());
        lock_job(dir.path(), "long").expect("the lock was let go");
    }

    #[test]
    fn a_job_lock_is_held_by_one_holder_at_a_time() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = lock_job(dir.path(), "nightly").expect("free");
        let second = lock_job(dir.path(), "nightly").expect_err("held");
        assert!(second.contains("running in another process"), "{second}");
        drop(first);
        lock_job(dir.path(), "nightly").expect("free again");
    }

    #[tokio::test]
    async fn a_simulated_clock_jumps_only_when_nothing_runs() {
        let memory = Memory::default();
        let scheduler = Scheduler::new(
            vec![job("hourly", "0 * * * *", CatchUp::Latest)],
            Sleeper(BTreeMap::new()),
            memory.clone(),
            Clock::simulated_from(utc(30, 0, 0)),
        );
        scheduler
            .run(Some(utc(30, 23, 59)), std::future::pending())
            .await;
        assert_eq!(memory.runs().len(), 23);
    }
}
