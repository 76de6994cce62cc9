//! The order desk: the operational order-management system.
//!
//! Every operation is one SQLite transaction (all or nothing) that checks the caller's role,
//! validates its input with errors naming the field and the rule, writes its rows, an audit
//! record where the rules ask for one, and its change events to the outbox — in the same
//! transaction, so an event exists exactly when its change does. Rules: `shared/spec/operations.md`.
//!
//! Money is integer cents; VAT is in basis points (750 = 7.5%), rounded half away from zero.

mod error;
pub mod reports;
pub mod schema;
mod tokens;

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, Transaction, params};
use serde::Serialize;
use serde_json::json;

pub use error::{DeskError, Result};

/// Ids the desk hands out (orders, customers, products, ledger entries, …) start above this, so
/// desk rows never collide in the lakehouse with the history loaded from other systems, whose ids
/// start at 1. The SQL spells it as `coalesce(max(id), 1000000000) + 1`.
pub const DESK_ID_BASE: i64 = 1_000_000_000;

/// Who may do what: clerks run orders, payments and returns; managers also credit limits,
/// write-offs, rebate runs and master data; analysts only read reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Clerk,
    Manager,
    Analyst,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Clerk => "clerk",
            Role::Manager => "manager",
            Role::Analyst => "analyst",
        }
    }
}

/// The authenticated caller of an operation.
#[derive(Debug, Clone)]
pub struct Actor {
    pub name: String,
    pub role: Role,
}

impl Actor {
    pub fn new(name: &str, role: Role) -> Self {
        Actor {
            name: name.to_string(),
            role,
        }
    }

    fn require(&self, allowed: &[Role], operation: &'static str) -> Result<()> {
        if allowed.contains(&self.role) {
            Ok(())
        } else {
            Err(DeskError::Forbidden {
                role: self.role.as_str().to_string(),
                operation,
            })
        }
    }
}

/// Master data that is a name at an optional location.
#[derive(Clone, Copy)]
enum Site {
    Carrier,
    Warehouse,
}

const ORDER_ROLES: &[Role] = &[Role::Clerk, Role::Manager];
const READ_ROLES: &[Role] = &[Role::Clerk, Role::Manager, Role::Analyst];

/// A month's (`?1` = `YYYY-MM`) units and net sales per customer: billed lines of the month less
/// the returns recorded in it (the rebate rule's "net").
const MONTH_SALES_CTE: &str = "sold as (
    select o.customer_id, s.quantity as units, s.quantity * s.unit_price_cents as net
    from sales_lines s join orders o on o.order_id = s.order_id
    where substr(o.billed_at, 1, 7) = ?1
    union all
    select o.customer_id, -r.quantity, -(r.quantity * s.unit_price_cents)
    from reversals r join sales_lines s on s.order_id = r.order_id and s.line_no = r.line_no
    join orders o on o.order_id = r.order_id
    where substr(r.at, 1, 7) = ?1
)";
const MANAGER_ONLY: &[Role] = &[Role::Manager];

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

    // ----- master data (managers) -----

    pub fn add_territory(
        &mut self,
        actor: &Actor,
        name: &str,
        manager_first: &str,
        manager_last: &str,
    ) -> Result<i64> {
        actor.require(MANAGER_ONLY, "change master data")?;
        non_empty("name", name)?;
        non_empty("manager_first_name", manager_first)?;
        non_empty("manager_last_name", manager_last)?;
        self.atomic(|tx, _| {
            exec(tx,
                "insert into territories (territory_id, name, manager_first_name, manager_last_name) values ((select coalesce(max(territory_id), 1000000000) + 1 from territories), ?1, ?2, ?3)",
                params![name, manager_first, manager_last],
            )
            .map_err(|e| unique_violation(e, "name", "a territory with this name exists"))?;
            let id = tx.last_insert_rowid();
            event(tx, "territory_added", "territories", json!({"territory_id": id, "territory_name": name, "manager_first_name": manager_first, "manager_last_name": manager_last}))?;
            Ok(id)
        })
    }

    pub fn add_location(
        &mut self,
        actor: &Actor,
        region: &str,
        territory_id: i64,
        state: &str,
        city: &str,
    ) -> Result<i64> {
        actor.require(MANAGER_ONLY, "change master data")?;
        non_empty("region", region)?;
        non_empty("state", state)?;
        non_empty("city", city)?;
        self.atomic(|tx, _| {
            exists(tx, "territories", "territory_id", territory_id, "territory")?;
            exec(tx,
                "insert into locations (location_id, region, territory_id, state, city) values ((select coalesce(max(location_id), 1000000000) + 1 from locations), ?1, ?2, ?3, ?4)",
                params![region, territory_id, state, city],
            )
            .map_err(|e| unique_violation(e, "city", "this location (region, territory, state, city) exists"))?;
            let id = tx.last_insert_rowid();
            event(tx, "location_added", "locations", json!({"location_id": id, "region": region, "territory_id": territory_id, "state": state, "city": city}))?;
            Ok(id)
        })
    }

    pub fn add_customer_type(&mut self, actor: &Actor, name: &str) -> Result<i64> {
        actor.require(MANAGER_ONLY, "change master data")?;
        non_empty("name", name)?;
        self.atomic(|tx, _| {
            exec(tx,
                "insert into customer_types (customer_type_id, name) values ((select coalesce(max(customer_type_id), 1000000000) + 1 from customer_types), ?1)",
                params![name],
            )
            .map_err(|e| unique_violation(e, "name", "this customer type exists"))?;
            let id = tx.last_insert_rowid();
            event(tx, "customer_type_added", "customer_types", json!({"customer_type_id": id, "customer_type": name}))?;
            Ok(id)
        })
    }

    pub fn add_customer(
        &mut self,
        actor: &Actor,
        name: &str,
        customer_type_id: i64,
        email: Option<&str>,
        location_id: i64,
        credit_limit_cents: i64,
    ) -> Result<i64> {
        actor.require(MANAGER_ONLY, "change master data")?;
        non_empty("name", name)?;
        if credit_limit_cents < 0 {
            return Err(DeskError::invalid("credit_limit", "must be 0 or more"));
        }
        self.atomic(|tx, _| {
            exists(tx, "customer_types", "customer_type_id", customer_type_id, "customer type")?;
            exists(tx, "locations", "location_id", location_id, "location")?;
            let at = now();
            exec(tx,
                "insert into customers (customer_id, name, customer_type_id, email, location_id, registered_at, credit_limit_cents) values ((select coalesce(max(customer_id), 1000000000) + 1 from customers), ?1, ?2, ?3, ?4, ?5, ?6)",
                params![name, customer_type_id, email, location_id, at, credit_limit_cents],
            )
            .map_err(|e| unique_violation(e, "name", "a customer with this name, location and type exists"))?;
            let id = tx.last_insert_rowid();
            event(tx, "customer_added", "customers", customer_json(tx, id)?)?;
            Ok(id)
        })
    }

    pub fn add_product(&mut self, actor: &Actor, product: &NewProduct<'_>) -> Result<i64> {
        actor.require(MANAGER_ONLY, "change master data")?;
        non_empty("description", product.description)?;
        for (field, v) in [
            ("unit_price", product.price_cents),
            ("unit_cost", product.cost_cents),
            ("on_hand", product.on_hand),
        ] {
            if v < 0 {
                return Err(DeskError::invalid(field, "must be 0 or more"));
            }
        }
        self.atomic(|tx, _| {
            exec(tx,
                "insert into products (product_id, description, brand, category, price_cents, cost_cents, on_hand) values ((select coalesce(max(product_id), 1000000000) + 1 from products), ?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    product.description,
                    product.brand,
                    product.category,
                    product.price_cents,
                    product.cost_cents,
                    0
                ],
            )?;
            let id = tx.last_insert_rowid();
            record_product_version(tx, id)?;
            // Opening stock is a receipt, so the movements explain every unit on hand.
            if product.on_hand > 0 {
                move_stock(tx, id, "receipt", product.on_hand, None)?;
            }
            event(tx, "product_changed", "products", product_json(tx, id)?)?;
            Ok(id)
        })
    }

    /// A new price and/or cost from now on; the previous version's validity ends now.
    pub fn change_price(
        &mut self,
        actor: &Actor,
        product_id: i64,
        price_cents: Option<i64>,
        cost_cents: Option<i64>,
    ) -> Result<()> {
        actor.require(MANAGER_ONLY, "change master data")?;
        for (field, v) in [("unit_price", price_cents), ("unit_cost", cost_cents)] {
            if v.is_some_and(|v| v < 0) {
                return Err(DeskError::invalid(field, "must be 0 or more"));
            }
        }
        self.atomic(|tx, _| {
            exists(tx, "products", "product_id", product_id, "product")?;
            exec(tx,
                "update products set price_cents = coalesce(?2, price_cents), cost_cents = coalesce(?3, cost_cents) where product_id = ?1",
                params![product_id, price_cents, cost_cents],
            )?;
            record_product_version(tx, product_id)?;
            event(tx, "product_changed", "products", product_json(tx, product_id)?)
        })
    }

    /// Receives stock into a product.
    pub fn receive_stock(&mut self, actor: &Actor, product_id: i64, quantity: i64) -> Result<()> {
        actor.require(MANAGER_ONLY, "change master data")?;
        if quantity <= 0 {
            return Err(DeskError::invalid("quantity", "must be greater than 0"));
        }
        self.atomic(|tx, _| {
            exists(tx, "products", "product_id", product_id, "product")?;
            move_stock(tx, product_id, "receipt", quantity, None)
        })
    }

    pub fn add_carrier(
        &mut self,
        actor: &Actor,
        name: &str,
        location_id: Option<i64>,
    ) -> Result<i64> {
        self.add_site(actor, Site::Carrier, name, location_id)
    }

    pub fn add_warehouse(
        &mut self,
        actor: &Actor,
        name: &str,
        location_id: Option<i64>,
    ) -> Result<i64> {
        self.add_site(actor, Site::Warehouse, name, location_id)
    }

    /// A carrier or warehouse: a name, optionally at a known location.
    fn add_site(
        &mut self,
        actor: &Actor,
        site: Site,
        name: &str,
        location_id: Option<i64>,
    ) -> Result<i64> {
        actor.require(MANAGER_ONLY, "change master data")?;
        non_empty("name", name)?;
        let (table, key, name_field, event_type) = match site {
            Site::Carrier => ("carriers", "carrier_id", "carrier_name", "carrier_added"),
            Site::Warehouse => (
                "warehouses",
                "warehouse_id",
                "warehouse_name",
                "warehouse_added",
            ),
        };
        self.atomic(|tx, _| {
            if let Some(l) = location_id {
                exists(tx, "locations", "location_id", l, "location")?;
            }
            exec(
                tx,
                &format!("insert into {table} ({key}, name, location_id) values ((select coalesce(max({key}), 1000000000) + 1 from {table}), ?1, ?2)"),
                params![name, location_id],
            )
            // Only warehouse names are unique.
            .map_err(|e| unique_violation(e, "name", &format!("a {} with this name exists", &table[..table.len() - 1])))?;
            let id = tx.last_insert_rowid();
            event(tx, event_type, table, json!({key: id, name_field: name, "location_id": location_id}))?;
            Ok(id)
        })
    }

    // ----- orders -----

    /// Raises an order. The customer must exist, be active and be registered at `location_id`.
    pub fn raise_order(
        &mut self,
        actor: &Actor,
        customer_id: i64,
        location_id: i64,
        lines: &[NewLine],
    ) -> Result<i64> {
        actor.require(ORDER_ROLES, "raise orders")?;
        if lines.is_empty() {
            return Err(DeskError::invalid(
                "lines",
                "an order needs at least one line",
            ));
        }
        for (i, l) in lines.iter().enumerate() {
            if l.quantity <= 0 {
                return Err(DeskError::invalid(
                    &format!("lines[{i}].quantity"),
                    "must be greater than 0",
                ));
            }
        }
        self.atomic(|tx, _| {
            let (active, home): (bool, i64) = tx
                .query_row("select active, location_id from customers where customer_id = ?1", params![customer_id], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?
                .ok_or(DeskError::invalid("customer_id", format!("unknown customer {customer_id}")))?;
            if !active {
                return Err(DeskError::invalid("customer_id", format!("customer {customer_id} is delisted")));
            }
            if home != location_id {
                return Err(DeskError::invalid("location_id", format!("customer {customer_id} is not registered at location {location_id}")));
            }
            let at = now();
            exec(tx,
                "insert into orders (order_id, customer_id, location_id, status, raised_at, updated_at) values ((select coalesce(max(order_id), 1000000000) + 1 from orders), ?1, ?2, 'raised', ?3, ?3)",
                params![customer_id, location_id, at],
            )?;
            let order_id = tx.last_insert_rowid();
            for l in lines {
                put_line(tx, order_id, l)?;
            }
            emit_order(tx, order_id)?;
            Ok(order_id)
        })
    }

    /// Raises a product again on an open order: replaces that line's quantity (or adds the line).
    pub fn reraise_line(&mut self, actor: &Actor, order_id: i64, line: NewLine) -> Result<()> {
        actor.require(ORDER_ROLES, "raise orders")?;
        if line.quantity <= 0 {
            return Err(DeskError::invalid("quantity", "must be greater than 0"));
        }
        self.atomic(|tx, _| {
            let status = order_status(tx, order_id)?;
            if !matches!(status.as_str(), "raised" | "on_hold") {
                return Err(DeskError::invalid(
                    "order_id",
                    format!("order {order_id} is {status}: only open orders can change"),
                ));
            }
            put_line(tx, order_id, &line)?;
            touch(tx, order_id)?;
            emit_order(tx, order_id)
        })
    }

    /// Cancels an order before billing; the order and its lines go to the audit trail.
    pub fn cancel_order(&mut self, actor: &Actor, order_id: i64, reason: &str) -> Result<()> {
        actor.require(ORDER_ROLES, "cancel orders")?;
        non_empty("reason", reason)?;
        self.atomic(|tx, _| {
            let status = order_status(tx, order_id)?;
            if !matches!(status.as_str(), "raised" | "on_hold") {
                return Err(DeskError::invalid("order_id", format!("order {order_id} is {status}: only orders not yet billed can be cancelled")));
            }
            let snapshot = json!({"order": order_json(tx, order_id)?, "lines": lines_json(tx, order_id)?, "reason": reason});
            audit(tx, "orders", order_id, "cancel", &actor.name, &snapshot)?;
            exec(tx,
                "update orders set status = 'cancelled', hold_reason = null, updated_at = ?2 where order_id = ?1",
                params![order_id, now()],
            )?;
            let mut payload = order_json(tx, order_id)?;
            payload["cancel_reason"] = json!(reason);
            event(tx, "order_changed", "orders", payload)
        })
    }

    /// Bills an order: stock check, credit rule, then stock, sales lines, balance and ledger in one
    /// transaction. A failed check puts the order on hold and changes nothing else.
    pub fn bill_order(&mut self, actor: &Actor, order_id: i64) -> Result<BillOutcome> {
        actor.require(ORDER_ROLES, "bill orders")?;
        self.atomic(|tx, settings| {
            let status = order_status(tx, order_id)?;
            if !matches!(status.as_str(), "raised" | "on_hold") {
                return Err(DeskError::invalid("order_id", format!("order {order_id} is {status}: only raised or held orders can be billed")));
            }
            let lines: Vec<(i64, i64, i64, i64, i64, i64)> = {
                let mut stmt = tx.prepare(
                    "select l.line_no, l.product_id, l.quantity, p.price_cents, p.cost_cents, p.on_hand
                     from order_lines l join products p on p.product_id = l.product_id
                     where l.order_id = ?1 order by l.line_no",
                )?;
                stmt.query_map(params![order_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)))?
                    .collect::<Result<_, _>>()?
            };
            let hold = |reason: &str| -> Result<BillOutcome> {
                exec(tx,
                    "update orders set status = 'on_hold', hold_reason = ?2, updated_at = ?3 where order_id = ?1",
                    params![order_id, reason, now()],
                )?;
                emit_order(tx, order_id)?;
                Ok(BillOutcome::OnHold { reason: reason.to_string() })
            };
            if lines.iter().any(|l| l.2 > l.5) {
                return hold("out of stock");
            }
            let net: i64 = lines.iter().map(|l| l.2 * l.3).sum();
            let vat = apply_rate(net, settings.vat_basis_points);
            let total = net + vat;
            let (customer_id, balance, limit): (i64, i64, i64) = cached_row(tx,
                "select c.customer_id, c.balance_cents, c.credit_limit_cents from orders o join customers c on c.customer_id = o.customer_id where o.order_id = ?1",
                params![order_id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )?;
            let approved = balance + total <= 0 || limit - balance - total >= 0;
            if !approved {
                return hold("insufficient credit");
            }
            let at = now();
            for (line_no, product_id, quantity, price, cost, _) in &lines {
                move_stock(tx, *product_id, "sale", -quantity, Some(order_id))?;
                exec(tx,
                    "insert into sales_lines (order_id, line_no, product_id, quantity, unit_price_cents, unit_cost_cents) values (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![order_id, line_no, product_id, quantity, price, cost],
                )?;
            }
            exec(tx,
                "update orders set status = 'billed', hold_reason = null, billed_at = ?2, updated_at = ?2 where order_id = ?1",
                params![order_id, at],
            )?;
            post(tx, customer_id, "invoice", total, Some(order_id), None, &actor.name)?;
            emit_order(tx, order_id)?;
            for line in lines_json(tx, order_id)?.as_array().into_iter().flatten() {
                event(tx, "order_line_billed", "order_lines", line.clone())?;
            }
            Ok(BillOutcome::Billed { net_cents: net, vat_cents: vat, total_cents: total })
        })
    }

    /// Ships a billed order.
    pub fn ship_order(
        &mut self,
        actor: &Actor,
        order_id: i64,
        carrier_id: i64,
        warehouse_id: i64,
        promised_at: &str,
    ) -> Result<()> {
        actor.require(ORDER_ROLES, "ship orders")?;
        timestamp("promised_at", promised_at)?;
        self.atomic(|tx, _| {
            let status = order_status(tx, order_id)?;
            if status != "billed" {
                return Err(DeskError::invalid("order_id", format!("order {order_id} is {status}: only billed orders can be shipped")));
            }
            exists(tx, "carriers", "carrier_id", carrier_id, "carrier")?;
            let warehouse: String = tx
                .query_row("select name from warehouses where warehouse_id = ?1", params![warehouse_id], |r| r.get(0))
                .optional()?
                .ok_or_else(|| DeskError::invalid("warehouse_id", format!("unknown warehouse {warehouse_id}")))?;
            let at = now();
            exec(tx,
                "insert into shipments (order_id, carrier_id, warehouse, warehouse_id, promised_at, shipped_at) values (?1, ?2, ?3, ?4, ?5, ?6)",
                params![order_id, carrier_id, warehouse, warehouse_id, promised_at, at],
            )?;
            exec(tx, "update orders set status = 'shipped', updated_at = ?2 where order_id = ?1", params![order_id, at])?;
            emit_order(tx, order_id)?;
            event(tx, "shipment_changed", "shipments", shipment_json(tx, order_id)?)
        })
    }

    pub fn deliver_order(&mut self, actor: &Actor, order_id: i64) -> Result<()> {
        actor.require(ORDER_ROLES, "deliver orders")?;
        self.atomic(|tx, _| {
            let status = order_status(tx, order_id)?;
            if status != "shipped" {
                return Err(DeskError::invalid(
                    "order_id",
                    format!("order {order_id} is {status}: only shipped orders can be delivered"),
                ));
            }
            let at = now();
            exec(
                tx,
                "update shipments set delivered_at = ?2 where order_id = ?1",
                params![order_id, at],
            )?;
            exec(
                tx,
                "update orders set status = 'delivered', updated_at = ?2 where order_id = ?1",
                params![order_id, at],
            )?;
            emit_order(tx, order_id)?;
            event(
                tx,
                "shipment_changed",
                "shipments",
                shipment_json(tx, order_id)?,
            )
        })
    }

    /// Returns units of a billed line: never more than sold minus already returned.
    /// Returns the refund (net + VAT) in cents.
    pub fn return_units(
        &mut self,
        actor: &Actor,
        order_id: i64,
        line_no: i64,
        quantity: i64,
        reason: &str,
    ) -> Result<i64> {
        actor.require(ORDER_ROLES, "record returns")?;
        if quantity <= 0 {
            return Err(DeskError::invalid("quantity", "must be greater than 0"));
        }
        non_empty("reason", reason)?;
        self.atomic(|tx, settings| {
            let (product_id, sold, returned, price): (i64, i64, i64, i64) = tx
                .query_row(
                    "select product_id, quantity, returned, unit_price_cents from sales_lines where order_id = ?1 and line_no = ?2",
                    params![order_id, line_no],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                )
                .optional()?
                .ok_or_else(|| DeskError::invalid("line_no", format!("order {order_id} has no billed line {line_no}")))?;
            if quantity > sold - returned {
                return Err(DeskError::invalid(
                    "quantity",
                    format!("cannot return {quantity}: line {line_no} of order {order_id} sold {sold}, {returned} already returned"),
                ));
            }
            let net = quantity * price;
            let refund = net + apply_rate(net, settings.vat_basis_points);
            let at = now();
            exec(tx, "update sales_lines set returned = returned + ?3 where order_id = ?1 and line_no = ?2", params![order_id, line_no, quantity])?;
            move_stock(tx, product_id, "return", quantity, Some(order_id))?;
            exec(tx,
                "insert into reversals (reversal_id, order_id, line_no, quantity, refund_cents, reason, actor, at) values ((select coalesce(max(reversal_id), 1000000000) + 1 from reversals), ?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![order_id, line_no, quantity, refund, reason, actor.name, at],
            )?;
            let reversal_id = tx.last_insert_rowid();
            let customer_id: i64 = cached_row(tx, "select customer_id from orders where order_id = ?1", params![order_id], |r| r.get(0))?;
            post(tx, customer_id, "refund", -refund, Some(order_id), Some(&format!("return {reversal_id}")), &actor.name)?;
            event(tx, "return_recorded", "returns", json!({"return_id": reversal_id, "order_id": order_id, "line_no": line_no, "quantity": quantity, "reason": reason, "returned_at": at}))?;
            Ok(refund)
        })
    }

    // ----- money -----

    pub fn pay(
        &mut self,
        actor: &Actor,
        customer_id: i64,
        amount_cents: i64,
        order_id: Option<i64>,
    ) -> Result<i64> {
        actor.require(ORDER_ROLES, "record payments")?;
        if amount_cents <= 0 {
            return Err(DeskError::invalid("amount", "must be greater than 0"));
        }
        self.atomic(|tx, _| {
            exists(tx, "customers", "customer_id", customer_id, "customer")?;
            let entry = post(tx, customer_id, "payment", -amount_cents, order_id, None, &actor.name)?;
            event(tx, "payment_received", "payments", json!({"payment_id": entry, "customer_id": customer_id, "order_id": order_id, "amount": cents_text(amount_cents), "paid_at": now()}))?;
            Ok(entry)
        })
    }

    pub fn change_credit_limit(
        &mut self,
        actor: &Actor,
        customer_id: i64,
        credit_limit_cents: i64,
    ) -> Result<()> {
        actor.require(MANAGER_ONLY, "change credit limits")?;
        if credit_limit_cents < 0 {
            return Err(DeskError::invalid("credit_limit", "must be 0 or more"));
        }
        self.atomic(|tx, _| {
            exists(tx, "customers", "customer_id", customer_id, "customer")?;
            let before = customer_json(tx, customer_id)?;
            exec(
                tx,
                "update customers set credit_limit_cents = ?2 where customer_id = ?1",
                params![customer_id, credit_limit_cents],
            )?;
            audit(
                tx,
                "customers",
                customer_id,
                "credit_limit",
                &actor.name,
                &json!({"before": before["credit_limit"], "after": cents_text(credit_limit_cents)}),
            )?;
            event(
                tx,
                "customer_changed",
                "customers",
                customer_json(tx, customer_id)?,
            )
        })
    }

    /// Writes off part of what a customer owes (never more than the balance).
    pub fn write_off(
        &mut self,
        actor: &Actor,
        customer_id: i64,
        amount_cents: i64,
        reason: &str,
    ) -> Result<i64> {
        actor.require(MANAGER_ONLY, "write off balances")?;
        if amount_cents <= 0 {
            return Err(DeskError::invalid("amount", "must be greater than 0"));
        }
        non_empty("reason", reason)?;
        self.atomic(|tx, _| {
            let balance: i64 = one_by_id(
                tx,
                "select balance_cents from customers where customer_id = ?1",
                customer_id,
                "customer",
            )?;
            if amount_cents > balance {
                return Err(DeskError::invalid(
                    "amount",
                    format!(
                        "cannot write off {} when the customer owes {}",
                        cents_text(amount_cents),
                        cents_text(balance)
                    ),
                ));
            }
            post(
                tx,
                customer_id,
                "write_off",
                -amount_cents,
                None,
                Some(reason),
                &actor.name,
            )
        })
    }

    /// The monthly rebate run (`month` = `YYYY-MM`): per customer, a share of the month's net sales
    /// when net units reach the minimum. Idempotent: a month runs once. Returns the entries written.
    pub fn rebate_run(&mut self, actor: &Actor, month: &str) -> Result<Vec<(i64, i64)>> {
        actor.require(MANAGER_ONLY, "run rebates")?;
        if chrono::NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d").is_err() {
            return Err(DeskError::invalid("month", "expected YYYY-MM"));
        }
        self.atomic(|tx, settings| {
            let done: Option<String> = cached_row(tx, "select month from rebate_runs where month = ?1", params![month], |r| r.get(0)).optional()?;
            if done.is_some() {
                return Ok(Vec::new());
            }
            let rows: Vec<(i64, i64, i64)> = {
                let mut stmt = tx.prepare(
                    &format!("with {MONTH_SALES_CTE} select customer_id, sum(units), sum(net) from sold group by customer_id order by customer_id"),
                )?;
                stmt.query_map(params![month], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                    .collect::<Result<_, _>>()?
            };
            let mut written = Vec::new();
            for (customer_id, units, net) in rows {
                if units >= settings.rebate_min_units && net > 0 {
                    let rebate = apply_rate(net, settings.rebate_basis_points);
                    post(tx, customer_id, "rebate", -rebate, None, Some(&format!("rebate {month}")), &actor.name)?;
                    written.push((customer_id, rebate));
                }
            }
            exec(tx, "insert into rebate_runs (month, actor, at) values (?1, ?2, ?3)", params![month, actor.name, now()])?;
            Ok(written)
        })
    }

    /// Delists a customer (inactive: no new orders). Customers are never erased.
    pub fn delist_customer(&mut self, actor: &Actor, customer_id: i64) -> Result<()> {
        actor.require(MANAGER_ONLY, "change master data")?;
        self.atomic(|tx, _| {
            exists(tx, "customers", "customer_id", customer_id, "customer")?;
            audit(
                tx,
                "customers",
                customer_id,
                "delist",
                &actor.name,
                &customer_json(tx, customer_id)?,
            )?;
            exec(
                tx,
                "update customers set active = 0 where customer_id = ?1",
                params![customer_id],
            )?;
            event(
                tx,
                "customer_changed",
                "customers",
                customer_json(tx, customer_id)?,
            )
        })
    }

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

/// One landing file written by [`Desk::publish`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Published {
    pub file: String,
    pub entity: String,
    pub events: usize,
}

impl Desk {
    /// [`Desk::publish`] on a caller's request (managers only).
    pub fn publish_for(&mut self, actor: &Actor, landing: &Path) -> Result<Vec<Published>> {
        actor.require(MANAGER_ONLY, "publish change events")?;
        self.publish(landing)
    }

    /// Publishes the outbox's unpublished events to `landing` as NDJSON, one file per entity named
    /// after its first event (`orders_000000000042.ndjson`, so `orderlake ingest` loads it into
    /// `bronze.orders`). Each file is written under a dot-name (ignored by ingest), renamed into
    /// place, and only then are its events marked published, in one transaction. A crash between
    /// rename and mark makes the next call write the same file name again (with any newer events
    /// too); ingest replaces a changed file's rows, so every event reaches bronze exactly once.
    pub fn publish(&mut self, landing: &Path) -> Result<Vec<Published>> {
        std::fs::create_dir_all(landing)
            .map_err(|e| DeskError::invalid("landing", format!("{}: {e}", landing.display())))?;
        let events: Vec<(i64, String, String)> = {
            let mut stmt = self
                .conn
                .prepare("select event_id, entity, payload from outbox where published_file is null order by event_id")?;
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect::<Result<_, _>>()?
        };
        let mut by_entity: std::collections::BTreeMap<String, Vec<(i64, String)>> =
            Default::default();
        for (id, entity, payload) in events {
            by_entity.entry(entity).or_default().push((id, payload));
        }
        let mut written = Vec::new();
        for (entity, events) in &by_entity {
            let first = events[0].0;
            let file = format!("{entity}_{first:012}.ndjson");
            let temp = landing.join(format!(".{file}.tmp"));
            let mut body = String::new();
            for (id, payload) in events {
                // The event id travels with the row, so bronze can show each event arrived once.
                let mut line: serde_json::Value = serde_json::from_str(payload).map_err(|e| {
                    DeskError::invalid("outbox.payload", format!("event {id}: {e}"))
                })?;
                line["_event_id"] = json!(id);
                body.push_str(&line.to_string());
                body.push('\n');
            }
            let io = |e: std::io::Error| {
                DeskError::invalid("landing", format!("{}: {e}", temp.display()))
            };
            {
                use std::io::Write;
                let mut f = std::fs::File::create(&temp).map_err(io)?;
                f.write_all(body.as_bytes()).map_err(io)?;
                f.sync_all().map_err(io)?;
            }
            std::fs::rename(&temp, landing.join(&file)).map_err(io)?;
            written.push((
                file,
                entity.clone(),
                events.iter().map(|e| e.0).collect::<Vec<_>>(),
            ));
        }
        let tx = self.conn.transaction()?;
        for (file, _, ids) in &written {
            let mut stmt =
                tx.prepare("update outbox set published_file = ?1 where event_id = ?2")?;
            for id in ids {
                stmt.execute(params![file, id])?;
            }
        }
        tx.commit()?;
        Ok(written
            .into_iter()
            .map(|(file, entity, ids)| Published {
                file,
                entity,
                events: ids.len(),
            })
            .collect())
    }
}

// ----- helpers inside a transaction -----

/// Executes through the connection's statement cache: an operation runs a few dozen statements,
/// and compiling each one every time was most of a bill's cost.
fn exec<P: rusqlite::Params>(conn: &Connection, sql: &str, params: P) -> rusqlite::Result<usize> {
    conn.prepare_cached(sql)?.execute(params)
}

/// `query_row` through the statement cache.
fn cached_row<T, P: rusqlite::Params>(
    conn: &Connection,
    sql: &str,
    params: P,
    f: impl FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> rusqlite::Result<T> {
    conn.prepare_cached(sql)?.query_row(params, f)
}

fn non_empty(field: &str, value: &str) -> Result<()> {
    if value.trim().is_empty() {
        return Err(DeskError::invalid(field, "must not be empty"));
    }
    Ok(())
}

fn timestamp(field: &str, value: &str) -> Result<()> {
    let ok = chrono::NaiveDateTime::parse_from_str(value, "%Y-%m-%d %H:%M:%S").is_ok()
        || chrono::DateTime::parse_from_rfc3339(value).is_ok();
    if ok {
        Ok(())
    } else {
        Err(DeskError::invalid(field, "expected YYYY-MM-DD HH:MM:SS"))
    }
}

fn unique_violation(e: rusqlite::Error, field: &str, rule: &str) -> DeskError {
    match e {
        rusqlite::Error::SqliteFailure(f, _)
            if f.code == rusqlite::ErrorCode::ConstraintViolation =>
        {
            DeskError::invalid(field, rule)
        }
        other => DeskError::Database(other),
    }
}

fn exists(tx: &Transaction<'_>, table: &str, key: &str, id: i64, what: &'static str) -> Result<()> {
    let found: Option<i64> = cached_row(
        tx,
        &format!("select 1 from {table} where {key} = ?1"),
        params![id],
        |r| r.get(0),
    )
    .optional()?;
    found
        .map(|_| ())
        .ok_or_else(|| DeskError::invalid(key, format!("unknown {what} {id}")))
}

fn order_status(conn: &Connection, order_id: i64) -> Result<String> {
    one_by_id(
        conn,
        "select status from orders where order_id = ?1",
        order_id,
        "order",
    )
}

/// The one value `sql` selects for `id`, or NotFound naming `what`.
fn one_by_id<T: rusqlite::types::FromSql>(
    conn: &Connection,
    sql: &str,
    id: i64,
    what: &'static str,
) -> Result<T> {
    cached_row(conn, sql, params![id], |r| r.get(0))
        .optional()?
        .ok_or(DeskError::NotFound { what, id })
}

fn touch(tx: &Transaction<'_>, order_id: i64) -> Result<()> {
    exec(
        tx,
        "update orders set updated_at = ?2 where order_id = ?1",
        params![order_id, now()],
    )?;
    Ok(())
}

/// Adds a line, or replaces the quantity of the line with the same product.
fn put_line(tx: &Transaction<'_>, order_id: i64, line: &NewLine) -> Result<()> {
    exists(tx, "products", "product_id", line.product_id, "product")?;
    let updated = exec(
        tx,
        "update order_lines set quantity = ?3 where order_id = ?1 and product_id = ?2",
        params![order_id, line.product_id, line.quantity],
    )?;
    if updated == 0 {
        exec(tx,
            "insert into order_lines (order_id, line_no, product_id, quantity)
             values (?1, (select coalesce(max(line_no), 0) + 1 from order_lines where order_id = ?1), ?2, ?3)",
            params![order_id, line.product_id, line.quantity],
        )?;
    }
    Ok(())
}

/// Moves stock (positive in, negative out): on hand, a new product version, a movement row and
/// its event. The `on_hand >= 0` check constraint refuses a move below zero.
fn move_stock(
    tx: &Transaction<'_>,
    product_id: i64,
    movement_type: &str,
    quantity: i64,
    order_id: Option<i64>,
) -> Result<()> {
    exec(
        tx,
        "update products set on_hand = on_hand + ?2 where product_id = ?1",
        params![product_id, quantity],
    )?;
    record_product_version(tx, product_id)?;
    let at = now();
    exec(tx,
        "insert into stock_movements (movement_id, product_id, movement_type, quantity, moved_at, order_id)
         values ((select coalesce(max(movement_id), 1000000000) + 1 from stock_movements), ?1, ?2, ?3, ?4, ?5)",
        params![product_id, movement_type, quantity, at, order_id],
    )?;
    let movement_id = tx.last_insert_rowid();
    event(
        tx,
        "stock_moved",
        "inventory_movements",
        json!({"movement_id": movement_id, "product_id": product_id, "warehouse_id": null, "movement_type": movement_type, "quantity": quantity, "moved_at": at, "order_id": order_id}),
    )
}

/// Closes the product's current version and opens one with its present price, cost and stock.
fn record_product_version(tx: &Transaction<'_>, product_id: i64) -> Result<()> {
    let at = now();
    exec(
        tx,
        "update product_history set valid_to = ?2 where product_id = ?1 and valid_to is null",
        params![product_id, at],
    )?;
    exec(tx,
        "insert into product_history (product_id, price_cents, cost_cents, on_hand, valid_from)
         select product_id, price_cents, cost_cents, on_hand, ?2 from products where product_id = ?1",
        params![product_id, at],
    )?;
    Ok(())
}

/// Appends a ledger entry (positive = debit) and moves the balance with it.
fn post(
    tx: &Transaction<'_>,
    customer_id: i64,
    entry_type: &str,
    amount_cents: i64,
    order_id: Option<i64>,
    reference: Option<&str>,
    actor: &str,
) -> Result<i64> {
    exec(
        tx,
        "update customers set balance_cents = balance_cents + ?2 where customer_id = ?1",
        params![customer_id, amount_cents],
    )?;
    let balance: i64 = cached_row(
        tx,
        "select balance_cents from customers where customer_id = ?1",
        params![customer_id],
        |r| r.get(0),
    )?;
    let at = now();
    exec(tx,
        "insert into ledger (entry_id, customer_id, entry_type, amount_cents, balance_after_cents, value_date, order_id, reference, actor, created_at)
         values ((select coalesce(max(entry_id), 1000000000) + 1 from ledger), ?1, ?2, ?3, ?4, substr(?5, 1, 10), ?6, ?7, ?8, ?5)",
        params![customer_id, entry_type, amount_cents, balance, at, order_id, reference, actor],
    )?;
    let entry_id = tx.last_insert_rowid();
    event(
        tx,
        "ledger_posted",
        "ledger",
        json!({"entry_id": entry_id, "customer_id": customer_id, "entry_type": entry_type, "amount": cents_text(amount_cents.abs()), "value_date": &at[..10], "order_id": order_id, "balance_after": cents_text(balance)}),
    )?;
    Ok(entry_id)
}

fn audit(
    tx: &Transaction<'_>,
    entity: &str,
    id: i64,
    action: &str,
    actor: &str,
    payload: &serde_json::Value,
) -> Result<()> {
    exec(
        tx,
        "insert into audit (entity, entity_id, action, actor, at, payload) values (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            entity,
            id.to_string(),
            action,
            actor,
            now(),
            payload.to_string()
        ],
    )?;
    Ok(())
}

/// Writes a change event to the outbox, in the operation's transaction.
fn event(
    tx: &Transaction<'_>,
    event_type: &str,
    entity: &str,
    payload: serde_json::Value,
) -> Result<()> {
    exec(
        tx,
        "insert into outbox (event_type, entity, payload, created_at) values (?1, ?2, ?3, ?4)",
        params![event_type, entity, payload.to_string(), now()],
    )?;
    Ok(())
}

/// An amount typed by a person (`125.5`, `125.50`, `1,250`) as cents; more than two decimals, or
/// anything that is not a number, is refused naming `field`.
pub fn parse_cents(field: &str, text: &str) -> Result<i64> {
    let t = text.trim().replace(',', "");
    let bad = || DeskError::invalid(field, format!("'{text}' is not an amount like 125.50"));
    let (negative, digits) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t.as_str()),
    };
    let (whole, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let all_digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    if whole.is_empty() || frac.len() > 2 || !all_digits(whole) || !all_digits(frac) {
        return Err(bad());
    }
    let whole: i64 = whole.parse().map_err(|_| bad())?;
    let frac: i64 = format!("{frac:0<2}").parse().map_err(|_| bad())?;
    let cents = whole
        .checked_mul(100)
        .and_then(|w| w.checked_add(frac))
        .ok_or_else(bad)?;
    Ok(if negative { -cents } else { cents })
}

/// Cents as an amount with two decimals (`-1234` → `-12.34`).
pub fn cents_text(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    format!("{sign}{}.{:02}", cents.abs() / 100, cents.abs() % 100)
}

fn emit_order(tx: &Transaction<'_>, order_id: i64) -> Result<()> {
    event(tx, "order_changed", "orders", order_json(tx, order_id)?)
}

/// An order in the lakehouse's bronze shape (`orders` entity).
fn order_json(tx: &Transaction<'_>, order_id: i64) -> Result<serde_json::Value> {
    Ok(cached_row(
        tx,
        "select order_id, customer_id, location_id, status, hold_reason, raised_at, billed_at, updated_at from orders where order_id = ?1",
        params![order_id],
        |r| {
            Ok(json!({
                "order_id": r.get::<_, i64>(0)?, "customer_id": r.get::<_, i64>(1)?, "location_id": r.get::<_, i64>(2)?,
                "channel": "desk", "source_system": "desk", "status": r.get::<_, String>(3)?,
                "hold_reason": r.get::<_, Option<String>>(4)?, "ordered_at": r.get::<_, String>(5)?,
                "billed_at": r.get::<_, Option<String>>(6)?, "updated_at": r.get::<_, String>(7)?,
            }))
        },
    )?)
}

fn lines_json(tx: &Transaction<'_>, order_id: i64) -> Result<serde_json::Value> {
    let mut stmt = tx.prepare(
        "select l.line_no, l.product_id, l.quantity, p.price_cents from order_lines l join products p on p.product_id = l.product_id where l.order_id = ?1 order by l.line_no",
    )?;
    let rows = stmt
        .query_map(params![order_id], |r| {
            Ok(json!({"order_id": order_id, "line_no": r.get::<_, i64>(0)?, "product_id": r.get::<_, i64>(1)?, "quantity": r.get::<_, i64>(2)?, "unit_price": cents_text(r.get::<_, i64>(3)?), "discount_amount": "0.00", "updated_at": now()}))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(serde_json::Value::Array(rows))
}

fn customer_json(tx: &Transaction<'_>, customer_id: i64) -> Result<serde_json::Value> {
    Ok(cached_row(
        tx,
        "select customer_id, name, customer_type_id, email, location_id, registered_at, credit_limit_cents, active from customers where customer_id = ?1",
        params![customer_id],
        |r| {
            Ok(json!({
                "customer_id": r.get::<_, i64>(0)?, "customer_name": r.get::<_, String>(1)?, "customer_type_id": r.get::<_, i64>(2)?,
                "email": r.get::<_, Option<String>>(3)?, "location_id": r.get::<_, i64>(4)?, "registered_at": r.get::<_, String>(5)?,
                "credit_limit": cents_text(r.get::<_, i64>(6)?), "active": r.get::<_, bool>(7)?, "updated_at": now(),
            }))
        },
    )?)
}

fn product_json(tx: &Transaction<'_>, product_id: i64) -> Result<serde_json::Value> {
    Ok(cached_row(
        tx,
        "select product_id, description, brand, category, price_cents, cost_cents from products where product_id = ?1",
        params![product_id],
        |r| {
            Ok(json!({
                "product_id": r.get::<_, i64>(0)?, "description": r.get::<_, String>(1)?, "brand": r.get::<_, String>(2)?,
                "category": r.get::<_, String>(3)?, "unit_price": cents_text(r.get::<_, i64>(4)?), "unit_cost": cents_text(r.get::<_, i64>(5)?),
                "updated_at": now(),
            }))
        },
    )?)
}

fn shipment_json(tx: &Transaction<'_>, order_id: i64) -> Result<serde_json::Value> {
    Ok(cached_row(
        tx,
        "select order_id, carrier_id, warehouse_id, shipped_at, promised_at, delivered_at from shipments where order_id = ?1",
        params![order_id],
        |r| {
            Ok(json!({
                "shipment_id": r.get::<_, i64>(0)?, "order_id": r.get::<_, i64>(0)?, "carrier_id": r.get::<_, i64>(1)?,
                "warehouse_id": r.get::<_, Option<i64>>(2)?, "shipped_at": r.get::<_, String>(3)?, "promised_at": r.get::<_, String>(4)?,
                "delivered_at": r.get::<_, Option<String>>(5)?, "updated_at": now(),
            }))
        },
    )?)
}

#[cfg(test)]
mod tests;
