//! `orderlake demo`: the main job. Writes the bundled OMS project, generates a realistic order
//! dataset into its landing folder, ingests it into bronze, builds silver and gold, runs every
//! test and prints headline numbers.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;
use include_dir::{Dir, include_dir};
use orderlake_engine::output::{Format, format_batches};

use crate::{GlobalArgs, RunArgs, RunCommand};

/// The OMS lakehouse project, embedded folder by folder (never its `warehouse/` or `target/`)
/// so the binary runs the demo from anywhere.
static OMS_FOLDERS: [(&str, Dir<'static>); 4] = [
    (
        "models",
        include_dir!("$CARGO_MANIFEST_DIR/../../projects/oms/models"),
    ),
    (
        "macros",
        include_dir!("$CARGO_MANIFEST_DIR/../../projects/oms/macros"),
    ),
    (
        "snapshots",
        include_dir!("$CARGO_MANIFEST_DIR/../../projects/oms/snapshots"),
    ),
    (
        "tests",
        include_dir!("$CARGO_MANIFEST_DIR/../../projects/oms/tests"),
    ),
];
const OMS_PROJECT_FILE: &str = include_str!("../../../projects/oms/dbt_project.yml");
/// The jaffle-shop-style example: a plain dbt project.
static JAFFLE_FOLDERS: [(&str, Dir<'static>); 4] = [
    (
        "models",
        include_dir!("$CARGO_MANIFEST_DIR/../../examples/jaffle_shop/models"),
    ),
    (
        "macros",
        include_dir!("$CARGO_MANIFEST_DIR/../../examples/jaffle_shop/macros"),
    ),
    (
        "seeds",
        include_dir!("$CARGO_MANIFEST_DIR/../../examples/jaffle_shop/seeds"),
    ),
    (
        "tests",
        include_dir!("$CARGO_MANIFEST_DIR/../../examples/jaffle_shop/tests"),
    ),
];
const JAFFLE_PROJECT_FILE: &str = include_str!("../../../examples/jaffle_shop/dbt_project.yml");
/// The commerce project (one schema over Olist, Shopify, WooCommerce and the OMS).
static COMMERCE_FOLDERS: [(&str, Dir<'static>); 4] = [
    (
        "models",
        include_dir!("$CARGO_MANIFEST_DIR/../../projects/commerce/models"),
    ),
    (
        "macros",
        include_dir!("$CARGO_MANIFEST_DIR/../../projects/commerce/macros"),
    ),
    (
        "seeds",
        include_dir!("$CARGO_MANIFEST_DIR/../../projects/commerce/seeds"),
    ),
    (
        "tests",
        include_dir!("$CARGO_MANIFEST_DIR/../../projects/commerce/tests"),
    ),
];
const COMMERCE_PROJECT_FILE: &str = include_str!("../../../projects/commerce/dbt_project.yml");

#[derive(Args, Clone)]
pub struct DemoArgs {
    /// Where to put the demo project, its landing folder and its warehouse.
    #[arg(long, default_value = "orderlake-demo")]
    pub out: PathBuf,
    /// Size in millions of order lines (the default, about 12 thousand lines, takes seconds).
    #[arg(long, conflicts_with = "orders")]
    pub scale: Option<f64>,
    /// Exactly this many orders.
    #[arg(long)]
    pub orders: Option<u64>,
    /// Share of messy rows in the generated data (duplicates, late updates, malformed rows).
    #[arg(long, default_value_t = 0.02)]
    pub messy: f64,
    /// Random seed of the generated data.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Build the jaffle-shop example (a plain dbt project) instead of the OMS lakehouse.
    #[arg(long, conflicts_with = "olist")]
    pub jaffle_shop: bool,
    /// Build the commerce project (projects/commerce) on an Olist export instead: a folder with
    /// the Kaggle dataset's CSV files (e.g. ../shared/data/olist or the full download). The
    /// project goes to OUT/commerce; the folder is read, never changed.
    #[arg(long, value_name = "DIR")]
    pub olist: Option<PathBuf>,
    /// Stop after the build instead of serving the dashboard and SQL endpoint, kept fresh from
    /// the landing folder (`serve --watch`).
    #[arg(long)]
    pub no_serve: bool,
    /// Address of the dashboard and docs.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub http: String,
    /// Address of the PostgreSQL-wire SQL endpoint.
    #[arg(long, default_value = "127.0.0.1:5433")]
    pub pg: String,
    /// Who may log in over SQL, as NAME:PASSWORD (see `serve --pg-user`).
    #[arg(long = "pg-user", env = "ORDERLAKE_PG_USERS", value_delimiter = ',')]
    pub pg_users: Vec<String>,
}

impl DemoArgs {
    /// `serve --watch` on the demo's landing folder.
    fn serve_args(&self, landing: PathBuf) -> crate::serve::ServeArgs {
        crate::serve::ServeArgs {
            http: self.http.clone(),
            pg: self.pg.clone(),
            no_pg: false,
            pg_users: self.pg_users.clone(),
            sql: Default::default(),
            refresh_secs: 2.0,
            watch: true,
            live: crate::watch::LiveArgs {
                landing: Some(landing.into()),
                bronze_schema: "bronze".into(),
                debounce_ms: 100,
                poll: None,
                retention_minutes: 60.0,
            },
            no_schedules: false,
        }
    }
}

/// Writes an embedded project into `out`, replacing files of the same name.
fn write_project(folders: &[(&str, Dir<'static>)], project_file: &str, out: &Path) -> Result<()> {
    std::fs::create_dir_all(out).with_context(|| out.display().to_string())?;
    let path = out.join("dbt_project.yml");
    std::fs::write(&path, project_file).with_context(|| path.display().to_string())?;
    for (name, dir) in folders {
        write_dir(dir, &out.join(name))?;
    }
    Ok(())
}

fn write_dir(dir: &Dir<'_>, out: &Path) -> Result<()> {
    for entry in dir.entries() {
        match entry {
            include_dir::DirEntry::Dir(d) => write_dir(d, out)?,
            include_dir::DirEntry::File(f) => {
                let path = out.join(f.path());
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent)
                        .with_context(|| parent.display().to_string())?;
                }
                std::fs::write(&path, f.contents()).with_context(|| path.display().to_string())?;
            }
        }
    }
    Ok(())
}

pub async fn run(global: &GlobalArgs, args: &DemoArgs) -> Result<ExitCode> {
    if args.jaffle_shop {
        return jaffle_shop(global, &args.out).await;
    }
    if let Some(olist) = &args.olist {
        return commerce(global, args, olist).await;
    }
    let started = std::time::Instant::now();
    let out = crate::absolute(&args.out);
    write_project(&OMS_FOLDERS, OMS_PROJECT_FILE, &out)?;
    println!("orderlake demo: the OMS lakehouse in {}\n", out.display());

    // 1. Source files in the landing folder (kept when a run with the same size already wrote them).
    let landing = out.join("landing");
    let generate = crate::lake::GenerateArgs {
        out: landing.clone(),
        scale: args.scale,
        orders: args.orders.or(if args.scale.is_none() {
            Some(5_000)
        } else {
            None
        }),
        days: 180,
        seed: args.seed,
        messy: args.messy,
        start: "2024-01-01".into(),
    };
    let config = generate.config()?;
    let summary = match orderlake_generate::read_summary(&landing) {
        Some(s) if s.orders == config.orders => {
            println!("Landing files already generated ({} orders).", s.orders);
            s
        }
        _ => {
            if landing.exists() {
                std::fs::remove_dir_all(&landing).with_context(|| landing.display().to_string())?;
            }
            crate::lake::run_generate(&config)?
        }
    };

    // 2. Landing → bronze, exactly once.
    let served = {
        let mut served = global.clone();
        served.project_dir = out.clone();
        served
    };
    let mut global = global.clone();
    global.project_dir = out.clone();
    let as_of = format!("as_of_date: '{}'", summary.as_of_date);
    global.vars = Some(match &global.vars {
        Some(v) => {
            let trimmed = v.trim().trim_start_matches('{').trim_end_matches('}');
            format!("{{{as_of}, {trimmed}}}")
        }
        None => format!("{{{as_of}}}"),
    });
    let project = crate::load_project(&global)?;
    let warehouse = crate::open_warehouse(&project).await?;
    println!();
    crate::lake::run_ingest(&project, &warehouse, &landing, "bronze", None).await?;
    drop(warehouse);

    // 3. Bronze → silver → gold, with every test.
    let warehouse = match build(&global).await? {
        Ok(warehouse) => warehouse,
        Err(code) => return Ok(code),
    };
    let headline = "select count(distinct order_id) as orders, \
                    sum(case when line_type = 'sale' then quantity else 0 end) as units_sold, \
                    cast(sum(net_revenue) as decimal(18,2)) as net_revenue, \
                    cast(sum(gross_profit) as decimal(18,2)) as gross_profit, \
                    round(100.0 * cast(sum(gross_profit) as double) / cast(sum(net_revenue) as double), 1) as margin_pct \
                    from gold.fct_sales";
    println!(
        "\nHeadline (as of {}):\n{}",
        summary.as_of_date,
        table(&warehouse, headline).await?
    );
    let segments = "select segment, count(*) as customers, cast(sum(monetary) as decimal(18,2)) as clv \
                    from gold.customer_segmentation group by segment order by clv desc";
    println!("{}", table(&warehouse, segments).await?);
    let risk = "select risk_segment, count(*) as customers, round(avg(p_active_90d), 3) as p_active_90d, \
                cast(sum(expected_value_12m) as decimal(18,2)) as expected_value_12m \
                from gold.customer_predictions group by risk_segment order by p_active_90d desc";
    let backtest = "select metric, round(model, 3) as model, round(baseline, 3) as baseline, \
                    round(floor, 3) as bar, baseline_rule from gold.prediction_backtest order by metric";
    println!(
        "\nChurn risk over the next 90 days (gold.customer_predictions):\n{}\nBacktest (gold.prediction_backtest):\n{}",
        table(&warehouse, risk).await?,
        table(&warehouse, backtest).await?
    );
    done(
        started,
        &out,
        "select * from gold.customer_metrics order by clv desc limit 5",
    );
    if args.no_serve {
        return Ok(ExitCode::SUCCESS);
    }
    // 4. Served live: files dropped into the landing folder (or published by a desk running
    // next to it) reach gold by themselves. The live lake runs as of today, not the pinned date
    // of the generated history, so that orders billed now have their day in the calendar.
    println!(
        "\nServing live from {} (Ctrl-C to stop); run a desk next to it with\n  orderlake desk serve --landing {}",
        landing.display(),
        landing.display()
    );
    crate::serve::serve(&served, &args.serve_args(landing.clone())).await
}

/// Builds the project with every test, then opens its warehouse to report from; the build's
/// exit code instead when anything failed.
async fn build(global: &GlobalArgs) -> Result<Result<orderlake_engine::Warehouse, ExitCode>> {
    println!();
    let code = crate::execute(global, RunCommand::Build, &RunArgs::default()).await?;
    if code != ExitCode::SUCCESS {
        return Ok(Err(code));
    }
    let project = crate::load_project(global)?;
    Ok(Ok(crate::open_warehouse(&project).await?))
}

/// The closing line: how long the demo took and a query to try on its project.
fn done(started: std::time::Instant, project: &Path, query: &str) {
    println!(
        "\nDone in {:.1}s. Query it: orderlake --project-dir {} sql \"{query}\"",
        started.elapsed().as_secs_f64(),
        project.display()
    );
}

/// A query's result as a text table.
async fn table(warehouse: &orderlake_engine::Warehouse, sql: &str) -> Result<String> {
    let batches = warehouse.sql(sql).await?.collect().await?;
    Ok(format_batches(&batches, Format::Table)?)
}

/// `demo --olist DIR`: the commerce project on an Olist export, built, tested and served.
async fn commerce(global: &GlobalArgs, args: &DemoArgs, olist: &Path) -> Result<ExitCode> {
    let started = std::time::Instant::now();
    let out = crate::absolute(&args.out).join("commerce");
    write_project(&COMMERCE_FOLDERS, COMMERCE_PROJECT_FILE, &out)?;
    println!(
        "orderlake demo: the commerce project in {} on the Olist export in {}\n",
        out.display(),
        olist.display()
    );
    let mut global = global.clone();
    global.project_dir = out.clone();
    let project = crate::load_project(&global)?;
    let warehouse = crate::open_warehouse(&project).await?;
    crate::lake::run_ingest(
        &project,
        &warehouse,
        olist,
        "bronze",
        Some(orderlake_ingest::Platform::Olist),
    )
    .await?;
    drop(warehouse);
    let warehouse = match build(&global).await? {
        Ok(warehouse) => warehouse,
        Err(code) => return Ok(code),
    };
    let headline = "select source_platform, orders, customers, repeat_rate, reporting_currency, \
                    revenue_reporting, average_order_value_reporting \
                    from commerce_gold.platform_summary order by source_platform";
    println!("\n{}", table(&warehouse, headline).await?);
    done(
        started,
        &out,
        "select * from commerce_gold.revenue_by_month order by month",
    );
    if args.no_serve {
        return Ok(ExitCode::SUCCESS);
    }
    let mut serve = args.serve_args(olist.to_path_buf());
    serve.watch = false;
    serve.live.landing = None;
    crate::serve::serve(&global, &serve).await
}

async fn jaffle_shop(global: &GlobalArgs, out: &Path) -> Result<ExitCode> {
    write_project(&JAFFLE_FOLDERS, JAFFLE_PROJECT_FILE, out)?;
    println!(
        "orderlake demo: building the jaffle shop example in {}",
        out.display()
    );
    let mut global = global.clone();
    global.project_dir = out.to_path_buf();
    let warehouse = match build(&global).await? {
        Ok(warehouse) => warehouse,
        Err(code) => return Ok(code),
    };
    let headline = "select count(*) as customers, sum(number_of_orders) as orders, \
                    round(sum(customer_lifetime_value), 2) as revenue \
                    from main.customers";
    println!("\n{}", table(&warehouse, headline).await?);
    Ok(ExitCode::SUCCESS)
}
