//! The SQL endpoint with the drivers BI and data tools use, and with clients that misbehave.
//!
//! Every driver reads `count(*)` and `sum(clv)` of gold.customer_metrics and must get what
//! `orderlake sql` computes: psycopg (TLS require and verify-full, COPY text/CSV/binary, table
//! and column comments), psycopg2, asyncpg, pg8000, pyodbc over psqlODBC, polars and pyarrow
//! over ADBC, DuckDB's postgres scanner (tests/clients/bi_clients.py), and pgJDBC with the
//! DatabaseMetaData calls of Metabase and DBeaver (tests/clients/JdbcClient.java). Then the
//! connection limit, the idle timeout and a fuzz of handshakes, protocol messages and SQL
//! (tests/clients/endpoint_abuse.py). Apache Superset end to end: it adds orderlake as a
//! PostgreSQL database over its REST API, lists schemas and tables, runs SQL Lab queries
//! (tests/clients/superset_e2e.py). All installed by scripts/install-test-tools.sh.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::serve::{PASSWORD, USER, demo, python, start_with, tool};

fn clients_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/clients")
}

/// The two numbers every client must read, as `orderlake sql` computes them.
fn expected(project: &Path) -> (String, String) {
    let rows = crate::util::rows(
        project,
        "select cast(count(*) as varchar) as n, cast(sum(clv) as varchar) as total from gold.customer_metrics",
    );
    let text = |key: &str| rows[0][key].as_str().expect("text").to_string();
    (text("n"), text("total"))
}

fn run_ok(what: &str, command: &mut Command) {
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("run {what}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "{what} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn bi_and_data_tool_drivers_read_the_same_numbers_over_tls_and_copy() {
    let (_dir, project) = demo();
    let (count, sum) = expected(&project);
    let mut server = start_with(&project, &["--tls-self-signed"]);
    let cert = project.join("target/tls/cert.pem");
    assert!(cert.is_file(), "the self-signed certificate is kept");

    if let Some(python) = python() {
        run_ok(
            "bi_clients.py",
            Command::new(python)
                .arg(clients_dir().join("bi_clients.py"))
                .args([&server.pg_host, &server.pg_port, USER, PASSWORD, "oms"])
                .arg(&cert)
                .args([&count, &sum]),
        );
    }
    let jar = PathBuf::from("/usr/share/java/postgresql.jar");
    if let Some(java) = tool("java", None)
        && tool("postgresql.jar", Some(jar.clone())).is_some()
    {
        run_ok(
            "JdbcClient.java",
            Command::new(java)
                .arg("-cp")
                .arg(&jar)
                .arg(clients_dir().join("JdbcClient.java"))
                .args([&server.pg_host, &server.pg_port, USER, PASSWORD, "oms"])
                .args([&count, &sum]),
        );
    }
    assert!(server.alive());
}

#[test]
fn the_endpoint_survives_floods_idlers_and_garbage() {
    let (_dir, project) = demo();
    let (count, _) = expected(&project);
    let mut server = start_with(
        &project,
        &["--pg-max-connections", "8", "--pg-idle-timeout", "1.5"],
    );
    if let Some(python) = python() {
        run_ok(
            "endpoint_abuse.py",
            Command::new(python)
                .arg(clients_dir().join("endpoint_abuse.py"))
                .args([&server.pg_host, &server.pg_port, USER, PASSWORD, "oms"])
                .args(["8", "1.5", &count]),
        );
    }
    assert!(server.alive(), "the server is still running");
}

#[test]
fn superset_adds_orderlake_lists_its_tables_and_queries_gold() {
    let (dir, project) = demo();
    let (count, sum) = expected(&project);
    let mut server = start_with(&project, &[]);
    let venv = std::env::var_os("ORDERLAKE_SUPERSET")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/orderlake/superset"))
        });
    let Some(superset) = tool("superset", venv.map(|v| v.join("bin/superset"))) else {
        return;
    };
    // Any Python runs the driver script: it only uses the standard library.
    let Some(python) = python() else {
        return;
    };
    run_ok(
        "superset_e2e.py",
        Command::new(python)
            .arg(clients_dir().join("superset_e2e.py"))
            .arg(&superset)
            .args([&server.pg_host, &server.pg_port, USER, PASSWORD, "oms"])
            .args([&count, &sum])
            .arg(dir.path().join("superset")),
    );
    assert!(server.alive());
}
