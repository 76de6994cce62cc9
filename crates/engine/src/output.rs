//! Rendering query results for people (a table) and programs (CSV, JSON).

use datafusion::arrow::record_batch::RecordBatch;

use crate::error::{EngineError, Result};

/// How `show` and `sql` print rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Table,
    Csv,
    Json,
}

/// Formats batches as text in the chosen format.
pub fn format_batches(batches: &[RecordBatch], format: Format) -> Result<String> {
    match format {
        Format::Table => Ok(
            datafusion::arrow::util::pretty::pretty_format_batches(batches)
                .map_err(|e| EngineError::DataFusion(e.into()))?
                .to_string(),
        ),
        Format::Csv => {
            let mut buf = Vec::new();
            {
                let mut writer = datafusion::arrow::csv::WriterBuilder::new()
                    .with_header(true)
                    .build(&mut buf);
                for batch in batches {
                    writer
                        .write(batch)
                        .map_err(|e| EngineError::DataFusion(e.into()))?;
                }
            }
            String::from_utf8(buf).map_err(|e| {
                EngineError::DataFusion(datafusion::error::DataFusionError::External(Box::new(e)))
            })
        }
        Format::Json => {
            let mut buf = Vec::new();
            {
                // Nulls are written as `null`, not dropped: every row has every column.
                let mut writer = datafusion::arrow::json::WriterBuilder::new()
                    .with_explicit_nulls(true)
                    .build::<_, datafusion::arrow::json::writer::JsonArray>(&mut buf);
                for batch in batches {
                    writer
                        .write(batch)
                        .map_err(|e| EngineError::DataFusion(e.into()))?;
                }
                writer
                    .finish()
                    .map_err(|e| EngineError::DataFusion(e.into()))?;
            }
            let text = String::from_utf8(buf).map_err(|e| {
                EngineError::DataFusion(datafusion::error::DataFusionError::External(Box::new(e)))
            })?;
            Ok(if text.is_empty() {
                "[]".to_string()
            } else {
                text
            })
        }
    }
}

/// The first column of the first row as text, if there is one and it is not null.
pub fn first_string(batches: &[RecordBatch]) -> Option<String> {
    let batch = batches.iter().find(|b| b.num_rows() > 0)?;
    let column = datafusion::arrow::compute::cast(
        batch.column(0),
        &datafusion::arrow::datatypes::DataType::Utf8,
    )
    .ok()?;
    let strings = column
        .as_any()
        .downcast_ref::<datafusion::arrow::array::StringArray>()?;
    use datafusion::arrow::array::Array;
    (!strings.is_null(0)).then(|| strings.value(0).to_string())
}
