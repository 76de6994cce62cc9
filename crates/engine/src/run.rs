//! Running a selection of nodes in DAG order, concurrently, with dbt's semantics: a failure
//! skips everything downstream; tests report pass, warn, fail or error.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;
use std::time::Instant;

use orderlake_project::{Node, Project, Relation, ResourceType};
use serde::Serialize;
use tokio::task::JoinSet;

use crate::execute::{execute_node, is_runnable};
use crate::expectations::ExpectationResult;
use crate::warehouse::Warehouse;

/// What a command asks of the runner.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub threads: usize,
    pub full_refresh: bool,
    /// Which kinds of node to execute (`build`: all; `run`: models; `seed`; `test`).
    pub kinds: BTreeSet<ResourceType>,
    /// Identifies this run in the event log and in quarantine tables.
    pub run_id: String,
    /// `--event-time-start` / `--event-time-end`: the window of a microbatch backfill.
    pub event_time_start: Option<String>,
    pub event_time_end: Option<String>,
}

/// The outcome of one node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Success,
    Pass,
    Warn,
    Fail,
    Error,
    Skipped,
}

impl Status {
    /// Whether nodes downstream of this one must be skipped.
    pub fn blocks_children(&self) -> bool {
        matches!(self, Status::Fail | Status::Error | Status::Skipped)
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            Status::Success => "OK",
            Status::Pass => "PASS",
            Status::Warn => "WARN",
            Status::Fail => "FAIL",
            Status::Error => "ERROR",
            Status::Skipped => "SKIP",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct NodeResult {
    pub unique_id: String,
    pub status: Status,
    /// Rows written (tables, seeds).
    pub rows: Option<u64>,
    /// Failing rows (tests).
    pub failures: Option<u64>,
    pub execution_time: f64,
    pub message: Option<String>,
    pub relation: Option<String>,
    /// Expectation counts (models with expectations).
    pub expectations: Vec<ExpectationResult>,
    /// How a model, seed or snapshot was refreshed, and why (`None` for tests and views).
    pub refresh: Option<Refresh>,
}

/// How a node's table was brought up to date: the event log records it for every refresh, so a
/// fallback to a full recompute is never silent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Refresh {
    pub mode: RefreshMode,
    pub reason: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RefreshMode {
    /// Only the change was processed (new rows appended or merged, touched keys replaced).
    Incremental,
    /// The whole table was recomputed.
    Full,
}

impl RefreshMode {
    pub fn as_str(self) -> &'static str {
        match self {
            RefreshMode::Incremental => "incremental",
            RefreshMode::Full => "full",
        }
    }
}

impl Refresh {
    pub fn full(reason: impl Into<String>) -> Self {
        Refresh {
            mode: RefreshMode::Full,
            reason: reason.into(),
        }
    }

    pub fn incremental(reason: impl Into<String>) -> Self {
        Refresh {
            mode: RefreshMode::Incremental,
            reason: reason.into(),
        }
    }
}

/// Receives progress as nodes start and finish (the CLI prints lines and a progress bar).
pub trait Reporter: Send + Sync {
    fn started(&self, _node: &Node) {}
    fn finished(&self, index: usize, total: usize, node: &Node, result: &NodeResult);
}

/// The selected nodes a run executes: those of the command's kinds, ephemeral models excepted
/// (they are inlined into the nodes that read them).
pub fn runnable<'p>(
    project: &'p Project,
    selected: &BTreeSet<String>,
    options: &RunOptions,
) -> Vec<&'p Node> {
    selected
        .iter()
        .filter_map(|id| project.nodes.get(id))
        .filter(|n| options.kinds.contains(&n.resource_type) && is_runnable(n))
        .collect()
}

/// Executes the selected nodes, at most `threads` at a time, each after its parents.
pub async fn run(
    project: Arc<Project>,
    warehouse: Arc<Warehouse>,
    selected: &BTreeSet<String>,
    options: &RunOptions,
    reporter: Arc<dyn Reporter>,
) -> Vec<NodeResult> {
    let runnable: BTreeSet<String> = runnable(&project, selected, options)
        .into_iter()
        .map(|n| n.unique_id.clone())
        .collect();
    let parents = execution_parents(&project, &runnable);
    let mut children: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut waiting: BTreeMap<String, usize> = BTreeMap::new();
    for (id, ps) in &parents {
        waiting.insert(id.clone(), ps.len());
        for p in ps {
            children.entry(p.clone()).or_default().push(id.clone());
        }
    }
    let total = runnable.len();
    let mut ready: VecDeque<String> = waiting
        .iter()
        .filter(|(_, n)| **n == 0)
        .map(|(id, _)| id.clone())
        .collect();
    let mut results: Vec<NodeResult> = Vec::with_capacity(total);
    let mut done = BTreeSet::new();
    let mut tasks = JoinSet::new();
    let threads = options.threads.max(1);

    while results.len() < total {
        while tasks.len() < threads {
            let Some(id) = ready.pop_front() else { break };
            let project = project.clone();
            let warehouse = warehouse.clone();
            let options = options.clone();
            let reporter = reporter.clone();
            tasks.spawn(async move {
                let node = &project.nodes[&id];
                reporter.started(node);
                let start = Instant::now();
                let mut result = execute_node(&project, &warehouse, node, &options).await;
                result.execution_time = start.elapsed().as_secs_f64();
                result
            });
        }
        let Some(joined) = tasks.join_next().await else {
            // Nothing running and nothing ready: whatever is left waits on a skipped parent.
            break;
        };
        let result = match joined {
            Ok(r) => r,
            Err(e) => NodeResult {
                unique_id: String::new(),
                status: Status::Error,
                rows: None,
                failures: None,
                execution_time: 0.0,
                message: Some(format!("internal error: {e}")),
                relation: None,
                expectations: Vec::new(),
                refresh: None,
            },
        };
        let id = result.unique_id.clone();
        done.insert(id.clone());
        let blocked = result.status.blocks_children();
        reporter.finished(results.len() + 1, total, &project.nodes[&id], &result);
        results.push(result);
        if blocked {
            // Skip every descendant, reporting each once.
            let mut stack: Vec<String> = children.get(&id).cloned().unwrap_or_default();
            while let Some(child) = stack.pop() {
                if !done.insert(child.clone()) {
                    continue;
                }
                let node = &project.nodes[&child];
                let skipped = NodeResult {
                    unique_id: child.clone(),
                    status: Status::Skipped,
                    rows: None,
                    failures: None,
                    execution_time: 0.0,
                    message: Some(format!(
                        "skipped: upstream {} did not succeed",
                        project.nodes[&id].name
                    )),
                    relation: node.relation.as_ref().map(Relation::to_string),
                    expectations: Vec::new(),
                    refresh: None,
                };
                reporter.finished(results.len() + 1, total, node, &skipped);
                results.push(skipped);
                stack.extend(children.get(&child).cloned().unwrap_or_default());
            }
        } else {
            for child in children.get(&id).cloned().unwrap_or_default() {
                if done.contains(&child) {
                    continue;
                }
                if let Some(n) = waiting.get_mut(&child) {
                    *n -= 1;
                    if *n == 0 {
                        ready.push_back(child);
                    }
                }
            }
        }
    }
    results
}

/// The parents of each runnable node among the runnable nodes, looking through ephemeral
/// models, plus dbt build's rule that a model waits for the tests of the models it reads.
fn execution_parents(
    project: &Project,
    runnable: &BTreeSet<String>,
) -> BTreeMap<String, BTreeSet<String>> {
    let mut tests_of: BTreeMap<&str, Vec<&Node>> = BTreeMap::new();
    for node in project.nodes.values() {
        if node.resource_type == ResourceType::Test && runnable.contains(&node.unique_id) {
            for dep in &node.depends_on {
                tests_of.entry(dep.as_str()).or_default().push(node);
            }
        }
    }
    let mut out = BTreeMap::new();
    for id in runnable {
        let node = &project.nodes[id];
        let mut parents = BTreeSet::new();
        let mut stack: Vec<&String> = node.depends_on.iter().collect();
        let mut seen = BTreeSet::new();
        while let Some(dep) = stack.pop() {
            if !seen.insert(dep.clone()) {
                continue;
            }
            if runnable.contains(dep) {
                parents.insert(dep.clone());
            } else if let Some(parent) = project.nodes.get(dep)
                && parent.is_ephemeral()
            {
                stack.extend(parent.depends_on.iter());
            }
        }
        if node.resource_type != ResourceType::Test {
            let direct: BTreeSet<String> = parents.clone();
            for parent in &direct {
                for test in tests_of.get(parent.as_str()).into_iter().flatten() {
                    // Only tests wholly about this node's parents, so no cycle can form.
                    if test
                        .depends_on
                        .iter()
                        .all(|d| direct.contains(d) || !runnable.contains(d))
                    {
                        parents.insert(test.unique_id.clone());
                    }
                }
            }
        }
        out.insert(id.clone(), parents);
    }
    out
}
