//! `orderlake generate` and `orderlake ingest`: from nothing to bronze.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use orderlake_generate::{Config, Summary};
use orderlake_ingest::{FileReport, IngestOptions};

use crate::GlobalArgs;

/// Average order lines per generated order, so `--scale` can be given in lines.
const LINES_PER_ORDER: f64 = 2.3;

#[derive(Args, Clone)]
pub struct GenerateArgs {
    /// The landing folder to write into.
    #[arg(long)]
    pub out: PathBuf,
    /// Size in millions of order lines (0.01 = about ten thousand lines).
    #[arg(long, conflicts_with = "orders")]
    pub scale: Option<f64>,
    /// Exactly this many orders.
    #[arg(long)]
    pub orders: Option<u64>,
    /// Days of orders.
    #[arg(long, default_value_t = 180)]
    pub days: u32,
    /// Random seed: the same seed writes the same files.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Share of rows made messy: duplicates, late updates, nulls, malformed rows (0 to 1).
    #[arg(long, default_value_t = 0.0)]
    pub messy: f64,
    /// The first day of orders (YYYY-MM-DD).
    #[arg(long, default_value = "2024-01-01")]
    pub start: String,
}

impl GenerateArgs {
    pub fn orders(&self) -> Result<u64> {
        match (self.orders, self.scale) {
            (Some(n), _) => Ok(n),
            (None, Some(s)) if s > 0.0 && s.is_finite() => {
                Ok(((s * 1_000_000.0 / LINES_PER_ORDER).round() as u64).max(1))
            }
            (None, Some(s)) => bail!("--scale must be a positive number, got {s}"),
            (None, None) => Ok(10_000),
        }
    }

    pub fn config(&self) -> Result<Config> {
        let mut config = Config::new(crate::absolute(&self.out), self.orders()?);
        config.days = self.days;
        config.seed = self.seed;
        if !(0.0..=1.0).contains(&self.messy) {
            bail!("--messy must be between 0 and 1, got {}", self.messy);
        }
        config.messy = self.messy;
        config.start = chrono::NaiveDate::parse_from_str(&self.start, "%Y-%m-%d")
            .with_context(|| format!("--start {}: expected YYYY-MM-DD", self.start))?;
        Ok(config)
    }
}

fn bar(len: u64, what: &str) -> ProgressBar {
    if !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template(&format!(
            "{{elapsed_precise}} [{{bar:40}}] {{pos}}/{{len}} {what} ({{per_sec}})"
        ))
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

pub fn generate(args: &GenerateArgs) -> Result<Summary> {
    let config = args.config()?;
    run_generate(&config)
}

pub fn run_generate(config: &Config) -> Result<Summary> {
    let started = std::time::Instant::now();
    let progress = bar(config.orders, "orders");
    let summary = orderlake_generate::generate(config, &|done| {
        if done % 1024 == 0 {
            progress.set_position(done)
        }
    })
    .with_context(|| format!("generating into {}", config.out.display()))?;
    progress.finish_and_clear();
    let malformed: u64 = summary.malformed.values().sum();
    println!(
        "Generated {} orders, {} order lines, {} customers, {} products in {:.1}s into {} \
         ({} duplicates, {} late updates, {} malformed rows); as_of_date {}",
        summary.orders,
        summary.order_lines,
        summary.customers,
        summary.products,
        started.elapsed().as_secs_f64(),
        config.out.display(),
        summary.duplicates,
        summary.late_updates,
        malformed,
        summary.as_of_date
    );
    Ok(summary)
}

pub async fn ingest(
    global: &GlobalArgs,
    landing: &orderlake_project::StorageLocation,
    schema: &str,
    platform: Option<orderlake_ingest::Platform>,
) -> Result<ExitCode> {
    let project = crate::load_project(global)?;
    let warehouse = crate::open_warehouse(&project).await?;
    run_ingest(&project, &warehouse, landing, schema, platform).await?;
    Ok(ExitCode::SUCCESS)
}

pub async fn run_ingest(
    project: &orderlake_project::Project,
    warehouse: &orderlake_engine::Warehouse,
    landing: impl Into<orderlake_project::StorageLocation>,
    schema: &str,
    platform: Option<orderlake_ingest::Platform>,
) -> Result<Vec<FileReport>> {
    let started = std::time::Instant::now();
    let mut options = IngestOptions::for_project(project, schema);
    options.platform = platform;
    let print = |r: &FileReport| {
        if r.skipped {
            println!("  skip  {:<36} already loaded", r.file);
        } else {
            println!(
                "  load  {:<36} → {schema}.{:<22} {:>10} rows {:>6} quarantined",
                r.file, r.entity, r.rows_loaded, r.rows_quarantined
            );
            if !r.new_columns.is_empty() {
                println!(
                    "        new column(s) added to {schema}.{}: {}",
                    r.entity,
                    r.new_columns.join(", ")
                );
            }
            if r.rows_rescued > 0 {
                println!(
                    "        {} row(s) kept with unknown columns or misfit values in _rescued_data",
                    r.rows_rescued
                );
            }
        }
    };
    let landing = landing.into();
    let reports = orderlake_ingest::ingest(warehouse, &landing, &options, &print)
        .await
        .with_context(|| format!("ingesting {landing}"))?;
    let loaded: u64 = reports.iter().map(|r| r.rows_loaded).sum();
    let quarantined: u64 = reports.iter().map(|r| r.rows_quarantined).sum();
    let new_files = reports.iter().filter(|r| !r.skipped).count();
    println!(
        "Ingested {new_files} new file(s) ({} already loaded): {loaded} rows to {schema}, \
         {quarantined} to {schema}.{} in {:.1}s",
        reports.len() - new_files,
        orderlake_ingest::QUARANTINE,
        started.elapsed().as_secs_f64()
    );
    Ok(reports)
}
