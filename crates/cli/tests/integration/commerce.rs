//! The commerce project (`projects/commerce`) on the real Olist subset in `../shared/data/olist`:
//! every figure checked here is computed again in the test from the CSV files themselves.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::util::{bundled_project, ok, rows};

/// The Olist subset: `ORDERLAKE_OLIST_DIR`, or `shared/data/olist` beside the repository (or the
/// workplace's). Absent outside CI, the test is skipped; in CI it must be there.
fn olist_dir() -> Option<PathBuf> {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let candidates = [
        std::env::var_os("ORDERLAKE_OLIST_DIR").map(PathBuf::from),
        Some(repo.join("../shared/data/olist")),
        Some(PathBuf::from("/work/shared/data/olist")),
    ];
    let found = candidates
        .into_iter()
        .flatten()
        .find(|d| d.join("olist_orders_dataset.csv").is_file());
    if found.is_none() && std::env::var_os("CI").is_some() {
        panic!(
            "the Olist subset (shared/data/olist) is not on this machine; set ORDERLAKE_OLIST_DIR"
        );
    }
    found
}

/// A CSV file as rows keyed by column name (the csv crate: Olist quotes some fields).
fn records(path: &Path) -> Vec<BTreeMap<String, String>> {
    let mut reader = csv::Reader::from_path(path).expect("open csv");
    let headers: Vec<String> = reader
        .headers()
        .expect("header")
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').to_string())
        .collect();
    reader
        .records()
        .map(|r| {
            let r = r.expect("record");
            headers
                .iter()
                .cloned()
                .zip(r.iter().map(str::to_string))
                .collect()
        })
        .collect()
}

fn cents(text: &str) -> i64 {
    (text.parse::<f64>().expect("a number") * 100.0).round() as i64
}

fn json_cents(value: &serde_json::Value) -> i64 {
    let number = value
        .as_f64()
        .or_else(|| value.as_str().and_then(|s| s.parse().ok()))
        .unwrap_or_else(|| panic!("not a number: {value}"));
    (number * 100.0).round() as i64
}

fn json_i64(value: &serde_json::Value) -> i64 {
    value
        .as_i64()
        .or_else(|| value.as_str().and_then(|s| s.parse().ok()))
        .unwrap_or_else(|| panic!("not an integer: {value}"))
}

#[test]
fn olist_export_builds_the_commerce_schema_with_the_csv_files_figures() {
    let Some(olist) = olist_dir() else {
        eprintln!("skipped: the Olist subset is not on this machine");
        return;
    };
    let (_tmp, project) = bundled_project("commerce");
    let landing = project.join("landing");
    std::fs::create_dir_all(&landing).unwrap();
    for entry in std::fs::read_dir(&olist).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "csv") {
            std::fs::copy(&path, landing.join(path.file_name().unwrap())).unwrap();
        }
    }
    // A newer export of one order lands later, as a second file of the same entity: its newest
    // copy wins and nothing is counted twice.
    let mut orders = records(&olist.join("olist_orders_dataset.csv"));
    let changed = orders
        .iter()
        .position(|o| o["order_status"] == "shipped")
        .expect("a shipped order");
    let header = "order_id,customer_id,order_status,order_purchase_timestamp,order_approved_at,order_delivered_carrier_date,order_delivered_customer_date,order_estimated_delivery_date";
    orders[changed].insert("order_status".into(), "delivered".into());
    orders[changed].insert(
        "order_delivered_customer_date".into(),
        "2030-01-01 10:00".into(),
    );
    let line: Vec<&str> = header
        .split(',')
        .map(|c| orders[changed][c].as_str())
        .collect();
    ok(
        &project,
        &["ingest", "--landing", landing.to_str().unwrap()],
    );
    std::fs::write(
        landing.join("olist_orders_dataset_2.csv"),
        format!("{header}\n{}\n", line.join(",")),
    )
    .unwrap();
    ok(
        &project,
        &["ingest", "--landing", landing.to_str().unwrap()],
    );
    ok(&project, &["build"]);

    // Order counts by the platform's status.
    let mut by_status: BTreeMap<String, i64> = BTreeMap::new();
    for o in &orders {
        *by_status.entry(o["order_status"].clone()).or_default() += 1;
    }
    let gold: BTreeMap<String, i64> = rows(
        &project,
        "select source_status, sum(orders) as orders from commerce_gold.orders_by_status group by 1",
    )
    .iter()
    .map(|r| {
        (
            r["source_status"].as_str().unwrap().to_string(),
            json_i64(&r["orders"]),
        )
    })
    .collect();
    assert_eq!(gold, by_status);

    // Items and payments per order.
    let mut items: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for i in records(&olist.join("olist_order_items_dataset.csv")) {
        let e = items.entry(i["order_id"].clone()).or_default();
        e.0 += cents(&i["price"]);
        e.1 += cents(&i["freight_value"]);
    }
    let mut paid: BTreeMap<String, i64> = BTreeMap::new();
    let mut voucher: BTreeSet<String> = BTreeSet::new();
    for p in records(&olist.join("olist_order_payments_dataset.csv")) {
        *paid.entry(p["order_id"].clone()).or_default() += cents(&p["payment_value"]);
        if p["payment_type"] == "voucher" {
            voucher.insert(p["order_id"].clone());
        }
    }

    // Revenue by month of order: items and freight of orders not cancelled.
    let mut revenue: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for o in &orders {
        if matches!(o["order_status"].as_str(), "canceled" | "unavailable") {
            continue;
        }
        let month = format!("{}-01", &o["order_purchase_timestamp"][..7]);
        let (price, freight) = items.get(&o["order_id"]).copied().unwrap_or_default();
        let e = revenue.entry(month).or_default();
        e.0 += 1;
        e.1 += price + freight;
    }
    let gold: BTreeMap<String, (i64, i64)> = rows(
        &project,
        "select cast(month as varchar) as month, orders, revenue from commerce_gold.revenue_by_month where source_platform = 'olist'",
    )
    .iter()
    .map(|r| {
        (
            r["month"].as_str().unwrap().to_string(),
            (json_i64(&r["orders"]), json_cents(&r["revenue"])),
        )
    })
    .collect();
    assert_eq!(gold, revenue);

    // The same revenue in the reporting currency (USD), at the seed's rate of the order's day.
    let usd_per_brl: BTreeMap<String, f64> = records(&project.join("seeds/exchange_rates.csv"))
        .into_iter()
        .filter(|r| r["currency"] == "BRL")
        .map(|r| (r["rate_date"].clone(), r["usd_per_unit"].parse().unwrap()))
        .collect();
    let mut in_usd: BTreeMap<String, f64> = BTreeMap::new();
    for o in &orders {
        if matches!(o["order_status"].as_str(), "canceled" | "unavailable") {
            continue;
        }
        let (price, freight) = items.get(&o["order_id"]).copied().unwrap_or_default();
        let rate = usd_per_brl[&o["order_purchase_timestamp"][..10]];
        let month = format!("{}-01", &o["order_purchase_timestamp"][..7]);
        *in_usd.entry(month).or_default() += (price + freight) as f64 * rate;
    }
    for r in rows(
        &project,
        "select cast(month as varchar) as month, orders, revenue_reporting, reporting_currency from commerce_gold.revenue_by_month where source_platform = 'olist'",
    ) {
        assert_eq!(r["reporting_currency"], "USD");
        let month = r["month"].as_str().unwrap();
        let gold = json_cents(&r["revenue_reporting"]) as f64;
        // Each order is rounded to the cent on its own: at most half a cent each.
        let slack = json_i64(&r["orders"]) as f64 * 0.5 + 1.0;
        assert!(
            (gold - in_usd[month]).abs() <= slack,
            "{month}: gold {gold} vs {} cents",
            in_usd[month]
        );
    }

    // Payment totals per order; without vouchers, what was paid is items + freight (Olist's
    // installment interest aside: the orders where it is not are the same on both sides).
    let universal: BTreeMap<String, (i64, i64)> = rows(
        &project,
        "select source_order_id, paid_amount, order_amount from commerce.orders",
    )
    .iter()
    .map(|r| {
        (
            r["source_order_id"].as_str().unwrap().to_string(),
            (
                json_cents(&r["paid_amount"]),
                json_cents(&r["order_amount"]),
            ),
        )
    })
    .collect();
    assert_eq!(universal.len(), orders.len());
    for o in &orders {
        let id = &o["order_id"];
        let (price, freight) = items.get(id).copied().unwrap_or_default();
        let expected = (paid.get(id).copied().unwrap_or(0), price + freight);
        assert_eq!(universal[id], expected, "order {id}");
    }
    let differing = orders
        .iter()
        .filter(|o| items.contains_key(&o["order_id"]) && !voucher.contains(&o["order_id"]))
        .filter(|o| {
            let (price, freight) = items[&o["order_id"]];
            (paid.get(&o["order_id"]).copied().unwrap_or(0) - (price + freight)).abs() > 1
        })
        .count() as f64;
    let gold_differing = crate::util::scalar_f64(
        &project,
        "select count(*) from commerce.orders where item_count > 0 and not paid_with_voucher and abs(paid_amount - order_amount) > 0.01",
    );
    assert_eq!(gold_differing, differing);

    // Delivered after the estimated day, among delivered orders with both dates.
    let delivered: Vec<&BTreeMap<String, String>> = orders
        .iter()
        .filter(|o| {
            !o["order_delivered_customer_date"].is_empty()
                && !o["order_estimated_delivery_date"].is_empty()
        })
        .collect();
    let late = delivered
        .iter()
        .filter(|o| {
            o["order_delivered_customer_date"][..10] > o["order_estimated_delivery_date"][..10]
        })
        .count() as i64;
    let gold = rows(
        &project,
        "select delivered_orders, delivered_late from commerce_gold.delivery_performance",
    );
    assert_eq!(
        json_i64(&gold[0]["delivered_orders"]),
        delivered.len() as i64
    );
    assert_eq!(json_i64(&gold[0]["delivered_late"]), late);
    assert!(late > 0, "the real data has late deliveries");

    // Repeat customers by the person (customer_unique_id), not the per-order customer_id.
    let person: BTreeMap<String, String> = records(&olist.join("olist_customers_dataset.csv"))
        .into_iter()
        .map(|c| (c["customer_id"].clone(), c["customer_unique_id"].clone()))
        .collect();
    let mut per_person: BTreeMap<&str, i64> = BTreeMap::new();
    for o in &orders {
        *per_person
            .entry(person[&o["customer_id"]].as_str())
            .or_default() += 1;
    }
    let repeat = per_person.values().filter(|n| **n > 1).count() as i64;
    let gold = rows(
        &project,
        "select customers, repeat_customers from commerce_gold.repeat_customers",
    );
    assert_eq!(json_i64(&gold[0]["customers"]), per_person.len() as i64);
    assert_eq!(json_i64(&gold[0]["repeat_customers"]), repeat);
    assert!(repeat > 0, "some people ordered twice");

    // A reporting currency without rates fails the rate test, which names the orders and day.
    let run = crate::util::orderlake(&project, &["build", "--vars", "{reporting_currency: GBP}"]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.stdout
            .contains("FAIL  test   orders_have_an_exchange_rate"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("first 5 failing rows:"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("| GBP "), "{}", run.stdout);
}

#[test]
fn demo_olist_builds_the_commerce_project_on_the_folder_without_changing_it() {
    let Some(olist) = olist_dir() else {
        eprintln!("skipped: the Olist subset is not on this machine");
        return;
    };
    let before: BTreeSet<String> = std::fs::read_dir(&olist)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let out = tempfile::tempdir().unwrap();
    let run = ok(
        out.path(),
        &[
            "demo",
            "--no-serve",
            "--olist",
            olist.to_str().unwrap(),
            "--out",
            out.path().to_str().unwrap(),
        ],
    );
    let stdout = &run.stdout;
    // The platform summary: every Olist order not cancelled, counted again from the CSV.
    let sales = records(&olist.join("olist_orders_dataset.csv"))
        .iter()
        .filter(|o| !matches!(o["order_status"].as_str(), "canceled" | "unavailable"))
        .count();
    let olist_row = stdout
        .lines()
        .find(|l| l.starts_with("| olist "))
        .unwrap_or_else(|| panic!("no olist row in:\n{stdout}"));
    assert_eq!(
        olist_row.split('|').nth(2).map(str::trim),
        Some(sales.to_string().as_str()),
        "{olist_row}"
    );
    let after: BTreeSet<String> = std::fs::read_dir(&olist)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(before, after, "the Olist folder was changed");
    assert!(out.path().join("commerce/dbt_project.yml").is_file());
}
