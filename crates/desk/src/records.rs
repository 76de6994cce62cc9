//! The desk's rows as the lakehouse's landing records (`orderlake-landing`): what its change
//! events carry into bronze.

use orderlake_landing as landing;
use orderlake_landing::Money;

use super::*;

/// The source system desk rows carry in the lakehouse (and their channel).
pub(crate) const SOURCE_SYSTEM: &str = "desk";

/// Publishes the order as it stands; returns what it published.
pub(crate) fn emit_order(tx: &Db, order_id: i64) -> Result<landing::Order> {
    let order = order(tx, order_id)?;
    event(tx, "order_changed", "orders", &order)?;
    Ok(order)
}

pub(crate) fn order(tx: &Db, order_id: i64) -> Result<landing::Order> {
    Ok(cached_row(
        tx,
        "select order_id, customer_id, location_id, status, hold_reason, raised_at, billed_at, updated_at from orders where order_id = ?1",
        params![order_id],
        |r| {
            Ok(landing::Order {
                order_id: r.get(0)?,
                customer_id: r.get(1)?,
                location_id: r.get(2)?,
                channel: Some(SOURCE_SYSTEM.to_string()),
                source_system: SOURCE_SYSTEM.to_string(),
                ordered_at: r.get(5)?,
                status: r.get(3)?,
                hold_reason: r.get(4)?,
                cancel_reason: None,
                billed_at: r.get(6)?,
                updated_at: r.get(7)?,
            })
        },
    )?)
}

/// An order as raised, as [`order`] would read it back (billing sets what changed).
pub(crate) fn order_as_raised(
    order_id: i64,
    customer_id: i64,
    location_id: i64,
    at: &str,
) -> landing::Order {
    landing::Order {
        order_id,
        customer_id,
        location_id,
        channel: Some(SOURCE_SYSTEM.to_string()),
        source_system: SOURCE_SYSTEM.to_string(),
        ordered_at: at.to_string(),
        status: "raised".to_string(),
        hold_reason: None,
        cancel_reason: None,
        billed_at: None,
        updated_at: at.to_string(),
    }
}

/// An order's lines, priced at the product's current price.
pub(crate) fn lines(tx: &Db, order_id: i64) -> Result<Vec<landing::OrderLine>> {
    let updated_at = now();
    let rows = tx.query_map("select l.line_no, l.product_id, l.quantity, p.price_cents from order_lines l join products p on p.product_id = l.product_id where l.order_id = ?1 order by l.line_no", params![order_id], |r| {
            Ok(landing::OrderLine {
                order_id,
                line_no: r.get(0)?,
                product_id: r.get(1)?,
                quantity: r.get(2)?,
                unit_price: Money(r.get(3)?),
                discount_amount: Money(0),
                updated_at: updated_at.clone(),
            })
        })?;
    Ok(rows)
}

pub(crate) fn customer(tx: &Db, customer_id: i64) -> Result<landing::Customer> {
    Ok(cached_row(
        tx,
        "select customer_id, name, customer_type_id, email, location_id, registered_at, credit_limit_cents, active from customers where customer_id = ?1",
        params![customer_id],
        |r| {
            Ok(landing::Customer {
                customer_id: r.get(0)?,
                customer_name: r.get(1)?,
                customer_type_id: r.get(2)?,
                email: r.get(3)?,
                location_id: r.get(4)?,
                registered_at: r.get(5)?,
                credit_limit: Money(r.get(6)?),
                active: Some(r.get(7)?),
                updated_at: now(),
            })
        },
    )?)
}

pub(crate) fn product(tx: &Db, product_id: i64) -> Result<landing::Product> {
    Ok(cached_row(
        tx,
        "select product_id, description, brand, category, price_cents, cost_cents from products where product_id = ?1",
        params![product_id],
        |r| {
            Ok(landing::Product {
                product_id: r.get(0)?,
                description: r.get(1)?,
                brand: r.get(2)?,
                category: r.get(3)?,
                unit_price: Money(r.get(4)?),
                unit_cost: Money(r.get(5)?),
                updated_at: now(),
            })
        },
    )?)
}

pub(crate) fn shipment(tx: &Db, order_id: i64) -> Result<landing::Shipment> {
    Ok(cached_row(
        tx,
        "select order_id, carrier_id, warehouse_id, shipped_at, promised_at, delivered_at from shipments where order_id = ?1",
        params![order_id],
        |r| {
            Ok(landing::Shipment {
                shipment_id: r.get(0)?,
                order_id: r.get(0)?,
                carrier_id: r.get(1)?,
                warehouse_id: r.get(2)?,
                shipped_at: r.get(3)?,
                promised_at: r.get(4)?,
                delivered_at: r.get(5)?,
                updated_at: now(),
            })
        },
    )?)
}
