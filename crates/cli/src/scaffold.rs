//! `orderlake init`: a new project that builds and tests out of the box.

use std::path::Path;

use anyhow::{Context, Result, bail};

pub fn init(dir: &Path, name: Option<&str>) -> Result<()> {
    if dir.join("dbt_project.yml").exists() {
        bail!(
            "{} already holds a project (dbt_project.yml exists)",
            dir.display()
        );
    }
    let name = match name {
        Some(n) => n.to_string(),
        None => crate::absolute(dir)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "my_project".into()),
    };
    let name = orderlake_project::relation::clean_identifier(&name);
    let files: [(&str, String); 6] = [
        (
            "dbt_project.yml",
            format!(
                "name: '{name}'\nversion: '1.0.0'\nconfig-version: 2\n\nmodel-paths: [\"models\"]\nseed-paths: [\"seeds\"]\ntest-paths: [\"tests\"]\nmacro-paths: [\"macros\"]\n\nmodels:\n  {name}:\n    +materialized: view\n    marts:\n      +materialized: table\n"
            ),
        ),
        ("seeds/raw_orders.csv", "id,customer,ordered_on,amount\n1,ada,2024-01-02,12.50\n2,bob,2024-01-03,7.25\n3,ada,2024-02-10,30.00\n".into()),
        ("models/staging/stg_orders.sql", "select\n    id as order_id,\n    customer,\n    ordered_on,\n    amount\nfrom {{ ref('raw_orders') }}\n".into()),
        (
            "models/marts/customer_totals.sql",
            "select\n    customer,\n    count(*) as orders,\n    sum(amount) as revenue\nfrom {{ ref('stg_orders') }}\ngroup by customer\n".into(),
        ),
        (
            "models/schema.yml",
            "version: 2\n\nmodels:\n  - name: stg_orders\n    description: One row per order.\n    columns:\n      - name: order_id\n        tests: [unique, not_null]\n  - name: customer_totals\n    description: Orders and revenue per customer.\n    columns:\n      - name: customer\n        tests: [unique, not_null]\n".into(),
        ),
        ("macros/.gitkeep", String::new()),
    ];
    for (rel, content) in files {
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).with_context(|| parent.display().to_string())?;
        }
        std::fs::write(&path, content).with_context(|| path.display().to_string())?;
    }
    std::fs::create_dir_all(dir.join("tests")).with_context(|| dir.display().to_string())?;
    std::fs::write(dir.join(".gitignore"), "target/\nwarehouse/\n")
        .with_context(|| dir.display().to_string())?;
    Ok(())
}
