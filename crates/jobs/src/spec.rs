//! `schedules.yml`, the project's jobs: what runs, when (a cron expression in a time zone), and
//! what to do about runs missed while no scheduler was up. This module owns the file's format;
//! everything else gets a [`Schedules`].
//!
//! ```yaml
//! timezone: America/Sao_Paulo        # of every job without its own (default UTC)
//! desk: desk.db                      # the desk database of desk jobs (default: ORDERLAKE_DESK_DB)
//! jobs:
//!   nightly_build:
//!     cron: "0 2 * * *"
//!     build: {select: ["+gold"]}
//!   monthly_rebates:
//!     cron: "0 6 1 * *"
//!     desk_rebate_run: {}            # the month just ended
//!   sales_export:
//!     cron: "0 7 * * *"
//!     export: {sql: "select * from gold.daily_revenue where day = date '{yesterday}'", to: exports}
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Datelike, Months, Utc};
use chrono_tz::Tz;
use croner::Cron;
use serde::Deserialize;

/// The schedule file's name, in the project folder.
pub const SCHEDULES_FILE: &str = "schedules.yml";

/// A job runs at most this long unless it says otherwise; then it is stopped and failed.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(6 * 3600);

/// A schedule file that cannot be used, naming the file and, where known, the line and job.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}:{line}:{column}: {message}", path.display())]
    Yaml {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{}: job `{job}`: {message}", path.display())]
    Job {
        path: PathBuf,
        job: String,
        message: String,
    },
    #[error("{}: {message}", path.display())]
    File { path: PathBuf, message: String },
}

/// The project's jobs, in the file's order.
#[derive(Debug, Clone)]
pub struct Schedules {
    /// Where they were read from.
    pub path: PathBuf,
    /// The desk database of desk jobs, as written (a path relative to the project, or a URL).
    pub desk: Option<String>,
    pub jobs: Vec<Job>,
}

/// One job: its action, when it runs, and its limits.
#[derive(Debug, Clone)]
pub struct Job {
    pub name: String,
    pub schedule: Schedule,
    pub catch_up: CatchUp,
    pub timeout: Duration,
    pub action: Action,
}

/// When a job is due: a cron expression (5 fields, or 6 with seconds) read in a time zone, so
/// "0 2 * * *" in America/Sao_Paulo is 02:00 there, summer or winter.
#[derive(Debug, Clone)]
pub struct Schedule {
    pub cron: String,
    pub timezone: Tz,
    parsed: Cron,
}

impl Schedule {
    pub fn new(cron: &str, timezone: Tz) -> Result<Schedule, String> {
        let parsed = Cron::from_str(cron).map_err(|e| format!("cron `{cron}`: {e}"))?;
        Ok(Schedule {
            cron: cron.to_string(),
            timezone,
            parsed,
        })
    }

    /// The first time strictly after `after` that the job is due.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let local = after.with_timezone(&self.timezone);
        self.parsed
            .find_next_occurrence(&local, false)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    }

    /// The due times in `(after, until]`, at most `limit` of them (the earliest).
    pub fn due_between(
        &self,
        after: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: usize,
    ) -> Vec<DateTime<Utc>> {
        let mut due = Vec::new();
        let mut at = after;
        while due.len() < limit {
            match self.next_after(at) {
                Some(t) if t <= until => {
                    due.push(t);
                    at = t;
                }
                _ => break,
            }
        }
        due
    }

    /// The pattern in words ("At 02:00"), for listings.
    pub fn describe(&self) -> String {
        self.parsed.describe()
    }
}

/// What to do with the due times that passed while no scheduler was running, found at start
/// from the job's last recorded run. A job that never ran has nothing to catch up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CatchUp {
    /// Run once for the latest missed time (a nightly build missed three nights builds once).
    #[default]
    Latest,
    /// Run once for every missed time, oldest first (at most 100): for jobs whose runs differ
    /// by their time, like a daily export.
    All,
    /// Run none; the missed times are recorded as missed.
    Skip,
}

/// What a job does: each is one `orderlake` command, run as its own process.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// `orderlake build` with a selection.
    Build {
        select: Vec<String>,
        exclude: Vec<String>,
        full_refresh: bool,
    },
    /// `orderlake ingest` from a landing folder or prefix.
    Ingest {
        landing: String,
        schema: Option<String>,
    },
    /// `orderlake desk publish`: unpublished desk events into a landing folder.
    DeskPublish { landing: String },
    /// `orderlake desk rebate-run` for a month (`YYYY-MM`; default the month before the run).
    DeskRebateRun { month: String },
    /// A gold query or a desk report, written as CSV to `<to>/<job>-<due>.csv`.
    Export { source: ExportSource, to: String },
    /// `orderlake desk backup`: the desk database copied online into a folder, kept N days.
    Backup { to: String, keep_days: u32 },
    /// `orderlake maintain`: compact small files, vacuum, checkpoint every Delta table.
    Maintain {
        keep_removed_hours: Option<u64>,
        compact_at_files: Option<usize>,
    },
    /// `orderlake health --at <due>`: the health check; with `alert`, health.yml's
    /// destinations are told what opened or cleared. A run fails when health is in error.
    Health { alert: bool },
}

/// Where an export's rows come from.
#[derive(Debug, Clone, PartialEq)]
pub enum ExportSource {
    /// A query on the warehouse (`orderlake sql --format csv`).
    Sql(String),
    /// A desk report (`orderlake desk --csv report <report> <args…>`).
    DeskReport { report: String, args: Vec<String> },
}

/// One `orderlake` command line for a run (after the global options), and the file its
/// standard output goes to, if any.
#[derive(Debug, Clone, PartialEq)]
pub struct Invocation {
    pub args: Vec<String>,
    pub stdout_to: Option<PathBuf>,
}

impl Action {
    /// The action's name as the file spells it.
    pub fn kind(&self) -> &'static str {
        match self {
            Action::Build { .. } => "build",
            Action::Ingest { .. } => "ingest",
            Action::DeskPublish { .. } => "desk_publish",
            Action::DeskRebateRun { .. } => "desk_rebate_run",
            Action::Export { .. } => "export",
            Action::Backup { .. } => "backup",
            Action::Maintain { .. } => "maintain",
            Action::Health { .. } => "health",
        }
    }

    fn uses_desk(&self) -> bool {
        matches!(
            self,
            Action::DeskPublish { .. }
                | Action::DeskRebateRun { .. }
                | Action::Backup { .. }
                | Action::Export {
                    source: ExportSource::DeskReport { .. },
                    ..
                }
        )
    }
}

impl Job {
    /// The command a run due at `due` executes, with `{today}`-style placeholders filled in
    /// from `due` in the job's time zone; relative folders are taken from `project`.
    pub fn invocation(&self, due: DateTime<Utc>, project: &Path, desk: Option<&str>) -> Invocation {
        let fill = |text: &str| fill_placeholders(text, due, self.schedule.timezone);
        let desk_args = |args: &mut Vec<String>| {
            args.push("desk".into());
            if let Some(db) = desk {
                args.push("--db".into());
                args.push(db.to_string());
            }
        };
        let mut args: Vec<String> = Vec::new();
        let mut stdout_to = None;
        match &self.action {
            Action::Build {
                select,
                exclude,
                full_refresh,
            } => {
                args.push("build".into());
                if !select.is_empty() {
                    args.push("--select".into());
                    args.extend(select.iter().map(|s| fill(s)));
                }
                if !exclude.is_empty() {
                    args.push("--exclude".into());
                    args.extend(exclude.iter().map(|s| fill(s)));
                }
                if *full_refresh {
                    args.push("--full-refresh".into());
                }
            }
            Action::Ingest { landing, schema } => {
                args.extend(["ingest".into(), "--landing".into(), fill(landing)]);
                if let Some(schema) = schema {
                    args.extend(["--schema".into(), schema.clone()]);
                }
            }
            Action::DeskPublish { landing } => {
                desk_args(&mut args);
                args.extend(["publish".into(), "--landing".into(), fill(landing)]);
            }
            Action::DeskRebateRun { month } => {
                desk_args(&mut args);
                args.extend(["rebate-run".into(), fill(month)]);
            }
            Action::Export { source, to } => {
                match source {
                    ExportSource::Sql(sql) => {
                        args.extend(["sql".into(), "--format".into(), "csv".into(), fill(sql)]);
                    }
                    ExportSource::DeskReport {
                        report,
                        args: report_args,
                    } => {
                        desk_args(&mut args);
                        args.extend(["--csv".into(), "report".into(), report.clone()]);
                        args.extend(report_args.iter().map(|a| fill(a)));
                    }
                }
                let stamp = due.with_timezone(&self.schedule.timezone);
                let file = format!("{}-{}.csv", self.name, stamp.format("%Y%m%dT%H%M"));
                stdout_to = Some(project.join(fill(to)).join(file));
            }
            Action::Backup { to, keep_days } => {
                desk_args(&mut args);
                args.extend([
                    "backup".into(),
                    "--to".into(),
                    fill(to),
                    "--keep-days".into(),
                    keep_days.to_string(),
                    // Named and pruned as of its due time, so a simulated day makes a day's copies.
                    "--at".into(),
                    due.to_rfc3339(),
                ]);
            }
            Action::Maintain {
                keep_removed_hours,
                compact_at_files,
            } => {
                args.push("maintain".into());
                if let Some(hours) = keep_removed_hours {
                    args.extend(["--keep-removed-hours".into(), hours.to_string()]);
                }
                if let Some(files) = compact_at_files {
                    args.extend(["--compact-at-files".into(), files.to_string()]);
                }
            }
            Action::Health { alert } => {
                // Judged as of its due time, so freshness and "yesterday" follow a simulated clock.
                args.extend(["health".into(), "--at".into(), due.to_rfc3339()]);
                if *alert {
                    args.push("--alert".into());
                }
            }
        }
        Invocation { args, stdout_to }
    }
}

/// The placeholders a job's text may use, each from the due time in the job's time zone:
/// `{today}`, `{yesterday}` (YYYY-MM-DD), `{month}`, `{last_month}` (YYYY-MM), `{due}` (RFC 3339).
pub const PLACEHOLDERS: [&str; 5] = ["today", "yesterday", "month", "last_month", "due"];

pub fn fill_placeholders(text: &str, due: DateTime<Utc>, timezone: Tz) -> String {
    if !text.contains('{') {
        return text.to_string();
    }
    let local = due.with_timezone(&timezone);
    let today = local.date_naive();
    let yesterday = today.pred_opt().unwrap_or(today);
    let first = today.with_day(1).unwrap_or(today);
    let last_month = first.checked_sub_months(Months::new(1)).unwrap_or(first);
    text.replace("{today}", &today.format("%Y-%m-%d").to_string())
        .replace("{yesterday}", &yesterday.format("%Y-%m-%d").to_string())
        .replace("{month}", &today.format("%Y-%m").to_string())
        .replace("{last_month}", &last_month.format("%Y-%m").to_string())
        .replace("{due}", &local.to_rfc3339())
}

// ---- the file as written ----

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSpec {
    timezone: Option<String>,
    desk: Option<String>,
    catch_up: Option<CatchUp>,
    #[serde(default)]
    jobs: serde_yaml::Mapping,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JobSpec {
    cron: String,
    timezone: Option<String>,
    catch_up: Option<CatchUp>,
    timeout: Option<String>,
    build: Option<BuildSpec>,
    ingest: Option<IngestSpec>,
    desk_publish: Option<LandingSpec>,
    desk_rebate_run: Option<RebateSpec>,
    export: Option<ExportSpec>,
    backup: Option<BackupSpec>,
    maintain: Option<MaintainSpec>,
    health: Option<HealthSpec>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct BuildSpec {
    #[serde(default, deserialize_with = "one_or_many")]
    select: Vec<String>,
    #[serde(default, deserialize_with = "one_or_many")]
    exclude: Vec<String>,
    #[serde(default)]
    full_refresh: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IngestSpec {
    landing: String,
    schema: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LandingSpec {
    landing: String,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RebateSpec {
    month: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExportSpec {
    sql: Option<String>,
    desk_report: Option<String>,
    #[serde(default)]
    args: Vec<String>,
    to: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BackupSpec {
    to: String,
    #[serde(default = "default_keep_days")]
    keep_days: u32,
}

fn default_keep_days() -> u32 {
    14
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct MaintainSpec {
    keep_removed_hours: Option<u64>,
    compact_at_files: Option<usize>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct HealthSpec {
    #[serde(default)]
    alert: bool,
}

fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(s) => vec![s],
        OneOrMany::Many(v) => v,
    })
}

/// The desk reports an export may name (`orderlake desk report …`).
pub const DESK_REPORTS: [&str; 7] = [
    "outstanding",
    "aging",
    "rebates",
    "sales",
    "reversals",
    "inventory",
    "statement",
];

impl Schedules {
    /// Reads `<project>/schedules.yml`; `None` when the project has none.
    pub fn load(project: &Path) -> Result<Option<Schedules>, SpecError> {
        let path = project.join(SCHEDULES_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(SpecError::Io { path, source }),
        };
        Schedules::parse(&text, path).map(Some)
    }

    /// Parses a schedule file's text; `path` is for messages.
    pub fn parse(text: &str, path: PathBuf) -> Result<Schedules, SpecError> {
        let yaml_error = |e: serde_yaml::Error| {
            let (line, column) = e
                .location()
                .map(|l| (l.line(), l.column()))
                .unwrap_or((0, 0));
            SpecError::Yaml {
                path: path.clone(),
                line,
                column,
                message: e.to_string(),
            }
        };
        let file: FileSpec = serde_yaml::from_str(text).map_err(yaml_error)?;
        let timezone = match &file.timezone {
            Some(name) => parse_timezone(name).map_err(|message| SpecError::File {
                path: path.clone(),
                message,
            })?,
            None => Tz::UTC,
        };
        let mut jobs = Vec::new();
        let mut seen = BTreeMap::new();
        for (key, value) in file.jobs {
            let name = match key {
                serde_yaml::Value::String(name) => name,
                other => {
                    return Err(SpecError::File {
                        path,
                        message: format!("a job's name must be text, not {other:?}"),
                    });
                }
            };
            let job_error = |message: String| SpecError::Job {
                path: path.clone(),
                job: name.clone(),
                message,
            };
            if !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
                || name.is_empty()
            {
                return Err(job_error(
                    "a job's name is letters, digits, `_` and `-` (it names files and locks)"
                        .into(),
                ));
            }
            if seen.insert(name.clone(), ()).is_some() {
                return Err(job_error("defined twice".into()));
            }
            let spec: JobSpec =
                serde_yaml::from_value(value).map_err(|e| job_error(e.to_string()))?;
            let job = spec
                .into_job(&name, timezone, file.catch_up.unwrap_or_default())
                .map_err(job_error)?;
            jobs.push(job);
        }
        if jobs.is_empty() {
            return Err(SpecError::File {
                path,
                message: "no jobs: list them under `jobs:`".into(),
            });
        }
        Ok(Schedules {
            path,
            desk: file.desk,
            jobs,
        })
    }

    pub fn job(&self, name: &str) -> Option<&Job> {
        self.jobs.iter().find(|j| j.name == name)
    }

    /// Whether any job uses the desk.
    pub fn uses_desk(&self) -> bool {
        self.jobs.iter().any(|j| j.action.uses_desk())
    }
}

fn parse_timezone(name: &str) -> Result<Tz, String> {
    name.parse::<Tz>().map_err(|_| {
        format!("unknown time zone `{name}`: use an IANA name such as UTC or Europe/Lisbon")
    })
}

impl JobSpec {
    fn into_job(self, name: &str, timezone: Tz, catch_up: CatchUp) -> Result<Job, String> {
        let timezone = match &self.timezone {
            Some(tz) => parse_timezone(tz)?,
            None => timezone,
        };
        let schedule = Schedule::new(&self.cron, timezone)?;
        let timeout = match &self.timeout {
            Some(text) => humantime::parse_duration(text)
                .map_err(|e| format!("timeout `{text}`: {e} (write e.g. 30m or 2h)"))?,
            None => DEFAULT_TIMEOUT,
        };
        let mut actions = Vec::new();
        if let Some(b) = self.build {
            actions.push(Action::Build {
                select: b.select,
                exclude: b.exclude,
                full_refresh: b.full_refresh,
            });
        }
        if let Some(i) = self.ingest {
            actions.push(Action::Ingest {
                landing: i.landing,
                schema: i.schema,
            });
        }
        if let Some(p) = self.desk_publish {
            actions.push(Action::DeskPublish { landing: p.landing });
        }
        if let Some(r) = self.desk_rebate_run {
            actions.push(Action::DeskRebateRun {
                month: r.month.unwrap_or_else(|| "{last_month}".into()),
            });
        }
        if let Some(e) = self.export {
            let source = match (e.sql, e.desk_report) {
                (Some(sql), None) => ExportSource::Sql(sql),
                (None, Some(report)) => {
                    if !DESK_REPORTS.contains(&report.as_str()) {
                        return Err(format!(
                            "export: unknown desk_report `{report}`; one of {}",
                            DESK_REPORTS.join(", ")
                        ));
                    }
                    ExportSource::DeskReport {
                        report,
                        args: e.args,
                    }
                }
                _ => return Err("export: give either `sql` or `desk_report`".into()),
            };
            actions.push(Action::Export { source, to: e.to });
        }
        if let Some(b) = self.backup {
            if b.keep_days == 0 {
                return Err("backup: keep_days must be at least 1".into());
            }
            actions.push(Action::Backup {
                to: b.to,
                keep_days: b.keep_days,
            });
        }
        if let Some(m) = self.maintain {
            actions.push(Action::Maintain {
                keep_removed_hours: m.keep_removed_hours,
                compact_at_files: m.compact_at_files,
            });
        }
        if let Some(h) = self.health {
            actions.push(Action::Health { alert: h.alert });
        }
        let action = match actions.len() {
            1 => actions.remove(0),
            0 => {
                return Err(
                    "no action: give one of build, ingest, desk_publish, desk_rebate_run, \
                     export, backup, maintain, health"
                        .into(),
                );
            }
            _ => {
                let kinds: Vec<_> = actions.iter().map(Action::kind).collect();
                return Err(format!(
                    "one action per job, found {}: split it into jobs",
                    kinds.join(" and ")
                ));
            }
        };
        Ok(Job {
            name: name.to_string(),
            schedule,
            catch_up: self.catch_up.unwrap_or(catch_up),
            timeout,
            action,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn parse(text: &str) -> Result<Schedules, SpecError> {
        Schedules::parse(text, PathBuf::from("proj/schedules.yml"))
    }

    fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, min, 0)
            .single()
            .expect("valid")
    }

    #[test]
    fn jobs_are_read_in_order_with_their_time_zone_and_action() {
        let s = parse(
            "timezone: America/Sao_Paulo\n\
             desk: desk.db\n\
             jobs:\n\
             \x20 nightly:\n\
             \x20   cron: '0 2 * * *'\n\
             \x20   build: {select: '+gold', full_refresh: true}\n\
             \x20 rebates:\n\
             \x20   cron: '0 6 1 * *'\n\
             \x20   timezone: UTC\n\
             \x20   timeout: 30m\n\
             \x20   catch_up: skip\n\
             \x20   desk_rebate_run: {}\n",
        )
        .expect("valid");
        assert_eq!(s.desk.as_deref(), Some("desk.db"));
        let names: Vec<_> = s.jobs.iter().map(|j| j.name.as_str()).collect();
        assert_eq!(names, ["nightly", "rebates"]);
        let nightly = &s.jobs[0];
        assert_eq!(
            nightly.action,
            Action::Build {
                select: vec!["+gold".into()],
                exclude: vec![],
                full_refresh: true
            }
        );
        assert_eq!(nightly.schedule.timezone, chrono_tz::America::Sao_Paulo);
        assert_eq!(nightly.timeout, DEFAULT_TIMEOUT);
        assert_eq!(nightly.catch_up, CatchUp::Latest);
        // 02:00 in São Paulo (UTC-3) is 05:00 UTC.
        assert_eq!(
            nightly.schedule.next_after(utc(2026, 12, 1, 4, 0)),
            Some(utc(2026, 12, 1, 5, 0))
        );
        let rebates = &s.jobs[1];
        assert_eq!(rebates.timeout, Duration::from_secs(1800));
        assert_eq!(rebates.catch_up, CatchUp::Skip);
        let run = rebates.invocation(utc(2026, 12, 1, 6, 0), Path::new("/p"), s.desk.as_deref());
        assert_eq!(
            run.args,
            ["desk", "--db", "desk.db", "rebate-run", "2026-11"].map(String::from)
        );
    }

    #[test]
    fn a_schedule_follows_its_zone_across_daylight_saving() {
        // Europe/Lisbon leaves summer time on 2026-10-25: 03:00 local is 02:00 UTC before
        // and 03:00 UTC after.
        let s = Schedule::new("0 3 * * *", chrono_tz::Europe::Lisbon).expect("valid");
        let due = s.due_between(utc(2026, 10, 23, 12, 0), utc(2026, 10, 27, 12, 0), 10);
        assert_eq!(
            due,
            [
                utc(2026, 10, 24, 2, 0),
                utc(2026, 10, 25, 3, 0),
                utc(2026, 10, 26, 3, 0),
                utc(2026, 10, 27, 3, 0)
            ]
        );
    }

    #[test]
    fn placeholders_are_filled_from_the_due_time_in_the_jobs_zone() {
        // 01:30 UTC on 1 December is still 30 November in São Paulo.
        let due = utc(2026, 12, 1, 1, 30);
        let text = "{today} {yesterday} {month} {last_month}";
        assert_eq!(
            fill_placeholders(text, due, chrono_tz::America::Sao_Paulo),
            "2026-11-30 2026-11-29 2026-11 2026-10"
        );
        assert_eq!(
            fill_placeholders(text, due, Tz::UTC),
            "2026-12-01 2026-11-30 2026-12 2026-11"
        );
    }

    #[test]
    fn an_export_writes_its_rows_to_a_file_named_by_job_and_due_time() {
        let s = parse(
            "jobs:\n\
             \x20 daily:\n\
             \x20   cron: '0 7 * * *'\n\
             \x20   export: {sql: \"select * from gold.sales where day = '{yesterday}'\", to: exports}\n\
             \x20 aging:\n\
             \x20   cron: '0 7 * * *'\n\
             \x20   export: {desk_report: aging, args: ['--as-of', '{today}'], to: exports}\n",
        )
        .expect("valid");
        let due = utc(2026, 12, 1, 7, 0);
        let run = s.jobs[0].invocation(due, Path::new("/p"), None);
        assert_eq!(
            run.args,
            [
                "sql",
                "--format",
                "csv",
                "select * from gold.sales where day = '2026-11-30'"
            ]
            .map(String::from)
        );
        assert_eq!(
            run.stdout_to,
            Some(PathBuf::from("/p/exports/daily-20261201T0700.csv"))
        );
        let run = s.jobs[1].invocation(due, Path::new("/p"), None);
        assert_eq!(
            run.args,
            ["desk", "--csv", "report", "aging", "--as-of", "2026-12-01"].map(String::from)
        );
    }

    #[test]
    fn a_health_check_is_judged_at_its_due_time() {
        let s = parse(
            "jobs:\n\
             \x20 check:\n\
             \x20   cron: '15 * * * *'\n\
             \x20   health: {alert: true}\n\
             \x20 quiet:\n\
             \x20   cron: '15 * * * *'\n\
             \x20   health: {}\n",
        )
        .expect("valid");
        let due = utc(2026, 12, 1, 7, 15);
        let run = s.jobs[0].invocation(due, Path::new("/p"), None);
        assert_eq!(
            run.args,
            ["health", "--at", "2026-12-01T07:15:00+00:00", "--alert"].map(String::from)
        );
        assert_eq!(s.jobs[1].action, Action::Health { alert: false });
        assert!(!s.uses_desk());
    }

    #[test]
    fn the_bundled_oms_schedule_is_valid() {
        let oms = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../projects/oms");
        let s = Schedules::load(&oms).expect("valid").expect("present");
        assert_eq!(s.jobs.len(), 9);
        assert!(s.uses_desk());
        let health = s.job("health_check").expect("listed");
        assert_eq!(health.action, Action::Health { alert: true });
        let export = s.job("daily_sales_export").expect("listed");
        assert_eq!(export.catch_up, CatchUp::All);
        assert_eq!(export.schedule.timezone, chrono_tz::Africa::Lagos);
    }

    #[test]
    fn mistakes_are_refused_naming_the_file_and_job() {
        let cases = [
            (
                "jobs:\n  a:\n    cron: '0 2 * * *'\n",
                "proj/schedules.yml: job `a`: no action",
            ),
            (
                "jobs:\n  a:\n    cron: 'every day'\n    maintain: {}\n",
                "proj/schedules.yml: job `a`: cron `every day`",
            ),
            (
                "jobs:\n  a:\n    cron: '0 2 * * *'\n    bild: {}\n",
                "proj/schedules.yml: job `a`: unknown field `bild`",
            ),
            (
                "jobs:\n  a:\n    cron: '0 2 * * *'\n    build: {}\n    maintain: {}\n",
                "one action per job, found build and maintain",
            ),
            (
                "timezone: Mars/Olympus\njobs:\n  a:\n    cron: '0 2 * * *'\n    build: {}\n",
                "unknown time zone `Mars/Olympus`",
            ),
            (
                "jobs:\n  a:\n    cron: '0 2 * * *'\n    timeout: soon\n    build: {}\n",
                "timeout `soon`",
            ),
            (
                "jobs:\n  a:\n    cron: '0 2 * * *'\n    export: {desk_report: gossip, to: x}\n",
                "unknown desk_report `gossip`",
            ),
            ("jobs: {}\n", "no jobs"),
            ("jobz: {}\n", "proj/schedules.yml:1:1: unknown field `jobz`"),
        ];
        for (text, expected) in cases {
            let error = parse(text).expect_err(text).to_string();
            assert!(error.contains(expected), "{text:?}: {error}");
        }
    }
}
