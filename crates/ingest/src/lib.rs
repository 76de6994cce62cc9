//! Landing → bronze, exactly once.
//!
//! The landing area is a local folder or an object-store prefix (`s3://bucket/prefix`: each new
//! object is copied to a local staging folder, then loaded like a file). Every file dropped into
//! it is loaded into the bronze Delta table of its
//! entity (the file name without a trailing `_<number>`: `orders_0003.ndjson` → `bronze.orders`),
//! with `_source_file`, `_ingested_at` and `_row_number` (the row's position in its file) added.
//! CSV and JSON fields land as text (silver types them; nested JSON as JSON text); Parquet keeps
//! its types. JSON is NDJSON or one document (an array of objects, or an API's envelope such as
//! `{"orders": [...]}`). New columns in later files are added to the table (schema evolution).
//!
//! A row that cannot be parsed (broken CSV quoting, a wrong number of fields, invalid JSON) goes
//! to `bronze._quarantine` with its raw text and the reason (a JSON document that does not parse
//! goes whole, as one row): for every file, bronze rows plus quarantined rows equal its input rows.
//!
//! Exactly once: a file is recorded in `_orderlake.ingest_log` after its rows are committed. A
//! crash in between leaves the file unrecorded, and the next run first removes the rows that
//! file had written, then loads it again: nothing is lost and nothing is loaded twice.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use datafusion::arrow::array::{ArrayRef, Int64Array, StringBuilder, TimestampMicrosecondArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use datafusion::arrow::record_batch::RecordBatch;
use orderlake_engine::storage::Store;
use orderlake_engine::warehouse::{Warehouse, WriteMode};
use orderlake_landing::entity_of;
use orderlake_project::spec::SchemaEvolution;
use orderlake_project::{Project, Relation, StorageLocation, sql_string};

mod formats;
mod loader;
pub mod platforms;

pub use platforms::Platform;

pub use loader::RESCUED_DATA;
mod log;

use loader::Loader;
use log::{append_log, fingerprint, logged_files};

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}: {message}")]
    File { file: String, message: String },
    #[error("nothing was loaded:\n{}", problems.join("\n"))]
    Refused { problems: Vec<String> },
    #[error("{0}")]
    Engine(#[from] orderlake_engine::EngineError),
    #[error("{0}")]
    DataFusion(#[from] datafusion::error::DataFusionError),
}

pub type Result<T, E = IngestError> = std::result::Result<T, E>;

fn io_error(path: &Path) -> impl Fn(std::io::Error) -> IngestError + '_ {
    move |source| IngestError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Rows of text per Delta commit while loading a CSV or NDJSON file.
const CHUNK_ROWS: usize = 200_000;

pub const QUARANTINE: &str = "_quarantine";

/// What happened to one landing file.
#[derive(Debug, Clone)]
pub struct FileReport {
    pub file: String,
    pub entity: String,
    pub rows_loaded: u64,
    pub rows_quarantined: u64,
    /// Already loaded by an earlier run.
    pub skipped: bool,
    /// Columns this file added to its bronze table (`addNewColumns`).
    pub new_columns: Vec<String>,
    /// Rows whose unknown columns or misfit values went into `_rescued_data` (`rescue`).
    pub rows_rescued: u64,
    /// Why the file was not loaded (with [`IngestOptions::skip_refused`]): it is tried again on
    /// the next run.
    pub refused: Option<String>,
}

/// Where bronze tables go and how each evolves.
#[derive(Debug, Clone)]
pub struct IngestOptions {
    pub bronze_schema: String,
    /// Per entity (bronze table name); entities not listed add new columns.
    pub schema_evolution: BTreeMap<String, SchemaEvolution>,
    /// Every file must be this platform's export (`ingest --platform`).
    pub platform: Option<Platform>,
    /// Load the files that pass and report the refused ones (a watcher: one bad file must not
    /// hold back the others), instead of loading nothing of a run with a refused file.
    pub skip_refused: bool,
}

impl Default for IngestOptions {
    fn default() -> Self {
        IngestOptions {
            bronze_schema: "bronze".into(),
            schema_evolution: BTreeMap::new(),
            platform: None,
            skip_refused: false,
        }
    }
}

impl IngestOptions {
    /// The options a project's sources declare for the bronze tables in `bronze_schema`.
    pub fn for_project(project: &Project, bronze_schema: &str) -> Self {
        IngestOptions {
            bronze_schema: bronze_schema.to_string(),
            schema_evolution: project
                .sources
                .values()
                .filter(|s| s.relation.schema == bronze_schema)
                .map(|s| (s.relation.identifier.clone(), s.schema_evolution))
                .collect(),
            platform: None,
            skip_refused: false,
        }
    }
}

/// Loads every new file in `landing` into bronze. Files are taken in name order. Every new file
/// is first recognised (a platform's export lands in that export's table) and checked; if any
/// is refused (not the `--platform` asked for, a missing column), none is loaded.
pub async fn ingest(
    warehouse: &Warehouse,
    landing: impl Into<StorageLocation>,
    options: &IngestOptions,
    progress: &(dyn Fn(&FileReport) + Sync),
) -> Result<Vec<FileReport>> {
    let landing = Landing::open(landing.into()).await?;
    let done = logged_files(warehouse).await?;
    let mut reports = Vec::new();
    let mut pending = Vec::new();
    let mut problems = Vec::new();
    for LandingFile {
        name,
        size,
        modified,
    } in landing.files().await?
    {
        if name.starts_with('_') || name.starts_with('.') {
            continue;
        }
        let Some(named_entity) = entity_of(&name) else {
            continue;
        };
        if let Some(entity) = done.get(&(name.clone(), size, modified)) {
            reports.push(FileReport {
                file: name,
                entity: entity.clone(),
                rows_loaded: 0,
                rows_quarantined: 0,
                skipped: true,
                new_columns: Vec::new(),
                rows_rescued: 0,
                refused: None,
            });
            continue;
        }
        let path = landing.local_copy(&name).await?;
        let mut refusals = Vec::new();
        let (entity, platform_export) =
            recognise_file(&path, &name, named_entity, options.platform, &mut refusals)?;
        if !refusals.is_empty() {
            if options.skip_refused {
                reports.push(FileReport {
                    file: name,
                    entity,
                    rows_loaded: 0,
                    rows_quarantined: 0,
                    skipped: false,
                    new_columns: Vec::new(),
                    rows_rescued: 0,
                    refused: Some(refusals.join("; ")),
                });
            } else {
                problems.extend(refusals);
            }
            continue;
        }
        pending.push(NewFile {
            path,
            name,
            entity,
            size,
            modified,
            platform_export,
        });
    }
    if !problems.is_empty() {
        return Err(IngestError::Refused { problems });
    }
    for report in &reports {
        progress(report);
    }
    warehouse.ensure_schema(&options.bronze_schema)?;
    for NewFile {
        path,
        name,
        entity,
        size,
        modified,
        platform_export,
    } in pending
    {
        let bronze = Relation::new(options.bronze_schema.clone(), entity.clone());
        let quarantine = Relation::new(options.bronze_schema.clone(), QUARANTINE);
        // Rows a crashed earlier attempt left behind are removed before loading again.
        for relation in [&bronze, &quarantine] {
            if warehouse.kind_of(relation).await?.is_some() {
                warehouse
                    .delete_where(relation, &format!("_source_file = {}", sql_string(&name)))
                    .await?;
            }
        }
        let ingested_at = Utc::now();
        let loader = Loader {
            warehouse,
            bronze: &bronze,
            quarantine: &quarantine,
            file: &name,
            entity: &entity,
            ingested_at,
            cast_rejects: Default::default(),
            evolution: options
                .schema_evolution
                .get(&entity)
                .copied()
                .unwrap_or_default(),
            changes: Default::default(),
            platform_export,
        };
        let lower = name.to_ascii_lowercase();
        let (loaded, quarantined) = if lower.ends_with(".parquet") {
            loader.parquet(&path).await?
        } else if lower.ends_with(".csv") {
            loader.csv(&path).await?
        } else {
            loader.ndjson(&path).await?
        };
        append_log(
            warehouse,
            &name,
            &entity,
            size,
            modified,
            loaded,
            quarantined,
            ingested_at,
        )
        .await?;
        let changes = loader
            .changes
            .into_inner()
            .unwrap_or_else(|p| p.into_inner());
        let report = FileReport {
            file: name,
            entity,
            rows_loaded: loaded,
            rows_quarantined: quarantined,
            skipped: false,
            new_columns: changes.new_columns.into_iter().collect(),
            rows_rescued: changes.rescued_rows,
            refused: None,
        };
        progress(&report);
        reports.push(report);
    }
    // In name order, as the files were taken, whether skipped or loaded.
    reports.sort_by(|a, b| a.file.cmp(&b.file));
    Ok(reports)
}

/// The landing area: a folder, or an object-store prefix whose new objects are copied to a
/// local staging folder (removed with it) before they are read.
enum Landing {
    Folder(PathBuf),
    Objects {
        store: Box<Store>,
        staging: tempfile::TempDir,
    },
}

/// A file in the landing area: its name, size and modification time (µs since the epoch).
struct LandingFile {
    name: String,
    size: u64,
    modified: i64,
}

impl Landing {
    async fn open(location: StorageLocation) -> Result<Landing> {
        match location {
            StorageLocation::Folder(path) => Ok(Landing::Folder(path)),
            other => {
                let store = Store::open(&other).await?;
                let staging = tempfile::Builder::new()
                    .prefix("orderlake-landing-")
                    .tempdir()
                    .map_err(io_error(&std::env::temp_dir()))?;
                Ok(Landing::Objects {
                    store: Box::new(store),
                    staging,
                })
            }
        }
    }

    /// The files directly in the landing area, in name order.
    async fn files(&self) -> Result<Vec<LandingFile>> {
        let mut files = match self {
            Landing::Folder(dir) => {
                let mut files = Vec::new();
                for entry in std::fs::read_dir(dir).map_err(io_error(dir))? {
                    let Ok(entry) = entry else { continue };
                    let path = entry.path();
                    if !path.is_file() {
                        continue;
                    }
                    let (size, modified) = fingerprint(&path)?;
                    files.push(LandingFile {
                        name: entry.file_name().to_string_lossy().into_owned(),
                        size,
                        modified,
                    });
                }
                files
            }
            Landing::Objects { store, .. } => store
                .list(&[])
                .await?
                .files
                .into_iter()
                .map(|(name, size, modified)| LandingFile {
                    name,
                    size,
                    modified: modified.timestamp_micros(),
                })
                .collect(),
        };
        files.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(files)
    }

    /// A local file with the content of landing file `name` (the file itself in a folder).
    async fn local_copy(&self, name: &str) -> Result<PathBuf> {
        match self {
            Landing::Folder(dir) => Ok(dir.join(name)),
            Landing::Objects { store, staging } => {
                let path = staging.path().join(name);
                store.download(&[name], &path).await?;
                Ok(path)
            }
        }
    }
}

/// A new landing file, recognised and checked, waiting to be loaded.
struct NewFile {
    path: PathBuf,
    name: String,
    /// Its bronze table.
    entity: String,
    size: u64,
    modified: i64,
    /// A platform's export (see [`platforms`]).
    platform_export: bool,
}

/// The bronze table of a new file and whether it is a platform's export; what refuses it (not
/// the `platform` asked for, a missing column) is added to `problems`.
fn recognise_file(
    path: &Path,
    name: &str,
    named_entity: String,
    platform: Option<Platform>,
    problems: &mut Vec<String>,
) -> Result<(String, bool)> {
    let recognised = match platforms::columns_of(path).map_err(io_error(path))? {
        Some((format, columns, complete)) => {
            platforms::recognise(&named_entity, format, &columns, complete)
        }
        None => None,
    };
    match (&recognised, platform) {
        (Some(found), Some(platform)) if found.kind.platform != platform => problems.push(format!(
            "{name}: {} is not one of {platform}'s exports",
            found.kind.description
        )),
        (None, Some(platform)) => problems.push(format!(
            "{name}: not one of {platform}'s exports; accepted:\n{}",
            platform.accepted()
        )),
        _ => {}
    }
    if let Some(found) = recognised.as_ref().filter(|f| !f.missing.is_empty()) {
        problems.push(format!(
            "{name}: {} without the column(s) {}",
            found.kind.description,
            found.missing.join(", ")
        ));
    }
    Ok(match recognised {
        Some(found) => (found.kind.entity.to_string(), true),
        None => (named_entity, false),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn count(warehouse: &Warehouse, sql: &str) -> i64 {
        let batches = warehouse.sql(sql).await.unwrap().collect().await.unwrap();
        let col = datafusion::arrow::compute::cast(batches[0].column(0), &DataType::Int64).unwrap();
        col.as_any().downcast_ref::<Int64Array>().unwrap().value(0)
    }

    fn write(dir: &Path, name: &str, text: &str) {
        std::fs::write(dir.join(name), text).unwrap();
    }

    /// A new warehouse in `dir/wh` and the reports of ingesting `landing` into it.
    async fn first_ingest(dir: &Path, landing: &Path) -> (Warehouse, Vec<FileReport>) {
        let warehouse = Warehouse::open(&dir.join("wh"), "main").await.unwrap();
        let reports = ingest(&warehouse, landing, &IngestOptions::default(), &|_| {})
            .await
            .unwrap();
        (warehouse, reports)
    }

    #[tokio::test]
    async fn a_refused_file_stops_the_run_or_with_skip_refused_only_itself() {
        let dir = tempfile::tempdir().unwrap();
        let landing = dir.path().join("landing");
        std::fs::create_dir_all(&landing).unwrap();
        // An Olist orders export without its purchase timestamp, and an ordinary file.
        write(
            &landing,
            "olist_orders_dataset.csv",
            "order_id,customer_id,order_status\na,b,delivered\n",
        );
        write(&landing, "notes.csv", "id,text\n1,hello\n");
        let warehouse = Warehouse::open(&dir.path().join("wh"), "main")
            .await
            .unwrap();
        let refused = ingest(&warehouse, &landing, &IngestOptions::default(), &|_| {})
            .await
            .unwrap_err()
            .to_string();
        assert!(
            refused.contains("olist_orders_dataset.csv")
                && refused.contains("order_purchase_timestamp"),
            "{refused}"
        );
        assert!(
            warehouse
                .kind_of(&Relation::new("bronze", "notes"))
                .await
                .expect("kind")
                .is_none()
        );
        let options = IngestOptions {
            skip_refused: true,
            ..IngestOptions::default()
        };
        let reports = ingest(&warehouse, &landing, &options, &|_| {})
            .await
            .unwrap();
        assert_eq!(
            count(&warehouse, "select count(*) from bronze.notes").await,
            1
        );
        let olist = reports
            .iter()
            .find(|r| r.file == "olist_orders_dataset.csv")
            .unwrap();
        assert!(
            olist
                .refused
                .as_deref()
                .is_some_and(|r| r.contains("order_estimated_delivery_date")),
            "{olist:?}"
        );
        assert!(
            warehouse
                .kind_of(&Relation::new("bronze", "olist_orders_dataset"))
                .await
                .expect("kind")
                .is_none()
        );
    }

    #[tokio::test]
    async fn text_rows_into_a_typed_bronze_table_are_cast_or_quarantined() {
        // bronze.order_lines was created from Parquet (typed); the desk then publishes NDJSON.
        let dir = tempfile::tempdir().unwrap();
        let landing = dir.path().join("landing");
        std::fs::create_dir_all(&landing).unwrap();
        let schema = Arc::new(Schema::new(vec![
            Field::new("order_id", DataType::Int64, false),
            Field::new("quantity", DataType::Int64, false),
        ]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(Int64Array::from(vec![1, 2])),
                Arc::new(Int64Array::from(vec![5, 6])),
            ],
        )
        .unwrap();
        let file = std::fs::File::create(landing.join("order_lines_0001.parquet")).unwrap();
        let mut writer =
            datafusion::parquet::arrow::ArrowWriter::try_new(file, schema, None).unwrap();
        writer.write(&batch).unwrap();
        writer.close().unwrap();
        let warehouse = Warehouse::open(&dir.path().join("wh"), "main")
            .await
            .unwrap();
        ingest(&warehouse, &landing, &IngestOptions::default(), &|_| {})
            .await
            .unwrap();
        write(
            &landing,
            "order_lines_000000000009.ndjson",
            "{\"order_id\": 1000000001, \"quantity\": \"3\", \"unit_price\": \"10.00\"}\n{\"order_id\": 1000000002, \"quantity\": \"three\"}\n",
        );
        let reports = ingest(&warehouse, &landing, &IngestOptions::default(), &|_| {})
            .await
            .unwrap();
        assert_eq!(
            (reports[0].rows_loaded, reports[0].rows_quarantined),
            (1, 1)
        );
        assert_eq!(
            count(&warehouse, "select sum(quantity) from bronze.order_lines").await,
            5 + 6 + 3
        );
        assert_eq!(
            count(&warehouse, "select count(*) from bronze._quarantine where reason like 'column quantity: ''three'' is not Int64%' and raw like '%1000000002%'").await,
            1
        );
    }

    #[tokio::test]
    async fn json_documents_as_apis_return_them_load_and_a_truncated_one_is_quarantined_whole() {
        let dir = tempfile::tempdir().unwrap();
        let landing = dir.path().join("landing");
        std::fs::create_dir_all(&landing).unwrap();
        // Shopify's envelope, pretty-printed, with nested line items.
        write(
            &landing,
            "shop_orders_0001.json",
            "{\n  \"orders\": [\n    {\"id\": 1, \"currency\": \"EUR\", \"line_items\": [{\"sku\": \"A\", \"quantity\": 2}]},\n    {\n      \"id\": 2,\n      \"currency\": \"USD\",\n      \"line_items\": []\n    }\n  ]\n}\n",
        );
        // WooCommerce's bare array; one element is not an object.
        write(
            &landing,
            "shop_orders_0002.json",
            "[\n {\"id\": 3, \"currency\": \"NGN\"},\n 42\n]\n",
        );
        // A download cut off half way: nothing of it loads, all of it is kept.
        let truncated =
            "{\n  \"orders\": [\n    {\"id\": 4, \"currency\": \"EUR\"},\n    {\"id\": 5, \"curr";
        write(&landing, "shop_orders_0003.json", truncated);
        // An envelope on one line, as a compact API response.
        write(
            &landing,
            "shop_orders_0005.json",
            "{\"orders\": [{\"id\": 8}, {\"id\": 9}]}",
        );
        // NDJSON with a broken first line still loads its other lines.
        write(
            &landing,
            "shop_orders_0004.json",
            "{\"id\": 6, \"curr\n{\"id\": 7, \"currency\": \"BRL\"}\n",
        );
        let (warehouse, reports) = first_ingest(dir.path(), &landing).await;
        let counts: Vec<(u64, u64)> = reports
            .iter()
            .map(|r| (r.rows_loaded, r.rows_quarantined))
            .collect();
        assert_eq!(counts, [(2, 0), (1, 1), (0, 1), (1, 1), (2, 0)]);
        assert_eq!(
            count(
                &warehouse,
                "select sum(cast(id as bigint)) from bronze.shop_orders"
            )
            .await,
            1 + 2 + 3 + 7 + 8 + 9
        );
        assert_eq!(
            count(
                &warehouse,
                "select count(*) from bronze.shop_orders where id = '1' and line_items = '[{\"quantity\":2,\"sku\":\"A\"}]'"
            )
            .await,
            1
        );
        // Nested JSON is read with the JSON functions models use.
        assert_eq!(
            count(
                &warehouse,
                "select sum(json_get_int(item, 'quantity')) from (select unnest(json_get_array(line_items)) as item from bronze.shop_orders)"
            )
            .await,
            2
        );
        let kept = warehouse
            .sql("select raw, reason from bronze._quarantine where _source_file = 'shop_orders_0003.json'")
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        let text = crate::tests::strings(&kept);
        assert_eq!(text[0], truncated, "the whole file is kept");
        assert!(
            text[1].starts_with("not a complete JSON document: EOF"),
            "{}",
            text[1]
        );
    }

    /// The text of every cell of a one-row result, column by column.
    fn strings(batches: &[RecordBatch]) -> Vec<String> {
        let batch = &batches[0];
        (0..batch.num_columns())
            .map(|i| {
                let column =
                    datafusion::arrow::compute::cast(batch.column(i), &DataType::Utf8).unwrap();
                column
                    .as_any()
                    .downcast_ref::<datafusion::arrow::array::StringArray>()
                    .unwrap()
                    .value(0)
                    .to_string()
            })
            .collect()
    }

    #[tokio::test]
    async fn every_row_lands_in_bronze_or_quarantine_exactly_once() {
        let dir = tempfile::tempdir().unwrap();
        let landing = dir.path().join("landing");
        std::fs::create_dir_all(&landing).unwrap();
        // Row 3 has broken quoting that swallows the line break; row 4 has too many fields.
        write(
            &landing,
            "customers.csv",
            "\u{feff}id,name,limit\n1,Ade,100.00\n2,\"Bisi, Ltd\",200\n3,\"Broken,300\n4,Efe,1,extra\n",
        );
        write(
            &landing,
            "orders_0001.ndjson",
            "{\"order_id\": 1, \"status\": \"raised\"}\n{\"order_id\": 2, \"status\": null, \"channel\": \"web\"}\n{\"order_id\": 3,\n[1,2]\n",
        );
        let (warehouse, reports) = first_ingest(dir.path(), &landing).await;
        let by_file: BTreeMap<_, _> = reports
            .iter()
            .map(|r| (r.file.as_str(), (r.rows_loaded, r.rows_quarantined)))
            .collect();
        assert_eq!(by_file["customers.csv"], (2, 1));
        assert_eq!(by_file["orders_0001.ndjson"], (2, 2));
        assert_eq!(count(&warehouse, "select count(*) from bronze.customers where name = 'Bisi, Ltd' and \"limit\" = '200'").await, 1);
        assert_eq!(
            count(
                &warehouse,
                "select count(*) from bronze.orders where channel is null and order_id = '1'"
            )
            .await,
            1
        );
        assert_eq!(
            count(&warehouse, "select count(*) from bronze._quarantine where entity = 'orders' and reason like 'invalid JSON%'").await,
            1
        );
        assert_eq!(
            count(&warehouse, "select max(_row_number) from bronze.orders").await,
            2
        );

        // A second run loads nothing.
        let again = ingest(&warehouse, &landing, &IngestOptions::default(), &|_| {})
            .await
            .unwrap();
        assert!(again.iter().all(|r| r.skipped));
        assert_eq!(
            count(&warehouse, "select count(*) from bronze.orders").await,
            2
        );

        // A crash after the rows of a new file were committed but before it was logged: the next
        // run removes those rows and loads the file once.
        write(
            &landing,
            "orders_0002.ndjson",
            "{\"order_id\": 9, \"status\": \"billed\", \"note\": \"new column\"}\n",
        );
        let loader = Loader {
            warehouse: &warehouse,
            bronze: &Relation::new("bronze", "orders"),
            quarantine: &Relation::new("bronze", QUARANTINE),
            file: "orders_0002.ndjson",
            entity: "orders",
            ingested_at: Utc::now(),
            cast_rejects: Default::default(),
            evolution: SchemaEvolution::AddNewColumns,
            changes: Default::default(),
            platform_export: false,
        };
        loader
            .ndjson(&landing.join("orders_0002.ndjson"))
            .await
            .unwrap();
        assert_eq!(
            count(
                &warehouse,
                "select count(*) from bronze.orders where order_id = '9'"
            )
            .await,
            1
        );
        ingest(&warehouse, &landing, &IngestOptions::default(), &|_| {})
            .await
            .unwrap();
        assert_eq!(
            count(
                &warehouse,
                "select count(*) from bronze.orders where order_id = '9'"
            )
            .await,
            1
        );
        assert_eq!(
            count(
                &warehouse,
                "select count(*) from bronze.orders where note = 'new column'"
            )
            .await,
            1
        );
        assert_eq!(
            count(&warehouse, "select count(*) from bronze.orders").await,
            3
        );
    }

    /// Ingests `files` one run after another with `mode` for bronze.orders; the reports.
    async fn evolve(
        mode: SchemaEvolution,
        files: &[(&str, &str)],
    ) -> (Warehouse, Vec<Result<Vec<FileReport>>>, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let landing = dir.path().join("landing");
        std::fs::create_dir_all(&landing).unwrap();
        let warehouse = Warehouse::open(&dir.path().join("wh"), "main")
            .await
            .unwrap();
        let options = IngestOptions {
            schema_evolution: [("orders".to_string(), mode)].into(),
            ..Default::default()
        };
        let mut results = Vec::new();
        for (name, text) in files {
            write(&landing, name, text);
            results.push(ingest(&warehouse, &landing, &options, &|_| {}).await);
        }
        (warehouse, results, dir)
    }

    const FIRST: (&str, &str) = (
        "orders_0001.ndjson",
        "{\"order_id\": \"1\", \"status\": \"raised\"}\n",
    );
    const WIDER: (&str, &str) = (
        "orders_0002.ndjson",
        "{\"order_id\": \"2\", \"status\": \"billed\", \"coupon\": \"SPRING\"}\n{\"order_id\": \"3\", \"status\": \"raised\"}\n",
    );

    async fn columns(warehouse: &Warehouse) -> Vec<String> {
        warehouse
            .table_schema(&Relation::new("bronze", "orders"))
            .await
            .unwrap()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .filter(|n| !n.starts_with("_") || n == loader::RESCUED_DATA)
            .collect()
    }

    #[tokio::test]
    async fn add_new_columns_widens_the_table_and_says_so() {
        let (warehouse, results, _dir) =
            evolve(SchemaEvolution::AddNewColumns, &[FIRST, WIDER]).await;
        let second = results[1].as_ref().unwrap();
        let report = second.iter().find(|r| r.file == WIDER.0).unwrap();
        assert_eq!(report.new_columns, vec!["coupon"]);
        assert_eq!(
            columns(&warehouse).await,
            vec!["order_id", "status", "coupon"]
        );
        assert_eq!(
            count(
                &warehouse,
                "select count(*) from bronze.orders where coupon = 'SPRING'"
            )
            .await,
            1
        );
    }

    #[tokio::test]
    async fn rescue_keeps_the_schema_and_the_unknown_values() {
        let (warehouse, results, _dir) = evolve(SchemaEvolution::Rescue, &[FIRST, WIDER]).await;
        let report = results[1]
            .as_ref()
            .unwrap()
            .iter()
            .find(|r| r.file == WIDER.0)
            .cloned()
            .unwrap();
        assert_eq!(report.rows_loaded, 2);
        assert_eq!(report.rows_rescued, 1);
        assert!(report.new_columns.is_empty());
        assert_eq!(
            columns(&warehouse).await,
            vec!["order_id", "status", "_rescued_data"]
        );
        let rescued = warehouse
            .sql("select _rescued_data from bronze.orders where order_id = '2'")
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        let text = datafusion::arrow::util::display::array_value_to_string(rescued[0].column(0), 0)
            .unwrap();
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"coupon": "SPRING", "_file": "orders_0002.ndjson"})
        );
        assert_eq!(
            count(
                &warehouse,
                "select count(*) from bronze.orders where _rescued_data is null"
            )
            .await,
            2
        );
    }

    #[tokio::test]
    async fn fail_on_new_columns_refuses_the_file_by_name() {
        let (warehouse, results, _dir) =
            evolve(SchemaEvolution::FailOnNewColumns, &[FIRST, WIDER]).await;
        let err = results[1].as_ref().unwrap_err().to_string();
        assert!(
            err.contains("orders_0002.ndjson")
                && err.contains("coupon")
                && err.contains("failOnNewColumns"),
            "{err}"
        );
        assert_eq!(
            count(&warehouse, "select count(*) from bronze.orders").await,
            1
        );
        assert_eq!(
            count(&warehouse, "select count(*) from _orderlake.ingest_log").await,
            1
        );
    }

    #[tokio::test]
    async fn none_drops_new_columns() {
        let (warehouse, results, _dir) = evolve(SchemaEvolution::None, &[FIRST, WIDER]).await;
        assert!(results[1].is_ok());
        assert_eq!(columns(&warehouse).await, vec!["order_id", "status"]);
        assert_eq!(
            count(&warehouse, "select count(*) from bronze.orders").await,
            3
        );
    }
}
