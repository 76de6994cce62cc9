//! 64 threads raising and billing orders for the same few products, each with its own
//! connection: stock never goes below zero, and every customer's ledger sums to the balance.

use orderlake_desk::{Actor, BillOutcome, Desk, DeskDb, NewLine, NewProduct, Role, params};

#[test]
fn concurrent_billing_never_oversells_and_keeps_the_ledger_true_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    concurrent_billing(DeskDb::Sqlite(dir.path().join("desk.db")));
}

#[test]
fn concurrent_billing_never_oversells_and_keeps_the_ledger_true_on_postgres() {
    if let Some(url) = orderlake_test_postgres::database() {
        concurrent_billing(DeskDb::Postgres(url));
    }
}

fn concurrent_billing(path: DeskDb) {
    let manager = Actor::new("mia", Role::Manager);
    let (customers, products, location) = {
        let mut desk = Desk::open(&path).unwrap();
        let t = desk
            .add_territory(&manager, "North Kano", "Amina", "Bello")
            .unwrap();
        let location = desk
            .add_location(&manager, "North", t, "Kano", "Kano")
            .unwrap();
        let retail = desk.add_customer_type(&manager, "Wholesale").unwrap();
        let customers: Vec<i64> = (0..8)
            .map(|i| {
                desk.add_customer(
                    &manager,
                    &format!("Buyer {i}"),
                    retail,
                    None,
                    location,
                    2_000_000,
                )
                .unwrap()
            })
            .collect();
        let products: Vec<i64> = (0..3)
            .map(|i| {
                let p = NewProduct {
                    description: &format!("Item {i}"),
                    brand: "Golden Grain",
                    category: "Staples",
                    price_cents: 500,
                    cost_cents: 300,
                    on_hand: 150,
                };
                desk.add_product(&manager, &p).unwrap()
            })
            .collect();
        (customers, products, location)
    };

    let threads: Vec<_> = (0..64)
        .map(|t| {
            let path = path.clone();
            let customers = customers.clone();
            let products = products.clone();
            std::thread::spawn(move || {
                let mut desk = Desk::open(&path).unwrap();
                let clerk = Actor::new(&format!("clerk{t}"), Role::Clerk);
                let mut billed_units = 0i64;
                for i in 0..5 {
                    let customer = customers[(t + i) % customers.len()];
                    let line = NewLine {
                        product_id: products[(t * 7 + i) % products.len()],
                        quantity: 1 + (t as i64 + i as i64) % 4,
                    };
                    let order = desk
                        .raise_order(&clerk, customer, location, &[line])
                        .unwrap();
                    if let BillOutcome::Billed { .. } = desk.bill_order(&clerk, order).unwrap() {
                        billed_units += line.quantity;
                    }
                    if i % 2 == 0 {
                        desk.pay(&clerk, customer, 100, None).unwrap();
                    }
                }
                billed_units
            })
        })
        .collect();
    let billed: i64 = threads.into_iter().map(|h| h.join().unwrap()).sum();

    let desk = Desk::open(&path).unwrap();
    let conn = desk.connection();
    let stock: i64 = conn
        .query_row("select sum(on_hand) from products", params![], |r| r.get(0))
        .unwrap();
    let negative: i64 = conn
        .query_row(
            "select count(*) from products where on_hand < 0",
            params![],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(negative, 0);
    assert_eq!(
        stock,
        3 * 150 - billed,
        "stock moved exactly by the billed units"
    );
    let held: i64 = conn
        .query_row(
            "select count(*) from orders where status = 'on_hold'",
            params![],
            |r| r.get(0),
        )
        .unwrap();
    assert!(held > 0, "demand exceeded stock, so some orders were held");
    let mismatches: i64 = conn
        .query_row(
            "select count(*) from customers c where c.balance_cents <> (select coalesce(sum(amount_cents), 0) from ledger l where l.customer_id = c.customer_id)",
            params![],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(mismatches, 0, "every customer's ledger sums to the balance");
    let last_after_ok: i64 = conn
        .query_row(
            "select count(*) from customers c where c.balance_cents <> coalesce((select balance_after_cents from ledger l where l.customer_id = c.customer_id order by entry_id desc limit 1), 0)",
            params![],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(last_after_ok, 0, "each entry carries the balance after it");
}
