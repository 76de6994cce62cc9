//! Alerts end to end: the OMS project with health.yml's destinations pointed at a local webhook
//! receiver and a local SMTP server (both here, on loopback). Exactly the expected alerts arrive —
//! none while all is well, one when a test starts failing and one when it passes again, one for a
//! stale source, and one per metric when a day's revenue collapses — each once, not at every check.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::{Arc, Mutex};

use serde_json::Value;

use crate::util::{ok, oms_project, orderlake, rows, write};

/// A webhook receiver: every POSTed JSON body, in order.
fn webhook_receiver() -> (String, Arc<Mutex<Vec<Value>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    let received = Arc::new(Mutex::new(Vec::new()));
    let sink = received.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; length];
            if reader.read_exact(&mut body).is_ok()
                && let Ok(json) = serde_json::from_slice(&body)
            {
                sink.lock().expect("lock").push(json);
            }
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok");
        }
    });
    (url, received)
}

/// A minimal SMTP server: every message's text (headers and body), in order.
fn smtp_receiver() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("smtp://{}", listener.local_addr().expect("addr"));
    let received = Arc::new(Mutex::new(Vec::new()));
    let sink = received.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let _ = stream.write_all(b"220 localhost ESMTP test\r\n");
            let mut in_data = false;
            let mut message = String::new();
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                if in_data {
                    if line == ".\r\n" {
                        in_data = false;
                        sink.lock()
                            .expect("lock")
                            .push(std::mem::take(&mut message));
                        let _ = stream.write_all(b"250 queued\r\n");
                    } else {
                        message.push_str(&line);
                    }
                    continue;
                }
                let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
                let reply: &[u8] = match verb.as_str() {
                    "EHLO" => b"250-localhost\r\n250 8BITMIME\r\n",
                    "DATA" => {
                        in_data = true;
                        b"354 go on\r\n"
                    }
                    "QUIT" => {
                        let _ = stream.write_all(b"221 bye\r\n");
                        break;
                    }
                    _ => b"250 ok\r\n",
                };
                let _ = stream.write_all(reply);
            }
        }
    });
    (url, received)
}

/// The notices that arrived since the last call, as `event key` lines, sorted.
fn drain(hooks: &Arc<Mutex<Vec<Value>>>) -> Vec<String> {
    let mut got: Vec<String> = hooks
        .lock()
        .expect("lock")
        .drain(..)
        .map(|n| {
            format!(
                "{} {}",
                n["event"].as_str().unwrap_or("?"),
                n["key"].as_str().unwrap_or("?")
            )
        })
        .collect();
    got.sort();
    got
}

const AS_OF: &str = "{as_of_date: '2024-03-10'}";

fn build(root: &Path) -> String {
    let run = orderlake(root, &["build", "--vars", AS_OF]);
    assert_eq!(run.code, 0, "build failed:\n{}", run.all());
    run.stderr
}

fn health(root: &Path, extra: &[&str]) -> Value {
    let mut args = vec!["health", "--alert", "--json", "--vars", AS_OF];
    args.extend_from_slice(extra);
    let run = orderlake(root, &args);
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.all()))
}

#[test]
fn exactly_the_expected_alerts_arrive_once_per_incident() {
    let (_dir, root) = oms_project();
    let (hook_url, hooks) = webhook_receiver();
    let (smtp_url, mails) = smtp_receiver();
    let bundled = std::fs::read_to_string(root.join("health.yml")).expect("health.yml");
    write(
        &root,
        "health.yml",
        &format!(
            "{bundled}\nalerts:\n  - webhook: {hook_url}\n  - email:\n      smtp: {smtp_url}\n      \
             from: orderlake <lake@example.com>\n      to: [oncall@example.com]\n"
        ),
    );
    let landing = root.join("landing");
    let landing_s = landing.to_str().expect("utf-8");
    // Through 2024-03-12: the generator leaves half of the last three days' orders outstanding
    // (not billed yet), so the day judged, 2024-03-09, lies before them and is complete. Seed 2
    // gives an ordinary 2024-03-09 (z 1.04, 0.65 and 0.39 for revenue, orders and return rate).
    ok(
        &root,
        &[
            "generate", "--out", landing_s, "--orders", "3000", "--days", "72", "--seed", "2",
        ],
    );
    ok(&root, &["ingest", "--landing", landing_s]);

    // All well: a build and two checks tell nobody anything.
    build(&root);
    let report = health(&root, &[]);
    assert_eq!(report["status"], "ok", "{report:#}");
    let revenue = report["anomalies"]
        .as_array()
        .expect("anomalies")
        .iter()
        .find(|a| a["subject"] == "daily_revenue")
        .expect("daily revenue judged")
        .clone();
    assert_eq!(revenue["at"], "2024-03-09");
    assert_eq!(revenue["history"], 8);
    assert_eq!(drain(&hooks), Vec::<String>::new());

    // A test starts failing: one alert from the build, none from the check after it.
    write(
        &root,
        "tests/assert_at_most_two_lines_an_order.sql",
        "select order_id, line_count from {{ ref('fct_orders') }} where line_count > 2",
    );
    let said = build_allowing_failure(&root);
    assert!(
        said.contains("alert sent: test assert_at_most_two_lines_an_order failed"),
        "{said}"
    );
    let opened = vec!["opened node:test.oms.assert_at_most_two_lines_an_order".to_string()];
    assert_eq!(drain(&hooks), opened);
    health(&root, &[]);
    assert_eq!(drain(&hooks), Vec::<String>::new());
    // Gone: cleared once.
    std::fs::remove_file(root.join("tests/assert_at_most_two_lines_an_order.sql")).expect("rm");
    build(&root);
    assert_eq!(
        drain(&hooks),
        vec!["resolved node:test.oms.assert_at_most_two_lines_an_order".to_string()]
    );

    // Thirty hours without new files: bronze is stale (warn after 24 h), told once.
    let later = (chrono::Utc::now() + chrono::Duration::hours(30)).to_rfc3339();
    let report = health(&root, &["--at", &later]);
    assert_eq!(report["status"], "warn", "{report:#}");
    assert_eq!(drain(&hooks), vec!["opened freshness:bronze".to_string()]);
    health(&root, &["--at", &later]);
    assert_eq!(drain(&hooks), Vec::<String>::new());
    health(&root, &[]);
    assert_eq!(drain(&hooks), vec!["resolved freshness:bronze".to_string()]);

    // Revenue collapses: every order billed on 2024-03-09 but one is cancelled after the fact.
    let billed = rows(
        &root,
        "select order_id, customer_id, location_id, channel, source_system, \
         cast(ordered_at as varchar) as ordered_at, cast(billed_at as varchar) as billed_at \
         from silver.orders where cast(billed_at as date) = date '2024-03-09' order by order_id",
    );
    assert!(billed.len() > 10, "{billed:?}");
    let mut lines = String::new();
    for order in &billed[1..] {
        let mut event = order.clone();
        event.insert("status".into(), "cancelled".into());
        event.insert("cancel_reason".into(), "customer_request".into());
        event.insert("hold_reason".into(), Value::Null);
        event.insert("billed_at".into(), Value::Null);
        event.insert("updated_at".into(), "2024-06-01 00:00:00".into());
        lines.push_str(&serde_json::to_string(&event).expect("json"));
        lines.push('\n');
    }
    std::fs::write(landing.join("orders_0002.ndjson"), lines).expect("write");
    ok(&root, &["ingest", "--landing", landing_s]);
    let said = build(&root);
    assert_eq!(
        drain(&hooks),
        vec![
            "opened anomaly:daily_orders".to_string(),
            "opened anomaly:daily_revenue".to_string()
        ],
        "{said}"
    );
    let report = health(&root, &[]);
    let revenue = report["anomalies"]
        .as_array()
        .expect("anomalies")
        .iter()
        .find(|a| a["subject"] == "daily_revenue")
        .expect("judged")
        .clone();
    assert_eq!(revenue["is_anomaly"], true, "{revenue:#}");
    assert!(revenue["z"].as_f64().expect("z") < -4.0, "{revenue:#}");
    let value = revenue["value"].as_f64().expect("value");
    let median = revenue["median"].as_f64().expect("median");
    assert!(value < median / 10.0, "{revenue:#}");
    assert_eq!(drain(&hooks), Vec::<String>::new(), "told once");

    // Every notice went by mail too: 1 + 1 + 1 + 1 + 2 messages, with the subject and the numbers.
    let mails = mails.lock().expect("lock").clone();
    assert_eq!(mails.len(), 6, "{mails:#?}");
    let revenue_mail = mails
        .iter()
        .find(|m| m.contains("daily_revenue on 2024-03-09"))
        .expect("a mail about revenue");
    assert!(
        revenue_mail.contains("Subject: [orderlake oms] WARN: daily_revenue"),
        "{revenue_mail}"
    );
    // The body is quoted-printable (the emoji): `=` is written `=3D`.
    assert!(revenue_mail.contains("robust z =3D -"), "{revenue_mail}");
    assert!(
        revenue_mail.contains("To: oncall@example.com"),
        "{revenue_mail}"
    );

    // The Health page and /api/health show the same incidents, with the numbers.
    let server = crate::serve::start_with(&root, &["--no-schedules", "--vars", AS_OF]);
    let api = crate::serve::get_json(&server.http, "/api/health");
    assert_eq!(api["status"], "warn", "{api:#}");
    let keys: Vec<&str> = api["incidents"]
        .as_array()
        .expect("incidents")
        .iter()
        .filter_map(|i| i["key"].as_str())
        .collect();
    assert_eq!(keys, ["anomaly:daily_revenue", "anomaly:daily_orders"]);
    assert!(
        api["tables"].as_array().is_some_and(|t| t
            .iter()
            .any(|t| t["relation"] == "gold.sales_summary" && t["files"].as_u64() > Some(0))),
        "{:#}",
        api["tables"]
    );
    let (status, page) = crate::serve::get(&server.http, "/health");
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("health-warn") && page.contains("daily_revenue on 2024-03-09"),
        "{page}"
    );
    drop(server);

    // The alert log holds the same story.
    let log = rows(
        &root,
        "select event, count(*) as n from _orderlake.alerts group by event order by event",
    );
    assert_eq!(log.len(), 2, "{log:?}");
    assert_eq!(log[0]["n"], 4, "opened: test, freshness, orders, revenue");
    assert_eq!(log[1]["n"], 2, "resolved: test, freshness");
}

/// A build where a test fails exits 1; its stderr says what was alerted.
fn build_allowing_failure(root: &Path) -> String {
    let run = orderlake(root, &["build", "--vars", AS_OF]);
    assert_eq!(run.code, 1, "a test should fail:\n{}", run.all());
    run.stderr
}
