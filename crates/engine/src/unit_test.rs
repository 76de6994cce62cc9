//! Runs a dbt unit test: the model's SQL on the rows given for its inputs, compared with the
//! rows expected, as multisets over the expected columns (row order does not matter; columns
//! the test does not name are not compared).
//!
//! Given rows are typed like the real input where it has been built (every column of it, the
//! ones a row leaves out null), so the model's SQL sees the types it will see in production.
//! Expected rows are typed like the model's output.

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use orderlake_project::jinja::Lookups;
use orderlake_project::unit_tests::{GivenTarget, Rows, UnitTestSpec};
use orderlake_project::{Project, quote_ident, sql_string};
use serde_json::Value as Json;

use crate::error::{EngineError, Result};
use crate::lookups::{column_infos, sql_type};
use crate::warehouse::Warehouse;

/// How a unit test went: rows missing from the output, rows that should not be there.
#[derive(Debug, Default)]
pub(crate) struct Verdict {
    pub missing: Vec<String>,
    pub extra: Vec<String>,
    pub expected_rows: usize,
    pub actual_rows: usize,
    /// The compiled SQL that ran (given inputs as CTEs).
    pub sql: String,
}

impl Verdict {
    pub fn failures(&self) -> u64 {
        (self.missing.len() + self.extra.len()) as u64
    }

    /// dbt-style diff: what was expected and missing (-), what came out unexpected (+).
    pub fn message(&self) -> Option<String> {
        if self.failures() == 0 {
            return None;
        }
        const SHOWN: usize = 10;
        let mut lines = vec![format!(
            "actual differs from expected ({} expected, {} returned):",
            self.expected_rows, self.actual_rows
        )];
        for (sign, rows) in [("-", &self.missing), ("+", &self.extra)] {
            for row in rows.iter().take(SHOWN) {
                lines.push(format!("  {sign} {row}"));
            }
            if rows.len() > SHOWN {
                lines.push(format!("  {sign} … {} more", rows.len() - SHOWN));
            }
        }
        Some(lines.join("\n"))
    }
}

pub(crate) async fn run(
    project: &Project,
    warehouse: &Warehouse,
    spec: &UnitTestSpec,
) -> Result<Verdict> {
    let mut bodies = Vec::new();
    let mut lookups = Lookups::default();
    let mut unbuilt = Vec::new();
    for given in &spec.given {
        let relation = match &given.target {
            GivenTarget::Node(id) => project.nodes.get(id).and_then(|n| n.relation.clone()),
            GivenTarget::Source(id) => project.sources.get(id).map(|s| s.relation.clone()),
            GivenTarget::This => project
                .nodes
                .get(&spec.model)
                .and_then(|n| n.relation.clone()),
        };
        let schema = match &relation {
            Some(r) if !r.ephemeral => schema_of(warehouse, &format!("select * from {r}")).await,
            _ => None,
        };
        if schema.is_none() && given.target != GivenTarget::This {
            unbuilt.push(given.input.clone());
        }
        let body = rows_sql(&given.rows, schema.as_ref())
            .map_err(|m| EngineError::Definition(format!("given {}: {m}", given.input)))?;
        // `dbt_utils.star(ref('x'))` on a given input asks for the CTE's columns.
        if let Some(columns) = schema_of(warehouse, &body).await {
            lookups
                .columns
                .insert(given.cte_name(), column_infos(&columns));
        }
        bodies.push(body);
    }

    let sql = crate::lookups::until_answered(warehouse, lookups, |lookups| {
        project.compile_unit_test(spec, &bodies, lookups)
    })
    .await?
    .sql;
    let actual_df = warehouse.sql(&sql).await.map_err(|e| {
        if unbuilt.is_empty() {
            e
        } else {
            EngineError::Definition(format!(
                "{}\n  (not built yet, so their given rows have only the columns the test names: {} — build them first to give every row all their columns)",
                crate::error::report(&e),
                unbuilt.join(", ")
            ))
        }
    })?;
    let actual_schema: SchemaRef = Arc::new(actual_df.schema().as_arrow().clone());

    let expected_columns = columns_of_rows(&spec.expect, warehouse).await?;
    let mut typed = Vec::new();
    for column in &expected_columns {
        match actual_schema.field_with_name(column) {
            Ok(field) => typed.push(field.clone()),
            Err(_) => {
                let have: Vec<&str> = actual_schema
                    .fields()
                    .iter()
                    .map(|f| f.name().as_str())
                    .collect();
                return Err(EngineError::Definition(format!(
                    "expected column '{column}' is not in the model's output (columns: {})",
                    have.join(", ")
                )));
            }
        }
    }
    let expected_schema: SchemaRef = Arc::new(datafusion::arrow::datatypes::Schema::new(typed));
    let expected_sql = rows_sql(&spec.expect, Some(&expected_schema))
        .map_err(|m| EngineError::Definition(format!("expect: {m}")))?;
    let projection: Vec<String> = expected_columns.iter().map(|c| quote_ident(c)).collect();
    let actual_sql = format!(
        "select {} from (\n{}\n) as actual",
        projection.join(", "),
        sql.trim().trim_end_matches(';')
    );
    let actual = formatted_rows(&warehouse.sql(&actual_sql).await?.collect().await?)?;
    let expected = formatted_rows(&warehouse.sql(&expected_sql).await?.collect().await?)?;

    let mut verdict = Verdict {
        expected_rows: expected.len(),
        actual_rows: actual.len(),
        sql,
        ..Default::default()
    };
    let mut remaining: BTreeMap<&String, usize> = BTreeMap::new();
    for row in &actual {
        *remaining.entry(row).or_default() += 1;
    }
    for row in &expected {
        match remaining.get_mut(row) {
            Some(n) if *n > 0 => *n -= 1,
            _ => verdict.missing.push(row.clone()),
        }
    }
    for (row, n) in remaining {
        for _ in 0..n {
            verdict.extra.push(row.clone());
        }
    }
    Ok(verdict)
}

async fn schema_of(warehouse: &Warehouse, sql: &str) -> Option<SchemaRef> {
    let df = warehouse
        .sql(&format!("select * from ({sql}) as probe limit 0"))
        .await
        .ok()?;
    Some(Arc::new(df.schema().as_arrow().clone()))
}

/// The expected columns, in the order the test first names them.
async fn columns_of_rows(rows: &Rows, warehouse: &Warehouse) -> Result<Vec<String>> {
    Ok(match rows {
        Rows::Dict(items) => {
            let mut columns: Vec<String> = Vec::new();
            for item in items {
                for key in item.keys() {
                    if !columns.contains(key) {
                        columns.push(key.clone());
                    }
                }
            }
            columns
        }
        Rows::Csv(text) => csv_records(text)?.0,
        Rows::Sql(sql) => match schema_of(warehouse, sql).await {
            Some(schema) => schema.fields().iter().map(|f| f.name().clone()).collect(),
            None => {
                warehouse.sql(sql).await?;
                Vec::new()
            }
        },
    })
}

fn csv_records(text: &str) -> Result<(Vec<String>, Vec<Vec<String>>)> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(text.trim().as_bytes());
    let bad = |e: csv::Error| EngineError::Definition(format!("csv rows: {e}"));
    let header: Vec<String> = reader
        .headers()
        .map_err(bad)?
        .iter()
        .map(str::to_string)
        .collect();
    let mut records = Vec::new();
    for record in reader.records() {
        records.push(record.map_err(bad)?.iter().map(str::to_string).collect());
    }
    Ok((header, records))
}

/// A SQL literal for a YAML value.
fn literal(value: &Json) -> String {
    match value {
        Json::Null => "null".into(),
        Json::Bool(b) => b.to_string(),
        Json::Number(n) => n.to_string(),
        Json::String(s) => sql_string(s),
        other => sql_string(&other.to_string()),
    }
}

/// A SQL literal for a CSV field when no type is known: a number as a number, else a string.
fn inferred(field: &str) -> String {
    if field.is_empty() || field.eq_ignore_ascii_case("null") {
        "null".into()
    } else if field.parse::<i64>().is_ok() || field.parse::<f64>().is_ok() {
        field.to_string()
    } else {
        sql_string(field)
    }
}

/// The rows as a query: each typed like `schema` (every column of it) when it is known.
fn rows_sql(rows: &Rows, schema: Option<&SchemaRef>) -> std::result::Result<String, String> {
    let table: (Vec<String>, Vec<BTreeMap<String, String>>) = match rows {
        Rows::Sql(sql) => return Ok(sql.trim().trim_end_matches(';').to_string()),
        Rows::Dict(items) => {
            let mut columns: Vec<String> = Vec::new();
            let mut out = Vec::new();
            for item in items {
                let mut row = BTreeMap::new();
                for (key, value) in item {
                    if !columns.contains(key) {
                        columns.push(key.clone());
                    }
                    row.insert(key.clone(), literal(value));
                }
                out.push(row);
            }
            (columns, out)
        }
        Rows::Csv(text) => {
            let (header, records) = csv_records(text).map_err(|e| e.to_string())?;
            let known = |name: &str| schema.is_some_and(|s| s.field_with_name(name).is_ok());
            let rows = records
                .into_iter()
                .map(|record| {
                    header
                        .iter()
                        .zip(record)
                        .map(|(name, field)| {
                            let value = if known(name) {
                                if field.is_empty() {
                                    "null".to_string()
                                } else {
                                    sql_string(&field)
                                }
                            } else {
                                inferred(&field)
                            };
                            (name.clone(), value)
                        })
                        .collect()
                })
                .collect();
            (header, rows)
        }
    };
    let (mut columns, rows) = table;
    let mut types: BTreeMap<String, String> = BTreeMap::new();
    if let Some(schema) = schema {
        for name in &columns {
            if schema.field_with_name(name).is_err() {
                let have: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
                return Err(format!(
                    "column '{name}' is not a column of the input (columns: {})",
                    have.join(", ")
                ));
            }
        }
        columns = schema.fields().iter().map(|f| f.name().clone()).collect();
        for field in schema.fields() {
            types.insert(field.name().clone(), sql_type(field.data_type()));
        }
    }
    if columns.is_empty() {
        return Err(
            "no rows and no known columns: give at least one row, or build the input first".into(),
        );
    }
    let select = |row: Option<&BTreeMap<String, String>>| -> String {
        let items: Vec<String> = columns
            .iter()
            .map(|c| {
                let value = row
                    .and_then(|r| r.get(c))
                    .cloned()
                    .unwrap_or_else(|| "null".into());
                match types.get(c) {
                    Some(t) => format!("cast({value} as {t}) as {}", quote_ident(c)),
                    None => format!("{value} as {}", quote_ident(c)),
                }
            })
            .collect();
        format!("select {}", items.join(", "))
    };
    if rows.is_empty() {
        return Ok(format!("{} where false", select(None)));
    }
    Ok(rows
        .iter()
        .map(|r| select(Some(r)))
        .collect::<Vec<_>>()
        .join("\nunion all\n"))
}

/// Each row as `{col: value, ...}` text, for comparing and for the failure message.
fn formatted_rows(batches: &[RecordBatch]) -> Result<Vec<String>> {
    let options = FormatOptions::default().with_null("null");
    let mut out = Vec::new();
    for batch in batches {
        let schema = batch.schema();
        let formatters = batch
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(datafusion::error::DataFusionError::from)?;
        for row in 0..batch.num_rows() {
            let cells: Vec<String> = formatters
                .iter()
                .zip(schema.fields())
                .map(|(f, field)| format!("{}: {}", field.name(), f.value(row)))
                .collect();
            out.push(format!("{{{}}}", cells.join(", ")));
        }
    }
    Ok(out)
}
