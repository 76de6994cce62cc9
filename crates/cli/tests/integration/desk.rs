//! The order desk end to end through the `orderlake` binary: operations and reports on the
//! command line, then its change events published into the landing folder, ingested into bronze
//! exactly once, and visible in the OMS project's silver and gold next to the generated history.

use std::path::Path;

use crate::util::{ok, oms_project, orderlake, rows, scalar_f64};

/// Runs `orderlake desk …` with the desk database and token given.
fn desk(root: &Path, db: &str, token: &str, args: &[&str]) -> String {
    let mut full = vec!["desk", "--db", db, "--token", token];
    full.extend_from_slice(args);
    ok(root, &full).stdout
}

fn id(out: &str) -> String {
    out.split_whitespace().last().expect("an id").to_string()
}

#[test]
fn desk_operations_flow_into_silver_and_gold() {
    operations_flow_into_silver_and_gold(None);
}

/// The same with the desk on PostgreSQL (`--db postgres://…`).
#[test]
fn desk_operations_on_postgres_flow_into_silver_and_gold() {
    if let Some(url) = orderlake_test_postgres::database() {
        operations_flow_into_silver_and_gold(Some(url));
    }
}

/// The desk on `postgres` if given, else on an SQLite file in the project's folder.
fn operations_flow_into_silver_and_gold(postgres: Option<String>) {
    let (dir, root) = oms_project();
    let landing = dir.path().join("landing");
    let landing_s = landing.to_str().expect("utf-8");
    ok(
        &root,
        &[
            "generate", "--out", landing_s, "--orders", "150", "--seed", "3",
        ],
    );

    let db = postgres.unwrap_or_else(|| dir.path().join("desk.db").display().to_string());
    let init = ok(&root, &["desk", "--db", &db, "init", "--name", "mia"]);
    let manager = init
        .stdout
        .lines()
        .last()
        .expect("token")
        .trim()
        .to_string();
    let m = |args: &[&str]| desk(&root, &db, &manager, args);
    let territory = id(&m(&[
        "add",
        "territory",
        "Desk West",
        "--manager-first",
        "Ada",
        "--manager-last",
        "Obi",
    ]));
    let location = id(&m(&[
        "add",
        "location",
        "--region",
        "West",
        "--territory",
        &territory,
        "--state",
        "Oyo",
        "--city",
        "Ibadan",
    ]));
    let kind = id(&m(&["add", "customer-type", "Walk-in"]));
    let customer = id(&m(&[
        "add",
        "customer",
        "Desk Buyer",
        "--type",
        &kind,
        "--location",
        &location,
        "--credit-limit",
        "10000",
    ]));
    let product = id(&m(&[
        "add",
        "product",
        "Desk Rice 5kg",
        "--brand",
        "Desk",
        "--category",
        "Grains",
        "--price",
        "25.00",
        "--cost",
        "15.00",
        "--on-hand",
        "40",
    ]));
    let carrier = id(&m(&["add", "carrier", "Desk Haul"]));
    let warehouse = id(&m(&[
        "add",
        "warehouse",
        "Ibadan DC",
        "--location",
        &location,
    ]));
    let clerk_out = m(&["token", "add", "cole", "--role", "clerk"]);
    let clerk = clerk_out.lines().last().unwrap().trim().to_string();
    let c = |args: &[&str]| desk(&root, &db, &clerk, args);

    let line = format!("{product}:4");
    let first = id(&c(&[
        "raise",
        "--customer",
        &customer,
        "--location",
        &location,
        "--line",
        &line,
    ]));
    let second = id(&c(&[
        "raise",
        "--customer",
        &customer,
        "--location",
        &location,
        "--line",
        &format!("{product}:2"),
    ]));
    let cancelled = id(&c(&[
        "raise",
        "--customer",
        &customer,
        "--location",
        &location,
        "--line",
        &format!("{product}:1"),
    ]));
    // An order left open (raised, never billed): its lines must reach the lakehouse too.
    let open = id(&c(&[
        "raise",
        "--customer",
        &customer,
        "--location",
        &location,
        "--line",
        &format!("{product}:3"),
    ]));
    assert!(c(&["bill", &first]).contains("total 107.50"));
    assert!(c(&["bill", &second]).contains("total 53.75"));
    c(&[
        "ship",
        &first,
        "--carrier",
        &carrier,
        "--warehouse-id",
        &warehouse,
        "--promised",
        "2030-01-01 00:00:00",
    ]);
    c(&["deliver", &first]);
    c(&[
        "return",
        &first,
        "--line",
        "1",
        "--quantity",
        "1",
        "--reason",
        "damaged",
    ]);
    c(&["cancel", &cancelled, "--reason", "duplicate"]);
    // A payment retried with its idempotency key (after a timeout, say) is recorded once and
    // prints the first result; the same key with another amount is refused.
    let paid = c(&["--idempotency-key", "pay-42", "pay", &customer, "50"]);
    let retried = c(&["--idempotency-key", "pay-42", "pay", &customer, "50"]);
    assert_eq!(paid, retried, "the retry prints the first result");
    let reused = orderlake(
        &root,
        &[
            "desk",
            "--db",
            &db,
            "--token",
            &clerk,
            "--idempotency-key",
            "pay-42",
            "pay",
            &customer,
            "70",
        ],
    );
    assert_ne!(reused.code, 0);
    assert!(
        reused.stderr.contains("Idempotency-Key"),
        "{}",
        reused.stderr
    );

    // Refusals name the field and the rule, exit non-zero, and write nothing.
    let over = orderlake(
        &root,
        &[
            "desk",
            "--db",
            &db,
            "--token",
            &clerk,
            "return",
            &first,
            "--line",
            "1",
            "--quantity",
            "9",
            "--reason",
            "x",
        ],
    );
    assert_ne!(over.code, 0);
    assert!(
        over.stderr.contains("quantity: cannot return 9"),
        "{}",
        over.stderr
    );
    let forbidden = orderlake(
        &root,
        &[
            "desk",
            "--db",
            &db,
            "--token",
            &clerk,
            "write-off",
            &customer,
            "1",
            "--reason",
            "x",
        ],
    );
    assert!(
        forbidden
            .stderr
            .contains("role 'clerk' may not write off balances"),
        "{}",
        forbidden.stderr
    );

    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let statement = c(&[
        "report",
        "statement",
        &customer,
        "--from",
        &today,
        "--to",
        &today,
    ]);
    // 107.50 + 53.75 − 26.88 (25.00 + 1.875 VAT, rounded) − 50.00
    assert!(statement.contains("closing balance 84.37"), "{statement}");
    let sales = c(&[
        "--json", "report", "sales", "--from", &today, "--to", &today,
    ]);
    let sales: serde_json::Value = serde_json::from_str(&sales).unwrap();
    let desk_net: i64 = sales
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["net_cents"].as_i64().unwrap())
        .sum();
    assert_eq!(desk_net, 3 * 2_500 + 2 * 2_500);

    m(&["publish", "--landing", landing_s]);
    ok(&root, &["ingest", "--landing", landing_s]);
    let vars = format!("{{as_of_date: '{today}'}}");
    ok(&root, &["build", "--vars", &vars]);

    // Every published event reached bronze exactly once.
    let published: usize = std::fs::read_dir(&landing)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name().to_string_lossy().ends_with(".ndjson")
                && e.file_name().to_string_lossy().contains("_0000")
        })
        .map(|e| {
            std::fs::read_to_string(e.path())
                .unwrap()
                .lines()
                .filter(|l| l.contains("\"_event_id\""))
                .count()
        })
        .sum();
    let outbox: i64 = orderlake_desk::Desk::open(orderlake_desk::DeskDb::parse(&db).unwrap())
        .unwrap()
        .connection()
        .query_row(
            "select count(*) from outbox",
            orderlake_desk::params![],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(
        published as i64, outbox,
        "every outbox event is in exactly one landing line"
    );

    let orders = rows(
        &root,
        &format!(
            "select order_id, status, channel, source_system from silver.orders where order_id in ({first}, {second}, {cancelled}) order by order_id"
        ),
    );
    let got: Vec<(String, String)> = orders
        .iter()
        .map(|r| {
            (
                r["status"].as_str().unwrap().to_string(),
                r["channel"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("delivered".into(), "desk".into()),
            ("billed".into(), "desk".into()),
            ("cancelled".into(), "desk".into())
        ]
    );
    let gold_desk_net = scalar_f64(
        &root,
        &format!(
            "select sum(net_revenue) from gold.fct_sales where order_id in ({first}, {second})"
        ),
    );
    assert_eq!(
        (gold_desk_net * 100.0).round() as i64,
        desk_net,
        "gold's sales net of returns equal the desk's sales report"
    );
    let returned = scalar_f64(
        &root,
        &format!("select sum(quantity) from silver.returns where order_id = {first}"),
    );
    assert_eq!(returned, 1.0);
    let balance = scalar_f64(
        &root,
        &format!("select sum(signed_amount) from silver.ledger where customer_id = {customer}"),
    );
    assert_eq!(
        (balance * 100.0).round() as i64,
        8_437,
        "silver's ledger sums to the desk balance"
    );
    // Unbilled and cancelled desk orders carry their lines into gold: the open order is
    // outstanding with its units and amount (3 × 25.00), the cancelled one is a reversal of 25.00.
    let outstanding = rows(
        &root,
        &format!(
            "select units, cast(amount as double) as amount, status from gold.outstanding_orders where order_id = {open}"
        ),
    );
    assert_eq!(outstanding.len(), 1, "{outstanding:?}");
    assert_eq!(outstanding[0]["units"].as_i64(), Some(3));
    assert_eq!(outstanding[0]["amount"].as_f64(), Some(75.0));
    let lines = rows(
        &root,
        &format!(
            "select order_id, line_count, units from gold.fct_orders where order_id in ({open}, {cancelled}) order by order_id"
        ),
    );
    let lines: Vec<(i64, i64)> = lines
        .iter()
        .map(|r| {
            (
                r["line_count"].as_i64().unwrap(),
                r["units"].as_i64().unwrap(),
            )
        })
        .collect();
    // The cancelled order keeps its line (units count 0 on a cancelled order, as the spec says).
    assert_eq!(lines, [(1, 0), (1, 3)]);
    let month = &today[..7];
    let cancelled_amount = scalar_f64(
        &root,
        &format!(
            "select sum(cancelled_amount) from gold.reversal_analysis where substr(cast(month as varchar), 1, 7) = '{month}'"
        ),
    );
    assert_eq!(cancelled_amount, 25.0, "the cancelled desk order's amount");
    let generated_orders = scalar_f64(
        &root,
        "select count(*) from silver.orders where source_system <> 'desk'",
    );
    assert!(
        generated_orders >= 100.0,
        "the generated history is still there"
    );
}
