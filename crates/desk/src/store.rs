//! Where the desk keeps its data — an SQLite file or a PostgreSQL database — and the one
//! connection type the rules run on, whichever it is.
//!
//! The rules are written once, in the SQL both databases share (`?1`-style parameters, standard
//! joins and aggregates); [`Db`] runs each statement on SQLite as written and on PostgreSQL with
//! `$1`-style parameters, through a statement cache on both. Values cross as [`Param`]s and come
//! back through [`FromColumn`], so an integer column reads as `i64` on both (PostgreSQL's `sum`
//! of a `bigint` is `numeric`: it is read back as the integer it holds).

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use postgres::types::Type;
use thiserror::Error;

/// Where the desk's database is: the value of `--desk` / `ORDERLAKE_DESK_DB`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeskDb {
    /// An SQLite file (created if missing).
    Sqlite(PathBuf),
    /// A PostgreSQL database, as a `postgres://user@host:port/dbname?…` URL.
    Postgres(String),
}

/// A `--desk` value that is neither a path nor a PostgreSQL URL.
#[derive(Debug, Error)]
#[error(
    "desk database '{0}': the scheme '{1}' is not supported (a file path, or postgres://user@host:port/dbname)"
)]
pub struct UnsupportedDeskDb(String, String);

impl DeskDb {
    /// `postgres://…` or `postgresql://…` is PostgreSQL; another `scheme://` is refused by name
    /// (never taken as a folder); anything else is an SQLite file.
    pub fn parse(value: &str) -> Result<Self, UnsupportedDeskDb> {
        match value.split_once("://") {
            Some(("postgres" | "postgresql", _)) => Ok(DeskDb::Postgres(value.to_string())),
            Some((scheme, _))
                if !scheme.is_empty()
                    && scheme
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)) =>
            {
                Err(UnsupportedDeskDb(value.to_string(), scheme.to_string()))
            }
            _ => Ok(DeskDb::Sqlite(PathBuf::from(value))),
        }
    }

    /// The SQLite file, if the desk is one.
    pub fn file(&self) -> Option<&Path> {
        match self {
            DeskDb::Sqlite(path) => Some(path),
            DeskDb::Postgres(_) => None,
        }
    }
}

impl fmt::Display for DeskDb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeskDb::Sqlite(path) => write!(f, "{}", path.display()),
            // Never print a password.
            DeskDb::Postgres(url) => {
                let (scheme, rest) = url.split_once("://").unwrap_or(("postgres", url));
                match rest.split_once('@') {
                    Some((credentials, host)) if credentials.contains(':') => {
                        let user = credentials.split_once(':').map_or(credentials, |c| c.0);
                        write!(f, "{scheme}://{user}:***@{host}")
                    }
                    _ => f.write_str(url),
                }
            }
        }
    }
}

impl From<&DeskDb> for DeskDb {
    fn from(db: &DeskDb) -> Self {
        db.clone()
    }
}

impl From<&Path> for DeskDb {
    fn from(path: &Path) -> Self {
        DeskDb::Sqlite(path.to_path_buf())
    }
}

impl From<PathBuf> for DeskDb {
    fn from(path: PathBuf) -> Self {
        DeskDb::Sqlite(path)
    }
}

impl From<&PathBuf> for DeskDb {
    fn from(path: &PathBuf) -> Self {
        DeskDb::Sqlite(path.clone())
    }
}

/// A database error, from either database.
#[derive(Debug, Error)]
pub enum DbError {
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    #[error("{}", postgres_message(.0))]
    Postgres(#[from] postgres::Error),
    /// A statement that must return a row returned none.
    #[error("no row returned")]
    NoRows,
    /// A column read as a type it does not hold.
    #[error("column {index}: cannot read {found} as {wanted}")]
    Type {
        index: usize,
        found: String,
        wanted: &'static str,
    },
}

/// PostgreSQL's own message with its detail (the bare `Display` says only "db error").
fn postgres_message(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => match db.detail() {
            Some(detail) => format!("{} ({detail})", db.message()),
            None => db.message().to_string(),
        },
        None => e.to_string(),
    }
}

impl DbError {
    /// Whether a unique or primary-key constraint refused the write.
    pub fn is_unique_violation(&self) -> bool {
        match self {
            DbError::Sqlite(rusqlite::Error::SqliteFailure(f, _)) => {
                f.code == rusqlite::ErrorCode::ConstraintViolation
            }
            DbError::Postgres(e) => e.code() == Some(&postgres::error::SqlState::UNIQUE_VIOLATION),
            _ => false,
        }
    }
}

pub type DbResult<T> = std::result::Result<T, DbError>;

/// `Ok(None)` for a statement that returned no row.
pub trait OptionalExtension<T> {
    fn optional(self) -> DbResult<Option<T>>;
}

impl<T> OptionalExtension<T> for DbResult<T> {
    fn optional(self) -> DbResult<Option<T>> {
        match self {
            Ok(value) => Ok(Some(value)),
            Err(DbError::NoRows) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// A value bound to a statement parameter: anything both drivers can send.
pub trait Param: rusqlite::ToSql + postgres::types::ToSql + Sync {}

impl<T: rusqlite::ToSql + postgres::types::ToSql + Sync> Param for T {}

/// Parameters as a slice of [`Param`]s: `params![a, b]`.
#[macro_export]
#[doc(hidden)]
macro_rules! params {
    () => { &[] as &[&dyn $crate::store::Param] };
    ($($value:expr),+ $(,)?) => { &[$(&$value as &dyn $crate::store::Param),+] as &[&dyn $crate::store::Param] };
}

/// One row of a result.
pub enum Row<'a> {
    Sqlite(&'a rusqlite::Row<'a>),
    Postgres(&'a postgres::Row),
}

impl Row<'_> {
    /// Column `index` (from 0) as `T`.
    pub fn get<T: FromColumn>(&self, index: usize) -> DbResult<T> {
        match self {
            Row::Sqlite(row) => T::from_sqlite(row, index),
            Row::Postgres(row) => T::from_postgres(row, index),
        }
    }
}

/// A type a column can be read as, on both databases.
pub trait FromColumn: Sized {
    fn from_sqlite(row: &rusqlite::Row<'_>, index: usize) -> DbResult<Self>;
    fn from_postgres(row: &postgres::Row, index: usize) -> DbResult<Self>;
}

fn wrong_type(row: &postgres::Row, index: usize, wanted: &'static str) -> DbError {
    DbError::Type {
        index,
        found: row
            .columns()
            .get(index)
            .map_or("nothing".to_string(), |c| c.type_().to_string()),
        wanted,
    }
}

fn column_type(row: &postgres::Row, index: usize) -> Type {
    row.columns()
        .get(index)
        .map_or(Type::UNKNOWN, |c| c.type_().clone())
}

/// Whether a PostgreSQL value is NULL, whatever its type.
struct IsNull(bool);

impl<'a> postgres::types::FromSql<'a> for IsNull {
    fn from_sql(_: &Type, _: &'a [u8]) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(IsNull(false))
    }
    fn from_sql_null(_: &Type) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(IsNull(true))
    }
    fn accepts(_: &Type) -> bool {
        true
    }
}

impl FromColumn for i64 {
    fn from_sqlite(row: &rusqlite::Row<'_>, index: usize) -> DbResult<Self> {
        Ok(row.get(index)?)
    }
    fn from_postgres(row: &postgres::Row, index: usize) -> DbResult<Self> {
        let ty = column_type(row, index);
        Ok(if ty == Type::INT8 {
            row.try_get::<_, i64>(index)?
        } else if ty == Type::INT4 {
            i64::from(row.try_get::<_, i32>(index)?)
        } else if ty == Type::INT2 {
            i64::from(row.try_get::<_, i16>(index)?)
        } else if ty == Type::BOOL {
            i64::from(row.try_get::<_, bool>(index)?)
        } else if ty == Type::NUMERIC {
            let value: rust_decimal::Decimal = row.try_get(index)?;
            rust_decimal::prelude::ToPrimitive::to_i64(&value.trunc())
                .filter(|_| value.fract().is_zero())
                .ok_or_else(|| wrong_type(row, index, "an integer"))?
        } else {
            return Err(wrong_type(row, index, "an integer"));
        })
    }
}

impl FromColumn for f64 {
    fn from_sqlite(row: &rusqlite::Row<'_>, index: usize) -> DbResult<Self> {
        Ok(row.get(index)?)
    }
    fn from_postgres(row: &postgres::Row, index: usize) -> DbResult<Self> {
        let ty = column_type(row, index);
        Ok(if ty == Type::FLOAT8 {
            row.try_get::<_, f64>(index)?
        } else if ty == Type::FLOAT4 {
            f64::from(row.try_get::<_, f32>(index)?)
        } else if ty == Type::NUMERIC {
            let value: rust_decimal::Decimal = row.try_get(index)?;
            rust_decimal::prelude::ToPrimitive::to_f64(&value)
                .ok_or_else(|| wrong_type(row, index, "a number"))?
        } else {
            i64::from_postgres(row, index)? as f64
        })
    }
}

impl FromColumn for bool {
    fn from_sqlite(row: &rusqlite::Row<'_>, index: usize) -> DbResult<Self> {
        Ok(row.get(index)?)
    }
    fn from_postgres(row: &postgres::Row, index: usize) -> DbResult<Self> {
        if column_type(row, index) == Type::BOOL {
            Ok(row.try_get(index)?)
        } else {
            Ok(i64::from_postgres(row, index)? != 0)
        }
    }
}

impl FromColumn for String {
    fn from_sqlite(row: &rusqlite::Row<'_>, index: usize) -> DbResult<Self> {
        Ok(row.get(index)?)
    }
    fn from_postgres(row: &postgres::Row, index: usize) -> DbResult<Self> {
        Ok(row.try_get(index)?)
    }
}

impl<T: FromColumn> FromColumn for Option<T> {
    fn from_sqlite(row: &rusqlite::Row<'_>, index: usize) -> DbResult<Self> {
        if row.get_ref(index)? == rusqlite::types::ValueRef::Null {
            Ok(None)
        } else {
            T::from_sqlite(row, index).map(Some)
        }
    }
    fn from_postgres(row: &postgres::Row, index: usize) -> DbResult<Self> {
        if row.try_get::<_, IsNull>(index)?.0 {
            Ok(None)
        } else {
            T::from_postgres(row, index).map(Some)
        }
    }
}

/// An open connection to the desk's database.
pub enum Db {
    Sqlite(rusqlite::Connection),
    Postgres(Box<RefCell<Pg>>),
}

/// A PostgreSQL connection with its prepared statements, by SQL text as the rules write it.
pub struct Pg {
    /// Always `Some` until dropped.
    client: Option<postgres::Client>,
    statements: HashMap<String, postgres::Statement>,
}

impl Drop for Pg {
    /// The synchronous client closes its connection by running its own small runtime, which
    /// panics on an async runtime's thread (where a server may drop its last desk): it closes
    /// on a thread of its own instead.
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            let _ = std::thread::Builder::new()
                .name("desk-pg-close".into())
                .spawn(move || drop(client));
        }
    }
}

impl Pg {
    pub(crate) fn connect(url: &str) -> DbResult<Self> {
        let client = postgres::Client::connect(url, postgres::NoTls)?;
        Ok(Pg {
            client: Some(client),
            statements: HashMap::new(),
        })
    }

    fn client(&mut self) -> &mut postgres::Client {
        self.client
            .as_mut()
            .expect("the client lives until the desk is dropped")
    }

    fn statement(&mut self, sql: &str) -> DbResult<postgres::Statement> {
        if let Some(statement) = self.statements.get(sql) {
            return Ok(statement.clone());
        }
        let statement = self.client().prepare(&numbered_parameters(sql))?;
        self.statements.insert(sql.to_string(), statement.clone());
        Ok(statement)
    }
}

fn postgres_params<'a>(
    params: &'a [&'a dyn Param],
) -> Vec<&'a (dyn postgres::types::ToSql + Sync)> {
    params
        .iter()
        .map(|p| *p as &(dyn postgres::types::ToSql + Sync))
        .collect()
}

fn sqlite_params<'a>(params: &'a [&'a dyn Param]) -> Vec<&'a dyn rusqlite::ToSql> {
    params.iter().map(|p| *p as &dyn rusqlite::ToSql).collect()
}

/// SQLite's `?1` and `?` parameters as PostgreSQL's `$1` (a bare `?` takes the next number),
/// leaving quoted text alone.
pub(crate) fn numbered_parameters(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut chars = sql.chars().peekable();
    let mut next = 1;
    let mut quoted = false;
    while let Some(c) = chars.next() {
        if c == '\'' {
            quoted = !quoted;
            out.push(c);
        } else if c == '?' && !quoted {
            let mut digits = String::new();
            while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                digits.push(*d);
                chars.next();
            }
            if digits.is_empty() {
                out.push_str(&format!("${next}"));
                next += 1;
            } else {
                out.push('$');
                out.push_str(&digits);
            }
        } else {
            out.push(c);
        }
    }
    out
}

impl Db {
    /// Runs one statement; the number of rows it changed.
    pub fn execute(&self, sql: &str, params: &[&dyn Param]) -> DbResult<usize> {
        match self {
            Db::Sqlite(conn) => Ok(conn
                .prepare_cached(sql)?
                .execute(sqlite_params(params).as_slice())?),
            Db::Postgres(pg) => {
                let mut pg = pg.borrow_mut();
                let statement = pg.statement(sql)?;
                Ok(pg.client().execute(&statement, &postgres_params(params))? as usize)
            }
        }
    }

    /// Runs statements without parameters (a migration, `begin`, `commit`).
    pub fn execute_batch(&self, sql: &str) -> DbResult<()> {
        match self {
            Db::Sqlite(conn) => Ok(conn.execute_batch(sql)?),
            Db::Postgres(pg) => Ok(pg.borrow_mut().client().batch_execute(sql)?),
        }
    }

    /// The first row `sql` returns, through `f`; [`DbError::NoRows`] if none.
    pub fn query_row<T>(
        &self,
        sql: &str,
        params: &[&dyn Param],
        f: impl FnOnce(&Row<'_>) -> DbResult<T>,
    ) -> DbResult<T> {
        match self {
            Db::Sqlite(conn) => {
                let mut statement = conn.prepare_cached(sql)?;
                let mut rows = statement.query(sqlite_params(params).as_slice())?;
                match rows.next()? {
                    Some(row) => f(&Row::Sqlite(row)),
                    None => Err(DbError::NoRows),
                }
            }
            Db::Postgres(pg) => {
                let mut pg = pg.borrow_mut();
                let statement = pg.statement(sql)?;
                let row = pg
                    .client()
                    .query_opt(&statement, &postgres_params(params))?;
                drop(pg);
                match row {
                    Some(row) => f(&Row::Postgres(&row)),
                    None => Err(DbError::NoRows),
                }
            }
        }
    }

    /// Every row `sql` returns, each through `f`.
    pub fn query_map<T>(
        &self,
        sql: &str,
        params: &[&dyn Param],
        mut f: impl FnMut(&Row<'_>) -> DbResult<T>,
    ) -> DbResult<Vec<T>> {
        match self {
            Db::Sqlite(conn) => {
                let mut statement = conn.prepare_cached(sql)?;
                let mut rows = statement.query(sqlite_params(params).as_slice())?;
                let mut out = Vec::new();
                while let Some(row) = rows.next()? {
                    out.push(f(&Row::Sqlite(row))?);
                }
                Ok(out)
            }
            Db::Postgres(pg) => {
                let mut pg = pg.borrow_mut();
                let statement = pg.statement(sql)?;
                let rows = pg.client().query(&statement, &postgres_params(params))?;
                drop(pg);
                rows.iter().map(|row| f(&Row::Postgres(row))).collect()
            }
        }
    }

    /// Which database this is.
    pub fn is_postgres(&self) -> bool {
        matches!(self, Db::Postgres(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_desk_database_is_a_file_or_a_postgres_url_and_other_schemes_are_refused_by_name() {
        assert_eq!(
            DeskDb::parse("desk.db").unwrap(),
            DeskDb::Sqlite(PathBuf::from("desk.db"))
        );
        assert_eq!(
            DeskDb::parse("/var/lib/desk.db").unwrap().file(),
            Some(Path::new("/var/lib/desk.db"))
        );
        for url in [
            "postgres://u@h:5432/d",
            "postgresql://u@h/d?sslmode=disable",
        ] {
            assert_eq!(
                DeskDb::parse(url).unwrap(),
                DeskDb::Postgres(url.to_string())
            );
        }
        let refused = DeskDb::parse("mysql://u@h/d").unwrap_err().to_string();
        assert!(refused.contains("'mysql'"), "{refused}");
    }

    #[test]
    fn a_postgres_url_prints_without_its_password() {
        let db = DeskDb::parse("postgres://desk:s3cret@db:5432/desk").unwrap();
        assert_eq!(db.to_string(), "postgres://desk:***@db:5432/desk");
        let no_password = DeskDb::parse("postgres://desk@db/desk").unwrap();
        assert_eq!(no_password.to_string(), "postgres://desk@db/desk");
    }

    #[test]
    fn parameters_are_numbered_for_postgres_outside_quoted_text() {
        assert_eq!(
            numbered_parameters("select ?2, ?1 where a = '?' and b = ?10"),
            "select $2, $1 where a = '?' and b = $10"
        );
        assert_eq!(
            numbered_parameters("insert into t (a, b) values (?, ?), (?, ?)"),
            "insert into t (a, b) values ($1, $2), ($3, $4)"
        );
    }
}
