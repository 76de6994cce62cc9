//! `orderlake demo`: the main job. Until the OMS lakehouse lands it builds the bundled example
//! project (a jaffle-shop-style dbt project) end to end and prints headline numbers.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};
use orderlake_engine::output::{Format, format_batches};

use crate::{GlobalArgs, RunArgs};

/// The example project, embedded so the binary runs the demo from any folder.
const EXAMPLE: &[(&str, &str)] = &[
    (
        "dbt_project.yml",
        include_str!("../../../examples/jaffle_shop/dbt_project.yml"),
    ),
    (
        "macros/cents_to_dollars.sql",
        include_str!("../../../examples/jaffle_shop/macros/cents_to_dollars.sql"),
    ),
    (
        "models/staging/stg_customers.sql",
        include_str!("../../../examples/jaffle_shop/models/staging/stg_customers.sql"),
    ),
    (
        "models/staging/stg_orders.sql",
        include_str!("../../../examples/jaffle_shop/models/staging/stg_orders.sql"),
    ),
    (
        "models/staging/stg_payments.sql",
        include_str!("../../../examples/jaffle_shop/models/staging/stg_payments.sql"),
    ),
    (
        "models/staging/schema.yml",
        include_str!("../../../examples/jaffle_shop/models/staging/schema.yml"),
    ),
    (
        "models/marts/orders.sql",
        include_str!("../../../examples/jaffle_shop/models/marts/orders.sql"),
    ),
    (
        "models/marts/customers.sql",
        include_str!("../../../examples/jaffle_shop/models/marts/customers.sql"),
    ),
    (
        "models/marts/schema.yml",
        include_str!("../../../examples/jaffle_shop/models/marts/schema.yml"),
    ),
    (
        "seeds/raw_customers.csv",
        include_str!("../../../examples/jaffle_shop/seeds/raw_customers.csv"),
    ),
    (
        "seeds/raw_orders.csv",
        include_str!("../../../examples/jaffle_shop/seeds/raw_orders.csv"),
    ),
    (
        "seeds/raw_payments.csv",
        include_str!("../../../examples/jaffle_shop/seeds/raw_payments.csv"),
    ),
    (
        "tests/assert_order_amounts_match_payments.sql",
        include_str!("../../../examples/jaffle_shop/tests/assert_order_amounts_match_payments.sql"),
    ),
];

pub async fn run(global: &GlobalArgs, out: &Path) -> Result<ExitCode> {
    for (rel, content) in EXAMPLE {
        let path = out.join(rel);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| dir.display().to_string())?;
        }
        std::fs::write(&path, content).with_context(|| path.display().to_string())?;
    }
    println!(
        "orderlake demo: building the example project in {}\n",
        out.display()
    );
    let mut global = global.clone();
    global.project_dir = out.to_path_buf();
    let code = crate::execute(&global, "demo", &RunArgs::default(), &crate::ALL_KINDS).await?;
    if code != ExitCode::SUCCESS {
        return Ok(code);
    }
    let project = crate::load_project(&global)?;
    let warehouse = crate::open_warehouse(&project).await?;
    let headline = "select count(*) as customers, sum(number_of_orders) as orders, \
                    round(sum(customer_lifetime_value), 2) as revenue, \
                    round(sum(customer_lifetime_value) / sum(number_of_orders), 2) as aov \
                    from main.customers";
    let batches = warehouse.sql(headline).await?.collect().await?;
    println!(
        "\nHeadline numbers (main.customers):\n{}",
        format_batches(&batches, Format::Table)?
    );
    println!(
        "\nQuery it: orderlake --project-dir {} sql \"select * from main.customers order by value_rank limit 5\"",
        out.display()
    );
    Ok(ExitCode::SUCCESS)
}
