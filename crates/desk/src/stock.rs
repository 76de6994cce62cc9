//! Stock: movements in and out of a product's stock, and the product's price/cost/stock history.

use super::*;

/// Moves one product's stock (positive in, negative out): [`move_stocks`] with its event
/// written at once.
pub(crate) fn move_stock(
    tx: &Db,
    product_id: i64,
    movement_type: &str,
    quantity: i64,
    order_id: Option<i64>,
) -> Result<()> {
    let mut events = Events::default();
    move_stocks(
        tx,
        movement_type,
        &[(product_id, quantity)],
        order_id,
        &mut events,
    )?;
    events.write(tx)
}

/// Moves stock of several products, `(product_id, quantity)` each (positive in, negative out):
/// on hand, a movement row, and its event added to `events`. The `on_hand >= 0` check
/// constraint refuses a move below zero. The movements are the stock's history (stock at any
/// moment is today's less what moved since, see [`stock_as_of_sql`]); product versions change
/// with price and cost only.
pub(crate) fn move_stocks<'a>(
    tx: &Db,
    movement_type: &'a str,
    moves: &[(i64, i64)],
    order_id: Option<i64>,
    events: &mut Events<'a>,
) -> Result<()> {
    let at = now();
    for (product_id, quantity) in moves {
        exec(
            tx,
            "update products set on_hand = on_hand + ?2 where product_id = ?1",
            params![product_id, quantity],
        )?;
    }
    let first_id = next_id(tx, "stock_movements", "movement_id")?;
    let movements: Vec<orderlake_landing::InventoryMovement> = moves
        .iter()
        .zip(first_id..)
        .map(
            |(&(product_id, quantity), movement_id)| orderlake_landing::InventoryMovement {
                movement_id,
                product_id,
                warehouse_id: None,
                movement_type: movement_type.to_string(),
                quantity,
                moved_at: at.clone(),
                order_id,
            },
        )
        .collect();
    let values: Vec<&dyn Param> = movements
        .iter()
        .flat_map(|m| {
            [
                &m.movement_id as &dyn Param,
                &m.product_id,
                &m.movement_type,
                &m.quantity,
                &m.moved_at,
                &m.order_id,
            ]
        })
        .collect();
    insert_rows(
        tx,
        "insert into stock_movements (movement_id, product_id, movement_type, quantity, moved_at, order_id)",
        6,
        &values,
    )?;
    for movement in &movements {
        events.add("stock_moved", "inventory_movements", movement)?;
    }
    Ok(())
}

/// SQL for a product's stock at a moment: on hand now less every movement after it (the
/// movements explain every unit: opening stock is a receipt). `product` and `on_hand` name the
/// product's columns, `after` the condition on `moved_at` that puts a movement after the
/// moment (`> ?2`, or `>= ?1` for the opening of a day). Read by the movements' (product_id,
/// moved_at) index.
pub(crate) fn stock_as_of_sql(product: &str, on_hand: &str, after: &str) -> String {
    format!(
        "{on_hand} - coalesce((select sum(m.quantity) from stock_movements m \
         where m.product_id = {product} and m.moved_at {after}), 0)"
    )
}

/// Closes the product's current version and opens one with its present price and cost (and
/// the stock it opened with, kept for the record; stock history is the movements').
pub(crate) fn record_product_version(tx: &Db, product_id: i64) -> Result<()> {
    let at = now();
    // The current version is the latest: found by the (product_id, valid_from) index, which
    // closing it does not change, so SQLite updates in one pass.
    exec(
        tx,
        "update product_history set valid_to = ?2 where product_id = ?1 and valid_to is null
         and valid_from = (select max(valid_from) from product_history where product_id = ?1)",
        params![product_id, at],
    )?;
    exec(tx,
        "insert into product_history (product_id, price_cents, cost_cents, on_hand, valid_from)
         select product_id, price_cents, cost_cents, on_hand, ?2 from products where product_id = ?1",
        params![product_id, at],
    )?;
    Ok(())
}
