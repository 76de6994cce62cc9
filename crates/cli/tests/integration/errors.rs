//! End to end: bad input gets a clear error naming the file (and line), and a non-zero exit.

use crate::util::*;

#[test]
fn missing_ref_names_file_line_and_closest_name() {
    let (_dir, root) = project(&[
        ("models/customers.sql", "select 1 as id"),
        ("models/report.sql", "select *\nfrom {{ ref('customer') }}"),
    ]);
    let run = orderlake(&root, &["build"]);
    assert_ne!(run.code, 0);
    assert!(
        run.stderr.contains("models/report.sql:2: ref('customer') does not name a model, seed or snapshot (did you mean 'customers'?)"),
        "{}",
        run.all()
    );
}

#[test]
fn cycle_is_refused_with_its_nodes() {
    let (_dir, root) = project(&[
        ("models/a.sql", "select * from {{ ref('b') }}"),
        ("models/b.sql", "select * from {{ ref('c') }}"),
        ("models/c.sql", "select * from {{ ref('a') }}"),
    ]);
    let run = orderlake(&root, &["build"]);
    assert_ne!(run.code, 0);
    assert!(run.stderr.contains("dependency cycle:"), "{}", run.all());
    for n in ["model.fixture.a", "model.fixture.b", "model.fixture.c"] {
        assert!(run.stderr.contains(n), "{}", run.all());
    }
}

#[test]
fn invalid_yaml_names_file_and_line() {
    let (_dir, root) = project(&[
        ("models/a.sql", "select 1 as id"),
        (
            "models/schema.yml",
            "version: 2\nmodels:\n  - name: a\n    columns: [\n      - name: id\n",
        ),
    ]);
    let run = orderlake(&root, &["build"]);
    assert_ne!(run.code, 0);
    assert!(run.stderr.contains("models/schema.yml:"), "{}", run.all());
    assert!(run.stderr.contains("invalid YAML"), "{}", run.all());

    let (_dir, root) = project(&[(
        "dbt_project.yml",
        "name: x\nmodels:\n  x:\n   +materialized: table\n  - bad\n",
    )]);
    let run = orderlake(&root, &["build"]);
    assert_ne!(run.code, 0);
    assert!(run.stderr.contains("dbt_project.yml:5:"), "{}", run.all());
}

#[test]
fn sql_error_names_model_message_and_compiled_path() {
    let (_dir, root) = project(&[
        ("models/good.sql", "select 1 as id"),
        (
            "models/bad.sql",
            "{{ config(materialized='table') }}\nselect no_such_column from {{ ref('good') }}",
        ),
        ("models/after_bad.sql", "select * from {{ ref('bad') }}"),
    ]);
    let run = orderlake(&root, &["build"]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(run.stdout.contains("ERROR in model bad"), "{}", run.stdout);
    assert!(run.stdout.contains("no_such_column"), "{}", run.stdout);
    assert!(
        run.stdout
            .contains("compiled SQL: target/compiled/fixture/models/bad.sql"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("SKIP  model  main.after_bad"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("OK    model  main.good"),
        "{}",
        run.stdout
    );
    // Nothing half-written: the failed table does not exist.
    assert!(!root.join("warehouse/main/bad/_delta_log").exists());
}

#[test]
fn duplicate_model_names_both_files() {
    let (_dir, root) = project(&[
        ("models/staging/orders.sql", "select 1 as id"),
        ("models/marts/orders.sql", "select 2 as id"),
    ]);
    let run = orderlake(&root, &["build"]);
    assert_ne!(run.code, 0);
    assert!(
        run.stderr.contains("models/marts/orders.sql"),
        "{}",
        run.all()
    );
    assert!(
        run.stderr.contains("models/staging/orders.sql"),
        "{}",
        run.all()
    );
    assert!(run.stderr.contains("'orders'"), "{}", run.all());
}

#[test]
fn unknown_source_var_and_test_are_named() {
    let (_dir, root) = project(&[(
        "models/a.sql",
        "select * from {{ source('raw', 'orderz') }}",
    )]);
    let run = orderlake(&root, &["build"]);
    assert_ne!(run.code, 0);
    assert!(
        run.stderr
            .contains("models/a.sql:1: source('raw', 'orderz') is not defined"),
        "{}",
        run.all()
    );

    let (_dir, root) = project(&[("models/a.sql", "select 1 as x\n\nwhere {{ var('as_of') }}")]);
    let run = orderlake(&root, &["build"]);
    assert_ne!(run.code, 0);
    assert!(
        run.stderr
            .contains("models/a.sql:3: var('as_of') is not set"),
        "{}",
        run.all()
    );

    let (_dir, root) = project(&[
        ("models/a.sql", "select 1 as x"),
        (
            "models/s.yml",
            "version: 2\nmodels:\n  - name: a\n    columns:\n      - name: x\n        tests: [uniqe]\n",
        ),
    ]);
    let run = orderlake(&root, &["build"]);
    assert_ne!(run.code, 0);
    assert!(
        run.stderr.contains("models/s.yml: unknown test 'uniqe'"),
        "{}",
        run.all()
    );
}

#[test]
fn jinja_syntax_error_names_file_and_line() {
    let (_dir, root) = project(&[("models/a.sql", "select 1\n{% if %}\n")]);
    let run = orderlake(&root, &["build"]);
    assert_ne!(run.code, 0);
    assert!(run.stderr.contains("models/a.sql:2:"), "{}", run.all());
}

#[test]
fn not_a_project() {
    let dir = tempfile::tempdir().unwrap();
    let run = orderlake(dir.path(), &["build"]);
    assert_ne!(run.code, 0);
    assert!(
        run.stderr.contains("no dbt_project.yml here"),
        "{}",
        run.all()
    );
}

#[test]
fn config_typo_fails_at_load_with_file_line_and_allowed_values() {
    let (_dir, root) = project(&[
        ("models/base.sql", "select 1 as id"),
        (
            "models/orders.sql",
            "{{ config(\n    materialized='incremental',\n    unique_key='id',\n    incremental_strategy='merg'\n) }}\nselect * from {{ ref('base') }}",
        ),
    ]);
    let expected = "models/orders.sql:4: model 'orders': incremental_strategy 'merg' is not one of append, merge, delete+insert, microbatch (did you mean 'merge'?)";
    for command in [&["compile"][..], &["ls"], &["build"]] {
        let run = orderlake(&root, command);
        assert_eq!(run.code, 2, "{command:?}: {}", run.all());
        assert!(run.stderr.contains(expected), "{command:?}: {}", run.all());
    }
    // Nothing was written: not even the model that is fine, nor the compiled SQL.
    assert!(!root.join("warehouse").join("main").join("base").exists());
    assert!(!root.join("target").join("compiled").exists());

    // The same typo in a properties file and in dbt_project.yml is found there.
    let (_dir, root) = project(&[
        ("models/snap_src.sql", "select 1 as id"),
        (
            "models/schema.yml",
            "version: 2\nmodels:\n  - name: snap_src\n    config:\n      materialized: incremental\n      on_schema_change: append_new_column\n",
        ),
    ]);
    let run = orderlake(&root, &["compile"]);
    assert_eq!(run.code, 2, "{}", run.all());
    assert!(
        run.stderr.contains("models/schema.yml:6: model 'snap_src': on_schema_change 'append_new_column' is not one of ignore, fail, append_new_columns, sync_all_columns"),
        "{}",
        run.all()
    );
    let (_dir, root) = project(&[
        (
            "dbt_project.yml",
            "name: fixture\nmodels:\n  fixture:\n    +materialized: tabel\n",
        ),
        ("models/a.sql", "select 1 as id"),
    ]);
    let run = orderlake(&root, &["ls"]);
    assert_eq!(run.code, 2, "{}", run.all());
    assert!(
        run.stderr.contains("dbt_project.yml:4: model 'a': materialized 'tabel' is not one of view, table, incremental, ephemeral, cdc (did you mean 'table'?)"),
        "{}",
        run.all()
    );
}
