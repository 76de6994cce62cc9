//! Reading each landing format — CSV, NDJSON, Parquet — into the loader, row by row or batch by
//! batch, counting what loaded and what was quarantined.

use super::loader::{Rejected, TextChunk};
use super::*;

impl Loader<'_> {
    pub(crate) async fn csv(&self, path: &Path) -> Result<(u64, u64)> {
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

    pub(crate) async fn ndjson(&self, path: &Path) -> Result<(u64, u64)> {
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
    pub(crate) async fn parquet(&self, path: &Path) -> Result<(u64, u64)> {
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
}
