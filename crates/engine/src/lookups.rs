//! Answers what a node's Jinja asks of the warehouse while it compiles: a relation's columns
//! (`adapter.get_columns_in_relation`, and through it `dbt_utils.star`, `union_relations`,
//! `unpivot`) and query results (`run_query`, `dbt_utils.get_column_values`).
//!
//! The project crate renders without an engine and records what it was not told; this module
//! fetches exactly that and renders again (see [`orderlake_project::jinja::Lookups`]).

use std::sync::Arc;

use datafusion::arrow::datatypes::DataType;
use orderlake_project::jinja::{ColumnInfo, Lookups, QueryResult, Wanted};
use orderlake_project::{Batch, Compiled, Project};
use serde_json::Value as Json;

use crate::error::{EngineError, Result};
use crate::warehouse::Warehouse;

/// More rounds than this means each render asks for something new: a macro whose query
/// depends on its own previous answer without end.
const MAX_ROUNDS: usize = 8;

/// Compiles `unique_id`, fetching what its Jinja asks for and compiling again until nothing
/// more is asked. A node that asks for nothing compiles once.
pub async fn compile_node(
    project: &Project,
    warehouse: &Warehouse,
    unique_id: &str,
    is_incremental: bool,
    batch: Option<&Batch>,
) -> Result<Compiled> {
    until_answered(warehouse, Lookups::default(), |lookups| {
        project.compile_with(unique_id, is_incremental, batch, lookups)
    })
    .await
    .map_err(|e| match e {
        EngineError::Definition(m) => EngineError::Definition(format!("{unique_id}: {m}")),
        other => other,
    })
}

/// Renders with `render`, fetches what the render asked of the warehouse, and renders again
/// until nothing more is asked (at most [`MAX_ROUNDS`] times).
pub(crate) async fn until_answered(
    warehouse: &Warehouse,
    mut lookups: Lookups,
    render: impl Fn(&Arc<Lookups>) -> orderlake_project::Result<Compiled>,
) -> Result<Compiled> {
    for _ in 0..MAX_ROUNDS {
        let compiled = render(&Arc::new(lookups.clone()))?;
        if compiled.wanted.is_empty() {
            return Ok(compiled);
        }
        answer(warehouse, &compiled.wanted, &mut lookups).await?;
    }
    Err(EngineError::Definition(format!(
        "its Jinja kept asking for new columns or queries after {MAX_ROUNDS} renders"
    )))
}

/// Fetches what a render wanted into `lookups`.
pub(crate) async fn answer(
    warehouse: &Warehouse,
    wanted: &Wanted,
    lookups: &mut Lookups,
) -> Result<()> {
    for relation in &wanted.columns {
        let columns = columns_of(warehouse, relation).await.map_err(|e| {
            EngineError::Definition(format!(
                "the columns of {relation} (asked by adapter.get_columns_in_relation / dbt_utils.star) could not be read: {e}"
            ))
        })?;
        lookups.columns.insert(relation.clone(), columns);
    }
    for sql in &wanted.queries {
        let result = run_query(warehouse, sql).await.map_err(|e| {
            EngineError::Definition(format!("run_query failed: {e}\n  query: {sql}"))
        })?;
        lookups.queries.insert(sql.clone(), result);
    }
    Ok(())
}

/// A relation's columns; none for a relation that does not exist (as dbt's adapters answer, so
/// a model can test whether an optional source was loaded).
async fn columns_of(warehouse: &Warehouse, relation: &str) -> Result<Vec<ColumnInfo>> {
    let reference = datafusion::common::TableReference::parse_str(relation);
    // A schema that does not exist either is no error: the relation is simply not there.
    if !warehouse.context().table_exist(reference).unwrap_or(false) {
        return Ok(Vec::new());
    }
    let df = warehouse
        .sql(&format!("select * from {relation} limit 0"))
        .await?;
    Ok(column_infos(df.schema().as_arrow()))
}

/// A schema's columns as `adapter.get_columns_in_relation` describes them.
pub(crate) fn column_infos(schema: &datafusion::arrow::datatypes::Schema) -> Vec<ColumnInfo> {
    schema
        .fields()
        .iter()
        .map(|f| ColumnInfo {
            name: f.name().clone(),
            data_type: sql_type(f.data_type()),
        })
        .collect()
}

/// The SQL type name a `cast(... as <type>)` needs to give back `data_type`.
pub(crate) fn sql_type(data_type: &DataType) -> String {
    match data_type {
        DataType::Boolean => "boolean".into(),
        DataType::Int8 | DataType::Int16 => "smallint".into(),
        DataType::Int32 | DataType::UInt8 | DataType::UInt16 => "int".into(),
        DataType::Int64 | DataType::UInt32 | DataType::UInt64 => "bigint".into(),
        DataType::Float16 | DataType::Float32 => "real".into(),
        DataType::Float64 => "double".into(),
        DataType::Decimal32(p, s)
        | DataType::Decimal64(p, s)
        | DataType::Decimal128(p, s)
        | DataType::Decimal256(p, s) => format!("decimal({p}, {s})"),
        DataType::Date32 | DataType::Date64 => "date".into(),
        DataType::Timestamp(_, None) => "timestamp".into(),
        DataType::Timestamp(_, Some(_)) => "timestamptz".into(),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => "varchar".into(),
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => "bytea".into(),
        other => other.to_string(),
    }
}

async fn run_query(warehouse: &Warehouse, sql: &str) -> Result<QueryResult> {
    let df = warehouse.sql(sql).await?;
    let columns: Vec<String> = df
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    let batches = df.collect().await?;
    let mut writer = datafusion::arrow::json::ArrayWriter::new(Vec::new());
    for batch in &batches {
        writer
            .write(batch)
            .map_err(datafusion::error::DataFusionError::from)?;
    }
    writer
        .finish()
        .map_err(datafusion::error::DataFusionError::from)?;
    let bytes = writer.into_inner();
    let objects: Vec<serde_json::Map<String, Json>> = if bytes.is_empty() {
        Vec::new()
    } else {
        serde_json::from_slice(&bytes)
            .map_err(|e| EngineError::Definition(format!("run_query result: {e}")))?
    };
    let rows = objects
        .into_iter()
        .map(|mut o| {
            columns
                .iter()
                .map(|c| o.remove(c).unwrap_or(Json::Null))
                .collect()
        })
        .collect();
    Ok(QueryResult { columns, rows })
}
