//! One command's worth of work on a loaded project: what the CLI, `serve`, the watch mode and
//! tests call, so that each of them runs, records and reports a build the same way.
//!
//! ```text
//! Request ──plan──► Plan (selected nodes, run id, options) ──execute──► Outcome
//!                                                          writes target/manifest.json,
//!                                                          target/run_results.json and
//!                                                          one event per node in _orderlake.events
//! ```

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use datafusion::arrow::record_batch::RecordBatch;
use orderlake_project::{Project, ResourceType};

use crate::error::{EngineError, Result, ResultExt};
use crate::freshness::{FreshnessResult, FreshnessStatus};
use crate::run::{NodeResult, Reporter, RunOptions, Status};
use crate::warehouse::Warehouse;
use crate::{artifacts, events, freshness};

/// The commands that run nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// Seeds, models, snapshots and tests.
    Build,
    /// Models only.
    Run,
    Test,
    Seed,
    Snapshot,
}

impl Command {
    pub fn name(self) -> &'static str {
        match self {
            Command::Build => "build",
            Command::Run => "run",
            Command::Test => "test",
            Command::Seed => "seed",
            Command::Snapshot => "snapshot",
        }
    }

    /// The kinds of node the command executes.
    pub fn kinds(self) -> BTreeSet<ResourceType> {
        match self {
            Command::Build => [
                ResourceType::Seed,
                ResourceType::Model,
                ResourceType::Snapshot,
                ResourceType::Test,
            ]
            .into(),
            Command::Run => [ResourceType::Model].into(),
            Command::Test => [ResourceType::Test].into(),
            Command::Seed => [ResourceType::Seed].into(),
            Command::Snapshot => [ResourceType::Snapshot].into(),
        }
    }
}

/// What a caller asks for: a command, a selection, and its flags.
#[derive(Debug, Clone)]
pub struct Request {
    pub command: Command,
    /// Selectors (`-s`): names, globs, folders, `tag:`, graph operators. Empty: everything.
    pub select: Vec<String>,
    pub exclude: Vec<String>,
    pub full_refresh: bool,
    /// A microbatch backfill's window.
    pub event_time_start: Option<String>,
    pub event_time_end: Option<String>,
    /// `--defer`: read unselected, unbuilt parents from the `--state` run's warehouse.
    pub defer: bool,
}

impl Request {
    pub fn new(command: Command) -> Self {
        Request {
            command,
            select: Vec::new(),
            exclude: Vec::new(),
            full_refresh: false,
            event_time_start: None,
            event_time_end: None,
            defer: false,
        }
    }
}

/// A request resolved against a project: which nodes, under which run id.
#[derive(Debug, Clone)]
pub struct Plan {
    pub command: Command,
    pub selected: BTreeSet<String>,
    pub defer: bool,
    pub options: RunOptions,
}

/// What an invocation did.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub run_id: String,
    pub started_at: DateTime<Utc>,
    /// One result per executed or skipped node, in the order they finished.
    pub results: Vec<NodeResult>,
    pub elapsed_seconds: f64,
    /// What went wrong around the run without failing it (e.g. the event log could not be
    /// appended to).
    pub warnings: Vec<String>,
}

impl Outcome {
    /// Whether anything errored, failed or was skipped (the CLI exits 1).
    pub fn failed(&self) -> bool {
        self.results
            .iter()
            .any(|r| matches!(r.status, Status::Error | Status::Fail | Status::Skipped))
    }
}

/// Opens the project's warehouse with its file-backed sources registered, ready to query.
pub async fn open_warehouse(project: &Project) -> Result<Warehouse> {
    let mut warehouse = Warehouse::open_tables(
        &project.target.warehouse,
        &project.target.schema,
        &project.root,
    )
    .await
    .context(|| format!("opening the warehouse at {}", project.target.warehouse))?;
    warehouse.use_compute(&project.target.compute).await?;
    // Views over file sources are planned once the sources are there.
    register_sources(project, &warehouse).await?;
    warehouse.open_views().await?;
    Ok(warehouse)
}

/// Registers sources that point at files, so models can read them. A source whose files cannot
/// be read (missing, unreadable) does not stop the warehouse from opening: it is noted, and a
/// model that reads it fails naming the source, its path and why.
pub async fn register_sources(project: &Project, warehouse: &Warehouse) -> Result<()> {
    for source in project.sources.values() {
        let Some(external) = &source.external else {
            continue;
        };
        let location = if std::path::Path::new(&external.location).is_absolute() {
            external.location.clone()
        } else {
            project
                .root
                .join(&external.location)
                .to_string_lossy()
                .into_owned()
        };
        if let Err(e) = warehouse
            .register_files(&source.relation, &location, external.file_format.as_deref())
            .await
        {
            warehouse.note_unreadable(
                &source.unique_id,
                format!(
                    "source '{}.{}' ({}: {}) cannot be read: {}",
                    source.source_name,
                    source.name,
                    source.path.display(),
                    external.location,
                    crate::error::report(&e)
                ),
            );
        }
    }
    Ok(())
}

/// Resolves the request's selection and options against the project.
pub fn plan(project: &Project, request: &Request) -> Result<Plan> {
    let selected = project.select(&request.select, &request.exclude)?;
    if request.defer && project.state.is_none() {
        return Err(EngineError::Definition(
            "--defer reads unbuilt parents from an earlier run's warehouse: pass --state DIR too"
                .into(),
        ));
    }
    Ok(Plan {
        command: request.command,
        selected,
        defer: request.defer,
        options: RunOptions {
            threads: project.target.threads,
            full_refresh: request.full_refresh,
            kinds: request.command.kinds(),
            run_id: uuid::Uuid::new_v4().to_string(),
            event_time_start: request.event_time_start.clone(),
            event_time_end: request.event_time_end.clone(),
        },
    })
}

/// Runs a plan: writes the manifest, executes the nodes in DAG order, writes run results and
/// appends every node's outcome to the event log.
pub async fn execute(
    project: Arc<Project>,
    warehouse: Arc<Warehouse>,
    plan: &Plan,
    reporter: Arc<dyn Reporter>,
) -> Result<Outcome> {
    let started = Instant::now();
    let started_at = Utc::now();
    if plan.defer {
        defer_parents(&project, &warehouse, &plan.selected).await?;
    }
    artifacts::write_manifest(&project)?;
    let results = crate::run::run(
        project.clone(),
        warehouse.clone(),
        &plan.selected,
        &plan.options,
        reporter,
    )
    .await;
    let elapsed_seconds = started.elapsed().as_secs_f64();
    artifacts::write_run_results(&project, &results, elapsed_seconds)?;
    let mut warnings = Vec::new();
    if let Err(e) = events::append(
        &warehouse,
        &project,
        &plan.options.run_id,
        plan.command.name(),
        started_at,
        &results,
    )
    .await
    {
        warnings.push(format!(
            "could not append to the event log: {}",
            crate::error::report(&e)
        ));
    }
    Ok(Outcome {
        run_id: plan.options.run_id.clone(),
        started_at,
        results,
        elapsed_seconds,
        warnings,
    })
}

/// `--defer`: parents of the selected nodes that are neither selected nor built here are read
/// from the `--state` run's warehouse (dbt's defer). Returns the relations deferred.
pub async fn defer_parents(
    project: &Project,
    warehouse: &Warehouse,
    selected: &BTreeSet<String>,
) -> Result<Vec<String>> {
    let Some(state) = &project.state else {
        return Ok(Vec::new());
    };
    let other = state.warehouse.clone().ok_or_else(|| {
        EngineError::Definition(format!(
            "--defer: {} has no orderlake_warehouse in its manifest.json (was it written by orderlake?)",
            state.dir.display()
        ))
    })?;
    let other = crate::storage::Store::open(&other).await?;
    let mut deferred = Vec::new();
    let mut pending: Vec<String> = selected
        .iter()
        .filter_map(|id| project.nodes.get(id))
        .flat_map(|n| n.depends_on.clone())
        .collect();
    let mut seen = BTreeSet::new();
    while let Some(id) = pending.pop() {
        if selected.contains(&id) || !seen.insert(id.clone()) {
            continue;
        }
        let Some(node) = project.nodes.get(&id) else {
            continue;
        };
        let Some(relation) = node.relation.as_ref().filter(|r| !r.ephemeral) else {
            // An ephemeral parent is inlined: its own parents are what is read.
            pending.extend(node.depends_on.clone());
            continue;
        };
        if warehouse.kind_of(relation).await?.is_some() {
            continue;
        }
        if warehouse.register_deferred(relation, &other).await? {
            tracing::info!("--defer: {relation} is read from {}", other.location());
            deferred.push(relation.to_string());
        }
    }
    Ok(deferred)
}

/// Plans and executes in one call, reporting nothing: for tests, `serve` and the watch mode.
pub async fn build(project: Arc<Project>, request: &Request) -> Result<Outcome> {
    let warehouse = Arc::new(open_warehouse(&project).await?);
    let plan = plan(&project, request)?;
    execute(project, warehouse, &plan, Arc::new(Silent)).await
}

/// A reporter that reports nothing.
pub struct Silent;

impl Reporter for Silent {
    fn finished(
        &self,
        _: usize,
        _: usize,
        _: &orderlake_project::Node,
        _: &crate::run::NodeResult,
    ) {
    }
}

/// Renders the selected nodes to `target/compiled` without running them, and writes the
/// manifest. Returns how many files were written and where.
/// Nodes whose Jinja asks the warehouse for columns or query results (`dbt_utils.star`,
/// `run_query`) are answered from the warehouse, opened only for them.
pub async fn compile(
    project: &Project,
    select: &[String],
    exclude: &[String],
) -> Result<(usize, PathBuf)> {
    let ids = project.select(select, exclude)?;
    artifacts::write_manifest(project)?;
    let ids: Vec<String> = ids
        .into_iter()
        .filter(|id| {
            let node = &project.nodes[id];
            node.resource_type != ResourceType::Seed && node.unit.is_none()
        })
        .collect();
    let all = project.compile_all(&ids)?;
    let mut count = 0;
    let mut warehouse = None;
    for (id, mut compiled) in ids.iter().zip(all) {
        let node = &project.nodes[id];
        if !compiled.wanted.is_empty() {
            if warehouse.is_none() {
                warehouse = Some(open_warehouse(project).await?);
            }
            if let Some(warehouse) = &warehouse {
                compiled =
                    crate::lookups::compile_node(project, warehouse, id, false, None).await?;
            }
        }
        crate::execute::write_compiled(&project.root, &project.compiled_path(node), &compiled.sql)?;
        count += 1;
    }
    Ok((count, project.target_dir().join("compiled")))
}

/// Checks the freshness of the selected sources (all with `loaded_at_field` and `freshness`
/// when `select` is empty) and writes `target/sources.json`.
pub async fn freshness(
    project: &Project,
    warehouse: &Warehouse,
    select: &[String],
) -> Result<Vec<FreshnessResult>> {
    let wanted = orderlake_project::graph::select_sources(
        &project.nodes,
        &project.sources,
        &project.dag,
        select,
    )?;
    let now = Utc::now();
    let mut results = Vec::new();
    for source in freshness::checked_sources(project) {
        if wanted.contains(&source.unique_id) {
            results.push(freshness::check(warehouse, source, now).await);
        }
    }
    artifacts::write_sources(project, &results)?;
    Ok(results)
}

/// Whether any freshness result is an error (the CLI exits 1).
pub fn freshness_failed(results: &[FreshnessResult]) -> bool {
    results.iter().any(|r| {
        matches!(
            r.status,
            FreshnessStatus::Error | FreshnessStatus::RuntimeError
        )
    })
}

/// The most recent runs in the event log, newest first; `None` when nothing ran yet.
pub async fn recent_runs(warehouse: &Warehouse, limit: usize) -> Result<Option<Vec<RecordBatch>>> {
    events::recent_runs(warehouse, limit).await
}

/// The nodes of one run in the event log; `None` when nothing ran yet.
pub async fn run_nodes(warehouse: &Warehouse, run_id: &str) -> Result<Option<Vec<RecordBatch>>> {
    if run_id.trim().is_empty() {
        return Err(EngineError::argument("--run-id", "is empty"));
    }
    events::run_nodes(warehouse, run_id).await
}
