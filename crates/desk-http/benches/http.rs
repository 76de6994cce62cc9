//! Billed orders per second and latency over HTTP, on loopback.
//!
//! Starts the desk API on 127.0.0.1 (a random port) over a fresh database, then N clients each
//! raise an order (`POST /api/orders`) and bill it (`POST /api/orders/{id}/bill`) in a loop,
//! for a fixed number of orders. Prints throughput and p50/p90/p99 latencies.
//! `DESK_BENCH_ORDERS` (default 20000), `DESK_BENCH_CLIENTS` (default "1,8,32") and
//! `DESK_BENCH_STORES` (default "sqlite,postgres": an SQLite file, and a PostgreSQL server the
//! bench starts with fsync on and `synchronous_commit=off`, like SQLite's WAL with
//! `synchronous=NORMAL`: a crash loses no commit, a power cut may lose the last ones) tune it.

use std::time::{Duration, Instant};

use orderlake_desk::{Actor, Desk, DeskDb, NewProduct, Role};
use orderlake_desk_http::{ServeOptions, serve};

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1e3
}

#[tokio::main]
async fn main() {
    let orders: usize = std::env::var("DESK_BENCH_ORDERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let clients_list: Vec<usize> = std::env::var("DESK_BENCH_CLIENTS")
        .unwrap_or_else(|_| "1,8,32".into())
        .split(',')
        .filter_map(|c| c.trim().parse().ok())
        .collect();
    let stores: Vec<String> = std::env::var("DESK_BENCH_STORES")
        .unwrap_or_else(|_| "sqlite,postgres".into())
        .split(',')
        .map(|s| s.trim().to_string())
        .collect();
    for store in &stores {
        for &clients in &clients_list {
            run(store, orders, clients).await;
        }
    }
}

async fn run(store: &str, orders: usize, clients: usize) {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("desk.db");
    let postgres = store == "postgres";
    // PostgreSQL's synchronous client runs off the async threads: the whole setup does.
    let (desk, token, l, customers, products) =
        tokio::task::spawn_blocking(move || setup(postgres, file))
            .await
            .expect("setup");
    print!("{store:>8} ");
    measure(desk, token, l, customers, products, orders, clients).await;
}

/// A desk with a territory, 50 customers and 20 products, and a manager's token.
fn setup(postgres: bool, file: std::path::PathBuf) -> (Desk, String, i64, Vec<i64>, Vec<i64>) {
    let db = if postgres {
        let url = orderlake_test_postgres::durable_database();
        DeskDb::Postgres(url.expect("PostgreSQL is not installed"))
    } else {
        DeskDb::Sqlite(file)
    };
    let mut desk = Desk::open(db).expect("desk");
    let m = Actor::new("bench", Role::Manager);
    let t = desk.add_territory(&m, "T", "A", "B").unwrap();
    let l = desk.add_location(&m, "R", t, "S", "C").unwrap();
    let k = desk.add_customer_type(&m, "Retail").unwrap();
    let customers: Vec<i64> = (0..50)
        .map(|i| {
            desk.add_customer(&m, &format!("c{i}"), k, None, l, i64::MAX / 4)
                .unwrap()
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
            .unwrap()
        })
        .collect();
    let token = desk.bootstrap_token("bench").unwrap();
    (desk, token, l, customers, products)
}

async fn measure(
    desk: Desk,
    token: String,
    l: i64,
    customers: Vec<i64>,
    products: Vec<i64>,
    orders: usize,
    clients: usize,
) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(
        desk,
        ServeOptions {
            addr,
            landing: None,
            publish_every: Duration::from_secs(3600),
        },
        async {
            let _ = stop_rx.await;
        },
    ));
    let client = reqwest::Client::new();
    let base = format!("http://{addr}");
    for _ in 0..100 {
        if client
            .get(format!("{base}/api/health"))
            .send()
            .await
            .is_ok()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let per_client = orders / clients;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..clients {
        let (client, base, token) = (client.clone(), base.clone(), token.clone());
        let (customers, products) = (customers.clone(), products.clone());
        tasks.push(tokio::spawn(async move {
            let mut bill_latency = Vec::with_capacity(per_client);
            let mut raise_latency = Vec::with_capacity(per_client);
            for i in 0..per_client {
                let customer = customers[(c * 7 + i) % customers.len()];
                let lines: Vec<serde_json::Value> = (0..3)
                    .map(|j| serde_json::json!({"product_id": products[(i + j * 5) % products.len()], "quantity": 1 + (i + j) % 4}))
                    .collect();
                let body = serde_json::json!({"customer_id": customer, "location_id": l, "lines": lines}).to_string();
                let t0 = Instant::now();
                let res = client
                    .post(format!("{base}/api/orders"))
                    .bearer_auth(&token)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await
                    .expect("raise");
                assert_eq!(res.status(), 201);
                let created: serde_json::Value = serde_json::from_slice(&res.bytes().await.unwrap()).unwrap();
                raise_latency.push(t0.elapsed());
                let t1 = Instant::now();
                let res = client
                    .post(format!("{base}/api/orders/{}/bill", created["id"]))
                    .bearer_auth(&token)
                    .send()
                    .await
                    .expect("bill");
                assert_eq!(res.status(), 200);
                let outcome: serde_json::Value = serde_json::from_slice(&res.bytes().await.unwrap()).unwrap();
                assert_eq!(outcome["outcome"], "billed");
                bill_latency.push(t1.elapsed());
            }
            (raise_latency, bill_latency)
        }));
    }
    let mut raise = Vec::new();
    let mut bill = Vec::new();
    for t in tasks {
        let (r, b) = t.await.unwrap();
        raise.extend(r);
        bill.extend(b);
    }
    let elapsed = started.elapsed();
    raise.sort();
    bill.sort();
    let billed = bill.len();
    println!(
        "clients {clients:>3}: {billed} orders raised and billed in {:.2} s = {:.0} billed orders/s ({:.0} requests/s); \
         bill p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms; raise p50 {:.2} ms, p99 {:.2} ms",
        elapsed.as_secs_f64(),
        billed as f64 / elapsed.as_secs_f64(),
        2.0 * billed as f64 / elapsed.as_secs_f64(),
        percentile(&bill, 0.50),
        percentile(&bill, 0.90),
        percentile(&bill, 0.99),
        percentile(&raise, 0.50),
        percentile(&raise, 0.99),
    );
    let _ = stop_tx.send(());
    let _ = server.await;
}
