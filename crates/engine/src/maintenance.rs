//! Table maintenance for a warehouse that commits all day: small files compacted (OPTIMIZE) and
//! files no longer part of any recent version deleted (VACUUM).
//!
//! A live lake appends a small file to bronze with every micro-batch and rewrites its gold tables
//! whole; left alone, bronze scans open thousands of files and the disk fills with old versions.
//! The log itself needs nothing from here: delta-rs writes a checkpoint every
//! `delta.checkpointInterval` (100) commits, so opening a table reads the last checkpoint and at
//! most 99 commits, however many there were (`benches/table_open.rs` measures it).

use std::num::NonZeroU64;
use std::time::Duration;

use deltalake::DeltaTable;
use deltalake::operations::vacuum::VacuumMode;
use orderlake_project::Relation;

use crate::error::Result;
use crate::layout::RelationKind;
use crate::warehouse::Warehouse;

/// When a table is compacted and how long replaced files are kept.
#[derive(Debug, Clone)]
pub struct MaintenancePolicy {
    /// Compact a table once it has at least this many data files.
    pub compact_at_files: usize,
    /// The size compaction aims for; files at least this big are left alone.
    pub target_file_bytes: NonZeroU64,
    /// Files that left the table (rewritten, compacted, overwritten) are deleted this long after
    /// they left. Readers holding an older snapshot, and time travel, reach back this far.
    pub keep_removed_files: Duration,
    /// Also write a checkpoint of each table's log at its current version (scheduled
    /// maintenance; delta-rs writes one every 100 commits by itself).
    pub checkpoint: bool,
}

impl Default for MaintenancePolicy {
    fn default() -> Self {
        MaintenancePolicy {
            compact_at_files: 16,
            target_file_bytes: NonZeroU64::new(128 * 1024 * 1024).expect("non-zero"),
            keep_removed_files: Duration::from_secs(3600),
            checkpoint: false,
        }
    }
}

/// What maintenance did to one table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Maintained {
    pub relation: String,
    /// Data files before compaction (0 when it was not compacted).
    pub files_before: usize,
    /// Small files replaced by compaction, and the files that replaced them.
    pub files_compacted: u64,
    pub files_written: u64,
    /// Old files deleted from storage.
    pub files_deleted: usize,
    /// The version a checkpoint was written at, when one was.
    pub checkpointed_at: Option<u64>,
}

impl Maintained {
    pub fn did_anything(&self) -> bool {
        self.files_compacted > 0 || self.files_deleted > 0
    }
}

/// The data files of one Delta table at its current version: what the Health page shows and
/// what tells whether maintenance is due.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct FileStats {
    pub relation: String,
    pub version: u64,
    pub files: usize,
    pub bytes: u64,
    /// Files under the size that counts as small.
    pub small_files: usize,
    /// Rows, from the files' statistics (None when a file has none).
    pub rows: Option<u64>,
}

impl Warehouse {
    /// The files of `relation` (a Delta table) now; a file under `small_below` bytes is small.
    pub async fn file_stats(&self, relation: &Relation, small_below: u64) -> Result<FileStats> {
        let table: DeltaTable = self.open_delta(relation).await?;
        let snapshot = table.snapshot()?;
        let mut stats = FileStats {
            // As people write it (the Display form quotes each part for SQL).
            relation: format!("{}.{}", relation.schema, relation.identifier),
            version: table.version().unwrap_or_default(),
            rows: Some(0),
            ..Default::default()
        };
        for file in snapshot.log_data().iter() {
            let size = file.size().max(0) as u64;
            stats.files += 1;
            stats.bytes += size;
            if size < small_below {
                stats.small_files += 1;
            }
            stats.rows = match (stats.rows, file.num_records()) {
                (Some(total), Some(n)) => Some(total + n as u64),
                _ => None,
            };
        }
        Ok(stats)
    }

    /// Compacts and vacuums one Delta table as `policy` says, then re-registers it so this
    /// session reads the compacted files (its old snapshot's files may be vacuumed later).
    pub async fn maintain(
        &self,
        relation: &Relation,
        policy: &MaintenancePolicy,
    ) -> Result<Maintained> {
        let mut done = Maintained {
            relation: relation.to_string(),
            ..Default::default()
        };
        let mut table: DeltaTable = self.open_delta(relation).await?;
        let files = table.snapshot()?.log_data().num_files();
        if files >= policy.compact_at_files {
            done.files_before = files;
            let (compacted, metrics) = table
                .optimize()
                .with_target_size(policy.target_file_bytes)
                .with_session_state(std::sync::Arc::new(self.context().state()))
                .await?;
            done.files_compacted = metrics.num_files_removed;
            done.files_written = metrics.num_files_added;
            table = compacted;
        }
        let retention =
            chrono::Duration::from_std(policy.keep_removed_files).unwrap_or(chrono::Duration::MAX);
        let (vacuumed, metrics) = table
            .vacuum()
            .with_retention_period(retention)
            // The table's own default is a week; a live lake sets its own horizon.
            .with_enforce_retention_duration(false)
            .with_mode(VacuumMode::Lite)
            .await?;
        done.files_deleted = metrics.files_deleted.len();
        if policy.checkpoint {
            deltalake::checkpoints::create_checkpoint(&vacuumed, None).await?;
            done.checkpointed_at = Some(vacuumed.version().unwrap_or_default());
        }
        if done.did_anything() {
            self.register_table(relation, &vacuumed).await?;
        }
        Ok(done)
    }

    /// [`Warehouse::maintain`] for every Delta table in the warehouse; a table that cannot be
    /// maintained is reported and skipped, so one bad table does not stop the others.
    pub async fn maintain_all(&self, policy: &MaintenancePolicy) -> Result<Vec<Maintained>> {
        let mut done = Vec::new();
        for stored in self.list().await? {
            if stored.kind != RelationKind::Table {
                continue;
            }
            let relation = Relation::new(stored.schema, stored.name);
            match self.maintain(&relation, policy).await {
                Ok(m) => done.push(m),
                Err(e) => tracing::warn!("maintenance of {relation} skipped: {e}"),
            }
        }
        Ok(done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::warehouse::WriteMode;

    async fn as_csv(warehouse: &Warehouse, sql: &str) -> String {
        let batches = warehouse
            .sql(sql)
            .await
            .expect("sql")
            .collect()
            .await
            .expect("collect");
        crate::output::format_batches(&batches, crate::output::Format::Csv).expect("format")
    }

    #[tokio::test]
    async fn many_small_appends_are_compacted_and_old_files_deleted_without_changing_the_data() {
        let dir = tempfile::tempdir().expect("tempdir");
        let warehouse = Warehouse::open(dir.path(), "main").await.expect("open");
        let relation = Relation::new("bronze", "orders");
        warehouse.ensure_schema("bronze").expect("schema");
        for i in 0..20 {
            let df = warehouse
                .sql(&format!("select {i} as id, 'order {i}' as name"))
                .await
                .expect("sql");
            warehouse
                .write(&relation, df, WriteMode::Append)
                .await
                .expect("append");
        }
        let data_files = |dir: &std::path::Path| {
            std::fs::read_dir(dir)
                .expect("read dir")
                .filter(|e| {
                    e.as_ref()
                        .is_ok_and(|e| e.file_name().to_string_lossy().ends_with(".parquet"))
                })
                .count()
        };
        let table_dir = warehouse
            .store()
            .folder()
            .expect("a folder")
            .join(&relation.schema)
            .join(&relation.identifier);
        assert_eq!(data_files(&table_dir), 20);
        let sum = "select count(*) as n, sum(id) as s from bronze.orders";
        let before = as_csv(&warehouse, sum).await;

        // Kept files are not deleted yet: a reader of the old version still finds them.
        let keep = MaintenancePolicy::default();
        let done = warehouse
            .maintain(&relation, &keep)
            .await
            .expect("maintain");
        assert_eq!(done.files_before, 20);
        assert_eq!(done.files_compacted, 20);
        assert_eq!(done.files_written, 1);
        assert_eq!(done.files_deleted, 0);
        assert_eq!(data_files(&table_dir), 21);

        // With no retention, the 20 replaced files go; the data is the same.
        let now = MaintenancePolicy {
            keep_removed_files: Duration::ZERO,
            checkpoint: true,
            ..MaintenancePolicy::default()
        };
        let done = warehouse.maintain(&relation, &now).await.expect("maintain");
        assert_eq!(done.files_compacted, 0, "one file: nothing to compact");
        assert_eq!(done.files_deleted, 20);
        assert_eq!(data_files(&table_dir), 1);
        let version = done.checkpointed_at.expect("a checkpoint was asked for");
        let checkpoint = table_dir.join(format!("_delta_log/{version:020}.checkpoint.parquet"));
        assert!(checkpoint.exists(), "{}", checkpoint.display());
        let after = as_csv(&warehouse, sum).await;
        assert_eq!(before, after);
        assert!(after.contains("20,190"), "{after}");

        let stats = warehouse
            .file_stats(&relation, 1024 * 1024)
            .await
            .expect("stats");
        assert_eq!(
            (stats.files, stats.small_files, stats.rows),
            (1, 1, Some(20))
        );
        assert!(stats.bytes > 0 && stats.version >= 21, "{stats:?}");
    }
}
