//! The run event log: every run appends one row per node to the Delta table
//! `_orderlake.events` in the warehouse, so history is queryable like any other table.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use datafusion::arrow::array::{
    ArrayRef, Float64Array, Int64Array, StringArray, TimestampMicrosecondArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use datafusion::arrow::record_batch::RecordBatch;
use orderlake_project::{Project, Relation, sql_string};

use crate::error::Result;
use crate::run::NodeResult;
use crate::warehouse::{Warehouse, WriteMode};

pub const EVENTS_TABLE: &str = "events";

pub fn relation() -> Relation {
    Relation::new(crate::layout::SYSTEM_SCHEMA, EVENTS_TABLE)
}

/// One row per run: counts by status, rows written, node seconds; newest first.
pub async fn recent_runs(warehouse: &Warehouse, limit: usize) -> Result<Option<Vec<RecordBatch>>> {
    let events = relation();
    if warehouse.kind_of(&events).await?.is_none() {
        return Ok(None);
    }
    let sql = format!(
        "select run_id, command, min(run_started_at) as started_at, count(*) as nodes, \
         sum(case when status in ('success', 'pass') then 1 else 0 end) as ok, \
         sum(case when status = 'warn' then 1 else 0 end) as warn, \
         sum(case when status in ('error', 'fail') then 1 else 0 end) as failed, \
         sum(case when status = 'skipped' then 1 else 0 end) as skipped, \
         sum(rows_written) as rows_written, round(sum(seconds), 2) as node_seconds \
         from {events} group by run_id, command order by started_at desc limit {limit}"
    );
    Ok(Some(warehouse.sql(&sql).await?.collect().await?))
}

/// The nodes of one run, by name.
pub async fn run_nodes(warehouse: &Warehouse, run_id: &str) -> Result<Option<Vec<RecordBatch>>> {
    let events = relation();
    if warehouse.kind_of(&events).await?.is_none() {
        return Ok(None);
    }
    let sql = format!(
        "select node, resource_type, status, rows_written, test_failures, rows_dropped, rows_warned, round(seconds, 2) as seconds, refresh, message \
         from {events} where run_id = {} order by node",
        sql_string(run_id)
    );
    Ok(Some(warehouse.sql(&sql).await?.collect().await?))
}

/// Appends one event per node result of run `run_id`.
pub async fn append(
    warehouse: &Warehouse,
    project: &Project,
    run_id: &str,
    command: &str,
    started_at: DateTime<Utc>,
    results: &[NodeResult],
) -> Result<()> {
    if results.is_empty() {
        return Ok(());
    }
    let utc: Arc<str> = Arc::from("UTC");
    let ts = DataType::Timestamp(TimeUnit::Microsecond, Some(utc.clone()));
    let schema = Arc::new(Schema::new(vec![
        Field::new("run_id", DataType::Utf8, false),
        Field::new("command", DataType::Utf8, false),
        Field::new("run_started_at", ts.clone(), false),
        Field::new("unique_id", DataType::Utf8, false),
        Field::new("node", DataType::Utf8, false),
        Field::new("resource_type", DataType::Utf8, false),
        Field::new("status", DataType::Utf8, false),
        Field::new("rows_written", DataType::Int64, true),
        Field::new("test_failures", DataType::Int64, true),
        Field::new("seconds", DataType::Float64, false),
        Field::new("expectations_passed", DataType::Int64, true),
        Field::new("expectations_failed", DataType::Int64, true),
        Field::new("rows_dropped", DataType::Int64, true),
        Field::new("rows_warned", DataType::Int64, true),
        Field::new("expectations", DataType::Utf8, true),
        Field::new("message", DataType::Utf8, true),
        Field::new("refresh", DataType::Utf8, true),
        Field::new("refresh_reason", DataType::Utf8, true),
    ]));
    let n = results.len();
    let node = |r: &NodeResult| project.nodes.get(&r.unique_id);
    let sum_by = |r: &NodeResult, v: orderlake_project::OnViolation| -> Option<i64> {
        (!r.expectations.is_empty()).then(|| {
            r.expectations
                .iter()
                .filter(|e| e.on_violation == v)
                .map(|e| e.violations as i64)
                .sum()
        })
    };
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(vec![run_id; n])),
        Arc::new(StringArray::from(vec![command; n])),
        Arc::new(
            TimestampMicrosecondArray::from(vec![started_at.timestamp_micros(); n])
                .with_timezone(utc),
        ),
        Arc::new(StringArray::from_iter_values(
            results.iter().map(|r| r.unique_id.as_str()),
        )),
        Arc::new(StringArray::from_iter_values(
            results
                .iter()
                .map(|r| node(r).map(|n| n.name.clone()).unwrap_or_default()),
        )),
        Arc::new(StringArray::from_iter_values(results.iter().map(|r| {
            node(r).map(|n| n.resource_type.as_str()).unwrap_or("")
        }))),
        Arc::new(StringArray::from_iter_values(results.iter().map(|r| {
            serde_json::to_value(r.status)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default()
        }))),
        Arc::new(Int64Array::from(
            results
                .iter()
                .map(|r| r.rows.map(|v| v as i64))
                .collect::<Vec<_>>(),
        )),
        Arc::new(Int64Array::from(
            results
                .iter()
                .map(|r| r.failures.map(|v| v as i64))
                .collect::<Vec<_>>(),
        )),
        Arc::new(Float64Array::from(
            results.iter().map(|r| r.execution_time).collect::<Vec<_>>(),
        )),
        Arc::new(Int64Array::from(
            results
                .iter()
                .map(|r| {
                    (!r.expectations.is_empty())
                        .then(|| r.expectations.iter().filter(|e| e.violations == 0).count() as i64)
                })
                .collect::<Vec<_>>(),
        )),
        Arc::new(Int64Array::from(
            results
                .iter()
                .map(|r| {
                    (!r.expectations.is_empty())
                        .then(|| r.expectations.iter().filter(|e| e.violations > 0).count() as i64)
                })
                .collect::<Vec<_>>(),
        )),
        Arc::new(Int64Array::from(
            results
                .iter()
                .map(|r| sum_by(r, orderlake_project::OnViolation::Drop))
                .collect::<Vec<_>>(),
        )),
        Arc::new(Int64Array::from(
            results
                .iter()
                .map(|r| sum_by(r, orderlake_project::OnViolation::Warn))
                .collect::<Vec<_>>(),
        )),
        Arc::new(StringArray::from(
            results
                .iter()
                .map(|r| {
                    (!r.expectations.is_empty())
                        .then(|| serde_json::to_string(&r.expectations).unwrap_or_default())
                })
                .collect::<Vec<_>>(),
        )),
        Arc::new(StringArray::from(
            results
                .iter()
                .map(|r| r.message.clone())
                .collect::<Vec<_>>(),
        )),
        Arc::new(StringArray::from(
            results
                .iter()
                .map(|r| r.refresh.as_ref().map(|f| f.mode.as_str()))
                .collect::<Vec<_>>(),
        )),
        Arc::new(StringArray::from(
            results
                .iter()
                .map(|r| r.refresh.as_ref().map(|f| f.reason.as_str()))
                .collect::<Vec<_>>(),
        )),
    ];
    let batch = RecordBatch::try_new(schema, columns)?;
    let df = warehouse.context().read_batch(batch)?;
    warehouse.write(&relation(), df, WriteMode::Append).await?;
    Ok(())
}
