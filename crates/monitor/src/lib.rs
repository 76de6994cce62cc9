//! Watching a lakehouse that runs unattended.
//!
//! - [`report`]: its health now — each node's last run and duration trend, tests and
//!   expectations, quarantined rows by reason, source freshness, table files, failed jobs — read
//!   from what the warehouse already records (the event log, the job log, the tables).
//! - [`anomaly`]: robust z-scores (median and MAD) of model row counts against their last full
//!   refreshes, and of daily gold metrics against the same weekday of the weeks before.
//! - [`incidents`]: the report's problems under stable keys.
//! - [`alerts`]: each incident told once when it opens and once when it clears, to a webhook
//!   (Slack-compatible JSON) or by email (SMTP), recorded in `_orderlake.alerts`.
//! - [`config`]: `health.yml`, the project's metrics, thresholds and destinations.

pub mod alerts;
pub mod anomaly;
pub mod config;
pub mod incidents;
pub mod report;

pub use alerts::{AlertError, Notified};
pub use config::{ConfigError, HealthConfig};
pub use incidents::{Incident, Severity};
pub use report::{HealthReport, ReportError};

/// The report, and with `alert` the notices sent for incidents that opened or cleared.
pub async fn check(
    warehouse: &orderlake_engine::Warehouse,
    project: &orderlake_project::Project,
    config: &HealthConfig,
    now: chrono::DateTime<chrono::Utc>,
    alert: bool,
) -> Result<(HealthReport, Option<Notified>), CheckError> {
    let report = report::collect(warehouse, project, config, now).await?;
    let notified = if alert {
        Some(alerts::notify(warehouse, config, &project.name, &report.incidents, now).await?)
    } else {
        None
    };
    Ok((report, notified))
}

#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error("health: {0}")]
    Report(#[from] ReportError),
    #[error("alerts: {0}")]
    Alerts(#[from] AlertError),
}
