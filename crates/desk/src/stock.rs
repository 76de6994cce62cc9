//! Stock: movements in and out of a product's stock, and the product's price/cost/stock history.

use super::*;

/// Moves stock (positive in, negative out): on hand, a new product version, a movement row and
/// its event. The `on_hand >= 0` check constraint refuses a move below zero.
pub(crate) fn move_stock(
    tx: &Connection,
    product_id: i64,
    movement_type: &str,
    quantity: i64,
    order_id: Option<i64>,
) -> Result<()> {
    // (An UPDATE ... RETURNING would buffer its row in a temporary table: dearer than the
    // separate read of the new version below.)
    exec(
        tx,
        "update products set on_hand = on_hand + ?2 where product_id = ?1",
        params![product_id, quantity],
    )?;
    let at = now();
    open_version(tx, product_id, &at)?;
    let movement_id = next_id(tx, "stock_movements", "movement_id")?;
    exec(
        tx,
        "insert into stock_movements (movement_id, product_id, movement_type, quantity, moved_at, order_id)
         values (?6, ?1, ?2, ?3, ?4, ?5)",
        params![product_id, movement_type, quantity, at, order_id, movement_id],
    )?;
    event(
        tx,
        "stock_moved",
        "inventory_movements",
        &orderlake_landing::InventoryMovement {
            movement_id,
            product_id,
            warehouse_id: None,
            movement_type: movement_type.to_string(),
            quantity,
            moved_at: at,
            order_id,
        },
    )
}

/// Closes the product's current version and opens one with its present price, cost and stock.
pub(crate) fn record_product_version(tx: &Connection, product_id: i64) -> Result<()> {
    open_version(tx, product_id, &now())
}

/// Ends the product's current version at `at` and opens one from the product as it is now.
fn open_version(tx: &Connection, product_id: i64, at: &str) -> Result<()> {
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
