//! Running unattended: a day of `schedules.yml` jobs on the OMS project, fast-forwarded with
//! `orderlake scheduler --simulate-from … --simulate-until …` (each command really runs), then
//! the job log, the files the jobs wrote, `orderlake jobs`, a restore of the night's desk backup,
//! and the runs caught up after the scheduler was down.

use std::path::Path;

use crate::util::{ok, oms_project, orderlake_env, rows, write};

/// Times are São Paulo's (UTC-3, no daylight saving since 2019): the simulated day is
/// 2026-12-01 00:00 to 2026-12-02 00:00 there.
const SCHEDULES: &str = r#"
timezone: America/Sao_Paulo
desk: desk.db
jobs:
  ingest:
    cron: "0 1,13 * * *"
    ingest: {landing: landing}
  publish_desk:
    cron: "30 1,13 * * *"
    desk_publish: {landing: landing}
  nightly_build:
    cron: "0 2 * * *"
    catch_up: skip
    build: {}
  backup:
    cron: "0 3 * * *"
    backup: {to: backups, keep_days: 7}
  maintenance:
    cron: "0 4 * * *"
    catch_up: skip
    maintain: {keep_removed_hours: 0}
  monthly_rebates:
    cron: "0 5 1 * *"
    desk_rebate_run: {}
  revenue_export:
    cron: "0 7 * * *"
    export:
      sql: "select count(*) as sale_lines, cast(sum(net_revenue) as decimal(18, 2)) as net_revenue from gold.fct_sales where event_date < date '{today}'"
      to: exports
  aging_export:
    cron: "15 7 * * *"
    export: {desk_report: aging, args: ["--as-of", "{today}"], to: exports}
  broken:
    cron: "0 9 * * *"
    catch_up: skip
    export: {sql: "select * from gold.no_such_table", to: exports}
"#;

fn scheduler(root: &Path, token: &str, args: &[&str]) -> String {
    let mut full = vec!["scheduler"];
    full.extend_from_slice(args);
    let run = orderlake_env(root, &[("ORDERLAKE_DESK_TOKEN", token.to_string())], &full);
    assert_eq!(run.code, 0, "scheduler failed:\n{}", run.all());
    run.stdout
}

#[test]
fn a_day_of_scheduled_jobs_fast_forwarded_runs_each_on_time_and_logs_it() {
    let (dir, root) = oms_project();
    write(&root, "schedules.yml", SCHEDULES);
    let landing = root.join("landing");
    let landing_s = landing.to_str().expect("utf-8");
    ok(
        &root,
        &[
            "generate", "--out", landing_s, "--orders", "120", "--seed", "5",
        ],
    );
    let db = root.join("desk.db");
    let db_s = db.to_str().expect("utf-8");
    let init = ok(&root, &["desk", "--db", db_s, "init", "--name", "mia"]);
    let token = init
        .stdout
        .lines()
        .last()
        .expect("token")
        .trim()
        .to_string();

    let out = scheduler(
        &root,
        &token,
        &[
            "--simulate-from",
            "2026-12-01T03:00:00Z",
            "--simulate-until",
            "2026-12-02T03:00:00Z",
        ],
    );

    // The log holds every run, at its time in UTC, with its outcome.
    let log = rows(
        &root,
        "select job, trigger, outcome, to_char(scheduled_for, '%H:%M') as at \
         from _orderlake.job_runs order by scheduled_for, job",
    );
    let got: Vec<String> = log
        .iter()
        .map(|r| {
            format!(
                "{} {} {} {}",
                r["at"].as_str().unwrap_or(""),
                r["job"].as_str().unwrap_or(""),
                r["trigger"].as_str().unwrap_or(""),
                r["outcome"].as_str().unwrap_or("")
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            "04:00 ingest schedule success",
            "04:30 publish_desk schedule success",
            "05:00 nightly_build schedule success",
            "06:00 backup schedule success",
            "07:00 maintenance schedule success",
            "08:00 monthly_rebates schedule success",
            "10:00 revenue_export schedule success",
            "10:15 aging_export schedule success",
            "12:00 broken schedule failed",
            "16:00 ingest schedule success",
            "16:30 publish_desk schedule success",
        ],
        "scheduler said:\n{out}"
    );
    let broken = rows(
        &root,
        "select detail, exit_code from _orderlake.job_runs where job = 'broken'",
    );
    assert!(
        broken[0]["detail"]
            .as_str()
            .unwrap_or("")
            .contains("no_such_table"),
        "{broken:?}"
    );
    assert_ne!(broken[0]["exit_code"].as_i64(), Some(0));

    // The export holds what the same query says now (gold has not changed since 10:00).
    let export = root.join("exports/revenue_export-20261201T0700.csv");
    let written = std::fs::read_to_string(&export).expect("the export was written");
    let query = "select count(*) as sale_lines, cast(sum(net_revenue) as decimal(18, 2)) as \
                 net_revenue from gold.fct_sales where event_date < date '2026-12-01'";
    let now = ok(&root, &["sql", "--format", "csv", query]).stdout;
    assert_eq!(written.trim(), now.trim());
    let lines: Vec<_> = written.lines().collect();
    assert_eq!(lines[0], "sale_lines,net_revenue");
    assert!(
        lines[1]
            .split(',')
            .next()
            .and_then(|n| n.parse::<i64>().ok())
            > Some(0),
        "{written}"
    );
    assert!(root.join("exports/aging_export-20261201T0715.csv").exists());
    assert!(
        !std::fs::read_dir(root.join("exports"))
            .expect("exports")
            .any(|e| e
                .expect("entry")
                .path()
                .to_string_lossy()
                .ends_with(".partial")),
        "no half-written export is left"
    );

    // The night's backup restores to a working desk.
    let backup = root.join("backups/desk-20261201T060000Z.db");
    assert!(backup.exists(), "{}", backup.display());
    let restored = dir.path().join("restored.db");
    let restored_s = restored.to_str().expect("utf-8");
    let backup_s = backup.to_str().expect("utf-8");
    ok(&root, &["desk", "--db", restored_s, "restore", backup_s]);
    let aging = ok(
        &root,
        &[
            "desk",
            "--db",
            restored_s,
            "--token",
            &token,
            "report",
            "outstanding",
        ],
    );
    assert!(aging.stdout.contains("rows") || aging.stdout.contains("no rows"));
    let again = orderlake_env(
        &root,
        &[],
        &["desk", "--db", restored_s, "restore", backup_s],
    );
    assert_ne!(again.code, 0);
    assert!(again.stderr.contains("--force"), "{}", again.stderr);

    // Listed with their last run and next run.
    let listed = ok(&root, &["jobs"]).stdout;
    for job in ["ingest", "nightly_build", "backup", "broken"] {
        assert!(
            listed.lines().any(|l| l.starts_with(job)),
            "{job} not listed:\n{listed}"
        );
    }
    let broken_line = listed
        .lines()
        .find(|l| l.starts_with("broken"))
        .expect("listed");
    assert!(broken_line.contains("failed"), "{broken_line}");

    // Down from 2026-12-02 00:00 to 13:05 local: each job's missed runs are caught up by its
    // policy when the scheduler comes back, then it goes on.
    scheduler(
        &root,
        &token,
        &[
            "--simulate-from",
            "2026-12-02T16:05:00Z",
            "--simulate-until",
            "2026-12-02T16:10:00Z",
        ],
    );
    let caught = rows(
        &root,
        "select job, outcome, to_char(scheduled_for, '%d %H:%M') as at \
         from _orderlake.job_runs where trigger = 'catch_up' order by job, scheduled_for",
    );
    let got: Vec<String> = caught
        .iter()
        .map(|r| {
            format!(
                "{} {} {}",
                r["job"].as_str().unwrap_or(""),
                r["at"].as_str().unwrap_or(""),
                r["outcome"].as_str().unwrap_or("")
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            "aging_export 02 10:15 success",
            "backup 02 06:00 success",
            "broken 02 12:00 missed",
            "ingest 02 04:00 missed",
            "ingest 02 16:00 success",
            "maintenance 02 07:00 missed",
            "nightly_build 02 05:00 missed",
            "publish_desk 02 04:30 success",
            "revenue_export 02 10:00 success",
        ]
    );

    jobs_page_shows_the_log_and_the_schedule(&root);
}

/// The Jobs page and `/api/jobs` of a server whose scheduler runs one job (due on 29 February
/// only, so it never fires during the test).
fn jobs_page_shows_the_log_and_the_schedule(root: &Path) {
    write(
        root,
        "schedules.yml",
        "jobs:\n  leap_day_export:\n    cron: '0 0 29 2 *'\n    \
         export: {sql: 'select 1 as one', to: exports}\n",
    );
    let server = crate::serve::start_with(root, &[]);
    let api = crate::serve::get_json(&server.http, "/api/jobs");
    let jobs = api["jobs"].as_array().expect("jobs");
    assert_eq!(jobs.len(), 1, "{api}");
    assert_eq!(jobs[0]["job"], "leap_day_export");
    assert_eq!(jobs[0]["action"], "export");
    assert!(
        jobs[0]["next_run"]
            .as_str()
            .is_some_and(|t| t.contains("-02-29T00:00:00")),
        "{api}"
    );
    let last = crate::serve::get_json(&server.http, "/api/dashboard/jobs/last_runs");
    let names: Vec<_> = last["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .filter_map(|r| r[0].as_str())
        .collect();
    assert_eq!(names.len(), 9, "{last}");
    assert!(names.contains(&"revenue_export"), "{last}");
    let (status, html) = crate::serve::get(&server.http, "/jobs");
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("id=\"table-schedule\""), "{html}");
    assert!(html.contains("leap_day_export"), "{html}");
    assert!(html.contains("Runs per day by outcome"), "{html}");
}

#[test]
fn a_bad_schedule_is_refused_naming_the_file_and_job() {
    let (_dir, root) = oms_project();
    write(
        &root,
        "schedules.yml",
        "jobs:\n  nightly:\n    cron: '0 25 * * *'\n    build: {}\n",
    );
    let run = orderlake_env(&root, &[], &["jobs"]);
    assert_ne!(run.code, 0);
    assert!(
        run.stderr
            .contains("schedules.yml: job `nightly`: cron `0 25 * * *`"),
        "{}",
        run.stderr
    );
}
