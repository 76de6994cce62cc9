//! Landing → bronze, exactly once.
//!
//! Every file dropped into the landing folder is loaded into the bronze Delta table of its
//! entity (the file name without a trailing `_<number>`: `orders_0003.ndjson` → `bronze.orders`),
//! with `_source_file`, `_ingested_at` and `_row_number` (the row's position in its file) added.
//! CSV and NDJSON fields land as text (silver types them); Parquet keeps its types. New columns
//! in later files are added to the table (schema evolution).
//!
//! A row that cannot be parsed (broken CSV quoting, a wrong number of fields, invalid JSON) goes
//! to `bronze._quarantine` with its raw text and the reason: for every file, bronze rows plus
//! quarantined rows equal its input rows.
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
use orderlake_engine::warehouse::{Warehouse, WriteMode};
use orderlake_landing::entity_of;
use orderlake_project::{Relation, sql_string};

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
}

/// Where bronze tables go.
#[derive(Debug, Clone)]
pub struct IngestOptions {
    pub bronze_schema: String,
}

impl Default for IngestOptions {
    fn default() -> Self {
        IngestOptions {
            bronze_schema: "bronze".into(),
        }
    }
}

fn log_relation() -> Relation {
    Relation::new(orderlake_engine::layout::SYSTEM_SCHEMA, "ingest_log")
}

/// A file's identity in the log: its name, size and modification time.
fn fingerprint(path: &Path) -> Result<(u64, i64)> {
    let meta = std::fs::metadata(path).map_err(io_error(path))?;
    let modified = meta
        .modified()
        .ok()
        .and_then(|m| m.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0);
    Ok((meta.len(), modified))
}

async fn logged_files(warehouse: &Warehouse) -> Result<BTreeSet<(String, u64, i64)>> {
    let log = log_relation();
    if warehouse.kind_of(&log).is_none() {
        return Ok(BTreeSet::new());
    }
    let batches = warehouse
        .sql(&format!(
            "select file, size_bytes, modified_micros from {log}"
        ))
        .await?
        .collect()
        .await?;
    let mut out = BTreeSet::new();
    for b in batches {
        let files = datafusion::arrow::compute::cast(b.column(0), &DataType::Utf8)
            .map_err(|e| IngestError::DataFusion(e.into()))?;
        let files = files
            .as_any()
            .downcast_ref::<datafusion::arrow::array::StringArray>()
            .cloned();
        let sizes = b.column(1).as_any().downcast_ref::<Int64Array>().cloned();
        let mods = b.column(2).as_any().downcast_ref::<Int64Array>().cloned();
        if let (Some(f), Some(s), Some(m)) = (files, sizes, mods) {
            for i in 0..b.num_rows() {
                out.insert((f.value(i).to_string(), s.value(i) as u64, m.value(i)));
            }
        }
    }
    Ok(out)
}

/// Loads every new file in `landing` into bronze. Files are taken in name order.
pub async fn ingest(
    warehouse: &Warehouse,
    landing: &Path,
    options: &IngestOptions,
    progress: &dyn Fn(&FileReport),
) -> Result<Vec<FileReport>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(landing)
        .map_err(io_error(landing))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    let done = logged_files(warehouse).await?;
    warehouse.ensure_schema(&options.bronze_schema)?;
    let mut reports = Vec::new();
    for path in files {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name.starts_with('_') || name.starts_with('.') {
            continue;
        }
        let Some(entity) = entity_of(&name) else {
            continue;
        };
        let (size, modified) = fingerprint(&path)?;
        if done.contains(&(name.clone(), size, modified)) {
            let report = FileReport {
                file: name,
                entity,
                rows_loaded: 0,
                rows_quarantined: 0,
                skipped: true,
            };
            progress(&report);
            reports.push(report);
            continue;
        }
        let bronze = Relation::new(options.bronze_schema.clone(), entity.clone());
        let quarantine = Relation::new(options.bronze_schema.clone(), QUARANTINE);
        // Rows a crashed earlier attempt left behind are removed before loading again.
        for relation in [&bronze, &quarantine] {
            if warehouse.kind_of(relation).is_some() {
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
        let report = FileReport {
            file: name,
            entity,
            rows_loaded: loaded,
            rows_quarantined: quarantined,
            skipped: false,
        };
        progress(&report);
        reports.push(report);
    }
    Ok(reports)
}

#[allow(clippy::too_many_arguments)]
async fn append_log(
    warehouse: &Warehouse,
    file: &str,
    entity: &str,
    size: u64,
    modified: i64,
    loaded: u64,
    quarantined: u64,
    at: DateTime<Utc>,
) -> Result<()> {
    let utc: Arc<str> = Arc::from("UTC");
    let schema = Arc::new(Schema::new(vec![
        Field::new("file", DataType::Utf8, false),
        Field::new("entity", DataType::Utf8, false),
        Field::new("size_bytes", DataType::Int64, false),
        Field::new("modified_micros", DataType::Int64, false),
        Field::new("rows_loaded", DataType::Int64, false),
        Field::new("rows_quarantined", DataType::Int64, false),
        Field::new(
            "ingested_at",
            DataType::Timestamp(TimeUnit::Microsecond, Some(utc.clone())),
            false,
        ),
    ]));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(datafusion::arrow::array::StringArray::from(vec![file])),
        Arc::new(datafusion::arrow::array::StringArray::from(vec![entity])),
        Arc::new(Int64Array::from(vec![size as i64])),
        Arc::new(Int64Array::from(vec![modified])),
        Arc::new(Int64Array::from(vec![loaded as i64])),
        Arc::new(Int64Array::from(vec![quarantined as i64])),
        Arc::new(TimestampMicrosecondArray::from(vec![at.timestamp_micros()]).with_timezone(utc)),
    ];
    let batch =
        RecordBatch::try_new(schema, columns).map_err(|e| IngestError::DataFusion(e.into()))?;
    let df = warehouse.context().read_batch(batch)?;
    warehouse
        .write(&log_relation(), df, WriteMode::Append)
        .await?;
    Ok(())
}

struct Loader<'a> {
    warehouse: &'a Warehouse,
    bronze: &'a Relation,
    quarantine: &'a Relation,
    file: &'a str,
    entity: &'a str,
    ingested_at: DateTime<Utc>,
    /// Rows sent to quarantine because a value did not cast to the column's stored type.
    cast_rejects: std::sync::atomic::AtomicU64,
}

/// Rows of text being collected for one commit.
#[derive(Default)]
struct TextChunk {
    columns: Vec<String>,
    index: BTreeMap<String, usize>,
    values: Vec<Vec<Option<String>>>,
    row_numbers: Vec<i64>,
}

impl TextChunk {
    fn column(&mut self, name: &str) -> usize {
        if let Some(i) = self.index.get(name) {
            return *i;
        }
        let i = self.columns.len();
        self.columns.push(name.to_string());
        self.index.insert(name.to_string(), i);
        // Earlier rows of the chunk have no value for a column first seen now.
        self.values.push(vec![None; self.row_numbers.len()]);
        i
    }

    fn push(&mut self, row_number: i64, fields: Vec<(String, Option<String>)>) {
        let before = self.row_numbers.len();
        self.row_numbers.push(row_number);
        for col in &mut self.values {
            col.push(None);
        }
        for (name, value) in fields {
            let i = self.column(&name);
            self.values[i][before] = value;
        }
    }

    fn len(&self) -> usize {
        self.row_numbers.len()
    }
}

struct Rejected {
    row_number: i64,
    raw: String,
    reason: String,
}

impl Loader<'_> {
    fn meta_fields(&self, rows: usize) -> (Vec<Field>, Vec<ArrayRef>) {
        let utc: Arc<str> = Arc::from("UTC");
        (
            vec![
                Field::new("_source_file", DataType::Utf8, false),
                Field::new(
                    "_ingested_at",
                    DataType::Timestamp(TimeUnit::Microsecond, Some(utc.clone())),
                    false,
                ),
            ],
            vec![
                Arc::new(datafusion::arrow::array::StringArray::from(vec![
                    self.file;
                    rows
                ])),
                Arc::new(
                    TimestampMicrosecondArray::from(vec![
                        self.ingested_at.timestamp_micros();
                        rows
                    ])
                    .with_timezone(utc),
                ),
            ],
        )
    }

    /// Commits a chunk of text rows. Where the bronze table already stores a column typed (it was
    /// created from Parquet, say), the text is cast to that type; a value that does not cast
    /// sends its row to quarantine with the column and value named, so nothing is lost.
    async fn write_chunk(&self, chunk: TextChunk) -> Result<u64> {
        let rows = chunk.len();
        if rows == 0 {
            return Ok(0);
        }
        let existing = self.warehouse.table_schema(self.bronze).await.ok();
        let mut fields = Vec::new();
        let mut arrays: Vec<ArrayRef> = Vec::new();
        let mut bad: Vec<Option<String>> = vec![None; rows];
        for (name, values) in chunk.columns.iter().zip(&chunk.values) {
            let mut builder = StringBuilder::with_capacity(rows, rows * 8);
            for v in values {
                builder.append_option(v.as_deref());
            }
            let text: ArrayRef = Arc::new(builder.finish());
            let target = existing
                .as_ref()
                .and_then(|s| s.field_with_name(name).ok())
                .map(|f| f.data_type().clone())
                .filter(|t| {
                    !matches!(
                        t,
                        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Null
                    )
                });
            match target {
                None => {
                    fields.push(Field::new(name, DataType::Utf8, true));
                    arrays.push(text);
                }
                Some(target) => {
                    // An empty field is a missing value to a typed column.
                    let text: ArrayRef =
                        Arc::new(datafusion::arrow::array::StringArray::from_iter(
                            values
                                .iter()
                                .map(|v| v.as_deref().filter(|t| !t.trim().is_empty())),
                        ));
                    let typed = datafusion::arrow::compute::cast(&text, &target)
                        .map_err(|e| IngestError::DataFusion(e.into()))?;
                    for (i, reason) in bad.iter_mut().enumerate() {
                        if reason.is_none() && !text.is_null(i) && typed.is_null(i) {
                            let value = values[i].as_deref().unwrap_or_default();
                            *reason = Some(format!(
                                "column {name}: '{value}' is not {target} (the type {} stores it as)",
                                self.bronze
                            ));
                        }
                    }
                    fields.push(Field::new(name, target, true));
                    arrays.push(typed);
                }
            }
        }
        let (meta_fields, meta_arrays) = self.meta_fields(rows);
        fields.extend(meta_fields);
        arrays.extend(meta_arrays);
        fields.push(Field::new("_row_number", DataType::Int64, false));
        arrays.push(Arc::new(Int64Array::from(chunk.row_numbers.clone())));
        let mut batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)
            .map_err(|e| IngestError::DataFusion(e.into()))?;
        if bad.iter().any(Option::is_some) {
            let rejects: Vec<Rejected> = bad
                .iter()
                .enumerate()
                .filter_map(|(i, reason)| {
                    let reason = reason.clone()?;
                    let raw: serde_json::Map<String, serde_json::Value> = chunk
                        .columns
                        .iter()
                        .zip(&chunk.values)
                        .filter_map(|(c, v)| {
                            Some((c.clone(), serde_json::Value::String(v[i].clone()?)))
                        })
                        .collect();
                    Some(Rejected {
                        row_number: chunk.row_numbers[i],
                        raw: serde_json::Value::Object(raw).to_string(),
                        reason,
                    })
                })
                .collect();
            let keep = datafusion::arrow::array::BooleanArray::from(
                bad.iter().map(|b| b.is_none()).collect::<Vec<_>>(),
            );
            batch = datafusion::arrow::compute::filter_record_batch(&batch, &keep)
                .map_err(|e| IngestError::DataFusion(e.into()))?;
            let quarantined = self.write_rejects(rejects).await?;
            self.cast_rejects
                .fetch_add(quarantined, std::sync::atomic::Ordering::Relaxed);
        }
        if batch.num_rows() == 0 {
            return Ok(0);
        }
        let df = self.warehouse.context().read_batch(batch)?;
        Ok(self
            .warehouse
            .write(self.bronze, df, WriteMode::Append)
            .await?)
    }

    /// Commits the chunk once it holds [`CHUNK_ROWS`] rows, so memory stays bounded.
    async fn write_if_full(&self, chunk: &mut TextChunk) -> Result<u64> {
        if chunk.len() < CHUNK_ROWS {
            return Ok(0);
        }
        self.write_chunk(std::mem::take(chunk)).await
    }

    /// Commits the last rows and the rejects; returns (rows loaded, rows quarantined).
    async fn finish_text(
        &self,
        chunk: TextChunk,
        rejects: Vec<Rejected>,
        loaded: u64,
    ) -> Result<(u64, u64)> {
        let loaded = loaded + self.write_chunk(chunk).await?;
        let quarantined = self.write_rejects(rejects).await?
            + self.cast_rejects.load(std::sync::atomic::Ordering::Relaxed);
        Ok((loaded, quarantined))
    }

    async fn write_rejects(&self, rejects: Vec<Rejected>) -> Result<u64> {
        let rows = rejects.len();
        if rows == 0 {
            return Ok(0);
        }
        let (mut fields, mut arrays) = self.meta_fields(rows);
        fields.insert(0, Field::new("entity", DataType::Utf8, false));
        arrays.insert(
            0,
            Arc::new(datafusion::arrow::array::StringArray::from(vec![
                self.entity;
                rows
            ])),
        );
        fields.push(Field::new("_row_number", DataType::Int64, false));
        arrays.push(Arc::new(Int64Array::from(
            rejects.iter().map(|r| r.row_number).collect::<Vec<_>>(),
        )));
        fields.push(Field::new("raw", DataType::Utf8, false));
        arrays.push(Arc::new(
            datafusion::arrow::array::StringArray::from_iter_values(
                rejects.iter().map(|r| r.raw.as_str()),
            ),
        ));
        fields.push(Field::new("reason", DataType::Utf8, false));
        arrays.push(Arc::new(
            datafusion::arrow::array::StringArray::from_iter_values(
                rejects.iter().map(|r| r.reason.as_str()),
            ),
        ));
        let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)
            .map_err(|e| IngestError::DataFusion(e.into()))?;
        let df = self.warehouse.context().read_batch(batch)?;
        Ok(self
            .warehouse
            .write(self.quarantine, df, WriteMode::Append)
            .await?)
    }

    async fn csv(&self, path: &Path) -> Result<(u64, u64)> {
        let bytes = std::fs::read(path).map_err(io_error(path))?;
        // A UTF-8 byte order mark is not part of the first column's name.
        let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(true)
            .from_reader(body);
        let header: Vec<String> = reader
            .headers()
            .map_err(|e| IngestError::File {
                file: self.file.to_string(),
                message: format!("cannot read the CSV header: {e}"),
            })?
            .iter()
            .map(|h| h.trim().to_string())
            .collect();
        let mut chunk = TextChunk::default();
        let mut rejects = Vec::new();
        let (mut loaded, mut row_number) = (0u64, 0i64);
        let mut record = csv::StringRecord::new();
        let mut start = reader.position().byte() as usize;
        loop {
            row_number += 1;
            let read = reader.read_record(&mut record);
            let end = reader.position().byte() as usize;
            let raw = String::from_utf8_lossy(&body[start.min(body.len())..end.min(body.len())])
                .trim_end()
                .to_string();
            start = end;
            match read {
                Ok(false) => break,
                Ok(true) if record.len() == header.len() => {
                    let fields = header
                        .iter()
                        .zip(record.iter())
                        .map(|(h, v)| (h.clone(), (!v.is_empty()).then(|| v.to_string())))
                        .collect();
                    chunk.push(row_number, fields);
                }
                Ok(true) => rejects.push(Rejected {
                    row_number,
                    raw,
                    reason: format!(
                        "expected {} fields, found {} (broken quoting or delimiter)",
                        header.len(),
                        record.len()
                    ),
                }),
                Err(e) => rejects.push(Rejected {
                    row_number,
                    raw,
                    reason: format!("unreadable CSV row: {e}"),
                }),
            }
            loaded += self.write_if_full(&mut chunk).await?;
        }
        self.finish_text(chunk, rejects, loaded).await
    }

    async fn ndjson(&self, path: &Path) -> Result<(u64, u64)> {
        use std::io::BufRead;
        let file = std::fs::File::open(path).map_err(io_error(path))?;
        let reader = std::io::BufReader::new(file);
        let mut chunk = TextChunk::default();
        let mut rejects = Vec::new();
        let mut loaded = 0u64;
        for (i, line) in reader.lines().enumerate() {
            let row_number = i as i64 + 1;
            let line = line.map_err(io_error(path))?;
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str::<serde_json::Value>(&line) {
                Ok(serde_json::Value::Object(map)) => {
                    let fields = map
                        .into_iter()
                        .map(|(k, v)| {
                            let text = match v {
                                serde_json::Value::Null => None,
                                serde_json::Value::String(s) => Some(s),
                                other => Some(other.to_string()),
                            };
                            (k, text)
                        })
                        .collect();
                    chunk.push(row_number, fields);
                }
                Ok(_) => rejects.push(Rejected {
                    row_number,
                    raw: line,
                    reason: "not a JSON object".into(),
                }),
                Err(e) => rejects.push(Rejected {
                    row_number,
                    raw: line,
                    reason: format!("invalid JSON: {e}"),
                }),
            }
            loaded += self.write_if_full(&mut chunk).await?;
        }
        self.finish_text(chunk, rejects, loaded).await
    }

    /// Parquet keeps its types; batches are read in file order so `_row_number` is the row's
    /// position in the file, and committed every [`CHUNK_ROWS`]×5 rows to bound memory.
    async fn parquet(&self, path: &Path) -> Result<(u64, u64)> {
        use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
        let file = std::fs::File::open(path).map_err(io_error(path))?;
        let bad_file = |e: &dyn std::fmt::Display| IngestError::File {
            file: self.file.to_string(),
            message: format!("not a readable Parquet file: {e}"),
        };
        let reader = ParquetRecordBatchReaderBuilder::try_new(file)
            .map_err(|e| bad_file(&e))?
            .with_batch_size(65_536)
            .build()
            .map_err(|e| bad_file(&e))?;
        let (mut loaded, mut next_row) = (0u64, 1i64);
        let mut pending: Vec<RecordBatch> = Vec::new();
        let mut pending_rows = 0usize;
        for batch in reader {
            let batch = batch.map_err(|e| bad_file(&e))?;
            let rows = batch.num_rows();
            let (meta_fields, meta_arrays) = self.meta_fields(rows);
            let mut fields: Vec<Field> = batch
                .schema()
                .fields()
                .iter()
                .map(|f| f.as_ref().clone())
                .collect();
            let mut arrays: Vec<ArrayRef> = batch.columns().to_vec();
            fields.extend(meta_fields);
            arrays.extend(meta_arrays);
            fields.push(Field::new("_row_number", DataType::Int64, false));
            arrays.push(Arc::new(Int64Array::from_iter_values(
                next_row..next_row + rows as i64,
            )));
            next_row += rows as i64;
            let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)
                .map_err(|e| IngestError::DataFusion(e.into()))?;
            pending_rows += rows;
            pending.push(batch);
            if pending_rows >= CHUNK_ROWS * 5 {
                loaded += self.write_batches(std::mem::take(&mut pending)).await?;
                pending_rows = 0;
            }
        }
        loaded += self.write_batches(pending).await?;
        Ok((loaded, 0))
    }

    async fn write_batches(&self, batches: Vec<RecordBatch>) -> Result<u64> {
        if batches.is_empty() {
            return Ok(0);
        }
        let df = self.warehouse.context().read_batches(batches)?;
        Ok(self
            .warehouse
            .write(self.bronze, df, WriteMode::Append)
            .await?)
    }
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
        let warehouse = Warehouse::open(&dir.path().join("wh"), "main")
            .await
            .unwrap();
        let reports = ingest(&warehouse, &landing, &IngestOptions::default(), &|_| {})
            .await
            .unwrap();
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
}
