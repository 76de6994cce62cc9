//! Building one node: a model by its materialization, a seed, a snapshot, or a test.
//!
//! The node's [`Materialization`] was typed when the project loaded; this module only matches on
//! it. Every error leaves here wrapped in [`EngineError::Node`], naming the node and its compiled
//! SQL.

use std::path::{Path, PathBuf};

use datafusion::arrow::array::{Array, Int64Array};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use orderlake_project::spec::{IncrementalSpec, SeedSpec, Severity, Strategy, TestConfig};
use orderlake_project::{Materialization, Node, Project, Relation, ResourceType};

use crate::error::{EngineError, Result};
use crate::expectations::{Checker, ExpectationResult};
use crate::incremental::{self, Window};
use crate::layout::RelationKind;
use crate::run::{NodeResult, Refresh, RunOptions, Status};
use crate::tracking::{self, TableRefresh};
use crate::warehouse::{Warehouse, WriteMode};

/// Builds or tests one node and says how it went; errors become an `Error` result.
pub(crate) async fn execute_node(
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
        refresh: None,
    };
    let unreadable = node
        .depends_on
        .iter()
        .find_map(|id| warehouse.unreadable(id));
    let outcome = match unreadable {
        Some(why) => Err(at(None)(EngineError::definition(format!("needs {why}")))),
        None => build(project, warehouse, node, options).await,
    }
    .map_err(|e| EngineError::Node {
        kind: node.resource_type,
        name: node.name.clone(),
        path: node.path.clone(),
        compiled: e.compiled,
        source: Box::new(e.source),
    });
    match outcome {
        Ok(o) => {
            result.status = o.status.unwrap_or(Status::Success);
            result.rows = o.rows;
            result.failures = o.failures;
            result.message = o.message;
            result.expectations = o.expectations;
            result.refresh = o.refresh;
        }
        Err(e) => {
            result.status = Status::Error;
            result.message = Some(crate::error::report(&e));
        }
    }
    result
}

/// A node's error, with the path of its compiled SQL when it got that far.
struct NodeError {
    compiled: Option<PathBuf>,
    source: EngineError,
}

type Built = std::result::Result<Outcome, Box<NodeError>>;

/// Tags an error with where the node's compiled SQL is (`None`: it was not compiled yet).
fn at(compiled: Option<PathBuf>) -> impl FnOnce(EngineError) -> Box<NodeError> {
    move |source| Box::new(NodeError { compiled, source })
}

async fn build(
    project: &Project,
    warehouse: &Warehouse,
    node: &Node,
    options: &RunOptions,
) -> Built {
    let relation = || {
        node.relation
            .clone()
            .ok_or_else(|| at(None)(EngineError::definition("has no relation in the warehouse")))
    };
    if let Some(spec) = &node.unit {
        return run_unit_test(project, warehouse, node, spec).await;
    }
    match &node.materialization {
        Materialization::Test(config) => run_test(project, warehouse, node, config).await,
        Materialization::Seed(spec) => run_seed(project, warehouse, node, spec, &relation()?)
            .await
            .map_err(at(None)),
        Materialization::Snapshot(spec) => {
            let compiled = project.compiled_path(node);
            crate::snapshot::run(
                project,
                warehouse,
                node,
                spec,
                &relation()?,
                chrono::Utc::now(),
            )
            .await
            .map(|rows| Outcome {
                rows: Some(rows),
                refresh: Some(Refresh::incremental(
                    "snapshot: changed rows are closed and their new versions appended",
                )),
                ..Default::default()
            })
            .map_err(at(Some(compiled)))
        }
        Materialization::Ephemeral => Ok(Outcome::default()),
        Materialization::View => {
            let relation = relation()?;
            let (sql, path) = compile_to_file(project, warehouse, node, false)
                .await
                .map_err(at(None))?;
            if !node.expectations.is_empty() {
                tracing::warn!(
                    "{}: expectations apply to tables and incremental models, not views",
                    node.name
                );
            }
            warehouse
                .create_view(&relation, &sql)
                .await
                .map_err(at(Some(path)))?;
            Ok(Outcome::default())
        }
        Materialization::Table => {
            let relation = relation()?;
            let (sql, path) = compile_to_file(project, warehouse, node, false)
                .await
                .map_err(at(None))?;
            let checker = checker(warehouse, node, &relation, options);
            let written = async {
                let reads =
                    tracking::reads(warehouse, &sql, &format!("{:?}", node.expectations)).await?;
                let refresh = if options.full_refresh {
                    TableRefresh::Full {
                        reason: "--full-refresh".into(),
                    }
                } else {
                    tracking::plan(warehouse, &relation, &sql, &reads).await?
                };
                let refresh = match refresh {
                    TableRefresh::Keys { key, keys, changed } => {
                        match tracking::keyed(&sql, &key, &keys) {
                            // Replacing some rows keeps the table's schema: a column whose type
                            // changed, or that may now be null where the table says it never
                            // is, needs the whole table rewritten.
                            Some(query) => {
                                match tracking::same_columns(warehouse, &relation, &query.0).await?
                                {
                                    None => Ok((key, keys.len(), changed, query)),
                                    Some(why) => Err(why),
                                }
                            }
                            None => {
                                Err("the touched keys cannot be written as SQL literals".into())
                            }
                        }
                    }
                    TableRefresh::Unchanged { reason } => {
                        return Ok(Outcome {
                            rows: Some(0),
                            ..Default::default()
                        }
                        .refreshed(Refresh::incremental(reason)));
                    }
                    TableRefresh::Full { reason } => Err(reason),
                };
                match refresh {
                    Ok((key, touched, changed, (keyed_sql, predicate))) => {
                        let checked = checker.apply(&keyed_sql).await?;
                        let written = warehouse
                            .replace_where_recording(
                                &relation,
                                checked.df.clone(),
                                &predicate,
                                reads.marks,
                            )
                            .await;
                        let (rows, checks) = checked.finish(written).await?;
                        let how = if touched > tracking::MAX_LISTED_KEYS {
                            ", as the range between the least and the greatest"
                        } else {
                            ""
                        };
                        Ok(Outcome::written(rows, checks).refreshed(Refresh::incremental(format!(
                            "rows of {touched} touched value(s) of {key} recomputed{how} ({} changed)",
                            changed.join(", ")
                        ))))
                    }
                    Err(reason) => {
                        let checked = checker.apply(&sql).await?;
                        let written = warehouse
                            .write_recording(
                                &relation,
                                checked.df.clone(),
                                WriteMode::Replace,
                                reads.marks,
                            )
                            .await;
                        let (rows, checks) = checked.finish(written).await?;
                        Ok(
                            Outcome::written(rows, checks).refreshed(Refresh::full(format!(
                                "materialized='table', recomputed whole: {reason}"
                            ))),
                        )
                    }
                }
            };
            written.await.map_err(at(Some(path)))
        }
        Materialization::Incremental(spec) => {
            run_incremental(project, warehouse, node, spec, &relation()?, options).await
        }
        Materialization::Cdc(spec) => {
            let relation = relation()?;
            if options.full_refresh {
                let points = crate::cdc::points_relation(&relation);
                for stale in [&points, &relation] {
                    if warehouse.kind_of(stale).await.map_err(at(None))?.is_some() {
                        warehouse.drop_relation(stale).await.map_err(at(None))?;
                    }
                }
            }
            let exists =
                warehouse.kind_of(&relation).await.map_err(at(None))? == Some(RelationKind::Table);
            let (sql, path) = compile_to_file(project, warehouse, node, exists)
                .await
                .map_err(at(None))?;
            let applied = crate::cdc::apply(warehouse, spec, &relation, &sql)
                .await
                .map_err(at(Some(path)))?;
            let scd = match spec.scd_type {
                orderlake_project::spec::ScdType::One => "SCD type 1",
                orderlake_project::spec::ScdType::Two => "SCD type 2",
            };
            let refresh = match applied.touched_keys {
                Some(touched) => Refresh::incremental(format!(
                    "cdc: the {touched} key(s) the new events touch re-folded by ({}) in order of ({}); their {scd} rows re-derived",
                    spec.keys.join(", "),
                    spec.sequence_by.join(", ")
                )),
                None => Refresh::full(format!(
                    "cdc: events folded into {} change points by ({}) in order of ({}); the {scd} table is re-derived from them",
                    applied.points,
                    spec.keys.join(", "),
                    spec.sequence_by.join(", ")
                )),
            };
            Ok(Outcome::written(applied.rows, Vec::new()).refreshed(refresh))
        }
    }
}

fn checker<'a>(
    warehouse: &'a Warehouse,
    node: &'a Node,
    relation: &'a Relation,
    options: &'a RunOptions,
) -> Checker<'a> {
    Checker {
        warehouse,
        node,
        relation,
        run_id: &options.run_id,
    }
}

async fn run_incremental(
    project: &Project,
    warehouse: &Warehouse,
    node: &Node,
    spec: &IncrementalSpec,
    relation: &Relation,
    options: &RunOptions,
) -> Built {
    let checker = checker(warehouse, node, relation, options);
    let full_refresh = options.full_refresh || spec.full_refresh;
    if let Strategy::Microbatch(microbatch) = &spec.strategy {
        let window = Window {
            start: options.event_time_start.clone(),
            end: options.event_time_end.clone(),
        };
        let (rows, checks) = incremental::run_microbatch(
            project,
            warehouse,
            node,
            microbatch,
            relation,
            full_refresh,
            &window,
            &checker,
        )
        .await
        .map_err(at(Some(project.compiled_path(node))))?;
        let refresh = match full_refresh_reason(options, spec) {
            Some(reason) => Refresh::full(reason),
            None => Refresh::incremental(spec.strategy_description()),
        };
        return Ok(Outcome::written(rows, checks).refreshed(refresh));
    }
    let exists = warehouse.kind_of(relation).await.map_err(at(None))? == Some(RelationKind::Table);
    let refresh = match full_refresh_reason(options, spec) {
        Some(reason) => Refresh::full(reason),
        None if !exists => Refresh::full("first build: the table did not exist yet"),
        None => Refresh::incremental(spec.strategy_description()),
    };
    let incremental = refresh.mode == crate::run::RefreshMode::Incremental;
    let (sql, path) = compile_to_file(project, warehouse, node, incremental)
        .await
        .map_err(at(None))?;
    let written = async {
        let mut checked = checker.apply(&sql).await?;
        if incremental {
            checked = checked.read_once().await?;
        }
        let df = checked.df.clone();
        let written = if incremental {
            incremental::write_increment(warehouse, spec, relation, df).await
        } else {
            warehouse.write(relation, df, WriteMode::Replace).await
        };
        let (rows, checks) = checked.finish(written).await?;
        Ok(Outcome::written(rows, checks).refreshed(refresh))
    };
    written.await.map_err(at(Some(path)))
}

/// Why an incremental model is rebuilt whole this time, if it is.
fn full_refresh_reason(options: &RunOptions, spec: &IncrementalSpec) -> Option<&'static str> {
    if options.full_refresh {
        Some("--full-refresh was asked for")
    } else if spec.full_refresh {
        Some("the model's config says full_refresh: true")
    } else {
        None
    }
}

#[derive(Default)]
struct Outcome {
    status: Option<Status>,
    rows: Option<u64>,
    failures: Option<u64>,
    message: Option<String>,
    expectations: Vec<ExpectationResult>,
    refresh: Option<Refresh>,
}

impl Outcome {
    fn refreshed(self, refresh: Refresh) -> Self {
        Outcome {
            refresh: Some(refresh),
            ..self
        }
    }

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
async fn compile_to_file(
    project: &Project,
    warehouse: &Warehouse,
    node: &Node,
    is_incremental: bool,
) -> Result<(String, PathBuf)> {
    let compiled =
        crate::lookups::compile_node(project, warehouse, &node.unique_id, is_incremental, None)
            .await?;
    let rel_path = project.compiled_path(node);
    write_compiled(&project.root, &rel_path, &compiled.sql)?;
    Ok((compiled.sql, rel_path))
}

/// Writes compiled SQL at `rel_path` below the project root (not when the file already says
/// it: rewriting thousands of unchanged files costs more than reading them).
pub(crate) fn write_compiled(root: &Path, rel_path: &Path, sql: &str) -> Result<()> {
    let path = root.join(rel_path);
    if std::fs::read(&path).is_ok_and(|old| old == sql.as_bytes()) {
        return Ok(());
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| EngineError::io(dir, e))?;
    }
    std::fs::write(&path, sql).map_err(|e| EngineError::io(&path, e))
}

async fn run_seed(
    project: &Project,
    warehouse: &Warehouse,
    node: &Node,
    spec: &SeedSpec,
    relation: &Relation,
) -> Result<Outcome> {
    let rows = warehouse
        .load_seed(
            relation,
            &project.root.join(&node.path),
            &spec.column_types,
            spec.delimiter,
        )
        .await?;
    Ok(Outcome {
        rows: Some(rows),
        refresh: Some(Refresh::full("seed: the CSV file is reloaded whole")),
        ..Default::default()
    })
}

async fn run_test(
    project: &Project,
    warehouse: &Warehouse,
    node: &Node,
    config: &TestConfig,
) -> Built {
    let (sql, path) = compile_to_file(project, warehouse, node, false)
        .await
        .map_err(at(None))?;
    let at_sql = |e: EngineError| at(Some(path.clone()))(e);
    let body = sql.trim().trim_end_matches(';');
    let limit = config
        .limit
        .map(|n| format!("\nlimit {n}"))
        .unwrap_or_default();
    let query = format!(
        "select {} as failures from (\n{body}{limit}\n) dbt_internal_test",
        config.fail_calc
    );
    let batches = warehouse
        .sql(&query)
        .await
        .map_err(at_sql)?
        .collect()
        .await
        .map_err(|e| at_sql(e.into()))?;
    let mut failures: i64 = 0;
    for batch in &batches {
        if batch.num_rows() == 0 {
            continue;
        }
        let column = cast(batch.column(0), &DataType::Int64).map_err(|e| at_sql(e.into()))?;
        if let Some(ints) = column.as_any().downcast_ref::<Int64Array>()
            && !ints.is_null(0)
        {
            failures += ints.value(0);
        }
    }
    if config.store_failures {
        let audit = Relation::new(
            format!("{}_dbt_test__audit", project.target.schema),
            node.name.clone(),
        );
        warehouse
            .create_table_as(&audit, body)
            .await
            .map_err(at_sql)?;
    }
    let status = if config.severity == Severity::Error && config.error_if.holds(failures) {
        Status::Fail
    } else if config.warn_if.holds(failures) {
        Status::Warn
    } else {
        Status::Pass
    };
    let message = match status {
        Status::Pass => None,
        _ => Some(format!(
            "got {failures} result{}, configured to {} if {}{}",
            if failures == 1 { "" } else { "s" },
            if status == Status::Fail {
                "fail"
            } else {
                "warn"
            },
            if status == Status::Fail {
                config.error_if
            } else {
                config.warn_if
            },
            failing_rows(warehouse, body).await
        )),
    };
    Ok(Outcome {
        status: Some(status),
        failures: Some(failures.max(0) as u64),
        message,
        ..Default::default()
    })
}

/// How many of a failing test's rows its message shows.
const FAILING_ROWS_SHOWN: usize = 5;

/// The first rows a failing test returned, as a table under the message (empty when the test
/// returns no rows of its own, or they cannot be read): what to look at first.
async fn failing_rows(warehouse: &Warehouse, body: &str) -> String {
    let query = format!("select * from (\n{body}\n) dbt_internal_test limit {FAILING_ROWS_SHOWN}");
    let Ok(df) = warehouse.sql(&query).await else {
        return String::new();
    };
    match df.collect().await {
        Ok(batches) if batches.iter().any(|b| b.num_rows() > 0) => {
            match crate::output::format_batches(&batches, crate::output::Format::Table) {
                Ok(table) => format!("\nfirst {FAILING_ROWS_SHOWN} failing rows:\n{table}"),
                Err(_) => String::new(),
            }
        }
        _ => String::new(),
    }
}

async fn run_unit_test(
    project: &Project,
    warehouse: &Warehouse,
    node: &Node,
    spec: &orderlake_project::unit_tests::UnitTestSpec,
) -> Built {
    let verdict = crate::unit_test::run(project, warehouse, spec)
        .await
        .map_err(at(None))?;
    let rel_path = project.compiled_path(node);
    write_compiled(&project.root, &rel_path, &verdict.sql).map_err(at(None))?;
    let failures = verdict.failures();
    Ok(Outcome {
        status: Some(if failures == 0 {
            Status::Pass
        } else {
            Status::Fail
        }),
        failures: Some(failures),
        message: verdict.message(),
        ..Default::default()
    })
}

/// Whether a node is built by `execute_node` at all (ephemeral models are inlined instead).
pub(crate) fn is_runnable(node: &Node) -> bool {
    node.resource_type != ResourceType::Source && !node.is_ephemeral()
}
