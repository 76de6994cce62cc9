//! The order history: each order's lines, its lifecycle (raised, on hold, cancelled, billed,
//! shipped, delivered), and what billing sets off — stock movements, the invoice, payments,
//! shipments, returns and refunds — then stock counts and the monthly rebate run. Events are
//! NDJSON, high-volume rows Parquet.

use std::collections::BTreeMap;

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime};
use orderlake_landing::{self as landing, Money};
use rand::Rng;
use rand::rngs::StdRng;

use crate::buyers::Buyers;
use crate::master::{Customer, Product, Sites};
use crate::vocabulary::{CANCEL_REASONS, CARRIERS, CHANNELS, RETURN_REASONS};
use crate::writers::{JsonOut, LineRow, LinesOut, MovementRow, MovementsOut};
use crate::{Config, Result, Summary, round_cents, ts};

/// One line of an order being generated.
struct Line<'p> {
    line_no: i32,
    product: &'p Product,
    quantity: i64,
    price_cents: i64,
    discount_cents: i64,
}

/// Where an order's lifecycle ended by the end of the period, and when each step happened.
struct Lifecycle {
    status: &'static str,
    updated_at: NaiveDateTime,
    hold_reason: Option<&'static str>,
    cancel_reason: Option<&'static str>,
    billed_at: NaiveDateTime,
    shipped_at: NaiveDateTime,
    promised_at: NaiveDateTime,
    delivered_at: NaiveDateTime,
}

impl Lifecycle {
    fn is_billed(&self) -> bool {
        matches!(self.status, "billed" | "shipped" | "delivered")
    }
}

/// The event and row writers, the id counters, and the running books (stock on hand, monthly
/// sales for rebates and targets) of the simulation.
pub(crate) struct History<'a> {
    config: &'a Config,
    summary: &'a mut Summary,
    end: NaiveDateTime,
    messy: f64,
    orders: JsonOut,
    lines: LinesOut,
    movements: MovementsOut,
    payments: JsonOut,
    shipments: JsonOut,
    returns: JsonOut,
    ledger: JsonOut,
    /// Earlier versions of orders held back to arrive after their newer version.
    late_orders: Vec<landing::Order>,
    on_hand: BTreeMap<(u64, u64), i64>,
    movement_id: u64,
    ledger_id: i64,
    payment_id: i64,
    return_id: i64,
    /// (customer, month) → (net units, net sales cents), for the rebate run.
    monthly: BTreeMap<(u64, NaiveDate), (i64, i64)>,
    /// (location, month) → net sales cents, for targets.
    pub location_month: BTreeMap<(u64, NaiveDate), i64>,
}

fn month_of(t: NaiveDateTime) -> NaiveDate {
    NaiveDate::from_ymd_opt(t.year(), t.month(), 1).expect("first of month")
}

impl<'a> History<'a> {
    pub fn create(config: &'a Config, summary: &'a mut Summary) -> Result<Self> {
        let out = &config.out;
        Ok(History {
            config,
            summary,
            end: config.as_of_date().and_hms_opt(0, 0, 0).expect("midnight"),
            messy: config.messy(),
            orders: JsonOut::create(out, "orders", 500_000)?,
            lines: LinesOut::create(out, 1_000_000)?,
            movements: MovementsOut::create(out, 1_000_000)?,
            payments: JsonOut::create(out, "payments", 0)?,
            shipments: JsonOut::create(out, "shipments", 0)?,
            returns: JsonOut::create(out, "returns", 0)?,
            ledger: JsonOut::create(out, "ledger", 0)?,
            late_orders: Vec::new(),
            on_hand: BTreeMap::new(),
            movement_id: 0,
            ledger_id: 0,
            payment_id: 0,
            return_id: 0,
            monthly: BTreeMap::new(),
            location_month: BTreeMap::new(),
        })
    }

    fn movement(
        &mut self,
        product_id: u64,
        warehouse_id: u64,
        movement_type: &'static str,
        quantity: i64,
        moved_at: NaiveDateTime,
    ) -> Result<()> {
        self.movement_id += 1;
        self.movements.push(MovementRow {
            movement_id: self.movement_id,
            product_id,
            warehouse_id,
            movement_type,
            quantity,
            moved_at,
        })
    }

    fn post(&mut self, mut entry: landing::LedgerEntry) -> Result<()> {
        self.ledger_id += 1;
        entry.entry_id = self.ledger_id;
        self.ledger.write(&entry)
    }

    /// Opening stock for every product in every warehouse, the day before the first order.
    pub fn opening_stock(
        &mut self,
        rng: &mut StdRng,
        products: &[Product],
        warehouses: u64,
        start: NaiveDateTime,
    ) -> Result<()> {
        for p in products {
            for w in 1..=warehouses {
                let qty = rng.random_range(500..2_000i64);
                self.on_hand.insert((p.id, w), qty);
                self.movement(p.id, w, "receipt", qty, start - Duration::days(1))?;
            }
        }
        Ok(())
    }

    /// One order, from its lines to its return, as far as the period reaches.
    pub fn order(
        &mut self,
        rng: &mut StdRng,
        order_id: u64,
        ordered_at: NaiveDateTime,
        buyers: &mut Buyers,
        products: &[Product],
        sites: &Sites,
    ) -> Result<()> {
        let customer = buyers.pick(ordered_at, rng.random::<f64>());
        let channel = match customer.type_id {
            3 => "phone",
            2 => CHANNELS[rng.random_range(0..3)],
            _ => CHANNELS[rng.random_range(0..CHANNELS.len())],
        };
        let warehouse = sites.warehouse_of(customer.location_id);
        let lines = draw_lines(rng, customer, products, ordered_at);
        let net_cents: i64 = lines
            .iter()
            .map(|l| l.quantity * l.price_cents - l.discount_cents)
            .sum();
        let life = self.lifecycle(rng, ordered_at);
        self.write_order(rng, order_id, customer, channel, ordered_at, &life)?;
        self.write_lines(rng, order_id, ordered_at, &lines)?;
        if !life.is_billed() {
            return Ok(());
        }
        let invoice = self.bill(rng, order_id, customer, warehouse, &lines, net_cents, &life)?;
        self.pay(rng, order_id, customer, invoice, &life)?;
        if life.shipped_at < self.end {
            let carrier = rng.random_range(1..=CARRIERS.len() as u64) as i64;
            let delivered = life.delivered_at < self.end;
            self.shipments.write(&landing::Shipment {
                shipment_id: order_id as i64,
                order_id: order_id as i64,
                carrier_id: carrier,
                warehouse_id: Some(warehouse as i64),
                shipped_at: ts(life.shipped_at),
                promised_at: ts(life.promised_at),
                delivered_at: delivered.then(|| ts(life.delivered_at)),
                updated_at: ts(if delivered {
                    life.delivered_at
                } else {
                    life.shipped_at
                }),
            })?;
        }
        if life.status == "delivered" && rng.random_bool(0.06) {
            self.maybe_return(rng, order_id, customer, warehouse, &lines, &life)?;
        }
        Ok(())
    }

    /// The lifecycle, cut off at the end of the period.
    fn lifecycle(&self, rng: &mut StdRng, ordered_at: NaiveDateTime) -> Lifecycle {
        let end = self.end;
        let recent = end - ordered_at < Duration::days(3);
        let cancelled = rng.random_bool(0.03);
        let outstanding = !cancelled && recent && rng.random_bool(0.5);
        let billed_at = ordered_at + Duration::minutes(rng.random_range(5..360));
        let shipped_at = billed_at + Duration::hours(rng.random_range(2..48));
        let promised_at = shipped_at + Duration::days(rng.random_range(1..5));
        let delivered_at = if rng.random_bool(0.85) {
            shipped_at
                + Duration::minutes(
                    rng.random_range(600..((promised_at - shipped_at).num_minutes().max(601))),
                )
        } else {
            promised_at + Duration::hours(rng.random_range(1..96))
        };
        let (status, updated_at, hold_reason, cancel_reason) = if cancelled {
            (
                "cancelled",
                ordered_at + Duration::minutes(rng.random_range(1..120)),
                None,
                Some(CANCEL_REASONS[rng.random_range(0..CANCEL_REASONS.len())]),
            )
        } else if outstanding {
            if rng.random_bool(0.4) {
                let reason = if rng.random_bool(0.5) {
                    "out of stock"
                } else {
                    "insufficient credit"
                };
                (
                    "on_hold",
                    ordered_at + Duration::minutes(10),
                    Some(reason),
                    None,
                )
            } else {
                ("raised", ordered_at, None, None)
            }
        } else if delivered_at < end {
            ("delivered", delivered_at, None, None)
        } else if shipped_at < end {
            ("shipped", shipped_at, None, None)
        } else if billed_at < end {
            ("billed", billed_at, None, None)
        } else {
            ("raised", ordered_at, None, None)
        };
        Lifecycle {
            status,
            updated_at,
            hold_reason,
            cancel_reason,
            billed_at,
            shipped_at,
            promised_at,
            delivered_at,
        }
    }

    /// The order header: an earlier version sometimes (CDC, sometimes arriving late), the current
    /// one, and with mess, duplicates, null channels, bad dates and truncated JSON.
    fn write_order(
        &mut self,
        rng: &mut StdRng,
        order_id: u64,
        customer: &Customer,
        channel: &str,
        ordered_at: NaiveDateTime,
        life: &Lifecycle,
    ) -> Result<()> {
        let messy = self.messy;
        let version = |status: &str, updated: NaiveDateTime| landing::Order {
            order_id: order_id as i64,
            customer_id: customer.id as i64,
            location_id: customer.location_id as i64,
            channel: Some(channel.to_string()),
            source_system: "erp".into(),
            ordered_at: ts(ordered_at),
            status: status.to_string(),
            hold_reason: life.hold_reason.map(str::to_string),
            cancel_reason: if status == "cancelled" {
                life.cancel_reason.map(str::to_string)
            } else {
                None
            },
            billed_at: (life.is_billed() && status != "raised").then(|| ts(life.billed_at)),
            updated_at: ts(updated),
        };
        let earlier = (life.status != "raised" && rng.random_bool(0.3))
            .then(|| version("raised", ordered_at));
        let late = earlier.is_some() && rng.random_bool(messy);
        if let (Some(e), false) = (&earlier, late) {
            self.orders.write(e)?;
        }
        let mut current = version(life.status, life.updated_at);
        if rng.random_bool(messy) {
            current.channel = None;
        }
        self.orders.write(&current)?;
        if rng.random_bool(messy) {
            self.orders.write(&current)?;
            self.summary.duplicates += 1;
        }
        if let (Some(e), true) = (earlier, late) {
            self.late_orders.push(e);
            self.summary.late_updates += 1;
        }
        if rng.random_bool(messy / 4.0) {
            let mut bad = version("raised", ordered_at);
            bad.order_id = (self.config.orders + 1_000_000 + order_id) as i64;
            bad.ordered_at = "2024-13-45 25:61:00".into();
            self.orders.write(&bad)?;
            self.summary.malformed("orders: bad date");
        }
        if rng.random_bool(messy / 4.0) {
            self.orders.raw_line(&format!(
                "{{\"order_id\": {}, \"customer_id\": ",
                self.config.orders + 2_000_000 + order_id
            ))?;
            self.summary.malformed("orders: truncated JSON");
        }
        self.summary.orders += 1;
        Ok(())
    }

    /// The order's lines, with mess: duplicates, an unknown product, a negative quantity.
    fn write_lines(
        &mut self,
        rng: &mut StdRng,
        order_id: u64,
        ordered_at: NaiveDateTime,
        lines: &[Line<'_>],
    ) -> Result<()> {
        let messy = self.messy;
        let row = |line_no, product_id, quantity, unit_price_cents, discount_cents| LineRow {
            order_id,
            line_no,
            product_id,
            quantity,
            unit_price_cents,
            discount_cents,
            updated_at: ordered_at,
        };
        for l in lines {
            let r = row(
                l.line_no,
                l.product.id,
                l.quantity,
                l.price_cents,
                l.discount_cents,
            );
            self.lines.push(r.clone())?;
            self.summary.order_lines += 1;
            if rng.random_bool(messy) {
                self.lines.push(r)?;
                self.summary.duplicates += 1;
            }
        }
        if rng.random_bool(messy / 4.0) {
            self.lines.push(row(90, 999_999, 1, 100, 0))?;
            self.summary.malformed("order_lines: unknown product");
        }
        if rng.random_bool(messy / 4.0) {
            self.lines.push(row(91, lines[0].product.id, -3, 100, 0))?;
            self.summary.malformed("order_lines: negative quantity");
        }
        Ok(())
    }

    /// Billing: stock leaves the warehouse (restocked first when it runs low) and the invoice is
    /// debited. Returns the invoice amount in cents.
    #[allow(clippy::too_many_arguments)]
    fn bill(
        &mut self,
        rng: &mut StdRng,
        order_id: u64,
        customer: &Customer,
        warehouse: u64,
        lines: &[Line<'_>],
        net_cents: i64,
        life: &Lifecycle,
    ) -> Result<i64> {
        let billed_at = life.billed_at;
        let mut units = 0;
        for l in lines {
            let stock = *self.on_hand.entry((l.product.id, warehouse)).or_insert(0);
            if stock < l.quantity * 3 {
                let receipt = l.quantity * 3 + rng.random_range(300..1_500i64);
                self.movement(
                    l.product.id,
                    warehouse,
                    "receipt",
                    receipt,
                    billed_at - Duration::minutes(30),
                )?;
                *self.on_hand.entry((l.product.id, warehouse)).or_insert(0) += receipt;
            }
            *self.on_hand.entry((l.product.id, warehouse)).or_insert(0) -= l.quantity;
            units += l.quantity;
            self.movement(l.product.id, warehouse, "sale", -l.quantity, billed_at)?;
        }
        // A sale counts toward rebates and targets in the month it was billed.
        let month = month_of(billed_at);
        let entry = self.monthly.entry((customer.id, month)).or_default();
        entry.0 += units;
        entry.1 += net_cents;
        *self
            .location_month
            .entry((customer.location_id, month))
            .or_default() += net_cents;
        let invoice = net_cents + self.config.vat_cents(net_cents);
        let mut entry = landing::LedgerEntry::new(
            0,
            customer.id as i64,
            "invoice",
            Money(invoice),
            billed_at.date().to_string(),
        );
        entry.order_id = Some(order_id as i64);
        self.post(entry)?;
        Ok(invoice)
    }

    /// Payments: most pay in full, some in part, some not yet.
    fn pay(
        &mut self,
        rng: &mut StdRng,
        order_id: u64,
        customer: &Customer,
        invoice: i64,
        life: &Lifecycle,
    ) -> Result<()> {
        let u: f64 = rng.random();
        let paid = if u < 0.82 {
            invoice
        } else if u < 0.92 {
            invoice / 2
        } else {
            0
        };
        let paid_at = life.billed_at + Duration::days(rng.random_range(3..60));
        if paid > 0 && paid_at < self.end {
            self.payment_id += 1;
            let method = ["bank_transfer", "card", "cash", "mobile_money"][rng.random_range(0..4)];
            let payment = landing::Payment {
                payment_id: self.payment_id,
                customer_id: customer.id as i64,
                order_id: Some(order_id as i64),
                amount: Money(paid),
                paid_at: ts(paid_at),
                method: Some(method.into()),
            };
            self.payments.write(&payment)?;
            if rng.random_bool(self.messy) {
                self.payments.write(&payment)?;
                self.summary.duplicates += 1;
            }
            let mut entry = landing::LedgerEntry::new(
                0,
                customer.id as i64,
                "payment",
                Money(paid),
                paid_at.date().to_string(),
            );
            entry.order_id = Some(order_id as i64);
            entry.payment_id = Some(self.payment_id);
            self.post(entry)?;
        }
        Ok(())
    }

    /// A return after delivery (never more than sold), refunded with VAT; the units go back to
    /// stock unless damaged.
    fn maybe_return(
        &mut self,
        rng: &mut StdRng,
        order_id: u64,
        customer: &Customer,
        warehouse: u64,
        lines: &[Line<'_>],
        life: &Lifecycle,
    ) -> Result<()> {
        let line = &lines[rng.random_range(0..lines.len())];
        let returned = rng.random_range(1..=line.quantity);
        let returned_at = life.delivered_at
            + Duration::days(rng.random_range(1..20))
            + Duration::hours(rng.random_range(0..10));
        if returned_at >= self.end {
            return Ok(());
        }
        self.return_id += 1;
        let reason = RETURN_REASONS[rng.random_range(0..RETURN_REASONS.len())];
        self.returns.write(&landing::Return {
            return_id: self.return_id,
            order_id: order_id as i64,
            line_no: i64::from(line.line_no),
            quantity: returned,
            reason: reason.into(),
            returned_at: ts(returned_at),
        })?;
        // The refund note: the returned units' net (the line's discount prorated, to the cent),
        // plus its VAT rounded once.
        let refunded_net =
            returned * line.price_cents - div_round(line.discount_cents * returned, line.quantity);
        let refund = refunded_net + self.config.vat_cents(refunded_net);
        let mut entry = landing::LedgerEntry::new(
            0,
            customer.id as i64,
            "refund",
            Money(refund),
            returned_at.date().to_string(),
        );
        entry.order_id = Some(order_id as i64);
        entry.return_id = Some(self.return_id);
        self.post(entry)?;
        if reason != "damaged" {
            self.movement(line.product.id, warehouse, "return", returned, returned_at)?;
            *self
                .on_hand
                .entry((line.product.id, warehouse))
                .or_insert(0) += returned;
        }
        let entry = self
            .monthly
            .entry((customer.id, month_of(returned_at)))
            .or_default();
        entry.0 -= returned;
        entry.1 -= refunded_net;
        Ok(())
    }

    /// After the last order: the held-back late versions arrive, stock counts adjust a few
    /// products (never below zero), and the monthly rebate run posts 5% of net sales for
    /// customers with at least 1000 net units. Returns the files written with their rows.
    pub fn finish(mut self, rng: &mut StdRng) -> Result<Vec<(String, u64)>> {
        for row in std::mem::take(&mut self.late_orders) {
            self.orders.write(&row)?;
        }
        let stock: Vec<((u64, u64), i64)> = self.on_hand.iter().map(|(k, v)| (*k, *v)).collect();
        for ((product_id, warehouse_id), on_hand) in stock {
            if rng.random_bool(0.05) {
                let delta = rng.random_range(-5..6i64).max(-on_hand);
                if delta != 0 {
                    let at = self.end - Duration::hours(rng.random_range(1..48));
                    self.movement(product_id, warehouse_id, "adjustment", delta, at)?;
                }
            }
        }
        let monthly = std::mem::take(&mut self.monthly);
        for ((customer_id, month), (units, sales)) in &monthly {
            let run_date = month
                .checked_add_months(chrono::Months::new(1))
                .unwrap_or(*month);
            if *units >= 1000
                && *sales > 0
                && run_date.and_hms_opt(0, 0, 0).is_some_and(|d| d < self.end)
            {
                let mut entry = landing::LedgerEntry::new(
                    0,
                    *customer_id as i64,
                    "rebate",
                    Money(round_cents(*sales as f64 * 0.05)),
                    run_date.to_string(),
                );
                entry.month = Some(month.to_string());
                self.post(entry)?;
            }
        }
        let History {
            orders,
            lines,
            movements,
            payments,
            shipments,
            returns,
            ledger,
            ..
        } = self;
        Ok(orders
            .finish()?
            .into_iter()
            .chain(lines.finish()?)
            .chain(movements.finish()?)
            .chain(payments.finish()?)
            .chain(shipments.finish()?)
            .chain(returns.finish()?)
            .chain(ledger.finish()?)
            .collect())
    }
}

/// `a / b` rounded half away from zero.
fn div_round(a: i64, b: i64) -> i64 {
    let q = (2 * a.abs() + b.abs()) / (2 * b.abs());
    if (a < 0) != (b < 0) { -q } else { q }
}

/// 1–5 distinct products; quantities by customer type; a discount on a quarter of the lines.
fn draw_lines<'p>(
    rng: &mut StdRng,
    customer: &Customer,
    products: &'p [Product],
    ordered_at: NaiveDateTime,
) -> Vec<Line<'p>> {
    let n_lines = match customer.type_id {
        3 => rng.random_range(2..6),
        2 => rng.random_range(1..5),
        _ => rng.random_range(1..4),
    };
    let mut lines = Vec::new();
    let mut used = Vec::new();
    for line_no in 1..=n_lines {
        let product = loop {
            let p = &products[((rng.random::<f64>().powf(1.5)) * products.len() as f64) as usize
                % products.len()];
            if !used.contains(&p.id) {
                break p;
            }
        };
        used.push(product.id);
        let quantity: i64 = match customer.type_id {
            3 => rng.random_range(40..220),
            2 => rng.random_range(5..40),
            _ => rng.random_range(1..5),
        };
        let version = product.at(ordered_at);
        let gross = quantity * version.price_cents;
        let discount_cents = if rng.random_bool(0.25) {
            round_cents(gross as f64 * f64::from(rng.random_range(5..16u32)) / 100.0)
        } else {
            0
        };
        lines.push(Line {
            line_no,
            product,
            quantity,
            price_cents: version.price_cents,
            discount_cents,
        });
    }
    lines
}
