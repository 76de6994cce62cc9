//! `orderlake health`: the health report in the terminal (or as JSON), and alerts for incidents
//! that opened or cleared. Builds call [`alert_after_run`] so a failure is told without a
//! scheduled check.

use std::process::ExitCode;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use orderlake_engine::Warehouse;
use orderlake_monitor::{HealthConfig, HealthReport, Severity};
use orderlake_project::Project;

use crate::GlobalArgs;

#[derive(clap::Args, Debug, Clone)]
pub struct HealthArgs {
    /// Send alerts (health.yml's destinations) for incidents that opened or cleared.
    #[arg(long)]
    pub alert: bool,
    /// Judge as of this time (RFC 3339) instead of now: freshness, and which day is complete.
    #[arg(long)]
    pub at: Option<DateTime<Utc>>,
    #[arg(long)]
    pub json: bool,
}

pub(crate) fn config(project: &Project) -> Result<HealthConfig> {
    Ok(HealthConfig::load(&project.root)?)
}

/// Exit code 1 when an error-level incident is open, so cron and CI can act on it.
pub async fn health(global: &GlobalArgs, args: &HealthArgs) -> Result<ExitCode> {
    let project = crate::load_project(global)?;
    let config = config(&project)?;
    let warehouse = crate::open_warehouse(&project).await?;
    let now = args.at.unwrap_or_else(Utc::now);
    let (report, notified) =
        orderlake_monitor::check(&warehouse, &project, &config, now, args.alert)
            .await
            .context("checking the health")?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print(&report);
    }
    if let Some(n) = notified {
        eprintln!(
            "alerts: {} opened, {} resolved{}",
            n.opened.len(),
            n.resolved.len(),
            if n.failures.is_empty() {
                String::new()
            } else {
                format!("; not delivered: {}", n.failures.join("; "))
            }
        );
    }
    Ok(if report.status == Severity::Error {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn print(report: &HealthReport) {
    println!(
        "{}: {} ({} incident{}) at {}",
        report.project,
        report.status.as_str(),
        report.incidents.len(),
        if report.incidents.len() == 1 { "" } else { "s" },
        report.checked_at.to_rfc3339()
    );
    for i in &report.incidents {
        println!(
            "  {:<5} {}\n        {}",
            i.severity.as_str(),
            i.title,
            i.detail
        );
    }
    let t = &report.tests;
    println!(
        "tests: {} pass, {} warn, {} fail, {} error",
        t.pass, t.warn, t.fail, t.error
    );
    for a in &report.anomalies {
        println!(
            "{} {:<28} {:<26} value {:>14.2} median {:>14.2} z {:>6.2}{}",
            a.kind,
            a.subject,
            a.at,
            a.score.value,
            a.score.median,
            a.score.z,
            if a.is_anomaly { "  ANOMALY" } else { "" }
        );
    }
    for u in &report.unjudged {
        println!("not judged: {}: {}", u.subject, u.reason);
    }
    for q in &report.quarantine {
        println!(
            "quarantine {} {}: {} rows: {}",
            q.table, q.entity, q.rows, q.reason
        );
    }
    let due: Vec<_> = report
        .tables
        .iter()
        .filter(|t| t.small_files >= report.compact_at_files)
        .map(|t| format!("{} ({} small files)", t.relation, t.small_files))
        .collect();
    if !due.is_empty() {
        println!(
            "due for compaction (orderlake maintain): {}",
            due.join(", ")
        );
    }
}

/// After a build: alerts for what opened or cleared, when health.yml has destinations. A
/// problem with alerting is a warning; it never fails the build.
pub async fn alert_after_run(project: &Project, warehouse: &Warehouse) {
    let config = match config(project) {
        Ok(c) if !c.alerts.is_empty() => c,
        Ok(_) => return,
        Err(e) => {
            eprintln!("warning: alerts: {e:#}");
            return;
        }
    };
    match orderlake_monitor::check(warehouse, project, &config, Utc::now(), true).await {
        Ok((_, Some(n))) => {
            for i in &n.opened {
                eprintln!("alert sent: {}", i.title);
            }
            for i in &n.resolved {
                eprintln!("alert sent: resolved: {}", i.title);
            }
            for f in &n.failures {
                eprintln!("warning: alert not delivered: {f}");
            }
        }
        Ok((_, None)) => {}
        Err(e) => eprintln!("warning: alerts: {e}"),
    }
}
