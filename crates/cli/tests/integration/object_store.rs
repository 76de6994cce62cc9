//! The warehouse on an S3-compatible object store: moto's S3 server (installed by
//! scripts/install-test-tools.sh, started here on a free loopback port, stopped on drop). It
//! enforces S3's conditional puts, which Delta commits rely on.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::serve::tool;
use crate::util::{Run, oms_project, orderlake_env};

/// A moto S3 server with one bucket, for the length of a test.
pub(crate) struct Moto {
    child: Child,
    pub endpoint: String,
}

impl Moto {
    /// Starts moto and creates `bucket`; `None` (skip) outside CI when moto is not installed.
    pub(crate) fn start(bucket: &str) -> Option<Moto> {
        let venv = std::env::var_os("ORDERLAKE_MOTO")
            .map(PathBuf::from)
            .or_else(|| {
                std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/orderlake/moto"))
            });
        let python = tool("python (moto)", venv.map(|v| v.join("bin/python")))?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new(python)
            .args([
                "-m",
                "moto.server",
                "-H",
                "127.0.0.1",
                "-p",
                &port.to_string(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start moto");
        let moto = Moto {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "moto did not start on port {port}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        // Creating a bucket is a plain PUT (moto does not check signatures).
        let created = Command::new("curl")
            .args(["-sf", "-X", "PUT", &format!("{}/{bucket}", moto.endpoint)])
            .status()
            .expect("curl");
        assert!(created.success(), "creating bucket {bucket}");
        Some(moto)
    }

    /// Puts the local file `path` at `bucket/key` (a producer dropping a landing file).
    pub(crate) fn put(&self, bucket: &str, key: &str, path: &Path) {
        let status = Command::new("curl")
            .args(["-sf", "-T"])
            .arg(path)
            .arg(format!("{}/{bucket}/{key}", self.endpoint))
            .status()
            .expect("curl");
        assert!(status.success(), "uploading {key}");
    }

    /// Puts every file of the folder `dir` below `bucket/prefix/`.
    pub(crate) fn put_folder(&self, bucket: &str, prefix: &str, dir: &Path) {
        for file in std::fs::read_dir(dir).expect("folder") {
            let path = file.expect("entry").path();
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .expect("name")
                .to_string();
            self.put(bucket, &format!("{prefix}/{name}"), &path);
        }
    }

    /// The keys below `bucket/prefix`, as the S3 API lists them (XML).
    pub(crate) fn listing(&self, bucket: &str, prefix: &str) -> String {
        let out = Command::new("curl")
            .args([
                "-sf",
                &format!("{}/{bucket}?prefix={prefix}", self.endpoint),
            ])
            .output()
            .expect("curl");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The AWS settings a client of this server needs.
    pub(crate) fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint.clone()),
            ("AWS_ACCESS_KEY_ID", "testing".into()),
            ("AWS_SECRET_ACCESS_KEY", "testing".into()),
            ("AWS_REGION", "us-east-1".into()),
        ]
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn ok_with(project: &Path, env: &[(&'static str, String)], args: &[&str]) -> Run {
    let run = orderlake_env(project, env, args);
    assert_eq!(run.code, 0, "orderlake {args:?} failed:\n{}", run.all());
    run
}

pub(crate) fn json_rows(run: &Run) -> Vec<serde_json::Value> {
    serde_json::from_str::<serde_json::Value>(run.stdout.trim())
        .unwrap_or_else(|e| panic!("bad JSON ({e}): {}", run.stdout))
        .as_array()
        .expect("rows")
        .clone()
}

/// The OMS project with generated landing files, and a moto bucket.
pub(crate) struct OmsOnMoto {
    pub moto: Moto,
    pub env: Vec<(&'static str, String)>,
    pub dir: tempfile::TempDir,
    pub root: PathBuf,
    pub landing: PathBuf,
}

impl OmsOnMoto {
    pub(crate) fn new(bucket: &str, orders: &str) -> Option<OmsOnMoto> {
        let moto = Moto::start(bucket)?;
        let env = moto.env();
        let (dir, root) = oms_project();
        let landing = dir.path().join("landing");
        let out = landing.to_str().expect("utf-8");
        ok_with(
            &root,
            &env,
            &["generate", "--out", out, "--orders", orders, "--seed", "11"],
        );
        Some(OmsOnMoto {
            moto,
            env,
            dir,
            root,
            landing,
        })
    }
}

const GOLD_FIGURES: &str = "select (select count(*) from gold.customer_metrics) as customers, \
     (select cast(round(sum(clv), 2) as varchar) from gold.customer_metrics) as clv, \
     (select count(*) from gold.fct_sales) as sales_lines, \
     (select cast(sum(net_revenue) as varchar) from gold.sales_summary where grain = 'day') as revenue, \
     (select count(*) from silver.orders) as silver_orders";

/// The OMS lakehouse built with its warehouse on S3 equals the same build on disk: ingest,
/// build (incremental models and snapshots included), `sql`, a second incremental build, and
/// `docs generate` all work on the bucket, and nothing is written to a local `s3:` folder.
#[test]
fn the_oms_lakehouse_on_s3_equals_the_one_on_disk() {
    let Some(oms) = OmsOnMoto::new("lake", "300") else {
        return;
    };
    let OmsOnMoto {
        moto,
        env,
        dir,
        root,
        landing,
    } = oms;
    let landing_s = landing.to_str().expect("utf-8");
    let vars = "{as_of_date: '2024-06-29'}";
    let on_s3 = ["--warehouse", "s3://lake/wh"];
    for args in [
        vec!["ingest", "--landing", landing_s],
        vec!["build", "--vars", vars],
    ] {
        ok_with(&root, &env, &[args.as_slice(), &on_s3].concat());
        ok_with(&root, &[], &args);
    }
    let figures = |extra: &[&str]| {
        json_rows(&ok_with(
            &root,
            &env,
            &[&["sql", "--format", "json", GOLD_FIGURES], extra].concat(),
        ))
    };
    let local = figures(&[]);
    let remote = figures(&on_s3);
    assert_eq!(remote, local, "gold on S3 equals gold on disk");
    assert!(local[0]["customers"].as_i64().unwrap_or(0) > 0, "{local:?}");
    assert!(!root.join("s3:").exists() && !Path::new("s3:").exists());

    // Tables are Delta on the bucket: a commit log per table, listed over the S3 API.
    let listing = moto.listing("lake", "wh/gold/customer_metrics/_delta_log/");
    assert!(listing.contains("00000000000000000000.json"), "{listing}");

    // A second build (incremental models merge, snapshots compare) changes nothing.
    ok_with(
        &root,
        &env,
        &[&["build", "--vars", vars][..], &on_s3].concat(),
    );
    assert_eq!(
        figures(&on_s3),
        local,
        "a second build on S3 changes nothing"
    );

    // Other engines read the same tables, on disk and on the bucket: Polars, DuckDB (on disk)
    // and the Spark API on Sail.
    let readers = std::env::var_os("ORDERLAKE_READERS")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/orderlake/readers"))
        });
    if let Some(python) = tool(
        "python (delta readers)",
        readers.map(|v| v.join("bin/python")),
    ) {
        let script =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/clients/delta_readers.py");
        let tables = ["gold/customer_metrics", "gold/sales_summary"];
        let mut paths: Vec<String> = tables
            .iter()
            .map(|t| {
                root.join("warehouse")
                    .join(t)
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        paths.extend(tables.iter().map(|t| format!("s3://lake/wh/{t}")));
        let out = Command::new(python)
            .arg(&script)
            .args(&paths)
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .output()
            .expect("run delta_readers.py");
        assert!(
            out.status.success(),
            "delta_readers.py: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let read: serde_json::Value =
            serde_json::from_slice(&out.stdout).expect("delta_readers.py prints JSON");
        let ours = json_rows(&ok_with(
            &root,
            &env,
            &[
                "sql",
                "--format",
                "json",
                "select (select count(*) from gold.customer_metrics) as c1, \
                 (select cast(round(sum(clv), 2) as double) from gold.customer_metrics) as s1, \
                 (select count(*) from gold.sales_summary) as c2, \
                 (select cast(round(sum(net_revenue), 2) as double) from gold.sales_summary) as s2",
            ],
        ));
        let expected = [
            (ours[0]["c1"].as_i64(), ours[0]["s1"].as_f64()),
            (ours[0]["c2"].as_i64(), ours[0]["s2"].as_f64()),
        ];
        let mut checked = 0;
        for (reader, figures) in read.as_object().expect("readers") {
            for (path, got) in figures.as_object().expect("tables") {
                let (count, sum) = expected[usize::from(path.contains("sales_summary"))];
                assert_eq!(got["count"].as_i64(), count, "{reader} {path}");
                let (got_sum, sum) = (got["sum"].as_f64().unwrap_or(f64::NAN), sum.unwrap_or(0.0));
                assert!(
                    (got_sum - sum).abs() < 0.01,
                    "{reader} {path}: {got_sum} vs {sum}"
                );
                checked += 1;
            }
        }
        // Polars and Sail read all four; DuckDB the two on disk.
        assert_eq!(checked, 10, "{read}");
    }

    // Served from the bucket: the SQL endpoint answers the same figures.
    if crate::serve::tool("psql", None).is_some() {
        let server = crate::serve::start_with_env(&root, &on_s3, &env);
        let served = crate::serve::psql_ok(
            &server,
            "select count(*), cast(round(sum(clv), 2) as varchar) from gold.customer_metrics",
        );
        let expected = format!(
            "{} | {}",
            local[0]["customers"],
            local[0]["clv"].as_str().unwrap_or_default()
        );
        assert!(served.contains(&expected), "{served} (expected {expected})");
    }

    // The landing area can be a prefix of the bucket too: each object is loaded once.
    moto.put_folder("lake", "landing", &landing);
    let from_bucket = ["--warehouse", "s3://lake/wh2"];
    let first = ok_with(
        &root,
        &env,
        &[
            &["ingest", "--landing", "s3://lake/landing"][..],
            &from_bucket,
        ]
        .concat(),
    );
    let again = ok_with(
        &root,
        &env,
        &[
            &["ingest", "--landing", "s3://lake/landing"][..],
            &from_bucket,
        ]
        .concat(),
    );
    assert!(
        again.stdout.contains("Ingested 0 new file(s)"),
        "{}",
        again.stdout
    );
    let bronze = "select (select count(*) from bronze.orders) as orders, \
                  (select count(*) from bronze.order_lines) as lines, \
                  (select count(*) from _orderlake.ingest_log) as files";
    let bronze_rows = |warehouse: &[&str]| {
        json_rows(&ok_with(
            &root,
            &env,
            &[&["sql", "--format", "json", bronze][..], warehouse].concat(),
        ))
    };
    assert_eq!(
        bronze_rows(&from_bucket),
        bronze_rows(&on_s3),
        "{}",
        first.stdout
    );

    // The docs site reads the warehouse on S3 too.
    let out = dir.path().join("docs");
    ok_with(
        &root,
        &env,
        &[
            &["docs", "generate", "--out", out.to_str().expect("utf-8")][..],
            &on_s3,
        ]
        .concat(),
    );
    assert!(out.join("index.html").exists());
}

/// `watch` on a landing prefix of a bucket (no file events there: it lists the prefix every
/// second) and a warehouse on the same bucket: the history is caught up, then an order put
/// into the bucket reaches silver and gold by itself.
#[test]
fn watch_lists_a_landing_prefix_on_s3_and_refreshes_gold() {
    let Some(oms) = OmsOnMoto::new("live", "200") else {
        return;
    };
    let OmsOnMoto {
        moto,
        env,
        dir,
        root,
        landing,
    } = oms;
    moto.put_folder("live", "landing", &landing);
    let on_s3 = ["--warehouse", "s3://live/wh"];
    let watch = crate::live::Background::start_with_env(
        &root,
        &[
            &[
                "watch",
                "--landing",
                "s3://live/landing",
                "--json",
                "--debounce-ms",
                "200",
            ][..],
            &on_s3,
        ]
        .concat(),
        &env,
    );
    let start = crate::live::next_cycle(&watch, |c| c["trigger"] == "start");
    assert!(
        crate::live::files_of(&start).len() >= 10,
        "the catch-up loads the history: {start}"
    );

    let query = |sql: &str| {
        json_rows(&ok_with(
            &root,
            &env,
            &[&["sql", "--format", "json", sql][..], &on_s3].concat(),
        ))
    };
    let customer =
        query("select customer_id, location_id from silver.customers order by customer_id limit 1");
    let order = 900_001;
    let new_order = dir.path().join("orders_0900.ndjson");
    std::fs::write(
        &new_order,
        crate::live::order_json(
            order,
            customer[0]["customer_id"].as_i64().expect("customer"),
            customer[0]["location_id"].as_i64().expect("location"),
            "raised",
            "2024-03-10 10:00:00",
        ),
    )
    .expect("write");
    moto.put("live", "landing/orders_0900.ndjson", &new_order);
    let cycles = crate::live::wait_for_files(&watch, &["orders_0900.ndjson"]);
    assert!(
        cycles.iter().all(|c| c["trigger"] == "rescan"),
        "the listing found it (a bucket has no file events): {cycles:?}"
    );
    let found = query(&format!(
        "select (select count(*) from silver.orders where order_id = {order}) as silver, \
         (select count(*) from _orderlake.ingest_log where file = 'orders_0900.ndjson') as logged"
    ));
    assert_eq!(found, vec![serde_json::json!({"silver": 1, "logged": 1})]);
}

/// `--warehouse` with a scheme orderlake does not serve is refused by name, and no local
/// folder is made of it (it once wrote a folder named `s3:`).
#[test]
fn an_unsupported_warehouse_url_is_refused_by_name() {
    let (dir, root) = oms_project();
    for url in [
        "gs://lake/wh",
        "abfss://c@acct.dfs.core.windows.net/wh",
        "https://example.com/wh",
    ] {
        let run = orderlake_env(&root, &[], &["--warehouse", url, "sql", "select 1"]);
        assert_ne!(run.code, 0, "{url}: {}", run.all());
        let scheme = url.split("://").next().unwrap_or_default();
        assert!(
            run.stderr.contains(&format!("{scheme}://"))
                && run.stderr.contains("s3://bucket/prefix"),
            "{url}: {}",
            run.stderr
        );
    }
    for name in ["gs:", "abfss:", "https:"] {
        assert!(!root.join(name).exists() && !dir.path().join(name).exists());
    }
}

/// An S3 endpoint that does not answer is a clear error naming the endpoint and the
/// warehouse, not a hang or a local folder.
#[test]
fn an_unreachable_store_is_named_with_its_endpoint() {
    let (_dir, root) = oms_project();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let endpoint = format!("http://127.0.0.1:{port}");
    let env = vec![
        ("AWS_ENDPOINT_URL", endpoint.clone()),
        ("AWS_ACCESS_KEY_ID", "testing".to_string()),
        ("AWS_SECRET_ACCESS_KEY", "testing".to_string()),
        ("AWS_REGION", "us-east-1".to_string()),
        // No retries against a closed port.
        ("AWS_MAX_RETRIES", "0".to_string()),
    ];
    let started = Instant::now();
    let run = orderlake_env(
        &root,
        &env,
        &["--warehouse", "s3://lake/wh", "sql", "select 1"],
    );
    assert_ne!(run.code, 0, "{}", run.all());
    assert!(
        run.stderr.contains(&endpoint) && run.stderr.contains("s3://lake/wh"),
        "{}",
        run.stderr
    );
    assert!(
        started.elapsed() < Duration::from_secs(120),
        "took {:?}",
        started.elapsed()
    );
}

/// Two builds racing on one table never lose a commit: S3's conditional put lets exactly one
/// writer create each log entry; the other finds it taken and commits on the next version.
/// Each build appends one row to a model and one per node to the run event log.
#[test]
fn two_builds_racing_on_s3_lose_no_commit() {
    let Some(moto) = Moto::start("race") else {
        return;
    };
    let env = moto.env();
    let (_dir, root) = crate::util::project(&[(
        "models/appended.sql",
        "{{ config(materialized='incremental', incremental_strategy='append') }}\n\
         select {{ var('writer', 0) }} as writer, {{ var('n', 0) }} as n",
    )]);
    let on_s3 = ["--warehouse", "s3://race/wh"];
    ok_with(&root, &env, &[&["build"][..], &on_s3].concat());
    const EACH: i64 = 5;
    let builds: Vec<std::thread::JoinHandle<()>> = (1..=2)
        .map(|writer| {
            let (root, env) = (root.clone(), env.clone());
            std::thread::spawn(move || {
                for n in 1..=EACH {
                    let vars = format!("{{writer: {writer}, n: {n}}}");
                    ok_with(
                        &root,
                        &env,
                        &["build", "--vars", &vars, "--warehouse", "s3://race/wh"],
                    );
                }
            })
        })
        .collect();
    for build in builds {
        build.join().expect("a build thread");
    }
    let rows = json_rows(&ok_with(
        &root,
        &env,
        &[
            &[
                "sql",
                "--format",
                "json",
                "select writer, count(*) as appends, sum(n) as total from main.appended \
                 group by writer order by writer",
            ][..],
            &on_s3,
        ]
        .concat(),
    ));
    let total = EACH * (EACH + 1) / 2;
    assert_eq!(
        rows,
        vec![
            serde_json::json!({"writer": 0, "appends": 1, "total": 0}),
            serde_json::json!({"writer": 1, "appends": EACH, "total": total}),
            serde_json::json!({"writer": 2, "appends": EACH, "total": total}),
        ],
        "every append of both builds is there"
    );
    // One log entry per commit, numbered without a gap: 0 created the table, then one per append.
    let listing = moto.listing("race", "wh/main/appended/_delta_log/");
    let commits = (0..=2 * EACH)
        .filter(|v| listing.contains(&format!("{v:020}.json")))
        .count() as i64;
    assert_eq!(commits, 2 * EACH + 1, "{listing}");
    assert!(
        !listing.contains(&format!("{:020}.json", 2 * EACH + 1)),
        "{listing}"
    );
}
