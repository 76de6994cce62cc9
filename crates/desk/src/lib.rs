//! The order desk: the operational order-management system.
//!
//! Every operation is one SQLite transaction (all or nothing) that checks the caller's role,
//! validates its input with errors naming the field and the rule, writes its rows, an audit
//! record where the rules ask for one, and its change events to the outbox — in the same
//! transaction, so an event exists exactly when its change does. Rules: `shared/spec/operations.md`.
//!
//! Money is integer cents; VAT is in basis points (750 = 7.5%), rounded half away from zero.

mod audit;
mod auth;
pub mod backup;
mod db;
mod error;
mod idempotency;
mod ledger;
mod master;
mod orders;
mod outbox;
mod records;
pub mod reports;
pub mod schema;
mod stock;
pub mod store;
mod tokens;

use std::path::Path;

use serde::Serialize;
use serde_json::json;

use audit::audit;
use auth::{MANAGER_ONLY, ORDER_ROLES, READ_ROLES};
use db::{
    cached_row, exec, exists, insert_rows, next_id, non_empty, one_by_id, order_status, timestamp,
    unique_violation,
};
use ledger::post;
use outbox::{Events, event};
use records::emit_order;
use stock::{move_stock, move_stocks, record_product_version};
use store::{Db, OptionalExtension, Param};

pub use auth::{Actor, Role};
pub use error::{DeskError, Result};
pub use idempotency::{Remembered, request_digest};
pub use ledger::{allocate_vat, cents_text, parse_cents};
pub use outbox::Published;
pub use store::{DbError, DeskDb, UnsupportedDeskDb};

/// Ids the desk hands out (orders, customers, products, ledger entries, …) start above this, so
/// desk rows never collide in the lakehouse with the history loaded from other systems, whose ids
/// start at 1. The SQL spells it as `coalesce(max(id), 1000000000) + 1`.
pub const DESK_ID_BASE: i64 = 1_000_000_000;

/// Settings of the rules that the spec makes configurable.
#[derive(Debug, Clone)]
pub struct Settings {
    pub vat_basis_points: i64,
    pub rebate_basis_points: i64,
    pub rebate_min_units: i64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            vat_basis_points: 750,
            rebate_basis_points: 500,
            rebate_min_units: 1000,
        }
    }
}

/// The current UTC time as stored: `YYYY-MM-DD HH:MM:SS.ffffff`. An operation stamps a
/// dozen rows, and formatting a date each time was a tenth of a bill's cost: the date and
/// time of day are formatted once per second (per thread), the microseconds appended.
pub fn now() -> String {
    use std::cell::RefCell;
    use std::fmt::Write;
    thread_local! {
        static THIS_SECOND: RefCell<(i64, String)> = const { RefCell::new((i64::MIN, String::new())) };
    }
    let t = chrono::Utc::now();
    let second = t.timestamp();
    let micros = t.timestamp_subsec_micros() % 1_000_000;
    THIS_SECOND.with(|cached| {
        let mut cached = cached.borrow_mut();
        if cached.0 != second {
            *cached = (second, t.format("%Y-%m-%d %H:%M:%S").to_string());
        }
        let mut stamp = String::with_capacity(26);
        stamp.push_str(&cached.1);
        let _ = write!(stamp, ".{micros:06}");
        stamp
    })
}

/// `cents × basis_points / 10000`, rounded half away from zero.
pub fn apply_rate(cents: i64, basis_points: i64) -> i64 {
    let x = i128::from(cents) * i128::from(basis_points);
    let q = (x.abs() + 5_000) / 10_000;
    (if x < 0 { -q } else { q }) as i64
}

/// A line of a new order.
#[derive(Debug, Clone, Copy)]
pub struct NewLine {
    pub product_id: i64,
    pub quantity: i64,
}

/// A product to add to the catalogue.
#[derive(Debug, Clone, Copy)]
pub struct NewProduct<'a> {
    pub description: &'a str,
    pub brand: &'a str,
    pub category: &'a str,
    pub price_cents: i64,
    pub cost_cents: i64,
    pub on_hand: i64,
}

/// What billing decided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum BillOutcome {
    Billed {
        net_cents: i64,
        vat_cents: i64,
        total_cents: i64,
    },
    OnHold {
        reason: String,
    },
}

pub struct Desk {
    conn: Db,
    /// Where the database is: readers and the checkpointer open it again.
    location: DeskDb,
    pub settings: Settings,
    /// Whether a transaction spanning several operations is open ([`Desk::within`]): each
    /// operation then runs in a savepoint of it, so one that fails undoes only itself.
    in_outer: bool,
}

/// A savepoint of the open transaction (an operation in a batch opens one each time):
/// released when the operation succeeds, rolled back otherwise (an error, or a panic
/// unwinding through it).
struct Savepoint<'a> {
    conn: &'a Db,
    open: bool,
}

impl<'a> Savepoint<'a> {
    fn open(conn: &'a Db) -> Result<Self> {
        conn.execute_batch("savepoint operation")?;
        Ok(Savepoint { conn, open: true })
    }

    fn release(mut self) -> Result<()> {
        self.open = false;
        self.conn.execute_batch("release savepoint operation")?;
        Ok(())
    }
}

impl Drop for Savepoint<'_> {
    fn drop(&mut self) {
        if self.open {
            let _ = self.conn.execute_batch("rollback to savepoint operation");
            let _ = self.conn.execute_batch("release savepoint operation");
        }
    }
}

/// The transaction of one write (or a batch of them) until it commits: rolled back if dropped
/// open (an error, or a panic unwinding through it).
struct Transaction<'a> {
    conn: &'a Db,
    open: bool,
}

/// The PostgreSQL advisory lock every write transaction takes first. The rules read then write
/// (stock, credit, the next id), and SQLite runs one writer at a time (`begin immediate`); on
/// PostgreSQL this lock gives the same order, so no check reads a row another writer is changing.
const WRITER_LOCK: i64 = 0x6f72_6465_726c_616b; // "orderlak"

impl<'a> Transaction<'a> {
    fn begin(conn: &'a Db) -> Result<Self> {
        if conn.is_postgres() {
            conn.execute_batch(&format!(
                "begin; select pg_advisory_xact_lock({WRITER_LOCK})"
            ))?;
        } else {
            conn.execute_batch("begin immediate")?;
        }
        Ok(Transaction { conn, open: true })
    }

    fn detach(mut self) {
        self.open = false;
    }

    fn commit(mut self) -> Result<()> {
        self.open = false;
        if let Err(e) = self.conn.execute_batch("commit") {
            let _ = self.conn.execute_batch("rollback");
            return Err(e.into());
        }
        Ok(())
    }
}

impl Drop for Transaction<'_> {
    fn drop(&mut self) {
        if self.open {
            let _ = self.conn.execute_batch("rollback");
        }
    }
}

/// WAL pages (4 KiB) after which an automatic checkpoint runs: 10,000 (40 MiB) rather than
/// SQLite's 1,000. A page written by many commits is copied back once per checkpoint, so
/// fewer checkpoints write less: one commit per bill went from ~2,800 to ~3,400 billed orders/s,
/// and the checkpoint pauses left the 99th percentile (5 ms → 0.3 ms).
pub const AUTOCHECKPOINT_PAGES: i64 = 10_000;

/// Who checkpoints the WAL ([`Desk::set_checkpoints`]). PostgreSQL checkpoints itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checkpoints {
    /// SQLite checkpoints the WAL itself, inside the commit that fills it to
    /// [`AUTOCHECKPOINT_PAGES`] (a pause for that caller): right for the CLI and tests.
    Automatic,
    /// The owner runs [`Desk::checkpoint`] from another connection (the HTTP server's
    /// background thread), so no write waits for one.
    Background,
}

fn open_sqlite(path: &Path, flags: rusqlite::OpenFlags) -> Result<rusqlite::Connection> {
    // Each connection is used by one thread at a time: SQLite's own locking per call is not
    // needed (the serialized mode's mutexes were 3% of a bill).
    let conn = rusqlite::Connection::open_with_flags(
        path,
        flags | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX | rusqlite::OpenFlags::SQLITE_OPEN_URI,
    )
    .map_err(DbError::from)?;
    conn.busy_timeout(std::time::Duration::from_secs(30))
        .map_err(DbError::from)?;
    conn.set_prepared_statement_cache_capacity(256);
    Ok(conn)
}

impl Desk {
    /// Opens (creating if needed) the desk database — an SQLite file or a PostgreSQL database —
    /// with its migrations applied. SQLite runs in WAL mode with foreign keys on, and
    /// checkpoints the WAL itself until [`Desk::set_checkpoints`] says otherwise.
    pub fn open(db: impl Into<DeskDb>) -> Result<Self> {
        let location = db.into();
        let conn = match &location {
            DeskDb::Sqlite(path) => {
                let open = || -> Result<rusqlite::Connection> {
                    let conn = open_sqlite(
                        path,
                        rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE
                            | rusqlite::OpenFlags::SQLITE_OPEN_CREATE,
                    )?;
                    let pragmas = || -> rusqlite::Result<()> {
                        conn.pragma_update(None, "journal_mode", "WAL")?;
                        conn.pragma_update(None, "foreign_keys", "ON")?;
                        conn.pragma_update(None, "synchronous", "NORMAL")?;
                        // Every operation inside `within` is a savepoint, and SQLite keeps each
                        // page's pre-savepoint copy in a sub-journal that spills to a file in
                        // /var/tmp past 64 KiB: 67 extra page writes per batched order. In
                        // memory it never spills.
                        conn.pragma_update(None, "temp_store", "MEMORY")
                    };
                    pragmas().map_err(DbError::from)?;
                    Ok(conn)
                };
                // Migrations run on a connection of their own: one rewrites table definitions
                // in place, which the connection that did it would not re-read.
                schema::migrate(&Db::Sqlite(open()?))?;
                Db::Sqlite(open()?)
            }
            DeskDb::Postgres(url) => {
                let conn =
                    Db::Postgres(Box::new(std::cell::RefCell::new(store::Pg::connect(url)?)));
                schema::migrate(&conn)?;
                conn
            }
        };
        let desk = Desk {
            conn,
            location,
            settings: Settings::default(),
            in_outer: false,
        };
        desk.set_checkpoints(Checkpoints::Automatic)?;
        Ok(desk)
    }

    /// A read-only desk on the same database (SQLite's WAL: it reads the last commit and never
    /// waits for a writer; PostgreSQL: a read-only session). Reports, balances and sign-in run
    /// on these; operations refuse.
    pub fn open_reader(db: impl Into<DeskDb>) -> Result<Self> {
        let location = db.into();
        let conn = match &location {
            DeskDb::Sqlite(path) => Db::Sqlite(open_sqlite(
                path,
                rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
            )?),
            DeskDb::Postgres(url) => {
                let conn =
                    Db::Postgres(Box::new(std::cell::RefCell::new(store::Pg::connect(url)?)));
                conn.execute_batch("set default_transaction_read_only = on")?;
                conn
            }
        };
        Ok(Desk {
            conn,
            location,
            settings: Settings::default(),
            in_outer: false,
        })
    }

    /// Where this desk's database is.
    pub fn location(&self) -> &DeskDb {
        &self.location
    }

    /// Chooses who checkpoints SQLite's WAL from now on (nothing to do on PostgreSQL).
    pub fn set_checkpoints(&self, checkpoints: Checkpoints) -> Result<()> {
        let pages = match checkpoints {
            Checkpoints::Automatic => AUTOCHECKPOINT_PAGES,
            Checkpoints::Background => 0,
        };
        if let Db::Sqlite(conn) = &self.conn {
            conn.pragma_update(None, "wal_autocheckpoint", pages)
                .map_err(DbError::from)?;
        }
        Ok(())
    }

    /// Copies the WAL's committed pages into the database without waiting for anyone
    /// (`PRAGMA wal_checkpoint(PASSIVE)`). For [`Checkpoints::Background`].
    pub fn checkpoint(&self) -> Result<()> {
        if let Db::Sqlite(conn) = &self.conn {
            conn.query_row("pragma wal_checkpoint(passive)", [], |_| Ok(()))
                .map_err(DbError::from)?;
        }
        Ok(())
    }

    /// The connection, for reads the desk has no report for (tests, tools).
    pub fn connection(&self) -> &Db {
        &self.conn
    }

    /// Runs `f` in one write transaction: it commits only if `f` succeeds. Inside
    /// [`Desk::within`] it is a savepoint of the open transaction instead.
    fn atomic<T>(&mut self, f: impl FnOnce(&Db, &Settings) -> Result<T>) -> Result<T> {
        if self.in_outer {
            let savepoint = Savepoint::open(&self.conn)?;
            let out = f(&self.conn, &self.settings)?;
            savepoint.release()?;
            return Ok(out);
        }
        let tx = Transaction::begin(&self.conn)?;
        let out = f(&self.conn, &self.settings)?;
        tx.commit()?;
        Ok(out)
    }

    /// Runs several operations in one transaction, committed once at the end: each operation
    /// is a savepoint, so a failed one undoes only itself and the others stand. `f`'s error
    /// rolls everything back. Batching is how a busy writer amortises its commits.
    pub fn within<T>(&mut self, f: impl FnOnce(&mut Desk) -> Result<T>) -> Result<T> {
        if self.in_outer {
            return self.atomic_nested(f);
        }
        // The transaction outlives this borrow of the connection: it is ended below.
        Transaction::begin(&self.conn)?.detach();
        self.in_outer = true;
        let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(self)));
        self.in_outer = false;
        let out = match out {
            Ok(out) => out,
            Err(panic) => {
                // Leave the desk usable: nothing of the batch is kept.
                let _ = self.conn.execute_batch("rollback");
                std::panic::resume_unwind(panic);
            }
        };
        match out {
            Ok(value) => Transaction {
                conn: &self.conn,
                open: true,
            }
            .commit()
            .map(|()| value),
            Err(e) => {
                let _ = self.conn.execute_batch("rollback");
                Err(e)
            }
        }
    }

    /// `f` in a savepoint of the open outer transaction.
    fn atomic_nested<T>(&mut self, f: impl FnOnce(&mut Desk) -> Result<T>) -> Result<T> {
        self.conn.execute_batch("savepoint nested")?;
        let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(self)));
        let undo = |conn: &Db| {
            let _ = conn.execute_batch("rollback to savepoint nested");
            let _ = conn.execute_batch("release savepoint nested");
        };
        match out {
            Ok(Ok(value)) => {
                self.conn.execute_batch("release savepoint nested")?;
                Ok(value)
            }
            Ok(Err(e)) => {
                undo(&self.conn);
                Err(e)
            }
            Err(panic) => {
                undo(&self.conn);
                std::panic::resume_unwind(panic);
            }
        }
    }
}

/// Reads (any authenticated caller may read balances; the rest are for the desk's own use).
impl Desk {
    /// A customer's balance in cents (positive = owes money).
    pub fn balance(&self, customer_id: i64) -> Result<i64> {
        one_by_id(
            &self.conn,
            "select balance_cents from customers where customer_id = ?1",
            customer_id,
            "customer",
        )
    }

    pub fn on_hand(&self, product_id: i64) -> Result<i64> {
        one_by_id(
            &self.conn,
            "select on_hand from products where product_id = ?1",
            product_id,
            "product",
        )
    }

    /// A customer's balance, for any authenticated caller.
    pub fn customer_balance(&self, actor: &Actor, customer_id: i64) -> Result<i64> {
        actor.require(READ_ROLES, "read balances")?;
        self.balance(customer_id)
    }

    pub fn order_status(&self, order_id: i64) -> Result<String> {
        order_status(&self.conn, order_id)
    }

    /// The product's price, cost and on-hand quantity as of `at` (`YYYY-MM-DD HH:MM:SS…`);
    /// `None` before the product existed.
    pub fn product_as_of(&self, product_id: i64, at: &str) -> Result<Option<(i64, i64, i64)>> {
        let sql = format!(
            "select h.price_cents, h.cost_cents, {}
             from product_history h join products p on p.product_id = h.product_id
             where h.product_id = ?1 and h.valid_from <= ?2 and (h.valid_to is null or h.valid_to > ?2)
             order by h.valid_from desc limit 1",
            stock::stock_as_of_sql("p.product_id", "p.on_hand", "> ?2"),
        );
        Ok(self
            .conn
            .query_row(&sql, params![product_id, at], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .optional()?)
    }
}

/// The rules' tests on an SQLite file.
#[cfg(test)]
mod tests_on_sqlite {
    fn open_desk(dir: &std::path::Path) -> Option<super::Desk> {
        Some(super::Desk::open(dir.join("desk.db")).expect("open the desk"))
    }
    include!("tests.rs");
}

/// The same tests on PostgreSQL (a server this test process starts; skipped outside CI where
/// PostgreSQL is not installed).
#[cfg(test)]
mod tests_on_postgres {
    fn open_desk(_: &std::path::Path) -> Option<super::Desk> {
        let url = orderlake_test_postgres::database()?;
        Some(super::Desk::open(super::DeskDb::Postgres(url)).expect("open the desk"))
    }
    include!("tests.rs");
}

#[cfg(test)]
mod now_tests {
    #[test]
    fn now_is_a_utc_timestamp_with_microseconds() {
        let before = chrono::Utc::now().naive_utc();
        let stamp = super::now();
        let after = chrono::Utc::now().naive_utc();
        let parsed = chrono::NaiveDateTime::parse_from_str(&stamp, "%Y-%m-%d %H:%M:%S%.6f")
            .expect("the stored format");
        assert_eq!(stamp.len(), 26, "{stamp}");
        assert!(
            before - chrono::Duration::microseconds(1) <= parsed && parsed <= after,
            "{stamp}"
        );
    }
}
