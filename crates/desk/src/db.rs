//! Small helpers every operation uses: statements, lookups by id, and input checks that name
//! the field.

use super::*;
use crate::store::{DbResult, FromColumn, Row};

// ----- helpers inside a transaction -----

/// Runs one statement (through the connection's statement cache: an operation runs a few dozen
/// statements, and compiling each one every time was most of a bill's cost).
pub(crate) fn exec(conn: &Db, sql: &str, params: &[&dyn Param]) -> DbResult<usize> {
    conn.execute(sql, params)
}

/// The most rows one [`insert_rows`] statement carries: its statement shapes (one per row
/// count up to this) stay few in the cache.
const ROWS_PER_INSERT: usize = 16;

/// Inserts rows of `width` values each (`values` row after row) with multi-row `VALUES`
/// statements through the cache: one statement for what an operation writes to a table,
/// instead of one per row. `head` is `insert into t (a, b, …)`.
pub(crate) fn insert_rows(
    conn: &Db,
    head: &str,
    width: usize,
    values: &[&dyn Param],
) -> DbResult<()> {
    debug_assert!(
        width > 0 && values.len().is_multiple_of(width),
        "{head}: rows of {width}"
    );
    let row = format!("({})", vec!["?"; width].join(", "));
    for chunk in values.chunks(width * ROWS_PER_INSERT) {
        let sql = format!(
            "{head} values {}",
            vec![row.as_str(); chunk.len() / width].join(", ")
        );
        conn.execute(&sql, chunk)?;
    }
    Ok(())
}

/// The first row `sql` returns, through `f` ([`DbError::NoRows`] if none).
pub(crate) fn cached_row<T>(
    conn: &Db,
    sql: &str,
    params: &[&dyn Param],
    f: impl FnOnce(&Row<'_>) -> DbResult<T>,
) -> DbResult<T> {
    conn.query_row(sql, params, f)
}

/// The next id of `table` above [`DESK_ID_BASE`]: read apart from the insert, because an
/// INSERT that reads its own table in a subquery makes SQLite copy the rows to a temporary
/// table first (and these inserts run several times per bill).
pub(crate) fn next_id(conn: &Db, table: &str, key: &str) -> Result<i64> {
    Ok(cached_row(
        conn,
        &format!("select coalesce(max({key}), {DESK_ID_BASE}) + 1 from {table}"),
        params![],
        |r| r.get(0),
    )?)
}

pub(crate) fn non_empty(field: &str, value: &str) -> Result<()> {
    if value.trim().is_empty() {
        return Err(DeskError::invalid(field, "must not be empty"));
    }
    Ok(())
}

pub(crate) fn timestamp(field: &str, value: &str) -> Result<()> {
    let ok = chrono::NaiveDateTime::parse_from_str(value, "%Y-%m-%d %H:%M:%S").is_ok()
        || chrono::DateTime::parse_from_rfc3339(value).is_ok();
    if ok {
        Ok(())
    } else {
        Err(DeskError::invalid(field, "expected YYYY-MM-DD HH:MM:SS"))
    }
}

/// A unique constraint's refusal as the rule it stands for; any other error as it is.
pub(crate) fn unique_violation(e: DbError, field: &str, rule: &str) -> DeskError {
    if e.is_unique_violation() {
        DeskError::invalid(field, rule)
    } else {
        DeskError::Database(e)
    }
}

pub(crate) fn exists(tx: &Db, table: &str, key: &str, id: i64, what: &'static str) -> Result<()> {
    let found: Option<i64> = cached_row(
        tx,
        &format!("select {key} from {table} where {key} = ?1"),
        params![id],
        |r| r.get(0),
    )
    .optional()?;
    found
        .map(|_| ())
        .ok_or_else(|| DeskError::invalid(key, format!("unknown {what} {id}")))
}

pub(crate) fn order_status(conn: &Db, order_id: i64) -> Result<String> {
    one_by_id(
        conn,
        "select status from orders where order_id = ?1",
        order_id,
        "order",
    )
}

/// The one value `sql` selects for `id`, or NotFound naming `what`.
pub(crate) fn one_by_id<T: FromColumn>(
    conn: &Db,
    sql: &str,
    id: i64,
    what: &'static str,
) -> Result<T> {
    cached_row(conn, sql, params![id], |r| r.get(0))
        .optional()?
        .ok_or(DeskError::NotFound { what, id })
}
