//! Expectations: named row conditions on a model, as in Databricks' declarative pipelines.
//! `warn` keeps violating rows and counts them, `drop` moves them to the model's quarantine table
//! (with the expectation names and the run id), `fail` stops the model. Nothing disappears.

use std::sync::{Arc, Mutex};

use datafusion::arrow::array::{Array, AsArray, BooleanArray, RecordBatch, StringArray};
use datafusion::arrow::compute::filter_record_batch;
use datafusion::arrow::compute::kernels::boolean::{and, not};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::streaming::StreamingTable;
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::functions::expr_fn::now;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::streaming::PartitionStream;
use datafusion::prelude::{DataFrame, lit};
use futures::StreamExt;
use orderlake_project::{Node, OnViolation, Relation};
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

/// The flag column of expectation `i` in the checked query.
fn flag(i: usize) -> String {
    format!("__orderlake_expectation_{i}")
}

/// What the one pass over the model's rows found so far.
#[derive(Debug, Default)]
struct Tally {
    violations: Vec<u64>,
    /// Rows refused by `drop` expectations, with `_expectations` (which ones).
    refused: Vec<RecordBatch>,
    /// A `fail` expectation was broken: nothing more is passed on, and the write is aborted.
    failed: bool,
}

/// The model's rows with expectations applied as they stream to the writer, and what
/// [`Checked::finish`] needs to report and quarantine afterwards.
pub struct Checked<'a> {
    /// The rows to write: every row that breaks no `drop` expectation.
    pub df: DataFrame,
    tally: Option<Arc<Mutex<Tally>>>,
    checker: &'a Checker<'a>,
}

impl Checker<'_> {
    /// Plans the model's SQL with its expectations applied in one pass over its rows: as the
    /// writer pulls them, each row's expectations are evaluated once, violations are counted,
    /// rows that break a `drop` one are set aside for the quarantine, and a broken `fail` one
    /// aborts the write (no commit). Call [`Checked::finish`] with the write's result.
    pub async fn apply(&self, sql: &str) -> Result<Checked<'_>> {
        let expectations = &self.node.expectations;
        let body = sql.trim().trim_end_matches(';');
        if expectations.is_empty() {
            return Ok(Checked {
                df: self.warehouse.sql_on_engine(body).await?,
                tally: None,
                checker: self,
            });
        }
        let flags = expectations
            .iter()
            .enumerate()
            .map(|(i, e)| format!("{} as {}", holds(&e.expression), flag(i)))
            .collect::<Vec<_>>()
            .join(", ");
        let flagged = self
            .warehouse
            .sql_on_engine(&format!("select q.*, {flags} from (\n{body}\n) q"))
            .await
            .context(|| format!("expectations of {}", self.node.name))?;
        let streams = flagged.clone().execute_stream_partitioned().await?;
        // The streams' own schema (it may say Utf8View or nullable where the plan does not).
        let fields = match streams.first() {
            Some(stream) => stream.schema().fields().clone(),
            None => flagged.schema().as_arrow().fields().clone(),
        };
        let columns = fields.len() - expectations.len();
        let schema: SchemaRef = Arc::new(Schema::new(fields[..columns].to_vec()));
        let tally = Arc::new(Mutex::new(Tally {
            violations: vec![0; expectations.len()],
            ..Default::default()
        }));
        let rules = Arc::new(Rules {
            columns,
            schema: schema.clone(),
            fail: expectations
                .iter()
                .map(|e| e.on_violation == OnViolation::Fail)
                .collect(),
            drop: expectations
                .iter()
                .enumerate()
                .filter(|(_, e)| e.on_violation == OnViolation::Drop)
                .map(|(i, e)| (i, e.name.clone()))
                .collect(),
        });
        let partitions: Vec<Arc<dyn PartitionStream>> = streams
            .into_iter()
            .map(|stream| {
                Arc::new(Tee {
                    schema: schema.clone(),
                    stream: Mutex::new(Some(stream)),
                    rules: rules.clone(),
                    tally: tally.clone(),
                }) as Arc<dyn PartitionStream>
            })
            .collect();
        let table = StreamingTable::try_new(schema, partitions)?;
        let df = self.warehouse.context().read_table(Arc::new(table))?;
        Ok(Checked {
            df,
            tally: Some(tally),
            checker: self,
        })
    }
}

impl Checked<'_> {
    /// For writers that read their input more than once (Delta MERGE reads the source to find
    /// the files it touches, then again to write): the checked rows are collected once, in
    /// memory — an increment, not a table.
    pub async fn read_once(mut self) -> Result<Self> {
        if self.tally.is_some() {
            match self.df.clone().cache().await {
                Ok(df) => self.df = df,
                Err(e) => return Err(self.broken().unwrap_or(e.into())),
            }
        }
        Ok(self)
    }

    /// The error for `fail` expectations broken so far, if any.
    fn broken(&self) -> Option<EngineError> {
        let tally = self
            .tally
            .as_ref()?
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let failed: Vec<String> = self
            .checker
            .node
            .expectations
            .iter()
            .zip(&tally.violations)
            .filter(|(e, n)| e.on_violation == OnViolation::Fail && **n > 0)
            .map(|(e, n)| format!("'{}' ({n} rows)", e.name))
            .collect();
        (!failed.is_empty()).then(|| EngineError::ExpectationFailed {
            node: self.checker.node.name.clone(),
            failed,
        })
    }

    /// After the write: the counts per expectation, a broken `fail` expectation as the error
    /// (whatever the write said), and the refused rows appended to the quarantine.
    pub async fn finish<T>(self, written: Result<T>) -> Result<(T, Vec<ExpectationResult>)> {
        if let Some(error) = self.broken() {
            return Err(error);
        }
        let Some(tally) = self.tally else {
            return Ok((written?, Vec::new()));
        };
        let checker = self.checker;
        let tally = std::mem::take(&mut *tally.lock().unwrap_or_else(|p| p.into_inner()));
        let results: Vec<ExpectationResult> = checker
            .node
            .expectations
            .iter()
            .zip(&tally.violations)
            .map(|(e, n)| ExpectationResult {
                name: e.name.clone(),
                on_violation: e.on_violation,
                violations: *n,
            })
            .collect();
        let value = written?;
        if tally.refused.iter().any(|b| b.num_rows() > 0) {
            checker.quarantine(tally.refused).await?;
        }
        Ok((value, results))
    }
}

impl Checker<'_> {
    /// Appends refused rows to `<model>__quarantine`, stamped with the run. A row refused
    /// before is listed once, when first refused: a table recomputed every batch would
    /// otherwise list its refused rows again with every batch. When the quarantine's columns
    /// no longer match the model's, rows are appended as they are.
    async fn quarantine(&self, refused: Vec<RecordBatch>) -> Result<()> {
        let ctx = self.warehouse.context();
        let target = quarantine_relation(self.relation);
        let rows = ctx.read_batches(refused)?;
        let stamp = |df: DataFrame| -> Result<DataFrame> {
            Ok(df
                .with_column("_run_id", lit(self.run_id.to_string()))?
                .with_column("_quarantined_at", now())?)
        };
        let existing = match self.warehouse.kind_of(&target).await? {
            Some(RelationKind::Table) => self
                .warehouse
                .sql(&format!(
                    "select * except (_run_id, _quarantined_at) from {target}"
                ))
                .await
                .ok(),
            _ => None,
        };
        let df = match existing.and_then(|e| rows.clone().except_distinct(e).ok()) {
            Some(unseen) => unseen,
            None => rows,
        };
        self.warehouse
            .write(&target, stamp(df)?, WriteMode::Append)
            .await?;
        Ok(())
    }
}

/// Which flag columns mean what.
#[derive(Debug)]
struct Rules {
    /// How many of the model's own columns come before the flags.
    columns: usize,
    /// Their schema, as the writer sees them.
    schema: SchemaRef,
    /// Per expectation: does breaking it fail the model.
    fail: Vec<bool>,
    /// (index, name) of the `drop` expectations.
    drop: Vec<(usize, String)>,
}

impl Rules {
    /// Counts a batch's violations into `tally` and returns the rows to keep (without flags).
    fn pass(&self, batch: RecordBatch, tally: &Mutex<Tally>) -> DfResult<Option<RecordBatch>> {
        let flags: Vec<&BooleanArray> = (self.columns..batch.num_columns())
            .map(|i| batch.column(i).as_boolean())
            .collect();
        let mut tally = tally.lock().unwrap_or_else(|p| p.into_inner());
        for (i, ok) in flags.iter().enumerate() {
            let broken = (ok.len() - ok.true_count()) as u64;
            tally.violations[i] += broken;
            if broken > 0 && self.fail[i] {
                tally.failed = true;
            }
        }
        if tally.failed {
            // Keep counting (the error names how many rows broke it), write nothing more.
            return Ok(None);
        }
        let rows = RecordBatch::try_new(
            self.schema.clone(),
            batch.columns()[..self.columns].to_vec(),
        )?;
        if self.drop.is_empty() {
            return Ok(Some(rows));
        }
        let mut keep = flags[self.drop[0].0].clone();
        for (i, _) in &self.drop[1..] {
            keep = and(&keep, flags[*i])?;
        }
        if keep.true_count() == keep.len() {
            return Ok(Some(rows));
        }
        let refused_mask = not(&keep)?;
        let refused = filter_record_batch(&rows, &refused_mask)?;
        let names: StringArray = (0..batch.num_rows())
            .filter(|r| refused_mask.value(*r))
            .map(|r| {
                let broken: Vec<&str> = self
                    .drop
                    .iter()
                    .filter(|(i, _)| !flags[*i].value(r))
                    .map(|(_, name)| name.as_str())
                    .collect();
                Some(broken.join(","))
            })
            .collect();
        let mut fields = refused.schema().fields().to_vec();
        fields.push(Arc::new(Field::new("_expectations", DataType::Utf8, true)));
        let mut columns = refused.columns().to_vec();
        columns.push(Arc::new(names));
        tally.refused.push(RecordBatch::try_new(
            Arc::new(Schema::new(fields)),
            columns,
        )?);
        Ok(Some(filter_record_batch(&rows, &keep)?))
    }
}

/// One partition of the checked query, handed to the writer once.
struct Tee {
    schema: SchemaRef,
    stream: Mutex<Option<SendableRecordBatchStream>>,
    rules: Arc<Rules>,
    tally: Arc<Mutex<Tally>>,
}

impl std::fmt::Debug for Tee {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tee").field("rules", &self.rules).finish()
    }
}

impl PartitionStream for Tee {
    fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    fn execute(&self, _ctx: Arc<TaskContext>) -> SendableRecordBatchStream {
        let taken = self.stream.lock().unwrap_or_else(|p| p.into_inner()).take();
        let schema = self.schema.clone();
        let Some(stream) = taken else {
            // Reading the rows twice would evaluate the expectations twice: refuse loudly.
            let error = futures::stream::once(async {
                Err(DataFusionError::Internal(
                    "a checked model's rows were read twice".into(),
                ))
            });
            return Box::pin(RecordBatchStreamAdapter::new(schema, error));
        };
        let (rules, tally) = (self.rules.clone(), self.tally.clone());
        let end_tally = self.tally.clone();
        let passed = stream.filter_map(move |batch| {
            let result = batch.and_then(|b| rules.pass(b, &tally)).transpose();
            async move { result }
        });
        let end = futures::stream::once(async move {
            let failed = end_tally.lock().map(|t| t.failed).unwrap_or(true);
            failed.then(|| {
                Err(DataFusionError::Execution(
                    "an expectation with on_violation: fail was broken; nothing is written".into(),
                ))
            })
        })
        .filter_map(|e| async move { e });
        Box::pin(RecordBatchStreamAdapter::new(schema, passed.chain(end)))
    }
}
