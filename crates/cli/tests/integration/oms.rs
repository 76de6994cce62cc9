//! The OMS lakehouse end to end: generate → ingest → build, with gold values checked against an
//! independent computation in Rust straight from the generated source files, and every messy
//! input row accounted for.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use crate::util::{ok, oms_project, read_csv, rows};
use chrono::{Datelike, NaiveDate, NaiveDateTime, Timelike};
use datafusion::arrow::array::AsArray;
use datafusion::arrow::datatypes::{
    Decimal128Type, Int32Type, Int64Type, TimestampMicrosecondType,
};
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde_json::Value;

const AS_OF: &str = "2024-06-29";

fn vars() -> String {
    format!("{{as_of_date: '{AS_OF}'}}")
}

/// Generates, ingests and builds the OMS project; returns (tempdir guard, project root, landing).
fn built(orders: &str, messy: &str) -> (tempfile::TempDir, std::path::PathBuf, std::path::PathBuf) {
    let (dir, root) = oms_project();
    let landing = dir.path().join("landing");
    let landing_s = landing.to_str().expect("utf-8 path");
    ok(
        &root,
        &[
            "generate", "--out", landing_s, "--orders", orders, "--messy", messy, "--seed", "7",
        ],
    );
    ok(&root, &["ingest", "--landing", landing_s]);
    let vars = vars();
    ok(&root, &["build", "--vars", &vars]);
    (dir, root, landing)
}

fn cents(v: &Value) -> i64 {
    let x = v
        .as_f64()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        .unwrap_or_else(|| panic!("not a number: {v}"));
    (x * 100.0).round() as i64
}

fn parse_cents(s: &str) -> i64 {
    let neg = s.starts_with('-');
    let s = s.trim_start_matches('-');
    let (whole, frac) = s.split_once('.').unwrap_or((s, "0"));
    let frac = format!("{frac:0<2}");
    let v = whole.parse::<i64>().expect("whole") * 100 + frac[..2].parse::<i64>().expect("frac");
    if neg { -v } else { v }
}

/// a / b rounded half away from zero.
fn div_round(a: i128, b: i128) -> i64 {
    let q = (2 * a.abs() + b.abs()) / (2 * b.abs());
    (if (a < 0) != (b < 0) { -q } else { q }) as i64
}

fn ts(s: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn ndjson(dir: &Path, prefix: &str) -> Vec<serde_json::Map<String, Value>> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("landing")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let n = p.file_name().unwrap().to_string_lossy().into_owned();
            n.ends_with(".ndjson")
                && (n == format!("{prefix}.ndjson") || n.starts_with(&format!("{prefix}_0")))
        })
        .collect();
    files.sort();
    let mut out = Vec::new();
    for f in files {
        for line in std::fs::read_to_string(f).expect("read").lines() {
            if let Ok(Value::Object(m)) = serde_json::from_str::<Value>(line) {
                out.push(m);
            }
        }
    }
    out
}

fn text(m: &serde_json::Map<String, Value>, k: &str) -> String {
    match &m[k] {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn int(m: &serde_json::Map<String, Value>, k: &str) -> i64 {
    m[k].as_i64().unwrap_or_else(|| {
        text(m, k)
            .parse()
            .unwrap_or_else(|_| panic!("{k}: {:?}", m[k]))
    })
}

struct Line {
    order_id: i64,
    line_no: i64,
    product_id: i64,
    quantity: i64,
    price: i64,
    discount: i64,
}

fn parquet_files(dir: &Path, prefix: &str) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("landing")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let n = p.file_name().unwrap().to_string_lossy().into_owned();
            n.starts_with(prefix) && n.ends_with(".parquet")
        })
        .collect();
    files.sort();
    files
}

/// Every record batch of the landing's Parquet files whose names start with `prefix`.
fn parquet_batches(dir: &Path, prefix: &str) -> Vec<datafusion::arrow::record_batch::RecordBatch> {
    parquet_files(dir, prefix)
        .into_iter()
        .flat_map(|f| {
            ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(f).unwrap())
                .unwrap()
                .build()
                .unwrap()
                .map(|b| b.unwrap())
        })
        .collect()
}

fn order_lines(dir: &Path) -> Vec<Line> {
    let mut out = Vec::new();
    for b in parquet_batches(dir, "order_lines_") {
        let oid = b.column(0).as_primitive::<Int64Type>();
        let line = b.column(1).as_primitive::<Int32Type>();
        let pid = b.column(2).as_primitive::<Int64Type>();
        let qty = b.column(3).as_primitive::<Int64Type>();
        let price = b.column(4).as_primitive::<Decimal128Type>();
        let disc = b.column(5).as_primitive::<Decimal128Type>();
        for i in 0..b.num_rows() {
            out.push(Line {
                order_id: oid.value(i),
                line_no: i64::from(line.value(i)),
                product_id: pid.value(i),
                quantity: qty.value(i),
                price: price.value(i) as i64,
                discount: disc.value(i) as i64,
            });
        }
    }
    out
}

/// (product, warehouse) → on hand at `until`, from the movement files.
fn on_hand(dir: &Path, until: NaiveDateTime) -> BTreeMap<(i64, i64), i64> {
    let until = until.and_utc().timestamp_micros();
    let mut out = BTreeMap::new();
    for b in parquet_batches(dir, "inventory_movements_") {
        let pid = b.column(1).as_primitive::<Int64Type>();
        let wid = b.column(2).as_primitive::<Int64Type>();
        let qty = b.column(4).as_primitive::<Int64Type>();
        let moved = b.column(5).as_primitive::<TimestampMicrosecondType>();
        for i in 0..b.num_rows() {
            if moved.value(i) < until {
                *out.entry((pid.value(i), wid.value(i))).or_insert(0) += qty.value(i);
            }
        }
    }
    out
}

/// NTILE(n) over rows already sorted: the first (len % n) buckets get one row more.
fn ntile(len: usize, n: usize) -> Vec<i64> {
    let (base, extra) = (len / n, len % n);
    let mut out = Vec::with_capacity(len);
    for bucket in 0..n {
        let size = base + usize::from(bucket < extra);
        out.extend(std::iter::repeat_n(bucket as i64 + 1, size));
    }
    out
}

#[derive(Default, Clone)]
struct Customer {
    orders: BTreeSet<i64>,
    sales: i64,
    refunds: i64,
    units_sold: i64,
    units_returned: i64,
    first: Option<NaiveDate>,
    last: Option<NaiveDate>,
}

/// Credit aging as of `as_of`, from the ledger file alone: entries up to and including the as-of
/// day, credits settling the oldest debits first, remainders bucketed by age.
fn check_credit_aging(root: &Path, landing: &Path, as_of: NaiveDate) {
    let mut debits: BTreeMap<i64, Vec<(NaiveDate, i64, i64)>> = BTreeMap::new();
    let mut credits: BTreeMap<i64, i64> = BTreeMap::new();
    for e in ndjson(landing, "ledger") {
        let customer = int(&e, "customer_id");
        let amount = parse_cents(&text(&e, "amount"));
        let date = NaiveDate::parse_from_str(&text(&e, "value_date"), "%Y-%m-%d").unwrap();
        if date > as_of {
            continue;
        }
        if text(&e, "entry_type") == "invoice" {
            debits
                .entry(customer)
                .or_default()
                .push((date, int(&e, "entry_id"), amount));
        } else {
            *credits.entry(customer).or_default() += amount;
            debits.entry(customer).or_default();
        }
    }
    let gold = rows(
        root,
        "select customer_id, balance, days_0_30, days_31_60, days_61_90, days_91_180, days_over_180 from gold.credit_aging order by customer_id",
    );
    assert_eq!(gold.len(), debits.len());
    let mut prepaid_or_open = (0, 0);
    for (g, (id, ds)) in gold.iter().zip(debits.iter_mut()) {
        ds.sort();
        let mut credit = credits.get(id).copied().unwrap_or(0);
        let balance = ds.iter().map(|d| d.2).sum::<i64>() - credit;
        let mut buckets = [0i64; 5];
        for (date, _, amount) in ds.iter() {
            let settled = credit.min(*amount).max(0);
            credit -= settled;
            let open = amount - settled;
            let age = (as_of - *date).num_days();
            let b = match age {
                ..=30 => 0,
                31..=60 => 1,
                61..=90 => 2,
                91..=180 => 3,
                _ => 4,
            };
            buckets[b] += open;
        }
        assert_eq!(g["customer_id"].as_i64(), Some(*id));
        assert_eq!(cents(&g["balance"]), balance, "balance of {id}");
        let got = [
            "days_0_30",
            "days_31_60",
            "days_61_90",
            "days_91_180",
            "days_over_180",
        ]
        .map(|k| cents(&g[k]));
        assert_eq!(got, buckets, "aging buckets of {id}");
        if balance > 0 {
            prepaid_or_open.1 += 1;
        } else {
            prepaid_or_open.0 += 1;
        }
    }
    assert!(prepaid_or_open.1 > 0, "some customers owe money");
}

/// Stock at the end of the as-of day and the columns derived from it, from the movement and
/// product files alone.
fn check_inventory(root: &Path, landing: &Path, as_of: NaiveDate) {
    let start = as_of.and_hms_opt(0, 0, 0).expect("midnight");
    let until = start + chrono::Duration::days(1);
    let month_ago = start - chrono::Duration::days(30);
    let expected = on_hand(landing, until);
    let opening = on_hand(landing, start);
    // Units sold in the 30 days before the as-of day, per product and warehouse.
    let mut sold_30d: BTreeMap<(i64, i64), i64> = BTreeMap::new();
    for b in parquet_batches(landing, "inventory_movements_") {
        let pid = b.column(1).as_primitive::<Int64Type>();
        let wid = b.column(2).as_primitive::<Int64Type>();
        let kind = b.column(3).as_string::<i32>();
        let qty = b.column(4).as_primitive::<Int64Type>();
        let moved = b.column(5).as_primitive::<TimestampMicrosecondType>();
        for i in 0..b.num_rows() {
            let t = moved.value(i);
            if kind.value(i) == "sale"
                && t >= month_ago.and_utc().timestamp_micros()
                && t < start.and_utc().timestamp_micros()
            {
                *sold_30d.entry((pid.value(i), wid.value(i))).or_insert(0) -= qty.value(i);
            }
        }
    }
    // The current unit cost: the newest product version's.
    let mut current_cost: HashMap<i64, (NaiveDateTime, i64)> = HashMap::new();
    for r in read_csv(&landing.join("products.csv")) {
        let (id, at, cost) = (r[0].parse().unwrap(), ts(&r[6]), parse_cents(&r[5]));
        if current_cost.get(&id).is_none_or(|c| at >= c.0) {
            current_cost.insert(id, (at, cost));
        }
    }
    let gold = rows(
        root,
        "select product_id, warehouse_id, on_hand, opening_balance, moved_today, unit_cost, stock_value, avg_daily_units_30d, days_of_cover, is_low_stock from gold.inventory_levels order by product_id, warehouse_id",
    );
    assert_eq!(gold.len(), expected.len());
    for (g, ((p, w), qty)) in gold.iter().zip(&expected) {
        let what = format!("product {p} in warehouse {w} on {as_of}");
        assert_eq!(
            (g["product_id"].as_i64(), g["warehouse_id"].as_i64()),
            (Some(*p), Some(*w))
        );
        assert_eq!(g["on_hand"].as_i64(), Some(*qty), "on hand of {what}");
        assert!(*qty >= 0);
        let open = opening.get(&(*p, *w)).copied().unwrap_or(0);
        assert_eq!(
            g["opening_balance"].as_i64(),
            Some(open),
            "opening balance of {what}"
        );
        assert_eq!(
            g["moved_today"].as_i64(),
            Some(qty - open),
            "moved today of {what}"
        );
        let cost = current_cost[p].1;
        assert_eq!(cents(&g["unit_cost"]), cost, "unit cost of {what}");
        assert_eq!(
            cents(&g["stock_value"]),
            qty * cost,
            "stock value of {what}"
        );
        let sold = sold_30d.get(&(*p, *w)).copied().unwrap_or(0);
        let daily = sold as f64 / 30.0;
        assert!(
            (g["avg_daily_units_30d"].as_f64().unwrap() - daily).abs() < 1e-9,
            "{what}"
        );
        if sold == 0 {
            assert!(
                g["days_of_cover"].is_null(),
                "no cover without sales: {what}"
            );
            assert_eq!(g["is_low_stock"].as_bool(), Some(false), "{what}");
        } else {
            let cover = *qty as f64 / daily;
            assert!(
                (g["days_of_cover"].as_f64().unwrap() - cover).abs() < 1e-9,
                "cover of {what}"
            );
            assert_eq!(
                g["is_low_stock"].as_bool(),
                Some(cover < 7.0),
                "low stock of {what}"
            );
        }
    }
}

/// Checks descriptive columns of a gold table against what the source files say: `sql` selects
/// a key `k` and then text columns `c1`, `c2`, …; `expected` maps each key to those columns'
/// values.
fn check_lookups(root: &Path, what: &str, sql: &str, expected: &HashMap<String, Vec<String>>) {
    let gold = rows(root, sql);
    assert!(!gold.is_empty(), "{what}: no rows");
    let text_of = |v: &Value| match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    };
    for g in &gold {
        let key = text_of(&g["k"]);
        let got: Vec<String> = (1..g.len())
            .map(|i| text_of(&g[&format!("c{i}")]))
            .collect();
        let want = expected
            .get(&key)
            .unwrap_or_else(|| panic!("{what}: unexpected key {key}"));
        assert_eq!(&got, want, "{what} of {key}");
    }
}

#[test]
fn gold_matches_an_independent_computation() {
    let (_dir, root, landing) = built("1500", "0");
    let as_of = NaiveDate::parse_from_str(AS_OF, "%Y-%m-%d").unwrap();

    // The source files, read directly.
    let mut orders: BTreeMap<i64, serde_json::Map<String, Value>> = BTreeMap::new();
    for o in ndjson(&landing, "orders") {
        let id = int(&o, "order_id");
        let newer = orders
            .get(&id)
            .is_none_or(|cur| text(&o, "updated_at") >= text(cur, "updated_at"));
        if newer {
            orders.insert(id, o);
        }
    }
    let lines = order_lines(&landing);
    let line_of: HashMap<(i64, i64), &Line> =
        lines.iter().map(|l| ((l.order_id, l.line_no), l)).collect();
    let sold = |o: &serde_json::Map<String, Value>| {
        matches!(
            text(o, "status").as_str(),
            "billed" | "shipped" | "delivered"
        )
    };

    // Line-level facts: (customer, event month, units, net cents) for sales and returns.
    let mut customers: BTreeMap<i64, Customer> = BTreeMap::new();
    let mut monthly: BTreeMap<(i64, String), (i64, i64)> = BTreeMap::new();
    for (id, o) in &orders {
        if text(o, "status") == "cancelled" {
            continue;
        }
        let c = customers.entry(int(o, "customer_id")).or_default();
        c.orders.insert(*id);
        let day = ts(&text(o, "ordered_at")).date();
        c.first = Some(c.first.map_or(day, |f| f.min(day)));
        c.last = Some(c.last.map_or(day, |l| l.max(day)));
    }
    for l in &lines {
        let o = &orders[&l.order_id];
        if !sold(o) {
            continue;
        }
        let net = l.quantity * l.price - l.discount;
        let customer = int(o, "customer_id");
        let c = customers.get_mut(&customer).unwrap();
        c.sales += net;
        c.units_sold += l.quantity;
        // A sale counts in the month it was billed.
        let month = text(o, "billed_at")[..7].to_string();
        let m = monthly.entry((customer, month)).or_default();
        m.0 += l.quantity;
        m.1 += net;
    }
    for r in ndjson(&landing, "returns") {
        let l = line_of[&(int(&r, "order_id"), int(&r, "line_no"))];
        let o = &orders[&l.order_id];
        let qty = int(&r, "quantity");
        let discount = div_round(
            i128::from(l.discount) * i128::from(qty),
            i128::from(l.quantity),
        );
        let refund = qty * l.price - discount;
        let customer = int(o, "customer_id");
        let c = customers.get_mut(&customer).unwrap();
        c.refunds += refund;
        c.units_returned += qty;
        let m = monthly
            .entry((customer, text(&r, "returned_at")[..7].to_string()))
            .or_default();
        m.0 -= qty;
        m.1 -= refund;
    }

    // customer_metrics: CLV, AOV, return rate, row by row.
    let gold = rows(
        &root,
        "select customer_id, order_count, clv, aov, return_rate, units_sold, units_returned from gold.customer_metrics order by customer_id",
    );
    assert_eq!(
        gold.len(),
        customers.len(),
        "one row per customer with a non-cancelled order"
    );
    for (g, (id, c)) in gold.iter().zip(&customers) {
        assert_eq!(g["customer_id"].as_i64(), Some(*id));
        assert_eq!(
            g["order_count"].as_i64(),
            Some(c.orders.len() as i64),
            "order_count of {id}"
        );
        assert_eq!(cents(&g["clv"]), c.sales - c.refunds, "clv of {id}");
        let with_sales = c.orders.iter().filter(|o| sold(&orders[o])).count() as i128;
        let aov = if with_sales == 0 {
            0
        } else {
            div_round(i128::from(c.sales), with_sales)
        };
        assert_eq!(cents(&g["aov"]), aov, "aov of {id}");
        assert_eq!(
            g["units_sold"].as_i64(),
            Some(c.units_sold),
            "units_sold of {id}"
        );
        let rate = if c.units_sold == 0 {
            0.0
        } else {
            c.units_returned as f64 / c.units_sold as f64
        };
        assert!(
            (g["return_rate"].as_f64().unwrap() - rate).abs() < 1e-12,
            "return_rate of {id}"
        );
    }
    assert!(
        customers.values().any(|c| c.refunds > 0),
        "the dataset has returns"
    );

    // RFM scores and segments.
    let mut base: Vec<(i64, i64, i64, i64)> = customers
        .iter()
        .map(|(id, c)| {
            (
                *id,
                (as_of - c.last.unwrap()).num_days(),
                c.orders.len() as i64,
                c.sales - c.refunds,
            )
        })
        .collect();
    let mut scores: BTreeMap<i64, [i64; 3]> = BTreeMap::new();
    base.sort_by_key(|b| (std::cmp::Reverse(b.1), b.0));
    for (b, s) in base.iter().zip(ntile(base.len(), 5)) {
        scores.entry(b.0).or_default()[0] = s;
    }
    base.sort_by_key(|b| (b.2, b.0));
    for (b, s) in base.iter().zip(ntile(base.len(), 5)) {
        scores.entry(b.0).or_default()[1] = s;
    }
    base.sort_by_key(|b| (b.3, b.0));
    for (b, s) in base.iter().zip(ntile(base.len(), 5)) {
        scores.entry(b.0).or_default()[2] = s;
    }
    let gold = rows(
        &root,
        "select customer_id, r_score, f_score, m_score, rfm_code, segment from gold.customer_segmentation order by customer_id",
    );
    assert_eq!(gold.len(), scores.len());
    let mut segments = BTreeSet::new();
    for (g, (id, [r, f, m])) in gold.iter().zip(&scores) {
        let segment = if *r >= 4 && *f >= 4 {
            "Champions"
        } else if *r >= 3 && *f >= 3 {
            "Loyal"
        } else if *r >= 4 && *f <= 2 {
            "New"
        } else if *r <= 2 && *f >= 3 {
            "At Risk"
        } else if *r == 1 && *f <= 2 {
            "Lost"
        } else {
            "Needs Attention"
        };
        assert_eq!(g["customer_id"].as_i64(), Some(*id));
        assert_eq!(
            (
                g["r_score"].as_i64(),
                g["f_score"].as_i64(),
                g["m_score"].as_i64()
            ),
            (Some(*r), Some(*f), Some(*m)),
            "scores of {id}"
        );
        assert_eq!(g["rfm_code"].as_str(), Some(format!("{r}{f}{m}").as_str()));
        assert_eq!(g["segment"].as_str(), Some(segment), "segment of {id}");
        segments.insert(segment);
    }
    assert!(segments.len() >= 4, "several segments: {segments:?}");

    check_credit_aging(&root, &landing, as_of);

    // regional_sales: per customer location and event month — orders with sales, buyers, net
    // revenue of sales and returns.
    let location_of: HashMap<String, Vec<String>> = read_csv(&landing.join("locations.csv"))
        .into_iter()
        .map(|r| (r[0].clone(), r))
        .collect();
    let place_of: HashMap<i64, [String; 4]> = read_csv(&landing.join("customers.csv"))
        .into_iter()
        .map(|r| {
            let l = &location_of[&r[4]];
            (
                r[0].parse().unwrap(),
                [l[1].clone(), l[2].clone(), l[3].clone(), l[4].clone()],
            )
        })
        .collect();
    #[derive(Default)]
    struct Region {
        orders: BTreeSet<i64>,
        buyers: BTreeSet<i64>,
        net: i64,
    }
    let mut regions: BTreeMap<([String; 4], String), Region> = BTreeMap::new();
    for l in &lines {
        let o = &orders[&l.order_id];
        if !sold(o) {
            continue;
        }
        let customer = int(o, "customer_id");
        let key = (
            place_of[&customer].clone(),
            text(o, "billed_at")[..7].to_string(),
        );
        let r = regions.entry(key).or_default();
        r.orders.insert(l.order_id);
        r.buyers.insert(customer);
        r.net += l.quantity * l.price - l.discount;
    }
    for ret in ndjson(&landing, "returns") {
        let l = line_of[&(int(&ret, "order_id"), int(&ret, "line_no"))];
        let o = &orders[&l.order_id];
        let qty = int(&ret, "quantity");
        let discount = div_round(
            i128::from(l.discount) * i128::from(qty),
            i128::from(l.quantity),
        );
        let customer = int(o, "customer_id");
        let key = (
            place_of[&customer].clone(),
            text(&ret, "returned_at")[..7].to_string(),
        );
        regions.entry(key).or_default().net -= qty * l.price - discount;
    }
    let gold = rows(
        &root,
        "select region, country, state, city, substr(cast(month as varchar), 1, 7) as month, orders, customers, net_revenue from gold.regional_sales order by region, country, state, city, month",
    );
    assert_eq!(gold.len(), regions.len(), "regional_sales rows");
    for (g, ((place, month), r)) in gold.iter().zip(&regions) {
        let got: [String; 4] =
            ["region", "country", "state", "city"].map(|k| g[k].as_str().unwrap().to_string());
        assert_eq!(
            (&got, g["month"].as_str().unwrap()),
            (place, month.as_str())
        );
        assert_eq!(
            g["orders"].as_i64(),
            Some(r.orders.len() as i64),
            "orders of {place:?} {month}"
        );
        assert_eq!(
            g["customers"].as_i64(),
            Some(r.buyers.len() as i64),
            "buyers of {place:?} {month}"
        );
        assert_eq!(
            cents(&g["net_revenue"]),
            r.net,
            "net revenue of {place:?} {month}"
        );
    }

    // order_volume: per order hour and channel, the orders that became sales, their units and
    // net revenue (sales only).
    let mut volume: BTreeMap<(String, i64, String), (i64, i64, i64)> = BTreeMap::new();
    let mut units_of: HashMap<i64, (i64, i64)> = HashMap::new();
    for l in &lines {
        let u = units_of.entry(l.order_id).or_default();
        u.0 += l.quantity;
        u.1 += l.quantity * l.price - l.discount;
    }
    for (id, o) in &orders {
        if !sold(o) {
            continue;
        }
        let at = ts(&text(o, "ordered_at"));
        let key = (
            at.date().to_string(),
            i64::from(at.hour()),
            text(o, "channel"),
        );
        let (units, net) = units_of.get(id).copied().unwrap_or_default();
        let v = volume.entry(key).or_default();
        v.0 += 1;
        v.1 += units;
        v.2 += net;
    }
    let gold = rows(
        &root,
        "select cast(cast(order_hour as date) as varchar) as day, cast(date_part('hour', order_hour) as bigint) as hour, channel, orders, units, net_revenue from gold.order_volume order by 1, 2, 3",
    );
    assert_eq!(gold.len(), volume.len(), "order_volume rows");
    for (g, ((day, hour, channel), (n, units, net))) in gold.iter().zip(&volume) {
        assert_eq!(
            (g["day"].as_str(), g["hour"].as_i64(), g["channel"].as_str()),
            (Some(day.as_str()), Some(*hour), Some(channel.as_str()))
        );
        assert_eq!(
            (
                g["orders"].as_i64(),
                g["units"].as_i64(),
                cents(&g["net_revenue"])
            ),
            (Some(*n), Some(*units), *net),
            "order_volume at {day} {hour}h {channel}"
        );
    }

    // VAT: rounded once per invoice (an order's sale lines) or refund note (a return), allocated
    // to the lines by largest remainder; by month it equals the ledger's VAT (amount − net).
    const VAT_PPM: i64 = 75_000;
    let vat_of = |net: i64| (net.abs() * VAT_PPM + 500_000) / 1_000_000 * net.signum();
    let mut expected_vat: BTreeMap<(String, i64, i64, i64), i64> = BTreeMap::new();
    let mut by_order: BTreeMap<i64, Vec<(i64, i64)>> = BTreeMap::new();
    for l in &lines {
        if sold(&orders[&l.order_id]) {
            by_order
                .entry(l.order_id)
                .or_default()
                .push((l.line_no, l.quantity * l.price - l.discount));
        }
    }
    let mut order_net: HashMap<i64, i64> = HashMap::new();
    for (order, nets) in &by_order {
        let micros: Vec<i64> = nets.iter().map(|(_, n)| n * VAT_PPM).collect();
        let total = (micros.iter().sum::<i64>() + 500_000) / 1_000_000;
        let base: i64 = micros.iter().map(|m| m / 1_000_000).sum();
        let mut ranked: Vec<usize> = (0..nets.len()).collect();
        ranked.sort_by_key(|&i| (std::cmp::Reverse(micros[i] % 1_000_000), nets[i].0));
        for (rank, &i) in ranked.iter().enumerate() {
            let extra = i64::from((rank as i64) < total - base);
            expected_vat.insert(
                ("sale".into(), *order, nets[i].0, 0),
                micros[i] / 1_000_000 + extra,
            );
        }
        order_net.insert(*order, nets.iter().map(|(_, n)| n).sum());
    }
    let mut refund_net: HashMap<i64, i64> = HashMap::new();
    for r in ndjson(&landing, "returns") {
        let l = line_of[&(int(&r, "order_id"), int(&r, "line_no"))];
        let qty = int(&r, "quantity");
        let net = qty * l.price
            - div_round(
                i128::from(l.discount) * i128::from(qty),
                i128::from(l.quantity),
            );
        expected_vat.insert(
            ("return".into(), l.order_id, l.line_no, int(&r, "return_id")),
            -vat_of(net),
        );
        refund_net.insert(int(&r, "return_id"), net);
    }
    let gold = rows(
        &root,
        "select line_type, order_id, line_no, coalesce(return_id, 0) as return_id, vat_amount from gold.fct_sales",
    );
    let got: BTreeMap<(String, i64, i64, i64), i64> = gold
        .iter()
        .map(|g| {
            (
                (
                    g["line_type"].as_str().unwrap().to_string(),
                    g["order_id"].as_i64().unwrap(),
                    g["line_no"].as_i64().unwrap(),
                    g["return_id"].as_i64().unwrap(),
                ),
                cents(&g["vat_amount"]),
            )
        })
        .collect();
    assert_eq!(got.len(), expected_vat.len(), "fct_sales lines");
    for (key, vat) in &expected_vat {
        assert_eq!(got.get(key), Some(vat), "vat_amount of {key:?}");
    }
    let mut ledger_vat: BTreeMap<String, i64> = BTreeMap::new();
    for e in ndjson(&landing, "ledger") {
        let month = text(&e, "value_date")[..7].to_string();
        let amount = parse_cents(&text(&e, "amount"));
        match text(&e, "entry_type").as_str() {
            "invoice" => {
                *ledger_vat.entry(month).or_default() += amount - order_net[&int(&e, "order_id")];
            }
            "refund" => {
                *ledger_vat.entry(month).or_default() -= amount - refund_net[&int(&e, "return_id")];
            }
            _ => {}
        }
    }
    let gold = rows(
        &root,
        "select substr(cast(period_start as varchar), 1, 7) as month, vat_amount from gold.sales_summary where grain = 'month' order by period_start",
    );
    assert_eq!(gold.len(), ledger_vat.len(), "months with VAT");
    for (g, (month, vat)) in gold.iter().zip(&ledger_vat) {
        assert_eq!(g["month"].as_str(), Some(month.as_str()));
        assert_eq!(
            cents(&g["vat_amount"]),
            *vat,
            "VAT of {month}: gold against the ledger"
        );
    }

    // fct_sales costs and sales_summary at every grain, every column: cost is the product's cost
    // version in force when the sale was billed (products.csv: one row per version).
    let mut versions: HashMap<i64, Vec<(NaiveDateTime, i64)>> = HashMap::new();
    for r in read_csv(&landing.join("products.csv")) {
        versions
            .entry(r[0].parse().unwrap())
            .or_default()
            .push((ts(&r[6]), parse_cents(&r[5])));
    }
    for v in versions.values_mut() {
        v.sort();
    }
    let cost_at = |product: i64, t: NaiveDateTime| -> i64 {
        let v = &versions[&product];
        v.iter()
            .rev()
            .find(|(from, _)| *from <= t)
            .unwrap_or(&v[0])
            .1
    };
    #[derive(Default)]
    struct Period {
        orders: BTreeSet<i64>,
        units_sold: i64,
        units_returned: i64,
        gross: i64,
        discount: i64,
        returns: i64,
        net: i64,
        vat: i64,
        cost: i64,
    }
    let periods_of = |day: NaiveDate| {
        [
            ("day", day),
            (
                "week",
                day - chrono::Duration::days(i64::from(day.weekday().num_days_from_monday())),
            ),
            ("month", day.with_day(1).unwrap()),
        ]
    };
    let mut summary: BTreeMap<(&str, NaiveDate), Period> = BTreeMap::new();
    let mut line_cost: HashMap<(i64, i64), i64> = HashMap::new();
    let mut expected_costs: BTreeMap<(String, i64, i64, i64), (i64, i64)> = BTreeMap::new();
    for l in &lines {
        let o = &orders[&l.order_id];
        if !sold(o) {
            continue;
        }
        let billed = ts(&text(o, "billed_at"));
        let unit_cost = cost_at(l.product_id, billed);
        line_cost.insert((l.order_id, l.line_no), unit_cost);
        let net = l.quantity * l.price - l.discount;
        let cost = l.quantity * unit_cost;
        expected_costs.insert(
            ("sale".into(), l.order_id, l.line_no, 0),
            (cost, net - cost),
        );
        for key in periods_of(billed.date()) {
            let p = summary.entry(key).or_default();
            p.orders.insert(l.order_id);
            p.units_sold += l.quantity;
            p.gross += l.quantity * l.price;
            p.discount += l.discount;
            p.net += net;
            p.vat += expected_vat[&("sale".to_string(), l.order_id, l.line_no, 0)];
            p.cost += cost;
        }
    }
    for r in ndjson(&landing, "returns") {
        let l = line_of[&(int(&r, "order_id"), int(&r, "line_no"))];
        let qty = int(&r, "quantity");
        let return_id = int(&r, "return_id");
        let net = -refund_net[&return_id];
        let cost = -qty * line_cost[&(l.order_id, l.line_no)];
        expected_costs.insert(
            ("return".into(), l.order_id, l.line_no, return_id),
            (cost, net - cost),
        );
        for key in periods_of(ts(&text(&r, "returned_at")).date()) {
            let p = summary.entry(key).or_default();
            p.units_returned += qty;
            p.returns -= net;
            p.net += net;
            p.vat += expected_vat[&("return".to_string(), l.order_id, l.line_no, return_id)];
            p.cost += cost;
        }
    }
    let gold = rows(
        &root,
        "select line_type, order_id, line_no, coalesce(return_id, 0) as return_id, cost_amount, gross_profit from gold.fct_sales",
    );
    assert_eq!(gold.len(), expected_costs.len());
    for g in &gold {
        let key = (
            g["line_type"].as_str().unwrap().to_string(),
            g["order_id"].as_i64().unwrap(),
            g["line_no"].as_i64().unwrap(),
            g["return_id"].as_i64().unwrap(),
        );
        assert_eq!(
            Some(&(cents(&g["cost_amount"]), cents(&g["gross_profit"]))),
            expected_costs.get(&key),
            "cost and gross profit of {key:?}"
        );
    }
    let gold = rows(
        &root,
        "select grain, cast(period_start as varchar) as period_start, orders, units_sold, units_returned, gross_amount, discount_amount, returns_amount, net_revenue, vat_amount, cost_amount, gross_profit, margin_pct from gold.sales_summary",
    );
    assert_eq!(
        gold.len(),
        summary.len(),
        "sales_summary rows at three grains"
    );
    for g in &gold {
        let grain = g["grain"].as_str().unwrap();
        let start =
            NaiveDate::parse_from_str(g["period_start"].as_str().unwrap(), "%Y-%m-%d").unwrap();
        let key = (
            ["day", "week", "month"]
                .into_iter()
                .find(|k| *k == grain)
                .unwrap(),
            start,
        );
        let p = &summary[&key];
        let what = format!("sales_summary {grain} {start}");
        assert_eq!(
            g["orders"].as_i64(),
            Some(p.orders.len() as i64),
            "orders of {what}"
        );
        assert_eq!(
            g["units_sold"].as_i64(),
            Some(p.units_sold),
            "units_sold of {what}"
        );
        assert_eq!(
            g["units_returned"].as_i64(),
            Some(p.units_returned),
            "units_returned of {what}"
        );
        assert_eq!(cents(&g["gross_amount"]), p.gross, "gross_amount of {what}");
        assert_eq!(
            cents(&g["discount_amount"]),
            p.discount,
            "discount_amount of {what}"
        );
        assert_eq!(
            cents(&g["returns_amount"]),
            p.returns,
            "returns_amount of {what}"
        );
        assert_eq!(cents(&g["net_revenue"]), p.net, "net_revenue of {what}");
        assert_eq!(cents(&g["vat_amount"]), p.vat, "vat_amount of {what}");
        assert_eq!(cents(&g["cost_amount"]), p.cost, "cost_amount of {what}");
        assert_eq!(
            cents(&g["gross_profit"]),
            p.net - p.cost,
            "gross_profit of {what}"
        );
        if p.net != 0 {
            let margin = (p.net - p.cost) as f64 / p.net as f64 * 100.0;
            assert!(
                (g["margin_pct"].as_f64().unwrap() - margin).abs() < 1e-9,
                "margin_pct of {what}"
            );
        }
    }

    // The net revenue of every fct_sales line, with the month and order it counts in.
    let month_of = |d: NaiveDate| d.with_day(1).unwrap();
    let mut fact_lines: Vec<(i64, NaiveDate, i64)> = Vec::new(); // (order, event day, net)
    for l in &lines {
        let o = &orders[&l.order_id];
        if sold(o) {
            fact_lines.push((
                l.order_id,
                ts(&text(o, "billed_at")).date(),
                l.quantity * l.price - l.discount,
            ));
        }
    }
    let returns_file = ndjson(&landing, "returns");
    for r in &returns_file {
        fact_lines.push((
            int(r, "order_id"),
            ts(&text(r, "returned_at")).date(),
            -refund_net[&int(r, "return_id")],
        ));
    }
    let location_row: HashMap<i64, Vec<String>> = read_csv(&landing.join("locations.csv"))
        .into_iter()
        .map(|r| (r[0].parse().unwrap(), r))
        .collect();

    // store_performance: per order location and month, actual net revenue against the target.
    let mut stores: BTreeMap<(i64, NaiveDate), (i64, Option<i64>)> = BTreeMap::new();
    for (order, day, net) in &fact_lines {
        let location = int(&orders[order], "location_id");
        stores.entry((location, month_of(*day))).or_default().0 += net;
    }
    for r in read_csv(&landing.join("sales_targets.csv")) {
        let key = (
            r[0].parse().unwrap(),
            NaiveDate::parse_from_str(&r[1], "%Y-%m-%d").unwrap(),
        );
        stores.entry(key).or_default().1 = Some(parse_cents(&r[2]));
    }
    let gold = rows(
        &root,
        "select location_id, city, cast(month as varchar) as month, actual_net_revenue, target, attainment_pct from gold.store_performance order by location_id, month",
    );
    assert_eq!(gold.len(), stores.len(), "store_performance rows");
    for (g, ((location, month), (actual, target))) in gold.iter().zip(&stores) {
        let what = format!("store {location} {month}");
        assert_eq!(g["location_id"].as_i64(), Some(*location), "{what}");
        assert_eq!(
            g["month"].as_str(),
            Some(month.to_string().as_str()),
            "{what}"
        );
        assert_eq!(
            g["city"].as_str(),
            Some(location_row[location][4].as_str()),
            "{what}"
        );
        assert_eq!(cents(&g["actual_net_revenue"]), *actual, "actual of {what}");
        match target {
            Some(t) => {
                assert_eq!(cents(&g["target"]), *t, "target of {what}");
                let pct = *actual as f64 / *t as f64 * 100.0;
                assert!(
                    (g["attainment_pct"].as_f64().unwrap() - pct).abs() < 1e-9,
                    "attainment of {what}"
                );
            }
            None => assert!(g["target"].is_null(), "no target for {what}"),
        }
    }

    // customer_revenue: the seed's customerrevenue, revenue = sales revenue.
    let gold = rows(
        &root,
        "select customer_id, order_count, revenue from gold.customer_revenue order by customer_id",
    );
    assert_eq!(gold.len(), customers.len());
    for (g, (id, c)) in gold.iter().zip(&customers) {
        assert_eq!(g["customer_id"].as_i64(), Some(*id));
        assert_eq!(
            g["order_count"].as_i64(),
            Some(c.orders.len() as i64),
            "orders of {id}"
        );
        assert_eq!(cents(&g["revenue"]), c.sales, "revenue of {id}");
    }

    // customer_cohorts: cohort = month of the first non-cancelled order; per later month, active
    // cohort customers (with an order placed that month) and the cohort's net revenue.
    let mut ordered_months: BTreeMap<i64, BTreeSet<NaiveDate>> = BTreeMap::new();
    for o in orders.values() {
        if text(o, "status") != "cancelled" {
            ordered_months
                .entry(int(o, "customer_id"))
                .or_default()
                .insert(month_of(ts(&text(o, "ordered_at")).date()));
        }
    }
    let cohort: HashMap<i64, NaiveDate> = ordered_months
        .iter()
        .map(|(c, months)| (*c, *months.iter().next().unwrap()))
        .collect();
    let mut cohort_size: BTreeMap<NaiveDate, i64> = BTreeMap::new();
    for m in cohort.values() {
        *cohort_size.entry(*m).or_default() += 1;
    }
    let mut cells: BTreeMap<(NaiveDate, NaiveDate), (BTreeSet<i64>, i64)> = BTreeMap::new();
    for (c, months) in &ordered_months {
        for m in months {
            cells.entry((cohort[c], *m)).or_default().0.insert(*c);
        }
    }
    for (order, day, net) in &fact_lines {
        let c = int(&orders[order], "customer_id");
        cells.entry((cohort[&c], month_of(*day))).or_default().1 += net;
    }
    let gold = rows(
        &root,
        "select cast(cohort_month as varchar) as cohort_month, month_number, cast(month as varchar) as month, cohort_customers, active, retention_pct, net_revenue from gold.customer_cohorts order by cohort_month, month",
    );
    assert_eq!(gold.len(), cells.len(), "customer_cohorts cells");
    for (g, ((c, m), (active, net))) in gold.iter().zip(&cells) {
        let what = format!("cohort {c} month {m}");
        assert_eq!(g["cohort_month"].as_str(), Some(c.to_string().as_str()));
        assert_eq!(g["month"].as_str(), Some(m.to_string().as_str()));
        let number = (m.year() - c.year()) as i64 * 12 + m.month() as i64 - c.month() as i64;
        assert_eq!(g["month_number"].as_i64(), Some(number), "{what}");
        assert_eq!(
            g["cohort_customers"].as_i64(),
            Some(cohort_size[c]),
            "{what}"
        );
        assert_eq!(
            g["active"].as_i64(),
            Some(active.len() as i64),
            "active of {what}"
        );
        let retention = active.len() as f64 / cohort_size[c] as f64 * 100.0;
        assert!(
            (g["retention_pct"].as_f64().unwrap() - retention).abs() < 1e-9,
            "{what}"
        );
        assert_eq!(cents(&g["net_revenue"]), *net, "net revenue of {what}");
    }

    // reversal_analysis: returns by the month returned and reason; cancellations by the month
    // ordered and reason, with their lines' net amount; the rate against the month's sales.
    #[derive(Default)]
    struct Reversal {
        returns: i64,
        units: i64,
        refunded: i64,
        cancelled: i64,
        cancelled_amount: i64,
    }
    let mut reversals: BTreeMap<(NaiveDate, String), Reversal> = BTreeMap::new();
    for r in &returns_file {
        let e = reversals
            .entry((
                month_of(ts(&text(r, "returned_at")).date()),
                text(r, "reason"),
            ))
            .or_default();
        e.returns += 1;
        e.units += int(r, "quantity");
        e.refunded += refund_net[&int(r, "return_id")];
    }
    let mut line_net: HashMap<i64, i64> = HashMap::new();
    for l in &lines {
        *line_net.entry(l.order_id).or_default() += l.quantity * l.price - l.discount;
    }
    for (id, o) in &orders {
        if text(o, "status") == "cancelled" {
            let reason = o
                .get("cancel_reason")
                .and_then(|v| v.as_str())
                .unwrap_or("unknown");
            let e = reversals
                .entry((
                    month_of(ts(&text(o, "ordered_at")).date()),
                    reason.to_string(),
                ))
                .or_default();
            e.cancelled += 1;
            e.cancelled_amount += line_net.get(id).copied().unwrap_or(0);
        }
    }
    let mut month_sales: HashMap<NaiveDate, i64> = HashMap::new();
    for (_, day, net) in fact_lines.iter().filter(|(_, _, n)| *n > 0) {
        *month_sales.entry(month_of(*day)).or_default() += net;
    }
    let gold = rows(
        &root,
        "select cast(month as varchar) as month, reason, returns, units_returned, refunded_amount, cancelled_orders, cancelled_amount, reversal_rate_pct from gold.reversal_analysis order by month, reason",
    );
    assert_eq!(gold.len(), reversals.len(), "reversal_analysis rows");
    for (g, ((month, reason), r)) in gold.iter().zip(&reversals) {
        let what = format!("reversals {month} {reason}");
        assert_eq!(
            (g["month"].as_str(), g["reason"].as_str()),
            (Some(month.to_string().as_str()), Some(reason.as_str()))
        );
        assert_eq!(
            (
                g["returns"].as_i64(),
                g["units_returned"].as_i64(),
                g["cancelled_orders"].as_i64()
            ),
            (Some(r.returns), Some(r.units), Some(r.cancelled)),
            "{what}"
        );
        assert_eq!(
            cents(&g["refunded_amount"]),
            r.refunded,
            "refunded of {what}"
        );
        assert_eq!(
            cents(&g["cancelled_amount"]),
            r.cancelled_amount,
            "cancelled amount of {what}"
        );
        match month_sales.get(month) {
            Some(sales) if *sales != 0 => {
                let rate = r.refunded as f64 / *sales as f64 * 100.0;
                assert!(
                    (g["reversal_rate_pct"].as_f64().unwrap() - rate).abs() < 1e-9,
                    "rate of {what}"
                );
            }
            _ => assert!(g["reversal_rate_pct"].is_null(), "{what}"),
        }
    }

    // outstanding_orders: neither billed nor cancelled, with units, amount, age and hold reason.
    let gold = rows(
        &root,
        "select order_id, age_days, units, amount, status, hold_reason from gold.outstanding_orders order by order_id",
    );
    let open: Vec<(&i64, &serde_json::Map<String, Value>)> = orders
        .iter()
        .filter(|(_, o)| matches!(text(o, "status").as_str(), "raised" | "on_hold"))
        .collect();
    assert_eq!(gold.len(), open.len(), "outstanding orders");
    assert!(!open.is_empty(), "the data has open orders");
    for (g, (id, o)) in gold.iter().zip(&open) {
        let (units, amount) = lines
            .iter()
            .filter(|l| l.order_id == **id)
            .fold((0, 0), |(u, a), l| {
                (u + l.quantity, a + l.quantity * l.price - l.discount)
            });
        assert_eq!(g["order_id"].as_i64(), Some(**id));
        assert_eq!(g["units"].as_i64(), Some(units), "units of open order {id}");
        assert_eq!(cents(&g["amount"]), amount, "amount of open order {id}");
        let age = (as_of - ts(&text(o, "ordered_at")).date()).num_days();
        assert_eq!(g["age_days"].as_i64(), Some(age), "age of open order {id}");
        assert_eq!(g["status"].as_str(), Some(text(o, "status").as_str()));
        assert_eq!(
            g["hold_reason"].as_str(),
            o.get("hold_reason").and_then(|v| v.as_str())
        );
    }

    // fct_orders: every order with its lines, sales, refunds, VAT, payments and shipment.
    let mut paid: HashMap<i64, i64> = HashMap::new();
    for p in ndjson(&landing, "payments") {
        *paid.entry(int(&p, "order_id")).or_default() += parse_cents(&text(&p, "amount"));
    }
    let mut shipped: HashMap<i64, (String, Option<String>)> = HashMap::new();
    for sh in ndjson(&landing, "shipments") {
        shipped.insert(
            int(&sh, "order_id"),
            (
                text(&sh, "shipped_at"),
                sh.get("delivered_at")
                    .and_then(|v| v.as_str())
                    .map(str::to_string),
            ),
        );
    }
    let mut order_vat: HashMap<i64, i64> = HashMap::new();
    for ((_, order, _, _), vat) in &expected_vat {
        *order_vat.entry(*order).or_default() += vat;
    }
    let mut refunded: HashMap<i64, i64> = HashMap::new();
    for r in &returns_file {
        *refunded.entry(int(r, "order_id")).or_default() += refund_net[&int(r, "return_id")];
    }
    let gold = rows(
        &root,
        "select order_id, line_count, units, gross_amount, discount_amount, net_revenue, refunded_amount, net_revenue_after_returns, vat_amount, paid_amount, balance_due, cast(first_shipped_at as varchar) as shipped, cast(delivered_at as varchar) as delivered, is_cancelled from gold.fct_orders order by order_id",
    );
    assert_eq!(gold.len(), orders.len(), "fct_orders: one row per order");
    for (g, (id, o)) in gold.iter().zip(&orders) {
        let what = format!("fct_orders {id}");
        let mine: Vec<&Line> = lines.iter().filter(|l| l.order_id == *id).collect();
        let cancelled = text(o, "status") == "cancelled";
        let (units, gross, discount) = if cancelled {
            (0, 0, 0)
        } else {
            mine.iter().fold((0, 0, 0), |(u, gr, d), l| {
                (u + l.quantity, gr + l.quantity * l.price, d + l.discount)
            })
        };
        let net = if sold(o) { gross - discount } else { 0 };
        let back = refunded.get(id).copied().unwrap_or(0);
        let vat = order_vat.get(id).copied().unwrap_or(0);
        let pay = paid.get(id).copied().unwrap_or(0);
        assert_eq!(g["order_id"].as_i64(), Some(*id));
        assert_eq!(
            g["line_count"].as_i64(),
            Some(mine.len() as i64),
            "lines of {what}"
        );
        assert_eq!(g["units"].as_i64(), Some(units), "units of {what}");
        assert_eq!(
            [
                cents(&g["gross_amount"]),
                cents(&g["discount_amount"]),
                cents(&g["net_revenue"]),
                cents(&g["refunded_amount"])
            ],
            [gross, discount, net, back],
            "amounts of {what}"
        );
        assert_eq!(cents(&g["net_revenue_after_returns"]), net - back, "{what}");
        assert_eq!(cents(&g["vat_amount"]), vat, "VAT of {what}");
        assert_eq!(cents(&g["paid_amount"]), pay, "paid of {what}");
        assert_eq!(
            cents(&g["balance_due"]),
            net - back + vat - pay,
            "balance due of {what}"
        );
        let (ship, delivered) = shipped
            .get(id)
            .cloned()
            .map_or((None, None), |(s, d)| (Some(s), d));
        assert_eq!(
            g["shipped"]
                .as_str()
                .map(|t| t.replace('T', " ").trim_end_matches('Z').to_string()),
            ship,
            "shipped of {what}"
        );
        assert_eq!(
            g["delivered"]
                .as_str()
                .map(|t| t.replace('T', " ").trim_end_matches('Z').to_string()),
            delivered,
            "delivered of {what}"
        );
        assert_eq!(g["is_cancelled"].as_bool(), Some(cancelled));
    }

    // shipment_sla: per carrier, warehouse and ship day (p90 is DataFusion's t-digest estimate:
    // checked to lie within the day's delivery times).
    #[derive(Default)]
    struct Sla {
        shipments: i64,
        hours: Vec<f64>,
        on_time: i64,
        late_open: i64,
    }
    let as_of_start = as_of.and_hms_opt(0, 0, 0).unwrap();
    let mut sla: BTreeMap<(i64, i64, NaiveDate), Sla> = BTreeMap::new();
    for sh in ndjson(&landing, "shipments") {
        let shipped_at = ts(&text(&sh, "shipped_at"));
        let promised = ts(&text(&sh, "promised_at"));
        let e = sla
            .entry((
                int(&sh, "carrier_id"),
                int(&sh, "warehouse_id"),
                shipped_at.date(),
            ))
            .or_default();
        e.shipments += 1;
        match sh.get("delivered_at").and_then(|v| v.as_str()) {
            Some(d) => {
                let delivered = ts(d);
                e.hours
                    .push((delivered - shipped_at).num_seconds() as f64 / 3600.0);
                e.on_time += i64::from(delivered <= promised);
            }
            None => e.late_open += i64::from(promised < as_of_start),
        }
    }
    let gold = rows(
        &root,
        "select carrier_id, warehouse_id, cast(ship_day as varchar) as ship_day, shipments, delivered, on_time, on_time_rate, avg_delivery_hours, p90_delivery_hours, late_open from gold.shipment_sla order by carrier_id, warehouse_id, ship_day",
    );
    assert_eq!(gold.len(), sla.len(), "shipment_sla rows");
    for (g, ((carrier, warehouse, day), e)) in gold.iter().zip(&sla) {
        let what = format!("shipments of carrier {carrier} warehouse {warehouse} on {day}");
        assert_eq!(
            (
                g["carrier_id"].as_i64(),
                g["warehouse_id"].as_i64(),
                g["ship_day"].as_str()
            ),
            (
                Some(*carrier),
                Some(*warehouse),
                Some(day.to_string().as_str())
            )
        );
        assert_eq!(
            (
                g["shipments"].as_i64(),
                g["delivered"].as_i64(),
                g["on_time"].as_i64(),
                g["late_open"].as_i64()
            ),
            (
                Some(e.shipments),
                Some(e.hours.len() as i64),
                Some(e.on_time),
                Some(e.late_open)
            ),
            "{what}"
        );
        if e.hours.is_empty() {
            assert!(
                g["on_time_rate"].is_null() && g["avg_delivery_hours"].is_null(),
                "{what}"
            );
        } else {
            let rate = e.on_time as f64 / e.hours.len() as f64;
            let avg = e.hours.iter().sum::<f64>() / e.hours.len() as f64;
            assert!(
                (g["on_time_rate"].as_f64().unwrap() - rate).abs() < 1e-9,
                "on-time rate of {what}"
            );
            assert!(
                (g["avg_delivery_hours"].as_f64().unwrap() - avg).abs() < 1e-6,
                "average hours of {what}"
            );
            let p90 = g["p90_delivery_hours"].as_f64().unwrap();
            let (lo, hi) = e
                .hours
                .iter()
                .fold((f64::MAX, f64::MIN), |(a, b), h| (a.min(*h), b.max(*h)));
            assert!(
                p90 >= lo - 1e-6 && p90 <= hi + 1e-6,
                "p90 of {what} within the day's hours"
            );
        }
    }

    // Monthly rebates: 5% of net sales where net units reach 1000.
    let gold = rows(
        &root,
        "select customer_id, cast(month as varchar) as month, net_units, net_sales, rebate_amount from gold.monthly_rebates order by customer_id, month",
    );
    assert_eq!(gold.len(), monthly.len());
    let mut rebated = 0;
    for (g, ((customer, month), (units, sales))) in gold.iter().zip(&monthly) {
        assert_eq!(g["customer_id"].as_i64(), Some(*customer));
        assert_eq!(&g["month"].as_str().unwrap()[..7], month);
        assert_eq!(
            g["net_units"].as_i64(),
            Some(*units),
            "net units of {customer} in {month}"
        );
        assert_eq!(
            cents(&g["net_sales"]),
            *sales,
            "net sales of {customer} in {month}"
        );
        let rebate = if *units >= 1000 {
            div_round(i128::from(*sales) * 5, 100)
        } else {
            0
        };
        assert_eq!(
            cents(&g["rebate_amount"]),
            rebate,
            "rebate of {customer} in {month}"
        );
        rebated += usize::from(rebate > 0);
    }
    assert!(rebated > 0, "some customers earn a rebate");
    let types = rows(
        &root,
        "select arrow_typeof(rebate_rate) as t from gold.monthly_rebates limit 1",
    );
    assert_eq!(
        types[0]["t"].as_str(),
        Some("Float64"),
        "rebate_rate is DOUBLE"
    );

    check_inventory(&root, &landing, as_of);

    // Descriptive columns: every name, place and label comes from the master-data files.
    let csv_map = |file: &str| -> HashMap<String, Vec<String>> {
        read_csv(&landing.join(file))
            .into_iter()
            .map(|r| (r[0].clone(), r))
            .collect()
    };
    let (customers_csv, locations_csv, territories_csv, types_csv) = (
        csv_map("customers.csv"),
        csv_map("locations.csv"),
        csv_map("territories.csv"),
        csv_map("customer_types.csv"),
    );
    let (carriers_csv, warehouses_csv) = (csv_map("carriers.csv"), csv_map("warehouses.csv"));
    // The current version of each product: the row with the newest updated_at.
    let mut products_csv: HashMap<String, Vec<String>> = HashMap::new();
    for r in read_csv(&landing.join("products.csv")) {
        if products_csv.get(&r[0]).is_none_or(|cur| r[6] >= cur[6]) {
            products_csv.insert(r[0].clone(), r);
        }
    }
    let names: HashMap<String, Vec<String>> = customers_csv
        .iter()
        .map(|(k, r)| (k.clone(), vec![r[1].clone()]))
        .collect();
    for table in [
        "customer_metrics",
        "customer_revenue",
        "customer_segmentation",
        "monthly_rebates",
    ] {
        check_lookups(
            &root,
            &format!("{table}.customer_name"),
            &format!(
                "select cast(customer_id as varchar) as k, customer_name as c1 from gold.{table}"
            ),
            &names,
        );
    }
    let aging_people: HashMap<String, Vec<String>> = customers_csv
        .iter()
        .map(|(k, r)| {
            let l = &locations_csv[&r[4]];
            let t = &territories_csv[&l[5]];
            (
                k.clone(),
                vec![
                    r[1].clone(),
                    types_csv[&r[2]][1].clone(),
                    l[1].clone(),
                    t[1].clone(),
                    format!("{} {}", t[2], t[3]),
                    r[6].clone(),
                ],
            )
        })
        .collect();
    check_lookups(
        &root,
        "credit_aging people",
        "select cast(customer_id as varchar) as k, customer_name as c1, customer_type as c2, region as c3, territory as c4, manager as c5, cast(credit_limit as varchar) as c6 from gold.credit_aging",
        &aging_people,
    );
    let product_labels: HashMap<String, Vec<String>> = products_csv
        .iter()
        .map(|(k, r)| (k.clone(), vec![r[1].clone(), r[2].clone(), r[3].clone()]))
        .collect();
    check_lookups(
        &root,
        "product_performance labels",
        "select cast(product_id as varchar) as k, description as c1, brand as c2, category as c3 from gold.product_performance",
        &product_labels,
    );
    let inventory_labels: HashMap<String, Vec<String>> = products_csv
        .iter()
        .flat_map(|(k, r)| {
            warehouses_csv.iter().map(move |(w, wr)| {
                (
                    format!("{k}/{w}"),
                    vec![r[1].clone(), r[3].clone(), wr[1].clone()],
                )
            })
        })
        .collect();
    check_lookups(
        &root,
        "inventory_levels labels",
        "select cast(product_id as varchar) || '/' || cast(warehouse_id as varchar) as k, description as c1, category as c2, warehouse_name as c3 from gold.inventory_levels",
        &inventory_labels,
    );
    let places: HashMap<String, Vec<String>> = locations_csv
        .iter()
        .map(|(k, r)| (k.clone(), vec![r[4].clone(), r[3].clone(), r[1].clone()]))
        .collect();
    check_lookups(
        &root,
        "store_performance places",
        "select cast(location_id as varchar) as k, city as c1, state as c2, region as c3 from gold.store_performance",
        &places,
    );
    let sites: HashMap<String, Vec<String>> = carriers_csv
        .iter()
        .flat_map(|(c, cr)| {
            warehouses_csv
                .iter()
                .map(move |(w, wr)| (format!("{c}/{w}"), vec![cr[1].clone(), wr[1].clone()]))
        })
        .collect();
    check_lookups(
        &root,
        "shipment_sla names",
        "select cast(carrier_id as varchar) || '/' || cast(warehouse_id as varchar) as k, carrier_name as c1, warehouse_name as c2 from gold.shipment_sla",
        &sites,
    );
    let open_orders: HashMap<String, Vec<String>> = orders
        .iter()
        .map(|(id, o)| {
            let customer = int(o, "customer_id").to_string();
            let location = int(o, "location_id").to_string();
            (
                id.to_string(),
                vec![
                    customer.clone(),
                    customers_csv[&customer][1].clone(),
                    location.clone(),
                    locations_csv[&location][4].clone(),
                    text(o, "ordered_at"),
                ],
            )
        })
        .collect();
    check_lookups(
        &root,
        "outstanding_orders labels",
        "select cast(order_id as varchar) as k, cast(customer_id as varchar) as c1, customer as c2, cast(location_id as varchar) as c3, location as c4, replace(replace(cast(ordered_at as varchar), 'T', ' '), 'Z', '') as c5 from gold.outstanding_orders",
        &open_orders,
    );
    let order_facts: HashMap<String, Vec<String>> = orders
        .iter()
        .map(|(id, o)| {
            let opt = |k: &str| {
                o.get(k)
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_string()
            };
            (
                id.to_string(),
                vec![
                    int(o, "customer_id").to_string(),
                    int(o, "location_id").to_string(),
                    text(o, "channel"),
                    text(o, "source_system"),
                    text(o, "ordered_at"),
                    text(o, "status"),
                    opt("hold_reason"),
                    opt("cancel_reason"),
                ],
            )
        })
        .collect();
    check_lookups(
        &root,
        "fct_orders attributes",
        "select cast(order_id as varchar) as k, cast(customer_id as varchar) as c1, cast(location_id as varchar) as c2, channel as c3, source_system as c4, replace(replace(cast(ordered_at as varchar), 'T', ' '), 'Z', '') as c5, status as c6, hold_reason as c7, cancel_reason as c8 from gold.fct_orders",
        &order_facts,
    );
    // fct_sales attributes and amounts per line.
    let mut sale_facts: HashMap<String, Vec<String>> = HashMap::new();
    let money = |c: i64| format!("{}.{:02}", c / 100, (c % 100).abs());
    for l in &lines {
        let o = &orders[&l.order_id];
        if !sold(o) {
            continue;
        }
        sale_facts.insert(
            format!("sale/{}/{}", l.order_id, l.line_no),
            vec![
                int(o, "customer_id").to_string(),
                int(o, "location_id").to_string(),
                text(o, "channel"),
                l.product_id.to_string(),
                text(o, "billed_at"),
                l.quantity.to_string(),
                money(l.price),
                money(l.quantity * l.price),
                money(l.discount),
                String::new(),
            ],
        );
    }
    for r in &returns_file {
        let l = line_of[&(int(r, "order_id"), int(r, "line_no"))];
        let o = &orders[&l.order_id];
        let qty = int(r, "quantity");
        let discount = div_round(
            i128::from(l.discount) * i128::from(qty),
            i128::from(l.quantity),
        );
        sale_facts.insert(
            format!(
                "return/{}/{}/{}",
                l.order_id,
                l.line_no,
                int(r, "return_id")
            ),
            vec![
                int(o, "customer_id").to_string(),
                int(o, "location_id").to_string(),
                text(o, "channel"),
                l.product_id.to_string(),
                text(r, "returned_at"),
                (-qty).to_string(),
                money(l.price),
                format!("-{}", money(qty * l.price)),
                if discount == 0 {
                    "0.00".to_string()
                } else {
                    format!("-{}", money(discount))
                },
                text(r, "reason"),
            ],
        );
    }
    check_lookups(
        &root,
        "fct_sales attributes",
        "select line_type || '/' || cast(order_id as varchar) || '/' || cast(line_no as varchar) || case when return_id is null then '' else '/' || cast(return_id as varchar) end as k, \
         cast(customer_id as varchar) as c1, cast(location_id as varchar) as c2, channel as c3, cast(product_id as varchar) as c4, replace(replace(cast(event_at as varchar), 'T', ' '), 'Z', '') as c5, \
         cast(quantity as varchar) as c6, cast(unit_price as varchar) as c7, cast(gross_amount as varchar) as c8, cast(discount_amount as varchar) as c9, return_reason as c10 \
         from gold.fct_sales",
        &sale_facts,
    );

    // Product return rates against the lines.
    let mut per_product: BTreeMap<i64, (i64, i64)> = BTreeMap::new();
    for l in &lines {
        if sold(&orders[&l.order_id]) {
            per_product.entry(l.product_id).or_default().0 += l.quantity;
        }
    }
    for r in ndjson(&landing, "returns") {
        let l = line_of[&(int(&r, "order_id"), int(&r, "line_no"))];
        per_product.entry(l.product_id).or_default().1 += int(&r, "quantity");
    }
    let gold = rows(
        &root,
        "select product_id, units_sold, units_returned, return_rate from gold.product_performance order by product_id",
    );
    assert_eq!(gold.len(), per_product.len());
    for (g, (p, (s, r))) in gold.iter().zip(&per_product) {
        assert_eq!(g["product_id"].as_i64(), Some(*p));
        assert_eq!(
            (g["units_sold"].as_i64(), g["units_returned"].as_i64()),
            (Some(*s), Some(*r))
        );
        assert!((g["return_rate"].as_f64().unwrap() - *r as f64 / *s as f64).abs() < 1e-12);
    }

    // product_performance: money and ranks, from the line facts (net, cost at billing).
    let category_of: HashMap<i64, String> = read_csv(&landing.join("products.csv"))
        .into_iter()
        .map(|r| (r[0].parse().unwrap(), r[3].clone()))
        .collect();
    let mut product_money: BTreeMap<i64, (i64, i64)> = BTreeMap::new(); // (net, cost)
    for ((_, order, line_no, _), (cost, profit)) in &expected_costs {
        let product = line_of[&(*order, *line_no)].product_id;
        let e = product_money.entry(product).or_default();
        e.0 += cost + profit;
        e.1 += cost;
    }
    let rank = |values: Vec<(i64, i64)>| -> HashMap<i64, i64> {
        // dense_rank by net revenue, highest first
        let mut distinct: Vec<i64> = values.iter().map(|v| v.1).collect();
        distinct.sort_by(|a, b| b.cmp(a));
        distinct.dedup();
        values
            .iter()
            .map(|(p, net)| {
                (
                    *p,
                    distinct.iter().position(|d| d == net).unwrap() as i64 + 1,
                )
            })
            .collect()
    };
    let revenue_rank = rank(product_money.iter().map(|(p, m)| (*p, m.0)).collect());
    let mut category_rank: HashMap<i64, i64> = HashMap::new();
    for category in category_of.values().collect::<BTreeSet<_>>() {
        category_rank.extend(rank(
            product_money
                .iter()
                .filter(|(p, _)| &category_of[p] == category)
                .map(|(p, m)| (*p, m.0))
                .collect(),
        ));
    }
    let gold = rows(
        &root,
        "select product_id, category, net_revenue, cost_amount, gross_profit, margin_pct, revenue_rank, category_rank from gold.product_performance order by product_id",
    );
    assert_eq!(gold.len(), product_money.len());
    for (g, (p, (net, cost))) in gold.iter().zip(&product_money) {
        let what = format!("product {p}");
        assert_eq!(g["product_id"].as_i64(), Some(*p));
        assert_eq!(g["category"].as_str(), Some(category_of[p].as_str()));
        assert_eq!(
            [
                cents(&g["net_revenue"]),
                cents(&g["cost_amount"]),
                cents(&g["gross_profit"])
            ],
            [*net, *cost, net - cost],
            "money of {what}"
        );
        if *net != 0 {
            let margin = (net - cost) as f64 / *net as f64 * 100.0;
            assert!(
                (g["margin_pct"].as_f64().unwrap() - margin).abs() < 1e-9,
                "margin of {what}"
            );
        }
        assert_eq!(
            g["revenue_rank"].as_i64(),
            Some(revenue_rank[p]),
            "revenue rank of {what}"
        );
        assert_eq!(
            g["category_rank"].as_i64(),
            Some(category_rank[p]),
            "category rank of {what}"
        );
    }

    // customer_metrics' remaining columns and the RFM inputs of customer_segmentation.
    let gold = rows(
        &root,
        "select m.customer_id, m.sales_revenue, m.refunded_amount, m.units_returned, cast(m.first_order_date as varchar) as first, cast(m.last_order_date as varchar) as last, m.lifespan_days, m.purchase_frequency, s.recency_days, s.frequency, s.monetary from gold.customer_metrics m join gold.customer_segmentation s on s.customer_id = m.customer_id order by m.customer_id",
    );
    assert_eq!(gold.len(), customers.len());
    for (g, (id, c)) in gold.iter().zip(&customers) {
        let what = format!("customer {id}");
        let (first, last) = (c.first.unwrap(), c.last.unwrap());
        let lifespan = (last - first).num_days();
        assert_eq!(g["customer_id"].as_i64(), Some(*id));
        assert_eq!(
            [cents(&g["sales_revenue"]), cents(&g["refunded_amount"])],
            [c.sales, c.refunds],
            "{what}"
        );
        assert_eq!(
            g["units_returned"].as_i64(),
            Some(c.units_returned),
            "{what}"
        );
        assert_eq!(
            (g["first"].as_str(), g["last"].as_str()),
            (
                Some(first.to_string().as_str()),
                Some(last.to_string().as_str())
            ),
            "{what}"
        );
        assert_eq!(g["lifespan_days"].as_i64(), Some(lifespan), "{what}");
        let frequency = c.orders.len() as f64 / (lifespan as f64 / 30.0).max(1.0);
        assert!(
            (g["purchase_frequency"].as_f64().unwrap() - frequency).abs() < 1e-9,
            "purchase frequency of {what}"
        );
        assert_eq!(
            g["recency_days"].as_i64(),
            Some((as_of - last).num_days()),
            "{what}"
        );
        assert_eq!(
            g["frequency"].as_i64(),
            Some(c.orders.len() as i64),
            "{what}"
        );
        assert_eq!(cents(&g["monetary"]), c.sales - c.refunds, "{what}");
    }

    // regional_sales.share_of_total_pct: the place's share of the month's net revenue.
    let mut month_total: HashMap<String, i64> = HashMap::new();
    for ((_, month), r) in &regions {
        *month_total.entry(month.clone()).or_default() += r.net;
    }
    let gold = rows(
        &root,
        "select substr(cast(month as varchar), 1, 7) as month, net_revenue, share_of_total_pct from gold.regional_sales",
    );
    for g in &gold {
        let total = month_total[g["month"].as_str().unwrap()];
        if total != 0 {
            let share = cents(&g["net_revenue"]) as f64 / total as f64 * 100.0;
            assert!(
                (g["share_of_total_pct"].as_f64().unwrap() - share).abs() < 1e-9,
                "regional share"
            );
        }
    }

    // As of a day inside the period, entries and movements after that day do not count: an
    // invoice of June is not 0-30 days old in May, a payment of June does not settle it, stock
    // received in June is not on hand in May.
    // The rebate boundary: with `rebate_min_units` set to exactly one customer-month's net units,
    // that month qualifies (≥, not >) and a month one unit short does not.
    let ((at_customer, at_month), &(at_units, at_sales)) = monthly
        .iter()
        .filter(|(_, (units, sales))| *units > 1 && *sales > 0)
        .max_by_key(|(_, (units, _))| *units)
        .expect("a customer-month with sales");
    let vars_at = format!("{{as_of_date: '{AS_OF}', rebate_min_units: {at_units}}}");
    ok(
        &root,
        &["build", "--vars", &vars_at, "-s", "monthly_rebates"],
    );
    let gold = rows(
        &root,
        "select customer_id, substr(cast(month as varchar), 1, 7) as month, net_units, rebate_rate, rebate_amount from gold.monthly_rebates",
    );
    for g in &gold {
        let (customer, month) = (
            g["customer_id"].as_i64().unwrap(),
            g["month"].as_str().unwrap(),
        );
        let units = g["net_units"].as_i64().unwrap();
        if (customer, month) == (*at_customer, at_month.as_str()) {
            assert_eq!(units, at_units);
            assert_eq!(
                g["rebate_rate"].as_f64(),
                Some(0.05),
                "exactly the minimum qualifies"
            );
            assert_eq!(
                cents(&g["rebate_amount"]),
                div_round(i128::from(at_sales) * 5, 100)
            );
        } else if units == at_units - 1 {
            assert_eq!(
                g["rebate_rate"].as_f64(),
                Some(0.0),
                "one unit short does not"
            );
        }
    }
    ok(
        &root,
        &["build", "--vars", &vars(), "-s", "monthly_rebates"],
    );

    let mid = NaiveDate::from_ymd_opt(2024, 5, 15).expect("date");
    ok(
        &root,
        &[
            "build",
            "--vars",
            "{as_of_date: '2024-05-15'}",
            "-s",
            "credit_aging",
            "inventory_levels",
        ],
    );
    check_credit_aging(&root, &landing, mid);
    check_inventory(&root, &landing, mid);
}

#[test]
fn messy_input_is_deduplicated_and_every_row_is_accounted_for() {
    let (_dir, root, landing) = built("2000", "0.05");
    let summary: Value =
        serde_json::from_str(&std::fs::read_to_string(landing.join("_generated.json")).unwrap())
            .unwrap();
    let malformed = |k: &str| summary["malformed"][k].as_i64().unwrap_or(0);
    assert!(
        summary["duplicates"].as_i64().unwrap() > 0
            && summary["late_updates"].as_i64().unwrap() > 0
    );
    let count = |q: &str| rows(&root, q)[0].values().next().unwrap().as_i64().unwrap();

    // Files → bronze + quarantine, per entity: nothing lost at ingestion.
    for (entity, files) in [
        ("orders", "orders_"),
        ("order_lines", "order_lines_"),
        ("customers", "customers"),
        ("payments", "payments"),
    ] {
        let input: i64 = summary["files"]
            .as_object()
            .unwrap()
            .iter()
            .filter(|(name, _)| name.starts_with(files))
            .map(|(_, n)| n.as_i64().unwrap())
            .sum();
        let bronze = count(&format!("select count(*) from bronze.{entity}"));
        let quarantined = count(&format!(
            "select count(*) from bronze._quarantine where entity = '{entity}'"
        ));
        assert_eq!(
            bronze + quarantined,
            input,
            "{entity}: bronze {bronze} + quarantine {quarantined} = input"
        );
    }
    assert_eq!(
        count("select count(*) from bronze._quarantine where entity = 'orders'"),
        malformed("orders: truncated JSON")
    );
    assert_eq!(
        count("select count(*) from bronze._quarantine where entity = 'customers'"),
        malformed("customers: broken CSV quoting")
    );

    // Bronze → silver: each key once; the rest superseded (older or duplicate) or quarantined.
    let orders_keys = count("select count(distinct order_id) from bronze.orders");
    let silver_orders = count("select count(*) from silver.orders");
    let quarantined_orders =
        count("select count(distinct order_id) from silver.orders__quarantine");
    assert_eq!(silver_orders + quarantined_orders, orders_keys);
    assert_eq!(
        count(
            "select count(*) from silver.orders__quarantine where _expectations like '%valid_ordered_at%'"
        ),
        malformed("orders: bad date")
    );
    assert_eq!(
        silver_orders,
        summary["orders"].as_i64().unwrap(),
        "every real order once"
    );
    assert_eq!(
        count("select count(*) - count(distinct order_id) from silver.orders"),
        0
    );

    let line_keys =
        count("select count(*) from (select distinct order_id, line_no from bronze.order_lines) k");
    let silver_lines = count("select count(*) from silver.order_lines");
    let quarantined_lines = count("select count(*) from silver.order_lines__quarantine");
    assert_eq!(silver_lines + quarantined_lines, line_keys);
    assert_eq!(
        silver_lines,
        summary["order_lines"].as_i64().unwrap(),
        "every real line once"
    );
    assert_eq!(
        count(
            "select count(*) from silver.order_lines__quarantine where _expectations like '%positive_quantity%'"
        ),
        malformed("order_lines: negative quantity")
    );
    assert_eq!(
        count(
            "select count(*) from silver.order_lines__quarantine where _expectations like '%known_product%'"
        ),
        malformed("order_lines: unknown product")
    );

    // Late updates: the current version is the newest, whatever the arrival order.
    let mut latest: BTreeMap<i64, (String, String)> = BTreeMap::new();
    for o in ndjson(&landing, "orders") {
        if NaiveDateTime::parse_from_str(&text(&o, "ordered_at"), "%Y-%m-%d %H:%M:%S").is_err() {
            continue;
        }
        let id = int(&o, "order_id");
        let (updated, status) = (text(&o, "updated_at"), text(&o, "status"));
        if latest.get(&id).is_none_or(|(u, _)| updated >= *u) {
            latest.insert(id, (updated, status));
        }
    }
    let silver = rows(
        &root,
        "select order_id, status from silver.orders order by order_id",
    );
    assert_eq!(silver.len(), latest.len());
    for (s, (id, (_, status))) in silver.iter().zip(&latest) {
        assert_eq!(s["order_id"].as_i64(), Some(*id));
        assert_eq!(
            s["status"].as_str(),
            Some(status.as_str()),
            "status of order {id}"
        );
    }

    // Exactly once: a second ingest loads nothing, and a rebuild gives the same gold totals.
    let before = count("select cast(sum(net_revenue) * 100 as bigint) from gold.fct_sales");
    let run = ok(&root, &["ingest", "--landing", landing.to_str().unwrap()]);
    assert!(
        run.stdout.contains("Ingested 0 new file(s)"),
        "{}",
        run.stdout
    );
    let vars = vars();
    ok(&root, &["build", "--vars", &vars]);
    assert_eq!(
        count("select cast(sum(net_revenue) * 100 as bigint) from gold.fct_sales"),
        before
    );
    assert_eq!(count("select count(*) from silver.orders"), silver_orders);
}

#[test]
fn demo_generates_ingests_builds_and_tests() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("demo");
    let out_s = out.to_str().expect("utf-8 path");
    let run = ok(
        dir.path(),
        &["demo", "--no-serve", "--out", out_s, "--orders", "800"],
    );
    assert!(run.stdout.contains("Headline"), "{}", run.stdout);
    assert!(
        run.stdout.contains("0 error, 0 fail, 0 skipped"),
        "{}",
        run.stdout
    );
    // The headline equals the gold table.
    let total = crate::util::scalar_f64(
        &out,
        "select cast(sum(net_revenue) as double) from gold.fct_sales",
    );
    assert!(total > 0.0);
    assert!(
        run.stdout.contains(&format!("{total:.2}")),
        "headline shows {total:.2}:\n{}",
        run.stdout
    );
    // A second demo reuses the landing files and loads nothing new.
    let again = ok(
        dir.path(),
        &["demo", "--no-serve", "--out", out_s, "--orders", "800"],
    );
    assert!(
        again.stdout.contains("Ingested 0 new file(s)"),
        "{}",
        again.stdout
    );
}

/// Issue: a refused over-return counted toward the line's limit, so a later valid return was
/// quarantined too. Sold S; returns of 1 (accepted), S (refused: 1 + S > S), then S − 1 (accepted:
/// 1 + S − 1 = S, exactly what was sold).
#[test]
fn a_refused_over_return_does_not_count_toward_later_returns() {
    let (dir, root, landing) = built("300", "0");
    let line = rows(
        &root,
        "select l.order_id, l.line_no, l.quantity from silver.order_lines l \
         join silver.orders o on o.order_id = l.order_id \
         where o.status in ('billed', 'shipped', 'delivered') and l.quantity >= 3 \
         and not exists (select 1 from silver.returns r where r.order_id = l.order_id and r.line_no = l.line_no) \
         order by l.order_id, l.line_no limit 1",
    );
    let line = line.first().expect("a billed line without returns");
    let (order, line_no, sold) = (
        line["order_id"].as_i64().unwrap(),
        line["line_no"].as_i64().unwrap(),
        line["quantity"].as_i64().unwrap(),
    );
    let mut file = String::new();
    for (id, quantity, day) in [(900_001, 1, 1), (900_002, sold, 2), (900_003, sold - 1, 3)] {
        file.push_str(&format!(
            "{{\"return_id\": {id}, \"order_id\": {order}, \"line_no\": {line_no}, \"quantity\": {quantity}, \"reason\": \"changed mind\", \"returned_at\": \"2024-06-2{day} 10:00:00\"}}\n"
        ));
    }
    // And a return on an order that was never billed: quarantined, named, not lost in a join.
    let unsold = rows(
        &root,
        "select l.order_id, l.line_no from silver.order_lines l join silver.orders o on o.order_id = l.order_id \
         where o.status in ('raised', 'on_hold', 'cancelled') order by l.order_id limit 1",
    );
    let unsold = unsold.first().expect("an order that was not billed");
    file.push_str(&format!(
        "{{\"return_id\": 900004, \"order_id\": {}, \"line_no\": {}, \"quantity\": 1, \"reason\": \"damaged\", \"returned_at\": \"2024-06-24 10:00:00\"}}\n",
        unsold["order_id"].as_i64().unwrap(),
        unsold["line_no"].as_i64().unwrap()
    ));
    std::fs::write(landing.join("returns_9000.ndjson"), file).expect("write returns");
    let landing_s = landing.to_str().expect("utf-8");
    ok(&root, &["ingest", "--landing", landing_s]);
    // The checks of each return (silver.returns_checked) come first, then the walk.
    ok(
        &root,
        &[
            "build",
            "--vars",
            &vars(),
            "-s",
            "returns_checked",
            "-s",
            "returns",
        ],
    );
    let accepted = rows(
        &root,
        "select return_id from silver.returns where return_id >= 900000 order by return_id",
    );
    let accepted: Vec<i64> = accepted
        .iter()
        .map(|r| r["return_id"].as_i64().unwrap())
        .collect();
    assert_eq!(accepted, vec![900_001, 900_003], "accepted returns");
    let refused = rows(
        &root,
        "select return_id, _expectations from silver.returns__quarantine where return_id >= 900000 order by return_id",
    );
    assert_eq!(refused.len(), 2, "{refused:?}");
    assert_eq!(refused[0]["return_id"].as_i64(), Some(900_002));
    assert_eq!(refused[0]["_expectations"].as_str(), Some("within_sold"));
    assert_eq!(refused[1]["return_id"].as_i64(), Some(900_004));
    assert_eq!(
        refused[1]["_expectations"].as_str(),
        Some("sold_order,within_sold")
    );
    drop(dir);
}

/// Issue: a line arriving before its order header was quarantined as "unknown order" and never
/// looked at again. The quarantine is a waiting room: once the header arrives, the next build
/// admits the line.
#[test]
fn a_line_that_arrives_before_its_order_is_admitted_once_the_order_arrives() {
    let (dir, root, landing) = built("300", "0");
    let landing_s = landing.to_str().expect("utf-8");
    let customer = rows(
        &root,
        "select customer_id, location_id from silver.customers order by customer_id limit 1",
    );
    let (customer, location) = (
        customer[0]["customer_id"].as_i64().unwrap(),
        customer[0]["location_id"].as_i64().unwrap(),
    );
    let order = 7_000_001;
    std::fs::write(
        landing.join("order_lines_9001.ndjson"),
        // With it, in the same load, a valid new line of an existing order: it is admitted, so
        // the model's high-water mark moves past the early line.
        format!("{{\"order_id\": {order}, \"line_no\": 1, \"product_id\": 1, \"quantity\": 2, \"unit_price\": \"10.00\", \"discount_amount\": \"0.00\", \"updated_at\": \"2024-06-20 10:00:00\"}}\n\
                 {{\"order_id\": 1, \"line_no\": 77, \"product_id\": 1, \"quantity\": 1, \"unit_price\": \"10.00\", \"discount_amount\": \"0.00\", \"updated_at\": \"2024-06-20 10:00:00\"}}\n"),
    )
    .expect("write line");
    ok(&root, &["ingest", "--landing", landing_s]);
    ok(&root, &["build", "--vars", &vars()]);
    let waiting = rows(
        &root,
        &format!(
            "select _expectations from silver.order_lines__quarantine where order_id = {order}"
        ),
    );
    assert_eq!(waiting.len(), 1, "the early line waits in quarantine");
    // Without its order there is no order time either, so no cost version: both are named.
    assert_eq!(
        waiting[0]["_expectations"].as_str(),
        Some("known_order,known_product")
    );

    std::fs::write(
        landing.join("orders_9001.ndjson"),
        format!("{{\"order_id\": {order}, \"customer_id\": {customer}, \"location_id\": {location}, \"channel\": \"web\", \"source_system\": \"erp\", \"ordered_at\": \"2024-06-20 09:59:00\", \"status\": \"raised\", \"hold_reason\": null, \"cancel_reason\": null, \"billed_at\": null, \"updated_at\": \"2024-06-20 09:59:00\"}}\n"),
    )
    .expect("write order");
    ok(&root, &["ingest", "--landing", landing_s]);
    ok(&root, &["build", "--vars", &vars()]);
    let admitted = rows(
        &root,
        &format!("select line_no, quantity from silver.order_lines where order_id = {order}"),
    );
    assert_eq!(
        admitted.len(),
        1,
        "the line is admitted once its order is there"
    );
    assert_eq!(admitted[0]["quantity"].as_i64(), Some(2));
    let outstanding = rows(
        &root,
        &format!("select units from gold.outstanding_orders where order_id = {order}"),
    );
    assert_eq!(outstanding[0]["units"].as_i64(), Some(2));
    // A third build changes nothing: the admitted line is not read again, nothing new waits.
    ok(&root, &["build", "--vars", &vars()]);
    let waiting = rows(
        &root,
        &format!(
            "select count(*) as n from silver.order_lines__quarantine where order_id = {order}"
        ),
    );
    assert_eq!(
        waiting[0]["n"].as_i64(),
        Some(1),
        "quarantined once, then admitted"
    );
    drop(dir);
}
