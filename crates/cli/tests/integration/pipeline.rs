//! End to end: incremental models, snapshots, expectations, freshness, the event log, and a
//! build killed in the middle of a MERGE.

use crate::util::*;
use serde_json::Value;

const LOAD_1: &str = "order_id,line_no,status,amount,updated_at,loaded_batch
1,1,placed,10.00,2024-01-01 10:00:00,1
1,2,placed,5.00,2024-01-01 10:00:00,1
2,1,placed,7.50,2024-01-02 09:00:00,1
";
// Load 2 updates order 1 line 1, adds order 3.
const LOAD_2: &str = "1,1,shipped,10.00,2024-01-03 08:00:00,2
3,1,placed,20.00,2024-01-03 12:00:00,2
";
// Load 3: a late record (order 2 line 2, updated long ago, arriving now), another update,
// and a new key.
const LOAD_3: &str = "2,2,placed,1.25,2024-01-02 09:30:00,3
3,1,cancelled,20.00,2024-01-04 16:00:00,3
4,1,placed,3.00,2024-01-04 17:00:00,3
";

fn incremental_model(strategy: &str) -> String {
    format!(
        "{{{{ config(materialized='incremental', incremental_strategy='{strategy}', unique_key=['order_id', 'line_no']) }}}}
select order_id, line_no, status, amount, updated_at, loaded_batch
from (
    select *, row_number() over (partition by order_id, line_no order by updated_at desc) as rn
    from {{{{ ref('raw_lines') }}}}
    {{% if is_incremental() %}}
    where loaded_batch > (select max(loaded_batch) from {{{{ this }}}})
    {{% endif %}}
) latest
where rn = 1"
    )
}

fn sorted(root: &std::path::Path, table: &str) -> Vec<serde_json::Map<String, Value>> {
    rows(
        root,
        &format!(
            "select order_id, line_no, status, cast(amount as double) as amount, cast(updated_at as varchar) as updated_at from {table} order by order_id, line_no"
        ),
    )
}

/// An incremental model run over three successive loads (inserts, updates, a late record)
/// equals the same model fully refreshed, row by row, for merge and delete+insert.
#[test]
fn incremental_runs_equal_full_refresh() {
    for strategy in ["merge", "delete+insert"] {
        let (_dir, root) = project(&[
            ("seeds/raw_lines.csv", LOAD_1),
            ("models/lines.sql", &incremental_model(strategy)),
        ]);
        ok(&root, &["build"]);
        assert_eq!(sorted(&root, "main.lines").len(), 3);
        write(&root, "seeds/raw_lines.csv", &format!("{LOAD_1}{LOAD_2}"));
        ok(&root, &["build"]);
        write(
            &root,
            "seeds/raw_lines.csv",
            &format!("{LOAD_1}{LOAD_2}{LOAD_3}"),
        );
        let run = ok(&root, &["build"]);
        assert!(
            run.stdout.contains("OK    model  main.lines"),
            "{}",
            run.stdout
        );
        let incremental = sorted(&root, "main.lines");
        assert_eq!(incremental.len(), 6, "{strategy}: {incremental:?}");
        assert_eq!(incremental[0]["status"], "shipped");
        assert_eq!(incremental[4]["status"], "cancelled");

        ok(&root, &["run", "--full-refresh"]);
        let full = sorted(&root, "main.lines");
        assert_eq!(
            incremental, full,
            "{strategy}: incremental differs from full refresh"
        );
    }
}

/// on_schema_change: append_new_columns adds, fail refuses, sync_all_columns drops, ignore
/// keeps the table's columns.
#[test]
fn on_schema_change_modes() {
    let model = |mode: &str, extra: &str| {
        format!(
            "{{{{ config(materialized='incremental', unique_key='id', on_schema_change='{mode}') }}}}\nselect id, v{extra} from {{{{ ref('src') }}}}"
        )
    };
    let columns = |root: &std::path::Path| -> Vec<String> {
        rows(root, "select column_name from information_schema.columns where table_schema = 'main' and table_name = 't' order by ordinal_position")
            .iter()
            .map(|r| r["column_name"].as_str().unwrap().to_string())
            .collect()
    };
    let (_dir, root) = project(&[
        ("seeds/src.csv", "id,v,w\n1,10,a\n2,20,b\n"),
        ("models/t.sql", &model("append_new_columns", "")),
    ]);
    ok(&root, &["build"]);
    write(&root, "models/t.sql", &model("append_new_columns", ", w"));
    ok(&root, &["run"]);
    assert_eq!(columns(&root), ["id", "v", "w"]);
    assert_eq!(
        scalar_f64(&root, "select count(*) from main.t where w is not null"),
        2.0
    );

    write(&root, "models/t.sql", &model("fail", ", w, v * 2 as v2"));
    let run = orderlake(&root, &["run"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stdout.contains("on_schema_change is 'fail'"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("new: [v2]"), "{}", run.stdout);

    write(&root, "models/t.sql", &model("sync_all_columns", ""));
    ok(&root, &["run"]);
    assert_eq!(columns(&root), ["id", "v"]);

    write(&root, "models/t.sql", &model("ignore", ", w"));
    ok(&root, &["run"]);
    assert_eq!(columns(&root), ["id", "v"]);
}

/// A microbatch model rebuilds only its batches (with lookback), and a backfill window
/// replaces exactly its range.
#[test]
fn microbatch_batches_and_backfill() {
    let events =
        "id,at,v\n1,2024-03-01 10:00:00,1\n2,2024-03-02 11:00:00,2\n3,2024-03-03 12:00:00,3\n";
    let (_dir, root) = project(&[
        ("seeds/events.csv", events),
        (
            "models/staged.sql",
            "{{ config(materialized='view', event_time='at') }}\nselect id, cast(at as timestamp) as at, v from {{ ref('events') }}",
        ),
        (
            "models/daily.sql",
            "{{ config(materialized='incremental', incremental_strategy='microbatch', event_time='day', batch_size='day', lookback=1, begin='2024-03-01') }}\nselect date_trunc('day', at) as day, count(*) as n, sum(v) as total from {{ ref('staged') }} group by 1",
        ),
    ]);
    ok(&root, &["build", "--event-time-end", "2024-03-04"]);
    let totals = |root: &std::path::Path| -> Vec<(String, i64)> {
        rows(
            root,
            "select cast(day as varchar) as day, total from main.daily order by day",
        )
        .iter()
        .map(|r| {
            (
                r["day"].as_str().unwrap()[..10].to_string(),
                r["total"].as_i64().unwrap(),
            )
        })
        .collect()
    };
    assert_eq!(
        totals(&root),
        [
            ("2024-03-01".into(), 1),
            ("2024-03-02".into(), 2),
            ("2024-03-03".into(), 3)
        ]
    );
    // The compiled SQL of the last batch reads the upstream model one day at a time.
    let compiled = std::fs::read_to_string(root.join("target/compiled/fixture/models/daily.sql"))
        .expect("the last batch's compiled SQL");
    assert!(
        compiled.contains(
            r#""at" >= timestamp '2024-03-03 00:00:00' and "at" < timestamp '2024-03-04 00:00:00'"#
        ),
        "{compiled}"
    );

    // Day 1 changes in the source, but a backfill of day 3 only must leave day 1 alone.
    write(
        &root,
        "seeds/events.csv",
        &format!("{events}4,2024-03-01 12:00:00,100\n5,2024-03-03 13:00:00,30\n"),
    );
    ok(&root, &["seed"]);
    ok(
        &root,
        &[
            "run",
            "-s",
            "daily",
            "--event-time-start",
            "2024-03-03",
            "--event-time-end",
            "2024-03-04",
        ],
    );
    assert_eq!(
        totals(&root),
        [
            ("2024-03-01".into(), 1),
            ("2024-03-02".into(), 2),
            ("2024-03-03".into(), 33)
        ]
    );
    // Backfilling day 1 picks up its change; nothing is duplicated.
    ok(
        &root,
        &[
            "run",
            "-s",
            "daily",
            "--event-time-start",
            "2024-03-01",
            "--event-time-end",
            "2024-03-02",
        ],
    );
    assert_eq!(
        totals(&root),
        [
            ("2024-03-01".into(), 101),
            ("2024-03-02".into(), 2),
            ("2024-03-03".into(), 33)
        ]
    );
}

fn snapshot_history(
    root: &std::path::Path,
    with_flag: bool,
) -> Vec<serde_json::Map<String, Value>> {
    let flag = if with_flag { ", dbt_is_deleted" } else { "" };
    rows(
        root,
        &format!(
            "select id, name, cast(dbt_valid_from as varchar) as valid_from, cast(dbt_valid_to as varchar) as valid_to{flag} \
             from snapshots.customers_snapshot order by id, dbt_valid_from, name"
        ),
    )
}

fn short(v: &Value) -> Option<String> {
    v.as_str()
        .map(|s| s.replace('T', " ").chars().take(19).collect())
}

/// A snapshot across four loads (an update, a deleted key, the key re-inserted with a change,
/// another update) has the exact expected history in each hard_deletes mode.
#[test]
fn snapshot_history_for_each_hard_deletes_mode() {
    let loads = [
        "id,name,updated_at\n1,Ada,2024-01-01 00:00:00\n2,Bob,2024-01-01 00:00:00\n3,Cy,2024-01-01 00:00:00\n",
        "id,name,updated_at\n1,Ada L,2024-02-01 00:00:00\n2,Bob,2024-01-01 00:00:00\n3,Cy,2024-01-01 00:00:00\n",
        "id,name,updated_at\n1,Ada L,2024-02-01 00:00:00\n3,Cy,2024-01-01 00:00:00\n",
        "id,name,updated_at\n1,Ada L,2024-02-01 00:00:00\n2,Bob B,2024-04-01 00:00:00\n3,Cy D,2024-04-01 00:00:00\n",
    ];
    for mode in ["ignore", "invalidate", "new_record"] {
        let snapshot = format!(
            "{{% snapshot customers_snapshot %}}\n{{{{ config(target_schema='snapshots', unique_key='id', strategy='timestamp', updated_at='updated_at', hard_deletes='{mode}') }}}}\nselect * from {{{{ ref('customers_src') }}}}\n{{% endsnapshot %}}\n"
        );
        let (_dir, root) = project(&[
            ("seeds/customers_src.csv", loads[0]),
            ("snapshots/customers.sql", &snapshot),
        ]);
        for load in loads {
            write(&root, "seeds/customers_src.csv", load);
            ok(&root, &["build"]);
        }
        let h = snapshot_history(&root, mode == "new_record");
        let t = |s: &str| Some(s.to_string());
        let summary: Vec<(i64, String, Option<String>, Option<String>)> = h
            .iter()
            .map(|r| {
                (
                    r["id"].as_i64().unwrap(),
                    r["name"].as_str().unwrap().to_string(),
                    short(&r["valid_from"]),
                    short(&r["valid_to"]),
                )
            })
            .collect();
        // Key 1 and key 3 are the same in every mode.
        let key1 = [
            (
                1,
                "Ada".to_string(),
                t("2024-01-01 00:00:00"),
                t("2024-02-01 00:00:00"),
            ),
            (1, "Ada L".to_string(), t("2024-02-01 00:00:00"), None),
        ];
        let key3 = [
            (
                3,
                "Cy".to_string(),
                t("2024-01-01 00:00:00"),
                t("2024-04-01 00:00:00"),
            ),
            (3, "Cy D".to_string(), t("2024-04-01 00:00:00"), None),
        ];
        let of = |id: i64| {
            summary
                .iter()
                .filter(|r| r.0 == id)
                .cloned()
                .collect::<Vec<_>>()
        };
        assert_eq!(of(1), key1, "{mode}: {summary:?}");
        assert_eq!(of(3), key3, "{mode}: {summary:?}");
        let key2 = of(2);
        match mode {
            "ignore" => assert_eq!(
                key2,
                [
                    (
                        2,
                        "Bob".to_string(),
                        t("2024-01-01 00:00:00"),
                        t("2024-04-01 00:00:00")
                    ),
                    (2, "Bob B".to_string(), t("2024-04-01 00:00:00"), None),
                ],
                "{summary:?}"
            ),
            "invalidate" => {
                assert_eq!(key2.len(), 2, "{summary:?}");
                assert_eq!(
                    (key2[0].1.as_str(), key2[0].2.as_deref()),
                    ("Bob", Some("2024-01-01 00:00:00"))
                );
                // Closed when the delete was seen (the third run's time), not by the re-insert.
                assert!(
                    key2[0].3.as_deref().is_some_and(|d| d > "2026"),
                    "{summary:?}"
                );
                assert_eq!(
                    key2[1],
                    (2, "Bob B".to_string(), t("2024-04-01 00:00:00"), None)
                );
            }
            _ => {
                let flags: Vec<&str> = h
                    .iter()
                    .filter(|r| r["id"] == 2)
                    .map(|r| r["dbt_is_deleted"].as_str().unwrap())
                    .collect();
                assert_eq!(key2.len(), 3, "{summary:?}");
                assert_eq!(
                    flags.iter().filter(|f| **f == "True").count(),
                    1,
                    "{flags:?}"
                );
                let deletion = h
                    .iter()
                    .find(|r| r["id"] == 2 && r["dbt_is_deleted"] == "True")
                    .unwrap();
                assert!(
                    !deletion["valid_to"].is_null(),
                    "the deletion record is closed by the re-insert"
                );
                let current: Vec<_> = h
                    .iter()
                    .filter(|r| r["id"] == 2 && r["valid_to"].is_null())
                    .collect();
                assert_eq!(current.len(), 1);
                assert_eq!(current[0]["name"], "Bob B");
                assert_eq!(current[0]["dbt_is_deleted"], "False");
            }
        }
        // One current version per key, always.
        assert_eq!(
            scalar_f64(
                &root,
                "select count(*) from snapshots.customers_snapshot where dbt_valid_to is null"
            ),
            3.0
        );
    }
}

/// drop quarantines exactly the violating rows; fail stops the model and its downstream while
/// others go on; warn keeps rows and records the count in the event log.
#[test]
fn expectations_drop_fail_warn() {
    let (_dir, root) = project(&[
        (
            "seeds/lines.csv",
            "id,qty,price\n1,2,5.0\n2,-1,5.0\n3,0,2.0\n4,1,\n5,3,1.0\n",
        ),
        (
            "models/clean_lines.sql",
            "{{ config(materialized='table') }}\nselect * from {{ ref('lines') }}",
        ),
        (
            "models/strict_lines.sql",
            "{{ config(materialized='table') }}\nselect * from {{ ref('lines') }}",
        ),
        (
            "models/after_strict.sql",
            "{{ config(materialized='table') }}\nselect count(*) as n from {{ ref('strict_lines') }}",
        ),
        (
            "models/independent.sql",
            "{{ config(materialized='table') }}\nselect 1 as one",
        ),
        (
            "models/schema.yml",
            r#"version: 2
models:
  - name: clean_lines
    expectations:
      - name: positive_qty
        expression: qty > 0
        on_violation: drop
      - name: has_price
        expression: price is not null
        on_violation: warn
  - name: strict_lines
    expectations:
      - name: positive_qty
        expression: qty > 0
        on_violation: fail
"#,
        ),
    ]);
    let run = orderlake(&root, &["build"]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.stdout.contains("ERROR in model strict_lines"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("'positive_qty' (2 rows)"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("SKIP  model  main.after_strict"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("OK    model  main.independent"),
        "{}",
        run.stdout
    );
    assert!(!root.join("warehouse/main/strict_lines/_delta_log").exists());

    let kept: Vec<i64> = rows(&root, "select id from main.clean_lines order by id")
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect();
    assert_eq!(kept, [1, 4, 5]);
    let quarantined = rows(
        &root,
        "select id, _expectations, _run_id from main.clean_lines__quarantine order by id",
    );
    let ids: Vec<i64> = quarantined
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [2, 3]);
    assert!(
        quarantined
            .iter()
            .all(|r| r["_expectations"] == "positive_qty")
    );
    // The warn expectation kept row 4 (no price) and the event log has the counts.
    let events = rows(
        &root,
        "select status, rows_dropped, rows_warned, rows_written, run_id from _orderlake.events where node = 'clean_lines'",
    );
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["status"], "warn");
    assert_eq!(events[0]["rows_dropped"], 2);
    assert_eq!(events[0]["rows_warned"], 1);
    assert_eq!(events[0]["rows_written"], 3);
    assert_eq!(events[0]["run_id"], quarantined[0]["_run_id"]);
    let runs = ok(&root, &["runs", "--format", "json"]);
    let runs: Value = serde_json::from_str(runs.stdout.trim()).unwrap();
    assert_eq!(runs[0]["failed"], 1);
    assert_eq!(runs[0]["skipped"], 1);
}

/// `source freshness` compares the newest loaded_at with warn_after / error_after.
#[test]
fn source_freshness() {
    let now = chrono::Utc::now();
    let fmt = |h: i64| {
        (now - chrono::Duration::hours(h))
            .format("%Y-%m-%d %H:%M:%S")
            .to_string()
    };
    let (_dir, root) = project(&[
        (
            "raw/orders.csv",
            &format!("id,loaded_at\n1,{}\n2,{}\n", fmt(30), fmt(2)),
        ),
        (
            "raw/payments.csv",
            &format!("id,loaded_at\n1,{}\n", fmt(30)),
        ),
        ("raw/items.csv", &format!("id,loaded_at\n1,{}\n", fmt(0))),
        (
            "models/sources.yml",
            r#"version: 2
sources:
  - name: raw
    loaded_at_field: loaded_at
    freshness:
      warn_after: {count: 1, period: hour}
      error_after: {count: 1, period: day}
    tables:
      - name: orders
        external_location: raw/orders.csv
      - name: payments
        external_location: raw/payments.csv
      - name: items
        external_location: raw/items.csv
"#,
        ),
    ]);
    let run = orderlake(&root, &["source", "freshness"]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.stdout.contains("WARN   source raw.orders"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("ERROR  source raw.payments"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("PASS   source raw.items"),
        "{}",
        run.stdout
    );
    let sources: Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("target/sources.json")).unwrap())
            .unwrap();
    assert_eq!(sources["results"].as_array().unwrap().len(), 3);
    let run = ok(&root, &["source", "freshness", "-s", "source:raw.items"]);
    assert!(run.stdout.contains("PASS"), "{}", run.stdout);
}

/// SIGKILL in the middle of a MERGE leaves the table readable at a committed version, and
/// the next run completes correctly.
#[cfg(unix)]
#[test]
fn killed_merge_leaves_the_table_at_a_committed_version() {
    let model = "{{ config(materialized='incremental', unique_key='id') }}
select value as id, value * {{ var('factor', 1) }} as v, repeat('x', 64) as pad
from generate_series(1, {{ var('n', 200000) }})";
    let (_dir, root) = project(&[("models/big.sql", model)]);
    ok(&root, &["run"]);
    assert_eq!(
        scalar_f64(&root, "select sum(v) from main.big"),
        (200_000f64 * 200_001f64) / 2.0
    );
    let table = root.join("warehouse/main/big");
    let files_before = std::fs::read_dir(&table).unwrap().count();

    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_orderlake"))
        .arg("--project-dir")
        .arg(&root)
        .args(["run", "--vars", "{factor: 2, n: 400000}"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Kill as soon as the merge starts writing data files (before its commit, if we can).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while std::time::Instant::now() < deadline {
        if std::fs::read_dir(&table).unwrap().count() > files_before {
            break;
        }
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let finished_on_its_own = child.try_wait().unwrap().is_some();
    let _ = child.kill();
    let _ = child.wait();

    // Readable, and at one committed version: either all old values or all new ones.
    let sum = scalar_f64(&root, "select sum(v) from main.big where id <= 200000");
    let old = (200_000f64 * 200_001f64) / 2.0;
    assert!(sum == old || sum == 2.0 * old, "torn table: sum {sum}");
    eprintln!(
        "killed merge: process {}, table at the {} version",
        if finished_on_its_own {
            "had already finished"
        } else {
            "was killed"
        },
        if sum == old { "previous" } else { "new" }
    );

    // The next run completes and the table is right.
    ok(&root, &["run", "--vars", "{factor: 2, n: 400000}"]);
    assert_eq!(
        scalar_f64(&root, "select count(*) from main.big"),
        400_000.0
    );
    assert_eq!(
        scalar_f64(&root, "select sum(v) from main.big"),
        400_000f64 * 400_001f64
    );
}
