//! Incremental models: `append`, `merge`, `delete+insert` and `microbatch`, with
//! `on_schema_change`. Each write is one Delta commit, so a crash leaves the previous version.

use std::collections::BTreeSet;

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Timelike, Utc};
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::common::ScalarValue;
use datafusion::logical_expr::{JoinType, cast, ident, lit};
use datafusion::prelude::DataFrame;
use orderlake_project::{Batch, Node, Project, Relation};

use crate::error::{EngineError, Result};
use crate::warehouse::{RelationKind, Warehouse, WriteMode};

/// What `on_schema_change` asks when the model's columns differ from the table's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnSchemaChange {
    Ignore,
    Fail,
    AppendNewColumns,
    SyncAllColumns,
}

impl OnSchemaChange {
    pub fn parse(node: &Node) -> Result<Self> {
        match node.config.str("on_schema_change").unwrap_or("ignore") {
            "ignore" => Ok(Self::Ignore),
            "fail" => Ok(Self::Fail),
            "append_new_columns" => Ok(Self::AppendNewColumns),
            "sync_all_columns" => Ok(Self::SyncAllColumns),
            other => Err(EngineError::Invalid(format!(
                "{}: on_schema_change '{other}' is not one of ignore, fail, append_new_columns, sync_all_columns",
                node.path.display()
            ))),
        }
    }
}

/// The incremental strategies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    Append,
    Merge,
    DeleteInsert,
    Microbatch,
}

impl Strategy {
    pub fn of(node: &Node) -> Result<Self> {
        let default = if unique_key(node).is_empty() {
            "append"
        } else {
            "merge"
        };
        match node.config.str("incremental_strategy").unwrap_or(default) {
            "append" => Ok(Self::Append),
            "merge" => Ok(Self::Merge),
            "delete+insert" | "delete_insert" => Ok(Self::DeleteInsert),
            "microbatch" => Ok(Self::Microbatch),
            other => Err(EngineError::Invalid(format!(
                "{}: incremental_strategy '{other}' is not one of append, merge, delete+insert, microbatch",
                node.path.display()
            ))),
        }
    }
}

/// `unique_key` as a list of columns (a string, a comma-separated string, or a list).
pub fn unique_key(node: &Node) -> Vec<String> {
    match node.config.get("unique_key") {
        Some(serde_json::Value::String(s)) => s
            .split(',')
            .map(|k| k.trim().to_string())
            .filter(|k| !k.is_empty())
            .collect(),
        Some(serde_json::Value::Array(items)) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

/// Lines up a model's output with an existing table's columns, as `on_schema_change` says.
/// Returns the DataFrame to write and whether the table must first be rewritten to its columns
/// (`sync_all_columns` when columns were removed).
pub fn align(
    df: DataFrame,
    target: &SchemaRef,
    mode: OnSchemaChange,
    node: &Node,
) -> Result<(DataFrame, bool)> {
    let source_cols: Vec<String> = df
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    let target_cols: Vec<String> = target.fields().iter().map(|f| f.name().clone()).collect();
    let new: Vec<&String> = source_cols
        .iter()
        .filter(|c| !target_cols.contains(c))
        .collect();
    let missing: Vec<&String> = target_cols
        .iter()
        .filter(|c| !source_cols.contains(c))
        .collect();
    if new.is_empty() && missing.is_empty() {
        return Ok((df, false));
    }
    let null_of = |name: &str| -> Result<datafusion::logical_expr::Expr> {
        let dt = target
            .field_with_name(name)
            .map(|f| f.data_type().clone())
            .unwrap_or(DataType::Utf8);
        let null = ScalarValue::try_from(&dt).map_err(EngineError::DataFusion)?;
        Ok(cast(lit(null), dt).alias(name))
    };
    match mode {
        OnSchemaChange::Fail => Err(EngineError::Invalid(format!(
            "{}: the model's columns changed (new: [{}], removed: [{}]) and on_schema_change is 'fail'; run with --full-refresh or change on_schema_change",
            node.path.display(),
            join(&new),
            join(&missing)
        ))),
        OnSchemaChange::Ignore => {
            let mut exprs = Vec::new();
            for c in &target_cols {
                exprs.push(if source_cols.contains(c) {
                    ident(c).alias(c)
                } else {
                    null_of(c)?
                });
            }
            Ok((df.select(exprs)?, false))
        }
        OnSchemaChange::AppendNewColumns => {
            let mut exprs = Vec::new();
            for c in &target_cols {
                exprs.push(if source_cols.contains(c) {
                    ident(c).alias(c)
                } else {
                    null_of(c)?
                });
            }
            for c in &new {
                exprs.push(ident(c.as_str()).alias(c.as_str()));
            }
            Ok((df.select(exprs)?, false))
        }
        OnSchemaChange::SyncAllColumns => Ok((df, !missing.is_empty())),
    }
}

fn join(items: &[&String]) -> String {
    items
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Rewrites the table with only `keep` columns (plus nothing new): `sync_all_columns`.
async fn sync_columns(warehouse: &Warehouse, relation: &Relation, keep: &[String]) -> Result<()> {
    let table = warehouse.sql(&format!("select * from {relation}")).await?;
    let present: BTreeSet<String> = table
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    let exprs: Vec<_> = keep
        .iter()
        .filter(|c| present.contains(*c))
        .map(|c| ident(c.as_str()).alias(c.as_str()))
        .collect();
    warehouse
        .write(relation, table.select(exprs)?, WriteMode::Replace)
        .await?;
    Ok(())
}

/// Writes an incremental run's rows to an existing table with the node's strategy.
pub async fn write_increment(
    warehouse: &Warehouse,
    node: &Node,
    relation: &Relation,
    df: DataFrame,
) -> Result<u64> {
    let strategy = Strategy::of(node)?;
    let mode = OnSchemaChange::parse(node)?;
    let target = warehouse.table_schema(relation).await?;
    let (df, sync) = align(df, &target, mode, node)?;
    if sync {
        let keep: Vec<String> = df
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        sync_columns(warehouse, relation, &keep).await?;
    }
    let keys = unique_key(node);
    match strategy {
        Strategy::Append | Strategy::Microbatch => {
            warehouse.write(relation, df, WriteMode::Append).await
        }
        Strategy::Merge => {
            if keys.is_empty() {
                return Err(EngineError::Invalid(format!(
                    "{}: incremental_strategy 'merge' needs a unique_key",
                    node.path.display()
                )));
            }
            let outcome = warehouse
                .merge(relation, df, &keys)
                .await
                .map_err(|e| duplicate_hint(e, &keys))?;
            tracing::info!(
                "merge {relation}: {} inserted, {} updated, {} files scanned, {} skipped",
                outcome.inserted,
                outcome.updated,
                outcome.files_scanned,
                outcome.files_skipped
            );
            Ok(outcome.inserted + outcome.updated)
        }
        Strategy::DeleteInsert => {
            if keys.is_empty() {
                return Err(EngineError::Invalid(format!(
                    "{}: incremental_strategy 'delete+insert' needs a unique_key",
                    node.path.display()
                )));
            }
            // Rows of the table whose key is not in the increment, then the increment: one
            // commit replaces the table, so readers never see the deletes without the inserts.
            let existing = warehouse.sql(&format!("select * from {relation}")).await?;
            let columns: Vec<String> = existing
                .schema()
                .fields()
                .iter()
                .map(|f| f.name().clone())
                .collect();
            let key_refs: Vec<&str> = keys.iter().map(String::as_str).collect();
            let increment_keys = df
                .clone()
                .select(
                    keys.iter()
                        .map(|k| ident(k.as_str()).alias(format!("__key_{k}")))
                        .collect::<Vec<_>>(),
                )?
                .distinct()?;
            let renamed: Vec<String> = keys.iter().map(|k| format!("__key_{k}")).collect();
            let renamed_refs: Vec<&str> = renamed.iter().map(String::as_str).collect();
            let kept = existing.join(
                increment_keys,
                JoinType::LeftAnti,
                &key_refs,
                &renamed_refs,
                None,
            )?;
            let increment = df.select(
                columns
                    .iter()
                    .map(|c| ident(c.as_str()).alias(c.as_str()))
                    .collect::<Vec<_>>(),
            )?;
            let rows = increment.clone().count().await? as u64;
            warehouse
                .write(relation, kept.union(increment)?, WriteMode::Replace)
                .await?;
            Ok(rows)
        }
    }
}

fn duplicate_hint(err: EngineError, keys: &[String]) -> EngineError {
    let text = err.to_string();
    if text.contains("multiple") || text.contains("duplicate") {
        EngineError::Invalid(format!(
            "{text}\n  hint: the model returns more than one row for some unique_key ({}); deduplicate it",
            keys.join(", ")
        ))
    } else {
        err
    }
}

/// The batches a microbatch run covers.
pub fn batches(start: DateTime<Utc>, end: DateTime<Utc>, size: &str) -> Result<Vec<Batch>> {
    let mut out = Vec::new();
    let mut cursor = truncate(start, size)?;
    while cursor < end {
        let next = advance(cursor, size)?;
        out.push(Batch {
            start: cursor.format("%Y-%m-%d %H:%M:%S").to_string(),
            end: next.format("%Y-%m-%d %H:%M:%S").to_string(),
        });
        cursor = next;
        if out.len() > 100_000 {
            return Err(EngineError::Invalid(
                "more than 100000 batches: narrow --event-time-start/--event-time-end".into(),
            ));
        }
    }
    Ok(out)
}

pub fn truncate(t: DateTime<Utc>, size: &str) -> Result<DateTime<Utc>> {
    let d = t.date_naive();
    let at = |date: NaiveDate, hour: u32| {
        Utc.from_utc_datetime(&date.and_hms_opt(hour, 0, 0).unwrap_or_default())
    };
    Ok(match size {
        "hour" => at(d, t.hour()),
        "day" => at(d, 0),
        "month" => at(
            NaiveDate::from_ymd_opt(d.year(), d.month(), 1).unwrap_or(d),
            0,
        ),
        "year" => at(NaiveDate::from_ymd_opt(d.year(), 1, 1).unwrap_or(d), 0),
        other => {
            return Err(EngineError::Invalid(format!(
                "batch_size '{other}' is not one of hour, day, month, year"
            )));
        }
    })
}

pub fn advance(t: DateTime<Utc>, size: &str) -> Result<DateTime<Utc>> {
    Ok(match size {
        "hour" => t + Duration::hours(1),
        "day" => t + Duration::days(1),
        "month" => t.checked_add_months(chrono::Months::new(1)).unwrap_or(t),
        "year" => t.checked_add_months(chrono::Months::new(12)).unwrap_or(t),
        other => {
            return Err(EngineError::Invalid(format!(
                "batch_size '{other}' is not one of hour, day, month, year"
            )));
        }
    })
}

fn parse_time(text: &str, what: &str) -> Result<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    for fmt in ["%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(text, fmt) {
            return Ok(Utc.from_utc_datetime(&t));
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0).unwrap_or_default()));
    }
    Err(EngineError::Invalid(format!(
        "{what}: '{text}' is not a date or timestamp"
    )))
}

/// Where a microbatch run starts and ends.
pub struct Window {
    pub start: Option<String>,
    pub end: Option<String>,
}

/// Builds a microbatch model batch by batch; each batch replaces exactly its time range.
pub async fn run_microbatch(
    project: &Project,
    warehouse: &Warehouse,
    node: &Node,
    relation: &Relation,
    full_refresh: bool,
    window: &Window,
    expectations: &crate::expectations::Checker<'_>,
) -> Result<(u64, Vec<crate::expectations::ExpectationResult>)> {
    let Some(event_time) = node.config.str("event_time") else {
        return Err(EngineError::Invalid(format!(
            "{}: microbatch needs config event_time",
            node.path.display()
        )));
    };
    let size = node.config.str("batch_size").unwrap_or("day");
    let lookback = node
        .config
        .get("lookback")
        .and_then(|v| v.as_i64())
        .unwrap_or(1)
        .max(0);
    let exists = warehouse.kind_of(relation) == Some(RelationKind::Table) && !full_refresh;
    let start = match &window.start {
        Some(s) => parse_time(s, "--event-time-start")?,
        None if exists => {
            let column = orderlake_project::jinja::quote_ident(event_time);
            let batches = warehouse
                .sql(&format!(
                    "select cast(max({column}) as varchar) as latest from {relation}"
                ))
                .await?
                .collect()
                .await?;
            let latest = crate::output::first_string(&batches);
            match latest {
                Some(t) => {
                    let mut s = truncate(parse_time(&t, "latest event time")?, size)?;
                    for _ in 0..lookback {
                        s = match size {
                            "hour" => s - Duration::hours(1),
                            "day" => s - Duration::days(1),
                            "month" => s.checked_sub_months(chrono::Months::new(1)).unwrap_or(s),
                            _ => s.checked_sub_months(chrono::Months::new(12)).unwrap_or(s),
                        };
                    }
                    s
                }
                None => begin(node)?,
            }
        }
        None => begin(node)?,
    };
    let end = match &window.end {
        Some(e) => parse_time(e, "--event-time-end")?,
        None => advance(truncate(Utc::now(), size)?, size)?,
    };
    let column = orderlake_project::jinja::quote_ident(event_time);
    let mut rows = 0;
    let mut results = Vec::new();
    let mut table_exists = exists;
    for batch in batches(start, end, size)? {
        let compiled = project.compile_batch(&node.unique_id, table_exists, &batch)?;
        let (df, stats) = expectations.apply(&compiled.sql).await?;
        crate::expectations::merge_results(&mut results, stats);
        if table_exists {
            let predicate = format!(
                "{column} >= '{}' AND {column} < '{}'",
                batch.start, batch.end
            );
            rows += warehouse.replace_where(relation, df, &predicate).await?;
        } else {
            rows += warehouse.write(relation, df, WriteMode::Replace).await?;
            table_exists = true;
        }
    }
    Ok((rows, results))
}

fn begin(node: &Node) -> Result<DateTime<Utc>> {
    match node.config.get("begin") {
        Some(serde_json::Value::String(s)) => parse_time(s, "begin"),
        _ => Err(EngineError::Invalid(format!(
            "{}: microbatch needs config begin (the first event time to build from)",
            node.path.display()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_batches_cover_the_window() {
        let start = Utc.with_ymd_and_hms(2024, 1, 30, 13, 0, 0).unwrap();
        let end = Utc.with_ymd_and_hms(2024, 2, 2, 0, 0, 0).unwrap();
        let b = batches(start, end, "day").unwrap();
        assert_eq!(b.len(), 3);
        assert_eq!(b[0].start, "2024-01-30 00:00:00");
        assert_eq!(b[2].end, "2024-02-02 00:00:00");
        assert_eq!(batches(start, end, "month").unwrap().len(), 2);
    }
}
