//! The commerce project on Shopify and WooCommerce exports (`projects/commerce/samples`, built
//! from the platforms' public API documentation): partial and full refunds, discounts, a
//! cancelled, a failed and an on-hold order, multi-currency (a Shopify shop in USD selling in
//! EUR, a WooCommerce shop in NGN). Every expected figure here was computed by hand from the
//! sample files; the arithmetic is in the comments.

use std::collections::BTreeMap;

use crate::util::{bundled_project, copy_samples, ok, orderlake, rows};

fn text(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => "null".into(),
        other => other.to_string(),
    }
}

#[test]
fn shopify_and_woocommerce_exports_become_the_hand_computed_gold() {
    let (_tmp, project) = bundled_project("commerce");
    let landing = project.join("landing");
    copy_samples(&project, "shopify", &landing);
    copy_samples(&project, "woocommerce", &landing);
    // Messy input: the same export downloaded twice, and a download cut off mid-document.
    let export = std::fs::read_to_string(landing.join("orders_2024-04-25.json")).unwrap();
    std::fs::write(landing.join("orders_2024-04-25 (1).json"), &export).unwrap();
    std::fs::write(landing.join("orders_2024-04-26.json"), &export[..900]).unwrap();

    let run = ok(
        &project,
        &["ingest", "--landing", landing.to_str().unwrap()],
    );
    assert!(
        run.stdout.contains("bronze.shopify_orders_export")
            && run.stdout.contains("bronze.woocommerce_orders"),
        "{}",
        run.stdout
    );
    // The truncated file is quarantined whole, with the parser's reason; nothing of it loads.
    let quarantined = rows(
        &project,
        "select _source_file, reason from bronze._quarantine",
    );
    assert_eq!(quarantined.len(), 1, "{quarantined:?}");
    assert_eq!(
        text(&quarantined[0]["_source_file"]),
        "orders_2024-04-26.json"
    );
    assert!(
        text(&quarantined[0]["reason"]).contains("not a complete JSON document"),
        "{quarantined:?}"
    );
    // Both copies of the duplicated export are in bronze (nothing is lost) …
    let copies = rows(
        &project,
        "select count(*) as n from bronze.shopify_orders where cast(id as varchar) = '5002'",
    );
    assert_eq!(copies[0]["n"], 2);
    ok(&project, &["build"]);

    // … and silver keeps one row per order: the newest copy (#1001 was re-exported once
    // fulfilled and delivered; WooCommerce 729 was on-hold, then paid).
    let orders: BTreeMap<String, (String, String, String)> = rows(
        &project,
        "select source_platform || ':' || source_order_id as k, status, cast(order_amount as varchar) as amount, cast(refunded_amount as varchar) as refunded from commerce.orders where source_platform in ('shopify', 'woocommerce')",
    )
    .into_iter()
    .map(|r| (text(&r["k"]), (text(&r["status"]), text(&r["amount"]), text(&r["refunded"]))))
    .collect();
    let expected = [
        // #1001: 2 × 50.00 + 30.00 − 13.00 discount + 10.00 shipping.
        ("shopify:5001", "delivered", "127.00", "0.00"),
        // #1002 in EUR (presentment): 2 × 100.00 + 10.00 shipping; one bag refunded, 100.00.
        ("shopify:5002", "delivered", "210.00", "100.00"),
        ("shopify:5003", "cancelled", "60.00", "0.00"),
        // #1004: 25.00 + 5.00 shipping + 2.40 tax, all refunded.
        ("shopify:5004", "refunded", "32.40", "32.40"),
        // CSV export #1005: 50.00 + 2 × 25.00 − 5.00 + 8.00 shipping.
        ("shopify:5005", "shipped", "103.00", "0.00"),
        // CSV export #1006: 3 × 30.00 + 7.20 tax; "Refunded Amount" 32.40.
        ("shopify:5006", "shipped", "97.20", "32.40"),
        // 2 × 6000 + 12000 − 1000 coupon + 2500 shipping + 7.5% VAT of 23000 (1725).
        ("woocommerce:727", "shipped", "27225.00", "0.00"),
        // 12000 + 500 gift wrap fee + 2500 shipping + 900 VAT, refunded in full.
        ("woocommerce:728", "refunded", "15900.00", "15900.00"),
        ("woocommerce:729", "processing", "8950.00", "0.00"),
        ("woocommerce:730", "failed", "15400.00", "0.00"),
        // 3 × 6000 + 1350 VAT; one tote refunded with its VAT: 6450.
        ("woocommerce:731", "shipped", "19350.00", "6450.00"),
    ];
    assert_eq!(orders.len(), expected.len(), "{orders:?}");
    for (key, status, amount, refunded) in expected {
        assert_eq!(
            orders[key],
            (status.to_string(), amount.to_string(), refunded.to_string()),
            "{key}"
        );
    }

    // Revenue by month: sales (not cancelled or failed) in the month placed, without tax;
    // refunds without their tax share in the month refunded; the reporting currency is USD at
    // the seed's rate of the day (EUR 1.09 in March 2024, NGN 0.00075 in June 2024).
    let gold: Vec<String> = rows(
        &project,
        "select source_platform, currency, cast(month as varchar) as month, orders, \
         cast(revenue as varchar) as revenue, cast(tax_amount as varchar) as tax, \
         cast(refunds as varchar) as refunds, cast(net_revenue as varchar) as net, \
         cast(revenue_reporting as varchar) as reporting \
         from commerce_gold.revenue_by_month where source_platform in ('shopify', 'woocommerce') \
         order by 1, 3, 2",
    )
    .iter()
    .map(|r| {
        [
            "source_platform",
            "currency",
            "month",
            "orders",
            "revenue",
            "tax",
            "refunds",
            "net",
            "reporting",
        ]
        .iter()
        .map(|c| text(&r[*c]))
        .collect::<Vec<_>>()
        .join(" ")
    })
    .collect();
    assert_eq!(
        gold,
        [
            // 210.00 EUR × 1.09 = 228.90 USD.
            "shopify EUR 2024-03-01 1 210.00 0.00 100.00 110.00 228.90",
            "shopify USD 2024-03-01 1 127.00 0.00 0.00 127.00 127.00",
            // #1003 is cancelled: only #1004, 25.00 + 5.00; its refund 32.40 − 2.40 tax.
            "shopify USD 2024-04-01 1 30.00 2.40 30.00 0.00 30.00",
            // 95.00 + 8.00 and 90.00; the refund 32.40 less its pro-rata tax 2.40.
            "shopify USD 2024-05-01 2 193.00 7.20 30.00 163.00 193.00",
            // 25500 + 15000 + 8500 + 18000 (730 failed); refunds 15000 + 6000; each order's
            // revenue × 0.00075 rounded to the cent: 19.13 + 11.25 + 6.38 + 13.50.
            "woocommerce NGN 2024-06-01 4 67000.00 4425.00 21000.00 46000.00 50.26",
        ]
    );

    // CLV in USD: Bob bought #1001 (127.00) and #1006 (90.00, 30.00 refunded); #1003 was
    // cancelled. Ada: 727 (25500 NGN → 19.13) and 728 (15000 → 11.25, refunded in full).
    let clv: BTreeMap<String, (i64, String)> = rows(
        &project,
        "select customer_key, orders, cast(clv_reporting as varchar) as clv from commerce_gold.customer_value where source_platform <> 'olist'",
    )
    .into_iter()
    .map(|r| (text(&r["customer_key"]), (r["orders"].as_i64().unwrap(), text(&r["clv"]))))
    .collect();
    assert_eq!(
        clv["shopify:bob.norman@mail.example.com"],
        (2, "187.00".into())
    );
    assert_eq!(
        clv["woocommerce:ada.obi@mail.example.com"],
        (2, "19.13".into())
    );
    assert_eq!(
        clv["shopify:cy.okafor@mail.example.com"],
        (1, "0.00".into())
    );

    // Per platform: Shopify 5 sales by 4 people (Bob twice); WooCommerce 4 by 3 (Ada twice).
    let summary: BTreeMap<String, (i64, i64, i64)> = rows(
        &project,
        "select source_platform, orders, customers, repeat_customers from commerce_gold.platform_summary",
    )
    .into_iter()
    .map(|r| {
        (
            text(&r["source_platform"]),
            (
                r["orders"].as_i64().unwrap(),
                r["customers"].as_i64().unwrap(),
                r["repeat_customers"].as_i64().unwrap(),
            ),
        )
    })
    .collect();
    assert_eq!(summary["shopify"], (5, 4, 1));
    assert_eq!(summary["woocommerce"], (4, 3, 1));
    assert_eq!(summary["all"], (9, 7, 2));

    // Products: the blue shirt sold 2 (#1001, after its 10.00 share of the discount: 90.00)
    // and 1 (#1005 CSV, 50.00 − 5.00); the cancelled #1003 does not count.
    let shirt = rows(
        &project,
        "select units, cast(revenue as varchar) as revenue from commerce_gold.product_performance where product_key = 'shopify:SHIRT-BLUE-M'",
    );
    assert_eq!(shirt[0]["units"], 3);
    assert_eq!(text(&shirt[0]["revenue"]), "135.00");
}

#[test]
fn ingest_names_what_it_refuses_and_loads_nothing_of_the_run() {
    let (_tmp, project) = bundled_project("commerce");
    let landing = project.join("landing");
    copy_samples(&project, "woocommerce", &landing);
    // A Shopify CSV export without its "Lineitem price" column.
    let csv = std::fs::read_to_string(project.join("samples/shopify/orders_export_1.csv")).unwrap();
    let without_price: String = csv
        .lines()
        .map(|line| {
            let mut reader = csv::ReaderBuilder::new()
                .has_headers(false)
                .from_reader(line.as_bytes());
            let record = reader.records().next().unwrap().unwrap();
            let mut writer = csv::Writer::from_writer(Vec::new());
            let kept: Vec<&str> = record
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != 18)
                .map(|(_, v)| v)
                .collect();
            writer.write_record(kept).unwrap();
            String::from_utf8(writer.into_inner().unwrap()).unwrap()
        })
        .collect();
    assert!(csv.lines().next().unwrap().split(',').nth(18) == Some("Lineitem price"));
    std::fs::write(landing.join("orders_export_2.csv"), without_price).unwrap();
    let run = orderlake(
        &project,
        &["ingest", "--landing", landing.to_str().unwrap()],
    );
    assert_ne!(run.code, 0);
    assert!(
        run.all().contains("orders_export_2.csv") && run.all().contains("lineitem_price"),
        "{}",
        run.all()
    );
    // Nothing of the run was loaded, not even the good WooCommerce files.
    let tables = rows(
        &project,
        "select count(*) as n from information_schema.tables where table_schema = 'bronze'",
    );
    assert_eq!(tables[0]["n"], 0, "{tables:?}");

    // Files of another platform than the one asked for are named with what is accepted.
    std::fs::remove_file(landing.join("orders_export_2.csv")).unwrap();
    let ingest_as = |platform: &str| {
        orderlake(
            &project,
            &[
                "ingest",
                "--landing",
                landing.to_str().unwrap(),
                "--platform",
                platform,
            ],
        )
    };
    let run = ingest_as("olist");
    assert_ne!(run.code, 0);
    let message = run.all();
    assert!(
        message.contains("orders_page_1.json") && message.contains("is not one of olist's exports"),
        "{message}"
    );
    std::fs::write(landing.join("notes.csv"), "a,b\n1,2\n").unwrap();
    let run = ingest_as("woocommerce");
    assert!(
        run.all()
            .contains("notes.csv: not one of woocommerce's exports; accepted:")
            && run.all().contains("GET /wp-json/wc/v3/orders"),
        "{}",
        run.all()
    );
    // Once the stray file is gone, the same run loads.
    std::fs::remove_file(landing.join("notes.csv")).unwrap();
    let run = ingest_as("woocommerce");
    assert_eq!(run.code, 0, "{}", run.all());
}

#[test]
fn the_oms_lakehouse_built_in_the_same_warehouse_is_one_more_platform() {
    let (oms_dir, oms) = crate::util::oms_project();
    let landing = oms_dir.path().join("landing");
    let landing_s = landing.to_str().unwrap();
    ok(
        &oms,
        &[
            "generate", "--out", landing_s, "--orders", "400", "--seed", "11",
        ],
    );
    ok(&oms, &["ingest", "--landing", landing_s]);
    ok(&oms, &["build", "--vars", "{as_of_date: '2024-06-29'}"]);
    let (_tmp, commerce) = bundled_project("commerce");
    let warehouse = oms.join("warehouse");
    let shared = ["--warehouse", warehouse.to_str().unwrap()];
    ok(&commerce, &[&shared[..], &["build"]].concat());

    // Computed independently from the OMS's own tables: sales revenue (net of VAT) and
    // returns as refunds (their net revenue, positive) from its fact table; orders are every
    // order not cancelled (the commerce rule on every platform: an order raised or on hold but
    // not yet billed counts, with no revenue until it is).
    let expected = rows(
        &oms,
        "select (select count(*) from gold.fct_orders where status <> 'cancelled') as orders, \
         cast(sum(case when line_type = 'sale' then net_revenue else 0 end) as varchar) as revenue, \
         cast(-sum(case when line_type = 'return' then net_revenue else 0 end) as varchar) as refunds \
         from gold.fct_sales",
    );
    let query = [
        &shared[..],
        &[
            "sql",
            "--format",
            "json",
            "select sum(orders) as orders, cast(sum(revenue) as varchar) as revenue, cast(sum(refunds) as varchar) as refunds \
             from commerce_gold.revenue_by_month where source_platform = 'oms'",
        ],
    ]
    .concat();
    let run = ok(&commerce, &query);
    let got: serde_json::Value = serde_json::from_str(run.stdout.trim()).unwrap();
    assert_eq!(
        got[0]["revenue"], expected[0]["revenue"],
        "{got} vs {expected:?}"
    );
    assert_eq!(
        got[0]["refunds"], expected[0]["refunds"],
        "{got} vs {expected:?}"
    );
    assert_eq!(
        got[0]["orders"], expected[0]["orders"],
        "{got} vs {expected:?}"
    );
    assert!(
        expected[0]["orders"].as_i64().unwrap() > 300,
        "{expected:?}"
    );
}
