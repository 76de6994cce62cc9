//! A real PostgreSQL server for tests, started by the test process itself.
//!
//! The first call to [`database`] in a process runs `initdb` into a temporary folder and starts
//! `postgres` on a free loopback port (as the `postgres` user when the tests run as root, since
//! PostgreSQL refuses to run as root). A watchdog stops the server and removes its folder once the
//! test process has exited, however it exits. Every call creates a new, empty database, so tests
//! running in parallel never see each other's rows.
//!
//! Where PostgreSQL is not installed, [`database`] returns `None` so a developer's run can skip;
//! under CI (`CI` set) it panics instead: `scripts/install-test-tools.sh` installs it there.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// A running server: its port.
struct Server {
    port: u16,
}

static SERVER: OnceLock<Result<Server, String>> = OnceLock::new();
static NEXT: AtomicUsize = AtomicUsize::new(0);
/// `create database` copies a template, which two sessions must not do at once.
static CREATING: Mutex<()> = Mutex::new(());

/// A URL to a new empty database on this process's test server, or `None` when PostgreSQL is
/// not installed and this is not CI.
pub fn database() -> Option<String> {
    new_database(false)
}

/// [`database`] on a server that keeps fsync on, for benchmarks (commits still do not wait for
/// it: `synchronous_commit=off`, like SQLite's WAL with `synchronous=NORMAL`). The first call in
/// a process decides how its server runs.
pub fn durable_database() -> Option<String> {
    new_database(true)
}

fn new_database(durable: bool) -> Option<String> {
    let server = SERVER.get_or_init(|| start(durable));
    let server = match server {
        Ok(server) => server,
        Err(why) if std::env::var_os("CI").is_none() && why.starts_with("not installed") => {
            eprintln!("skipping the PostgreSQL part: {why}");
            return None;
        }
        Err(why) => panic!("PostgreSQL test server: {why}"),
    };
    let name = format!(
        "t{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    );
    let _creating = CREATING.lock().unwrap_or_else(|p| p.into_inner());
    let mut admin = postgres::Client::connect(&url(server.port, "postgres"), postgres::NoTls)
        .unwrap_or_else(|e| panic!("PostgreSQL test server on port {}: {e}", server.port));
    admin
        .batch_execute(&format!("create database {name}"))
        .unwrap_or_else(|e| panic!("create database {name}: {e}"));
    Some(url(server.port, &name))
}

fn url(port: u16, database: &str) -> String {
    format!("postgres://postgres@127.0.0.1:{port}/{database}")
}

/// The folder of the newest installed PostgreSQL's programs.
fn bin_dir() -> Option<PathBuf> {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, bin)| bin)
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// `program args…`, as the `postgres` user when we are root.
fn as_postgres(program: &Path, root: bool) -> Command {
    if root {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

fn start(durable: bool) -> Result<Server, String> {
    let bin = bin_dir().ok_or("not installed (no /usr/lib/postgresql/*/bin/initdb)")?;
    let root = is_root();
    let dir = std::env::temp_dir().join(format!("orderlake-pg-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    if root {
        let status = Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(&dir)
            .status()
            .map_err(|e| format!("chown: {e}"))?;
        if !status.success() {
            return Err(format!("chown postgres {}: {status}", dir.display()));
        }
    }
    let data = dir.join("data");
    let out = as_postgres(&bin.join("initdb"), root)
        .args([
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
            "-E",
            "UTF8",
            "-D",
        ])
        .arg(&data)
        .output()
        .map_err(|e| format!("initdb: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "initdb: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| format!("a free port: {e}"))?
        .port();
    // Durability is not what these tests measure (the crash tests kill the client, not the
    // server): no fsync keeps a suite of small databases fast.
    let (fsync, full_page_writes) = if durable {
        ("fsync=on", "full_page_writes=on")
    } else {
        ("fsync=off", "full_page_writes=off")
    };
    let log = std::fs::File::create(dir.join("server.log")).map_err(|e| e.to_string())?;
    as_postgres(&bin.join("postgres"), root)
        .arg("-D")
        .arg(&data)
        .args(["-p", &port.to_string(), "-k"])
        .arg(&dir)
        .args([
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            fsync,
            "-c",
            "synchronous_commit=off",
            "-c",
            full_page_writes,
            "-c",
            "max_connections=300",
        ])
        .stdin(Stdio::null())
        .stdout(log.try_clone().map_err(|e| e.to_string())?)
        .stderr(log)
        .spawn()
        .map_err(|e| format!("postgres: {e}"))?;
    watch(&dir, &data);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match postgres::Client::connect(&url(port, "postgres"), postgres::NoTls) {
            Ok(_) => return Ok(Server { port }),
            Err(e) if Instant::now() > deadline => {
                let log = std::fs::read_to_string(dir.join("server.log")).unwrap_or_default();
                return Err(format!("no answer on port {port}: {e}\n{log}"));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

/// Stops the server (fast shutdown) and removes its folder once this process is gone.
fn watch(dir: &Path, data: &Path) {
    let script = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 1; done; \
         kill -INT $(head -1 '{data}/postmaster.pid') 2>/dev/null; \
         for _ in $(seq 1 30); do [ -e '{data}/postmaster.pid' ] || break; sleep 1; done; \
         rm -rf '{dir}'",
        pid = std::process::id(),
        data = data.display(),
        dir = dir.display(),
    );
    use std::os::unix::process::CommandExt;
    let _ = Command::new("sh")
        .args(["-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn();
}
