//! Snapshots: slowly changing dimensions of type 2, in dbt's shape.
//!
//! Each run computes the whole new history from the old one and the current source (closing
//! changed and deleted versions, adding new ones) and replaces the table in one Delta commit:
//! a crash leaves the previous history, and re-running is safe.
//!
//! Meta columns: `dbt_scd_id`, `dbt_updated_at`, `dbt_valid_from`, `dbt_valid_to` (null for the
//! current version), and `dbt_is_deleted` with `hard_deletes: new_record`.

use chrono::{DateTime, Utc};
use orderlake_project::spec::{CheckCols, HardDeletes, SnapshotSpec, SnapshotStrategy};
use orderlake_project::{Node, Project, Relation, quote_ident};

use crate::error::{EngineError, Result};
use crate::layout::RelationKind;
use crate::warehouse::{Warehouse, WriteMode};

const META: &[&str] = &[
    "dbt_scd_id",
    "dbt_updated_at",
    "dbt_valid_from",
    "dbt_valid_to",
    "dbt_is_deleted",
];

/// The snapshot's configuration applied to its query's columns.
struct Plan {
    keys: Vec<String>,
    /// The expression giving a row's version time (`updated_at`, or the run time for `check`).
    version_time: Option<String>,
    check_cols: Vec<String>,
    hard_deletes: HardDeletes,
}

fn plan(spec: &SnapshotSpec, source_columns: &[String]) -> Result<Plan> {
    let keys = spec.unique_key.clone();
    for k in &keys {
        if !source_columns.contains(k) {
            return Err(EngineError::UnknownColumn {
                role: "unique_key",
                column: k.clone(),
                columns: source_columns.to_vec(),
            });
        }
    }
    Ok(match &spec.strategy {
        SnapshotStrategy::Timestamp { updated_at } => Plan {
            keys,
            version_time: Some(format!("cast(s.{} as timestamp)", quote_ident(updated_at))),
            check_cols: Vec::new(),
            hard_deletes: spec.hard_deletes,
        },
        SnapshotStrategy::Check { check_cols } => Plan {
            check_cols: match check_cols {
                CheckCols::All => source_columns
                    .iter()
                    .filter(|c| !keys.contains(c))
                    .cloned()
                    .collect(),
                CheckCols::Columns(columns) => columns.clone(),
            },
            keys,
            version_time: None,
            hard_deletes: spec.hard_deletes,
        },
    })
}

/// Builds or advances a snapshot; returns the number of rows in the new history.
pub async fn run(
    project: &Project,
    warehouse: &Warehouse,
    node: &Node,
    spec: &SnapshotSpec,
    relation: &Relation,
    now: DateTime<Utc>,
) -> Result<u64> {
    let compiled =
        crate::lookups::compile_node(project, warehouse, &node.unique_id, false, None).await?;
    let source_sql = compiled.sql.trim().trim_end_matches(';').to_string();
    let probe = warehouse.sql(&source_sql).await?;
    let columns: Vec<String> = probe
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    let spec = plan(spec, &columns)?;
    let now_lit = format!(
        "cast('{}' as timestamp)",
        now.format("%Y-%m-%d %H:%M:%S%.6f")
    );
    let version = spec.version_time.clone().unwrap_or_else(|| now_lit.clone());
    let key_text = |alias: &str| -> String {
        let parts: Vec<String> = spec
            .keys
            .iter()
            .map(|k| format!("coalesce(cast({alias}.{} as varchar), '')", quote_ident(k)))
            .collect();
        format!("concat_ws('|', {})", parts.join(", "))
    };
    let on_keys = |a: &str, b: &str| -> String {
        spec.keys
            .iter()
            .map(|k| format!("{a}.{q} = {b}.{q}", q = quote_ident(k)))
            .collect::<Vec<_>>()
            .join(" and ")
    };
    let source_cols = columns
        .iter()
        .filter(|c| !META.contains(&c.as_str()))
        .map(|c| format!("s.{}", quote_ident(c)))
        .collect::<Vec<_>>()
        .join(", ");
    let deleted_flag = |v: &str| -> String {
        if spec.hard_deletes == HardDeletes::NewRecord {
            format!(", '{v}' as dbt_is_deleted")
        } else {
            String::new()
        }
    };
    let new_version = |time: &str| -> String {
        format!(
            "{source_cols}, md5(concat_ws('|', {key}, cast({time} as varchar))) as dbt_scd_id, {time} as dbt_updated_at, {time} as dbt_valid_from, cast(null as timestamp) as dbt_valid_to{flag}",
            key = key_text("s"),
            flag = deleted_flag("False"),
        )
    };

    let exists = warehouse.kind_of(relation).await? == Some(RelationKind::Table);
    let sql = if !exists {
        format!("select {} from (\n{source_sql}\n) s", new_version(&version))
    } else {
        let existing = warehouse.table_schema(relation).await?;
        let has_flag = existing.field_with_name("dbt_is_deleted").is_ok();
        let is_deleted = |alias: &str| {
            if has_flag {
                format!("coalesce({alias}.dbt_is_deleted, 'False') = 'True'")
            } else {
                "false".to_string()
            }
        };
        let changed_condition = match &spec.version_time {
            Some(t) => format!("{t} > c.dbt_updated_at"),
            None => spec
                .check_cols
                .iter()
                .map(|col| format!("(s.{q} is distinct from c.{q})", q = quote_ident(col)))
                .collect::<Vec<_>>()
                .join(" or "),
        };
        let changed_condition = if changed_condition.is_empty() {
            "false".to_string()
        } else {
            changed_condition
        };
        let key_cols_s = spec
            .keys
            .iter()
            .map(|k| format!("s.{}", quote_ident(k)))
            .collect::<Vec<_>>()
            .join(", ");
        let key_cols_c = spec
            .keys
            .iter()
            .map(|k| format!("c.{}", quote_ident(k)))
            .collect::<Vec<_>>()
            .join(", ");
        let key_names = spec
            .keys
            .iter()
            .map(|k| quote_ident(k))
            .collect::<Vec<_>>()
            .join(", ");
        let deletes = spec.hard_deletes != HardDeletes::Ignore;
        format!(
            r#"with source as (
{source_sql}
),
cur as (
    select * from {relation} where dbt_valid_to is null
),
-- current versions that changed, or that were deletion records and are back
changed as (
    select s.*, {version_s} as __new_from
    from source s join cur c on {on_sc}
    where ({changed_condition}) or {cur_deleted}
),
-- keys with no current version: new, or back after an invalidated delete
fresh as (
    select s.* from source s left anti join cur c on {on_sc}
),
-- current versions whose key left the source (live ones only)
gone as (
    select {key_cols_c} from cur c left anti join source s on {on_sc}
    where {deletes} and not {cur_deleted}
),
closes as (
    select {key_cols_s}, __new_from as __close_at from changed s
    union all
    select {key_names_bare}, {now} as __close_at from gone
)
select h.* replace (case when h.dbt_valid_to is null and x.__close_at is not null then x.__close_at else h.dbt_valid_to end as dbt_valid_to)
from {relation} h left join closes x on {on_hx} and h.dbt_valid_to is null
union all by name
select {new_changed} from changed s
union all by name
select {new_fresh} from fresh s
{new_records}"#,
            version_s = version,
            on_sc = on_keys("s", "c"),
            cur_deleted = is_deleted("c"),
            now = now_lit,
            on_hx = on_keys("h", "x"),
            key_names_bare = key_names,
            new_changed = new_version("s.__new_from"),
            new_fresh = new_version(&version),
            new_records = if spec.hard_deletes == HardDeletes::NewRecord {
                format!(
                    "union all by name\nselect {cols}, md5(concat_ws('|', {key}, cast({now} as varchar), 'deleted')) as dbt_scd_id, {now} as dbt_updated_at, {now} as dbt_valid_from, cast(null as timestamp) as dbt_valid_to, 'True' as dbt_is_deleted\nfrom {relation} s join gone g on {on_sg} where s.dbt_valid_to is null",
                    cols = source_cols,
                    key = key_text("s"),
                    now = now_lit,
                    on_sg = on_keys("s", "g"),
                )
            } else {
                String::new()
            },
        )
    };
    let df = warehouse.sql(&sql).await?;
    warehouse.write(relation, df, WriteMode::Replace).await
}
