//! Model queries on an Apache Ballista cluster: `orderlake cluster scheduler` and two
//! `orderlake cluster executor`s on loopback, the warehouse on moto's S3. The OMS lakehouse
//! built with `--engine ballista://…` equals the single-process build, table by table.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::object_store::{OmsOnMoto, json_rows, ok_with};
use crate::util::orderlake_env;

/// A node of the cluster, killed on drop.
struct Node {
    child: Child,
    log: std::path::PathBuf,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

fn wait_for_port(port: u16, node: &Node) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "no node listening on {port}:\n{}",
            std::fs::read_to_string(&node.log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn start_node(dir: &Path, name: &str, env: &[(&'static str, String)], args: &[&str]) -> Node {
    let log = dir.join(format!("{name}.log"));
    let file = std::fs::File::create(&log).expect("log file");
    let child = Command::new(env!("CARGO_BIN_EXE_orderlake"))
        .args(["-v", "cluster"])
        .args(args)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(Stdio::null())
        .stderr(file)
        .spawn()
        .expect("start a cluster node");
    Node { child, log }
}

/// A scheduler and `executors` executors; returns the scheduler's port with the nodes.
fn start_cluster(dir: &Path, env: &[(&'static str, String)], executors: usize) -> (u16, Vec<Node>) {
    let port = free_port();
    let scheduler = start_node(
        dir,
        "scheduler",
        env,
        &["scheduler", "--bind", &format!("127.0.0.1:{port}")],
    );
    wait_for_port(port, &scheduler);
    let mut nodes = vec![scheduler];
    for i in 0..executors {
        let (flight, grpc) = (free_port(), free_port());
        let work = dir.join(format!("executor-{i}"));
        std::fs::create_dir_all(&work).expect("work dir");
        let executor = start_node(
            dir,
            &format!("executor-{i}"),
            env,
            &[
                "executor",
                "--scheduler",
                &format!("127.0.0.1:{port}"),
                "--port",
                &flight.to_string(),
                "--grpc-port",
                &grpc.to_string(),
                "--vcores",
                "2",
                "--work-dir",
                work.to_str().expect("utf-8"),
            ],
        );
        wait_for_port(flight, &executor);
        nodes.push(executor);
    }
    (port, nodes)
}

/// Every row of `table`, each as canonical text (floats to 6 decimals: a distributed sum adds in
/// another order), sorted.
fn table_rows(
    root: &Path,
    env: &[(&'static str, String)],
    at: &[&str],
    table: &str,
) -> Vec<String> {
    let rows = json_rows(&ok_with(
        root,
        env,
        &[
            &["sql", "--format", "json", &format!("select * from {table}")],
            at,
        ]
        .concat(),
    ));
    let mut canonical: Vec<String> = rows
        .iter()
        .map(|row| {
            let fields: BTreeMap<String, String> = row
                .as_object()
                .expect("a row")
                .iter()
                .map(|(k, v)| {
                    let text = match v.as_f64() {
                        Some(f) if !v.is_i64() && !v.is_u64() => format!("{f:.6}"),
                        _ => v.to_string(),
                    };
                    (k.clone(), text)
                })
                .collect();
            format!("{fields:?}")
        })
        .collect();
    canonical.sort();
    canonical
}

#[test]
fn the_oms_lakehouse_built_on_a_ballista_cluster_equals_the_single_process_build() {
    let Some(oms) = OmsOnMoto::new("lake", "300") else {
        return;
    };
    let OmsOnMoto {
        moto: _moto,
        env,
        dir,
        root,
        landing,
    } = oms;
    let (port, _nodes) = start_cluster(dir.path(), &env, 2);
    let engine = format!("ballista://127.0.0.1:{port}");
    let landing = landing.to_str().expect("utf-8");
    let vars = "{as_of_date: '2024-06-29'}";
    let single = ["--warehouse", "s3://lake/single"];
    let cluster = ["--warehouse", "s3://lake/cluster"];
    for at in [&single, &cluster] {
        ok_with(
            &root,
            &env,
            &[&["ingest", "--landing", landing][..], at].concat(),
        );
    }
    ok_with(
        &root,
        &env,
        &[&["build", "--vars", vars][..], &single].concat(),
    );
    let built = ok_with(
        &root,
        &env,
        &[
            &["build", "--vars", vars, "--engine", &engine][..],
            &cluster,
        ]
        .concat(),
    );
    let ran = built
        .stdout
        .lines()
        .find_map(|l| l.strip_suffix(&format!(" ran on the Ballista cluster at {engine}")))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse::<u64>().ok())
        .unwrap_or_else(|| panic!("no cluster summary:\n{}", built.all()));
    assert!(
        ran >= 10,
        "only {ran} model queries ran on the cluster:\n{}",
        built.all()
    );

    let tables = json_rows(&ok_with(
        &root,
        &env,
        &[
            &[
                "sql",
                "--format",
                "json",
                "select table_name from information_schema.tables \
                 where table_schema = 'gold' and table_type = 'BASE TABLE' order by 1",
            ][..],
            &single,
        ]
        .concat(),
    ));
    assert!(tables.len() >= 8, "gold tables: {tables:?}");
    let mut with_rows = 0;
    for table in &tables {
        let name = format!("gold.{}", table["table_name"].as_str().expect("name"));
        let expected = table_rows(&root, &env, &single, &name);
        let got = table_rows(&root, &env, &cluster, &name);
        assert_eq!(got.len(), expected.len(), "{name}: rows");
        assert_eq!(got, expected, "{name} built on the cluster");
        with_rows += usize::from(!expected.is_empty());
    }
    assert!(with_rows >= 8, "only {with_rows} gold tables have rows");

    // An ad-hoc query runs there too, and agrees.
    let revenue = "select cast(round(sum(net_revenue), 2) as varchar) as r from gold.sales_summary where grain = 'day'";
    let on_cluster = json_rows(&ok_with(
        &root,
        &env,
        &[
            &["sql", "--format", "json", "--engine", &engine, revenue][..],
            &cluster,
        ]
        .concat(),
    ));
    let here = json_rows(&ok_with(
        &root,
        &env,
        &[&["sql", "--format", "json", revenue][..], &single].concat(),
    ));
    assert_eq!(on_cluster, here);
}

#[test]
fn a_scheduler_that_does_not_answer_is_named() {
    let (_dir, root) = crate::util::oms_project();
    let port = free_port();
    let run = orderlake_env(
        &root,
        &[],
        &["build", "--engine", &format!("ballista://127.0.0.1:{port}")],
    );
    assert_ne!(run.code, 0);
    assert!(
        run.all().contains(&format!(
            "cannot reach the Ballista scheduler at ballista://127.0.0.1:{port}"
        )),
        "{}",
        run.all()
    );
}
