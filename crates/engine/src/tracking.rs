//! Refresh that tracks the change: a table model whose inputs changed by a few keys recomputes
//! only the rows of those keys.
//!
//! Every table model's commit records, as Delta application transactions in its own log, the
//! version of each Delta table it read (`orderlake.read:<schema>.<table>`) and a fingerprint of
//! its compiled SQL (`orderlake.sql`). On the next refresh:
//!
//! 1. inputs still at the recorded versions: nothing to do;
//! 2. otherwise the model needs a *key*: an output column `k` such that a filter `k = x` on the
//!    model's query is pushed by DataFusion's optimizer, as a filter `c = x` on a column `c`,
//!    into every scan of every changed input. The optimizer only does that when it is exact
//!    (through projections, GROUP BY keys, window PARTITION BY keys, equi-joins), so the rows of
//!    key `x` are computed from the input rows with `c = x` alone;
//! 3. the changed rows of each input since the recorded version come from its change data feed
//!    (old and new versions of updated rows, deleted and inserted rows); their `c` values are the
//!    touched keys;
//! 4. the rows of the touched keys are replaced by the query filtered to them, in one commit
//!    with the new read versions: rows of untouched keys cannot have changed.
//!
//! Anything else (no such key, an input that is a view or files, a changed SQL, an input whose
//! change feed is gone, too many touched keys) is a full recompute, and the event log says why.

use std::collections::BTreeSet;
use std::sync::Arc;

use datafusion::arrow::array::Array;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{Column, ScalarValue};
use datafusion::logical_expr::utils::split_conjunction;
use datafusion::logical_expr::{BinaryExpr, Expr, LogicalPlan, Operator};
use datafusion::prelude::{DataFrame, col, lit};
use deltalake::delta_datafusion::DeltaCdfTableProvider;
use deltalake::kernel::Transaction;
use orderlake_project::Relation;

use crate::error::Result;
use crate::layout::RelationKind;
use crate::warehouse::Warehouse;

/// App id prefix of the marks recording which version of an input a model read.
const READ_MARK: &str = "orderlake.read:";
/// App id of the mark holding the fingerprint of the model's compiled SQL.
const SQL_MARK: &str = "orderlake.sql";
/// Above this many touched keys the IN list is dropped and every key between the least and the
/// greatest touched one is recomputed: still exact (any set of keys can be recomputed), cheap when
/// the keys are new ones beyond the stored range, and never worse than recomputing whole.
pub(crate) const MAX_LISTED_KEYS: usize = 10_000;
/// How many output columns are tried as the key.
const MAX_KEY_CANDIDATES: usize = 12;

/// A key column and, for each changed input, what its filter becomes there: the input's
/// expressions (a column, or one computed from its columns, e.g. `date_trunc('month', at)`)
/// whose values are the output keys its rows feed.
pub(crate) type FoundKey = (String, std::collections::BTreeMap<String, Vec<Expr>>);

/// How a table model is to be brought up to date.
#[derive(Debug)]
pub(crate) enum TableRefresh {
    /// Recompute everything.
    Full { reason: String },
    /// Nothing to write: its inputs did not change, or changed without touching its rows.
    Unchanged { reason: String },
    /// Recompute the rows whose `key` is one of `keys` (never empty).
    Keys {
        key: String,
        keys: Vec<ScalarValue>,
        changed: Vec<String>,
    },
}

/// A model's query and what it read: the marks to commit with its new version.
pub(crate) struct Reads {
    pub marks: Vec<Transaction>,
    /// Delta inputs and the versions read.
    inputs: Vec<(Relation, u64)>,
    /// Inputs that are not Delta tables (views, files): changes to them cannot be tracked.
    untracked: Vec<String>,
    /// Of the model's definition: its compiled SQL and what else decides its rows.
    fingerprint: i64,
}

/// What `sql` reads, as of now, and the marks recording it. `definition` is everything else
/// that decides the model's rows (its expectations): a change to it forces a full recompute.
pub(crate) async fn reads(warehouse: &Warehouse, sql: &str, definition: &str) -> Result<Reads> {
    let plan = warehouse.sql(sql).await?.logical_plan().clone();
    let mut scanned = std::collections::BTreeMap::new();
    // Views are inlined into the plan (as an alias over their query): the tables under them are
    // tracked like any input, and their definitions belong to this model's fingerprint, so a
    // view whose SQL changed recomputes the tables built on it.
    let mut aliases = std::collections::BTreeMap::new();
    plan.apply_with_subqueries(|node| {
        match node {
            LogicalPlan::TableScan(scan) => {
                let relation = relation_of(warehouse, &scan.table_name);
                scanned.insert(relation.to_string(), relation);
            }
            LogicalPlan::SubqueryAlias(alias) => {
                let relation = relation_of(warehouse, &alias.alias);
                aliases.insert(
                    relation.to_string(),
                    (relation, alias.input.display_indent().to_string()),
                );
            }
            _ => {}
        }
        Ok(TreeNodeRecursion::Continue)
    })?;
    let mut views = std::collections::BTreeMap::new();
    for (name, (relation, definition)) in aliases {
        if warehouse.kind_of(&relation).await? == Some(RelationKind::View) {
            views.insert(name, definition);
        }
    }
    let mut inputs = Vec::new();
    let mut untracked = Vec::new();
    for relation in scanned.into_values() {
        // A recursive CTE's work table or a table function (`range()`) is no table of the
        // catalog: it is computed from what the query scans, so it is no input of its own.
        let reference = datafusion::common::TableReference::partial(
            relation.schema.as_str(),
            relation.identifier.as_str(),
        );
        if !warehouse.context().table_exist(reference)? {
            continue;
        }
        match (
            warehouse.kind_of(&relation).await?,
            warehouse.registered_version(&relation),
        ) {
            (Some(RelationKind::Table), Some(version)) => inputs.push((relation, version)),
            _ => untracked.push(plain(&relation)),
        }
    }
    let mut marks: Vec<Transaction> = inputs
        .iter()
        .map(|(r, v)| Transaction::new(format!("{READ_MARK}{}", plain(r)), as_mark(*v)))
        .collect();
    let view_definitions: String = views
        .iter()
        .map(|(name, plan)| format!("\n{name}:\n{plan}"))
        .collect();
    let fingerprint = fingerprint(&format!("{}\n{definition}{view_definitions}", sql.trim()));
    marks.push(Transaction::new(SQL_MARK, fingerprint));
    Ok(Reads {
        marks,
        inputs,
        untracked,
        fingerprint,
    })
}

/// Decides how the table at `relation`, built by `sql`, is refreshed.
pub(crate) async fn plan(
    warehouse: &Warehouse,
    relation: &Relation,
    sql: &str,
    reads: &Reads,
) -> Result<TableRefresh> {
    let full = |reason: String| Ok(TableRefresh::Full { reason });
    if warehouse.kind_of(relation).await? != Some(RelationKind::Table) {
        return full("first build: the table did not exist yet".into());
    }
    let table = warehouse.open_delta(relation).await?;
    let state = table.snapshot()?;
    let recorded = |app_id: String| {
        let log_store = table.log_store();
        async move { state.transaction_version(log_store.as_ref(), app_id).await }
    };
    if recorded(SQL_MARK.to_string()).await? != Some(reads.fingerprint) {
        return full(
            "the model's compiled SQL or expectations changed since its last build (or none were recorded)"
                .into(),
        );
    }
    let mut changed = Vec::new();
    for (input, version) in &reads.inputs {
        match recorded(format!("{READ_MARK}{}", plain(input)))
            .await?
            .and_then(|v| u64::try_from(v).ok())
        {
            Some(v) if v == *version => {}
            Some(v) if v < *version => changed.push((input.clone(), v, *version)),
            _ => {
                return full(format!(
                    "no record of which version of {} it read",
                    plain(input)
                ));
            }
        }
    }
    // Checked first: a view's or a file's change would go unseen.
    if let Some(view) = reads.untracked.first() {
        return full(format!(
            "it reads {view}, a view or files whose changes are not tracked"
        ));
    }
    if changed.is_empty() {
        return Ok(TableRefresh::Unchanged {
            reason: "nothing it reads changed since its last build".into(),
        });
    }
    let changed_names: Vec<String> = changed
        .iter()
        .map(|(r, from, to)| format!("{} v{from}→v{to}", plain(r)))
        .collect();

    // The key: an output column whose filter reaches every scan of every changed input.
    let changed_relations: BTreeSet<String> = changed.iter().map(|(r, ..)| r.to_string()).collect();
    let memo_key = format!(
        "{}|{}",
        reads.fingerprint,
        changed_relations
            .iter()
            .cloned()
            .collect::<Vec<_>>()
            .join(",")
    );
    let remembered = warehouse
        .found_keys
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(&memo_key)
        .cloned();
    let found = match remembered {
        Some(found) => found,
        None => {
            let df = warehouse.sql(sql).await?;
            let mut found = None;
            for field in df.schema().fields().iter().take(MAX_KEY_CANDIDATES) {
                if let Some(columns) = pushed_key(
                    warehouse,
                    &df,
                    field.name(),
                    field.data_type(),
                    &changed_relations,
                )? {
                    found = Some((field.name().clone(), columns));
                    break;
                }
            }
            warehouse
                .found_keys
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(memo_key, found.clone());
            found
        }
    };
    let Some((key, columns)) = found else {
        // Recomputing whole is only worth it when some input row really changed: a new version
        // that rewrote the same rows (an upstream table recomputed whole to the same result, a
        // keyed refresh that touched none of its rows) changes nothing here.
        let mut any = false;
        for (input, from, to) in &changed {
            // An unreadable feed counts as a change.
            if changed_at_all(warehouse, input, *from + 1, *to)
                .await
                .unwrap_or(true)
            {
                any = true;
                break;
            }
        }
        if !any {
            return Ok(TableRefresh::Unchanged {
                reason: format!(
                    "its inputs have new versions with the same rows ({})",
                    changed_names.join(", ")
                ),
            });
        }
        return full(format!(
            "no output column's filter reaches every scan of the changed input(s) {} (an aggregate over all rows, a window not partitioned by a key, or a derived key)",
            changed_names.join(", ")
        ));
    };

    // The touched keys: the key expressions' values in every changed row of every changed input.
    let mut keys: std::collections::HashSet<ScalarValue> = Default::default();
    for (input, from, to) in &changed {
        let exprs = &columns[&input.to_string()];
        let values = match changed_values(warehouse, input, *from + 1, *to, exprs).await {
            Ok(v) => v,
            Err(e) => {
                return full(format!(
                    "the change feed of {} from v{} to v{to} cannot be read: {e}",
                    plain(input),
                    from + 1
                ));
            }
        };
        for value in values {
            if value.is_null() {
                let what: Vec<String> = exprs.iter().map(|e| e.to_string()).collect();
                return full(format!(
                    "a changed row of {} has no {}",
                    plain(input),
                    what.join(" / ")
                ));
            }
            keys.insert(value);
        }
    }
    if keys.is_empty() {
        return Ok(TableRefresh::Unchanged {
            reason: format!(
                "its inputs changed without touching any of its rows ({})",
                changed_names.join(", ")
            ),
        });
    }
    Ok(TableRefresh::Keys {
        key,
        keys: keys.into_iter().collect(),
        changed: changed_names,
    })
}

/// The query of a keyed refresh and the SQL predicate of the rows it replaces.
pub(crate) fn keyed(sql: &str, key: &str, keys: &[ScalarValue]) -> Option<(String, String)> {
    let predicate = in_list(key, keys)?;
    let body = sql.trim().trim_end_matches(';');
    Some((
        format!("select * from (\n{body}\n) __orderlake_keyed where {predicate}"),
        predicate,
    ))
}

/// `key in (…)` with the values as SQL literals, sorted (`false` for none); `None` when a value
/// has no literal here. More than one value also bounds the key by its least and greatest value:
/// file statistics prune by a range (DataFusion and delta-rs prune by an IN list of a handful of
/// values only), and new keys usually lie beyond the stored files' ranges. Past
/// [`MAX_LISTED_KEYS`] values, the range alone.
fn in_list(key: &str, keys: &[ScalarValue]) -> Option<String> {
    let mut sorted = keys.to_vec();
    sorted.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    let literals: Vec<String> = sorted.iter().map(sql_literal).collect::<Option<_>>()?;
    let quoted = orderlake_project::quote_ident(key);
    Some(match literals.as_slice() {
        [] => "false".into(),
        [one] => format!("{quoted} = {one}"),
        [least, .., greatest] if literals.len() > MAX_LISTED_KEYS => {
            format!("{quoted} >= {least} and {quoted} <= {greatest}")
        }
        [least, .., greatest] => format!(
            "{quoted} >= {least} and {quoted} <= {greatest} and {quoted} in ({})",
            literals.join(", ")
        ),
    })
}

/// The values of the first column of `batches`, in order.
fn first_column_values(
    batches: &[datafusion::arrow::record_batch::RecordBatch],
) -> Result<Vec<ScalarValue>> {
    let mut values = Vec::new();
    for batch in batches {
        let array = batch.column(0);
        for i in 0..array.len() {
            values.push(ScalarValue::try_from_array(array, i)?);
        }
    }
    Ok(values)
}

/// `None` when the rows `sql` returns fit the stored table as it is (same columns and types, no
/// null where the table has none); otherwise why not.
pub(crate) async fn same_columns(
    warehouse: &Warehouse,
    relation: &Relation,
    sql: &str,
) -> Result<Option<String>> {
    let new = crate::delta_types::for_delta(warehouse.sql(sql).await?)?;
    let new = new.schema().as_arrow().clone();
    let stored = warehouse.table_schema(relation).await?;
    if new.fields().len() != stored.fields().len() {
        return Ok(Some("its columns changed".into()));
    }
    for (n, s) in new.fields().iter().zip(stored.fields().iter()) {
        if n.name() != s.name() || !same_type(n.data_type(), s.data_type()) {
            return Ok(Some(format!(
                "column {} changed its name or type",
                s.name()
            )));
        }
        if n.is_nullable() && !s.is_nullable() {
            return Ok(Some(format!(
                "column {} may now be null where the table has no nulls",
                s.name()
            )));
        }
    }
    Ok(None)
}

/// Equal types, counting the string (and binary) layouts as one: a Delta table's provider may
/// read text as `Utf8View` what a query writes as `Utf8`.
fn same_type(a: &DataType, b: &DataType) -> bool {
    use DataType::*;
    let text = |t: &DataType| matches!(t, Utf8 | LargeUtf8 | Utf8View);
    let bytes = |t: &DataType| matches!(t, Binary | LargeBinary | BinaryView);
    a == b || (text(a) && text(b)) || (bytes(a) && bytes(b))
}

/// The distinct values of `column` in the relation or view `from`, as a SQL predicate
/// `column in (…)` with their count; `None` when there are too many, a null, or a type that has
/// no literal here.
pub(crate) async fn touched_key_predicate(
    warehouse: &Warehouse,
    from: &str,
    column: &str,
) -> Result<Option<(usize, String)>> {
    let quoted = orderlake_project::quote_ident(column);
    let batches = warehouse
        .sql(&format!("select distinct {quoted} from {from}"))
        .await?
        .collect()
        .await?;
    let keys = first_column_values(&batches)?;
    if keys.iter().any(ScalarValue::is_null) {
        return Ok(None);
    }
    Ok(in_list(column, &keys).map(|predicate| (keys.len(), predicate)))
}

/// For each changed input, what a filter on output column `key` becomes in its scans (see
/// [`FoundKey`]), when it reaches every one of them. Scans of one input keyed by different
/// expressions (the branches of a union, say) are fine: a changed row touches the key of each.
fn pushed_key(
    warehouse: &Warehouse,
    df: &DataFrame,
    key: &str,
    data_type: &DataType,
    changed: &BTreeSet<String>,
) -> Result<Option<std::collections::BTreeMap<String, Vec<Expr>>>> {
    let Some(sentinel) = sentinel(data_type) else {
        return Ok(None);
    };
    let filtered = df
        .clone()
        .filter(col(Column::from_name(key)).eq(lit(sentinel.clone())))?;
    let optimized = warehouse
        .context()
        .state()
        .optimize(filtered.logical_plan())?;
    let mut found: std::collections::BTreeMap<String, Vec<Expr>> = Default::default();
    let mut complete = true;
    // Pre-order: a Filter is visited before the scan under it. A provider that takes a filter
    // only inexactly (or not at all) leaves it in a Filter right above its scan.
    let mut filtered_scans: Vec<(*const LogicalPlan, Expr)> = Vec::new();
    optimized.apply_with_subqueries(|node| {
        match node {
            LogicalPlan::Filter(f) => {
                if matches!(f.input.as_ref(), LogicalPlan::TableScan(_))
                    && let Some(expr) = split_conjunction(&f.predicate)
                        .into_iter()
                        .find_map(|e| sentinel_side(e, &sentinel))
                {
                    filtered_scans.push((f.input.as_ref() as *const LogicalPlan, expr));
                }
            }
            LogicalPlan::TableScan(scan) => {
                let name = relation_of(warehouse, &scan.table_name).to_string();
                if !changed.contains(&name) {
                    return Ok(TreeNodeRecursion::Continue);
                }
                let here = node as *const LogicalPlan;
                let expr = scan
                    .filters
                    .iter()
                    .flat_map(split_conjunction)
                    .find_map(|e| sentinel_side(e, &sentinel))
                    .or_else(|| {
                        filtered_scans
                            .iter()
                            .find(|(p, _)| std::ptr::eq(*p, here))
                            .map(|(_, e)| e.clone())
                    });
                match expr {
                    Some(expr) => {
                        let exprs = found.entry(name).or_default();
                        if !exprs.contains(&expr) {
                            exprs.push(expr);
                        }
                    }
                    None => complete = false,
                }
            }
            _ => {}
        }
        Ok(TreeNodeRecursion::Continue)
    })?;
    let all = changed.iter().all(|c| found.contains_key(c));
    Ok((complete && all).then_some(found))
}

/// In `expr = sentinel` (either way round): the other side, with its columns unqualified so
/// it can be evaluated on the input's change feed. It is a column of the scanned input, or an
/// expression of its columns that the optimizer moved the filter through (`date_trunc('month',
/// at)` for an output grouped by month); no subquery, nothing volatile.
fn sentinel_side(expr: &Expr, sentinel: &ScalarValue) -> Option<Expr> {
    use datafusion::common::tree_node::{Transformed, TreeNode};
    let Expr::BinaryExpr(BinaryExpr {
        left,
        op: Operator::Eq,
        right,
    }) = expr
    else {
        return None;
    };
    let is_sentinel = |e: &Expr| match e {
        Expr::Literal(v, _) => same_value(v, sentinel),
        _ => false,
    };
    let side = match (left.as_ref(), right.as_ref()) {
        (side, other) | (other, side) if is_sentinel(other) && !is_sentinel(side) => side,
        _ => return None,
    };
    if side.column_refs().is_empty() || side.is_volatile() {
        return None;
    }
    let mut plain_enough = true;
    side.apply(|e| {
        if matches!(
            e,
            Expr::ScalarSubquery(_)
                | Expr::Exists(_)
                | Expr::InSubquery(_)
                | Expr::OuterReferenceColumn(..)
                | Expr::AggregateFunction(_)
                | Expr::WindowFunction(_)
                | Expr::Placeholder(_)
        ) {
            plain_enough = false;
            return Ok(TreeNodeRecursion::Stop);
        }
        Ok(TreeNodeRecursion::Continue)
    })
    .ok()?;
    if !plain_enough {
        return None;
    }
    side.clone()
        .transform(|e| {
            Ok(match e {
                Expr::Column(c) => Transformed::yes(Expr::Column(Column::from_name(c.name))),
                other => Transformed::no(other),
            })
        })
        .ok()
        .map(|t| t.data)
}

/// The same value of the same type: a filter the optimizer moved through a cast (text `'42'`
/// for the number 42) does not select the same rows, so it does not count.
fn same_value(a: &ScalarValue, b: &ScalarValue) -> bool {
    a == b && a.data_type() == b.data_type()
}

/// An unlikely value of the key's type, to find where its filter lands.
fn sentinel(data_type: &DataType) -> Option<ScalarValue> {
    Some(match data_type {
        DataType::Int64 => ScalarValue::Int64(Some(7_391_301_777)),
        DataType::Int32 => ScalarValue::Int32(Some(739_130_177)),
        DataType::Utf8 => ScalarValue::Utf8(Some("orderlake:sentinel".into())),
        DataType::Utf8View => ScalarValue::Utf8View(Some("orderlake:sentinel".into())),
        DataType::LargeUtf8 => ScalarValue::LargeUtf8(Some("orderlake:sentinel".into())),
        DataType::Date32 => ScalarValue::Date32(Some(73_913)),
        _ => return None,
    })
}

fn sql_literal(value: &ScalarValue) -> Option<String> {
    match value {
        ScalarValue::Int64(Some(v)) => Some(v.to_string()),
        ScalarValue::Int32(Some(v)) => Some(v.to_string()),
        ScalarValue::Int16(Some(v)) => Some(v.to_string()),
        ScalarValue::Utf8(Some(s))
        | ScalarValue::Utf8View(Some(s))
        | ScalarValue::LargeUtf8(Some(s)) => Some(format!("'{}'", s.replace('\'', "''"))),
        ScalarValue::Date32(Some(_)) => Some(format!("date '{value}'")),
        _ => None,
    }
}

/// The distinct values of `exprs` (together) among the rows of `relation` that changed between
/// versions `from - 1` and `to` (its [`net_change`]).
async fn changed_values(
    warehouse: &Warehouse,
    relation: &Relation,
    from: u64,
    to: u64,
    exprs: &[Expr],
) -> Result<Vec<ScalarValue>> {
    let mut net = net_change(warehouse, relation, from, to).await?;
    if exprs.len() > 1 {
        // Read the feed once for all of them.
        net = net.cache().await?;
    }
    let mut values = Vec::new();
    for expr in exprs {
        let batches = net
            .clone()
            .select(vec![expr.clone()])?
            .distinct()?
            .collect()
            .await?;
        values.extend(first_column_values(&batches)?);
    }
    Ok(values)
}

/// Whether any row of `relation` changed between versions `from - 1` and `to`, net.
async fn changed_at_all(
    warehouse: &Warehouse,
    relation: &Relation,
    from: u64,
    to: u64,
) -> Result<bool> {
    let net = net_change(warehouse, relation, from, to).await?;
    let batches = net.limit(0, Some(1))?.collect().await?;
    Ok(batches.iter().any(|b| b.num_rows() > 0))
}

/// The rows of `relation` that changed between versions `from - 1` and `to`, from its change
/// data feed: the net change, so a row deleted and written back unchanged (a table recomputed
/// whole, a merge updating a row to what it was) is no change.
async fn net_change(
    warehouse: &Warehouse,
    relation: &Relation,
    from: u64,
    to: u64,
) -> Result<DataFrame> {
    use datafusion::functions_aggregate::expr_fn::sum;
    use datafusion::logical_expr::when;
    const FEED_COLUMNS: [&str; 3] = ["_change_type", "_commit_version", "_commit_timestamp"];
    let table = warehouse.open_delta(relation).await?;
    let feed = table
        .scan_cdf()
        .with_starting_version(from)
        .with_ending_version(to);
    let provider = DeltaCdfTableProvider::try_new(feed)?;
    let changes = warehouse.context().read_table(Arc::new(provider))?;
    let data: Vec<Expr> = changes
        .schema()
        .fields()
        .iter()
        .filter(|f| !FEED_COLUMNS.contains(&f.name().as_str()))
        .map(|f| col(Column::from_name(f.name())))
        .collect();
    let sign = when(
        col(Column::from_name("_change_type"))
            .in_list(vec![lit("insert"), lit("update_postimage")], false),
        lit(1i64),
    )
    .otherwise(lit(-1i64))?;
    Ok(changes
        .aggregate(data, vec![sum(sign).alias("__orderlake_net")])?
        .filter(col(Column::from_name("__orderlake_net")).not_eq(lit(0i64)))?)
}

/// The relation a scan reads, in the session's default schema when unqualified.
fn relation_of(warehouse: &Warehouse, name: &datafusion::common::TableReference) -> Relation {
    let schema = name.schema().map(str::to_string).unwrap_or_else(|| {
        warehouse
            .context()
            .state()
            .config()
            .options()
            .catalog
            .default_schema
            .clone()
    });
    Relation::new(schema, name.table().to_string())
}

/// `schema.table`, unquoted: for app ids and messages.
fn plain(relation: &Relation) -> String {
    format!("{}.{}", relation.schema, relation.identifier)
}

/// A Delta version as an application transaction's version.
fn as_mark(version: u64) -> i64 {
    i64::try_from(version).unwrap_or(i64::MAX)
}

/// FNV-1a of the compiled SQL, as a Delta transaction version (non-negative i64).
fn fingerprint(sql: &str) -> i64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in sql.trim().bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    (hash >> 1) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyed_queries_filter_and_quote_their_keys() {
        let (sql, predicate) = keyed(
            "select * from t;",
            "name",
            &[
                ScalarValue::Utf8(Some("o'neil".into())),
                ScalarValue::Utf8(Some("ada".into())),
            ],
        )
        .expect("literals");
        // Identifiers are quoted as written; values sorted and bounded (for file pruning).
        let expected =
            "\"name\" >= 'ada' and \"name\" <= 'o''neil' and \"name\" in ('ada', 'o''neil')";
        assert_eq!(predicate, expected);
        assert!(
            sql.ends_with(&format!("__orderlake_keyed where {expected}")),
            "{sql}"
        );
        let (_, predicate) = keyed("select 1", "d", &[ScalarValue::Date32(Some(0))]).expect("date");
        assert_eq!(predicate, "\"d\" = date '1970-01-01'");
        let (_, predicate) = keyed("select 1", "n", &[]).expect("none");
        assert_eq!(predicate, "false");
        // Many keys: the range between the least and the greatest, without the list.
        let many: Vec<ScalarValue> = (0..=MAX_LISTED_KEYS as i64)
            .rev()
            .map(|k| ScalarValue::Int64(Some(k * 2)))
            .collect();
        let (_, predicate) = keyed("select 1", "n", &many).expect("many");
        assert_eq!(
            predicate,
            format!("\"n\" >= 0 and \"n\" <= {}", MAX_LISTED_KEYS * 2)
        );
        assert!(keyed("select 1", "x", &[ScalarValue::Float64(Some(1.5))]).is_none());
    }

    #[test]
    fn fingerprints_are_stable_and_non_negative() {
        assert_eq!(fingerprint("select 1"), fingerprint(" select 1 \n"));
        assert_ne!(fingerprint("select 1"), fingerprint("select 2"));
        assert!(fingerprint("anything") >= 0);
    }
}
