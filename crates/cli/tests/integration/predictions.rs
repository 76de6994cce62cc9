//! Customer predictions end to end: the bundled OMS project on generated data builds
//! `gold.customer_predictions` and its backtest; the backtest's figures are recomputed here from
//! its per-customer rows and from silver, and the docs site shows them.

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use crate::util::{ok, oms_project, rows};

const AS_OF: &str = "2024-06-29";
const CUTOFF: &str = "2024-03-31";

fn number(row: &serde_json::Map<String, Value>, column: &str) -> f64 {
    crate::util::number(&row[column])
}

#[test]
fn predictions_beat_the_naive_baseline_in_a_backtest_recomputed_here() {
    let (_dir, root) = oms_project();
    let landing = root.join("landing");
    let landing_s = landing.to_str().expect("utf-8");
    ok(
        &root,
        &[
            "generate", "--out", landing_s, "--orders", "5000", "--days", "180",
        ],
    );
    ok(&root, &["ingest", "--landing", landing_s]);
    let vars = format!("{{as_of_date: '{AS_OF}'}}");
    let build = ok(&root, &["build", "--vars", &vars]);
    assert!(
        build
            .stdout
            .contains("PASS  test   predictions_beat_the_naive_baseline"),
        "{}",
        build.all()
    );

    // Who came back in the holdout, and with how much, straight from silver.
    let holdout = rows(
        &root,
        &format!(
            "select o.customer_id, cast(sum(l.gross_amount - l.discount_amount) as double) as value \
             from silver.orders o join silver.order_lines l on l.order_id = o.order_id \
             where o.status <> 'cancelled' and o.ordered_at >= timestamp '{CUTOFF}' \
             and o.ordered_at < timestamp '{AS_OF}' group by 1"
        ),
    );
    let came_back: HashMap<i64, f64> = holdout
        .iter()
        .map(|r| (r["customer_id"].as_i64().expect("id"), number(r, "value")))
        .collect();
    let before: HashSet<i64> = rows(
        &root,
        &format!(
            "select distinct customer_id from silver.orders \
             where status <> 'cancelled' and ordered_at < timestamp '{CUTOFF}'"
        ),
    )
    .iter()
    .map(|r| r["customer_id"].as_i64().expect("id"))
    .collect();

    let customers = rows(&root, "select * from gold.prediction_backtest_customers");
    assert_eq!(customers.len(), before.len());
    let (mut scores, mut baseline, mut labels) = (Vec::new(), Vec::new(), Vec::new());
    let (mut predicted, mut actual) = (Vec::new(), Vec::new());
    for c in &customers {
        let id = c["customer_id"].as_i64().expect("id");
        assert!(
            before.contains(&id),
            "customer {id} had no order before the cutoff"
        );
        let back = came_back.get(&id);
        assert_eq!(
            c["came_back"].as_bool(),
            Some(back.is_some()),
            "customer {id}"
        );
        let value = back.copied().unwrap_or(0.0);
        assert!(
            (number(c, "actual_value") - value).abs() < 0.01,
            "customer {id}"
        );
        scores.push(number(c, "p_active"));
        baseline.push(if c["baseline_active"].as_bool() == Some(true) {
            1.0
        } else {
            0.0
        });
        labels.push(back.is_some());
        predicted.push(number(c, "predicted_value"));
        actual.push(value);
    }

    let summary: HashMap<String, serde_json::Map<String, Value>> =
        rows(&root, "select * from gold.prediction_backtest")
            .into_iter()
            .map(|r| (r["metric"].as_str().expect("metric").to_string(), r))
            .collect();
    let auc = &summary["churn_auc"];
    let model_auc = orderlake_predict::roc_auc(&scores, &labels).expect("both classes");
    let baseline_auc = orderlake_predict::roc_auc(&baseline, &labels).expect("both classes");
    assert!(
        (number(auc, "model") - model_auc).abs() < 1e-9,
        "{auc:?} vs {model_auc}"
    );
    assert!(
        (number(auc, "baseline") - baseline_auc).abs() < 1e-9,
        "{auc:?} vs {baseline_auc}"
    );
    assert_eq!(auc["enough_history"], Value::Bool(true));
    // The bar: 0.8 and 0.03 over the baseline; the model clears it, the baseline cannot.
    let floor = number(auc, "floor");
    assert!((floor - 0.8f64.max(baseline_auc + 0.03)).abs() < 1e-9);
    assert!(
        model_auc >= floor && baseline_auc < floor,
        "model {model_auc}, baseline {baseline_auc}, floor {floor}"
    );
    assert_eq!(
        number(auc, "came_back") as usize,
        came_back.keys().filter(|id| before.contains(id)).count()
    );
    // Calibrated: the probabilities add up to about how many came back.
    let expected_back: f64 = scores.iter().sum();
    let came = labels.iter().filter(|l| **l).count() as f64;
    assert!(
        (expected_back / came - 1.0).abs() < 0.15,
        "expected {expected_back}, came {came}"
    );

    let mae = &summary["value_mae"];
    let model_mae = orderlake_predict::mean_absolute_error(&predicted, &actual).expect("rows");
    assert!((number(mae, "model") - model_mae).abs() < 1e-6 * model_mae.max(1.0));
    assert!(model_mae < number(mae, "floor"), "{mae:?}");

    // Today's predictions: every customer with an order before as_of_date, probabilities that
    // are probabilities, and segments that follow them.
    let ordered: usize = rows(
        &root,
        &format!(
            "select count(distinct customer_id) as n from silver.orders \
             where status <> 'cancelled' and ordered_at < timestamp '{AS_OF}'"
        ),
    )[0]["n"]
        .as_u64()
        .expect("count") as usize;
    let predictions = rows(
        &root,
        "select customer_id, p_alive, p_active_90d, risk_segment, cast(expected_value_12m as double) as value \
         from gold.customer_predictions",
    );
    assert_eq!(predictions.len(), ordered);
    for p in &predictions {
        let active = number(p, "p_active_90d");
        assert!(
            (0.0..=1.0).contains(&active) && active <= number(p, "p_alive") + 1e-12,
            "{p:?}"
        );
        let segment = match active {
            a if a >= 0.75 => "Low risk",
            a if a >= 0.40 => "Medium risk",
            a if a >= 0.10 => "High risk",
            _ => "Likely lost",
        };
        assert_eq!(p["risk_segment"], segment, "{p:?}");
        assert!(number(p, "value") >= 0.0);
    }
    let segments: HashSet<&str> = predictions
        .iter()
        .filter_map(|p| p["risk_segment"].as_str())
        .collect();
    assert!(
        segments.contains("Low risk") && segments.contains("Likely lost"),
        "{segments:?}"
    );

    // The docs site shows the backtest's figures on its page.
    let site = root.join("site");
    ok(
        &root,
        &["docs", "generate", "--out", site.to_str().expect("utf-8")],
    );
    let page = std::fs::read_to_string(site.join("nodes/model.oms.prediction_backtest.html"))
        .expect("backtest page");
    assert!(page.contains("<h2>Contents</h2>"), "{page}");
    assert!(
        page.contains(
            &format!("{:.4}", (model_auc * 1e4).round() / 1e4)
                .trim_end_matches('0')
                .to_string()
        ),
        "AUC {model_auc} not on the page"
    );
}
