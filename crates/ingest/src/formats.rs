//! Reading each landing format — CSV, NDJSON, JSON documents, Parquet — into the loader, row by
//! row or batch by batch, counting what loaded and what was quarantined.

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
            .map(|h| super::platforms::column_name(h, self.platform_export))
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

    /// JSON rows: one object per line (NDJSON), or one JSON document as an API returns it — an
    /// array of objects, an object wrapping one (`{"orders": [...]}`, `{"order": {...}}`), or
    /// one object over several lines. A document that does not parse (a truncated download) is
    /// quarantined whole, as one row with the parser's reason: nothing of it half-loads.
    pub(crate) async fn ndjson(&self, path: &Path) -> Result<(u64, u64)> {
        if is_json_document(path).map_err(io_error(path))? {
            return self.json_document(path).await;
        }
        self.json_lines(path).await
    }

    async fn json_document(&self, path: &Path) -> Result<(u64, u64)> {
        let text = std::fs::read_to_string(path).map_err(io_error(path))?;
        let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
        let document: serde_json::Value = match serde_json::from_str(text) {
            Ok(document) => document,
            // NDJSON whose first line is broken: its other lines still load, line by line.
            Err(_) if any_line_is_an_object(text) => return self.json_lines(path).await,
            Err(e) => {
                let rejects = vec![Rejected {
                    row_number: 1,
                    raw: text.to_string(),
                    reason: format!("not a complete JSON document: {e}"),
                }];
                return self.finish_text(TextChunk::default(), rejects, 0).await;
            }
        };
        let items = match document {
            serde_json::Value::Array(items) => items,
            serde_json::Value::Object(map) if map.len() == 1 => {
                // The envelope's one member: an array of rows, or a single row.
                match map.into_iter().next().map(|(_, v)| v) {
                    Some(serde_json::Value::Array(items)) => items,
                    Some(one) => vec![one],
                    None => Vec::new(),
                }
            }
            object => vec![object],
        };
        let mut chunk = TextChunk::default();
        let mut rejects = Vec::new();
        let mut loaded = 0u64;
        for (i, item) in items.into_iter().enumerate() {
            let row_number = i as i64 + 1;
            match item {
                serde_json::Value::Object(map) => chunk.push(row_number, object_fields(map)),
                other => rejects.push(Rejected {
                    row_number,
                    raw: other.to_string(),
                    reason: "not a JSON object".into(),
                }),
            }
            loaded += self.write_if_full(&mut chunk).await?;
        }
        self.finish_text(chunk, rejects, loaded).await
    }

    async fn json_lines(&self, path: &Path) -> Result<(u64, u64)> {
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
                Ok(serde_json::Value::Object(map)) => chunk.push(row_number, object_fields(map)),
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

/// An object's fields as text: strings as they are, nested arrays and objects as JSON text (for
/// the staging models' JSON functions), null as null.
fn object_fields(map: serde_json::Map<String, serde_json::Value>) -> Vec<(String, Option<String>)> {
    map.into_iter()
        .map(|(k, v)| {
            let text = match v {
                serde_json::Value::Null => None,
                serde_json::Value::String(s) => Some(s),
                other => Some(other.to_string()),
            };
            (k, text)
        })
        .collect()
}

/// Whether a JSON file holds one document rather than one object per line: it starts with `[`,
/// its first line is not a whole JSON value, or that line is an envelope of one array.
pub(crate) fn is_json_document(path: &Path) -> std::io::Result<bool> {
    use std::io::BufRead;
    let mut reader = std::io::BufReader::new(std::fs::File::open(path)?);
    let mut first = String::new();
    while first.trim().is_empty() {
        first.clear();
        if reader.read_line(&mut first)? == 0 {
            return Ok(false);
        }
    }
    let first = first.trim().trim_start_matches('\u{feff}');
    if first.starts_with('[') {
        return Ok(true);
    }
    if !first.starts_with('{') {
        return Ok(false);
    }
    Ok(match serde_json::from_str::<serde_json::Value>(first) {
        // An envelope on one line (`{"orders": [...]}`) rather than a record.
        Ok(serde_json::Value::Object(map)) => {
            map.len() == 1 && map.values().all(serde_json::Value::is_array)
        }
        Ok(_) => false,
        Err(_) => true,
    })
}

fn any_line_is_an_object(text: &str) -> bool {
    text.lines().any(|l| {
        let l = l.trim();
        l.starts_with('{')
            && matches!(
                serde_json::from_str::<serde_json::Value>(l),
                Ok(serde_json::Value::Object(_))
            )
    })
}
