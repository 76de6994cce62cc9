//! The order lifecycle: raise, re-raise, cancel, bill (stock and credit rules), ship, deliver,
//! return.

use super::*;

/// What the audit trail keeps of a raised order (keys in the order `json!` wrote them).
#[derive(Serialize)]
struct Raised<'a> {
    lines: &'a [orderlake_landing::OrderLine],
    order: &'a orderlake_landing::Order,
}

impl Desk {
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
            let order_id = next_id(tx, "orders", "order_id")?;
            exec(tx,
                "insert into orders (order_id, customer_id, location_id, status, raised_at, updated_at) values (?4, ?1, ?2, 'raised', ?3, ?3)",
                params![customer_id, location_id, at, order_id],
            )?;
            let distinct: std::collections::HashSet<i64> = lines.iter().map(|l| l.product_id).collect();
            if distinct.len() != lines.len() {
                // A product named twice: the later quantity replaces the earlier, as re-raising does.
                for l in lines {
                    put_line(tx, order_id, l)?;
                }
                let order = emit_order(tx, order_id)?;
                let lines = emit_lines(tx, order_id, "order_line_raised")?;
                return audit(tx, "orders", order_id, "raise", &actor.name, &Raised { lines: &lines, order: &order })
                    .map(|()| order_id);
            }
            // A new order's lines are numbered in order, priced as the product stands: nothing to
            // look up again to publish them.
            let mut raised = Vec::with_capacity(lines.len());
            for (i, l) in lines.iter().enumerate() {
                let price: i64 = cached_row(tx, "select price_cents from products where product_id = ?1", params![l.product_id], |r| r.get(0))
                    .optional()?
                    .ok_or_else(|| DeskError::invalid("product_id", format!("unknown product {}", l.product_id)))?;
                raised.push(orderlake_landing::OrderLine {
                    order_id,
                    line_no: i as i64 + 1,
                    product_id: l.product_id,
                    quantity: l.quantity,
                    unit_price: orderlake_landing::Money(price),
                    discount_amount: orderlake_landing::Money(0),
                    updated_at: at.clone(),
                });
            }
            let values: Vec<&dyn Param> = raised
                .iter()
                .flat_map(|l| [&l.order_id as &dyn Param, &l.line_no, &l.product_id, &l.quantity])
                .collect();
            insert_rows(tx, "insert into order_lines (order_id, line_no, product_id, quantity)", 4, &values)?;
            let order = records::order_as_raised(order_id, customer_id, location_id, &at);
            let mut events = Events::default();
            events.add("order_changed", "orders", &order)?;
            for line in &raised {
                events.add("order_line_raised", "order_lines", line)?;
            }
            events.write(tx)?;
            audit(tx, "orders", order_id, "raise", &actor.name, &Raised { lines: &raised, order: &order })?;
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
            emit_order(tx, order_id)?;
            emit_lines(tx, order_id, "order_line_raised")?;
            audit(
                tx,
                "orders",
                order_id,
                "reraise",
                &actor.name,
                &json!({"product_id": line.product_id, "quantity": line.quantity}),
            )
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
            let snapshot = json!({"order": records::order(tx, order_id)?, "lines": records::lines(tx, order_id)?, "reason": reason});
            audit(tx, "orders", order_id, "cancel", &actor.name, &snapshot)?;
            exec(tx,
                "update orders set status = 'cancelled', hold_reason = null, updated_at = ?2 where order_id = ?1",
                params![order_id, now()],
            )?;
            let mut payload = records::order(tx, order_id)?;
            payload.cancel_reason = Some(reason.to_string());
            event(tx, "order_changed", "orders", &payload)
        })
    }

    /// Bills an order: stock check, credit rule, then stock, sales lines, balance and ledger in one
    /// transaction. A failed check puts the order on hold and changes nothing else.
    pub fn bill_order(&mut self, actor: &Actor, order_id: i64) -> Result<BillOutcome> {
        actor.require(ORDER_ROLES, "bill orders")?;
        self.atomic(|tx, settings| {
            // What the order event needs later, read with the status.
            let (status, customer_id, location_id, raised_at): (String, i64, i64, String) = cached_row(
                tx,
                "select status, customer_id, location_id, raised_at from orders where order_id = ?1",
                params![order_id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()?
            .ok_or(DeskError::NotFound { what: "order", id: order_id })?;
            if !matches!(status.as_str(), "raised" | "on_hold") {
                return Err(DeskError::invalid("order_id", format!("order {order_id} is {status}: only raised or held orders can be billed")));
            }
            let lines: Vec<(i64, i64, i64, i64, i64, i64)> = {
                tx.query_map("select l.line_no, l.product_id, l.quantity, p.price_cents, p.cost_cents, p.on_hand
                     from order_lines l join products p on p.product_id = l.product_id
                     where l.order_id = ?1 order by l.line_no", params![order_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)))?
            };
            let hold = |reason: &str| -> Result<BillOutcome> {
                exec(tx,
                    "update orders set status = 'on_hold', hold_reason = ?2, updated_at = ?3 where order_id = ?1",
                    params![order_id, reason, now()],
                )?;
                emit_order(tx, order_id)?;
                audit(tx, "orders", order_id, "hold", &actor.name, &json!({"reason": reason}))?;
                Ok(BillOutcome::OnHold { reason: reason.to_string() })
            };
            if lines.iter().any(|l| l.2 > l.5) {
                return hold("out of stock");
            }
            let net: i64 = lines.iter().map(|l| l.2 * l.3).sum();
            let vat = apply_rate(net, settings.vat_basis_points);
            let total = net + vat;
            let (balance, limit): (i64, i64) = cached_row(tx,
                "select balance_cents, credit_limit_cents from customers where customer_id = ?1",
                params![customer_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            let approved = balance + total <= 0 || limit - balance - total >= 0;
            if !approved {
                return hold("insufficient credit");
            }
            let at = now();
            let nets: Vec<i64> = lines.iter().map(|l| l.2 * l.3).collect();
            let line_vat = allocate_vat(vat, &nets, settings.vat_basis_points);
            let mut events = Events::default();
            let sold: Vec<(i64, i64)> = lines.iter().map(|l| (l.1, -l.2)).collect();
            move_stocks(tx, "sale", &sold, Some(order_id), &mut events)?;
            let values: Vec<&dyn Param> = lines
                .iter()
                .zip(&line_vat)
                .flat_map(|((line_no, product_id, quantity, price, cost, _), line_vat)| {
                    [&order_id as &dyn Param, line_no, product_id, quantity, price, cost, line_vat]
                })
                .collect();
            insert_rows(tx,
                "insert into sales_lines (order_id, line_no, product_id, quantity, unit_price_cents, unit_cost_cents, vat_cents)",
                7,
                &values,
            )?;
            exec(tx,
                "update orders set status = 'billed', hold_reason = null, billed_at = ?2, updated_at = ?2 where order_id = ?1",
                params![order_id, at],
            )?;
            post(tx, customer_id, "invoice", total, Some(order_id), None, &actor.name)?;
            let mut order = records::order_as_raised(order_id, customer_id, location_id, &raised_at);
            order.status = "billed".to_string();
            order.billed_at = Some(at.clone());
            order.updated_at = at.clone();
            events.add("order_changed", "orders", &order)?;
            // The lines as billed, from what billing read (the same rows and prices).
            for (line_no, product_id, quantity, price, _, _) in &lines {
                let line = orderlake_landing::OrderLine {
                    order_id,
                    line_no: *line_no,
                    product_id: *product_id,
                    quantity: *quantity,
                    unit_price: orderlake_landing::Money(*price),
                    discount_amount: orderlake_landing::Money(0),
                    updated_at: at.clone(),
                };
                events.add("order_line_billed", "order_lines", &line)?;
            }
            events.write(tx)?;
            audit(tx, "orders", order_id, "bill", &actor.name, &json!({"net_cents": net, "vat_cents": vat, "total_cents": total}))?;
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
            let shipment = records::shipment(tx, order_id)?;
            event(tx, "shipment_changed", "shipments", &shipment)?;
            audit(tx, "orders", order_id, "ship", &actor.name, &shipment)
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
            let shipment = records::shipment(tx, order_id)?;
            event(tx, "shipment_changed", "shipments", &shipment)?;
            audit(tx, "orders", order_id, "deliver", &actor.name, &shipment)
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
            let reversal_id = next_id(tx, "reversals", "reversal_id")?;
            exec(tx,
                "insert into reversals (reversal_id, order_id, line_no, quantity, refund_cents, reason, actor, at) values (?8, ?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![order_id, line_no, quantity, refund, reason, actor.name, at, reversal_id],
            )?;
            let customer_id: i64 = cached_row(tx, "select customer_id from orders where order_id = ?1", params![order_id], |r| r.get(0))?;
            post(tx, customer_id, "refund", -refund, Some(order_id), Some(&format!("return {reversal_id}")), &actor.name)?;
            let recorded = orderlake_landing::Return { return_id: reversal_id, order_id, line_no, quantity, reason: reason.to_string(), returned_at: at.clone() };
            event(tx, "return_recorded", "returns", &recorded)?;
            audit(tx, "returns", reversal_id, "return", &actor.name, &json!({"return": recorded, "refund_cents": refund}))?;
            Ok(refund)
        })
    }
}

fn touch(tx: &Db, order_id: i64) -> Result<()> {
    exec(
        tx,
        "update orders set updated_at = ?2 where order_id = ?1",
        params![order_id, now()],
    )?;
    Ok(())
}

/// Adds a line, or replaces the quantity of the line with the same product.
fn put_line(tx: &Db, order_id: i64, line: &NewLine) -> Result<()> {
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

/// Publishes every line of an order as it stands: raised (the lakehouse sees unbilled and later
/// cancelled orders with their lines), changed, and billed. Returns what it published.
fn emit_lines(
    tx: &Db,
    order_id: i64,
    event_type: &str,
) -> Result<Vec<orderlake_landing::OrderLine>> {
    let lines = records::lines(tx, order_id)?;
    for line in &lines {
        event(tx, event_type, "order_lines", line)?;
    }
    Ok(lines)
}
