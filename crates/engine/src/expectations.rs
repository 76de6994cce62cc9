//! Expectations: named row conditions on a model, as in Databricks' declarative pipelines.
//! `warn` keeps violating rows and counts them, `drop` moves them to the model's quarantine table
//! (with the expectation names and the run id), `fail` stops the model. Nothing disappears.

use datafusion::arrow::array::{Array, Int64Array};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::prelude::DataFrame;
use orderlake_project::{Node, OnViolation, Relation, sql_string};
use serde::Serialize;

use crate::error::{EngineError, Result, ResultExt};
use crate::layout::RelationKind;
use crate::warehouse::{Warehouse, WriteMode};

/// How many rows broke one expectation in one build.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ExpectationResult {
    pub name: String,
    pub on_violation: OnViolation,
    pub violations: u64,
}

/// Adds `more` into `into`, summing counts of the same expectation (microbatches).
pub fn merge_results(into: &mut Vec<ExpectationResult>, more: Vec<ExpectationResult>) {
    for m in more {
        match into.iter_mut().find(|r| r.name == m.name) {
            Some(r) => r.violations += m.violations,
            None => into.push(m),
        }
    }
}

/// The quarantine table of a model: `<schema>.<model>__quarantine`.
pub fn quarantine_relation(relation: &Relation) -> Relation {
    Relation::new(
        relation.schema.clone(),
        format!("{}__quarantine", relation.identifier),
    )
}

pub struct Checker<'a> {
    pub warehouse: &'a Warehouse,
    pub node: &'a Node,
    pub relation: &'a Relation,
    pub run_id: &'a str,
}

fn holds(expression: &str) -> String {
    format!("coalesce(({expression}), false)")
}

impl Checker<'_> {
    /// Plans the model's SQL with its expectations applied: checks `fail` ones, quarantines rows
    /// that break `drop` ones, and returns the rows to write with the counts.
    pub async fn apply(&self, sql: &str) -> Result<(DataFrame, Vec<ExpectationResult>)> {
        let expectations = &self.node.expectations;
        let body = sql.trim().trim_end_matches(';');
        if expectations.is_empty() {
            return Ok((self.warehouse.sql(body).await?, Vec::new()));
        }
        let counts = expectations
            .iter()
            .enumerate()
            .map(|(i, e)| {
                format!(
                    "sum(case when {} then 0 else 1 end) as v{i}",
                    holds(&e.expression)
                )
            })
            .collect::<Vec<_>>()
            .join(", ");
        let batches = self
            .warehouse
            .sql(&format!("select {counts} from (\n{body}\n) q"))
            .await
            .context(|| format!("expectations of {}", self.node.name))?
            .collect()
            .await?;
        let mut results = Vec::new();
        for (i, e) in expectations.iter().enumerate() {
            let mut violations = 0u64;
            for batch in &batches {
                if batch.num_rows() > 0 {
                    let col = cast(batch.column(i), &DataType::Int64)
                        .map_err(|e| EngineError::DataFusion(e.into()))?;
                    if let Some(ints) = col.as_any().downcast_ref::<Int64Array>()
                        && !ints.is_null(0)
                    {
                        violations += ints.value(0).max(0) as u64;
                    }
                }
            }
            results.push(ExpectationResult {
                name: e.name.clone(),
                on_violation: e.on_violation,
                violations,
            });
        }
        let failed: Vec<String> = results
            .iter()
            .filter(|r| r.on_violation == OnViolation::Fail && r.violations > 0)
            .map(|r| format!("'{}' ({} rows)", r.name, r.violations))
            .collect();
        if !failed.is_empty() {
            return Err(EngineError::ExpectationFailed {
                node: self.node.name.clone(),
                failed,
            });
        }
        let drops: Vec<&orderlake_project::Expectation> = expectations
            .iter()
            .filter(|e| e.on_violation == OnViolation::Drop)
            .collect();
        if drops.is_empty() {
            return Ok((self.warehouse.sql(body).await?, results));
        }
        let keep = drops
            .iter()
            .map(|e| holds(&e.expression))
            .collect::<Vec<_>>()
            .join(" and ");
        let dropped_any = results
            .iter()
            .any(|r| r.on_violation == OnViolation::Drop && r.violations > 0);
        if dropped_any {
            let names = drops
                .iter()
                .map(|e| {
                    format!(
                        "case when {} then null else {} end",
                        holds(&e.expression),
                        sql_string(&e.name)
                    )
                })
                .collect::<Vec<_>>()
                .join(", ");
            let refused = format!(
                "select q.*, concat_ws(',', {names}) as _expectations\nfrom (\n{body}\n) q\nwhere not ({keep})"
            );
            let stamp = format!(
                "{} as _run_id, now() as _quarantined_at",
                sql_string(self.run_id)
            );
            let target = quarantine_relation(self.relation);
            // A row refused before is listed once, when first refused: a table recomputed every
            // batch would otherwise list its refused rows again with every batch. When the
            // quarantine's columns no longer match the model's, rows are appended as they are.
            let unseen = format!(
                "select n.*, {stamp} from (\n{refused}\nexcept\nselect * except (_run_id, _quarantined_at) from {target}\n) n"
            );
            let deduplicated = match self.warehouse.kind_of(&target) {
                Some(RelationKind::Table) => self.warehouse.sql(&unseen).await.ok(),
                _ => None,
            };
            let df = match deduplicated {
                Some(df) => df,
                None => {
                    self.warehouse
                        .sql(&format!("select r.*, {stamp} from (\n{refused}\n) r"))
                        .await?
                }
            };
            self.warehouse.write(&target, df, WriteMode::Append).await?;
        }
        let kept = self
            .warehouse
            .sql(&format!("select * from (\n{body}\n) q where {keep}"))
            .await?;
        Ok((kept, results))
    }
}
