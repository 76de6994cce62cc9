//! Billed orders per second with the desk embedded (no HTTP): one thread raises an order of
//! three lines and bills it, in a loop, on a fresh database. Release build:
//!     cargo bench -p orderlake-desk --bench embedded
//! `DESK_BENCH_ORDERS` (default 20000) sets how many; `DESK_BENCH_BATCH` (default "1,50")
//! how many orders share one transaction (`Desk::within`: each operation a savepoint, one
//! commit per batch, as the HTTP server's writer does under load).

use std::time::{Duration, Instant};

use orderlake_desk::{Actor, Desk, NewLine, NewProduct, Role};

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1e6
}

fn main() {
    let orders: usize = std::env::var("DESK_BENCH_ORDERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let batches: Vec<usize> = std::env::var("DESK_BENCH_BATCH")
        .unwrap_or_else(|_| "1,50".into())
        .split(',')
        .filter_map(|b| b.trim().parse().ok())
        .filter(|b| *b > 0)
        .collect();
    for batch in batches {
        run(orders, batch);
    }
}

fn run(orders: usize, batch: usize) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut desk = Desk::open(dir.path().join("desk.db")).expect("desk");
    let m = Actor::new("bench", Role::Manager);
    let t = desk.add_territory(&m, "T", "A", "B").expect("territory");
    let l = desk.add_location(&m, "R", t, "S", "C").expect("location");
    let k = desk.add_customer_type(&m, "Retail").expect("type");
    let customers: Vec<i64> = (0..50)
        .map(|i| {
            desk.add_customer(&m, &format!("c{i}"), k, None, l, i64::MAX / 4)
                .expect("customer")
        })
        .collect();
    let products: Vec<i64> = (0..20)
        .map(|i| {
            desk.add_product(
                &m,
                &NewProduct {
                    description: &format!("p{i}"),
                    brand: "b",
                    category: "c",
                    price_cents: 500 + i,
                    cost_cents: 300,
                    on_hand: 100_000_000,
                },
            )
            .expect("product")
        })
        .collect();
    let mut raise = Vec::with_capacity(orders);
    let mut bill = Vec::with_capacity(orders);
    let started = Instant::now();
    let mut i = 0;
    while i < orders {
        let end = (i + batch).min(orders);
        let one =
            |desk: &mut Desk, i: usize, raise: &mut Vec<Duration>, bill: &mut Vec<Duration>| {
                let lines: Vec<NewLine> = (0..3)
                    .map(|j| NewLine {
                        product_id: products[(i + j * 5) % products.len()],
                        quantity: 1 + ((i + j) % 4) as i64,
                    })
                    .collect();
                let t0 = Instant::now();
                let order = desk
                    .raise_order(&m, customers[i % customers.len()], l, &lines)
                    .expect("raise");
                raise.push(t0.elapsed());
                let t1 = Instant::now();
                desk.bill_order(&m, order).expect("bill");
                bill.push(t1.elapsed());
            };
        if batch == 1 {
            one(&mut desk, i, &mut raise, &mut bill);
        } else {
            desk.within(|d| {
                for n in i..end {
                    one(d, n, &mut raise, &mut bill);
                }
                Ok(())
            })
            .expect("batch");
        }
        i = end;
    }
    let elapsed = started.elapsed();
    raise.sort();
    bill.sort();
    println!(
        "embedded, {batch} per commit: {orders} orders raised and billed in {:.2} s = {:.0} billed orders/s; \
         raise p50 {:.0} µs p99 {:.0} µs; bill p50 {:.0} µs p99 {:.0} µs",
        elapsed.as_secs_f64(),
        orders as f64 / elapsed.as_secs_f64(),
        percentile(&raise, 0.5),
        percentile(&raise, 0.99),
        percentile(&bill, 0.5),
        percentile(&bill, 0.99),
    );
}
