//! Building a catalog table: typed columns, rows of scalars, one partition even when empty.

use super::*;

pub(super) struct TableBuilder {
    fields: Vec<Field>,
    rows: Vec<Vec<ScalarValue>>,
}

impl TableBuilder {
    pub(super) fn new(columns: &[(&str, DataType)]) -> Self {
        TableBuilder {
            fields: columns
                .iter()
                .map(|(name, t)| Field::new(*name, t.clone(), true))
                .collect(),
            rows: Vec::new(),
        }
    }

    pub(super) fn row(&mut self, values: Vec<ScalarValue>) {
        debug_assert_eq!(values.len(), self.fields.len());
        self.rows.push(values);
    }

    pub(super) fn build(self) -> Result<Arc<MemTable>> {
        let schema = Arc::new(Schema::new(self.fields));
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(schema.fields().len());
        for (i, field) in schema.fields().iter().enumerate() {
            let array = if self.rows.is_empty() {
                datafusion::arrow::array::new_empty_array(field.data_type())
            } else {
                ScalarValue::iter_to_array(self.rows.iter().map(|r| r[i].clone()))?
            };
            columns.push(array);
        }
        let batch = RecordBatch::try_new(schema.clone(), columns)
            .map_err(|e| ServeError::Invalid(format!("pg_catalog: {e}")))?;
        Ok(Arc::new(MemTable::try_new(schema, vec![vec![batch]])?))
    }
}

pub(super) fn oid(v: u32) -> ScalarValue {
    ScalarValue::UInt32(Some(v))
}
pub(super) fn text(v: impl Into<String>) -> ScalarValue {
    ScalarValue::Utf8(Some(v.into()))
}
pub(super) fn null_text() -> ScalarValue {
    ScalarValue::Utf8(None)
}
pub(super) fn boolean(v: bool) -> ScalarValue {
    ScalarValue::Boolean(Some(v))
}
pub(super) fn int2(v: i16) -> ScalarValue {
    ScalarValue::Int16(Some(v))
}
pub(super) fn int4(v: i32) -> ScalarValue {
    ScalarValue::Int32(Some(v))
}
pub(super) fn text_list_null() -> ScalarValue {
    ScalarValue::new_null_list(DataType::Utf8, true, 1)
}

pub(super) const OID: DataType = DataType::UInt32;
pub(super) const TEXT: DataType = DataType::Utf8;
pub(super) const BOOL: DataType = DataType::Boolean;
pub(super) const INT2: DataType = DataType::Int16;
pub(super) const INT4: DataType = DataType::Int32;

pub(super) fn text_list() -> DataType {
    DataType::List(Arc::new(Field::new("item", DataType::Utf8, true)))
}
