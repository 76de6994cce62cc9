//! The problems in a health report, each under a key that stays the same while the problem
//! lasts: a failing test is `node:<its unique id>` run after run until it passes, so it is
//! alerted once when it starts and once when it clears.

use serde::{Deserialize, Serialize};

use crate::report::HealthReport;

/// How bad: the worst open incident is the health's status.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    #[default]
    Ok,
    Warn,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Ok => "ok",
            Severity::Warn => "warn",
            Severity::Error => "error",
        }
    }
}

/// One open problem.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    /// Stable while the problem lasts: `node:…`, `freshness:…`, `anomaly:…`, `rows:…`, `job:…`.
    pub key: String,
    pub severity: Severity,
    /// One line, with the numbers.
    pub title: String,
    /// What else helps: the error message, the values compared.
    pub detail: String,
}

fn short(message: &str) -> String {
    let line = message.lines().next().unwrap_or("").trim();
    let mut out: String = line.chars().take(300).collect();
    if out.len() < line.len() {
        out.push('…');
    }
    out
}

fn number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else if v.abs() >= 100.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.4}")
    }
}

/// Every problem in `report`, in a stable order.
pub fn of(report: &HealthReport) -> Vec<Incident> {
    let mut incidents = Vec::new();
    for node in &report.nodes {
        let title = match node.status.as_str() {
            "error" => format!("{} {} errored", node.resource_type, node.node),
            "fail" => format!(
                "test {} failed: {} failing row{}",
                node.node,
                node.failures.unwrap_or(0),
                if node.failures == Some(1) { "" } else { "s" }
            ),
            _ => continue,
        };
        incidents.push(Incident {
            key: format!("node:{}", node.unique_id),
            severity: Severity::Error,
            title,
            detail: format!(
                "last run {}{}",
                node.last_run_at,
                node.message
                    .as_deref()
                    .map(|m| format!(": {}", short(m)))
                    .unwrap_or_default()
            ),
        });
    }
    // One incident per source (`bronze`), not per table: a landing feed that stops leaves all
    // its tables stale at once, and that is one thing to fix.
    let mut stale: std::collections::BTreeMap<
        &str,
        Vec<&orderlake_engine::freshness::FreshnessResult>,
    > = Default::default();
    for f in report.stale() {
        let group = f.source.split('.').next().unwrap_or(&f.source);
        stale.entry(group).or_default().push(f);
    }
    for (group, results) in stale {
        use orderlake_engine::freshness::FreshnessStatus;
        let severity = if results.iter().any(|f| f.status != FreshnessStatus::Warn) {
            Severity::Error
        } else {
            Severity::Warn
        };
        let oldest = results.iter().filter_map(|f| f.age_seconds).max();
        let names: Vec<String> = results
            .iter()
            .map(|f| {
                let age = f
                    .age_seconds
                    .map(|s| format!("{:.1} h", s as f64 / 3600.0))
                    .or_else(|| f.message.clone())
                    .unwrap_or_else(|| "no rows".into());
                format!("{} ({age})", f.source)
            })
            .collect();
        let limit = results
            .iter()
            .filter_map(|f| {
                if severity == Severity::Error {
                    f.error_after_seconds.or(f.warn_after_seconds)
                } else {
                    f.warn_after_seconds
                }
            })
            .min();
        incidents.push(Incident {
            key: format!("freshness:{group}"),
            severity,
            title: format!(
                "source {group} is stale: {} table{}{}{}",
                results.len(),
                if results.len() == 1 { "" } else { "s" },
                oldest
                    .map(|s| format!(", newest row {:.1} h old", s as f64 / 3600.0))
                    .unwrap_or_default(),
                limit
                    .map(|s| format!(" (limit {:.0} h)", s as f64 / 3600.0))
                    .unwrap_or_default(),
            ),
            detail: names.join(", "),
        });
    }
    for check in report.anomalies.iter().filter(|a| a.is_anomaly) {
        let score = &check.score;
        let change = if score.median != 0.0 {
            format!(" ({:+.0}%)", (score.value / score.median - 1.0) * 100.0)
        } else {
            String::new()
        };
        let (key, title) = match check.kind {
            "metric" => (
                format!("anomaly:{}", check.subject),
                format!(
                    "{} on {} is {}, against a median of {} for that weekday{change}",
                    check.subject,
                    check.at,
                    number(score.value),
                    number(score.median)
                ),
            ),
            _ => (
                format!("rows:{}", check.subject),
                format!(
                    "model {} wrote {} rows, against a median of {} in its last full refreshes{change}",
                    check.subject,
                    number(score.value),
                    number(score.median)
                ),
            ),
        };
        incidents.push(Incident {
            key,
            severity: Severity::Warn,
            title,
            detail: format!(
                "robust z = {:.2} over {} earlier values ({} scale)",
                score.z,
                score.history,
                match check.scale {
                    crate::config::Scale::Linear => "linear",
                    crate::config::Scale::Log => "log",
                }
            ),
        });
    }
    for job in &report.jobs {
        incidents.push(Incident {
            key: format!("job:{}", job.job),
            severity: Severity::Error,
            title: format!(
                "job {} {} (started {})",
                job.job,
                job.outcome.replace('_', " "),
                job.started_at
            ),
            detail: short(&job.detail),
        });
    }
    incidents
}
