//! dbt packages: a `local:` package's macros and models join the project; the bundled
//! dbt_utils and dbt cross-database macros work under their usual names; a package that is
//! neither bundled nor installed is named in a clear error.

use crate::util::*;

const ORDERS: &str = "id,customer,status,amount_cents,ordered_at
1,a,placed,1000,2024-01-01
2,a,shipped,2500,2024-01-02
3,b,placed,,2024-01-03
4,c,returned,700,2024-01-03
";

fn fixture() -> (tempfile::TempDir, std::path::PathBuf) {
    let (dir, root) = project(&[
        ("shared/dbt_project.yml", "name: shared\nversion: '1.0'\n"),
        (
            "shared/macros/money.sql",
            "{% macro cents(col) %}({{ col }} / 100.0){% endmacro %}\n{% macro statuses() %}{{ return(['placed', 'shipped']) }}{% endmacro %}\n",
        ),
        (
            "shared/models/shared_calendar.sql",
            "{{ dbt_utils.date_spine('day', \"cast('2024-01-01' as date)\", \"cast('2024-01-05' as date)\") }}\n",
        ),
        (
            "app/dbt_project.yml",
            "name: app\nversion: '1.0'\nmodels:\n  shared:\n    +materialized: table\n",
        ),
        (
            "app/packages.yml",
            "packages:\n  - local: ../shared\n  - package: dbt-labs/dbt_utils\n    version: [\">=1.0.0\", \"<2.0.0\"]\n",
        ),
        ("app/seeds/orders.csv", ORDERS),
        (
            "app/seeds/more_orders.csv",
            "id,customer,channel\n5,d,web\n",
        ),
        (
            "app/models/orders_wide.sql",
            "select {{ dbt_utils.star(ref('orders'), except=['amount_cents']) }},\n       {{ shared.cents('amount_cents') }} as amount,\n       {{ dbt_utils.generate_surrogate_key(['id', 'customer']) }} as order_key,\n       {{ dbt.dateadd('month', 1, 'ordered_at') }} as next_month\nfrom {{ ref('orders') }}\n",
        ),
        (
            "app/models/status_pivot.sql",
            "select customer, {{ dbt_utils.pivot('status', dbt_utils.get_column_values(ref('orders'), 'status', order_by='status')) }}\nfrom {{ ref('orders') }} group by customer\n",
        ),
        (
            "app/models/unioned.sql",
            "{{ dbt_utils.union_relations(relations=[ref('orders'), ref('more_orders')]) }}\n",
        ),
        (
            "app/models/long.sql",
            "{{ dbt_utils.unpivot(ref('more_orders'), exclude=['id']) }}\n",
        ),
        (
            "app/models/statuses.sql",
            "{% for s in shared.statuses() %}select '{{ s }}' as status{% if not loop.last %} union all {% endif %}{% endfor %}\n",
        ),
        (
            "app/models/schema.yml",
            "version: 2\nmodels:\n  - name: orders_wide\n    tests:\n      - dbt_utils.unique_combination_of_columns:\n          combination_of_columns: [id, customer]\n      - dbt_utils.expression_is_true:\n          expression: \"amount >= 0\"\n      - dbt_utils.equal_rowcount:\n          compare_model: ref('orders')\n    columns:\n      - name: amount\n        tests:\n          - dbt_utils.accepted_range:\n              min_value: 0\n              max_value: 100\n          - dbt_utils.accepted_range:\n              name: amount_under_20\n              max_value: 20\n              config:\n                severity: warn\n",
        ),
    ]);
    (dir, root)
}

#[test]
fn local_packages_and_bundled_dbt_utils_build_with_the_right_answers() {
    let (_dir, root) = fixture();
    let app = root.join("app");
    let run = ok(&app, &["build"]);
    assert!(
        run.stdout.contains("13 nodes") && run.stdout.contains("12 ok, 1 warn"),
        "{}",
        run.all()
    );
    // star() left out amount_cents and kept the other four columns, in order.
    let wide = rows(&app, "select * from main.orders_wide order by id");
    let columns: Vec<&str> = wide[0].keys().map(String::as_str).collect();
    for c in [
        "id",
        "customer",
        "status",
        "ordered_at",
        "amount",
        "order_key",
    ] {
        assert!(columns.contains(&c), "{columns:?}");
    }
    assert!(!columns.contains(&"amount_cents"), "{columns:?}");
    assert_eq!(
        scalar_f64(&app, "select sum(amount) from main.orders_wide"),
        42.0
    );
    // md5('1-a') and md5('3-b'), computed outside orderlake.
    assert_eq!(wide[0]["order_key"], "fd863b01647cb662580dd67b9839d8de");
    assert_eq!(wide[2]["order_key"], "c1e5a844f83a5a65379d65bacc1bb271");
    assert!(
        wide[0]["next_month"]
            .as_str()
            .is_some_and(|t| t.starts_with("2024-02-01")),
        "{:?}",
        wide[0]
    );
    // get_column_values ran a query; pivot made one column per status.
    let pivot = rows(
        &app,
        "select placed, shipped, returned from main.status_pivot where customer = 'a'",
    );
    assert_eq!(pivot[0]["placed"], 1);
    assert_eq!(pivot[0]["shipped"], 1);
    assert_eq!(pivot[0]["returned"], 0);
    // union_relations lined up both seeds' columns, nulls where one lacks a column.
    assert_eq!(scalar_f64(&app, "select count(*) from main.unioned"), 5.0);
    assert_eq!(
        scalar_f64(
            &app,
            "select count(*) from main.unioned where channel = 'web' and status is null and id = 5"
        ),
        1.0
    );
    assert_eq!(
        scalar_f64(
            &app,
            "select count(distinct _dbt_source_relation) from main.unioned"
        ),
        2.0
    );
    assert_eq!(
        scalar_f64(&app, "select count(*) from main.long where id = 5"),
        2.0
    );
    // The package's model, configured from the root project's `models: shared:`.
    assert_eq!(
        scalar_f64(&app, "select count(*) from main.shared_calendar"),
        4.0
    );
    let listed = ok(&app, &["ls", "-s", "shared_calendar", "--output", "json"]);
    assert!(
        listed.stdout.contains("\"materialized\":\"table\""),
        "{}",
        listed.stdout
    );
    assert!(
        listed
            .stdout
            .contains("\"unique_id\":\"model.shared.shared_calendar\""),
        "{}",
        listed.stdout
    );
    // A macro's return value reached the model.
    assert_eq!(scalar_f64(&app, "select count(*) from main.statuses"), 2.0);
}

#[test]
fn a_package_neither_bundled_nor_installed_is_named() {
    let (_dir, root) = project(&[
        (
            "packages.yml",
            "packages:\n  - package: calogica/dbt_expectations\n    version: 0.10.4\n",
        ),
        ("models/m.sql", "select 1 as x"),
    ]);
    let run = orderlake(&root, &["build"]);
    assert_ne!(run.code, 0, "{}", run.all());
    assert!(
        run.stderr
            .contains("packages.yml: package 'calogica/dbt_expectations' is not bundled"),
        "{}",
        run.all()
    );
    assert!(run.stderr.contains("dbt deps"), "{}", run.all());
}
