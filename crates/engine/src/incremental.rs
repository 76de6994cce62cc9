//! Incremental models: `append`, `merge`, `delete+insert` and `microbatch`, with
//! `on_schema_change`. Each write is one Delta commit, so a crash leaves the previous version.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::common::ScalarValue;
use datafusion::functions_aggregate::expr_fn::count;
use datafusion::logical_expr::{JoinType, cast, col, ident, lit};
use datafusion::prelude::DataFrame;
use orderlake_project::spec::{
    BatchSize, IncrementalSpec, MicrobatchSpec, OnSchemaChange, Strategy,
};
use orderlake_project::{Batch, Node, Project, Relation, quote_ident, sql_string};

use crate::error::{EngineError, Result};
use crate::layout::RelationKind;
use crate::warehouse::{Warehouse, WriteMode};

/// Lines up a model's output with an existing table's columns, as `on_schema_change` says.
/// Returns the DataFrame to write and whether the table must first be rewritten to its columns
/// (`sync_all_columns` when columns were removed).
pub fn align(df: DataFrame, target: &SchemaRef, mode: OnSchemaChange) -> Result<(DataFrame, bool)> {
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
        OnSchemaChange::Fail => Err(EngineError::SchemaChanged {
            added: new.iter().map(|c| c.to_string()).collect(),
            removed: missing.iter().map(|c| c.to_string()).collect(),
        }),
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
    spec: &IncrementalSpec,
    relation: &Relation,
    df: DataFrame,
) -> Result<u64> {
    let target = warehouse.table_schema(relation).await?;
    let (df, sync) = align(df, &target, spec.on_schema_change)?;
    if sync {
        let keep: Vec<String> = df
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        sync_columns(warehouse, relation, &keep).await?;
    }
    let keys = &spec.unique_key;
    match &spec.strategy {
        Strategy::Append | Strategy::Microbatch(_) => {
            warehouse.write(relation, df, WriteMode::Append).await
        }
        Strategy::Merge => {
            let outcome = match warehouse.merge(relation, df.clone(), keys).await {
                Ok(outcome) => outcome,
                Err(e) => return Err(explain_merge_failure(e, df, keys).await),
            };
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

/// A failed MERGE is most often a model that returns one key twice: look, and say which key.
async fn explain_merge_failure(
    err: EngineError,
    source: DataFrame,
    keys: &[String],
) -> EngineError {
    let columns: Vec<_> = keys.iter().map(|k| ident(k.as_str())).collect();
    let duplicated = source
        .aggregate(columns, vec![count(lit(1)).alias("__rows")])
        .and_then(|df| df.filter(col("__rows").gt(lit(1))))
        .and_then(|df| df.limit(0, Some(1)));
    let Ok(batches) = (match duplicated {
        Ok(df) => df.collect().await,
        Err(e) => Err(e),
    }) else {
        return err;
    };
    let Some(batch) = batches.iter().find(|b| b.num_rows() > 0) else {
        return err;
    };
    let example = keys
        .iter()
        .enumerate()
        .map(|(i, k)| {
            let value = datafusion::arrow::util::display::array_value_to_string(batch.column(i), 0)
                .unwrap_or_default();
            format!("{k} = {value}")
        })
        .collect::<Vec<_>>()
        .join(", ");
    EngineError::DuplicateKeys {
        keys: keys.to_vec(),
        example,
        source: Box::new(err),
    }
}

/// The batches a microbatch run covers.
pub fn batches(start: DateTime<Utc>, end: DateTime<Utc>, size: BatchSize) -> Result<Vec<Batch>> {
    let mut out = Vec::new();
    let mut cursor = size.truncate(start);
    while cursor < end {
        let next = size.advance(cursor);
        out.push(Batch {
            start: cursor.format("%Y-%m-%d %H:%M:%S").to_string(),
            end: next.format("%Y-%m-%d %H:%M:%S").to_string(),
        });
        cursor = next;
        if out.len() > 100_000 {
            return Err(EngineError::argument(
                "--event-time-start/--event-time-end",
                "more than 100000 batches: narrow the window",
            ));
        }
    }
    Ok(out)
}

fn parse_time(text: &str, what: &str) -> Result<DateTime<Utc>> {
    orderlake_project::spec::parse_time(text).ok_or_else(|| {
        EngineError::argument(
            what,
            format!("'{}' is not a date or timestamp", text.trim()),
        )
    })
}

/// Where a microbatch run starts and ends.
pub struct Window {
    pub start: Option<String>,
    pub end: Option<String>,
}

/// Builds a microbatch model batch by batch; each batch replaces exactly its time range.
#[allow(clippy::too_many_arguments)]
pub async fn run_microbatch(
    project: &Project,
    warehouse: &Warehouse,
    node: &Node,
    spec: &MicrobatchSpec,
    relation: &Relation,
    full_refresh: bool,
    window: &Window,
    expectations: &crate::expectations::Checker<'_>,
) -> Result<(u64, Vec<crate::expectations::ExpectationResult>)> {
    let size = spec.batch_size;
    let column = quote_ident(&spec.event_time);
    let begin = || {
        spec.begin.ok_or_else(|| {
            EngineError::definition(
                "microbatch needs config begin (the first event time to build from)",
            )
        })
    };
    let exists = warehouse.kind_of(relation).await? == Some(RelationKind::Table) && !full_refresh;
    let start = match &window.start {
        Some(s) => parse_time(s, "--event-time-start")?,
        None if exists => {
            let batches = warehouse
                .sql(&format!(
                    "select cast(max({column}) as varchar) as latest from {relation}"
                ))
                .await?
                .collect()
                .await?;
            match crate::output::first_string(&batches) {
                Some(t) => {
                    let mut s = size.truncate(parse_time(&t, "latest event time")?);
                    for _ in 0..spec.lookback {
                        s = size.retreat(s);
                    }
                    s
                }
                None => begin()?,
            }
        }
        None => begin()?,
    };
    let end = match &window.end {
        Some(e) => parse_time(e, "--event-time-end")?,
        None => size.advance(size.truncate(Utc::now())),
    };
    let mut rows = 0;
    let mut results = Vec::new();
    let mut table_exists = exists;
    for batch in batches(start, end, size)? {
        let compiled = crate::lookups::compile_node(
            project,
            warehouse,
            &node.unique_id,
            table_exists,
            Some(&batch),
        )
        .await?;
        // The last batch's SQL stays under target/compiled, as a model's SQL does.
        crate::execute::write_compiled(&project.root, &project.compiled_path(node), &compiled.sql)?;
        let checked = expectations.apply(&compiled.sql).await?;
        let df = checked.df.clone();
        let written = if table_exists {
            let predicate = format!(
                "{column} >= {} AND {column} < {}",
                sql_string(&batch.start),
                sql_string(&batch.end)
            );
            warehouse.replace_where(relation, df, &predicate).await
        } else {
            warehouse.write(relation, df, WriteMode::Replace).await
        };
        let (written_rows, stats) = checked.finish(written).await?;
        crate::expectations::merge_results(&mut results, stats);
        rows += written_rows;
        table_exists = true;
    }
    Ok((rows, results))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn day_batches_cover_the_window() {
        let start = Utc.with_ymd_and_hms(2024, 1, 30, 13, 0, 0).unwrap();
        let end = Utc.with_ymd_and_hms(2024, 2, 2, 0, 0, 0).unwrap();
        let b = batches(start, end, BatchSize::Day).unwrap();
        assert_eq!(b.len(), 3);
        assert_eq!(b[0].start, "2024-01-30 00:00:00");
        assert_eq!(b[2].end, "2024-02-02 00:00:00");
        assert_eq!(batches(start, end, BatchSize::Month).unwrap().len(), 2);
    }
}
