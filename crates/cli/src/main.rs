//! `orderlake`: build, test and query an order lakehouse from a dbt-style project.

mod cluster;
mod demo;
mod desk;
mod health;
mod jobs;
mod lake;
mod report;
mod scaffold;
mod serve;
mod watch;

/// jemalloc instead of glibc's allocator: a parse allocates millions of small strings (a
/// 10,000-model project parses in 0.46 s instead of 0.55 s). Measured against glibc and
/// mimalloc on the benchmarks: TPC-H SF1 5.15 s (glibc 4.9 s, mimalloc 6.0 s), peak memory of
/// the largest OMS model at 10 M lines 5.5 GB (glibc 5.4 GB, mimalloc 7.8 GB).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};
use orderlake_engine::Warehouse;
use orderlake_engine::invocation::{self, Command as RunCommand, Request};
use orderlake_engine::output::{Format, format_batches};
use orderlake_project::{LoadOptions, Project};

#[derive(Parser)]
#[command(
    name = "orderlake",
    version,
    about = "The order-management lakehouse in one binary: dbt-style models on DataFusion and Delta Lake"
)]
struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Clone)]
struct GlobalArgs {
    /// The project folder (holding dbt_project.yml).
    #[arg(
        long,
        alias = "project",
        global = true,
        default_value = ".",
        env = "ORDERLAKE_PROJECT_DIR"
    )]
    project_dir: PathBuf,
    /// Variables as YAML, e.g. "{as_of_date: '2024-06-30'}"; they override dbt_project.yml.
    #[arg(long, global = true)]
    vars: Option<String>,
    /// The output of profiles.yml to use.
    #[arg(long, global = true)]
    target: Option<String>,
    /// Where the warehouse is: a folder, or s3://bucket/prefix on any S3-compatible store
    /// (AWS_* settings; default: <project>/warehouse, or profiles.yml's path).
    #[arg(long, global = true, env = "ORDERLAKE_WAREHOUSE", value_parser = storage_location)]
    warehouse: Option<orderlake_project::StorageLocation>,
    /// Where model queries run: local (this process) or ballista://host:port, a Ballista
    /// scheduler whose executors read the warehouse (default: profiles.yml's engine, or local).
    #[arg(long, global = true, env = "ORDERLAKE_ENGINE", value_parser = compute)]
    engine: Option<orderlake_project::Compute>,
    /// How many nodes run at once.
    #[arg(long, global = true)]
    threads: Option<usize>,
    /// Parse every file, ignoring the parse cache (target/partial_parse.msgpack).
    #[arg(long, global = true, env = "ORDERLAKE_NO_PARTIAL_PARSE")]
    no_partial_parse: bool,
    /// More log output (-v info, -vv debug).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
}

#[derive(Args, Clone, Default)]
struct Selection {
    /// Nodes to include: names, globs, folders, tag:x, path:x, source:x, with + graph operators.
    #[arg(short = 's', long = "select", alias = "models", num_args = 1..)]
    select: Vec<String>,
    /// Nodes to leave out (same syntax).
    #[arg(long, num_args = 1..)]
    exclude: Vec<String>,
    /// An earlier run's target folder (manifest.json, run_results.json), for the selectors
    /// state:new, state:modified[.body|.configs|.contract|.macros] and result:<status>.
    #[arg(long, env = "ORDERLAKE_STATE")]
    state: Option<PathBuf>,
    /// Read parents that are neither selected nor built here from the --state run's warehouse.
    #[arg(long)]
    defer: bool,
}

#[derive(Args, Clone, Default)]
struct RunArgs {
    #[command(flatten)]
    selection: Selection,
    /// Rebuild incremental models from scratch.
    #[arg(long)]
    full_refresh: bool,
    /// Microbatch backfill: the first event time to rebuild (date or timestamp, UTC).
    #[arg(long)]
    event_time_start: Option<String>,
    /// Microbatch backfill: where to stop (exclusive).
    #[arg(long)]
    event_time_end: Option<String>,
}

#[derive(Copy, Clone, ValueEnum)]
enum OutputFormat {
    Table,
    Csv,
    Json,
}

impl From<OutputFormat> for Format {
    fn from(f: OutputFormat) -> Self {
        match f {
            OutputFormat::Table => Format::Table,
            OutputFormat::Csv => Format::Csv,
            OutputFormat::Json => Format::Json,
        }
    }
}

#[derive(Copy, Clone, ValueEnum)]
enum LsOutput {
    Name,
    Path,
    Selector,
    Json,
}

#[derive(Subcommand)]
enum SourceCommand {
    /// How old each source's newest row is, against its warn_after / error_after.
    Freshness {
        #[command(flatten)]
        selection: Selection,
    },
}

#[derive(Subcommand)]
enum Command {
    /// Create a new project folder with an example model, seed and test.
    Init {
        /// Where to create it.
        dir: PathBuf,
        /// The project name (default: the folder name).
        #[arg(long)]
        name: Option<String>,
    },
    /// Seeds, models and tests, in DAG order; downstream of a failure is skipped.
    Build(RunArgs),
    /// Build models only.
    Run(RunArgs),
    /// Run tests only.
    Test(RunArgs),
    /// Load seeds only.
    Seed(RunArgs),
    /// Take snapshots (SCD type 2) only.
    Snapshot(RunArgs),
    /// Source commands: `source freshness`.
    Source {
        #[command(subcommand)]
        command: SourceCommand,
    },
    /// Recent runs from the event log (`_orderlake.events`).
    Runs {
        /// How many runs.
        #[arg(long, default_value_t = 10)]
        limit: usize,
        /// Show the nodes of one run.
        #[arg(long)]
        run_id: Option<String>,
        #[arg(long, value_enum, default_value = "table")]
        format: OutputFormat,
    },
    /// Render every selected node to target/compiled without running it.
    Compile(Selection),
    /// List nodes.
    Ls {
        #[command(flatten)]
        selection: Selection,
        /// Only nodes of this type (model, seed, test, snapshot).
        #[arg(long)]
        resource_type: Option<String>,
        #[arg(long, value_enum, default_value = "selector")]
        output: LsOutput,
    },
    /// Preview a model's rows (or an inline query with --inline).
    Show {
        /// The model, seed or snapshot.
        model: Option<String>,
        /// A SQL query with Jinja instead of a model.
        #[arg(long)]
        inline: Option<String>,
        #[arg(long, default_value_t = 10)]
        limit: usize,
        #[arg(long, value_enum, default_value = "table")]
        format: OutputFormat,
    },
    /// Run an ad-hoc SQL query on the warehouse.
    Sql {
        query: String,
        #[arg(long, value_enum, default_value = "table")]
        format: OutputFormat,
    },
    /// Write realistic order-business source files (CSV, NDJSON, Parquet) into a landing folder.
    Generate(lake::GenerateArgs),
    /// Load new landing files into bronze Delta tables, exactly once.
    Ingest {
        /// The landing folder, or s3://bucket/prefix (each object loaded once).
        #[arg(long, value_parser = storage_location)]
        landing: orderlake_project::StorageLocation,
        /// The schema of the bronze tables.
        #[arg(long, default_value = "bronze")]
        schema: String,
        /// Every file must be this platform's export (olist, shopify, woocommerce); without
        /// it, platform exports are still recognised by their columns and other files load
        /// by their names.
        #[arg(long)]
        platform: Option<orderlake_ingest::Platform>,
    },
    /// Keep gold fresh: ingest each new landing file exactly once and refresh everything
    /// downstream of it, in micro-batches, until Ctrl-C.
    Watch(watch::WatchArgs),
    /// The main job: generate order data, ingest it, build bronze → silver → gold, test, report.
    Demo(demo::DemoArgs),
    /// The order desk: orders, billing, payments, returns, rebates, reports; its API server.
    Desk(desk::DeskArgs),
    /// Serve the dashboard, the docs site and the read-only PostgreSQL-wire SQL endpoint.
    Serve(serve::ServeArgs),
    /// The nodes of an Apache Ballista cluster that runs model queries (--engine ballista://…).
    Cluster(cluster::ClusterArgs),
    /// Run the jobs of schedules.yml on time until Ctrl-C (`serve` runs them too).
    Scheduler(jobs::SchedulerArgs),
    /// The jobs of schedules.yml: list them with their last and next runs, run one now, or
    /// read their log.
    Jobs {
        #[command(subcommand)]
        command: Option<jobs::JobsCommand>,
    },
    /// Compact small files, vacuum old ones and checkpoint the log of every Delta table.
    Maintain(jobs::MaintainArgs),
    /// The health of the lakehouse: failures, data quality, freshness, anomalies, table files;
    /// with --alert, tell health.yml's destinations what opened or cleared.
    Health(health::HealthArgs),
    /// The docs site with the lineage graph.
    Docs {
        #[command(subcommand)]
        command: serve::DocsCommand,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.global.verbose);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        // DataFusion and delta-rs walk expression trees recursively; a refresh of thousands of
        // touched keys filters by a long IN list. Only the pages used are committed.
        .thread_stack_size(64 << 20)
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(dispatch(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn,deltalake=error,deltalake_core=error",
        1 => "info,datafusion=warn,deltalake=error,deltalake_core=error",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("ORDERLAKE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
}

pub(crate) fn load_project(global: &GlobalArgs) -> Result<Project> {
    load_project_with_state(global, None)
}

/// `--warehouse`: a folder (relative to where the command runs) or a storage URL; other URL
/// schemes are refused by name.
fn storage_location(text: &str) -> std::result::Result<orderlake_project::StorageLocation, String> {
    let here = std::env::current_dir().map_err(|e| format!("the current folder: {e}"))?;
    orderlake_project::StorageLocation::parse(text, &here).map_err(|e| e.to_string())
}

/// `--engine`: `local` or a Ballista scheduler's address.
fn compute(text: &str) -> std::result::Result<orderlake_project::Compute, String> {
    orderlake_project::Compute::parse(text).map_err(|e| e.to_string())
}

/// [`load_project`] with `--state` (the commands that select: build, run, test, ls, compile).
fn load_project_with_state(global: &GlobalArgs, state: Option<&Path>) -> Result<Project> {
    let options = LoadOptions {
        vars: global.vars.clone(),
        target: global.target.clone(),
        warehouse: global.warehouse.clone(),
        compute: global.engine.clone(),
        threads: global.threads,
        state: state.map(absolute),
        no_partial_parse: global.no_partial_parse,
    };
    let root = global
        .project_dir
        .canonicalize()
        .with_context(|| format!("project folder {}", global.project_dir.display()))?;
    let project = Project::load(&root, &options)?;
    if let Some(notice) = &project.target.notice {
        eprintln!("{notice}");
    }
    Ok(project)
}

async fn open_warehouse(project: &Project) -> Result<Warehouse> {
    Ok(invocation::open_warehouse(project).await?)
}

async fn dispatch(cli: Cli) -> Result<ExitCode> {
    let global = cli.global;
    match cli.command {
        Command::Init { dir, name } => {
            scaffold::init(&dir, name.as_deref())?;
            println!(
                "Created project in {}. Next: cd {} && orderlake build",
                dir.display(),
                dir.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Build(args) => execute(&global, RunCommand::Build, &args).await,
        Command::Run(args) => execute(&global, RunCommand::Run, &args).await,
        Command::Test(args) => execute(&global, RunCommand::Test, &args).await,
        Command::Seed(args) => execute(&global, RunCommand::Seed, &args).await,
        Command::Snapshot(args) => execute(&global, RunCommand::Snapshot, &args).await,
        Command::Source {
            command: SourceCommand::Freshness { selection },
        } => freshness(&global, &selection).await,
        Command::Runs {
            limit,
            run_id,
            format,
        } => runs(&global, limit, run_id.as_deref(), format.into()).await,
        Command::Compile(selection) => compile(&global, &selection).await,
        Command::Ls {
            selection,
            resource_type,
            output,
        } => ls(&global, &selection, resource_type.as_deref(), output),
        Command::Show {
            model,
            inline,
            limit,
            format,
        } => {
            show(
                &global,
                model.as_deref(),
                inline.as_deref(),
                limit,
                format.into(),
            )
            .await
        }
        Command::Sql { query, format } => {
            let project = load_project(&global)?;
            let warehouse = open_warehouse(&project).await?;
            let batches = warehouse.sql_on_engine(&query).await?.collect().await?;
            print!(
                "{}",
                ensure_newline(format_batches(&batches, format.into())?)
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Generate(args) => lake::generate(&args).map(|_| ExitCode::SUCCESS),
        Command::Ingest {
            landing,
            schema,
            platform,
        } => lake::ingest(&global, &landing, &schema, platform).await,
        Command::Watch(args) => watch::watch(&global, &args).await,
        Command::Demo(args) => demo::run(&global, &args).await,
        Command::Desk(args) => desk::run(args).await,
        Command::Serve(args) => serve::serve(&global, &args).await,
        Command::Docs { command } => serve::docs(&global, &command).await,
        Command::Cluster(args) => cluster::run(args).await,
        Command::Scheduler(args) => jobs::scheduler(&global, &args).await,
        Command::Jobs { command } => {
            jobs::jobs(&global, &command.unwrap_or(jobs::JobsCommand::List)).await
        }
        Command::Maintain(args) => jobs::maintain(&global, &args).await,
        Command::Health(args) => health::health(&global, &args).await,
    }
}

fn ensure_newline(mut s: String) -> String {
    if !s.ends_with('\n') {
        s.push('\n');
    }
    s
}

fn selected(project: &Project, selection: &Selection) -> Result<BTreeSet<String>> {
    Ok(project.select(&selection.select, &selection.exclude)?)
}

/// Loads, plans, runs and reports; the exit code is non-zero when anything errored or failed.
async fn execute(global: &GlobalArgs, command: RunCommand, args: &RunArgs) -> Result<ExitCode> {
    let project = Arc::new(load_project_with_state(
        global,
        args.selection.state.as_deref(),
    )?);
    let request = Request {
        command,
        select: args.selection.select.clone(),
        exclude: args.selection.exclude.clone(),
        full_refresh: args.full_refresh,
        event_time_start: args.event_time_start.clone(),
        event_time_end: args.event_time_end.clone(),
        defer: args.selection.defer,
    };
    let plan = invocation::plan(&project, &request)?;
    let warehouse = Arc::new(open_warehouse(&project).await?);
    let reporter = Arc::new(report::Printer::new(
        &project,
        &plan.selected,
        &plan.options,
    ));
    let outcome =
        invocation::execute(project.clone(), warehouse.clone(), &plan, reporter.clone()).await?;
    reporter.finish();
    for warning in &outcome.warnings {
        eprintln!("warning: {warning}");
    }
    report::summary(&project, &outcome.results, outcome.elapsed_seconds);
    health::alert_after_run(&project, &warehouse).await;
    if let Some(cluster) = warehouse.cluster() {
        println!(
            "{} model quer{} ran on the Ballista cluster at {}",
            cluster.queries_run(),
            if cluster.queries_run() == 1 {
                "y"
            } else {
                "ies"
            },
            cluster.address()
        );
    }
    Ok(if outcome.failed() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

async fn freshness(global: &GlobalArgs, selection: &Selection) -> Result<ExitCode> {
    let project = load_project(global)?;
    let warehouse = open_warehouse(&project).await?;
    let results = invocation::freshness(&project, &warehouse, &selection.select).await?;
    for r in &results {
        let status = serde_json::to_value(r.status)?
            .as_str()
            .unwrap_or_default()
            .to_uppercase();
        let age = r
            .age_seconds
            .map(|s| format!("{:.1}h old", s as f64 / 3600.0))
            .unwrap_or_default();
        println!(
            "{status:<6} source {:<40} {age:>12} {}",
            r.source,
            r.message.clone().unwrap_or_default()
        );
    }
    if results.is_empty() {
        println!("No source declares loaded_at_field and freshness.");
    }
    Ok(if invocation::freshness_failed(&results) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

async fn runs(
    global: &GlobalArgs,
    limit: usize,
    run_id: Option<&str>,
    format: Format,
) -> Result<ExitCode> {
    let project = load_project(global)?;
    let warehouse = open_warehouse(&project).await?;
    let batches = match run_id {
        Some(id) => invocation::run_nodes(&warehouse, id).await?,
        None => invocation::recent_runs(&warehouse, limit).await?,
    };
    let Some(batches) = batches else {
        println!(
            "No runs yet: the event log {} is empty.",
            orderlake_engine::events::relation()
        );
        return Ok(ExitCode::SUCCESS);
    };
    print!("{}", ensure_newline(format_batches(&batches, format)?));
    Ok(ExitCode::SUCCESS)
}

async fn compile(global: &GlobalArgs, selection: &Selection) -> Result<ExitCode> {
    let project = load_project_with_state(global, selection.state.as_deref())?;
    let (count, dir) = invocation::compile(&project, &selection.select, &selection.exclude).await?;
    println!(
        "Compiled {count} node{} to {}",
        if count == 1 { "" } else { "s" },
        dir.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn ls(
    global: &GlobalArgs,
    selection: &Selection,
    resource_type: Option<&str>,
    output: LsOutput,
) -> Result<ExitCode> {
    use std::io::Write;
    let project = load_project_with_state(global, selection.state.as_deref())?;
    let ids = selected(&project, selection)?;
    // One buffered lock for the whole listing: tens of thousands of lines otherwise cost a
    // write call each.
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for id in ids {
        let node = &project.nodes[&id];
        if resource_type.is_some_and(|t| t != node.resource_type.as_str()) {
            continue;
        }
        match output {
            LsOutput::Name => writeln!(out, "{}", node.name),
            LsOutput::Path => writeln!(out, "{}", node.path.display()),
            LsOutput::Selector => writeln!(out, "{}", node.fqn.join(".")),
            LsOutput::Json => writeln!(
                out,
                "{}",
                serde_json::json!({
                    "name": node.name,
                    "unique_id": node.unique_id,
                    "resource_type": node.resource_type,
                    "path": node.path,
                    "materialized": node.materialized(),
                    "relation": node.relation.as_ref().map(|r| r.to_string()),
                    "tags": node.config.tags(),
                    "depends_on": node.depends_on,
                })
            ),
        }
        .context("writing the listing")?;
    }
    out.flush().context("writing the listing")?;
    Ok(ExitCode::SUCCESS)
}

async fn show(
    global: &GlobalArgs,
    model: Option<&str>,
    inline: Option<&str>,
    limit: usize,
    format: Format,
) -> Result<ExitCode> {
    let project = load_project(global)?;
    let warehouse = open_warehouse(&project).await?;
    let sql = match (model, inline) {
        (Some(name), None) => {
            let Some(node) = project.node_by_name(name) else {
                let hint = orderlake_project::error::closest_name(name, project.relation_names())
                    .map(|c| format!(" (did you mean '{c}'?)"))
                    .unwrap_or_default();
                bail!("no model, seed or snapshot named '{name}'{hint}");
            };
            if node.is_ephemeral() {
                project.compile(&node.unique_id, false)?.sql
            } else {
                let relation = node.relation.as_ref().context("node has no relation")?;
                if warehouse.kind_of(relation).await?.is_none() {
                    bail!(
                        "{} has not been built yet: run `orderlake build -s {}` first",
                        relation,
                        node.name
                    );
                }
                format!("select * from {relation}")
            }
        }
        (None, Some(query)) => project.compile_inline(query)?,
        _ => bail!("give a model name or --inline \"select ...\""),
    };
    let df = warehouse.sql(&sql).await?.limit(0, Some(limit))?;
    let batches = df.collect().await?;
    print!("{}", ensure_newline(format_batches(&batches, format)?));
    Ok(ExitCode::SUCCESS)
}

/// Resolves a path against the current directory without requiring it to exist.
pub(crate) fn absolute(path: &Path) -> PathBuf {
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|d| d.join(path))
            .unwrap_or_else(|_| path.to_path_buf())
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// Every subcommand's flags fit together (a global flag named like a subcommand's own
    /// panics only when that subcommand runs).
    #[test]
    fn the_command_line_definition_is_consistent() {
        super::Cli::command().debug_assert();
    }
}
