//! Source files that an order business produces, realistic and deterministic for a seed.
//!
//! Master data arrives as CSV, events as NDJSON, high-volume lines as Parquet — the mix real
//! sources have. Orders follow weekday, hour and seasonal patterns; prices and costs change over
//! time; shipments are late at a realistic rate; returns never exceed what was sold; stock never
//! goes below zero; the ledger agrees with orders, payments, refunds and rebates.
//!
//! With `messy > 0`, a share of rows is duplicated, updated late (an older version arriving
//! after a newer one), nulled, or malformed (bad dates, negative quantities, unknown products,
//! broken CSV quoting, truncated JSON) — each kind counted in the [`Summary`].
//!
//! Writing streams: memory stays bounded by the number of customers and products, not orders.

mod writers;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, Timelike, Weekday};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;

use writers::{CsvOut, JsonOut, LineRow, LinesOut, MovementRow, MovementsOut};

#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Write(String),
    #[error("{0}")]
    Invalid(String),
}

pub type Result<T, E = GenerateError> = std::result::Result<T, E>;

/// What to generate.
#[derive(Debug, Clone)]
pub struct Config {
    pub out: PathBuf,
    pub orders: u64,
    pub days: u32,
    pub seed: u64,
    /// Share of rows made messy (0 = clean).
    pub messy: f64,
    /// The first day of orders.
    pub start: NaiveDate,
    /// VAT rate of invoices and refunds.
    pub vat_rate: f64,
}

impl Config {
    pub fn new(out: impl Into<PathBuf>, orders: u64) -> Self {
        Config {
            out: out.into(),
            orders,
            days: 180,
            seed: 42,
            messy: 0.0,
            start: NaiveDate::from_ymd_opt(2024, 1, 1).expect("valid date"),
            vat_rate: 0.075,
        }
    }

    /// The day after the last generated day: the natural `as_of_date`.
    pub fn as_of_date(&self) -> NaiveDate {
        self.start + Duration::days(i64::from(self.days))
    }
}

/// What was written, with the mess injected, so tests can account for every row.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Summary {
    pub files: BTreeMap<String, u64>,
    pub orders: u64,
    pub order_lines: u64,
    pub customers: u64,
    pub products: u64,
    pub duplicates: u64,
    pub late_updates: u64,
    pub malformed: BTreeMap<String, u64>,
    pub as_of_date: String,
}

impl Summary {
    fn malformed(&mut self, kind: &str) {
        *self.malformed.entry(kind.to_string()).or_default() += 1;
    }
}

/// A state and its cities.
type State = (&'static str, &'static [&'static str]);
/// Region, country and its states.
const REGIONS: &[(&str, &str, &[State])] = &[
    (
        "North",
        "Nigeria",
        &[
            ("Kano", &["Kano", "Wudil"]),
            ("Kaduna", &["Kaduna", "Zaria"]),
        ],
    ),
    (
        "South",
        "Nigeria",
        &[
            ("Rivers", &["Port Harcourt", "Bonny"]),
            ("Lagos", &["Ikeja", "Lekki", "Epe"]),
        ],
    ),
    (
        "West",
        "Ghana",
        &[
            ("Greater Accra", &["Accra", "Tema"]),
            ("Ashanti", &["Kumasi"]),
        ],
    ),
    (
        "East",
        "Kenya",
        &[
            ("Nairobi", &["Nairobi", "Karen"]),
            ("Mombasa", &["Mombasa"]),
        ],
    ),
];
const MANAGERS: &[(&str, &str)] = &[
    ("Amina", "Bello"),
    ("Chidi", "Okafor"),
    ("Kofi", "Mensah"),
    ("Wanjiru", "Kamau"),
    ("Tunde", "Adeyemi"),
    ("Esi", "Owusu"),
    ("Otieno", "Odhiambo"),
    ("Ngozi", "Eze"),
];
const CATEGORIES: &[(&str, &[&str])] = &[
    ("Beverages", &["Malta", "Chapman", "Zobo Fresh"]),
    ("Snacks", &["Crunchy", "Plantain Co"]),
    ("Household", &["Brightly", "Klean"]),
    ("Personal Care", &["Glow", "Shea Pure"]),
    ("Staples", &["Golden Grain", "Mama's"]),
];
const CHANNELS: &[&str] = &["store", "web", "phone", "marketplace"];
const CARRIERS: &[&str] = &[
    "SwiftHaul",
    "RoadRunner Logistics",
    "CityDash",
    "Continental Freight",
];
const RETURN_REASONS: &[&str] = &[
    "damaged",
    "wrong item",
    "not as described",
    "late delivery",
    "changed mind",
];
const CANCEL_REASONS: &[&str] = &[
    "customer request",
    "duplicate order",
    "payment failed",
    "out of stock",
];

struct Customer {
    id: u64,
    type_id: u64,
    location_id: u64,
}

struct ProductVersion {
    from: NaiveDateTime,
    price_cents: i64,
    cost_cents: i64,
}

struct Product {
    id: u64,
    versions: Vec<ProductVersion>,
}

impl Product {
    fn at(&self, t: NaiveDateTime) -> &ProductVersion {
        self.versions
            .iter()
            .rev()
            .find(|v| v.from <= t)
            .unwrap_or(&self.versions[0])
    }
}

pub fn money(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    format!("{sign}{}.{:02}", cents.abs() / 100, cents.abs() % 100)
}

pub fn ts(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%d %H:%M:%S").to_string()
}

/// Rounds `x` cents half away from zero.
fn round_cents(x: f64) -> i64 {
    x.round() as i64
}

/// Generates every source file into `config.out`. `progress` is told the orders done so far.
pub fn generate(config: &Config, progress: &dyn Fn(u64)) -> Result<Summary> {
    if config.orders == 0 {
        return Err(GenerateError::Invalid("--orders must be at least 1".into()));
    }
    if config.days == 0 {
        return Err(GenerateError::Invalid("--days must be at least 1".into()));
    }
    std::fs::create_dir_all(&config.out).map_err(|e| GenerateError::Io {
        path: config.out.clone(),
        source: e,
    })?;
    let mut rng = StdRng::seed_from_u64(config.seed);
    let mut summary = Summary {
        as_of_date: config.as_of_date().to_string(),
        ..Default::default()
    };
    let start = config.start.and_hms_opt(0, 0, 0).expect("midnight");
    let end = config.as_of_date().and_hms_opt(0, 0, 0).expect("midnight");
    let out = &config.out;
    let messy = config.messy.clamp(0.0, 1.0);

    // Territories and locations.
    let mut territories = CsvOut::create(
        out,
        "territories.csv",
        &[
            "territory_id",
            "territory_name",
            "manager_first_name",
            "manager_last_name",
            "updated_at",
        ],
    )?;
    let mut locations = CsvOut::create(
        out,
        "locations.csv",
        &[
            "location_id",
            "region",
            "country",
            "state",
            "city",
            "territory_id",
            "updated_at",
        ],
    )?;
    let mut location_ids = Vec::new();
    let mut location_region = BTreeMap::new();
    let mut territory_id = 0u64;
    let mut location_id = 0u64;
    for (r, (region, country, states)) in REGIONS.iter().enumerate() {
        for (s, (state, cities)) in states.iter().enumerate() {
            territory_id += 1;
            let (first, last) = MANAGERS[(r * 2 + s) % MANAGERS.len()];
            territories.row(&[
                &territory_id.to_string(),
                &format!("{region} {state}"),
                first,
                last,
                &ts(start - Duration::days(400)),
            ])?;
            for city in *cities {
                location_id += 1;
                locations.row(&[
                    &location_id.to_string(),
                    region,
                    country,
                    state,
                    city,
                    &territory_id.to_string(),
                    &ts(start - Duration::days(400)),
                ])?;
                location_ids.push(location_id);
                location_region.insert(location_id, r);
            }
        }
    }
    summary
        .files
        .insert("territories.csv".into(), territories.finish()?);
    summary
        .files
        .insert("locations.csv".into(), locations.finish()?);

    let mut types = CsvOut::create(
        out,
        "customer_types.csv",
        &["customer_type_id", "customer_type"],
    )?;
    for (i, t) in ["Retail", "Wholesale", "Distributor"].iter().enumerate() {
        types.row(&[&(i + 1).to_string(), t])?;
    }
    summary
        .files
        .insert("customer_types.csv".into(), types.finish()?);

    // Warehouses (one per region) and carriers.
    let mut warehouses = CsvOut::create(
        out,
        "warehouses.csv",
        &["warehouse_id", "warehouse_name", "location_id"],
    )?;
    let mut region_first_location = BTreeMap::new();
    for (loc, region) in &location_region {
        region_first_location.entry(*region).or_insert(*loc);
    }
    for (region, loc) in &region_first_location {
        warehouses.row(&[
            &(region + 1).to_string(),
            &format!("{} DC", REGIONS[*region].0),
            &loc.to_string(),
        ])?;
    }
    summary
        .files
        .insert("warehouses.csv".into(), warehouses.finish()?);
    let mut carriers = CsvOut::create(out, "carriers.csv", &["carrier_id", "carrier_name"])?;
    for (i, c) in CARRIERS.iter().enumerate() {
        carriers.row(&[&(i + 1).to_string(), c])?;
    }
    summary
        .files
        .insert("carriers.csv".into(), carriers.finish()?);

    // Customers: the most active are distributors and wholesalers (index order = activity).
    let n_customers = (config.orders / 25).clamp(40, 200_000);
    let mut customers_out = CsvOut::create(
        out,
        "customers.csv",
        &[
            "customer_id",
            "customer_name",
            "customer_type_id",
            "email",
            "location_id",
            "registered_at",
            "credit_limit",
            "updated_at",
        ],
    )?;
    let mut customers = Vec::new();
    let names = [
        "Ade", "Bisi", "Chika", "Dayo", "Efe", "Femi", "Gbenga", "Halima", "Ife", "Jide", "Kemi",
        "Lola",
    ];
    let suffixes = [
        "Stores",
        "Mart",
        "Traders",
        "Supplies",
        "Ventures",
        "& Sons",
        "Enterprises",
        "Retail",
    ];
    for i in 0..n_customers {
        let id = i + 1;
        let type_id = if i % 12 == 0 {
            3
        } else if i % 3 == 0 {
            2
        } else {
            1
        };
        let location = location_ids[rng.random_range(0..location_ids.len())];
        let name = format!(
            "{} {} {}",
            names[(i as usize) % names.len()],
            suffixes[(i as usize / names.len()) % suffixes.len()],
            id
        );
        let limit_cents: i64 = match type_id {
            3 => rng.random_range(1_000_000..4_000_000) * 100,
            2 => rng.random_range(200_000..800_000) * 100,
            _ => rng.random_range(2_000..10_000) * 100,
        };
        let registered = start - Duration::days(rng.random_range(30..700))
            + Duration::minutes(rng.random_range(0..1440));
        let email = if rng.random_bool(messy) {
            String::new()
        } else {
            format!("buyer{id}@example.com")
        };
        customers_out.row(&[
            &id.to_string(),
            &name,
            &type_id.to_string(),
            &email,
            &location.to_string(),
            &ts(registered),
            &money(limit_cents),
            &ts(registered),
        ])?;
        customers.push(Customer {
            id,
            type_id,
            location_id: location,
        });
    }
    if messy > 0.0 {
        // Broken quoting: an unterminated quoted field.
        customers_out.raw_line(&format!(
            "{},\"Broken \"\"Quote Co,1,x@example.com,1,{},100.00,{}",
            n_customers + 1,
            ts(start),
            ts(start)
        ))?;
        summary.malformed("customers: broken CSV quoting");
    }
    summary.customers = n_customers;
    summary
        .files
        .insert("customers.csv".into(), customers_out.finish()?);

    // Products, each with price/cost versions over the period.
    let n_products = (config.orders / 40).clamp(25, 2_000);
    let mut products_out = CsvOut::create(
        out,
        "products.csv",
        &[
            "product_id",
            "description",
            "brand",
            "category",
            "unit_price",
            "unit_cost",
            "updated_at",
        ],
    )?;
    let mut products = Vec::new();
    for i in 0..n_products {
        let id = i + 1;
        let (category, brands) = CATEGORIES[(i as usize) % CATEGORIES.len()];
        let brand = brands[rng.random_range(0..brands.len())];
        let description = format!("{brand} {category} item {id}");
        let mut price = rng.random_range(150..20_000i64);
        let mut cost = price * rng.random_range(40..75i64) / 100;
        let mut versions = vec![ProductVersion {
            from: start - Duration::days(365),
            price_cents: price,
            cost_cents: cost,
        }];
        for _ in 0..rng.random_range(0..3u32) {
            let from = start
                + Duration::days(rng.random_range(0..i64::from(config.days)))
                + Duration::hours(rng.random_range(0..24));
            price = price * rng.random_range(92..115i64) / 100;
            cost = (cost * rng.random_range(95..110i64) / 100).min(price);
            versions.push(ProductVersion {
                from,
                price_cents: price.max(1),
                cost_cents: cost.max(1),
            });
        }
        versions.sort_by_key(|v| v.from);
        for v in &versions {
            products_out.row(&[
                &id.to_string(),
                &description,
                brand,
                category,
                &money(v.price_cents),
                &money(v.cost_cents),
                &ts(v.from),
            ])?;
        }
        products.push(Product { id, versions });
    }
    summary.products = n_products;
    summary
        .files
        .insert("products.csv".into(), products_out.finish()?);

    // Order times: seasonal, weekday and hour patterns; sorted so stock is tracked in time order.
    let mut times: Vec<NaiveDateTime> = Vec::with_capacity(config.orders as usize);
    while (times.len() as u64) < config.orders {
        let day = rng.random_range(0..i64::from(config.days));
        let date = config.start + Duration::days(day);
        let weekday = match date.weekday() {
            Weekday::Sat => 1.25,
            Weekday::Sun => 0.6,
            Weekday::Fri => 1.1,
            _ => 1.0,
        };
        let trend = 0.7 + 0.6 * (day as f64 / f64::from(config.days));
        let season =
            1.0 + 0.25 * ((date.month() as f64 - 1.0) / 12.0 * std::f64::consts::TAU).cos();
        if rng.random::<f64>() * 2.2 > weekday * trend * season {
            continue;
        }
        // Hours: a morning and an evening peak.
        let hour = loop {
            let h: u32 = rng.random_range(0..24);
            let w = match h {
                0..=5 => 0.05,
                6..=8 => 0.5,
                9..=12 => 1.0,
                13..=16 => 0.7,
                17..=21 => 0.95,
                _ => 0.3,
            };
            if rng.random::<f64>() < w {
                break h;
            }
        };
        let t = date
            .and_hms_opt(hour, rng.random_range(0..60), rng.random_range(0..60))
            .expect("valid time");
        times.push(t);
    }
    times.sort();

    let mut orders_out = JsonOut::create(out, "orders", 500_000)?;
    let mut lines_out = LinesOut::create(out, 1_000_000)?;
    let mut movements_out = MovementsOut::create(out, 1_000_000)?;
    let mut payments_out = JsonOut::create(out, "payments", 0)?;
    let mut shipments_out = JsonOut::create(out, "shipments", 0)?;
    let mut returns_out = JsonOut::create(out, "returns", 0)?;
    let mut ledger_out = JsonOut::create(out, "ledger", 0)?;
    let mut late_orders: Vec<serde_json::Value> = Vec::new();

    let n_warehouses = region_first_location.len() as u64;
    let mut on_hand: BTreeMap<(u64, u64), i64> = BTreeMap::new();
    let mut movement_id = 0u64;
    let mut ledger_id = 0u64;
    let mut payment_id = 0u64;
    let mut return_id = 0u64;
    // (customer, month) -> (net units, net sales cents) for the rebate run.
    let mut monthly: BTreeMap<(u64, NaiveDate), (i64, i64)> = BTreeMap::new();
    // (location, month) -> net sales cents, for targets.
    let mut location_month: BTreeMap<(u64, NaiveDate), i64> = BTreeMap::new();
    let month_of =
        |t: NaiveDateTime| NaiveDate::from_ymd_opt(t.year(), t.month(), 1).expect("first of month");

    // Opening stock for every product in every warehouse.
    for p in &products {
        for w in 1..=n_warehouses {
            movement_id += 1;
            let qty = rng.random_range(500..2_000i64);
            on_hand.insert((p.id, w), qty);
            movements_out.push(MovementRow {
                movement_id,
                product_id: p.id,
                warehouse_id: w,
                movement_type: "receipt",
                quantity: qty,
                moved_at: start - Duration::days(1),
            })?;
        }
    }

    for (index, ordered_at) in times.iter().copied().enumerate() {
        let order_id = index as u64 + 1;
        let customer = &customers
            [((rng.random::<f64>().powf(1.8)) * n_customers as f64) as usize % customers.len()];
        let channel = match customer.type_id {
            3 => "phone",
            2 => CHANNELS[rng.random_range(0..3)],
            _ => CHANNELS[rng.random_range(0..CHANNELS.len())],
        };
        let warehouse = (*location_region.get(&customer.location_id).unwrap_or(&0) as u64) + 1;
        let n_lines = match customer.type_id {
            3 => rng.random_range(2..6),
            2 => rng.random_range(1..5),
            _ => rng.random_range(1..4),
        };
        let mut line_items = Vec::new();
        let mut used = Vec::new();
        for line_no in 1..=n_lines {
            let product = loop {
                let p = &products[((rng.random::<f64>().powf(1.5)) * n_products as f64) as usize
                    % products.len()];
                if !used.contains(&p.id) {
                    break p;
                }
            };
            used.push(product.id);
            let qty: i64 = match customer.type_id {
                3 => rng.random_range(40..220),
                2 => rng.random_range(5..40),
                _ => rng.random_range(1..5),
            };
            let version = product.at(ordered_at);
            let gross = qty * version.price_cents;
            let discount = if rng.random_bool(0.25) {
                round_cents(gross as f64 * f64::from(rng.random_range(5..16u32)) / 100.0)
            } else {
                0
            };
            line_items.push((
                line_no,
                product,
                qty,
                version.price_cents,
                version.cost_cents,
                discount,
            ));
        }
        let net_cents: i64 = line_items.iter().map(|l| l.2 * l.3 - l.5).sum();

        // The lifecycle, cut off at the end of the period.
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
        let is_billed = matches!(status, "billed" | "shipped" | "delivered");
        let order_row = |status: &str, updated: NaiveDateTime| {
            json!({
                "order_id": order_id,
                "customer_id": customer.id,
                "location_id": customer.location_id,
                "channel": channel,
                "source_system": "erp",
                "ordered_at": ts(ordered_at),
                "status": status,
                "hold_reason": hold_reason,
                "cancel_reason": if status == "cancelled" { cancel_reason } else { None },
                "billed_at": if is_billed && status != "raised" { Some(ts(billed_at)) } else { None },
                "updated_at": ts(updated),
            })
        };
        // Earlier versions of the same order (CDC), then the current one.
        let earlier =
            (status != "raised" && rng.random_bool(0.3)).then(|| order_row("raised", ordered_at));
        let late = earlier.is_some() && rng.random_bool(messy);
        if let (Some(e), false) = (&earlier, late) {
            orders_out.write(e)?;
        }
        let mut current = order_row(status, updated_at);
        if rng.random_bool(messy) {
            current["channel"] = serde_json::Value::Null;
        }
        orders_out.write(&current)?;
        if rng.random_bool(messy) {
            orders_out.write(&current)?;
            summary.duplicates += 1;
        }
        if let (Some(e), true) = (earlier, late) {
            late_orders.push(e);
            summary.late_updates += 1;
        }
        if rng.random_bool(messy / 4.0) {
            let mut bad = order_row("raised", ordered_at);
            bad["order_id"] = json!(config.orders + 1_000_000 + order_id);
            bad["ordered_at"] = json!("2024-13-45 25:61:00");
            orders_out.write(&bad)?;
            summary.malformed("orders: bad date");
        }
        if rng.random_bool(messy / 4.0) {
            orders_out.raw_line(&format!(
                "{{\"order_id\": {}, \"customer_id\": ",
                config.orders + 2_000_000 + order_id
            ))?;
            summary.malformed("orders: truncated JSON");
        }
        summary.orders += 1;

        for (line_no, product, qty, price, _cost, discount) in &line_items {
            let row = LineRow {
                order_id,
                line_no: *line_no,
                product_id: product.id,
                quantity: *qty,
                unit_price_cents: *price,
                discount_cents: *discount,
                updated_at: ordered_at,
            };
            lines_out.push(row.clone())?;
            summary.order_lines += 1;
            if rng.random_bool(messy) {
                lines_out.push(row)?;
                summary.duplicates += 1;
            }
        }
        if rng.random_bool(messy / 4.0) {
            lines_out.push(LineRow {
                order_id,
                line_no: 90,
                product_id: 999_999,
                quantity: 1,
                unit_price_cents: 100,
                discount_cents: 0,
                updated_at: ordered_at,
            })?;
            summary.malformed("order_lines: unknown product");
        }
        if rng.random_bool(messy / 4.0) {
            lines_out.push(LineRow {
                order_id,
                line_no: 91,
                product_id: line_items[0].1.id,
                quantity: -3,
                unit_price_cents: 100,
                discount_cents: 0,
                updated_at: ordered_at,
            })?;
            summary.malformed("order_lines: negative quantity");
        }

        if !is_billed {
            progress(order_id);
            continue;
        }
        // Billing: stock leaves the warehouse (restocked first when it runs low), invoice debited.
        let month = month_of(ordered_at);
        let mut units = 0;
        for (_, product, qty, _, _, _) in &line_items {
            let stock = on_hand.entry((product.id, warehouse)).or_insert(0);
            if *stock < qty * 3 {
                let receipt = qty * 3 + rng.random_range(300..1_500i64);
                movement_id += 1;
                movements_out.push(MovementRow {
                    movement_id,
                    product_id: product.id,
                    warehouse_id: warehouse,
                    movement_type: "receipt",
                    quantity: receipt,
                    moved_at: billed_at - Duration::minutes(30),
                })?;
                *stock += receipt;
            }
            *stock -= qty;
            units += qty;
            movement_id += 1;
            movements_out.push(MovementRow {
                movement_id,
                product_id: product.id,
                warehouse_id: warehouse,
                movement_type: "sale",
                quantity: -qty,
                moved_at: billed_at,
            })?;
        }
        let entry = monthly.entry((customer.id, month)).or_default();
        entry.0 += units;
        entry.1 += net_cents;
        *location_month
            .entry((customer.location_id, month_of(ordered_at)))
            .or_default() += net_cents;
        let invoice = round_cents(net_cents as f64 * (1.0 + config.vat_rate));
        ledger_id += 1;
        ledger_out.write(&json!({"entry_id": ledger_id, "customer_id": customer.id, "entry_type": "invoice", "amount": money(invoice), "value_date": billed_at.date().to_string(), "order_id": order_id}))?;

        // Payments: most pay in full, some in part, some not yet.
        let u: f64 = rng.random();
        let paid = if u < 0.82 {
            invoice
        } else if u < 0.92 {
            invoice / 2
        } else {
            0
        };
        let paid_at = billed_at + Duration::days(rng.random_range(3..60));
        if paid > 0 && paid_at < end {
            payment_id += 1;
            ledger_id += 1;
            let method = ["bank_transfer", "card", "cash", "mobile_money"][rng.random_range(0..4)];
            let payment = json!({"payment_id": payment_id, "customer_id": customer.id, "order_id": order_id, "amount": money(paid), "paid_at": ts(paid_at), "method": method});
            payments_out.write(&payment)?;
            if rng.random_bool(messy) {
                payments_out.write(&payment)?;
                summary.duplicates += 1;
            }
            ledger_out.write(&json!({"entry_id": ledger_id, "customer_id": customer.id, "entry_type": "payment", "amount": money(paid), "value_date": paid_at.date().to_string(), "order_id": order_id, "payment_id": payment_id}))?;
        }

        if shipped_at < end {
            let carrier = rng.random_range(1..=CARRIERS.len() as u64);
            let shipment = json!({
                "shipment_id": order_id,
                "order_id": order_id,
                "carrier_id": carrier,
                "warehouse_id": warehouse,
                "shipped_at": ts(shipped_at),
                "promised_at": ts(promised_at),
                "delivered_at": if delivered_at < end { Some(ts(delivered_at)) } else { None },
                "updated_at": ts(if delivered_at < end { delivered_at } else { shipped_at }),
            });
            shipments_out.write(&shipment)?;
        }

        // Returns: after delivery, never more than sold.
        if status == "delivered" && rng.random_bool(0.06) {
            let (line_no, product, qty, price, _, discount) =
                &line_items[rng.random_range(0..line_items.len())];
            let returned = rng.random_range(1..=*qty);
            let returned_at = delivered_at
                + Duration::days(rng.random_range(1..20))
                + Duration::hours(rng.random_range(0..10));
            if returned_at < end {
                return_id += 1;
                let reason = RETURN_REASONS[rng.random_range(0..RETURN_REASONS.len())];
                returns_out.write(&json!({"return_id": return_id, "order_id": order_id, "line_no": line_no, "quantity": returned, "reason": reason, "returned_at": ts(returned_at)}))?;
                let refunded_net = returned as f64 * *price as f64
                    - *discount as f64 * returned as f64 / *qty as f64;
                let refund = round_cents(refunded_net * (1.0 + config.vat_rate));
                ledger_id += 1;
                ledger_out.write(&json!({"entry_id": ledger_id, "customer_id": customer.id, "entry_type": "refund", "amount": money(refund), "value_date": returned_at.date().to_string(), "order_id": order_id, "return_id": return_id}))?;
                if reason != "damaged" {
                    movement_id += 1;
                    movements_out.push(MovementRow {
                        movement_id,
                        product_id: product.id,
                        warehouse_id: warehouse,
                        movement_type: "return",
                        quantity: returned,
                        moved_at: returned_at,
                    })?;
                    *on_hand.entry((product.id, warehouse)).or_insert(0) += returned;
                }
                let entry = monthly
                    .entry((customer.id, month_of(returned_at)))
                    .or_default();
                entry.0 -= returned;
                entry.1 -= round_cents(refunded_net);
            }
        }
        progress(order_id);
    }
    for row in late_orders {
        orders_out.write(&row)?;
    }

    // Stock counts: a few adjustments, never below zero.
    for ((product_id, warehouse_id), stock) in on_hand.iter() {
        if rng.random_bool(0.05) {
            let delta = rng.random_range(-5..6i64).max(-stock);
            if delta != 0 {
                movement_id += 1;
                movements_out.push(MovementRow {
                    movement_id,
                    product_id: *product_id,
                    warehouse_id: *warehouse_id,
                    movement_type: "adjustment",
                    quantity: delta,
                    moved_at: end - Duration::hours(rng.random_range(1..48)),
                })?;
            }
        }
    }

    // The monthly rebate run: 5% of net sales for customers with at least 1000 net units.
    for ((customer_id, month), (units, sales)) in &monthly {
        let run_date = month
            .checked_add_months(chrono::Months::new(1))
            .unwrap_or(*month);
        if *units >= 1000 && *sales > 0 && run_date.and_hms_opt(0, 0, 0).is_some_and(|d| d < end) {
            ledger_id += 1;
            ledger_out.write(&json!({"entry_id": ledger_id, "customer_id": customer_id, "entry_type": "rebate", "amount": money(round_cents(*sales as f64 * 0.05)), "value_date": run_date.to_string(), "month": month.to_string()}))?;
        }
    }

    // Targets per location and month, around what was sold.
    let mut targets = CsvOut::create(
        out,
        "sales_targets.csv",
        &["location_id", "month", "target_amount"],
    )?;
    let mut month = config.start.with_day(1).unwrap_or(config.start);
    while month < config.as_of_date() {
        for loc in &location_ids {
            let actual = location_month.get(&(*loc, month)).copied().unwrap_or(0);
            let target = ((actual as f64 * rng.random_range(0.85..1.2) / 100.0 / 100.0).round()
                * 100.0)
                .max(100.0) as i64;
            targets.row(&[&loc.to_string(), &month.to_string(), &money(target * 100)])?;
        }
        month = month
            .checked_add_months(chrono::Months::new(1))
            .unwrap_or(config.as_of_date());
    }
    summary
        .files
        .insert("sales_targets.csv".into(), targets.finish()?);

    for (name, rows) in orders_out
        .finish()?
        .into_iter()
        .chain(lines_out.finish()?)
        .chain(movements_out.finish()?)
        .chain(payments_out.finish()?)
        .chain(shipments_out.finish()?)
        .chain(returns_out.finish()?)
        .chain(ledger_out.finish()?)
    {
        summary.files.insert(name, rows);
    }
    let summary_path = out.join("_generated.json");
    std::fs::write(
        &summary_path,
        serde_json::to_string_pretty(&summary).unwrap_or_default(),
    )
    .map_err(|e| GenerateError::Io {
        path: summary_path,
        source: e,
    })?;
    Ok(summary)
}

/// The hour of a timestamp (for tests of the hourly pattern).
pub fn hour_of(t: NaiveDateTime) -> u32 {
    t.hour()
}

/// Reads the summary written beside the files.
pub fn read_summary(dir: &Path) -> Option<Summary> {
    let text = std::fs::read_to_string(dir.join("_generated.json")).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    Some(Summary {
        files: serde_json::from_value(v["files"].clone()).ok()?,
        orders: v["orders"].as_u64()?,
        order_lines: v["order_lines"].as_u64()?,
        customers: v["customers"].as_u64()?,
        products: v["products"].as_u64()?,
        duplicates: v["duplicates"].as_u64()?,
        late_updates: v["late_updates"].as_u64()?,
        malformed: serde_json::from_value(v["malformed"].clone()).ok()?,
        as_of_date: v["as_of_date"].as_str()?.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_files() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let mut config = Config::new(a.path(), 300);
        config.messy = 0.05;
        let sa = generate(&config, &|_| {}).unwrap();
        config.out = b.path().to_path_buf();
        let sb = generate(&config, &|_| {}).unwrap();
        assert_eq!(sa.files, sb.files);
        for name in ["orders_0001.ndjson", "customers.csv", "ledger.ndjson"] {
            assert_eq!(
                std::fs::read(a.path().join(name)).unwrap(),
                std::fs::read(b.path().join(name)).unwrap(),
                "{name}"
            );
        }
        assert!(sa.duplicates > 0);
        assert_eq!(sa.orders, 300);
    }

    #[test]
    fn money_formats_cents() {
        assert_eq!(money(1234), "12.34");
        assert_eq!(money(-5), "-0.05");
        assert_eq!(money(100), "1.00");
    }
}
