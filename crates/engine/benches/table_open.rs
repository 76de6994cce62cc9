//! How long a Delta table takes to open and answer a query after thousands of small commits, as
//! a live lake makes them (one per micro-batch), before and after maintenance.
//!
//! `cargo bench -p orderlake-engine --bench table_open -- [COMMITS]` (default 10,000). Prints
//! one line every tenth of the way: commits so far, log files, data files, the time to open the
//! table (delta-rs: last checkpoint + the commits after it), the time to open a warehouse over
//! it and count its rows; then the same after compaction and vacuum.

use std::path::Path;
use std::time::{Duration, Instant};

use orderlake_engine::maintenance::MaintenancePolicy;
use orderlake_engine::{Warehouse, WriteMode};
use orderlake_project::Relation;

fn count_files(dir: &Path, suffix: &str) -> usize {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .filter(|e| e.file_name().to_string_lossy().ends_with(suffix))
                .count()
        })
        .unwrap_or(0)
}

/// Best of three: the time to open the Delta table, and to open a warehouse and count rows.
async fn measure(root: &Path, table_dir: &Path) -> (Duration, Duration, i64) {
    let mut open = Duration::MAX;
    let mut query = Duration::MAX;
    let mut rows = 0;
    for _ in 0..3 {
        let started = Instant::now();
        let url = deltalake::ensure_table_uri(table_dir.to_string_lossy()).expect("url");
        let table = deltalake::open_table(url).await.expect("open table");
        open = open.min(started.elapsed());
        assert!(table.version().is_some());

        let started = Instant::now();
        let warehouse = Warehouse::open(root, "main").await.expect("open warehouse");
        let batches = warehouse
            .sql("select count(*) from bronze.events")
            .await
            .expect("plan")
            .collect()
            .await
            .expect("count");
        query = query.min(started.elapsed());
        rows = batches[0]
            .column(0)
            .as_any()
            .downcast_ref::<datafusion::arrow::array::Int64Array>()
            .expect("count is i64")
            .value(0);
    }
    (open, query, rows)
}

fn main() {
    let commits: usize = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async move {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        let warehouse = Warehouse::open(root, "main").await.expect("open");
        warehouse.ensure_schema("bronze").expect("schema");
        let relation = Relation::new("bronze", "events");
        let table_dir = warehouse.store().folder().expect("a folder").join(&relation.schema).join(&relation.identifier);
        let log_dir = table_dir.join("_delta_log");
        println!("commits  log_json  checkpoints  data_files  open_table_ms  open_and_count_ms  rows  (commit_ms avg)");
        let step = (commits / 10).max(1);
        let mut since = Instant::now();
        for i in 1..=commits {
            let df = warehouse
                .sql(&format!(
                    "select {i} as id, 'event {i}' as payload, now() as ingested_at"
                ))
                .await
                .expect("sql");
            warehouse
                .write(&relation, df, WriteMode::Append)
                .await
                .expect("append");
            if i % step == 0 || i == commits {
                let commit_ms = since.elapsed().as_secs_f64() * 1000.0 / step as f64;
                let (open, query, rows) = measure(root, &table_dir).await;
                println!(
                    "{i:>7}  {:>8}  {:>11}  {:>10}  {:>13.1}  {:>17.1}  {rows:>5}  ({commit_ms:.1})",
                    count_files(&log_dir, ".json"),
                    count_files(&log_dir, ".checkpoint.parquet"),
                    count_files(&table_dir, ".parquet"),
                    open.as_secs_f64() * 1000.0,
                    query.as_secs_f64() * 1000.0,
                );
                since = Instant::now();
            }
        }
        let started = Instant::now();
        let policy = MaintenancePolicy {
            keep_removed_files: Duration::ZERO,
            ..MaintenancePolicy::default()
        };
        let done = warehouse.maintain(&relation, &policy).await.expect("maintain");
        println!(
            "maintenance: {} files compacted into {}, {} deleted, in {:.1} s",
            done.files_compacted,
            done.files_written,
            done.files_deleted,
            started.elapsed().as_secs_f64()
        );
        let (open, query, rows) = measure(root, &table_dir).await;
        println!(
            "after    {:>8}  {:>11}  {:>10}  {:>13.1}  {:>17.1}  {rows:>5}",
            count_files(&log_dir, ".json"),
            count_files(&log_dir, ".checkpoint.parquet"),
            count_files(&table_dir, ".parquet"),
            open.as_secs_f64() * 1000.0,
            query.as_secs_f64() * 1000.0,
        );
    });
}
