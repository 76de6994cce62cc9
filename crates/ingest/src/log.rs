//! The ingest log (`_orderlake.ingest_log`): which landing files were loaded, by name, size and
//! modification time, so each is loaded exactly once.

use super::*;

pub(crate) fn log_relation() -> Relation {
    Relation::new(orderlake_engine::layout::SYSTEM_SCHEMA, "ingest_log")
}

/// A file's identity in the log: its name, size and modification time.
pub(crate) fn fingerprint(path: &Path) -> Result<(u64, i64)> {
    let meta = std::fs::metadata(path).map_err(io_error(path))?;
    let modified = meta
        .modified()
        .ok()
        .and_then(|m| m.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0);
    Ok((meta.len(), modified))
}

/// Files already loaded, by (name, size, modification time), with the entity each went to.
pub(crate) async fn logged_files(
    warehouse: &Warehouse,
) -> Result<BTreeMap<(String, u64, i64), String>> {
    let log = log_relation();
    if warehouse.kind_of(&log).await?.is_none() {
        return Ok(BTreeMap::new());
    }
    let batches = warehouse
        .sql(&format!(
            "select file, size_bytes, modified_micros, entity from {log}"
        ))
        .await?
        .collect()
        .await?;
    let text = |array: &ArrayRef| {
        datafusion::arrow::compute::cast(array, &DataType::Utf8)
            .map_err(|e| IngestError::DataFusion(e.into()))
            .map(|a| {
                a.as_any()
                    .downcast_ref::<datafusion::arrow::array::StringArray>()
                    .cloned()
            })
    };
    let mut out = BTreeMap::new();
    for b in batches {
        let files = text(b.column(0))?;
        let entities = text(b.column(3))?;
        let sizes = b.column(1).as_any().downcast_ref::<Int64Array>().cloned();
        let mods = b.column(2).as_any().downcast_ref::<Int64Array>().cloned();
        if let (Some(f), Some(s), Some(m), Some(e)) = (files, sizes, mods, entities) {
            for i in 0..b.num_rows() {
                out.insert(
                    (f.value(i).to_string(), s.value(i) as u64, m.value(i)),
                    e.value(i).to_string(),
                );
            }
        }
    }
    Ok(out)
}

#[allow(clippy::too_many_arguments)]
pub(crate) async fn append_log(
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
