//! End to end: bad input gets a clear error naming the file (and line), and a non-zero exit.

mod common;

use common::*;

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
