//! Streaming writers: CSV for master data, NDJSON for events, Parquet for high-volume rows.
//! Each rolls over to a new numbered file after a number of rows, so no file grows unbounded.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::NaiveDateTime;
use datafusion::arrow::array::{
    ArrayRef, Decimal128Builder, Int32Builder, Int64Builder, StringBuilder,
    TimestampMicrosecondBuilder,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::basic::Compression;
use datafusion::parquet::file::properties::WriterProperties;

use crate::{GenerateError, Result};

fn io(path: &Path) -> impl Fn(std::io::Error) -> GenerateError + '_ {
    move |source| GenerateError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// A CSV file of typed landing records, its header taken from the record's fields.
pub struct CsvOut {
    path: PathBuf,
    /// Always `Some` between calls; taken while a raw line is written past the CSV writer.
    writer: Option<csv::Writer<BufWriter<File>>>,
    rows: u64,
}

fn csv_writer(out: BufWriter<File>, header: bool) -> csv::Writer<BufWriter<File>> {
    csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .has_headers(header)
        .from_writer(out)
}

impl CsvOut {
    pub fn create(dir: &Path, name: &str) -> Result<Self> {
        let path = dir.join(name);
        let file = File::create(&path).map_err(io(&path))?;
        Ok(CsvOut {
            writer: Some(csv_writer(BufWriter::new(file), true)),
            path,
            rows: 0,
        })
    }

    fn csv_error(&self, e: impl std::fmt::Display) -> GenerateError {
        GenerateError::Write(format!("{}: {e}", self.path.display()))
    }

    pub fn record(&mut self, record: &impl serde::Serialize) -> Result<()> {
        let writer = self.writer.as_mut().expect("CSV writer present");
        if let Err(e) = writer.serialize(record) {
            return Err(self.csv_error(e));
        }
        self.rows += 1;
        Ok(())
    }

    /// A line written as is (for deliberately malformed rows).
    pub fn raw_line(&mut self, line: &str) -> Result<()> {
        let writer = self.writer.take().expect("CSV writer present");
        let mut out = writer.into_inner().map_err(|e| self.csv_error(e))?;
        out.write_all(line.as_bytes()).map_err(io(&self.path))?;
        out.write_all(b"\n").map_err(io(&self.path))?;
        // The header is written already.
        self.writer = Some(csv_writer(out, false));
        self.rows += 1;
        Ok(())
    }

    /// Flushes; returns the file name and its rows (the header not counted).
    pub fn finish(mut self) -> Result<(String, u64)> {
        if let Some(mut writer) = self.writer.take() {
            writer.flush().map_err(io(&self.path))?;
        }
        let name = self
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        Ok((name, self.rows))
    }
}

/// NDJSON in numbered files of at most `per_file` rows (`per_file == 0`: one file, no number).
pub struct JsonOut {
    dir: PathBuf,
    prefix: String,
    per_file: u64,
    current: Option<(String, BufWriter<File>, u64)>,
    done: Vec<(String, u64)>,
}

impl JsonOut {
    pub fn create(dir: &Path, prefix: &str, per_file: u64) -> Result<Self> {
        Ok(JsonOut {
            dir: dir.to_path_buf(),
            prefix: prefix.to_string(),
            per_file,
            current: None,
            done: Vec::new(),
        })
    }

    fn file(&mut self) -> Result<&mut (String, BufWriter<File>, u64)> {
        let full = self
            .current
            .as_ref()
            .is_some_and(|c| self.per_file > 0 && c.2 >= self.per_file);
        if full {
            self.close()?;
        }
        if self.current.is_none() {
            let name = if self.per_file == 0 {
                format!("{}.ndjson", self.prefix)
            } else {
                orderlake_landing::numbered_file(
                    &self.prefix,
                    self.done.len() as u64 + 1,
                    4,
                    "ndjson",
                )
            };
            let path = self.dir.join(&name);
            let file = File::create(&path).map_err(io(&path))?;
            self.current = Some((name, BufWriter::new(file), 0));
        }
        Ok(self.current.as_mut().expect("just set"))
    }

    fn close(&mut self) -> Result<()> {
        if let Some((name, mut w, rows)) = self.current.take() {
            w.flush().map_err(io(&self.dir.join(&name)))?;
            self.done.push((name, rows));
        }
        Ok(())
    }

    pub fn write(&mut self, record: &impl serde::Serialize) -> Result<()> {
        let line = serde_json::to_string(record)
            .map_err(|e| GenerateError::Write(format!("{}: {e}", self.prefix)))?;
        self.raw_line(&line)
    }

    pub fn raw_line(&mut self, line: &str) -> Result<()> {
        let dir = self.dir.clone();
        let (name, w, rows) = self.file()?;
        let path = dir.join(&*name);
        w.write_all(line.as_bytes()).map_err(io(&path))?;
        w.write_all(b"\n").map_err(io(&path))?;
        *rows += 1;
        Ok(())
    }

    pub fn finish(mut self) -> Result<Vec<(String, u64)>> {
        if self.current.is_none() && self.done.is_empty() {
            // An empty source still gets its (empty) file, so every entity exists.
            self.file()?;
        }
        self.close()?;
        Ok(self.done)
    }
}

const BATCH: usize = 65_536;

/// Numbered Parquet files of at most `per_file` rows, written a batch at a time.
struct ParquetOut {
    dir: PathBuf,
    prefix: String,
    schema: SchemaRef,
    per_file: u64,
    writer: Option<(String, ArrowWriter<File>, u64)>,
    done: Vec<(String, u64)>,
}

impl ParquetOut {
    fn write(&mut self, batch: RecordBatch) -> Result<()> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        if self.writer.as_ref().is_some_and(|w| w.2 >= self.per_file) {
            self.close()?;
        }
        if self.writer.is_none() {
            let name = orderlake_landing::numbered_file(
                &self.prefix,
                self.done.len() as u64 + 1,
                4,
                "parquet",
            );
            let path = self.dir.join(&name);
            let file = File::create(&path).map_err(io(&path))?;
            let props = WriterProperties::builder()
                .set_compression(Compression::SNAPPY)
                .build();
            let writer = ArrowWriter::try_new(file, self.schema.clone(), Some(props))
                .map_err(|e| GenerateError::Write(format!("{}: {e}", path.display())))?;
            self.writer = Some((name, writer, 0));
        }
        let (name, writer, rows) = self.writer.as_mut().expect("just set");
        *rows += batch.num_rows() as u64;
        writer
            .write(&batch)
            .map_err(|e| GenerateError::Write(format!("{name}: {e}")))
    }

    fn close(&mut self) -> Result<()> {
        if let Some((name, writer, rows)) = self.writer.take() {
            writer
                .close()
                .map_err(|e| GenerateError::Write(format!("{name}: {e}")))?;
            self.done.push((name, rows));
        }
        Ok(())
    }
}

fn micros(t: NaiveDateTime) -> i64 {
    t.and_utc().timestamp_micros()
}

fn timestamp() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, None)
}

/// A row type written to numbered Parquet files, a batch at a time.
pub trait ParquetRow: Sized {
    /// File names are `<PREFIX>_0001.parquet`, …
    const PREFIX: &'static str;
    fn schema() -> SchemaRef;
    fn columns(rows: &[Self]) -> Result<Vec<ArrayRef>>;
}

/// Buffers rows of one type and writes them as Parquet batches of [`BATCH`] rows.
pub struct RowsOut<R: ParquetRow> {
    out: ParquetOut,
    rows: Vec<R>,
}

impl<R: ParquetRow> RowsOut<R> {
    pub fn create(dir: &Path, per_file: u64) -> Result<Self> {
        Ok(RowsOut {
            out: ParquetOut {
                dir: dir.to_path_buf(),
                prefix: R::PREFIX.into(),
                schema: R::schema(),
                per_file,
                writer: None,
                done: Vec::new(),
            },
            rows: Vec::with_capacity(BATCH),
        })
    }

    pub fn push(&mut self, row: R) -> Result<()> {
        self.rows.push(row);
        if self.rows.len() >= BATCH {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        let rows = std::mem::take(&mut self.rows);
        let batch = RecordBatch::try_new(self.out.schema.clone(), R::columns(&rows)?)
            .map_err(|e| GenerateError::Write(e.to_string()))?;
        self.out.write(batch)
    }

    pub fn finish(mut self) -> Result<Vec<(String, u64)>> {
        self.flush()?;
        self.out.close()?;
        Ok(self.out.done)
    }
}

fn money_array(builder: &mut Decimal128Builder) -> Result<ArrayRef> {
    Ok(Arc::new(
        builder
            .finish()
            .with_precision_and_scale(18, 2)
            .map_err(|e| GenerateError::Write(e.to_string()))?,
    ))
}

#[derive(Clone)]
pub struct LineRow {
    pub order_id: u64,
    pub line_no: i32,
    pub product_id: u64,
    pub quantity: i64,
    pub unit_price_cents: i64,
    pub discount_cents: i64,
    pub updated_at: NaiveDateTime,
}

pub type LinesOut = RowsOut<LineRow>;

impl ParquetRow for LineRow {
    const PREFIX: &'static str = "order_lines";

    fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("order_id", DataType::Int64, false),
            Field::new("line_no", DataType::Int32, false),
            Field::new("product_id", DataType::Int64, false),
            Field::new("quantity", DataType::Int64, false),
            Field::new("unit_price", DataType::Decimal128(18, 2), false),
            Field::new("discount_amount", DataType::Decimal128(18, 2), false),
            Field::new("updated_at", timestamp(), false),
        ]))
    }

    fn columns(rows: &[Self]) -> Result<Vec<ArrayRef>> {
        let mut order_id = Int64Builder::with_capacity(rows.len());
        let mut line_no = Int32Builder::with_capacity(rows.len());
        let mut product_id = Int64Builder::with_capacity(rows.len());
        let mut quantity = Int64Builder::with_capacity(rows.len());
        let mut price = Decimal128Builder::with_capacity(rows.len());
        let mut discount = Decimal128Builder::with_capacity(rows.len());
        let mut updated = TimestampMicrosecondBuilder::with_capacity(rows.len());
        for r in rows {
            order_id.append_value(r.order_id as i64);
            line_no.append_value(r.line_no);
            product_id.append_value(r.product_id as i64);
            quantity.append_value(r.quantity);
            price.append_value(i128::from(r.unit_price_cents));
            discount.append_value(i128::from(r.discount_cents));
            updated.append_value(micros(r.updated_at));
        }
        Ok(vec![
            Arc::new(order_id.finish()),
            Arc::new(line_no.finish()),
            Arc::new(product_id.finish()),
            Arc::new(quantity.finish()),
            money_array(&mut price)?,
            money_array(&mut discount)?,
            Arc::new(updated.finish()),
        ])
    }
}

pub struct MovementRow {
    pub movement_id: u64,
    pub product_id: u64,
    pub warehouse_id: u64,
    pub movement_type: &'static str,
    pub quantity: i64,
    pub moved_at: NaiveDateTime,
}

pub type MovementsOut = RowsOut<MovementRow>;

impl ParquetRow for MovementRow {
    const PREFIX: &'static str = "inventory_movements";

    fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("movement_id", DataType::Int64, false),
            Field::new("product_id", DataType::Int64, false),
            Field::new("warehouse_id", DataType::Int64, false),
            Field::new("movement_type", DataType::Utf8, false),
            Field::new("quantity", DataType::Int64, false),
            Field::new("moved_at", timestamp(), false),
        ]))
    }

    fn columns(rows: &[Self]) -> Result<Vec<ArrayRef>> {
        let mut id = Int64Builder::with_capacity(rows.len());
        let mut product = Int64Builder::with_capacity(rows.len());
        let mut warehouse = Int64Builder::with_capacity(rows.len());
        let mut kind = StringBuilder::with_capacity(rows.len(), rows.len() * 8);
        let mut quantity = Int64Builder::with_capacity(rows.len());
        let mut moved = TimestampMicrosecondBuilder::with_capacity(rows.len());
        for r in rows {
            id.append_value(r.movement_id as i64);
            product.append_value(r.product_id as i64);
            warehouse.append_value(r.warehouse_id as i64);
            kind.append_value(r.movement_type);
            quantity.append_value(r.quantity);
            moved.append_value(micros(r.moved_at));
        }
        Ok(vec![
            Arc::new(id.finish()),
            Arc::new(product.finish()),
            Arc::new(warehouse.finish()),
            Arc::new(kind.finish()),
            Arc::new(quantity.finish()),
            Arc::new(moved.finish()),
        ])
    }
}
