//! Arrow values to PostgreSQL rows (text or binary, as each column's format asks), and bound
//! parameters back to DataFusion scalars.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use datafusion::arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use datafusion::arrow::datatypes::{
    DataType, Date32Type, Decimal128Type, Float16Type, Float32Type, Float64Type, Int8Type,
    Int16Type, Int32Type, Int64Type, TimeUnit, TimestampMicrosecondType, TimestampMillisecondType,
    TimestampNanosecondType, TimestampSecondType, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::common::ScalarValue;
use pgwire::api::Type;
use pgwire::api::portal::Portal;
use pgwire::api::results::{CopyEncoder, DataRowEncoder, FieldInfo};
use pgwire::error::{PgWireError, PgWireResult};
use pgwire::messages::copy::CopyData;
use pgwire::messages::data::DataRow;
use pgwire::types::ToSqlText;
use postgres_types::ToSql;
use rust_decimal::Decimal;

/// Where encoded values go: a query's data rows or a `COPY ... TO STDOUT` stream. Both
/// encode one field at a time in the column's type and format.
pub trait FieldSink {
    fn put<T: ToSql + ToSqlText + Sized>(&mut self, value: &T) -> PgWireResult<()>;
}

impl FieldSink for DataRowEncoder {
    fn put<T: ToSql + ToSqlText + Sized>(&mut self, value: &T) -> PgWireResult<()> {
        self.encode_field(value)
    }
}

impl FieldSink for CopyEncoder {
    fn put<T: ToSql + ToSqlText + Sized>(&mut self, value: &T) -> PgWireResult<()> {
        self.encode_field(value)
    }
}

fn timestamp(array: &ArrayRef, row: usize, unit: &TimeUnit) -> Option<NaiveDateTime> {
    let value = match unit {
        TimeUnit::Second => array.as_primitive::<TimestampSecondType>().value(row) * 1_000_000,
        TimeUnit::Millisecond => {
            array.as_primitive::<TimestampMillisecondType>().value(row) * 1_000
        }
        TimeUnit::Microsecond => array.as_primitive::<TimestampMicrosecondType>().value(row),
        TimeUnit::Nanosecond => array.as_primitive::<TimestampNanosecondType>().value(row) / 1_000,
    };
    DateTime::from_timestamp_micros(value).map(|t| t.naive_utc())
}

fn encode_value(
    encoder: &mut impl FieldSink,
    array: &ArrayRef,
    row: usize,
    text: &ArrayFormatter,
) -> PgWireResult<()> {
    // A NullArray has no validity buffer: `is_null` says false for its rows.
    if array.data_type() == &DataType::Null || array.is_null(row) {
        return encoder.put(&None::<i16>);
    }
    match array.data_type() {
        DataType::Boolean => encoder.put(&array.as_boolean().value(row)),
        DataType::Int8 => encoder.put(&i16::from(array.as_primitive::<Int8Type>().value(row))),
        DataType::Int16 => encoder.put(&array.as_primitive::<Int16Type>().value(row)),
        DataType::Int32 => encoder.put(&array.as_primitive::<Int32Type>().value(row)),
        DataType::Int64 => encoder.put(&array.as_primitive::<Int64Type>().value(row)),
        DataType::UInt8 => encoder.put(&i16::from(array.as_primitive::<UInt8Type>().value(row))),
        DataType::UInt16 => encoder.put(&i32::from(array.as_primitive::<UInt16Type>().value(row))),
        DataType::UInt32 => encoder.put(&array.as_primitive::<UInt32Type>().value(row)),
        DataType::UInt64 => encoder.put(&(array.as_primitive::<UInt64Type>().value(row) as i64)),
        DataType::Float16 => {
            encoder.put(&f32::from(array.as_primitive::<Float16Type>().value(row)))
        }
        DataType::Float32 => encoder.put(&array.as_primitive::<Float32Type>().value(row)),
        DataType::Float64 => encoder.put(&array.as_primitive::<Float64Type>().value(row)),
        DataType::Decimal128(_, scale) if (0..=28).contains(scale) => {
            let raw = array.as_primitive::<Decimal128Type>().value(row);
            encoder.put(&Decimal::from_i128_with_scale(raw, *scale as u32))
        }
        DataType::Utf8 => encoder.put(&array.as_string::<i32>().value(row)),
        DataType::LargeUtf8 => encoder.put(&array.as_string::<i64>().value(row)),
        DataType::Utf8View => encoder.put(&array.as_string_view().value(row)),
        DataType::Binary => encoder.put(&array.as_binary::<i32>().value(row)),
        DataType::LargeBinary => encoder.put(&array.as_binary::<i64>().value(row)),
        DataType::Date32 => {
            let days = array.as_primitive::<Date32Type>().value(row);
            let date = NaiveDate::from_num_days_from_ce_opt(days + 719_163);
            encoder.put(&date)
        }
        DataType::Timestamp(unit, None) => encoder.put(&timestamp(array, row, unit)),
        DataType::Timestamp(unit, Some(_)) => {
            let t = timestamp(array, row, unit)
                .map(|t| DateTime::<Utc>::from_naive_utc_and_offset(t, Utc));
            encoder.put(&t)
        }
        DataType::List(_) | DataType::LargeList(_) => {
            let values = match array.data_type() {
                DataType::List(_) => array.as_list::<i32>().value(row),
                _ => array.as_list::<i64>().value(row),
            };
            encode_list(encoder, &values)
        }
        _ => {
            let shown = text.value(row).to_string();
            encoder.put(&shown)
        }
    }
}

fn encode_list(encoder: &mut impl FieldSink, values: &ArrayRef) -> PgWireResult<()> {
    match values.data_type() {
        DataType::Boolean => {
            let v: Vec<Option<bool>> = values.as_boolean().iter().collect();
            encoder.put(&v)
        }
        DataType::Int16 => {
            let v: Vec<Option<i16>> = values.as_primitive::<Int16Type>().iter().collect();
            encoder.put(&v)
        }
        DataType::Int32 => {
            let v: Vec<Option<i32>> = values.as_primitive::<Int32Type>().iter().collect();
            encoder.put(&v)
        }
        DataType::Int64 => {
            let v: Vec<Option<i64>> = values.as_primitive::<Int64Type>().iter().collect();
            encoder.put(&v)
        }
        DataType::UInt32 => {
            let v: Vec<Option<u32>> = values.as_primitive::<UInt32Type>().iter().collect();
            encoder.put(&v)
        }
        DataType::Float32 => {
            let v: Vec<Option<f32>> = values.as_primitive::<Float32Type>().iter().collect();
            encoder.put(&v)
        }
        DataType::Float64 => {
            let v: Vec<Option<f64>> = values.as_primitive::<Float64Type>().iter().collect();
            encoder.put(&v)
        }
        _ => {
            let options = FormatOptions::default();
            let formatter = ArrayFormatter::try_new(values.as_ref(), &options)
                .map_err(|e| PgWireError::ApiError(Box::new(e)))?;
            let v: Vec<Option<String>> = (0..values.len())
                .map(|i| (!values.is_null(i)).then(|| formatter.value(i).to_string()))
                .collect();
            encoder.put(&v)
        }
    }
}

/// A text formatter per column: the fallback for types without a PostgreSQL encoding.
fn text_formatters<'a>(
    batch: &'a RecordBatch,
    options: &'a FormatOptions<'a>,
) -> PgWireResult<Vec<ArrayFormatter<'a>>> {
    batch
        .columns()
        .iter()
        .map(|c| ArrayFormatter::try_new(c.as_ref(), options))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| PgWireError::ApiError(Box::new(e)))
}

/// Encodes every row of `batch` for the columns described by `fields`.
pub fn encode_batch(
    batch: &RecordBatch,
    fields: Arc<Vec<FieldInfo>>,
) -> PgWireResult<Vec<DataRow>> {
    let options = FormatOptions::default().with_null("");
    let formatters = text_formatters(batch, &options)?;
    let mut rows = Vec::with_capacity(batch.num_rows());
    let mut encoder = DataRowEncoder::new(fields);
    for row in 0..batch.num_rows() {
        for (column, formatter) in batch.columns().iter().zip(&formatters) {
            encode_value(&mut encoder, column, row, formatter)?;
        }
        rows.push(encoder.take_row());
    }
    Ok(rows)
}

/// Encodes every row of `batch` as `COPY ... TO STDOUT` data, one message per row.
pub fn encode_copy(batch: &RecordBatch, encoder: &mut CopyEncoder) -> PgWireResult<Vec<CopyData>> {
    let options = FormatOptions::default().with_null("");
    let formatters = text_formatters(batch, &options)?;
    let mut rows = Vec::with_capacity(batch.num_rows());
    for row in 0..batch.num_rows() {
        for (column, formatter) in batch.columns().iter().zip(&formatters) {
            encode_value(encoder, column, row, formatter)?;
        }
        rows.push(encoder.take_copy());
    }
    Ok(rows)
}

/// Reads parameter `i` of `portal` as `pg_type` (text or binary, as bound).
pub fn decode_parameter<S: Clone>(
    portal: &Portal<S>,
    i: usize,
    pg_type: &Type,
) -> PgWireResult<ScalarValue> {
    Ok(match *pg_type {
        Type::BOOL => ScalarValue::Boolean(portal.parameter::<bool>(i, pg_type)?),
        Type::INT2 => ScalarValue::Int16(portal.parameter::<i16>(i, pg_type)?),
        Type::INT4 => ScalarValue::Int32(portal.parameter::<i32>(i, pg_type)?),
        Type::INT8 => ScalarValue::Int64(portal.parameter::<i64>(i, pg_type)?),
        Type::OID => ScalarValue::UInt32(portal.parameter::<u32>(i, pg_type)?),
        Type::FLOAT4 => ScalarValue::Float32(portal.parameter::<f32>(i, pg_type)?),
        Type::FLOAT8 => ScalarValue::Float64(portal.parameter::<f64>(i, pg_type)?),
        Type::NUMERIC => match portal.parameter::<Decimal>(i, pg_type)? {
            Some(d) => ScalarValue::Decimal128(Some(d.mantissa()), 38, d.scale() as i8),
            None => ScalarValue::Decimal128(None, 38, 10),
        },
        Type::DATE => match portal.parameter::<NaiveDate>(i, pg_type)? {
            Some(d) => ScalarValue::Date32(Some(
                (d - NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default()).num_days() as i32,
            )),
            None => ScalarValue::Date32(None),
        },
        Type::TIMESTAMP => ScalarValue::TimestampMicrosecond(
            portal
                .parameter::<NaiveDateTime>(i, pg_type)?
                .map(|t| t.and_utc().timestamp_micros()),
            None,
        ),
        Type::TIMESTAMPTZ => ScalarValue::TimestampMicrosecond(
            portal
                .parameter::<DateTime<chrono::FixedOffset>>(i, pg_type)?
                .map(|t| t.timestamp_micros()),
            Some("+00:00".into()),
        ),
        Type::TEXT_ARRAY | Type::VARCHAR_ARRAY | Type::NAME_ARRAY => {
            let values = portal.parameter::<Vec<Option<String>>>(i, pg_type)?;
            match values {
                Some(values) => {
                    let scalars: Vec<ScalarValue> =
                        values.into_iter().map(ScalarValue::Utf8).collect();
                    ScalarValue::List(ScalarValue::new_list_nullable(&scalars, &DataType::Utf8))
                }
                None => ScalarValue::Utf8(None),
            }
        }
        _ => ScalarValue::Utf8(text_parameter(portal, i)?),
    })
}

/// A parameter read as its raw UTF-8 text (for types sent as text, such as `unknown`).
fn text_parameter<S: Clone>(portal: &Portal<S>, i: usize) -> PgWireResult<Option<String>> {
    match portal.parameters.get(i) {
        Some(Some(bytes)) => Ok(Some(String::from_utf8_lossy(bytes).into_owned())),
        Some(None) => Ok(None),
        None => Err(PgWireError::ParameterIndexOutOfBound(i)),
    }
}
