//! `orderlake serve` end to end on a demo warehouse: the dashboard's JSON and pages against the
//! gold tables, psql and Python clients (psycopg, SQLAlchemy, pandas) over the PostgreSQL wire,
//! and headless Chromium drawing every page (screenshots kept under the test target folder).
//!
//! psql, chromium and the Python clients are installed by `scripts/install-test-tools.sh`
//! (CI runs it). Where one is missing, its checks are skipped with a message — except under
//! CI, where a missing tool fails the test.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

pub(crate) const USER: &str = "tester";
pub(crate) const PASSWORD: &str = "pw-for-tests";

pub(crate) struct Server {
    child: Child,
    pub(crate) http: String,
    pub(crate) pg_host: String,
    pub(crate) pg_port: String,
}

impl Server {
    /// Whether the server process is still running.
    pub(crate) fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(project: &Path) -> Server {
    start_with(project, &[])
}

/// `orderlake serve` on free ports with the test user, plus `extra` arguments.
pub(crate) fn start_with(project: &Path, extra: &[&str]) -> Server {
    start_with_env(project, extra, &[])
}

/// [`start_with`] with environment variables added (the S3 settings of a warehouse on a bucket).
pub(crate) fn start_with_env(project: &Path, extra: &[&str], env: &[(&str, String)]) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_orderlake"))
        .arg("--project-dir")
        .arg(project)
        .args(["serve", "--http", "127.0.0.1:0", "--pg", "127.0.0.1:0"])
        .args(extra)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .args([
            "--pg-user",
            &format!("{USER}:{PASSWORD}"),
            "--refresh-secs",
            "0.5",
        ])
        .env_remove("ORDERLAKE_PG_USERS")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start orderlake serve");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let (mut http, mut pg) = (None, None);
    while http.is_none() || pg.is_none() {
        let line = lines
            .next()
            .expect("serve printed its addresses")
            .expect("read serve output");
        if let Some(rest) = line.strip_prefix("Dashboard: http://") {
            http = rest.split('/').next().map(str::to_string);
        }
        if let Some(rest) = line.split("postgresql://").nth(1) {
            // tester@127.0.0.1:PORT/oms"
            let hostport = rest.split('@').nth(1).and_then(|r| r.split('/').next());
            pg = hostport.map(str::to_string);
        }
    }
    // Keep draining stdout so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    let pg = pg.expect("pg address");
    let (pg_host, pg_port) = pg.split_once(':').expect("host:port");
    Server {
        child,
        http: http.expect("http address"),
        pg_host: pg_host.to_string(),
        pg_port: pg_port.to_string(),
    }
}

/// GET over plain HTTP/1.1; returns (status, body).
pub(crate) fn get(addr: &str, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .expect("timeout");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .expect("send");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).expect("read");
    let text = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").expect("http response");
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status");
    (status, body.to_string())
}

pub(crate) fn get_json(addr: &str, path: &str) -> Value {
    let (status, body) = get(addr, path);
    assert_eq!(status, 200, "GET {path}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: bad JSON ({e}): {body}"))
}

/// A tool the client tests drive, or `None` (skip) outside CI.
pub(crate) fn tool(name: &str, path: Option<PathBuf>) -> Option<PathBuf> {
    let found = path.filter(|p| p.exists()).or_else(|| {
        std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|d| d.join(name))
                .find(|p| p.is_file())
        })
    });
    if found.is_none() {
        if std::env::var_os("CI").is_some() {
            panic!("{name} is missing: run scripts/install-test-tools.sh");
        }
        eprintln!("skipping the {name} checks: run scripts/install-test-tools.sh to install it");
    }
    found
}

pub(crate) fn python() -> Option<PathBuf> {
    let venv = std::env::var_os("ORDERLAKE_PYCLIENTS")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/orderlake/pyclients"))
        });
    tool("python", venv.map(|v| v.join("bin/python")))
}

pub(crate) fn demo() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("demo");
    let run = Command::new(env!("CARGO_BIN_EXE_orderlake"))
        .args(["demo", "--no-serve", "--out"])
        .arg(&out)
        .output()
        .expect("run demo");
    assert!(
        run.status.success(),
        "demo failed:\n{}\n{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    (dir, out)
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 0.005
}

fn psql(server: &Server, password: &str, command: &str) -> std::process::Output {
    Command::new("psql")
        .args([
            "-X",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            &server.pg_host,
            "-p",
            &server.pg_port,
        ])
        .args(["-U", USER, "-d", "oms", "-c", command])
        .env("PGPASSWORD", password)
        .env("PGCONNECT_TIMEOUT", "10")
        .output()
        .expect("run psql")
}

/// Runs a psql command that must succeed; its output.
pub(crate) fn psql_ok(server: &Server, command: &str) -> String {
    let out = psql(server, PASSWORD, command);
    assert!(
        out.status.success(),
        "psql {command}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn serve_dashboard_docs_and_sql_against_the_demo_warehouse() {
    let (_dir, project) = demo();
    let gold_revenue = crate::util::scalar_f64(
        &project,
        "select cast(sum(net_revenue) as double) from gold.sales_summary where grain = 'month'",
    );
    let server = start(&project);

    // The dashboard's JSON: the revenue KPI is the gold table's total; every panel has data.
    let sales = get_json(&server.http, "/api/dashboard/sales");
    let kpi = |page: &Value, id: &str| -> f64 {
        page["panels"]
            .as_array()
            .and_then(|ps| ps.iter().find(|p| p["id"] == id))
            .and_then(|p| p["value"].as_f64())
            .unwrap_or_else(|| panic!("no KPI {id}: {page}"))
    };
    assert!(
        close(kpi(&sales, "net_revenue"), gold_revenue),
        "dashboard revenue {} != gold {gold_revenue}",
        kpi(&sales, "net_revenue")
    );
    // Orders that became sales, counted in silver (not in the fact table the panel reads).
    let orders = crate::util::scalar_f64(
        &project,
        "select cast(count(*) as double) from silver.orders where status in ('billed', 'shipped', 'delivered')",
    );
    assert_eq!(kpi(&sales, "orders"), orders);
    let pages = get_json(&server.http, "/api/dashboard");
    let slugs: Vec<String> = pages
        .as_array()
        .expect("pages")
        .iter()
        .map(|p| p["page"].as_str().expect("slug").to_string())
        .collect();
    assert_eq!(
        slugs,
        [
            "sales",
            "customers",
            "products",
            "regions",
            "fulfilment",
            "inventory",
            "credit",
            "health"
        ]
    );
    for slug in &slugs {
        let page = get_json(&server.http, &format!("/api/dashboard/{slug}"));
        for panel in page["panels"].as_array().expect("panels") {
            assert!(
                panel.get("error").is_none(),
                "{slug}/{}: {panel}",
                panel["id"]
            );
            let has_data = match panel["kind"].as_str() {
                Some("kpi") => !panel["value"].is_null(),
                Some("table") => panel["rows"].as_array().is_some_and(|r| !r.is_empty()),
                _ => panel["series"].as_array().is_some_and(|s| {
                    s.iter().any(|s| {
                        s["data"]
                            .as_array()
                            .is_some_and(|d| d.iter().any(|v| !v.is_null()))
                    })
                }),
            };
            assert!(has_data, "{slug}/{} has no data: {panel}", panel["id"]);
        }
    }
    // Filters narrow the numbers, and match a computation from silver (not the panel's own SQL
    // over fct_sales): web sales billed in February less web returns made in February.
    let feb_web = get_json(
        &server.http,
        "/api/dashboard/sales/net_revenue?from=2024-02-01&to=2024-02-29&channel=web",
    );
    let expected = crate::util::scalar_f64(
        &project,
        "select cast(s.v - coalesce(r.v, 0) as double) from \
           (select sum(l.quantity * l.unit_price - l.discount_amount) as v \
            from silver.order_lines l join silver.orders o on o.order_id = l.order_id \
            where o.channel = 'web' and o.status in ('billed', 'shipped', 'delivered') \
              and cast(o.billed_at as date) between date '2024-02-01' and date '2024-02-29') s, \
           (select sum(r.quantity * l.unit_price - round(l.discount_amount * r.quantity / l.quantity, 2)) as v \
            from silver.returns r join silver.order_lines l on l.order_id = r.order_id and l.line_no = r.line_no \
            join silver.orders o on o.order_id = r.order_id \
            where o.channel = 'web' and o.status in ('billed', 'shipped', 'delivered') \
              and cast(r.returned_at as date) between date '2024-02-01' and date '2024-02-29') r",
    );
    assert!(close(feb_web["value"].as_f64().expect("value"), expected));
    let (status, body) = get(&server.http, "/api/dashboard/sales?from=2024-02-31");
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("\"field\":\"from\""), "{body}");
    let (status, html) = get(&server.http, "/sales");
    assert_eq!(status, 200);
    assert!(html.contains("id=\"kpi-net_revenue\"") && html.contains("chart.umd.min.js"));
    let (status, chart_js) = get(&server.http, "/assets/vendor/chart.umd.min.js");
    assert_eq!(status, 200);
    assert!(
        chart_js.contains("Chart.js v4"),
        "the vendored Chart.js is served"
    );

    // The docs site: every model has a page with its columns and compiled SQL.
    let (status, index) = get(&server.http, "/docs/");
    assert_eq!(status, 200);
    assert!(index.contains("Lineage") && index.contains("customer_metrics"));
    let (status, node) = get(&server.http, "/docs/nodes/model.oms.customer_metrics.html");
    assert_eq!(status, 200, "{node}");
    assert!(
        node.contains("numeric(18,2)") && node.contains("Compiled SQL"),
        "{node}"
    );

    // psql: \dt, \d, a join, a refused DROP, a refused password.
    if tool("psql", None).is_some() {
        let text = psql_ok(&server, "\\dt");
        assert!(
            text.contains(" gold ") && text.contains("customer_metrics"),
            "{text}"
        );
        assert!(psql_ok(&server, "\\dn").contains("silver"));
        let text = psql_ok(&server, "\\d gold.customer_metrics");
        assert!(
            text.contains("Table \"gold.customer_metrics\"") && text.contains("numeric(18,2)"),
            "{text}"
        );
        let join = "select count(*), round(sum(m.clv), 2) from gold.customer_metrics m join gold.customer_segmentation s on s.customer_id = m.customer_id where s.segment = 'Champions'";
        let text = psql_ok(&server, join);
        let expected = crate::util::rows(&project, join);
        let count = expected[0]
            .values()
            .next()
            .and_then(|v| {
                v.as_i64()
                    .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            })
            .expect("count");
        assert!(
            text.contains(&count.to_string()),
            "psql join: {text}, expected count {count}"
        );
        let out = psql(&server, PASSWORD, "drop table gold.customer_metrics");
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains("read-only"));
        // Models may read files; a client of the endpoint may not read the server's.
        for query in [
            "select * from read_csv('/etc/passwd')",
            "select * from read_parquet('warehouse/gold/fct_sales/*.parquet')",
        ] {
            let out = psql(&server, PASSWORD, query);
            assert!(!out.status.success(), "{query}");
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(stderr.contains("reads files on the server"), "{stderr}");
            assert!(!stderr.contains("root:"), "{stderr}");
        }
        assert!(
            crate::util::scalar_f64(
                &project,
                "select cast(count(*) as double) from gold.customer_metrics"
            ) > 0.0
        );
        let out = psql(&server, "not-the-password", "select 1");
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains("authentication failed"));
    }

    // Python: psycopg, SQLAlchemy reflection, pandas.
    if let Some(python) = python() {
        let script =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/clients/pg_clients.py");
        let out = Command::new(python)
            .arg(script)
            .args([&server.pg_host, &server.pg_port, USER, PASSWORD, "oms"])
            .output()
            .expect("run the Python clients");
        assert!(
            out.status.success(),
            "python clients failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    // A browser: each page draws its charts and shows the gold revenue; screenshots kept.
    if let Some(chromium) = tool("chromium", None) {
        let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
        std::fs::create_dir_all(&shots).expect("screenshot folder");
        let browser = |args: &[&str], url: &str| {
            Command::new(&chromium)
                .args([
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--hide-scrollbars",
                ])
                .args(["--virtual-time-budget=5000", "--window-size=1400,1100"])
                .arg(format!(
                    "--user-data-dir={}",
                    shots.join("profile").display()
                ))
                .args(args)
                .arg(url)
                .output()
                .expect("run chromium")
        };
        for slug in &slugs {
            let url = format!("http://{}/{slug}", server.http);
            let out = browser(&["--dump-dom"], &url);
            let dom = String::from_utf8_lossy(&out.stdout);
            assert!(
                dom.contains("data-drawn=\"true\""),
                "{slug}: charts not drawn:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let drawn: Vec<u64> = dom
                .split("data-points=\"")
                .skip(1)
                .filter_map(|s| s.split('"').next().and_then(|n| n.parse().ok()))
                .collect();
            assert!(
                !drawn.is_empty() && drawn.iter().all(|n| *n > 0),
                "{slug}: empty chart ({drawn:?})"
            );
            if slug == "sales" {
                let shown = dom
                    .split("id=\"kpi-net_revenue\" data-value=\"")
                    .nth(1)
                    .and_then(|s| s.split('"').next())
                    .and_then(|v| v.parse::<f64>().ok())
                    .expect("revenue KPI in the page");
                assert!(
                    close(shown, gold_revenue),
                    "page shows {shown}, gold has {gold_revenue}"
                );
                let formatted = format!("{:.2}", gold_revenue);
                let (int, frac) = formatted.split_once('.').expect("decimal");
                let grouped: Vec<String> = int
                    .as_bytes()
                    .rchunks(3)
                    .rev()
                    .map(|c| String::from_utf8_lossy(c).into_owned())
                    .collect();
                let text = format!("{}.{frac}", grouped.join(","));
                assert!(dom.contains(&text), "the page shows {text}");
            }
            let png = shots.join(format!("{slug}.png"));
            let out = browser(&[&format!("--screenshot={}", png.display())], &url);
            assert!(
                png.exists(),
                "screenshot of {slug}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let out = browser(&["--dump-dom"], &format!("http://{}/docs/", server.http));
        let dom = String::from_utf8_lossy(&out.stdout);
        let nodes: u64 = dom
            .split("data-nodes=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .and_then(|n| n.parse().ok())
            .expect("lineage graph");
        assert!(nodes > 30, "lineage graph has {nodes} nodes");
        let png = shots.join("docs.png");
        browser(
            &[&format!("--screenshot={}", png.display())],
            &format!("http://{}/docs/", server.http),
        );
        eprintln!("screenshots: {}", shots.display());
    }
}

#[test]
fn the_commerce_project_has_its_dashboard_page_with_a_platform_filter() {
    let (_tmp, project) = crate::util::bundled_project("commerce");
    let landing = project.join("landing");
    for platform in ["shopify", "woocommerce"] {
        crate::util::copy_samples(&project, platform, &landing);
    }
    crate::util::ok(
        &project,
        &["ingest", "--landing", landing.to_str().unwrap()],
    );
    crate::util::ok(&project, &["build"]);
    let server = start(&project);
    // Only the pages this project has data for are listed (the OMS pages read gold.fct_sales;
    // Health reads the run log every project has).
    let pages = get_json(&server.http, "/api/dashboard");
    let slugs: Vec<&str> = pages
        .as_array()
        .expect("pages")
        .iter()
        .filter_map(|p| p["page"].as_str())
        .collect();
    assert_eq!(slugs, ["commerce", "health"]);
    let page = get_json(&server.http, "/api/dashboard/commerce");
    for panel in page["panels"].as_array().expect("panels") {
        assert!(panel.get("error").is_none(), "{panel}");
    }
    // Shopify's revenue in USD, by hand: 228.90 (210 EUR × 1.09) + 127.00 + 30.00 + 193.00.
    let shopify = get_json(
        &server.http,
        "/api/dashboard/commerce/revenue?platform=shopify",
    );
    assert!(
        (shopify["value"].as_f64().unwrap() - 578.90).abs() < 0.005,
        "{shopify}"
    );
    // Both platforms: plus WooCommerce's 50.26.
    let all = get_json(&server.http, "/api/dashboard/commerce/revenue");
    assert!(
        (all["value"].as_f64().unwrap() - 629.16).abs() < 0.005,
        "{all}"
    );
    let (status, body) = get(
        &server.http,
        "/api/dashboard/commerce/revenue?platform=magento",
    );
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("shopify, woocommerce"), "{body}");
    let (status, html) = get(&server.http, "/commerce?platform=woocommerce");
    assert_eq!(status, 200);
    assert!(
        html.contains("<option value=\"woocommerce\" selected>"),
        "{html}"
    );
}
