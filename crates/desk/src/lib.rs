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
mod db;
mod error;
mod ledger;
mod master;
mod orders;
mod outbox;
mod records;
pub mod reports;
pub mod schema;
mod stock;
mod tokens;

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, Transaction, params};
use serde::Serialize;
use serde_json::json;

use audit::audit;
use auth::{MANAGER_ONLY, ORDER_ROLES, READ_ROLES};
use db::{
    cached_row, exec, exists, non_empty, one_by_id, order_status, timestamp, unique_violation,
};
use ledger::post;
use outbox::event;
use records::emit_order;
use stock::{move_stock, record_product_version};

pub use auth::{Actor, Role};
pub use error::{DeskError, Result};
pub use ledger::{allocate_vat, cents_text, parse_cents};
pub use outbox::Published;

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

/// The current UTC time as stored: `YYYY-MM-DD HH:MM:SS.ffffff`.
pub fn now() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%d %H:%M:%S%.6f")
        .to_string()
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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
    conn: Connection,
    pub settings: Settings,
}

impl Desk {
    /// Opens (creating if needed) the desk database: WAL, foreign keys on, migrations applied.
    pub fn open(path: &Path) -> Result<Self> {
        let mut conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.busy_timeout(std::time::Duration::from_secs(30))?;
        conn.set_prepared_statement_cache_capacity(256);
        schema::migrate(&mut conn)?;
        Ok(Desk {
            conn,
            settings: Settings::default(),
        })
    }

    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// Runs `f` in one immediate transaction: it commits only if `f` succeeds.
    fn atomic<T>(&mut self, f: impl FnOnce(&Transaction<'_>, &Settings) -> Result<T>) -> Result<T> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let out = f(&tx, &self.settings)?;
        tx.commit()?;
        Ok(out)
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

    /// The product's price and on-hand quantity as of `at` (`YYYY-MM-DD HH:MM:SS…`).
    pub fn product_as_of(&self, product_id: i64, at: &str) -> Result<Option<(i64, i64, i64)>> {
        Ok(self
            .conn
            .query_row(
                "select price_cents, cost_cents, on_hand from product_history
                 where product_id = ?1 and valid_from <= ?2 and (valid_to is null or valid_to > ?2)
                 order by valid_from desc limit 1",
                params![product_id, at],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?)
    }
}

#[cfg(test)]
mod tests;
