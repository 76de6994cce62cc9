//! A crash test: a child process runs a burst of operations and publishes, and is killed
//! (SIGKILL) at random points. After every restart the database is consistent, and in the end
//! the outbox has published each event exactly once.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use orderlake_desk::{Actor, BillOutcome, Desk, DeskDb, NewLine, NewProduct, Role, params};

const CHILD: &str = "ORDERLAKE_DESK_CRASH_CHILD";
/// The child's database: a file path or a PostgreSQL URL.
const CHILD_DB: &str = "ORDERLAKE_DESK_CRASH_DB";
const CUSTOMERS: i64 = 4;
const PRODUCTS: i64 = 3;

/// A small xorshift generator: enough randomness for a test, no dependency.
struct Rng(u64);

impl Rng {
    fn seeded() -> Self {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(7);
        Rng(nanos | 1)
    }
    fn next(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

fn landing(dir: &Path) -> PathBuf {
    dir.join("landing")
}

fn spelled(db: &DeskDb) -> String {
    match db {
        DeskDb::Sqlite(path) => path.display().to_string(),
        DeskDb::Postgres(url) => url.clone(),
    }
}

/// Ids of the customers and products made by `setup` (desk ids start above the base).
fn customer(i: i64) -> i64 {
    orderlake_desk::DESK_ID_BASE + 1 + i
}
fn product(i: i64) -> i64 {
    orderlake_desk::DESK_ID_BASE + 1 + i
}

fn setup(db: &DeskDb) {
    let mut desk = Desk::open(db.clone()).unwrap();
    let m = Actor::new("mia", Role::Manager);
    let t = desk.add_territory(&m, "T", "A", "B").unwrap();
    let l = desk.add_location(&m, "R", t, "S", "C").unwrap();
    let k = desk.add_customer_type(&m, "Retail").unwrap();
    for i in 0..CUSTOMERS {
        desk.add_customer(&m, &format!("c{i}"), k, None, l, 500_000)
            .unwrap();
    }
    for i in 0..PRODUCTS {
        desk.add_product(
            &m,
            &NewProduct {
                description: &format!("p{i}"),
                brand: "b",
                category: "c",
                price_cents: 100 + i * 50,
                cost_cents: 60,
                on_hand: 10_000,
            },
        )
        .unwrap();
    }
}

/// The child: operations and publishes until it is killed.
fn burst(dir: &Path, db: DeskDb) -> ! {
    let landing = landing(dir);
    let mut desk = Desk::open(db).unwrap();
    let clerk = Actor::new("cole", Role::Clerk);
    let manager = Actor::new("mia", Role::Manager);
    let mut rng = Rng::seeded();
    loop {
        let c = customer(rng.next(CUSTOMERS as u64) as i64);
        let lines: Vec<NewLine> = (0..1 + rng.next(PRODUCTS as u64) as i64)
            .map(|i| NewLine {
                product_id: product(i),
                quantity: 1 + rng.next(5) as i64,
            })
            .collect();
        let location = orderlake_desk::DESK_ID_BASE + 1;
        let order = desk.raise_order(&clerk, c, location, &lines).unwrap();
        match rng.next(10) {
            0 => desk.cancel_order(&clerk, order, "changed mind").unwrap(),
            _ => {
                if let BillOutcome::Billed { .. } = desk.bill_order(&clerk, order).unwrap()
                    && rng.next(4) == 0
                {
                    desk.return_units(&clerk, order, 1, 1, "damaged").unwrap();
                }
            }
        }
        if rng.next(3) == 0 {
            desk.pay(&clerk, c, 1 + rng.next(2_000) as i64, None)
                .unwrap();
        }
        if rng.next(7) == 0 {
            desk.receive_stock(&manager, product(0), 5).unwrap();
        }
        if rng.next(5) == 0 {
            desk.publish(&landing).unwrap();
        }
    }
}

fn one(desk: &Desk, sql: &str) -> i64 {
    desk.connection()
        .query_row(sql, params![], |r| r.get(0))
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// Every invariant the rules promise, after a crash.
fn assert_consistent(desk: &Desk) {
    let checks = [
        (
            "balance = sum of its ledger",
            "select count(*) from customers c where balance_cents <> (select coalesce(sum(amount_cents), 0) from ledger l where l.customer_id = c.customer_id)",
        ),
        (
            "each entry's balance_after is the running sum",
            "select count(*) from ledger l where balance_after_cents <> (select sum(amount_cents) from ledger x where x.customer_id = l.customer_id and x.entry_id <= l.entry_id)",
        ),
        (
            "stock never negative",
            "select count(*) from products where on_hand < 0",
        ),
        (
            "stock = its movements",
            "select count(*) from products p where on_hand <> (select coalesce(sum(quantity), 0) from stock_movements m where m.product_id = p.product_id)",
        ),
        (
            "billed orders have sales lines and one invoice",
            "select count(*) from orders o where status in ('billed', 'shipped', 'delivered') and (not exists (select 1 from sales_lines s where s.order_id = o.order_id) or (select count(*) from ledger l where l.order_id = o.order_id and entry_type = 'invoice') <> 1)",
        ),
        (
            "unbilled orders have no sales lines",
            "select count(*) from orders o where status in ('raised', 'on_hold', 'cancelled') and exists (select 1 from sales_lines s where s.order_id = o.order_id)",
        ),
        (
            "returns never exceed sales",
            "select count(*) from sales_lines where returned > quantity or returned <> (select coalesce(sum(quantity), 0) from reversals r where r.order_id = sales_lines.order_id and r.line_no = sales_lines.line_no)",
        ),
        (
            "cancellations are audited",
            "select count(*) from orders o where status = 'cancelled' and not exists (select 1 from audit a where a.entity = 'orders' and a.entity_id = cast(o.order_id as text) and a.action = 'cancel')",
        ),
        (
            "every ledger entry has its event",
            "select (select count(*) from ledger) - (select count(*) from outbox where entity = 'ledger')",
        ),
    ];
    for (rule, sql) in checks {
        assert_eq!(one(desk, sql), 0, "{rule}");
    }
}

/// In the child process: the burst, never returning.
fn child() {
    if let (Ok(dir), Ok(db)) = (std::env::var(CHILD), std::env::var(CHILD_DB)) {
        burst(
            Path::new(&dir),
            DeskDb::parse(&db).expect("the parent's database"),
        );
    }
}

#[test]
fn killed_at_random_points_the_desk_stays_consistent_and_publishes_each_event_once() {
    child();
    let dir = tempfile::tempdir().unwrap();
    let db = DeskDb::Sqlite(dir.path().join("desk.db"));
    crash_and_recover(
        "killed_at_random_points_the_desk_stays_consistent_and_publishes_each_event_once",
        dir.path(),
        db,
    );
}

#[test]
fn killed_at_random_points_the_desk_on_postgres_stays_consistent_and_publishes_each_event_once() {
    child();
    let Some(url) = orderlake_test_postgres::database() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    crash_and_recover(
        "killed_at_random_points_the_desk_on_postgres_stays_consistent_and_publishes_each_event_once",
        dir.path(),
        DeskDb::Postgres(url),
    );
}

fn crash_and_recover(test: &str, dir: &Path, db: DeskDb) {
    let landing = landing(dir);
    setup(&db);
    let mut rng = Rng::seeded();
    let exe = std::env::current_exe().unwrap();
    let mut kills = 0;
    for _ in 0..12 {
        let mut child = Command::new(&exe)
            .args(["--exact", test, "--nocapture", "--test-threads=1"])
            .env(CHILD, dir)
            .env(CHILD_DB, spelled(&db))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(80 + rng.next(400)));
        if child.try_wait().unwrap().is_none() {
            kills += 1;
        }
        child.kill().ok(); // SIGKILL: no destructors, no rollback but the database's own.
        child.wait().unwrap();
        let desk = Desk::open(db.clone()).unwrap();
        assert_consistent(&desk);
    }
    assert!(
        kills >= 10,
        "the child was killed mid-burst ({kills} of 12)"
    );

    let mut desk = Desk::open(db).unwrap();
    let orders = one(&desk, "select count(*) from orders");
    assert!(orders > 50, "the bursts did work: {orders} orders");
    desk.publish(&landing).unwrap();
    assert_eq!(
        one(
            &desk,
            "select count(*) from outbox where published_file is null"
        ),
        0
    );
    // Each event id in exactly one landing line; together they are the whole outbox.
    let mut seen: BTreeMap<i64, u32> = BTreeMap::new();
    for entry in std::fs::read_dir(&landing).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue; // a temp file a kill interrupted: ingest ignores dot-files
        }
        for line in std::fs::read_to_string(&path).unwrap().lines() {
            let v: serde_json::Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("{name}: a torn line ({e}): {line}"));
            *seen.entry(v["_event_id"].as_i64().unwrap()).or_default() += 1;
        }
    }
    let total = one(&desk, "select count(*) from outbox");
    assert_eq!(seen.len() as i64, total, "every event published");
    assert!(
        seen.values().all(|&n| n == 1),
        "no event published twice: {:?}",
        seen.iter().filter(|e| *e.1 > 1).take(5).collect::<Vec<_>>()
    );
}
