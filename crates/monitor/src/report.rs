//! The health of a warehouse at one moment, collected from what it already records: the run
//! event log (`_orderlake.events`), the job log, the quarantine tables, each source's newest
//! row and each Delta table's files. The Health page, `/api/health` and `orderlake health` show
//! it; [`crate::incidents`] turns its problems into alerts.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use orderlake_engine::freshness::{self, FreshnessResult, FreshnessStatus};
use orderlake_engine::{RelationKind, Warehouse};
use orderlake_project::{Materialization, Project};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::anomaly::{self, Score};
use crate::config::{Direction, HealthConfig, Scale};
use crate::incidents::{Incident, Severity};

/// Files under this size count as small (compaction aims at 128 MiB).
pub const SMALL_FILE_BYTES: u64 = 32 * 1024 * 1024;
/// Runs shown in a node's duration trend.
const TREND_RUNS: usize = 10;

/// A query the health report needs failed.
#[derive(Debug, thiserror::Error)]
#[error("{what}: {source}")]
pub struct ReportError {
    what: String,
    #[source]
    source: Box<dyn std::error::Error + Send + Sync>,
}

impl ReportError {
    fn new(what: &str, source: impl std::error::Error + Send + Sync + 'static) -> ReportError {
        ReportError {
            what: what.to_string(),
            source: Box::new(source),
        }
    }
}

/// The result of `sql` as rows of `T`, through Arrow's JSON writer (column names are fields);
/// `what` names the query in errors.
pub(crate) async fn rows<T: DeserializeOwned>(
    warehouse: &Warehouse,
    sql: &str,
    what: &str,
) -> Result<Vec<T>, ReportError> {
    let batches = warehouse
        .sql(sql)
        .await
        .map_err(|e| ReportError::new(what, e))?
        .collect()
        .await
        .map_err(|e| ReportError::new(what, e))?;
    let mut writer = datafusion::arrow::json::ArrayWriter::new(Vec::new());
    for batch in &batches {
        writer.write(batch).map_err(|e| ReportError::new(what, e))?;
    }
    writer.finish().map_err(|e| ReportError::new(what, e))?;
    let bytes = writer.into_inner();
    if bytes.is_empty() {
        return Ok(Vec::new());
    }
    serde_json::from_slice(&bytes).map_err(|e| ReportError::new(what, e))
}

/// One node's latest run and how long its recent runs took.
#[derive(Debug, Clone, Serialize)]
pub struct NodeHealth {
    pub unique_id: String,
    pub node: String,
    pub resource_type: String,
    pub status: String,
    pub last_run_at: String,
    pub seconds: f64,
    pub rows: Option<i64>,
    pub failures: Option<i64>,
    pub message: Option<String>,
    /// Seconds of its last runs, oldest first.
    pub trend: Vec<f64>,
    /// The median of those.
    pub median_seconds: f64,
}

/// An expectation that refused or flagged rows in a model's latest run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExpectationHealth {
    pub node: String,
    pub name: String,
    pub on_violation: String,
    pub violations: u64,
}

/// Rows kept aside: landing rows that could not be read or cast, model rows an expectation dropped.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct QuarantineHealth {
    pub table: String,
    pub entity: String,
    pub reason: String,
    pub rows: i64,
}

/// How a value compared with its history.
#[derive(Debug, Clone, Serialize)]
pub struct AnomalyCheck {
    /// `metric` (a daily gold metric of health.yml) or `rows` (a model's row count).
    pub kind: &'static str,
    pub subject: String,
    /// The day judged (metrics) or the run's time (row counts).
    pub at: String,
    pub scale: Scale,
    pub direction: Direction,
    #[serde(flatten)]
    pub score: Score,
    pub is_anomaly: bool,
}

/// A metric that could not be judged, and why.
#[derive(Debug, Clone, Serialize)]
pub struct Unjudged {
    pub subject: String,
    pub reason: String,
}

/// A job whose last run did not succeed.
#[derive(Debug, Clone, Serialize)]
pub struct JobHealth {
    pub job: String,
    pub outcome: String,
    pub started_at: String,
    pub detail: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct TestCounts {
    pub pass: usize,
    pub warn: usize,
    pub fail: usize,
    pub error: usize,
    pub skipped: usize,
}

/// Everything the Health page shows.
#[derive(Debug, Clone, Serialize)]
pub struct HealthReport {
    pub project: String,
    pub checked_at: DateTime<Utc>,
    /// `ok`, `warn` or `error`: the worst open problem.
    pub status: Severity,
    pub incidents: Vec<Incident>,
    pub nodes: Vec<NodeHealth>,
    pub tests: TestCounts,
    pub expectations: Vec<ExpectationHealth>,
    pub quarantine: Vec<QuarantineHealth>,
    pub freshness: Vec<FreshnessResult>,
    pub tables: Vec<orderlake_engine::maintenance::FileStats>,
    /// Tables with at least this many small files are due for compaction.
    pub compact_at_files: usize,
    pub anomalies: Vec<AnomalyCheck>,
    pub unjudged: Vec<Unjudged>,
    pub jobs: Vec<JobHealth>,
    /// Where alerts go (secrets left out).
    pub alert_destinations: Vec<String>,
}

#[derive(Deserialize)]
struct EventRow {
    unique_id: String,
    node: String,
    resource_type: String,
    status: String,
    at: String,
    seconds: f64,
    rows_written: Option<i64>,
    test_failures: Option<i64>,
    message: Option<String>,
    expectations: Option<String>,
    n: i64,
}

/// Collects the report; `now` decides freshness and which day is complete.
pub async fn collect(
    warehouse: &Warehouse,
    project: &Project,
    config: &HealthConfig,
    now: DateTime<Utc>,
) -> Result<HealthReport, ReportError> {
    let events = orderlake_engine::events::relation();
    let has_events = warehouse
        .kind_of(&events)
        .await
        .map_err(|e| ReportError::new("the event log", e))?
        .is_some();
    let mut report = HealthReport {
        project: project.name.clone(),
        checked_at: now,
        status: Severity::Ok,
        incidents: Vec::new(),
        nodes: Vec::new(),
        tests: TestCounts::default(),
        expectations: Vec::new(),
        quarantine: Vec::new(),
        freshness: Vec::new(),
        tables: Vec::new(),
        compact_at_files: orderlake_engine::maintenance::MaintenancePolicy::default()
            .compact_at_files,
        anomalies: Vec::new(),
        unjudged: Vec::new(),
        jobs: Vec::new(),
        alert_destinations: config.alerts.iter().map(|d| d.describe()).collect(),
    };
    if has_events {
        node_health(warehouse, project, &mut report).await?;
        row_count_anomalies(warehouse, project, config, &mut report).await?;
    }
    metric_anomalies(warehouse, project, config, now, &mut report).await;
    for source in freshness::checked_sources(project) {
        report
            .freshness
            .push(freshness::check(warehouse, source, now).await);
    }
    stored_tables(warehouse, &mut report).await?;
    for run in orderlake_engine::job_log::last_runs(warehouse)
        .await
        .map_err(|e| ReportError::new("the job log", e))?
        .into_values()
    {
        if matches!(run.outcome.as_str(), "failed" | "timed_out") {
            report.jobs.push(JobHealth {
                job: run.job,
                outcome: run.outcome,
                started_at: run.started_at.to_rfc3339(),
                detail: run.detail,
            });
        }
    }
    report.incidents = crate::incidents::of(&report);
    report.status = report
        .incidents
        .iter()
        .map(|i| i.severity)
        .max()
        .unwrap_or(Severity::Ok);
    Ok(report)
}

/// Each node's latest run, with the durations of its last runs; tests counted by status; the
/// expectations that flagged rows. Only nodes the project still has count.
async fn node_health(
    warehouse: &Warehouse,
    project: &Project,
    report: &mut HealthReport,
) -> Result<(), ReportError> {
    let events = orderlake_engine::events::relation();
    let sql = format!(
        "select * from (select unique_id, node, resource_type, status, \
         cast(run_started_at as varchar) as at, seconds, rows_written, test_failures, message, \
         expectations, row_number() over (partition by unique_id order by run_started_at desc) as n \
         from {events}) where n <= {TREND_RUNS} order by unique_id, n desc"
    );
    let rows: Vec<EventRow> = rows(warehouse, &sql, "reading the event log").await?;
    let mut by_node: BTreeMap<String, Vec<EventRow>> = BTreeMap::new();
    for row in rows {
        if project.nodes.contains_key(&row.unique_id) {
            by_node.entry(row.unique_id.clone()).or_default().push(row);
        }
    }
    for (_, runs) in by_node {
        let trend: Vec<f64> = runs
            .iter()
            .filter(|r| r.status != "skipped")
            .map(|r| r.seconds)
            .collect();
        let Some(latest) = runs.into_iter().find(|r| r.n == 1) else {
            continue;
        };
        if latest.resource_type == "test" {
            let counts = &mut report.tests;
            match latest.status.as_str() {
                "pass" | "success" => counts.pass += 1,
                "warn" => counts.warn += 1,
                "fail" => counts.fail += 1,
                "error" => counts.error += 1,
                _ => counts.skipped += 1,
            }
        }
        if let Some(json) = &latest.expectations {
            let results: Vec<serde_json::Value> = serde_json::from_str(json).unwrap_or_default();
            for r in results {
                let violations = r.get("violations").and_then(|v| v.as_u64()).unwrap_or(0);
                if violations > 0 {
                    report.expectations.push(ExpectationHealth {
                        node: latest.node.clone(),
                        name: r
                            .get("name")
                            .and_then(|v| v.as_str())
                            .unwrap_or("")
                            .to_string(),
                        on_violation: r
                            .get("on_violation")
                            .and_then(|v| v.as_str())
                            .unwrap_or("")
                            .to_string(),
                        violations,
                    });
                }
            }
        }
        let median_seconds = anomaly::median_of(&trend);
        report.nodes.push(NodeHealth {
            unique_id: latest.unique_id,
            node: latest.node,
            resource_type: latest.resource_type,
            status: latest.status,
            last_run_at: latest.at,
            seconds: latest.seconds,
            rows: latest.rows_written,
            failures: latest.test_failures,
            message: latest.message,
            trend,
            median_seconds,
        });
    }
    Ok(())
}

#[derive(Deserialize)]
struct RowsRow {
    unique_id: String,
    at: String,
    rows_written: i64,
    n: i64,
}

/// Each table model's row count in its latest full refresh against its earlier full refreshes.
/// Incremental models and refreshes of a few keys write part of a table, so their counts say
/// nothing about its size and are left out.
async fn row_count_anomalies(
    warehouse: &Warehouse,
    project: &Project,
    config: &HealthConfig,
    report: &mut HealthReport,
) -> Result<(), ReportError> {
    let events = orderlake_engine::events::relation();
    let settings = &config.anomalies;
    let sql = format!(
        "select * from (select unique_id, cast(run_started_at as varchar) as at, rows_written, \
         row_number() over (partition by unique_id order by run_started_at desc) as n \
         from {events} where resource_type = 'model' and status = 'success' \
         and rows_written is not null and (refresh is null or refresh = 'full')) \
         where n <= {} order by unique_id, n desc",
        settings.runs + 1
    );
    let rows: Vec<RowsRow> = rows(warehouse, &sql, "reading row counts from the event log").await?;
    let mut by_node: BTreeMap<String, Vec<RowsRow>> = BTreeMap::new();
    for row in rows {
        let is_table = project
            .nodes
            .get(&row.unique_id)
            .is_some_and(|n| n.materialization == Materialization::Table);
        if is_table {
            by_node.entry(row.unique_id.clone()).or_default().push(row);
        }
    }
    for (unique_id, runs) in by_node {
        let Some(latest) = runs.iter().find(|r| r.n == 1) else {
            continue;
        };
        let history: Vec<f64> = runs
            .iter()
            .filter(|r| r.n > 1)
            .map(|r| r.rows_written as f64)
            .collect();
        if history.len() < settings.min_history {
            continue;
        }
        let name = project
            .nodes
            .get(&unique_id)
            .map_or(unique_id.clone(), |n| n.name.clone());
        if let Some(score) = anomaly::robust_z(&history, latest.rows_written as f64, Scale::Log) {
            report.anomalies.push(AnomalyCheck {
                kind: "rows",
                subject: name,
                at: latest.at.clone(),
                scale: Scale::Log,
                direction: Direction::Both,
                is_anomaly: anomaly::is_anomaly(&score, settings.threshold, Direction::Both),
                score,
            });
        }
    }
    Ok(())
}

#[derive(Deserialize)]
struct MetricRow {
    day: Option<String>,
    value: Option<f64>,
}

/// Each daily metric's latest complete day against the same weekday of the weeks before. A
/// metric whose query fails is reported, not fatal: the rest of the report still stands.
async fn metric_anomalies(
    warehouse: &Warehouse,
    project: &Project,
    config: &HealthConfig,
    now: DateTime<Utc>,
    report: &mut HealthReport,
) {
    let settings = &config.anomalies;
    let today = now.date_naive();
    for metric in &config.metrics {
        // Jinja as in a model: `{{ ref('x') }}`, `{{ var('as_of_date') }}`, the project's macros.
        let rendered = match project.compile_inline(&metric.sql) {
            Ok(sql) => sql,
            Err(e) => {
                report.unjudged.push(Unjudged {
                    subject: metric.name.clone(),
                    reason: format!("its query does not render: {e}"),
                });
                continue;
            }
        };
        let sql = format!(
            "select cast(cast(day as date) as varchar) as day, cast(value as double) as value \
             from ({}) m",
            rendered.trim().trim_end_matches(';')
        );
        let series: Vec<(NaiveDate, f64)> =
            match rows::<MetricRow>(warehouse, &sql, &metric.name).await {
                Ok(rows) => rows
                    .into_iter()
                    .filter_map(|r| Some((r.day?.parse().ok()?, r.value?)))
                    .collect(),
                Err(e) => {
                    report.unjudged.push(Unjudged {
                        subject: metric.name.clone(),
                        reason: format!("its query failed: {e}"),
                    });
                    continue;
                }
            };
        let Some((day, value, history)) =
            anomaly::latest_day_and_its_weekdays(&series, today, settings.weeks)
        else {
            report.unjudged.push(Unjudged {
                subject: metric.name.clone(),
                reason: format!("no complete day before {today}"),
            });
            continue;
        };
        if history.len() < settings.min_history {
            report.unjudged.push(Unjudged {
                subject: metric.name.clone(),
                reason: format!(
                    "{day}: {} earlier {} in the {} weeks before, {} needed",
                    history.len(),
                    day.format("%As"),
                    settings.weeks,
                    settings.min_history
                ),
            });
            continue;
        }
        if let Some(score) = anomaly::robust_z(&history, value, metric.scale) {
            report.anomalies.push(AnomalyCheck {
                kind: "metric",
                subject: metric.name.clone(),
                at: day.to_string(),
                scale: metric.scale,
                direction: metric.direction,
                is_anomaly: anomaly::is_anomaly(&score, settings.threshold, metric.direction),
                score,
            });
        }
    }
}

#[derive(Deserialize)]
struct CountRow {
    entity: Option<String>,
    reason: Option<String>,
    rows: i64,
}

/// Files per Delta table, and the rows each quarantine holds by reason.
async fn stored_tables(
    warehouse: &Warehouse,
    report: &mut HealthReport,
) -> Result<(), ReportError> {
    let stored = warehouse
        .list()
        .await
        .map_err(|e| ReportError::new("listing tables", e))?;
    for table in stored.iter().filter(|s| s.kind == RelationKind::Table) {
        let relation = table.relation();
        match warehouse.file_stats(&relation, SMALL_FILE_BYTES).await {
            Ok(stats) => report.tables.push(stats),
            Err(e) => tracing::warn!("health: files of {relation}: {e}"),
        }
        let sql = if table.name == orderlake_ingest::QUARANTINE {
            // The same reason with other values (`'three' is not Int64`) is one reason.
            format!(
                "select entity, regexp_replace(reason, '''[^'']*''', '…', 'g') as reason, \
                 count(*) as rows from {relation} group by 1, 2 order by 3 desc"
            )
        } else if table.name.ends_with("__quarantine") {
            format!(
                "select '{}' as entity, 'refused by a drop expectation' as reason, count(*) as rows \
                 from {relation}",
                table.name.trim_end_matches("__quarantine")
            )
        } else {
            continue;
        };
        let counts: Vec<CountRow> = rows(warehouse, &sql, &format!("counting {relation}")).await?;
        for c in counts.into_iter().filter(|c| c.rows > 0) {
            report.quarantine.push(QuarantineHealth {
                table: format!("{}.{}", table.schema, table.name),
                entity: c.entity.unwrap_or_default(),
                reason: c.reason.unwrap_or_default(),
                rows: c.rows,
            });
        }
    }
    report.tables.sort_by(|a, b| {
        b.small_files
            .cmp(&a.small_files)
            .then(a.relation.cmp(&b.relation))
    });
    Ok(())
}

impl HealthReport {
    /// Freshness results that are not a pass.
    pub fn stale(&self) -> impl Iterator<Item = &FreshnessResult> {
        self.freshness
            .iter()
            .filter(|f| f.status != FreshnessStatus::Pass)
    }
}
