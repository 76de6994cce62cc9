//! End to end: the binary builds projects, and what lands in the warehouse is right.

use std::collections::BTreeMap;

use crate::util::*;

/// The example (jaffle-shop-style) project builds unmodified, and its marts equal a computation
/// done here straight from the seed CSVs.
#[test]
fn jaffle_shop_builds_and_marts_match_the_seeds() {
    let (_dir, root) = jaffle_shop();
    let run = ok(&root, &["build", "--threads", "4"]);
    assert!(run.stdout.contains("Finished 25 nodes"), "{}", run.stdout);
    assert!(
        run.stdout
            .contains("25 ok, 0 warn, 0 error, 0 fail, 0 skipped"),
        "{}",
        run.stdout
    );

    // Independent computation from the seeds.
    let orders = read_csv(&root.join("seeds/raw_orders.csv"));
    let payments = read_csv(&root.join("seeds/raw_payments.csv"));
    let customer_of: BTreeMap<i64, i64> = orders
        .iter()
        .map(|r| (r[0].parse().unwrap(), r[1].parse().unwrap()))
        .collect();
    let mut order_count: BTreeMap<i64, i64> = BTreeMap::new();
    for customer in customer_of.values() {
        *order_count.entry(*customer).or_default() += 1;
    }
    let mut clv_cents: BTreeMap<i64, i64> = BTreeMap::new();
    let mut order_cents: BTreeMap<i64, i64> = BTreeMap::new();
    let mut card_cents: BTreeMap<i64, i64> = BTreeMap::new();
    for p in &payments {
        let order: i64 = p[1].parse().unwrap();
        let cents: i64 = p[3].parse().unwrap();
        *clv_cents.entry(customer_of[&order]).or_default() += cents;
        *order_cents.entry(order).or_default() += cents;
        if p[2] == "credit_card" {
            *card_cents.entry(order).or_default() += cents;
        }
    }

    let customers = rows(
        &root,
        "select customer_id, number_of_orders, customer_lifetime_value, customer_tier from main.customers order by customer_id",
    );
    assert_eq!(customers.len(), 50);
    for row in &customers {
        let id = row["customer_id"].as_i64().unwrap();
        let expected_orders = order_count.get(&id).copied();
        assert_eq!(
            row["number_of_orders"].as_i64(),
            expected_orders,
            "orders of customer {id}"
        );
        match clv_cents.get(&id) {
            Some(cents) => {
                let clv = row["customer_lifetime_value"].as_f64().unwrap();
                assert!(
                    (clv - *cents as f64 / 100.0).abs() < 0.005,
                    "clv of {id}: {clv} vs {cents}"
                );
            }
            None => assert!(
                row["customer_lifetime_value"].is_null(),
                "customer {id} has no payments"
            ),
        }
        let tier = match expected_orders.unwrap_or(0) {
            n if n >= 3 => "regular",
            n if n >= 1 => "occasional",
            _ => "prospect",
        };
        assert_eq!(row["customer_tier"], tier, "tier of {id}");
    }

    // The Jinja loop pivoted one column per payment method.
    let pivot = rows(
        &root,
        "select order_id, credit_card_amount, amount from main.orders order by order_id",
    );
    assert_eq!(pivot.len(), orders.len());
    for row in &pivot {
        let id = row["order_id"].as_i64().unwrap();
        let card = row["credit_card_amount"].as_f64().unwrap_or(0.0);
        assert!((card - card_cents.get(&id).copied().unwrap_or(0) as f64 / 100.0).abs() < 0.005);
        if let Some(total) = order_cents.get(&id) {
            assert!((row["amount"].as_f64().unwrap() - *total as f64 / 100.0).abs() < 0.005);
        }
    }

    // Views survive the process: a new process reads them from the warehouse.
    assert_eq!(
        scalar_f64(&root, "select count(*) from main.stg_orders"),
        orders.len() as f64
    );
    assert!(root.join("warehouse/main/stg_orders/view.sql").is_file());
    assert!(root.join("warehouse/main/customers/_delta_log").is_dir());

    // Artifacts like dbt's.
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("target/manifest.json")).unwrap())
            .unwrap();
    assert_eq!(manifest["nodes"].as_object().unwrap().len(), 25);
    assert_eq!(
        manifest["nodes"]["model.jaffle_shop.customers"]["depends_on"]["nodes"],
        serde_json::json!([
            "model.jaffle_shop.stg_customers",
            "model.jaffle_shop.stg_orders",
            "model.jaffle_shop.stg_payments"
        ])
    );
    let results: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("target/run_results.json")).unwrap(),
    )
    .unwrap();
    let statuses: Vec<&str> = results["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses.len(), 25);
    assert!(
        statuses.iter().all(|s| *s == "success" || *s == "pass"),
        "{statuses:?}"
    );
    let compiled =
        std::fs::read_to_string(root.join("target/compiled/jaffle_shop/models/marts/orders.sql"))
            .unwrap();
    assert!(compiled.contains("as gift_card_amount"), "{compiled}");
    assert!(
        compiled.contains("from \"main\".\"stg_payments\""),
        "{compiled}"
    );

    // `show` previews a model.
    let show = ok(
        &root,
        &["show", "customers", "--limit", "3", "--format", "csv"],
    );
    assert_eq!(show.stdout.lines().count(), 4, "{}", show.stdout);
}

/// A deliberately failing test is reported as failed, with a non-zero exit; `severity: warn`
/// reports a warning and exits zero; in `build`, models downstream of the failure are skipped.
#[test]
fn failing_tests_fail_and_skip_downstream() {
    let (_dir, root) = jaffle_shop();
    ok(&root, &["build"]);
    write(
        &root,
        "tests/no_orders_in_2018.sql",
        "select * from {{ ref('stg_orders') }} where order_date >= date '2018-01-01'",
    );
    let run = orderlake(&root, &["test"]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.stdout.contains("FAIL  test   no_orders_in_2018"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("got 120 results, configured to fail if !=0"),
        "{}",
        run.stdout
    );
    // The first failing rows are shown, with the test's own columns.
    let shown = run
        .stdout
        .split("first 5 failing rows:")
        .nth(1)
        .unwrap_or_else(|| panic!("no failing rows shown:\n{}", run.stdout));
    assert!(
        shown.contains("order_id") && shown.contains("order_date"),
        "{shown}"
    );
    assert!(shown.contains("2018-"), "{shown}");
    let data_lines = shown
        .lines()
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter(|l| l.starts_with("  |") && l.contains("2018-"))
        .count();
    assert_eq!(data_lines, 5, "{shown}");
    let results: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("target/run_results.json")).unwrap(),
    )
    .unwrap();
    let failed: Vec<&serde_json::Value> = results["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["status"] == "fail")
        .collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["failures"], 120);

    // In build, the failing test on stg_orders blocks the marts that read stg_orders.
    let run = orderlake(&root, &["build"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stdout.contains("SKIP  model  main.orders"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("SKIP  model  main.customers"),
        "{}",
        run.stdout
    );

    // As a warning it passes, and with store_failures the failing rows are kept.
    write(
        &root,
        "tests/no_orders_in_2018.sql",
        "{{ config(severity='warn', store_failures=true) }}\nselect * from {{ ref('stg_orders') }} where order_date >= date '2018-03-01'",
    );
    let run = ok(&root, &["test", "-s", "no_orders_in_2018"]);
    assert!(
        run.stdout.contains("WARN  test   no_orders_in_2018"),
        "{}",
        run.stdout
    );
    let stored = scalar_f64(
        &root,
        "select count(*) from main_dbt_test__audit.no_orders_in_2018",
    );
    let expected = read_csv(&root.join("seeds/raw_orders.csv"))
        .iter()
        .filter(|r| r[2].as_str() >= "2018-03-01")
        .count();
    assert_eq!(stored as usize, expected);
}

/// Selection: names, graph operators, tags, paths, exclusion; tests follow their models.
#[test]
fn selection_syntax() {
    let (_dir, root) = jaffle_shop();
    let ls = |args: &[&str]| -> Vec<String> {
        let mut full = vec!["ls", "--output", "name"];
        full.extend_from_slice(args);
        let mut names: Vec<String> = ok(&root, &full)
            .stdout
            .lines()
            .map(str::to_string)
            .collect();
        names.sort();
        names
    };
    assert_eq!(
        ls(&["-s", "+orders", "--resource-type", "model"]),
        ["orders", "stg_orders", "stg_payments"]
    );
    assert_eq!(
        ls(&["-s", "+orders", "--resource-type", "seed"]),
        ["raw_orders", "raw_payments"]
    );
    assert_eq!(
        ls(&["-s", "stg_customers+", "--resource-type", "model"]),
        ["customers", "stg_customers"]
    );
    assert_eq!(
        ls(&["-s", "tag:staging", "--resource-type", "model"]),
        ["stg_customers", "stg_orders", "stg_payments"]
    );
    assert_eq!(
        ls(&["-s", "path:models/marts", "--resource-type", "model"]),
        ["customers", "orders"]
    );
    assert_eq!(
        ls(&[
            "-s",
            "staging",
            "--exclude",
            "stg_orders",
            "--resource-type",
            "model"
        ]),
        ["stg_customers", "stg_payments"]
    );
    assert_eq!(
        ls(&["-s", "stg_orders", "--resource-type", "test"]).len(),
        3
    );

    // Running a selection builds only it (and the parents must exist already).
    ok(&root, &["seed"]);
    let run = ok(&root, &["run", "-s", "stg_orders"]);
    assert!(run.stdout.contains("Finished 1 node"), "{}", run.stdout);
}

/// Ephemeral models are inlined as CTEs; custom schemas follow a project's own
/// generate_schema_name; seeds honour column_types; vars come from --vars; custom generic
/// tests work; sources can point at raw files.
#[test]
fn ephemeral_schemas_seeds_vars_sources_and_custom_tests() {
    let (_dir, root) = project(&[
        (
            "dbt_project.yml",
            r#"
name: shop
version: '1.0'
config-version: 2
vars:
  min_amount: 0
models:
  shop:
    +materialized: table
    silver:
      +schema: silver
seeds:
  shop:
    prices:
      +column_types:
        price: decimal(10,2)
        sku: varchar
"#,
        ),
        (
            "macros/schema.sql",
            "{% macro generate_schema_name(custom_schema_name, node) -%}{{ custom_schema_name | trim if custom_schema_name is not none else target.schema }}{%- endmacro %}",
        ),
        (
            "seeds/prices.csv",
            "sku,price\n001,1.50\n002,2.25\n003,10.00\n",
        ),
        (
            "raw/lines_1.csv",
            "line_id,sku,qty,sold_at\n1,001,2,2024-01-05 10:00:00\n2,002,1,2024-01-06 11:30:00\n",
        ),
        (
            "raw/lines_2.csv",
            "line_id,sku,qty,sold_at\n3,003,4,2024-02-01 09:15:00\n4,001,1,2024-02-03 16:45:00\n",
        ),
        (
            "models/sources.yml",
            "version: 2\nsources:\n  - name: raw\n    tables:\n      - name: lines\n        external_location: 'raw/*.csv'\n",
        ),
        (
            "models/silver/lines_priced.sql",
            "{{ config(materialized='ephemeral') }}\nselect l.line_id, l.sku, l.qty, p.price, l.qty * p.price as amount, l.sold_at\nfrom {{ source('raw', 'lines') }} l join {{ ref('prices') }} p on lpad(cast(l.sku as varchar), 3, '0') = p.sku",
        ),
        (
            "models/silver/monthly.sql",
            "with m as (select date_trunc('month', cast(sold_at as timestamp)) as month, sum(amount) as revenue, sum(qty) as units, year(cast(sold_at as timestamp)) as yr from {{ ref('lines_priced') }} where amount > {{ var('min_amount') }} group by 1, 4)\nselect * from m",
        ),
        (
            "models/silver/schema.yml",
            "version: 2\nmodels:\n  - name: monthly\n    columns:\n      - name: revenue\n        tests:\n          - positive\n          - not_null\n",
        ),
        (
            "tests/generic/positive.sql",
            "{% test positive(model, column_name) %}\nselect * from {{ model }} where {{ column_name }} <= 0\n{% endtest %}",
        ),
    ]);
    let run = ok(&root, &["build"]);
    assert!(
        run.stdout.contains("PASS  test   positive_monthly_revenue"),
        "{}",
        run.stdout
    );
    // The ephemeral model is not in the warehouse; the table is in schema `silver`.
    assert!(!root.join("warehouse/silver/lines_priced").exists());
    assert!(root.join("warehouse/silver/monthly/_delta_log").is_dir());
    let compiled =
        std::fs::read_to_string(root.join("target/compiled/shop/models/silver/monthly.sql"))
            .unwrap();
    assert!(
        compiled.starts_with("with __dbt__cte__lines_priced as ("),
        "{compiled}"
    );

    let monthly = rows(
        &root,
        "select cast(revenue as double) as revenue, units, yr from silver.monthly order by month",
    );
    assert_eq!(monthly.len(), 2);
    assert!((monthly[0]["revenue"].as_f64().unwrap() - (2.0 * 1.50 + 2.25)).abs() < 1e-9);
    assert!((monthly[1]["revenue"].as_f64().unwrap() - (4.0 * 10.00 + 1.50)).abs() < 1e-9);
    assert_eq!(monthly[1]["units"], 5);
    assert_eq!(monthly[0]["yr"], 2024);

    // column_types: sku keeps its leading zeros as text; price is a decimal.
    let types = rows(
        &root,
        "select arrow_typeof(sku) as s, arrow_typeof(price) as p, min(sku) as first from main.prices group by 1, 2",
    );
    assert!(
        types[0]["s"].as_str().unwrap().starts_with("Utf8"),
        "{types:?}"
    );
    assert_eq!(types[0]["p"], "Decimal128(10, 2)");
    assert_eq!(types[0]["first"], "001");

    // --vars overrides dbt_project.yml.
    ok(
        &root,
        &["run", "-s", "monthly", "--vars", "{min_amount: 10}"],
    );
    assert_eq!(
        scalar_f64(&root, "select count(*) from silver.monthly"),
        1.0
    );
}

/// A model that fails at run time leaves the previous version of its table in place.
#[test]
fn failed_build_keeps_the_previous_table() {
    let (_dir, root) = project(&[(
        "models/t.sql",
        "{{ config(materialized='table') }}\nselect * from (values (1), (2), (3)) v(x)",
    )]);
    ok(&root, &["run"]);
    assert_eq!(scalar_f64(&root, "select sum(x) from main.t"), 6.0);
    write(
        &root,
        "models/t.sql",
        "{{ config(materialized='table') }}\nselect cast(x as int) as x from (values ('1'), ('oops')) v(x)",
    );
    let run = orderlake(&root, &["run"]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(run.stdout.contains("ERROR in model t"), "{}", run.stdout);
    assert_eq!(scalar_f64(&root, "select sum(x) from main.t"), 6.0);
}

/// dbt-duckdb's way to point sources at files: `external_location` under `meta:` (or `config:`)
/// of the source, a template with `{name}` for each table, overridden by a table's own, with
/// `{identifier}` and a `format` where the extension does not say it.
#[test]
fn dbt_duckdb_external_locations_at_source_and_table_level() {
    let (_dir, root) = project(&[
        ("data/orders.csv", "o_id,customer\n1,ada\n2,bola\n"),
        ("data/line_items.txt", "o_id,qty\n1,2\n1,3\n2,7\n"),
        (
            "models/sources.yml",
            "version: 2\nsources:\n  - name: tpch\n    meta:\n      external_location: \"data/{name}.csv\"\n    tables:\n      - name: orders\n      - name: lineitem\n        identifier: line_items\n        config:\n          external_location: \"data/{identifier}.txt\"\n          format: csv\n",
        ),
        (
            "models/order_qty.sql",
            "{{ config(materialized='table') }}\nselect o.customer, sum(l.qty) as qty\nfrom {{ source('tpch', 'orders') }} o join {{ source('tpch', 'lineitem') }} l on l.o_id = o.o_id\ngroup by 1",
        ),
    ]);
    ok(&root, &["build"]);
    assert_eq!(
        scalar_f64(
            &root,
            "select qty from main.order_qty where customer = 'ada'"
        ),
        5.0
    );
    assert_eq!(
        scalar_f64(
            &root,
            "select qty from main.order_qty where customer = 'bola'"
        ),
        7.0
    );
    // A view over a file source opens in a later command (`sql`), its source registered first.
    write(
        &root,
        "models/stg_orders.sql",
        "select * from {{ source('tpch', 'orders') }}",
    );
    ok(&root, &["build", "-s", "stg_orders"]);
    let run = ok(&root, &["sql", "select count(*) as n from main.stg_orders"]);
    assert!(!run.stderr.contains("cannot open view"), "{}", run.all());
    assert_eq!(
        scalar_f64(&root, "select count(*) from main.stg_orders"),
        2.0
    );
}

/// A source whose file is missing: the model that reads it fails naming the model, the source
/// and the path; models that do not read it, and queries, still run.
#[test]
fn a_missing_source_file_names_the_source_the_path_and_the_model() {
    let (_dir, root) = project(&[
        (
            "models/sources.yml",
            "version: 2\nsources:\n  - name: raw\n    meta:\n      external_location: 'data/{name}.parquet'\n    tables:\n      - name: orders\n",
        ),
        (
            "models/stg_orders.sql",
            "select * from {{ source('raw', 'orders') }}",
        ),
        (
            "models/calendar.sql",
            "{{ config(materialized='table') }}\nselect 1 as day",
        ),
    ]);
    let run = orderlake(&root, &["build"]);
    assert_eq!(run.code, 1, "{}", run.all());
    for part in [
        "model 'stg_orders' (models/stg_orders.sql)",
        "needs source 'raw.orders'",
        "data/orders.parquet",
    ] {
        assert!(run.stdout.contains(part), "{part}: {}", run.all());
    }
    assert_eq!(scalar_f64(&root, "select day from main.calendar"), 1.0);
}

/// DuckDB's file-reading table functions in model SQL: paths relative to the project, globs,
/// and options DuckDB users write; an option that would change the reading is refused by name.
#[test]
fn duckdb_read_functions_in_models() {
    let (_dir, root) = project(&[
        ("data/sales_1.csv", "id,amount\n1,10.5\n2,4.5\n"),
        ("data/sales_2.csv", "id,amount\n3,5.0\n"),
        ("data/refunds.json", "{\"id\": 2, \"refund\": 1.5}\n"),
        (
            "models/net.sql",
            "{{ config(materialized='table') }}\nselect sum(s.amount) - sum(coalesce(r.refund, 0)) as net\nfrom read_csv_auto('data/sales_*.csv', header = true) s\nleft join read_json_auto('data/refunds.json') r on r.id = s.id",
        ),
    ]);
    ok(&root, &["build"]);
    assert_eq!(scalar_f64(&root, "select net from main.net"), 18.5);
    // A view reading files, queried later from another folder: its paths stay the project's.
    write(
        &root,
        "models/raw_sales.sql",
        "select * from read_csv_auto('data/sales_*.csv')",
    );
    ok(&root, &["build", "-s", "raw_sales"]);
    assert_eq!(
        scalar_f64(&root, "select count(*) from main.raw_sales"),
        3.0
    );
    std::fs::remove_file(root.join("models/raw_sales.sql")).expect("rm");
    write(
        &root,
        "models/net.sql",
        "select * from read_csv('data/sales_1.csv', delim = ';')",
    );
    let run = orderlake(&root, &["build"]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.stdout.contains("read_csv") && run.stdout.contains("delim"),
        "{}",
        run.all()
    );
}

/// Incremental models append only what `is_incremental()` selects; --full-refresh rebuilds.
#[test]
fn incremental_append_and_full_refresh() {
    let (_dir, root) = project(&[
        ("seeds/events.csv", "id,v\n1,10\n2,20\n"),
        (
            "models/inc.sql",
            "{{ config(materialized='incremental') }}\nselect id, v from {{ ref('events') }}\n{% if is_incremental() %}where id > (select max(id) from {{ this }}){% endif %}",
        ),
    ]);
    ok(&root, &["build"]);
    assert_eq!(scalar_f64(&root, "select count(*) from main.inc"), 2.0);
    write(&root, "seeds/events.csv", "id,v\n1,10\n2,20\n3,30\n");
    ok(&root, &["build"]);
    assert_eq!(scalar_f64(&root, "select sum(v) from main.inc"), 60.0);
    ok(&root, &["build", "--full-refresh"]);
    assert_eq!(scalar_f64(&root, "select count(*) from main.inc"), 3.0);
}

/// Functions dbt users bring from DuckDB and Snowflake.
#[test]
fn dialect_functions() {
    let (_dir, root) = project(&[]);
    let r = rows(
        &root,
        "select datediff('day', date '2024-01-30', date '2024-03-01') as d, \
                date_diff('month', date '2024-01-31', date '2024-03-01') as m, \
                datediff('year', timestamp '2023-12-31 23:00:00', timestamp '2024-01-01 01:00:00') as y, \
                datediff('hour', timestamp '2024-01-01 10:59:00', timestamp '2024-01-01 12:01:00') as h, \
                month(date '2024-07-04') as mo, day(date '2024-07-04') as dd",
    );
    assert_eq!(r[0]["d"], 31);
    assert_eq!(r[0]["m"], 2);
    assert_eq!(r[0]["y"], 1);
    assert_eq!(r[0]["h"], 2);
    assert_eq!(r[0]["mo"], 7);
    assert_eq!(r[0]["dd"], 4);
}

/// `init` creates a project that builds and passes its tests.
#[test]
fn init_creates_a_working_project() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("new_shop");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_orderlake"))
        .arg("init")
        .arg(&root)
        .output()
        .unwrap();
    assert!(out.status.success());
    let run = ok(&root, &["build"]);
    assert!(run.stdout.contains("0 error, 0 fail"), "{}", run.stdout);
    assert_eq!(
        scalar_f64(
            &root,
            "select revenue from main.customer_totals where customer = 'ada'"
        ),
        42.5
    );
}

/// A CSV glob whose files were typed differently by inference (whole numbers in one, decimals or
/// an empty column in another) reads as one source with the widest type, instead of failing to
/// merge the schemas.
#[test]
fn a_csv_glob_with_int_and_float_files_reads_with_the_widest_type() {
    let (_dir, root) = project(&[
        ("data/a.csv", "id,x,note\n1,1,a\n2,2,b\n"),
        ("data/b.csv", "id,x,note\n3,1.5,\n4,,\n"),
        (
            "models/sources.yml",
            "version: 2\nsources:\n  - name: raw\n    tables:\n      - name: pts\n        external_location: 'data/*.csv'\n",
        ),
        (
            "models/m.sql",
            "{{ config(materialized='table') }}\nselect sum(x) as s, count(*) as n, count(note) as notes from {{ source('raw', 'pts') }}",
        ),
    ]);
    ok(&root, &["build"]);
    assert_eq!(scalar_f64(&root, "select s from main.m"), 4.5);
    assert_eq!(scalar_f64(&root, "select n from main.m"), 4.0);
    assert_eq!(scalar_f64(&root, "select notes from main.m"), 2.0);
}

/// Bug: a table reading a view whose definition changed was left as it was ("nothing it reads
/// changed"): views are inlined into the table's query, so the Delta tables under them were
/// unchanged, and the view's new SQL was not part of what the table's last build recorded.
#[test]
fn a_table_over_a_view_whose_definition_changed_is_recomputed() {
    let (_tmp, root) = project(&[
        ("seeds/amounts.csv", "id,amount\n1,10\n2,20\n"),
        (
            "models/doubled.sql",
            "{{ config(materialized='view') }}\nselect id, amount * 2 as amount from {{ ref('amounts') }}",
        ),
        (
            "models/total.sql",
            "{{ config(materialized='table') }}\nselect sum(amount) as total from {{ ref('doubled') }}",
        ),
    ]);
    ok(&root, &["build"]);
    assert_eq!(scalar_f64(&root, "select total from main.total"), 60.0);
    write(
        &root,
        "models/doubled.sql",
        "{{ config(materialized='view') }}\nselect id, amount * 3 as amount from {{ ref('amounts') }}",
    );
    ok(&root, &["build"]);
    assert_eq!(scalar_f64(&root, "select total from main.total"), 90.0);
    // Unchanged again: nothing to write (the recorded definitions are stable), total right.
    ok(&root, &["build"]);
    assert_eq!(scalar_f64(&root, "select total from main.total"), 90.0);
    let last = rows(
        &root,
        "select refresh, refresh_reason from _orderlake.events where node = 'total' order by run_started_at desc limit 1",
    );
    assert_eq!(last[0]["refresh"], "incremental", "{last:?}");
}
