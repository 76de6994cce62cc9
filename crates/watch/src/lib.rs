//! The live lakehouse: a landing folder watched, each new file ingested exactly once, and every
//! model downstream of what changed refreshed, in DAG order, in short micro-batches.
//!
//! ```text
//!  landing/ ──file event (inotify) or poll──► debounce (~100 ms of quiet)
//!      └─► ingest (new files only; the ingest log makes it exactly once) ─► bronze commits
//!      └─► build `source:bronze.<entity>+` for every entity that changed ─► silver/gold commits
//!      └─► on_cycle(&Cycle): the caller republishes (serve swaps its snapshot at once)
//! ```
//!
//! On start the watcher ingests whatever is pending and builds the whole project once, so a
//! watcher killed between an ingest and its refresh catches up when it comes back: nothing that
//! reached bronze is left out of gold. A refresh that fails is retried with the next change.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use notify::Watcher as _;
use orderlake_engine::Warehouse;
use orderlake_engine::invocation::{self, Command, Outcome, Request};
use orderlake_engine::maintenance::{Maintained, MaintenancePolicy};
use orderlake_ingest::{FileReport, IngestOptions, QUARANTINE};
use orderlake_project::{Project, StorageLocation};
use tokio::sync::mpsc;

#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    #[error("{0}")]
    Ingest(#[from] orderlake_ingest::IngestError),
    #[error("{}", orderlake_engine::report(.0))]
    Engine(#[from] orderlake_engine::EngineError),
    #[error("watching {}: {source}", path.display())]
    Notify {
        path: PathBuf,
        #[source]
        source: notify::Error,
    },
    #[error("landing folder {}: {source}", path.display())]
    Landing {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

pub type Result<T, E = WatchError> = std::result::Result<T, E>;

/// Where to watch and how eagerly.
#[derive(Debug, Clone)]
pub struct WatchOptions {
    /// A folder (file events) or an object-store prefix (listed every [`OBJECT_STORE_POLL`]
    /// unless `poll` says otherwise: a bucket sends no file events).
    pub landing: StorageLocation,
    /// The schema of the bronze tables (`orderlake ingest --schema`).
    pub bronze_schema: String,
    /// How long the folder must be quiet before a micro-batch starts: a file being copied in
    /// sends many events, and several files dropped together make one batch.
    pub debounce: Duration,
    /// The longest a batch waits for quiet, so a steady stream of files still gets refreshed.
    pub max_wait: Duration,
    /// `Some`: list the folder this often instead of listening for file events (network mounts
    /// and other folders whose events are unreliable). `None`: file events, with a rescan every
    /// `rescan_every` in case an event was lost.
    pub poll: Option<Duration>,
    pub rescan_every: Duration,
    /// How often the tables are compacted and vacuumed (between micro-batches, never during).
    pub maintain_every: Duration,
    pub maintenance: MaintenancePolicy,
}

/// How often an object-store landing prefix is listed when no `poll` is given.
pub const OBJECT_STORE_POLL: Duration = Duration::from_secs(1);

impl WatchOptions {
    pub fn new(landing: impl Into<StorageLocation>) -> Self {
        WatchOptions {
            landing: landing.into(),
            bronze_schema: IngestOptions::default().bronze_schema,
            debounce: Duration::from_millis(100),
            max_wait: Duration::from_secs(1),
            poll: None,
            rescan_every: Duration::from_secs(5),
            maintain_every: Duration::from_secs(60),
            maintenance: MaintenancePolicy::default(),
        }
    }
}

/// Why a micro-batch ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// The watcher started: pending files ingested and the whole project built.
    Start,
    /// A file event in the landing folder.
    FileEvent,
    /// The periodic listing (polling mode, or the safety rescan).
    Rescan,
}

/// One micro-batch: the files it ingested and the refresh that followed.
#[derive(Debug, Clone)]
pub struct Cycle {
    pub number: u64,
    pub trigger: Trigger,
    /// Files loaded in this batch (files loaded before are not listed).
    pub files: Vec<FileReport>,
    /// The bronze entities that changed.
    pub entities: BTreeSet<String>,
    /// The build of everything downstream of them; `None` when nothing downstream exists.
    pub outcome: Option<Outcome>,
    /// When the first event of the batch arrived (or the rescan began).
    pub seen_at: DateTime<Utc>,
    /// When the last table of the batch was committed (the tests that follow not counted).
    pub committed_at: DateTime<Utc>,
    /// When the batch ended, its tests run.
    pub finished_at: DateTime<Utc>,
    /// Whether its tests were left to a later batch: more files arrived while it was
    /// refreshing, and testing tables that are about to change again would only hold them back.
    /// Deferred tests run with the next batch that finds nothing new waiting, or on the next
    /// rescan once the folder is quiet.
    pub tests_deferred: bool,
    pub ingest_seconds: f64,
    pub refresh_seconds: f64,
}

impl Cycle {
    pub fn rows_loaded(&self) -> u64 {
        self.files.iter().map(|f| f.rows_loaded).sum()
    }

    pub fn rows_quarantined(&self) -> u64 {
        self.files.iter().map(|f| f.rows_quarantined).sum()
    }

    /// Whether the refresh had an error, a failing test or a skipped node.
    pub fn failed(&self) -> bool {
        self.outcome.as_ref().is_some_and(Outcome::failed)
    }
}

/// A project's warehouse kept fresh from a landing folder.
pub struct LiveLake {
    project: Arc<Project>,
    warehouse: Arc<Warehouse>,
    options: WatchOptions,
    cycles: u64,
    /// Entities whose last refresh did not succeed: refreshed again with the next batch.
    retry: BTreeSet<String>,
    /// Selectors whose tests were deferred (see [`Cycle::tests_deferred`]).
    untested: BTreeSet<String>,
    /// Set by the file listener when data may have arrived; cleared when a batch ingests.
    arrivals: Arc<AtomicBool>,
}

impl LiveLake {
    /// Opens the project's warehouse.
    pub async fn open(project: Arc<Project>, options: WatchOptions) -> Result<Self> {
        if let Some(dir) = options.landing.as_folder()
            && !dir.is_dir()
        {
            return Err(WatchError::Landing {
                path: dir.to_path_buf(),
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "not a folder"),
            });
        }
        let warehouse = Arc::new(invocation::open_warehouse(&project).await?);
        Ok(LiveLake {
            project,
            warehouse,
            options,
            cycles: 0,
            retry: BTreeSet::new(),
            untested: BTreeSet::new(),
            arrivals: Arc::new(AtomicBool::new(false)),
        })
    }

    /// Ingests pending files and builds the whole project: the state a watcher starts from.
    pub async fn catch_up(&mut self) -> Result<Cycle> {
        let seen_at = Utc::now();
        let started = Instant::now();
        let files = self.ingest().await?;
        let ingest_seconds = started.elapsed().as_secs_f64();
        let entities = files.iter().map(|f| f.entity.clone()).collect();
        let refreshed = self.refresh(None).await?;
        self.retry.clear();
        Ok(self.finish(
            Trigger::Start,
            files,
            entities,
            refreshed,
            seen_at,
            started,
            ingest_seconds,
        ))
    }

    /// One micro-batch: ingests new files and refreshes everything downstream of them.
    /// `None` when there was nothing new (and no deferred tests to run).
    pub async fn cycle(
        &mut self,
        trigger: Trigger,
        seen_at: DateTime<Utc>,
    ) -> Result<Option<Cycle>> {
        let started = Instant::now();
        // What the listener reports from here on is news for a later batch.
        self.arrivals.store(false, Ordering::SeqCst);
        let files = self.ingest().await?;
        let ingest_seconds = started.elapsed().as_secs_f64();
        let mut entities: BTreeSet<String> = files.iter().map(|f| f.entity.clone()).collect();
        if files.iter().any(|f| f.rows_quarantined > 0) {
            entities.insert(QUARANTINE.to_string());
        }
        if entities.is_empty() && self.retry.is_empty() && self.untested.is_empty() {
            return Ok(None);
        }
        let wanted: BTreeSet<String> = entities.union(&self.retry).cloned().collect();
        let refreshed = self.refresh(Some(wanted.clone())).await?;
        self.retry = if refreshed.outcome.as_ref().is_some_and(Outcome::failed) {
            // A failing test of deferred ones may be about earlier batches' entities.
            wanted.union(&refreshed.tested).cloned().collect()
        } else {
            BTreeSet::new()
        };
        Ok(Some(self.finish(
            trigger,
            files,
            entities,
            refreshed,
            seen_at,
            started,
            ingest_seconds,
        )))
    }

    #[allow(clippy::too_many_arguments)]
    fn finish(
        &mut self,
        trigger: Trigger,
        files: Vec<FileReport>,
        entities: BTreeSet<String>,
        refreshed: Refreshed,
        seen_at: DateTime<Utc>,
        started: Instant,
        ingest_seconds: f64,
    ) -> Cycle {
        self.cycles += 1;
        let finished_at = Utc::now();
        Cycle {
            number: self.cycles,
            trigger,
            files,
            entities,
            outcome: refreshed.outcome,
            seen_at,
            committed_at: refreshed.committed.unwrap_or(finished_at),
            finished_at,
            tests_deferred: refreshed.tests_deferred,
            ingest_seconds,
            refresh_seconds: started.elapsed().as_secs_f64() - ingest_seconds,
        }
    }

    async fn ingest(&self) -> Result<Vec<FileReport>> {
        let mut options = IngestOptions::for_project(&self.project, &self.options.bronze_schema);
        options.skip_refused = true;
        let reports =
            orderlake_ingest::ingest(&self.warehouse, &self.options.landing, &options, &|_| {})
                .await?;
        for refused in reports.iter().filter_map(|r| r.refused.as_ref()) {
            tracing::warn!("not loaded (tried again with the next batch): {refused}");
        }
        Ok(reports
            .into_iter()
            .filter(|r| !r.skipped && r.refused.is_none())
            .collect())
    }

    /// Builds the models (seeds, snapshots) downstream of the `wanted` entities (the whole
    /// project for `None`), then runs their tests: the tables are committed before any test
    /// runs, so tests never hold back freshness. A failing test marks the cycle failed (and its
    /// entities are refreshed again with the next batch) but does not keep gold from being
    /// published, as expectations decide what data gets in. Tests are left for a later batch
    /// when more files arrived meanwhile (see [`Cycle::tests_deferred`]); deferred ones run
    /// with the next tests.
    async fn refresh(&mut self, wanted: Option<BTreeSet<String>>) -> Result<Refreshed> {
        let downstream = |entities: &BTreeSet<String>| {
            downstream_of(&self.project, &self.options.bronze_schema, entities)
        };
        let selectors = wanted.as_ref().map(downstream);
        let mut refreshed = Refreshed::default();
        if selectors.as_ref().is_none_or(|s| !s.is_empty()) {
            let clock = Arc::new(CommitClock::default());
            refreshed.outcome = Some(
                self.execute(
                    Command::Build,
                    selectors.as_deref().unwrap_or_default(),
                    &["resource_type:test"],
                    clock.clone(),
                )
                .await?,
            );
            refreshed.committed = *clock.last.lock().unwrap_or_else(|p| p.into_inner());
        }
        let test_selectors = match wanted {
            None => Vec::new(),
            Some(wanted) => {
                let built = selectors.as_ref().is_some_and(|s| !s.is_empty());
                if built && self.arrivals.load(Ordering::SeqCst) {
                    self.untested.extend(wanted);
                    refreshed.tests_deferred = true;
                    return Ok(refreshed);
                }
                refreshed.tested = std::mem::take(&mut self.untested)
                    .into_iter()
                    .chain(wanted)
                    .collect();
                let test_selectors = downstream(&refreshed.tested);
                if test_selectors.is_empty() {
                    return Ok(refreshed);
                }
                test_selectors
            }
        };
        let tests = self
            .execute(
                Command::Test,
                &test_selectors,
                &[],
                Arc::new(invocation::Silent),
            )
            .await?;
        refreshed.outcome = Some(match refreshed.outcome.take() {
            Some(mut built) => {
                built.results.extend(tests.results);
                built.warnings.extend(tests.warnings);
                built.elapsed_seconds += tests.elapsed_seconds;
                built
            }
            None => tests,
        });
        Ok(refreshed)
    }

    async fn execute(
        &self,
        command: Command,
        select: &[String],
        exclude: &[&str],
        reporter: Arc<dyn orderlake_engine::Reporter>,
    ) -> Result<Outcome> {
        let request = Request {
            select: select.to_vec(),
            exclude: exclude.iter().map(|e| e.to_string()).collect(),
            ..Request::new(command)
        };
        let plan = invocation::plan(&self.project, &request)?;
        Ok(invocation::execute(
            self.project.clone(),
            self.warehouse.clone(),
            &plan,
            reporter,
        )
        .await?)
    }

    /// Compacts tables that gathered many small files and deletes files that left a table
    /// longer ago than the policy keeps them: what keeps thousands of micro-batches from
    /// slowing the tables down or filling the disk.
    pub async fn maintain(&self) -> Result<Vec<Maintained>> {
        Ok(self
            .warehouse
            .maintain_all(&self.options.maintenance)
            .await?
            .into_iter()
            .filter(Maintained::did_anything)
            .collect())
    }

    /// Watches the landing folder until `shutdown` turns true, calling `on_cycle` after every
    /// micro-batch that committed something (the catch-up at start included).
    pub async fn run(
        mut self,
        mut shutdown: tokio::sync::watch::Receiver<bool>,
        mut on_cycle: impl FnMut(&Cycle) + Send,
    ) -> Result<()> {
        let first = self.catch_up().await?;
        on_cycle(&first);
        let (tx, mut events) = mpsc::unbounded_channel::<()>();
        // Dropping the watcher stops the events; it lives as long as this loop.
        let _watcher = match (self.options.poll, self.options.landing.as_folder()) {
            (None, Some(dir)) => Some(listen(dir, tx, self.arrivals.clone())?),
            _ => None,
        };
        let rescan = match (self.options.poll, self.options.landing.as_folder()) {
            (Some(poll), _) => poll,
            (None, Some(_)) => self.options.rescan_every,
            (None, None) => OBJECT_STORE_POLL,
        };
        let mut maintained_at = Instant::now();
        loop {
            if maintained_at.elapsed() >= self.options.maintain_every {
                match self.maintain().await {
                    Ok(done) => {
                        for m in done {
                            tracing::info!(
                                "maintained {}: {} small files compacted into {}, {} old files deleted",
                                m.relation,
                                m.files_compacted,
                                m.files_written,
                                m.files_deleted
                            );
                        }
                    }
                    Err(e) => tracing::warn!("table maintenance failed: {e}"),
                }
                maintained_at = Instant::now();
            }
            let trigger = tokio::select! {
                _ = shutdown.changed() => return Ok(()),
                Some(()) = events.recv() => Trigger::FileEvent,
                _ = tokio::time::sleep(rescan) => Trigger::Rescan,
            };
            let seen_at = Utc::now();
            if trigger == Trigger::FileEvent {
                settle(&mut events, self.options.debounce, self.options.max_wait).await;
            }
            match self.cycle(trigger, seen_at).await {
                Ok(Some(cycle)) => on_cycle(&cycle),
                Ok(None) => {}
                // A file that cannot be read now (still being written, permissions) is tried
                // again on the next event or rescan; the watcher keeps going.
                Err(e) => tracing::error!("micro-batch failed: {e}"),
            }
        }
    }
}

/// What a refresh did.
#[derive(Default)]
struct Refreshed {
    /// The build and the tests run; `None` when nothing was downstream.
    outcome: Option<Outcome>,
    /// When its last table was committed.
    committed: Option<DateTime<Utc>>,
    tests_deferred: bool,
    /// The entities whose downstream tests ran (this batch's and deferred ones).
    tested: BTreeSet<String>,
}

/// Notes when the last model, seed or snapshot of a refresh finished: the moment its tables were
/// all committed.
#[derive(Default)]
struct CommitClock {
    last: std::sync::Mutex<Option<DateTime<Utc>>>,
}

impl orderlake_engine::Reporter for CommitClock {
    fn finished(
        &self,
        _: usize,
        _: usize,
        node: &orderlake_project::Node,
        _: &orderlake_engine::NodeResult,
    ) {
        if node.resource_type != orderlake_project::ResourceType::Test {
            *self.last.lock().unwrap_or_else(|p| p.into_inner()) = Some(Utc::now());
        }
    }
}

/// Waits until no event arrived for `quiet`, or `max_wait` passed.
async fn settle(events: &mut mpsc::UnboundedReceiver<()>, quiet: Duration, max_wait: Duration) {
    let deadline = tokio::time::Instant::now() + max_wait;
    loop {
        let wait = quiet.min(deadline.saturating_duration_since(tokio::time::Instant::now()));
        if wait.is_zero() {
            return;
        }
        match tokio::time::timeout(wait, events.recv()).await {
            Ok(Some(())) => continue,
            _ => return,
        }
    }
}

/// Listens for file events in `landing` (inotify on Linux), sending one unit per relevant event.
/// Also raises `arrivals`, which a batch in progress reads to know more data is waiting.
fn listen(
    landing: &Path,
    tx: mpsc::UnboundedSender<()>,
    arrivals: Arc<AtomicBool>,
) -> Result<notify::RecommendedWatcher> {
    let notify_error = |source| WatchError::Notify {
        path: landing.to_path_buf(),
        source,
    };
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if let Ok(event) = event
            && announces_data(&event)
        {
            arrivals.store(true, Ordering::SeqCst);
            let _ = tx.send(());
        }
    })
    .map_err(notify_error)?;
    watcher
        .watch(landing, notify::RecursiveMode::NonRecursive)
        .map_err(notify_error)?;
    Ok(watcher)
}

/// Whether an event may mean a landing file has new data: created, written, renamed into place.
/// Names starting with `.` or `_` are work in progress (the desk writes `.name` and renames).
fn announces_data(event: &notify::Event) -> bool {
    use notify::EventKind;
    let relevant_kind = matches!(
        event.kind,
        EventKind::Create(_)
            | EventKind::Modify(_)
            | EventKind::Access(notify::event::AccessKind::Close(
                notify::event::AccessMode::Write
            ))
    );
    relevant_kind
        && event.paths.iter().any(|p| {
            p.file_name()
                .map(|n| n.to_string_lossy())
                .is_some_and(|n| !n.starts_with('.') && !n.starts_with('_'))
        })
}

/// The selectors of everything downstream of the bronze tables of `entities`: each entity's
/// source (`source:bronze.orders+`). Entities no source declares have nothing downstream.
pub fn downstream_of(
    project: &Project,
    bronze_schema: &str,
    entities: &BTreeSet<String>,
) -> Vec<String> {
    project
        .sources
        .values()
        .filter(|s| s.relation.schema == bronze_schema && entities.contains(&s.relation.identifier))
        .map(|s| format!("source:{}.{}+", s.source_name, s.name))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use notify::event::{AccessKind, AccessMode, CreateKind, EventKind, ModifyKind, RenameMode};

    fn event(kind: EventKind, name: &str) -> notify::Event {
        notify::Event::new(kind).add_path(PathBuf::from("/landing").join(name))
    }

    #[test]
    fn data_events_are_creates_writes_and_renames_of_visible_files() {
        assert!(announces_data(&event(
            EventKind::Create(CreateKind::File),
            "orders_0001.ndjson"
        )));
        assert!(announces_data(&event(
            EventKind::Modify(ModifyKind::Name(RenameMode::To)),
            "orders_0001.ndjson"
        )));
        assert!(announces_data(&event(
            EventKind::Access(AccessKind::Close(AccessMode::Write)),
            "orders.csv"
        )));
        // The desk's file before its rename, and the ingest's own bookkeeping.
        assert!(!announces_data(&event(
            EventKind::Create(CreateKind::File),
            ".orders_0001.ndjson"
        )));
        assert!(!announces_data(&event(
            EventKind::Create(CreateKind::File),
            "_SUCCESS"
        )));
        assert!(!announces_data(&event(
            EventKind::Access(AccessKind::Open(AccessMode::Read)),
            "orders.csv"
        )));
        assert!(!announces_data(&event(
            EventKind::Remove(notify::event::RemoveKind::File),
            "orders.csv"
        )));
    }

    #[tokio::test]
    async fn settling_waits_for_quiet_but_not_forever() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        // A steady stream of events every 20 ms never goes quiet for 50 ms: max_wait ends it.
        let sender = tokio::spawn(async move {
            for _ in 0..100 {
                if tx.send(()).is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        });
        let started = Instant::now();
        settle(
            &mut rx,
            Duration::from_millis(50),
            Duration::from_millis(300),
        )
        .await;
        let waited = started.elapsed();
        sender.abort();
        assert!(waited >= Duration::from_millis(300), "{waited:?}");
        // Nothing arriving: it returns after one quiet period.
        let (_tx, mut rx) = mpsc::unbounded_channel::<()>();
        let started = Instant::now();
        settle(&mut rx, Duration::from_millis(50), Duration::from_secs(5)).await;
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
