//! The warehouse: a DataFusion session over a folder (or object-store prefix) of Delta tables
//! and persisted views, and every write to them. How it is laid out is [`crate::layout`]'s;
//! where it is, [`crate::storage`]'s.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use orderlake_project::StorageLocation;
use std::sync::{Arc, Mutex};

use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::catalog::{MemorySchemaProvider, SchemaProvider};
use datafusion::common::TableReference;
use datafusion::datasource::TableProvider;
use datafusion::execution::context::{SessionConfig, SessionContext};
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::prelude::{CsvReadOptions, DataFrame, JsonReadOptions, ParquetReadOptions};
use deltalake::DeltaTable;
use deltalake::delta_datafusion::planner::DeltaPlanner;
use deltalake::operations::write::SchemaMode;
use deltalake::protocol::SaveMode;
use orderlake_project::Relation;

use crate::cluster::Cluster;
use crate::delta_types;
use crate::error::{EngineError, Result};
use crate::functions;
use crate::layout::{self, RelationKind, StoredRelation};
use crate::storage::Store;

/// The catalog name under which every warehouse schema is registered.
pub const CATALOG: &str = "orderlake";

/// How a write treats what is already in the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteMode {
    /// Replace data and schema in one commit; readers see the old version until it lands.
    Replace,
    /// Add rows; the schema may gain columns.
    Append,
}

/// Rows and files a MERGE touched.
#[derive(Debug, Clone, Copy, Default)]
pub struct MergeOutcome {
    pub inserted: u64,
    pub updated: u64,
    pub files_scanned: u64,
    pub files_skipped: u64,
}

/// A DataFusion session over a warehouse folder of Delta tables and views.
pub struct Warehouse {
    store: Store,
    ctx: SessionContext,
    schema_lock: Mutex<()>,
    /// The Delta version each registered table is read at (what a query of it sees).
    versions: Mutex<BTreeMap<String, u64>>,
    /// Keys found for tracked refreshes, by model definition and changed inputs (finding one
    /// optimizes the model's query once per candidate column; a live lake asks every batch).
    pub(crate) found_keys: Mutex<BTreeMap<String, Option<crate::tracking::FoundKey>>>,
    /// The last loaded state of each Delta table: opening a table replays its log from the last
    /// checkpoint (up to 99 commits), and a live lake opens each table it refreshes several
    /// times a batch. A cached state is brought up to date (only newer commits are read) before
    /// it is used, so commits by other processes are still seen.
    tables: Mutex<BTreeMap<String, DeltaTable>>,
    /// File sources that could not be registered, by unique id: why.
    unreadable: Mutex<BTreeMap<String, String>>,
    /// What relative paths in `read_parquet('…')` and its kin are relative to (the project).
    files_root: PathBuf,
    /// Stored views not registered yet (see [`Warehouse::open_views`]).
    unopened_views: Mutex<Vec<Relation>>,
    /// Where model queries run when not here (see [`Warehouse::use_compute`]).
    cluster: Option<Cluster>,
}

/// Delta table property that makes every commit record its changed rows, so a model reading the
/// table can recompute only what they touch (see [`crate::tracking`]).
const CHANGE_DATA_FEED: &str = "delta.enableChangeDataFeed";

impl Warehouse {
    /// Opens (creating if needed) the warehouse at `root` and registers every table and view.
    /// Relative paths that models give `read_parquet('…')` and its kin are taken from the
    /// current folder.
    pub async fn open(root: impl Into<StorageLocation>, default_schema: &str) -> Result<Self> {
        let warehouse = Self::open_tables(
            root,
            default_schema,
            &std::env::current_dir().unwrap_or_default(),
        )
        .await?;
        warehouse.open_views().await?;
        Ok(warehouse)
    }

    /// Opens the warehouse at `root` with its tables registered, for a project at
    /// `project_root` (which relative file paths in its models are taken from); its views wait
    /// for [`Warehouse::open_views`], so what they read (file sources) can be registered first.
    pub async fn open_tables(
        root: impl Into<StorageLocation>,
        default_schema: &str,
        project_root: &Path,
    ) -> Result<Self> {
        let store = Store::open(&root.into()).await?;
        let mut config = SessionConfig::new()
            .with_default_catalog_and_schema(CATALOG, default_schema)
            .with_create_default_catalog_and_schema(true)
            .with_information_schema(true);
        // Plain Utf8 everywhere: Delta has no view types, and clients expect `text`.
        config.options_mut().sql_parser.map_string_types_to_utf8view = false;
        config
            .options_mut()
            .execution
            .parquet
            .schema_force_view_types = false;
        // Delta's planner executes the write and merge plans delta-rs builds on our session.
        let mut state = SessionStateBuilder::new()
            .with_default_features()
            .with_config(config)
            .with_query_planner(DeltaPlanner::new())
            .build();
        functions::register_all(&mut state)?;
        let ctx = SessionContext::new_with_state(state);
        let warehouse = Warehouse {
            store,
            ctx,
            schema_lock: Mutex::new(()),
            versions: Mutex::new(BTreeMap::new()),
            found_keys: Mutex::new(BTreeMap::new()),
            tables: Mutex::new(BTreeMap::new()),
            unreadable: Mutex::new(BTreeMap::new()),
            files_root: project_root.to_path_buf(),
            unopened_views: Mutex::new(Vec::new()),
            cluster: None,
        };
        warehouse.ensure_schema(default_schema)?;
        warehouse.register_tables().await?;
        Ok(warehouse)
    }

    /// Notes that the file source `unique_id` could not be registered, and why.
    pub fn note_unreadable(&self, unique_id: &str, why: String) {
        tracing::warn!("{why}");
        self.unreadable
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(unique_id.to_string(), why);
    }

    /// Why the file source `unique_id` could not be registered, if it could not.
    pub fn unreadable(&self, unique_id: &str) -> Option<String> {
        self.unreadable
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(unique_id)
            .cloned()
    }

    /// Where the warehouse is.
    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn context(&self) -> &SessionContext {
        &self.ctx
    }

    /// Plans a query against the warehouse. DuckDB's `read_parquet('…')`, `read_csv`, `read_json`
    /// read files here (see [`crate::file_functions`]).
    pub async fn sql(&self, sql: &str) -> Result<DataFrame> {
        if crate::file_functions::mentioned(sql)
            && let Some(rewritten) = self.with_file_reads(sql).await?
        {
            return Ok(self.ctx.sql(&rewritten).await?);
        }
        Ok(self.ctx.sql(sql).await?)
    }

    /// Runs model queries where `compute` says: here (the default), or on a Ballista cluster,
    /// which must answer now.
    pub async fn use_compute(&mut self, compute: &orderlake_project::Compute) -> Result<()> {
        self.cluster = Cluster::connect(compute, &self.ctx.state()).await?;
        Ok(())
    }

    /// The cluster model queries run on, if not here.
    pub fn cluster(&self) -> Option<&Cluster> {
        self.cluster.as_ref()
    }

    /// Plans a model's query to run on the project's engine: like [`Warehouse::sql`] without a
    /// cluster; with one, a query over the rows the cluster computes (see [`crate::cluster`]).
    pub async fn sql_on_engine(&self, sql: &str) -> Result<DataFrame> {
        let df = self.sql(sql).await?;
        let Some(cluster) = &self.cluster else {
            return Ok(df);
        };
        let plan = self.ctx.state().optimize(df.logical_plan())?;
        let files_of = |scan: &datafusion::logical_expr::TableScan| self.delta_files(scan);
        let Some(shipped) = cluster.shippable(plan, &files_of)? else {
            return Ok(df);
        };
        let remote = cluster.remote(shipped);
        let table = datafusion::catalog::streaming::StreamingTable::try_new(
            remote.schema().clone(),
            vec![remote],
        )?;
        Ok(self.ctx.read_table(Arc::new(table))?)
    }

    /// The Parquet files (URLs) of the Delta table `scan` reads, at the version this session
    /// reads it; `None` if it is not one of the warehouse's Delta tables.
    fn delta_files(&self, scan: &datafusion::logical_expr::TableScan) -> Option<Vec<String>> {
        let state = self.ctx.state();
        let default_schema = &state.config().options().catalog.default_schema;
        let schema = scan.table_name.schema().unwrap_or(default_schema);
        let key = Relation::new(schema, scan.table_name.table()).to_string();
        let version = self
            .versions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
            .copied()?;
        let tables = self.tables.lock().unwrap_or_else(|p| p.into_inner());
        let table = tables.get(&key).filter(|t| t.version() == Some(version))?;
        Some(table.get_file_uris().ok()?.collect())
    }

    /// `sql` with its file-reading calls replaced by relations over the same files, registered
    /// here; `None` when it has none (or does not parse here: DataFusion then says why).
    async fn with_file_reads(&self, sql: &str) -> Result<Option<String>> {
        use datafusion::sql::sqlparser::{dialect::GenericDialect, parser::Parser};
        let Ok(mut statements) = Parser::parse_sql(&GenericDialect {}, sql) else {
            return Ok(None);
        };
        let [statement] = statements.as_mut_slice() else {
            return Ok(None);
        };
        let reads = crate::file_functions::rewrite(statement, &self.files_root)
            .map_err(EngineError::definition)?;
        if reads.is_empty() {
            return Ok(None);
        }
        self.ensure_schema(crate::file_functions::FILES_SCHEMA)?;
        for read in &reads {
            let relation = Relation::new(crate::file_functions::FILES_SCHEMA, &read.table);
            let reference =
                TableReference::partial(relation.schema.as_str(), relation.identifier.as_str());
            if !self.ctx.table_exist(reference)? {
                self.register_files(&relation, &read.location, Some(read.format))
                    .await
                    .map_err(|e| {
                        EngineError::definition(format!(
                            "{}('{}'): {}",
                            read.function,
                            read.location,
                            crate::error::report(&e)
                        ))
                    })?;
            }
        }
        Ok(Some(statement.to_string()))
    }

    /// What is stored for `relation`, if anything.
    pub async fn kind_of(&self, relation: &Relation) -> Result<Option<RelationKind>> {
        layout::kind_of(&self.store, relation).await
    }

    /// Every relation in the warehouse, sorted by schema and name.
    pub async fn list(&self) -> Result<Vec<StoredRelation>> {
        layout::list(&self.store).await
    }

    /// The SQL of a stored view, if `relation` is one.
    pub async fn view_sql(&self, relation: &Relation) -> Result<Option<String>> {
        self.store
            .read_text(&layout::view_file_parts(relation))
            .await
    }

    async fn register_tables(&self) -> Result<()> {
        let relations = self.list().await?;
        let mut views = Vec::new();
        for r in relations {
            self.ensure_schema(&r.schema)?;
            let relation = Relation::new(r.schema.clone(), r.name.clone());
            match r.kind {
                RelationKind::Table => {
                    if let Err(e) = self.register_delta(&relation).await {
                        tracing::warn!("cannot open table {relation}: {e}");
                    }
                }
                RelationKind::View => views.push(relation),
            }
        }
        *self
            .unopened_views
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = views;
        Ok(())
    }

    /// Registers the stored views (after [`Warehouse::open_tables`]); one that cannot be
    /// planned is skipped with a warning.
    pub async fn open_views(&self) -> Result<()> {
        let views = std::mem::take(
            &mut *self
                .unopened_views
                .lock()
                .unwrap_or_else(|p| p.into_inner()),
        );
        // Views may read views: register until nothing more can be planned.
        let mut pending = views;
        loop {
            let before = pending.len();
            let mut failed = Vec::new();
            let mut last_error = BTreeMap::new();
            for relation in pending {
                let Some(sql) = self.view_sql(&relation).await? else {
                    continue;
                };
                match self.register_view(&relation, &sql).await {
                    Ok(()) => {}
                    Err(e) => {
                        last_error.insert(relation.to_string(), e.to_string());
                        failed.push(relation);
                    }
                }
            }
            if failed.is_empty() {
                break;
            }
            if failed.len() == before {
                for (name, err) in last_error {
                    tracing::warn!("cannot open view {name}: {err}");
                }
                break;
            }
            pending = failed;
        }
        Ok(())
    }

    /// Creates the schema in the session catalog if it is not there yet.
    pub fn ensure_schema(&self, schema: &str) -> Result<()> {
        let _guard = self.schema_lock.lock().unwrap_or_else(|p| p.into_inner());
        let catalog = self
            .ctx
            .catalog(CATALOG)
            .ok_or_else(|| EngineError::Warehouse(format!("catalog {CATALOG} is missing")))?;
        if catalog.schema(schema).is_none() {
            catalog.register_schema(schema, Arc::new(MemorySchemaProvider::new()))?;
        }
        Ok(())
    }

    fn register_provider(
        &self,
        relation: &Relation,
        provider: Arc<dyn TableProvider>,
    ) -> Result<()> {
        self.ensure_schema(&relation.schema)?;
        // A Delta table records its version after this (`register_table`); anything else has none.
        self.versions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&relation.to_string());
        let reference =
            TableReference::partial(relation.schema.as_str(), relation.identifier.as_str());
        self.ctx.deregister_table(reference.clone())?;
        self.ctx.register_table(reference, provider)?;
        Ok(())
    }

    /// Drops a relation from the session catalog (not from disk).
    fn forget(&self, relation: &Relation) -> Result<()> {
        self.versions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&relation.to_string());
        self.tables
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&relation.to_string());
        let reference =
            TableReference::partial(relation.schema.as_str(), relation.identifier.as_str());
        if self
            .ctx
            .catalog(CATALOG)
            .and_then(|c| c.schema(&relation.schema))
            .is_some()
        {
            self.ctx.deregister_table(reference)?;
        }
        Ok(())
    }

    /// `--defer`: reads `relation` from another warehouse (an earlier run's) for this session
    /// only — registered under its own name, never cached for writing, nothing copied. Returns
    /// whether that warehouse has it.
    pub async fn register_deferred(&self, relation: &Relation, other: &Store) -> Result<bool> {
        match layout::kind_of(other, relation).await? {
            Some(RelationKind::Table) => {
                let url = other.url_of(&layout::relation_parts(relation));
                let table =
                    deltalake::open_table_with_storage_options(url, other.delta_options().clone())
                        .await?;
                table.update_datafusion_session(&self.ctx.state())?;
                let provider = table.table_provider().await?;
                self.register_provider(relation, provider)?;
                Ok(true)
            }
            Some(RelationKind::View) => {
                let Some(sql) = other.read_text(&layout::view_file_parts(relation)).await? else {
                    return Ok(false);
                };
                self.register_view(relation, &sql).await?;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    pub(crate) async fn open_delta(&self, relation: &Relation) -> Result<DeltaTable> {
        let cached = self
            .tables
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&relation.to_string())
            .cloned();
        if let Some(mut table) = cached
            && table.update_incremental(None).await.is_ok()
        {
            self.remember(relation, &table);
            return Ok(table);
        }
        let table = deltalake::open_table_with_storage_options(
            self.table_url(relation),
            self.store.delta_options().clone(),
        )
        .await?;
        self.remember(relation, &table);
        Ok(table)
    }

    fn remember(&self, relation: &Relation, table: &DeltaTable) {
        self.tables
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(relation.to_string(), table.clone());
    }

    /// The URL of `relation`'s Delta table (`file:///…` or `s3://…`).
    pub fn table_url(&self, relation: &Relation) -> url::Url {
        self.store.url_of(&layout::relation_parts(relation))
    }

    /// A builder for `relation`'s Delta table with the store's settings.
    fn table_builder(&self, relation: &Relation) -> Result<deltalake::DeltaTableBuilder> {
        Ok(
            deltalake::DeltaTableBuilder::from_url(self.table_url(relation))?
                .with_storage_options(self.store.delta_options().clone()),
        )
    }

    async fn register_delta(&self, relation: &Relation) -> Result<()> {
        let table = self.open_delta(relation).await?;
        self.register_table(relation, &table).await
    }

    /// The Delta version at which this session reads `relation` (`None`: not a Delta table).
    pub fn registered_version(&self, relation: &Relation) -> Option<u64> {
        self.versions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&relation.to_string())
            .copied()
    }

    async fn register_view(&self, relation: &Relation, sql: &str) -> Result<()> {
        let df = self.sql(sql).await?;
        self.register_provider(relation, df.into_view())
    }

    /// Builds a table from a query: the new version replaces the old in one Delta commit, so a
    /// failing query leaves the previous version in place. Returns the rows written.
    pub async fn create_table_as(&self, relation: &Relation, sql: &str) -> Result<u64> {
        let df = self.sql(sql).await?;
        self.write(relation, df, WriteMode::Replace).await
    }

    /// Writes a DataFrame to the Delta table of `relation`, streaming batches.
    pub async fn write(&self, relation: &Relation, df: DataFrame, mode: WriteMode) -> Result<u64> {
        self.write_recording(relation, df, mode, Vec::new()).await
    }

    /// [`Warehouse::write`], recording `marks` (application transactions) in the same commit.
    pub(crate) async fn write_recording(
        &self,
        relation: &Relation,
        df: DataFrame,
        mode: WriteMode,
        marks: Vec<deltalake::kernel::Transaction>,
    ) -> Result<u64> {
        let df = delta_types::for_delta(df)?;
        let kind = self.kind_of(relation).await?;
        let table = if kind == Some(RelationKind::Table) {
            match self.open_delta(relation).await {
                Ok(table) => table,
                // A log with no commit yet (a first write killed midway): written as new.
                Err(_) => self.table_builder(relation)?.build()?,
            }
        } else {
            // A new table: loading it would only log that there is no log yet.
            self.table_builder(relation)?.build()?
        };
        let (save_mode, schema_mode) = match mode {
            WriteMode::Replace => (SaveMode::Overwrite, SchemaMode::Overwrite),
            WriteMode::Append => (SaveMode::Append, SchemaMode::Merge),
        };
        let plan = df.logical_plan().clone();
        let table = table
            .write(Vec::new())
            .with_input_plan(plan)
            .with_session_state(Arc::new(self.ctx.state()))
            .with_save_mode(save_mode)
            .with_schema_mode(schema_mode)
            // Only applies when the write creates the table.
            .with_configuration([(CHANGE_DATA_FEED, Some("true"))])
            .with_commit_properties(
                deltalake::kernel::transaction::CommitProperties::default()
                    .with_application_transactions(marks),
            )
            .await?;
        let rows = rows_added(&table).await;
        // It is a table now; a view that stood here before is gone.
        if kind == Some(RelationKind::View) {
            self.store
                .delete(&layout::view_file_parts(relation))
                .await?;
        }
        self.register_table(relation, &table).await?;
        Ok(rows)
    }

    /// Upserts `source` into the table on `unique_key`: matching rows are updated, others
    /// inserted, in one Delta commit. delta-rs skips target files whose key range cannot match
    /// the source (its early filter), so a large target is not read whole.
    pub async fn merge(
        &self,
        relation: &Relation,
        source: DataFrame,
        unique_key: &[String],
    ) -> Result<MergeOutcome> {
        let source = delta_types::for_delta(source)?;
        let columns: Vec<String> = source
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        for key in unique_key {
            if !columns.iter().any(|c| c == key) {
                return Err(EngineError::UnknownColumn {
                    role: "unique_key",
                    column: key.clone(),
                    columns,
                });
            }
        }
        let predicate = unique_key
            .iter()
            .map(|k| {
                let q = orderlake_project::quote_ident(k);
                format!("target.{q} = source.{q}")
            })
            .collect::<Vec<_>>()
            .join(" AND ");
        let table = self.open_delta(relation).await?;
        let (table, metrics) = table
            .merge(source, predicate)
            .with_source_alias("source")
            .with_target_alias("target")
            .with_merge_schema(true)
            .with_session_state(Arc::new(self.ctx.state()))
            .when_matched_update(|mut update| {
                for c in &columns {
                    let q = orderlake_project::quote_ident(c);
                    update = update.update(c.as_str(), format!("source.{q}"));
                }
                update
            })?
            .when_not_matched_insert(|mut insert| {
                for c in &columns {
                    let q = orderlake_project::quote_ident(c);
                    insert = insert.set(c.as_str(), format!("source.{q}"));
                }
                insert
            })?
            .await?;
        self.register_table(relation, &table).await?;
        Ok(MergeOutcome {
            inserted: metrics.num_target_rows_inserted as u64,
            updated: metrics.num_target_rows_updated as u64,
            files_scanned: metrics.num_target_files_scanned as u64,
            files_skipped: metrics.num_target_files_skipped_during_scan as u64,
        })
    }

    /// Overwrites only the rows matching `predicate` (SQL) with `df`, in one commit.
    pub async fn replace_where(
        &self,
        relation: &Relation,
        df: DataFrame,
        predicate: &str,
    ) -> Result<u64> {
        self.replace_where_recording(relation, df, predicate, Vec::new())
            .await
    }

    /// [`Warehouse::replace_where`], recording `marks` (application transactions) in the same
    /// commit.
    pub(crate) async fn replace_where_recording(
        &self,
        relation: &Relation,
        df: DataFrame,
        predicate: &str,
        marks: Vec<deltalake::kernel::Transaction>,
    ) -> Result<u64> {
        let df = delta_types::for_delta(df)?;
        let table = self.open_delta(relation).await?;
        let table = table
            .write(Vec::new())
            .with_input_plan(df.logical_plan().clone())
            .with_session_state(Arc::new(self.ctx.state()))
            .with_save_mode(SaveMode::Overwrite)
            .with_replace_where(predicate.to_string())
            .with_commit_properties(
                deltalake::kernel::transaction::CommitProperties::default()
                    .with_application_transactions(marks),
            )
            .await?;
        let rows = rows_added(&table).await;
        self.register_table(relation, &table).await?;
        Ok(rows)
    }

    /// Deletes the rows matching `predicate` (SQL) in one commit.
    pub async fn delete_where(&self, relation: &Relation, predicate: &str) -> Result<()> {
        let table = self.open_delta(relation).await?;
        let (table, _) = table
            .delete()
            .with_predicate(predicate.to_string())
            .with_session_state(Arc::new(self.ctx.state()))
            .await?;
        self.register_table(relation, &table).await
    }

    /// The Arrow schema of a stored table.
    pub async fn table_schema(
        &self,
        relation: &Relation,
    ) -> Result<datafusion::arrow::datatypes::SchemaRef> {
        let reference =
            TableReference::partial(relation.schema.as_str(), relation.identifier.as_str());
        Ok(self.ctx.table_provider(reference).await?.schema())
    }

    pub(crate) async fn register_table(
        &self,
        relation: &Relation,
        table: &DeltaTable,
    ) -> Result<()> {
        table.update_datafusion_session(&self.ctx.state())?;
        let provider = table.table_provider().await?;
        self.register_provider(relation, provider)?;
        self.remember(relation, table);
        let mut versions = self.versions.lock().unwrap_or_else(|p| p.into_inner());
        match table.version() {
            Some(v) => versions.insert(relation.to_string(), v),
            None => versions.remove(&relation.to_string()),
        };
        Ok(())
    }

    /// Creates or replaces a view. The SQL is planned first: an invalid view changes nothing.
    pub async fn create_view(&self, relation: &Relation, sql: &str) -> Result<()> {
        let df = self.sql(sql).await?;
        if self.kind_of(relation).await? == Some(RelationKind::Table) {
            self.store
                .delete_all(&layout::relation_parts(relation))
                .await?;
        }
        // A put is whole: a reader sees the old SQL or the new.
        self.store
            .write_text(&layout::view_file_parts(relation), sql)
            .await?;
        self.register_provider(relation, df.into_view())
    }

    /// Drops a table or view from storage and from the session.
    pub async fn drop_relation(&self, relation: &Relation) -> Result<()> {
        self.store
            .delete_all(&layout::relation_parts(relation))
            .await?;
        self.forget(relation)
    }

    /// Loads a CSV seed into a Delta table. Types are inferred; `column_types` overrides them
    /// (SQL type names, e.g. `varchar`, `decimal(10,2)`, `date`).
    pub async fn load_seed(
        &self,
        relation: &Relation,
        csv: &Path,
        column_types: &BTreeMap<String, String>,
        delimiter: u8,
    ) -> Result<u64> {
        let path = csv.canonicalize().map_err(|e| EngineError::io(csv, e))?;
        let extension = path
            .extension()
            .and_then(|e| e.to_str())
            .map(|e| format!(".{e}"))
            .unwrap_or_default();
        let options = || {
            CsvReadOptions::new()
                .has_header(true)
                .delimiter(delimiter)
                .schema_infer_max_records(1_000_000)
                .file_extension(&extension)
        };
        let location = path.to_string_lossy().into_owned();
        let inferred = self.ctx.read_csv(location.clone(), options()).await?;
        let columns: Vec<String> = inferred
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        for name in column_types.keys() {
            if !columns.iter().any(|c| c.eq_ignore_ascii_case(name)) {
                return Err(EngineError::UnknownColumn {
                    role: "column_types",
                    column: name.clone(),
                    columns,
                });
            }
        }
        let override_for = |column: &str| {
            column_types
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(column))
                .map(|(_, ty)| ty.clone())
        };
        // Overridden columns are read as text and cast from it, so `001` stays `001` as varchar.
        let fields: Vec<Field> = inferred
            .schema()
            .fields()
            .iter()
            .map(|f| match override_for(f.name()) {
                Some(_) => Field::new(f.name(), DataType::Utf8, true),
                None => f.as_ref().clone().with_nullable(true),
            })
            .collect();
        let schema = Schema::new(fields);
        let df = self
            .ctx
            .read_csv(location, options().schema(&schema))
            .await?;
        let exprs: Vec<String> = columns
            .iter()
            .map(|c| {
                let quoted = orderlake_project::quote_ident(c);
                match override_for(c) {
                    Some(ty) => format!("cast({quoted} as {ty}) as {quoted}"),
                    None => quoted,
                }
            })
            .collect();
        let refs: Vec<&str> = exprs.iter().map(String::as_str).collect();
        let df = df.select_exprs(&refs)?;
        self.write(relation, df, WriteMode::Replace).await
    }

    /// Registers files (CSV, Parquet, NDJSON; a path or glob) as a read-only relation.
    /// For a glob of CSV files with the same columns whose types were inferred differently
    /// (`1` in one file, `1.5` or an empty column in another): one schema where each column
    /// has the widest of its types (integer < float < text). `None` when there is nothing to
    /// reconcile, or the files' columns differ (then DataFusion's own inference speaks).
    async fn csv_glob_schema(
        &self,
        location: &str,
        extension: &str,
    ) -> Result<Option<datafusion::arrow::datatypes::Schema>> {
        use datafusion::arrow::datatypes::{Field, Schema};
        if !location.contains(['*', '?', '[']) {
            return Ok(None);
        }
        let files: Vec<std::path::PathBuf> = match glob::glob(location) {
            Ok(paths) => paths.flatten().filter(|p| p.is_file()).collect(),
            Err(_) => return Ok(None),
        };
        if files.len() < 2 {
            return Ok(None);
        }
        let mut merged: Option<Vec<Field>> = None;
        for file in &files {
            let df = self
                .ctx
                .read_csv(
                    file.to_string_lossy().into_owned(),
                    CsvReadOptions::new()
                        .has_header(true)
                        .file_extension(extension),
                )
                .await?;
            let fields: Vec<Field> = df
                .schema()
                .as_arrow()
                .fields()
                .iter()
                .map(|f| f.as_ref().clone())
                .collect();
            merged = Some(match merged {
                None => fields,
                Some(so_far) => {
                    let same_columns = so_far.len() == fields.len()
                        && so_far
                            .iter()
                            .zip(&fields)
                            .all(|(a, b)| a.name() == b.name());
                    if !same_columns {
                        return Ok(None);
                    }
                    so_far
                        .iter()
                        .zip(&fields)
                        .map(|(a, b)| {
                            Field::new(a.name(), widest(a.data_type(), b.data_type()), true)
                        })
                        .collect()
                }
            });
        }
        Ok(merged.map(Schema::new))
    }

    pub async fn register_files(
        &self,
        relation: &Relation,
        location: &str,
        format: Option<&str>,
    ) -> Result<()> {
        let format = format.map(str::to_ascii_lowercase).unwrap_or_else(|| {
            let lower = location.to_ascii_lowercase();
            if lower.ends_with(".parquet") {
                "parquet".into()
            } else if lower.ends_with(".json")
                || lower.ends_with(".ndjson")
                || lower.ends_with(".jsonl")
            {
                "json".into()
            } else {
                "csv".into()
            }
        });
        let extension = location
            .rsplit('/')
            .next()
            .and_then(|f| f.rsplit_once('.'))
            .map(|(_, e)| format!(".{e}"))
            .unwrap_or_default();
        let df = match format.as_str() {
            "parquet" => {
                self.ctx
                    .read_parquet(
                        location.to_string(),
                        ParquetReadOptions::default().file_extension(&extension),
                    )
                    .await?
            }
            "json" | "ndjson" | "jsonl" => {
                self.ctx
                    .read_json(
                        location.to_string(),
                        JsonReadOptions::default().file_extension(&extension),
                    )
                    .await?
            }
            "csv" => {
                let options = CsvReadOptions::new()
                    .has_header(true)
                    .file_extension(&extension);
                match self.csv_glob_schema(location, &extension).await? {
                    Some(schema) => {
                        self.ctx
                            .read_csv(location.to_string(), options.schema(&schema))
                            .await?
                    }
                    None => self.ctx.read_csv(location.to_string(), options).await?,
                }
            }
            other => {
                return Err(EngineError::definition(format!(
                    "{location}: unknown file format '{other}' (use csv, parquet or json)"
                )));
            }
        };
        self.register_provider(relation, df.into_view())
    }

    /// The current Delta version of a table, if it is one.
    pub async fn table_version(&self, relation: &Relation) -> Option<u64> {
        self.open_delta(relation)
            .await
            .ok()
            .and_then(|t| t.version())
    }
}

async fn rows_added(table: &DeltaTable) -> u64 {
    use futures::TryStreamExt;
    let Ok(history) = table.history(Some(1)).try_collect::<Vec<_>>().await else {
        return 0;
    };
    history
        .first()
        .and_then(|c| c.info.get("operationMetrics"))
        .and_then(|m| m.get("num_added_rows"))
        .and_then(|v| v.as_u64())
        .unwrap_or(0)
}

#[allow(dead_code)]
/// The type that holds values of both `a` and `b` (CSV inference: null < integer < float <
/// text; anything else that differs becomes text).
fn widest(
    a: &datafusion::arrow::datatypes::DataType,
    b: &datafusion::arrow::datatypes::DataType,
) -> datafusion::arrow::datatypes::DataType {
    use datafusion::arrow::datatypes::DataType;
    match (a, b) {
        _ if a == b => a.clone(),
        (DataType::Null, other) | (other, DataType::Null) => other.clone(),
        (DataType::Int64, DataType::Float64) | (DataType::Float64, DataType::Int64) => {
            DataType::Float64
        }
        _ => DataType::Utf8,
    }
}

fn _assert_send_sync() {
    fn is<T: Send + Sync>() {}
    is::<Warehouse>();
    is::<Arc<dyn SchemaProvider>>();
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the kill -9 test: a first write killed after creating `_delta_log` but before
    /// its first commit left a folder that the next write could not open.
    #[tokio::test]
    async fn a_table_whose_first_commit_never_landed_is_written_as_new() {
        let dir = tempfile::tempdir().expect("tempdir");
        let warehouse = Warehouse::open(dir.path(), "main").await.expect("open");
        let relation = Relation::new("gold", "t");
        std::fs::create_dir_all(dir.path().join("gold/t/_delta_log")).expect("mkdir");
        let df = warehouse.sql("select 1 as x").await.expect("sql");
        let rows = warehouse
            .write(&relation, df, WriteMode::Replace)
            .await
            .expect("write");
        assert_eq!(rows, 1);
        let batches = warehouse
            .sql("select sum(x) as s from gold.t")
            .await
            .expect("sql")
            .collect()
            .await
            .expect("collect");
        let text =
            crate::output::format_batches(&batches, crate::output::Format::Csv).expect("format");
        assert!(text.contains('1'), "{text}");
    }
}
