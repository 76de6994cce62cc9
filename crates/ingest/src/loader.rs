//! Writing a landing file's rows into its bronze table: text chunks with the file's metadata
//! columns, values cast into typed columns, and rows that cannot be read or cast kept in
//! `bronze._quarantine` with the reason.

use super::*;

pub(crate) struct Loader<'a> {
    pub(crate) warehouse: &'a Warehouse,
    pub(crate) bronze: &'a Relation,
    pub(crate) quarantine: &'a Relation,
    pub(crate) file: &'a str,
    pub(crate) entity: &'a str,
    pub(crate) ingested_at: DateTime<Utc>,
    /// Rows sent to quarantine because a value did not cast to the column's stored type.
    pub(crate) cast_rejects: std::sync::atomic::AtomicU64,
    pub(crate) evolution: SchemaEvolution,
    /// What the file changed: columns added, rows with rescued data.
    pub(crate) changes: std::sync::Mutex<Changes>,
    /// A recognised platform export: its CSV headers are cleaned into the names its staging
    /// models use.
    pub(crate) platform_export: bool,
}

#[derive(Debug, Default)]
pub(crate) struct Changes {
    pub(crate) new_columns: BTreeSet<String>,
    pub(crate) rescued_rows: u64,
}

/// The column `rescue` mode keeps what did not fit: a JSON object of column → value (as text)
/// plus `_file`, null where the row had nothing to rescue.
pub const RESCUED_DATA: &str = "_rescued_data";

/// Rows of text being collected for one commit.
#[derive(Default)]
pub(crate) struct TextChunk {
    pub(crate) columns: Vec<String>,
    pub(crate) index: BTreeMap<String, usize>,
    pub(crate) values: Vec<Vec<Option<String>>>,
    pub(crate) row_numbers: Vec<i64>,
}

impl TextChunk {
    pub(crate) fn column(&mut self, name: &str) -> usize {
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

    pub(crate) fn push(&mut self, row_number: i64, fields: Vec<(String, Option<String>)>) {
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

    pub(crate) fn len(&self) -> usize {
        self.row_numbers.len()
    }
}

pub(crate) struct Rejected {
    pub(crate) row_number: i64,
    pub(crate) raw: String,
    pub(crate) reason: String,
}

impl Loader<'_> {
    pub(crate) fn meta_fields(&self, rows: usize) -> (Vec<Field>, Vec<ArrayRef>) {
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
    pub(crate) async fn write_chunk(&self, chunk: TextChunk) -> Result<u64> {
        let rows = chunk.len();
        if rows == 0 {
            return Ok(0);
        }
        let existing = self.warehouse.table_schema(self.bronze).await.ok();
        let mut fields = Vec::new();
        let mut arrays: Vec<ArrayRef> = Vec::new();
        let mut bad: Vec<Option<String>> = vec![None; rows];
        let mut rescued: Vec<serde_json::Map<String, serde_json::Value>> =
            vec![Default::default(); rows];
        let new_columns = self.new_columns(existing.as_deref(), chunk.columns.iter())?;
        for (name, values) in chunk.columns.iter().zip(&chunk.values) {
            if new_columns.contains(name) {
                match self.evolution {
                    SchemaEvolution::Rescue => {
                        for (i, v) in values.iter().enumerate() {
                            if let Some(v) = v {
                                rescued[i].insert(name.clone(), v.clone().into());
                            }
                        }
                        continue;
                    }
                    SchemaEvolution::None => continue,
                    SchemaEvolution::AddNewColumns | SchemaEvolution::FailOnNewColumns => {}
                }
            }
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
                        if self.evolution == SchemaEvolution::Rescue
                            && !text.is_null(i)
                            && typed.is_null(i)
                        {
                            // Rescue keeps the row; the value that did not fit goes aside.
                            let value = values[i].clone().unwrap_or_default();
                            rescued[i].insert(name.clone(), value.into());
                            continue;
                        }
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
        if self.evolution == SchemaEvolution::Rescue {
            fields.push(Field::new(RESCUED_DATA, DataType::Utf8, true));
            arrays.push(self.rescued_column(rescued));
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
    pub(crate) async fn write_if_full(&self, chunk: &mut TextChunk) -> Result<u64> {
        if chunk.len() < CHUNK_ROWS {
            return Ok(0);
        }
        self.write_chunk(std::mem::take(chunk)).await
    }

    /// Commits the last rows and the rejects; returns (rows loaded, rows quarantined).
    pub(crate) async fn finish_text(
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

    pub(crate) async fn write_rejects(&self, rejects: Vec<Rejected>) -> Result<u64> {
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

    /// The columns of a file that its bronze table lacks, after applying the table's
    /// schema-evolution mode: refused (`failOnNewColumns`) or recorded as added.
    fn new_columns<'c>(
        &self,
        existing: Option<&Schema>,
        columns: impl Iterator<Item = &'c String>,
    ) -> Result<BTreeSet<String>> {
        let Some(existing) = existing else {
            return Ok(BTreeSet::new());
        };
        let new: BTreeSet<String> = columns
            .filter(|c| existing.field_with_name(c).is_err())
            .cloned()
            .collect();
        if new.is_empty() {
            return Ok(new);
        }
        match self.evolution {
            SchemaEvolution::FailOnNewColumns => Err(IngestError::File {
                file: self.file.to_string(),
                message: format!(
                    "new column(s) {} not in {} (its schema_evolution_mode is failOnNewColumns: \
                     add them to the table or change the mode)",
                    new.iter().cloned().collect::<Vec<_>>().join(", "),
                    self.bronze
                ),
            }),
            SchemaEvolution::AddNewColumns => {
                self.changes
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .new_columns
                    .extend(new.iter().cloned());
                Ok(new)
            }
            SchemaEvolution::Rescue | SchemaEvolution::None => Ok(new),
        }
    }

    fn rescued_column(&self, rescued: Vec<serde_json::Map<String, serde_json::Value>>) -> ArrayRef {
        let mut count = 0;
        let column =
            datafusion::arrow::array::StringArray::from_iter(rescued.into_iter().map(|mut m| {
                (!m.is_empty()).then(|| {
                    count += 1;
                    m.insert("_file".into(), self.file.into());
                    serde_json::Value::Object(m).to_string()
                })
            }));
        self.changes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .rescued_rows += count;
        Arc::new(column)
    }

    /// Applies the schema-evolution mode to a typed (Parquet) batch.
    fn conform(&self, batch: RecordBatch, existing: Option<&Schema>) -> Result<RecordBatch> {
        let names: Vec<String> = batch
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        let new = self.new_columns(existing, names.iter())?;
        if self.evolution != SchemaEvolution::Rescue
            && (new.is_empty() || self.evolution != SchemaEvolution::None)
        {
            return Ok(batch);
        }
        let rows = batch.num_rows();
        let mut rescued: Vec<serde_json::Map<String, serde_json::Value>> =
            vec![Default::default(); rows];
        let mut fields = Vec::new();
        let mut arrays = Vec::new();
        for (field, array) in batch.schema().fields().iter().zip(batch.columns()) {
            if !new.contains(field.name()) {
                fields.push(field.as_ref().clone());
                arrays.push(array.clone());
                continue;
            }
            if self.evolution == SchemaEvolution::Rescue {
                for (i, slot) in rescued.iter_mut().enumerate() {
                    if !array.is_null(i) {
                        let text =
                            datafusion::arrow::util::display::array_value_to_string(array, i)
                                .map_err(|e| IngestError::DataFusion(e.into()))?;
                        slot.insert(field.name().clone(), text.into());
                    }
                }
            }
        }
        if self.evolution == SchemaEvolution::Rescue {
            fields.push(Field::new(RESCUED_DATA, DataType::Utf8, true));
            arrays.push(self.rescued_column(rescued));
        }
        RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)
            .map_err(|e| IngestError::DataFusion(e.into()))
    }

    pub(crate) async fn write_batches(&self, batches: Vec<RecordBatch>) -> Result<u64> {
        if batches.is_empty() {
            return Ok(0);
        }
        let existing = self.warehouse.table_schema(self.bronze).await.ok();
        let batches = batches
            .into_iter()
            .map(|b| self.conform(b, existing.as_deref()))
            .collect::<Result<Vec<_>>>()?;
        let df = self.warehouse.context().read_batches(batches)?;
        Ok(self
            .warehouse
            .write(self.bronze, df, WriteMode::Append)
            .await?)
    }
}
