//! `--state`: `state:new` / `state:modified` selectors against an earlier run's manifest,
//! `result:` selectors against its run results, and `--defer` reading unbuilt parents from its
//! warehouse.

use std::collections::BTreeSet;

use crate::util::*;

fn names(run: &Run) -> BTreeSet<String> {
    run.stdout.lines().map(str::to_string).collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[test]
fn state_selectors_pick_what_changed_and_defer_reads_parents_from_the_earlier_warehouse() {
    let (_dir, root) = project(&[
        ("seeds/raw.csv", "id,amount\n1,10\n2,20\n3,30\n"),
        (
            "macros/double.sql",
            "{% macro double(x) %}({{ x }} * 2){% endmacro %}",
        ),
        (
            "models/a.sql",
            "{{ config(materialized='table') }}\nselect * from {{ ref('raw') }}",
        ),
        (
            "models/b.sql",
            "{{ config(materialized='table') }}\nselect id, amount from {{ ref('a') }} where amount > 5",
        ),
        (
            "models/c.sql",
            "select id, {{ double('amount') }} as twice from {{ ref('b') }}",
        ),
    ]);
    ok(&root, &["build"]);
    // What production ran: its target folder is the state.
    let prod_state = root.join("prod_state");
    std::fs::rename(root.join("target"), &prod_state).expect("move target");
    let state = prod_state.to_string_lossy().into_owned();

    let ls = |selector: &str| {
        names(&ok(
            &root,
            &[
                "ls",
                "--state",
                &state,
                "-s",
                selector,
                "--resource-type",
                "model",
                "--output",
                "name",
            ],
        ))
    };
    assert_eq!(ls("state:modified"), set(&[]));

    write(
        &root,
        "models/b.sql",
        "{{ config(materialized='table') }}\nselect id, amount from {{ ref('a') }} where amount > 15",
    );
    write(
        &root,
        "models/d.sql",
        "select count(*) as n from {{ ref('a') }}",
    );
    assert_eq!(ls("state:modified"), set(&["b", "d"]));
    assert_eq!(ls("state:new"), set(&["d"]));
    assert_eq!(ls("state:modified.body"), set(&["b"]));
    assert_eq!(ls("state:modified+"), set(&["b", "c", "d"]));

    // A changed macro marks the models that call it.
    write(
        &root,
        "macros/double.sql",
        "{% macro double(x) %}({{ x }} + {{ x }}){% endmacro %}",
    );
    assert_eq!(ls("state:modified.macros"), set(&["c"]));

    // --defer: a development warehouse without `a` builds `b` by reading prod's `a`.
    let dev = root.join("dev_wh");
    let dev = dev.to_string_lossy().into_owned();
    let run = ok(
        &root,
        &[
            "build",
            "-s",
            "b",
            "--state",
            &state,
            "--defer",
            "--warehouse",
            &dev,
        ],
    );
    assert!(run.stdout.contains("1 ok"), "{}", run.all());
    assert_eq!(
        scalar_f64(&root, "select count(*) from main.b"),
        3.0,
        "prod's b is untouched"
    );
    let dev_b = ok(
        &root,
        &[
            "sql",
            "--warehouse",
            &dev,
            "select count(*) as n from main.b",
            "--format",
            "csv",
        ],
    );
    assert!(
        dev_b.stdout.contains("\n2"),
        "dev's b keeps amount > 15 only: {}",
        dev_b.all()
    );
    assert!(
        !root.join("dev_wh/main/a").exists(),
        "a was read, not copied"
    );
    // Without --state, --defer says what it needs.
    let run = orderlake(&root, &["build", "-s", "b", "--defer", "--warehouse", &dev]);
    assert_ne!(run.code, 0);
    assert!(run.stderr.contains("pass --state DIR"), "{}", run.all());
}

#[test]
fn result_selectors_rerun_what_failed() {
    let (_dir, root) = project(&[
        ("models/good.sql", "select 1 as id"),
        (
            "models/bad.sql",
            "select no_such_column from {{ ref('good') }}",
        ),
        ("models/after_bad.sql", "select * from {{ ref('bad') }}"),
    ]);
    let run = orderlake(&root, &["build"]);
    assert_ne!(run.code, 0);
    let state = root.join("target").to_string_lossy().into_owned();
    let ls = ok(
        &root,
        &[
            "ls",
            "--state",
            &state,
            "-s",
            "result:error+",
            "--output",
            "name",
        ],
    );
    assert_eq!(names(&ls), set(&["bad", "after_bad"]));
    write(&root, "models/bad.sql", "select id from {{ ref('good') }}");
    let run = ok(&root, &["build", "--state", &state, "-s", "result:error+"]);
    assert!(run.stdout.contains("2 ok"), "{}", run.all());
    // Without --state the selector says what it needs.
    let run = orderlake(&root, &["ls", "-s", "result:error"]);
    assert_ne!(run.code, 0);
    assert!(run.stderr.contains("--state"), "{}", run.all());
}
