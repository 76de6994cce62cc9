//! dbt unit tests (`unit_tests:`, dbt 1.8's format) run with `test` and `build`: given rows
//! for refs, sources and `this`, expected rows compared as a multiset, overrides of vars and
//! `is_incremental`, dict, csv and sql formats.

use crate::util::*;

const MODELS: &[(&str, &str)] = &[
    (
        "seeds/customers.csv",
        "id,name,email\n1,Ada,ada@example.com\n2,Bola,not-an-email\n",
    ),
    (
        "models/sources.yml",
        "version: 2\nsources:\n  - name: shop\n    tables:\n      - name: payments\n",
    ),
    (
        "models/customer_emails.sql",
        "select id, name, email like '%@%.%' as is_valid_email\nfrom {{ ref('customers') }}\n",
    ),
    (
        "models/big_payments.sql",
        "select order_id, amount from {{ source('shop', 'payments') }} where amount >= {{ var('threshold', 100) }}\n",
    ),
    (
        "models/customer_totals.sql",
        "{{ config(materialized='incremental', unique_key='id') }}\nselect id, count(*) as n from {{ ref('customers') }}\n{% if is_incremental() %}where id > (select max(id) from {{ this }}){% endif %}\ngroup by id\n",
    ),
];

const UNIT_TESTS: &str = "version: 2
unit_tests:
  - name: emails_are_checked
    model: customer_emails
    given:
      - input: ref('customers')
        rows:
          - {id: 1, email: cool@example.com}
          - {id: 2, email: cool@unknown}
          - {id: 3, email: badgmail.com}
    expect:
      rows:
        - {id: 1, is_valid_email: true}
        - {id: 2, is_valid_email: false}
        - {id: 3, is_valid_email: false}
  - name: threshold_from_vars
    model: big_payments
    overrides:
      vars: {threshold: 10}
    given:
      - input: source('shop', 'payments')
        format: csv
        rows: |
          order_id,amount
          1,5
          2,10
          3,50
    expect:
      format: sql
      rows: |
        select 2 as order_id, 10 as amount union all select 3, 50
  - name: only_new_ids_when_incremental
    model: customer_totals
    overrides:
      macros: {is_incremental: true}
    given:
      - input: ref('customers')
        rows: [{id: 1}, {id: 2}, {id: 3}, {id: 3}]
      - input: this
        rows: [{id: 1, n: 1}]
    expect:
      rows:
        - {id: 2, n: 1}
        - {id: 3, n: 2}
";

#[test]
fn unit_tests_pass_with_given_rows_and_overrides_and_a_wrong_expectation_fails_with_a_diff() {
    let mut files = MODELS.to_vec();
    files.push(("models/unit_tests.yml", UNIT_TESTS));
    let (_dir, root) = project(&files);
    // Given rows are typed like the real input where it is built (the seed here: `name`, left
    // out of the rows, is null); the source has no data at all, and needs none.
    ok(&root, &["build", "-s", "customers"]);
    let run = ok(&root, &["test", "-s", "test_type:unit"]);
    for name in [
        "emails_are_checked",
        "threshold_from_vars",
        "only_new_ids_when_incremental",
    ] {
        assert!(
            run.stdout
                .lines()
                .any(|l| l.contains("PASS") && l.contains(name)),
            "{name}: {}",
            run.all()
        );
    }
    // `build` runs a model's unit tests with it.
    let run = ok(
        &root,
        &[
            "build",
            "-s",
            "customers",
            "customer_emails",
            "customer_totals",
        ],
    );
    assert!(
        run.stdout
            .lines()
            .any(|l| l.contains("PASS") && l.contains("emails_are_checked")),
        "{}",
        run.all()
    );

    // A wrong expectation fails, showing the rows that differ.
    let wrong = UNIT_TESTS.replace(
        "- {id: 2, is_valid_email: false}",
        "- {id: 2, is_valid_email: true}",
    );
    write(&root, "models/unit_tests.yml", &wrong);
    let run = orderlake(&root, &["test", "-s", "customer_emails"]);
    assert_ne!(run.code, 0, "{}", run.all());
    let out = run.all();
    assert!(
        out.contains("FAIL") && out.contains("emails_are_checked"),
        "{out}"
    );
    assert!(out.contains("- {id: 2, is_valid_email: true}"), "{out}");
    assert!(out.contains("+ {id: 2, is_valid_email: false}"), "{out}");
}

#[test]
fn a_unit_test_naming_an_unknown_model_or_column_is_a_clear_error() {
    let mut files = MODELS.to_vec();
    files.push((
        "models/unit_tests.yml",
        "version: 2\nunit_tests:\n  - name: t\n    model: nope\n    given: []\n    expect: {rows: []}\n",
    ));
    let (_dir, root) = project(&files);
    let run = orderlake(&root, &["test"]);
    assert_ne!(run.code, 0);
    assert!(
        run.stderr
            .contains("models/unit_tests.yml: unit test 't': no model named 'nope'"),
        "{}",
        run.all()
    );
    // Before the input is built, a missing column says so.
    write(
        &root,
        "models/unit_tests.yml",
        "version: 2\nunit_tests:\n  - name: t\n    model: customer_emails\n    given:\n      - input: ref('customers')\n        rows: [{id: 1, email: a@b.c}]\n    expect:\n      rows: [{id: 1}]\n",
    );
    let run = orderlake(&root, &["test"]);
    assert_ne!(run.code, 0);
    assert!(
        run.all().contains("not built yet") && run.all().contains("ref('customers')"),
        "{}",
        run.all()
    );
    ok(&root, &["build", "-s", "customers"]);
    write(
        &root,
        "models/unit_tests.yml",
        "version: 2\nunit_tests:\n  - name: t\n    model: customer_emails\n    given:\n      - input: ref('customers')\n        rows: [{id: 1, email: a@b.c}]\n    expect:\n      rows: [{id: 1, valid: true}]\n",
    );
    let run = orderlake(&root, &["test"]);
    assert_ne!(run.code, 0);
    assert!(
        run.all().contains("expected column 'valid' is not in the model's output (columns: id, name, is_valid_email)"),
        "{}",
        run.all()
    );
}
