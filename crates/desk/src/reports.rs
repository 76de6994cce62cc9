//! The desk's reports: read-only views any role may run. Each mirrors a gold table of the OMS
//! lakehouse (outstanding orders, credit aging, rebates, sales, reversals, inventory, statement),
//! answered here from the operational data as it is this second.

use chrono::NaiveDate;
use serde::Serialize;

use crate::store::OptionalExtension;
use crate::{Actor, Desk, DeskError, READ_ROLES, Result, apply_rate, params};

/// An order raised but not yet billed (raised or on hold).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OutstandingOrder {
    pub order_id: i64,
    pub customer_id: i64,
    pub customer_name: String,
    pub status: String,
    pub hold_reason: Option<String>,
    pub raised_at: String,
    pub lines: i64,
    pub units: i64,
    /// Quantity × current price, before VAT.
    pub net_cents: i64,
}

/// What a customer owes, by the age of the invoices not yet covered (oldest paid first).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AgingRow {
    pub customer_id: i64,
    pub customer_name: String,
    pub customer_type: String,
    pub region: String,
    pub territory: String,
    pub manager: String,
    pub credit_limit_cents: i64,
    /// Open invoices less credits; negative when the customer has prepaid.
    pub balance_cents: i64,
    pub days_0_30: i64,
    pub days_31_60: i64,
    pub days_61_90: i64,
    pub days_91_180: i64,
    pub days_over_180: i64,
}

/// A customer's rebate for a month: what qualifies it and what was (or would be) credited.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RebateRow {
    pub customer_id: i64,
    pub customer_name: String,
    pub net_units: i64,
    pub net_sales_cents: i64,
    pub qualifies: bool,
    pub rebate_cents: i64,
    /// Whether the month's rebate run has posted it.
    pub posted: bool,
}

/// A billed line in a date range, net of returns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SalesRow {
    pub order_id: i64,
    pub line_no: i64,
    pub billed_at: String,
    pub customer_id: i64,
    pub product_id: i64,
    pub quantity: i64,
    pub returned: i64,
    pub net_quantity: i64,
    pub unit_price_cents: i64,
    pub net_cents: i64,
    pub vat_cents: i64,
    pub cost_cents: i64,
    pub margin_cents: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReversalRow {
    pub reversal_id: i64,
    pub order_id: i64,
    pub line_no: i64,
    pub product_id: i64,
    pub quantity: i64,
    pub refund_cents: i64,
    pub reason: String,
    pub actor: String,
    pub at: String,
}

/// A product's stock on a day: at 00:00, now (or at the day's end), and what moved that day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InventoryRow {
    pub product_id: i64,
    pub description: String,
    pub opening: i64,
    pub received: i64,
    pub sold: i64,
    pub returned: i64,
    pub moved: i64,
    pub closing: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StatementEntry {
    pub entry_id: i64,
    pub value_date: String,
    pub entry_type: String,
    pub order_id: Option<i64>,
    pub reference: Option<String>,
    /// Positive = debit (the customer owes more).
    pub amount_cents: i64,
    pub balance_after_cents: i64,
}

/// A customer's ledger for a date range, with the balances that bracket it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Statement {
    pub customer_id: i64,
    pub customer_name: String,
    pub from: String,
    pub to: String,
    pub opening_balance_cents: i64,
    pub entries: Vec<StatementEntry>,
    pub closing_balance_cents: i64,
}

/// A product's price, cost and stock as they were at a moment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProductAt {
    pub product_id: i64,
    pub at: String,
    pub price_cents: i64,
    pub cost_cents: i64,
    pub on_hand: i64,
}

/// Parses a `YYYY-MM-DD` report parameter, naming the field when it is not one.
pub fn date(field: &str, value: &str) -> Result<NaiveDate> {
    NaiveDate::parse_from_str(value.trim(), "%Y-%m-%d")
        .map_err(|_| DeskError::invalid(field, format!("'{value}' is not a date (YYYY-MM-DD)")))
}

fn range(from: &str, to: &str) -> Result<(NaiveDate, NaiveDate)> {
    let (f, t) = (date("from", from)?, date("to", to)?);
    if t < f {
        return Err(DeskError::invalid("to", "must not be before from"));
    }
    Ok((f, t))
}

/// The exclusive upper bound of a day as a stored timestamp prefix compares (`to` + 1 day).
fn day_after(d: NaiveDate) -> String {
    d.succ_opt().unwrap_or(d).format("%Y-%m-%d").to_string()
}

/// A customer's ledger for aging: its id, its invoices (value date, amount) in order, and the sum
/// of its credits.
type Account = (i64, Vec<(NaiveDate, i64)>, i64);

/// What is left of each invoice once `credits` settle the oldest first, summed into the buckets
/// 0–30, 31–60, 61–90, 91–180 and over 180 days old on `as_of`.
pub fn age_invoices(invoices: &[(NaiveDate, i64)], mut credits: i64, as_of: NaiveDate) -> [i64; 5] {
    let mut buckets = [0; 5];
    for &(day, amount) in invoices {
        let settled = credits.clamp(0, amount);
        credits -= settled;
        let bucket = match (as_of - day).num_days() {
            ..=30 => 0,
            31..=60 => 1,
            61..=90 => 2,
            91..=180 => 3,
            _ => 4,
        };
        buckets[bucket] += amount - settled;
    }
    buckets
}

impl Desk {
    fn can_read(actor: &Actor) -> Result<()> {
        actor.require(READ_ROLES, "read reports")
    }

    /// The product as of `at` (`YYYY-MM-DD HH:MM:SS`, or a day meaning its start), from its
    /// history of price, cost and quantity.
    pub fn product_at(&self, actor: &Actor, product_id: i64, at: &str) -> Result<ProductAt> {
        Self::can_read(actor)?;
        let at = at.trim();
        let moment = if at.len() == 10 {
            format!("{} 00:00:00", date("at", at)?)
        } else {
            chrono::NaiveDateTime::parse_from_str(at, "%Y-%m-%d %H:%M:%S%.f").map_err(|_| {
                DeskError::invalid("at", "expected YYYY-MM-DD or YYYY-MM-DD HH:MM:SS")
            })?;
            at.to_string()
        };
        self.on_hand(product_id).map_err(|_| {
            DeskError::invalid("product_id", format!("unknown product {product_id}"))
        })?;
        let (price_cents, cost_cents, on_hand) =
            self.product_as_of(product_id, &moment)?.ok_or_else(|| {
                DeskError::invalid(
                    "at",
                    format!("product {product_id} did not exist at {moment}"),
                )
            })?;
        Ok(ProductAt {
            product_id,
            at: moment,
            price_cents,
            cost_cents,
            on_hand,
        })
    }

    pub fn outstanding_orders(&self, actor: &Actor) -> Result<Vec<OutstandingOrder>> {
        Self::can_read(actor)?;
        let rows = self.connection().query_map("select o.order_id, o.customer_id, c.name, o.status, o.hold_reason, o.raised_at,
                    count(l.line_no), coalesce(sum(l.quantity), 0), coalesce(sum(l.quantity * p.price_cents), 0)
             from orders o
             join customers c on c.customer_id = o.customer_id
             left join order_lines l on l.order_id = o.order_id
             left join products p on p.product_id = l.product_id
             where o.status in ('raised', 'on_hold')
             group by o.order_id, c.name order by o.raised_at, o.order_id", params![], |r| {
            Ok(OutstandingOrder {
                order_id: r.get(0)?,
                customer_id: r.get(1)?,
                customer_name: r.get(2)?,
                status: r.get(3)?,
                hold_reason: r.get(4)?,
                raised_at: r.get(5)?,
                lines: r.get(6)?,
                units: r.get(7)?,
                net_cents: r.get(8)?,
            })
        })?;
        Ok(rows)
    }

    /// Credit aging as of `as_of` (`YYYY-MM-DD`), with the lakehouse's `credit_aging` columns:
    /// credits settle the oldest invoices first; what is left of each invoice is aged by its value
    /// date. Every customer with ledger entries up to that day is listed, prepaid ones (balance
    /// below zero, empty buckets) too.
    pub fn credit_aging(&self, actor: &Actor, as_of: &str) -> Result<Vec<AgingRow>> {
        Self::can_read(actor)?;
        let as_of = date("as_of", as_of)?;
        let upto = day_after(as_of);
        let entries: Vec<(i64, String, i64, String)> = self.connection().query_map(
            "select c.customer_id, l.entry_type, l.amount_cents, l.value_date
             from ledger l join customers c on c.customer_id = l.customer_id
             where l.value_date < ?1
             order by c.customer_id, l.entry_id",
            params![upto],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )?;
        // Per customer: its invoices (date, amount) in order and the sum of its credits.
        let mut accounts: Vec<Account> = Vec::new();
        for (customer_id, kind, amount, value_date) in entries {
            let day = date("value_date", &value_date)?;
            if accounts.last().is_none_or(|a| a.0 != customer_id) {
                accounts.push((customer_id, Vec::new(), 0));
            }
            let account = accounts.last_mut().expect("just pushed");
            if kind == "invoice" {
                account.1.push((day, amount));
            } else {
                account.2 -= amount;
            }
        }
        let mut out = Vec::with_capacity(accounts.len());
        for (customer_id, invoices, credits) in accounts {
            let b = age_invoices(&invoices, credits, as_of);
            let (customer_name, customer_type, region, territory, manager, credit_limit_cents) =
                self.connection().query_row(
                    "select c.name, ct.name, l.region, t.name, t.manager_first_name || ' ' || t.manager_last_name, c.credit_limit_cents
                     from customers c
                     join customer_types ct on ct.customer_type_id = c.customer_type_id
                     join locations l on l.location_id = c.location_id
                     join territories t on t.territory_id = l.territory_id
                     where c.customer_id = ?1",
                    params![customer_id],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)),
                )?;
            out.push(AgingRow {
                customer_id,
                customer_name,
                customer_type,
                region,
                territory,
                manager,
                credit_limit_cents,
                balance_cents: invoices.iter().map(|i| i.1).sum::<i64>() - credits,
                days_0_30: b[0],
                days_31_60: b[1],
                days_61_90: b[2],
                days_91_180: b[3],
                days_over_180: b[4],
            });
        }
        Ok(out)
    }

    /// Rebates for `month` (`YYYY-MM`): each customer's net units and sales in the month, whether
    /// they qualify, the rebate, and whether the month's run has posted it.
    pub fn rebates(&self, actor: &Actor, month: &str) -> Result<Vec<RebateRow>> {
        Self::can_read(actor)?;
        date("month", &format!("{month}-01"))
            .map_err(|_| DeskError::invalid("month", "expected YYYY-MM"))?;
        let settings = &self.settings;
        let rows = self.connection().query_map(&format!(
            "with {} select s.customer_id, c.name, sum(s.units), sum(s.net),
                    (select -sum(amount_cents) from ledger l where l.customer_id = s.customer_id and l.entry_type = 'rebate' and l.reference = 'rebate ' || ?1)
             from sold s join customers c on c.customer_id = s.customer_id
             group by s.customer_id, c.name order by s.customer_id",
            crate::ledger::MONTH_SALES_CTE
        ), params![month], |r| {
            let units: i64 = r.get(2)?;
            let net: i64 = r.get(3)?;
            let posted: Option<i64> = r.get(4)?;
            let qualifies = units >= settings.rebate_min_units && net > 0;
            Ok(RebateRow {
                customer_id: r.get(0)?,
                customer_name: r.get(1)?,
                net_units: units,
                net_sales_cents: net,
                qualifies,
                rebate_cents: posted.unwrap_or(if qualifies {
                    apply_rate(net, settings.rebate_basis_points)
                } else {
                    0
                }),
                posted: posted.is_some(),
            })
        })?;
        Ok(rows)
    }

    /// Lines billed from `from` to `to` (both days included), net of returns so far.
    pub fn sales(&self, actor: &Actor, from: &str, to: &str) -> Result<Vec<SalesRow>> {
        Self::can_read(actor)?;
        let (f, t) = range(from, to)?;
        let vat = self.settings.vat_basis_points;
        let rows = self.connection().query_map("select s.order_id, s.line_no, o.billed_at, o.customer_id, s.product_id, s.quantity, s.returned,
                    s.unit_price_cents, s.unit_cost_cents, s.vat_cents,
                    (select coalesce(sum(r.refund_cents - r.quantity * s.unit_price_cents), 0)
                     from reversals r where r.order_id = s.order_id and r.line_no = s.line_no)
             from sales_lines s join orders o on o.order_id = s.order_id
             where o.billed_at >= ?1 and o.billed_at < ?2
             order by o.billed_at, s.order_id, s.line_no",
            params![f.format("%Y-%m-%d").to_string(), day_after(t)],
            |r| {
                let quantity: i64 = r.get(5)?;
                let returned: i64 = r.get(6)?;
                let price: i64 = r.get(7)?;
                let cost: i64 = r.get(8)?;
                let net_quantity = quantity - returned;
                let net = net_quantity * price;
                // The VAT billed on the line less the VAT refunded on its returns, as recorded;
                // a line billed before VAT was stored falls back to the current rate.
                let billed_vat: Option<i64> = r.get(9)?;
                let refunded_vat: i64 = r.get(10)?;
                let vat_cents = match billed_vat {
                    Some(v) => v - refunded_vat,
                    None => apply_rate(net, vat),
                };
                Ok(SalesRow {
                    order_id: r.get(0)?,
                    line_no: r.get(1)?,
                    billed_at: r.get(2)?,
                    customer_id: r.get(3)?,
                    product_id: r.get(4)?,
                    quantity,
                    returned,
                    net_quantity,
                    unit_price_cents: price,
                    net_cents: net,
                    vat_cents,
                    cost_cents: net_quantity * cost,
                    margin_cents: net - net_quantity * cost,
                })
            },
        )?;
        Ok(rows)
    }

    /// Returns recorded from `from` to `to` (both days included).
    pub fn reversals(&self, actor: &Actor, from: &str, to: &str) -> Result<Vec<ReversalRow>> {
        Self::can_read(actor)?;
        let (f, t) = range(from, to)?;
        let rows = self.connection().query_map("select r.reversal_id, r.order_id, r.line_no, s.product_id, r.quantity, r.refund_cents, r.reason, r.actor, r.at
             from reversals r join sales_lines s on s.order_id = r.order_id and s.line_no = r.line_no
             where r.at >= ?1 and r.at < ?2 order by r.at, r.reversal_id",
            params![f.format("%Y-%m-%d").to_string(), day_after(t)],
            |r| {
                Ok(ReversalRow {
                    reversal_id: r.get(0)?,
                    order_id: r.get(1)?,
                    line_no: r.get(2)?,
                    product_id: r.get(3)?,
                    quantity: r.get(4)?,
                    refund_cents: r.get(5)?,
                    reason: r.get(6)?,
                    actor: r.get(7)?,
                    at: r.get(8)?,
                })
            },
        )?;
        Ok(rows)
    }

    /// Stock per product on `day`: the opening balance at 00:00 (today's stock less what moved since), what
    /// moved that day by kind, and the closing balance (`opening + moved`; today: the current stock).
    pub fn inventory(&self, actor: &Actor, day: &str) -> Result<Vec<InventoryRow>> {
        Self::can_read(actor)?;
        let d = date("day", day)?;
        let start = format!("{} 00:00:00", d.format("%Y-%m-%d"));
        let end = day_after(d);
        let sql = format!(
            "select p.product_id, p.description,
                    {},
                    coalesce(sum(case when m.movement_type = 'receipt' then m.quantity end), 0),
                    coalesce(sum(case when m.movement_type = 'sale' then -m.quantity end), 0),
                    coalesce(sum(case when m.movement_type = 'return' then m.quantity end), 0),
                    coalesce(sum(m.quantity), 0)
             from products p
             left join stock_movements m on m.product_id = p.product_id and m.moved_at >= ?1 and m.moved_at < ?2
             group by p.product_id order by p.product_id",
            crate::stock::stock_as_of_sql("p.product_id", "p.on_hand", ">= ?1"),
        );
        let rows = self
            .connection()
            .query_map(&sql, params![start, end], |r| {
                let opening: i64 = r.get(2)?;
                let moved: i64 = r.get(6)?;
                Ok(InventoryRow {
                    product_id: r.get(0)?,
                    description: r.get(1)?,
                    opening,
                    received: r.get(3)?,
                    sold: r.get(4)?,
                    returned: r.get(5)?,
                    moved,
                    closing: opening + moved,
                })
            })?;
        Ok(rows)
    }

    /// A customer's statement: the ledger entries with value dates from `from` to `to`, with the
    /// balance before the first and after the last.
    pub fn statement(
        &self,
        actor: &Actor,
        customer_id: i64,
        from: &str,
        to: &str,
    ) -> Result<Statement> {
        Self::can_read(actor)?;
        let (f, t) = range(from, to)?;
        let conn = self.connection();
        let customer_name: String = conn
            .query_row(
                "select name from customers where customer_id = ?1",
                params![customer_id],
                |r| r.get(0),
            )
            .optional()?
            .ok_or_else(|| {
                DeskError::invalid("customer_id", format!("unknown customer {customer_id}"))
            })?;
        let (from, to) = (
            f.format("%Y-%m-%d").to_string(),
            t.format("%Y-%m-%d").to_string(),
        );
        let opening: i64 = conn
            .query_row(
                "select balance_after_cents from ledger where customer_id = ?1 and value_date < ?2
                 order by entry_id desc limit 1",
                params![customer_id, from],
                |r| r.get(0),
            )
            .optional()?
            .unwrap_or(0);
        let entries: Vec<StatementEntry> = conn.query_map("select entry_id, value_date, entry_type, order_id, reference, amount_cents, balance_after_cents
             from ledger where customer_id = ?1 and value_date >= ?2 and value_date <= ?3 order by entry_id", params![customer_id, from, to], |r| {
                Ok(StatementEntry {
                    entry_id: r.get(0)?,
                    value_date: r.get(1)?,
                    entry_type: r.get(2)?,
                    order_id: r.get(3)?,
                    reference: r.get(4)?,
                    amount_cents: r.get(5)?,
                    balance_after_cents: r.get(6)?,
                })
            })?;
        let closing = entries
            .last()
            .map(|e| e.balance_after_cents)
            .unwrap_or(opening);
        Ok(Statement {
            customer_id,
            customer_name,
            from,
            to,
            opening_balance_cents: opening,
            entries,
            closing_balance_cents: closing,
        })
    }
}
