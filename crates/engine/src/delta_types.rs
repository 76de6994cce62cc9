//! Delta Lake stores fewer types than Arrow: this maps a query's output onto types every Delta
//! reader (Spark, Databricks, DuckDB, Polars) understands.

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, Fields, TimeUnit};
use datafusion::dataframe::DataFrame;
use datafusion::logical_expr::{cast, ident};

use crate::error::Result;

/// The Delta-compatible type for `dt`, or `None` when `dt` can be written as is.
pub fn delta_type(dt: &DataType) -> Option<DataType> {
    use DataType::*;
    let utc: Arc<str> = Arc::from("UTC");
    match dt {
        Utf8View | LargeUtf8 => Some(Utf8),
        BinaryView | LargeBinary | FixedSizeBinary(_) => Some(Binary),
        UInt8 => Some(Int16),
        UInt16 => Some(Int32),
        UInt32 | UInt64 => Some(Int64),
        Float16 => Some(Float32),
        Date64 => Some(Date32),
        // Time is UTC throughout the project; naive timestamps are taken to be UTC.
        Timestamp(unit, tz) => {
            let is_utc = tz.as_deref().is_some_and(|t| t == "UTC");
            if *unit == TimeUnit::Microsecond && is_utc {
                None
            } else {
                Some(Timestamp(TimeUnit::Microsecond, Some(utc)))
            }
        }
        Time32(_) | Time64(_) | Interval(_) | Null => Some(Utf8),
        Duration(_) => Some(Int64),
        Decimal32(p, s) | Decimal64(p, s) => Some(Decimal128(*p, *s)),
        Decimal256(p, s) => Some(Decimal128((*p).min(38), (*s).min(38))),
        Dictionary(_, value) => Some(delta_type(value).unwrap_or_else(|| value.as_ref().clone())),
        List(f) | LargeList(f) | ListView(f) | LargeListView(f) | FixedSizeList(f, _) => {
            let inner = delta_type(f.data_type());
            if inner.is_none() && matches!(dt, List(_)) {
                None
            } else {
                Some(List(Arc::new(field_with(f, inner))))
            }
        }
        Struct(fields) => {
            let mapped: Vec<Option<DataType>> =
                fields.iter().map(|f| delta_type(f.data_type())).collect();
            if mapped.iter().all(Option::is_none) {
                None
            } else {
                Some(Struct(Fields::from(
                    fields
                        .iter()
                        .zip(mapped)
                        .map(|(f, m)| field_with(f, m))
                        .collect::<Vec<_>>(),
                )))
            }
        }
        Map(f, sorted) => delta_type(f.data_type())
            .map(|inner| Map(Arc::new(field_with(f, Some(inner))), *sorted)),
        _ => None,
    }
}

fn field_with(f: &Field, dt: Option<DataType>) -> Field {
    match dt {
        Some(dt) => f.clone().with_data_type(dt),
        None => f.clone(),
    }
}

/// Casts the columns of `df` that Delta cannot store to types it can, keeping names and order.
pub fn for_delta(df: DataFrame) -> Result<DataFrame> {
    let fields: Vec<(String, Option<DataType>)> = df
        .schema()
        .fields()
        .iter()
        .map(|f| (f.name().clone(), delta_type(f.data_type())))
        .collect();
    if fields.iter().all(|(_, t)| t.is_none()) {
        return Ok(df);
    }
    let exprs = fields
        .into_iter()
        .map(|(name, target)| match target {
            Some(t) => cast(ident(&name), t).alias(name),
            None => ident(&name).alias(name),
        })
        .collect::<Vec<_>>();
    Ok(df.select(exprs)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_unsupported_types() {
        assert_eq!(delta_type(&DataType::Utf8View), Some(DataType::Utf8));
        assert_eq!(delta_type(&DataType::Int64), None);
        assert_eq!(
            delta_type(&DataType::Timestamp(TimeUnit::Nanosecond, None)),
            Some(DataType::Timestamp(
                TimeUnit::Microsecond,
                Some("UTC".into())
            ))
        );
        assert_eq!(
            delta_type(&DataType::Timestamp(
                TimeUnit::Microsecond,
                Some("UTC".into())
            )),
            None
        );
        assert_eq!(delta_type(&DataType::Null), Some(DataType::Utf8));
    }
}
