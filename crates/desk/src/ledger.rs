//! Money: payments, credit limits, write-offs, rebate runs, and the append-only ledger they post
//! to. Amounts are integer cents.

use orderlake_landing::Money;

use super::*;

/// A month's (`?1` = `YYYY-MM`) units and net sales per customer: billed lines of the month less
/// the returns recorded in it (the rebate rule's "net").
pub(crate) const MONTH_SALES_CTE: &str = "sold as (
    select o.customer_id, s.quantity as units, s.quantity * s.unit_price_cents as net
    from sales_lines s join orders o on o.order_id = s.order_id
    where substr(o.billed_at, 1, 7) = ?1
    union all
    select o.customer_id, -r.quantity, -(r.quantity * s.unit_price_cents)
    from reversals r join sales_lines s on s.order_id = r.order_id and s.line_no = r.line_no
    join orders o on o.order_id = r.order_id
    where substr(r.at, 1, 7) = ?1
)";

impl Desk {
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
            if let Some(order_id) = order_id {
                let owner: Option<i64> = tx
                    .query_row(
                        "select customer_id from orders where order_id = ?1",
                        params![order_id],
                        |r| r.get(0),
                    )
                    .optional()?;
                match owner {
                    None => {
                        return Err(DeskError::invalid(
                            "order_id",
                            format!("unknown order {order_id}"),
                        ));
                    }
                    Some(owner) if owner != customer_id => {
                        return Err(DeskError::invalid(
                            "order_id",
                            format!(
                                "order {order_id} belongs to customer {owner}, not {customer_id}"
                            ),
                        ));
                    }
                    Some(_) => {}
                }
            }
            let entry = post(
                tx,
                customer_id,
                "payment",
                -amount_cents,
                order_id,
                None,
                &actor.name,
            )?;
            event(
                tx,
                "payment_received",
                "payments",
                &orderlake_landing::Payment {
                    payment_id: entry,
                    customer_id,
                    order_id,
                    amount: Money(amount_cents),
                    paid_at: now(),
                    method: None,
                },
            )?;
            audit(tx, "ledger", entry, "payment", &actor.name, &json!({"customer_id": customer_id, "order_id": order_id, "amount": Money(amount_cents)}))?;
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
            let before = &records::customer(tx, customer_id)?;
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
                &json!({"before": before.credit_limit, "after": Money(credit_limit_cents)}),
            )?;
            event(
                tx,
                "customer_changed",
                "customers",
                &records::customer(tx, customer_id)?,
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
            let entry = post(
                tx,
                customer_id,
                "write_off",
                -amount_cents,
                None,
                Some(reason),
                &actor.name,
            )?;
            audit(tx, "ledger", entry, "write_off", &actor.name, &json!({"customer_id": customer_id, "amount": Money(amount_cents), "reason": reason}))?;
            Ok(entry)
        })
    }

    /// The monthly rebate run (`month` = `YYYY-MM`): per customer, a share of the month's net sales
    /// when net units reach the minimum. Idempotent: a month runs once. Returns the entries written.
    pub fn rebate_run(&mut self, actor: &Actor, month: &str) -> Result<Vec<(i64, i64)>> {
        actor.require(MANAGER_ONLY, "run rebates")?;
        if chrono::NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d").is_err() {
            return Err(DeskError::invalid("month", "expected YYYY-MM"));
        }
        // A run marks its month done; the month must be over, or later sales would never count.
        let current = &now()[..7];
        if month >= current {
            return Err(DeskError::invalid(
                "month",
                format!(
                    "{month} is not over yet: rebates are run for a month that has ended (before {current})"
                ),
            ));
        }
        self.atomic(|tx, settings| {
            let done: Option<String> = cached_row(tx, "select month from rebate_runs where month = ?1", params![month], |r| r.get(0)).optional()?;
            if done.is_some() {
                return Ok(Vec::new());
            }
            let rows: Vec<(i64, i64, i64)> = {
                tx.query_map(&format!("with {MONTH_SALES_CTE} select customer_id, sum(units), sum(net) from sold group by customer_id order by customer_id"), params![month], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            };
            let mut written = Vec::new();
            for (customer_id, units, net) in rows {
                if units >= settings.rebate_min_units && net > 0 {
                    let rebate = apply_rate(net, settings.rebate_basis_points);
                    post(tx, customer_id, "rebate", -rebate, None, Some(&format!("rebate {month}")), &actor.name)?;
                    written.push((customer_id, rebate));
                }
            }
            audit(tx, "rebate_runs", month, "rebate_run", &actor.name, &json!({"rebates": written}))?;
            exec(tx, "insert into rebate_runs (month, actor, at) values (?1, ?2, ?3)", params![month, actor.name, now()])?;
            Ok(written)
        })
    }
}

/// Appends a ledger entry (positive = debit) and moves the balance with it.
pub(crate) fn post(
    tx: &Db,
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
    let entry_id = next_id(tx, "ledger", "entry_id")?;
    exec(tx,
        "insert into ledger (entry_id, customer_id, entry_type, amount_cents, balance_after_cents, value_date, order_id, reference, actor, created_at)
         values (?9, ?1, ?2, ?3, ?4, substr(?5, 1, 10), ?6, ?7, ?8, ?5)",
        params![customer_id, entry_type, amount_cents, balance, at, order_id, reference, actor, entry_id],
    )?;
    let mut entry = orderlake_landing::LedgerEntry::new(
        entry_id,
        customer_id,
        entry_type,
        Money(amount_cents.abs()),
        at[..10].to_string(),
    );
    entry.order_id = order_id;
    entry.balance_after = Some(Money(balance));
    event(tx, "ledger_posted", "ledger", &entry)?;
    Ok(entry_id)
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

/// An invoice's VAT (`total`, rounded once for the invoice) shared among its lines' nets by
/// largest remainder: each line gets its exact share rounded down, and the cents left over go to
/// the lines with the largest remainders (ties: the earlier line). The shares sum to `total`.
pub fn allocate_vat(total: i64, nets: &[i64], basis_points: i64) -> Vec<i64> {
    let exact: Vec<i128> = nets
        .iter()
        .map(|n| i128::from(*n) * i128::from(basis_points))
        .collect();
    let mut shares: Vec<i64> = exact.iter().map(|x| (x / 10_000) as i64).collect();
    let mut order: Vec<usize> = (0..nets.len()).collect();
    order.sort_by_key(|&i| (std::cmp::Reverse(exact[i] % 10_000), i));
    let left = total - shares.iter().sum::<i64>();
    for &i in order.iter().take(left.max(0) as usize) {
        shares[i] += 1;
    }
    shares
}

/// Cents as an amount with two decimals (`-1234` → `-12.34`), as the landing files write it.
pub fn cents_text(cents: i64) -> String {
    Money(cents).to_string()
}
