//! The job log: every scheduled, caught-up, manual, skipped or missed run of a `schedules.yml`
//! job is one row of the Delta table `_orderlake.job_runs`, beside the run event log, so what
//! ran unattended (and what did not) is queryable like any other table.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use datafusion::arrow::array::{
    Array, ArrayRef, Float64Array, Int32Array, StringArray, TimestampMicrosecondArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use datafusion::arrow::record_batch::RecordBatch;
use orderlake_jobs::JobRun;
use orderlake_project::Relation;

use crate::error::Result;
use crate::warehouse::{Warehouse, WriteMode};

pub const JOB_RUNS_TABLE: &str = "job_runs";

pub fn relation() -> Relation {
    Relation::new(crate::layout::SYSTEM_SCHEMA, JOB_RUNS_TABLE)
}

/// Appends runs to the job log.
pub async fn append(warehouse: &Warehouse, runs: &[JobRun]) -> Result<()> {
    if runs.is_empty() {
        return Ok(());
    }
    let utc: Arc<str> = Arc::from("UTC");
    let ts = DataType::Timestamp(TimeUnit::Microsecond, Some(utc.clone()));
    let schema = Arc::new(Schema::new(vec![
        Field::new("run_id", DataType::Utf8, false),
        Field::new("job", DataType::Utf8, false),
        Field::new("action", DataType::Utf8, false),
        Field::new("trigger", DataType::Utf8, false),
        Field::new("scheduled_for", ts.clone(), false),
        Field::new("started_at", ts.clone(), false),
        Field::new("finished_at", ts.clone(), false),
        Field::new("seconds", DataType::Float64, false),
        Field::new("outcome", DataType::Utf8, false),
        Field::new("exit_code", DataType::Int32, true),
        Field::new("detail", DataType::Utf8, false),
    ]));
    let times = |f: fn(&JobRun) -> DateTime<Utc>| -> ArrayRef {
        Arc::new(
            TimestampMicrosecondArray::from_iter_values(
                runs.iter().map(|r| f(r).timestamp_micros()),
            )
            .with_timezone(utc.clone()),
        )
    };
    let text = |f: fn(&JobRun) -> &str| -> ArrayRef {
        Arc::new(StringArray::from_iter_values(runs.iter().map(f)))
    };
    let columns: Vec<ArrayRef> = vec![
        text(|r| &r.run_id),
        text(|r| &r.job),
        text(|r| &r.action),
        text(|r| r.trigger.as_str()),
        times(|r| r.scheduled_for),
        times(|r| r.started_at),
        times(|r| r.finished_at),
        Arc::new(Float64Array::from_iter_values(
            runs.iter().map(JobRun::seconds),
        )),
        text(|r| r.outcome.as_str()),
        Arc::new(Int32Array::from(
            runs.iter().map(|r| r.exit_code).collect::<Vec<_>>(),
        )),
        text(|r| &r.detail),
    ];
    let batch = RecordBatch::try_new(schema, columns)?;
    let df = warehouse.context().read_batch(batch)?;
    warehouse.write(&relation(), df, WriteMode::Append).await?;
    Ok(())
}

/// A column as plain strings, whichever string type the scan gave (Parquet reads as views).
fn strings(column: &ArrayRef) -> Option<StringArray> {
    let cast = datafusion::arrow::compute::cast(column, &DataType::Utf8).ok()?;
    cast.as_any().downcast_ref::<StringArray>().cloned()
}

/// The latest due time each job has a run for; empty when nothing was logged yet.
pub async fn last_due(warehouse: &Warehouse) -> Result<BTreeMap<String, DateTime<Utc>>> {
    let log = relation();
    let mut last = BTreeMap::new();
    if warehouse.kind_of(&log).await?.is_none() {
        return Ok(last);
    }
    let sql =
        format!("select job, cast(max(scheduled_for) as bigint) as micros from {log} group by job");
    for batch in warehouse.sql(&sql).await?.collect().await? {
        let jobs = strings(batch.column(0));
        let micros = batch
            .column(1)
            .as_any()
            .downcast_ref::<datafusion::arrow::array::Int64Array>();
        let (Some(jobs), Some(micros)) = (jobs, micros) else {
            continue;
        };
        for i in 0..batch.num_rows() {
            if micros.is_null(i) {
                continue;
            }
            if let Some(at) = DateTime::from_timestamp_micros(micros.value(i)) {
                last.insert(jobs.value(i).to_string(), at);
            }
        }
    }
    Ok(last)
}

/// A job's latest run, as listings show it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct LastRun {
    pub job: String,
    pub outcome: String,
    pub trigger: String,
    pub scheduled_for: DateTime<Utc>,
    pub started_at: DateTime<Utc>,
    pub seconds: f64,
    pub detail: String,
}

/// Each job's latest run (by start), by job; empty when nothing was logged.
pub async fn last_runs(warehouse: &Warehouse) -> Result<BTreeMap<String, LastRun>> {
    let log = relation();
    let mut last = BTreeMap::new();
    if warehouse.kind_of(&log).await?.is_none() {
        return Ok(last);
    }
    let sql = format!(
        "select job, outcome, trigger, cast(scheduled_for as bigint), cast(started_at as bigint), \
         seconds, detail from (select *, row_number() over (partition by job \
         order by started_at desc, scheduled_for desc) as newest from {log}) where newest = 1"
    );
    for batch in warehouse.sql(&sql).await?.collect().await? {
        let text = |i: usize| strings(batch.column(i));
        let micros = |i: usize| {
            batch
                .column(i)
                .as_any()
                .downcast_ref::<datafusion::arrow::array::Int64Array>()
        };
        let seconds = batch.column(5).as_any().downcast_ref::<Float64Array>();
        let (
            Some(job),
            Some(outcome),
            Some(trigger),
            Some(due),
            Some(started),
            Some(seconds),
            Some(detail),
        ) = (
            text(0),
            text(1),
            text(2),
            micros(3),
            micros(4),
            seconds,
            text(6),
        )
        else {
            continue;
        };
        for i in 0..batch.num_rows() {
            let (Some(scheduled_for), Some(started_at)) = (
                DateTime::from_timestamp_micros(due.value(i)),
                DateTime::from_timestamp_micros(started.value(i)),
            ) else {
                continue;
            };
            last.insert(
                job.value(i).to_string(),
                LastRun {
                    job: job.value(i).to_string(),
                    outcome: outcome.value(i).to_string(),
                    trigger: trigger.value(i).to_string(),
                    scheduled_for,
                    started_at,
                    seconds: seconds.value(i),
                    detail: detail.value(i).to_string(),
                },
            );
        }
    }
    Ok(last)
}

/// The most recent runs, newest first (of one job, if given); `None` when nothing was logged.
pub async fn recent(
    warehouse: &Warehouse,
    job: Option<&str>,
    limit: usize,
) -> Result<Option<Vec<RecordBatch>>> {
    let log = relation();
    if warehouse.kind_of(&log).await?.is_none() {
        return Ok(None);
    }
    let filter = job
        .map(|j| format!("where job = {}", orderlake_project::sql_string(j)))
        .unwrap_or_default();
    let sql = format!(
        "select job, action, trigger, scheduled_for, started_at, round(seconds, 2) as seconds, \
         outcome, exit_code, detail from {log} {filter} \
         order by started_at desc, scheduled_for desc limit {limit}"
    );
    Ok(Some(warehouse.sql(&sql).await?.collect().await?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use orderlake_jobs::{Outcome, Trigger};

    fn run(job: &str, hour: u32, outcome: Outcome) -> JobRun {
        let at = Utc
            .with_ymd_and_hms(2026, 11, 30, hour, 0, 0)
            .single()
            .expect("valid");
        JobRun {
            run_id: format!("{job}-{hour}"),
            job: job.into(),
            action: "build".into(),
            trigger: Trigger::Schedule,
            scheduled_for: at,
            started_at: at,
            finished_at: at + chrono::Duration::milliseconds(2500),
            outcome,
            exit_code: Some(0),
            detail: "ok".into(),
        }
    }

    #[tokio::test]
    async fn runs_are_appended_and_each_jobs_latest_due_time_read_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let warehouse = Warehouse::open(dir.path(), "main").await.expect("open");
        assert!(last_due(&warehouse).await.expect("empty").is_empty());
        assert!(recent(&warehouse, None, 10).await.expect("empty").is_none());
        append(
            &warehouse,
            &[
                run("nightly", 2, Outcome::Success),
                run("hourly", 5, Outcome::Success),
            ],
        )
        .await
        .expect("append");
        append(&warehouse, &[run("hourly", 6, Outcome::Skipped)])
            .await
            .expect("append");
        let warehouse = Warehouse::open(dir.path(), "main").await.expect("reopen");
        let last = last_due(&warehouse).await.expect("read");
        let hours: Vec<_> = last
            .iter()
            .map(|(job, at)| (job.as_str(), at.format("%H").to_string()))
            .collect();
        assert_eq!(hours, [("hourly", "06".into()), ("nightly", "02".into())]);
        let rows = recent(&warehouse, Some("hourly"), 10)
            .await
            .expect("read")
            .expect("logged");
        let csv = crate::output::format_batches(&rows, crate::output::Format::Csv).expect("csv");
        let lines: Vec<_> = csv.lines().collect();
        assert_eq!(lines.len(), 3, "{csv}");
        assert!(lines[1].contains(",skipped,"), "{csv}");
        assert!(lines[2].contains(",2.5,success,0,ok"), "{csv}");
        let last = last_runs(&warehouse).await.expect("read");
        assert_eq!(last["hourly"].outcome, "skipped");
        assert_eq!(last["nightly"].outcome, "success");
        assert_eq!(last["nightly"].seconds, 2.5);
    }
}
