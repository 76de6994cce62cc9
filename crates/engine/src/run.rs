//! Running a selection of nodes in DAG order, concurrently, with dbt's semantics: a failure
//! skips everything downstream; tests report pass, warn, fail or error.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;
use std::time::Instant;

use datafusion::arrow::array::{Array, Int64Array};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use orderlake_project::{Node, Project, Relation, ResourceType};
use serde::Serialize;
use tokio::task::JoinSet;

use crate::error::{EngineError, Result};
use crate::expectations::{Checker, ExpectationResult};
use crate::incremental::{self, Strategy, Window};
use crate::warehouse::{RelationKind, Warehouse, WriteMode};

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
}

/// Receives progress as nodes start and finish (the CLI prints lines and a progress bar).
pub trait Reporter: Send + Sync {
    fn started(&self, _node: &Node) {}
    fn finished(&self, index: usize, total: usize, node: &Node, result: &NodeResult);
}

/// Registers sources that point at files, so models can read them.
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
        warehouse
            .register_files(&source.relation, &location, external.file_format.as_deref())
            .await
            .map_err(|e| {
                EngineError::Invalid(format!(
                    "{}: source '{}.{}' ({}): {e}",
                    source.path.display(),
                    source.source_name,
                    source.name,
                    external.location
                ))
            })?;
    }
    Ok(())
}

/// Executes the selected nodes, at most `threads` at a time, each after its parents.
pub async fn run(
    project: Arc<Project>,
    warehouse: Arc<Warehouse>,
    selected: &BTreeSet<String>,
    options: &RunOptions,
    reporter: Arc<dyn Reporter>,
) -> Vec<NodeResult> {
    let runnable: BTreeSet<String> = selected
        .iter()
        .filter(|id| {
            project
                .nodes
                .get(*id)
                .is_some_and(|n| options.kinds.contains(&n.resource_type) && !n.is_ephemeral())
        })
        .cloned()
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

async fn execute_node(
    project: &Project,
    warehouse: &Warehouse,
    node: &Node,
    options: &RunOptions,
) -> NodeResult {
    let mut result = NodeResult {
        unique_id: node.unique_id.clone(),
        status: Status::Success,
        rows: None,
        failures: None,
        execution_time: 0.0,
        message: None,
        relation: node.relation.as_ref().map(Relation::to_string),
        expectations: Vec::new(),
    };
    let outcome = match node.resource_type {
        ResourceType::Model => run_model(project, warehouse, node, options).await,
        ResourceType::Seed => run_seed(project, warehouse, node).await,
        ResourceType::Test => run_test(project, warehouse, node).await,
        ResourceType::Snapshot => {
            crate::snapshot::run(project, warehouse, node, chrono::Utc::now())
                .await
                .map(|rows| Outcome {
                    rows: Some(rows),
                    ..Default::default()
                })
        }
        ResourceType::Source => Ok(Outcome::default()),
    };
    match outcome {
        Ok(o) => {
            result.status = o.status.unwrap_or(Status::Success);
            result.rows = o.rows;
            result.failures = o.failures;
            result.message = o.message;
            result.expectations = o.expectations;
        }
        Err(e) => {
            result.status = Status::Error;
            result.message = Some(e.to_string());
        }
    }
    result
}

#[derive(Default)]
struct Outcome {
    status: Option<Status>,
    rows: Option<u64>,
    failures: Option<u64>,
    message: Option<String>,
    expectations: Vec<ExpectationResult>,
}

impl Outcome {
    fn written(rows: u64, expectations: Vec<ExpectationResult>) -> Self {
        let warned: Vec<String> = expectations
            .iter()
            .filter(|e| e.violations > 0)
            .map(|e| {
                format!(
                    "{} rows broke '{}' ({:?})",
                    e.violations, e.name, e.on_violation
                )
                .to_lowercase()
            })
            .collect();
        Outcome {
            status: Some(if warned.is_empty() {
                Status::Success
            } else {
                Status::Warn
            }),
            rows: Some(rows),
            message: (!warned.is_empty()).then(|| format!("expectations: {}", warned.join("; "))),
            expectations,
            ..Default::default()
        }
    }
}

/// Compiles a node and writes its SQL under `target/compiled`, returning (sql, path).
fn compile_to_file(
    project: &Project,
    node: &Node,
    is_incremental: bool,
) -> Result<(String, std::path::PathBuf)> {
    let compiled = project.compile(&node.unique_id, is_incremental)?;
    let rel_path = project.compiled_path(node);
    let path = project.root.join(&rel_path);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| EngineError::io(dir, e))?;
    }
    std::fs::write(&path, &compiled.sql).map_err(|e| EngineError::io(&path, e))?;
    Ok((compiled.sql, rel_path))
}

fn sql_error(node: &Node, path: &std::path::Path, err: EngineError) -> EngineError {
    EngineError::Invalid(format!(
        "{} '{}' ({}): {err}\n  compiled SQL: {}",
        node.resource_type.as_str(),
        node.name,
        node.path.display(),
        path.display()
    ))
}

async fn run_model(
    project: &Project,
    warehouse: &Warehouse,
    node: &Node,
    options: &RunOptions,
) -> Result<Outcome> {
    let relation = node
        .relation
        .clone()
        .ok_or_else(|| EngineError::Invalid(format!("{} has no relation", node.name)))?;
    let checker = Checker {
        warehouse,
        node,
        relation: &relation,
        run_id: &options.run_id,
    };
    let materialized = node.materialized().to_string();
    match materialized.as_str() {
        "view" => {
            let (sql, path) = compile_to_file(project, node, false)?;
            if !node.expectations.is_empty() {
                tracing::warn!(
                    "{}: expectations apply to tables and incremental models, not views",
                    node.name
                );
            }
            warehouse
                .create_view(&relation, &sql)
                .await
                .map_err(|e| sql_error(node, &path, e))?;
            Ok(Outcome::default())
        }
        "table" => {
            let (sql, path) = compile_to_file(project, node, false)?;
            let (df, checks) = checker
                .apply(&sql)
                .await
                .map_err(|e| sql_error(node, &path, e))?;
            let rows = warehouse
                .write(&relation, df, WriteMode::Replace)
                .await
                .map_err(|e| sql_error(node, &path, e))?;
            Ok(Outcome::written(rows, checks))
        }
        "incremental" => {
            let full_refresh =
                options.full_refresh || node.config.bool("full_refresh").unwrap_or(false);
            let exists = warehouse.kind_of(&relation) == Some(RelationKind::Table);
            if Strategy::of(node)? == Strategy::Microbatch {
                let window = Window {
                    start: options.event_time_start.clone(),
                    end: options.event_time_end.clone(),
                };
                let path = project.compiled_path(node);
                let (rows, checks) = incremental::run_microbatch(
                    project,
                    warehouse,
                    node,
                    &relation,
                    full_refresh,
                    &window,
                    &checker,
                )
                .await
                .map_err(|e| sql_error(node, &path, e))?;
                return Ok(Outcome::written(rows, checks));
            }
            let incremental = exists && !full_refresh;
            let (sql, path) = compile_to_file(project, node, incremental)?;
            let (df, checks) = checker
                .apply(&sql)
                .await
                .map_err(|e| sql_error(node, &path, e))?;
            let rows = if incremental {
                incremental::write_increment(warehouse, node, &relation, df).await
            } else {
                warehouse.write(&relation, df, WriteMode::Replace).await
            }
            .map_err(|e| sql_error(node, &path, e))?;
            Ok(Outcome::written(rows, checks))
        }
        other => Err(EngineError::Invalid(format!(
            "{}: unknown materialization '{other}' (use view, table, incremental or ephemeral)",
            node.path.display()
        ))),
    }
}

async fn run_seed(project: &Project, warehouse: &Warehouse, node: &Node) -> Result<Outcome> {
    let relation = node
        .relation
        .clone()
        .ok_or_else(|| EngineError::Invalid(format!("{} has no relation", node.name)))?;
    let mut column_types = BTreeMap::new();
    if let Some(serde_json::Value::Object(map)) = node.config.get("column_types") {
        for (k, v) in map {
            if let Some(t) = v.as_str() {
                column_types.insert(k.clone(), t.to_string());
            }
        }
    }
    let delimiter = node
        .config
        .str("delimiter")
        .and_then(|d| d.as_bytes().first().copied())
        .unwrap_or(b',');
    let rows = warehouse
        .load_seed(
            &relation,
            &project.root.join(&node.path),
            &column_types,
            delimiter,
        )
        .await
        .map_err(|e| {
            EngineError::Invalid(format!(
                "seed '{}' ({}): {e}",
                node.name,
                node.path.display()
            ))
        })?;
    Ok(Outcome {
        rows: Some(rows),
        ..Default::default()
    })
}

async fn run_test(project: &Project, warehouse: &Warehouse, node: &Node) -> Result<Outcome> {
    let (sql, path) = compile_to_file(project, node, false)?;
    let body = sql.trim().trim_end_matches(';');
    let fail_calc = node.config.str("fail_calc").unwrap_or("count(*)");
    let limit = node
        .config
        .get("limit")
        .and_then(|v| v.as_u64())
        .map(|n| format!("\nlimit {n}"))
        .unwrap_or_default();
    let query =
        format!("select {fail_calc} as failures from (\n{body}{limit}\n) dbt_internal_test");
    let batches = warehouse
        .sql(&query)
        .await
        .map_err(|e| sql_error(node, &path, e))?
        .collect()
        .await
        .map_err(|e| sql_error(node, &path, e.into()))?;
    let mut failures: i64 = 0;
    for batch in &batches {
        if batch.num_rows() == 0 {
            continue;
        }
        let column = cast(batch.column(0), &DataType::Int64)
            .map_err(|e| EngineError::DataFusion(e.into()))?;
        if let Some(ints) = column.as_any().downcast_ref::<Int64Array>()
            && !ints.is_null(0)
        {
            failures += ints.value(0);
        }
    }
    if node.config.bool("store_failures").unwrap_or(false)
        || node.config.str("store_failures_as") == Some("table")
    {
        let audit = Relation::new(
            format!("{}_dbt_test__audit", project.target.schema),
            node.name.clone(),
        );
        warehouse
            .create_table_as(&audit, body)
            .await
            .map_err(|e| sql_error(node, &path, e))?;
    }
    let severity = node
        .config
        .str("severity")
        .unwrap_or("error")
        .to_ascii_lowercase();
    let error_if = node.config.str("error_if").unwrap_or("!=0");
    let warn_if = node.config.str("warn_if").unwrap_or("!=0");
    let status = if severity == "error" && condition_holds(error_if, failures)? {
        Status::Fail
    } else if condition_holds(warn_if, failures)? {
        Status::Warn
    } else {
        Status::Pass
    };
    let message = match status {
        Status::Pass => None,
        _ => Some(format!(
            "got {failures} result{}, configured to {} if {}",
            if failures == 1 { "" } else { "s" },
            if status == Status::Fail {
                "fail"
            } else {
                "warn"
            },
            if status == Status::Fail {
                error_if
            } else {
                warn_if
            }
        )),
    };
    Ok(Outcome {
        status: Some(status),
        failures: Some(failures.max(0) as u64),
        message,
        ..Default::default()
    })
}

/// Evaluates dbt's `warn_if` / `error_if` conditions such as `">10"`, `"!=0"`, `">= 5"`.
pub fn condition_holds(condition: &str, failures: i64) -> Result<bool> {
    let c = condition.trim();
    let (op, rest) = ["!=", "<>", ">=", "<=", "==", "=", ">", "<"]
        .iter()
        .find_map(|op| c.strip_prefix(op).map(|r| (*op, r)))
        .ok_or_else(|| {
            EngineError::Invalid(format!(
                "invalid test condition '{condition}': expected e.g. '>10' or '!=0'"
            ))
        })?;
    let n: i64 = rest.trim().parse().map_err(|_| {
        EngineError::Invalid(format!(
            "invalid test condition '{condition}': '{}' is not a number",
            rest.trim()
        ))
    })?;
    Ok(match op {
        "!=" | "<>" => failures != n,
        ">=" => failures >= n,
        "<=" => failures <= n,
        "==" | "=" => failures == n,
        ">" => failures > n,
        _ => failures < n,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions() {
        assert!(condition_holds("!=0", 3).unwrap());
        assert!(!condition_holds("!=0", 0).unwrap());
        assert!(condition_holds(">= 10", 10).unwrap());
        assert!(!condition_holds(">10", 10).unwrap());
        assert!(condition_holds("<5", 4).unwrap());
        assert!(condition_holds("abc", 1).is_err());
    }
}
