//! Helpers for end-to-end tests: run the `orderlake` binary on a project in a temp folder.

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}

pub fn orderlake(project: &Path, args: &[&str]) -> Run {
    orderlake_env(project, &[], args)
}

/// [`orderlake`] with environment variables added (e.g. the S3 settings of a bucket).
pub fn orderlake_env(project: &Path, env: &[(&str, String)], args: &[&str]) -> Run {
    let output: Output = std::process::Command::new(env!("CARGO_BIN_EXE_orderlake"))
        .arg("--project-dir")
        .arg(project)
        .args(args)
        .env_remove("ORDERLAKE_WAREHOUSE")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .env("NO_COLOR", "1")
        .output()
        .expect("run orderlake");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Runs and asserts success, printing the output on failure.
pub fn ok(project: &Path, args: &[&str]) -> Run {
    let run = orderlake(project, args);
    assert_eq!(run.code, 0, "orderlake {args:?} failed:\n{}", run.all());
    run
}

/// Runs a query and returns its rows as JSON objects.
pub fn rows(project: &Path, query: &str) -> Vec<serde_json::Map<String, Value>> {
    let run = ok(project, &["sql", "--format", "json", query]);
    let value: Value = serde_json::from_str(run.stdout.trim())
        .unwrap_or_else(|e| panic!("bad JSON ({e}): {}", run.stdout));
    value
        .as_array()
        .expect("array")
        .iter()
        .map(|r| r.as_object().expect("object").clone())
        .collect()
}

/// One number from a one-row, one-column query.
pub fn scalar_f64(project: &Path, query: &str) -> f64 {
    let rows = rows(project, query);
    let row = rows
        .first()
        .unwrap_or_else(|| panic!("no rows for {query}"));
    number(row.values().next().expect("a column"))
}

/// A JSON number, or a number written as text (decimals come out of `sql --format json` so).
pub fn number(value: &Value) -> f64 {
    value
        .as_f64()
        .or_else(|| value.as_str().and_then(|s| s.parse().ok()))
        .unwrap_or_else(|| panic!("not a number: {value}"))
}

pub fn write(root: &Path, rel: &str, content: &str) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, content).expect("write");
}

/// A copy of the bundled example project in a fresh temp folder.
pub fn jaffle_shop() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/jaffle_shop");
    copy_dir(&src, dir.path());
    let path = dir.path().to_path_buf();
    (dir, path)
}

fn copy_dir(src: &Path, dst: &Path) {
    for entry in std::fs::read_dir(src).expect("read_dir") {
        let entry = entry.expect("entry");
        let name = entry.file_name();
        if name == "target" || name == "warehouse" {
            continue;
        }
        let to = dst.join(&name);
        if entry.file_type().expect("type").is_dir() {
            std::fs::create_dir_all(&to).expect("mkdir");
            copy_dir(&entry.path(), &to);
        } else {
            std::fs::copy(entry.path(), to).expect("copy");
        }
    }
}

/// A minimal project with the given files (paths relative to the project root).
pub fn project(files: &[(&str, &str)]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().to_path_buf();
    if !files.iter().any(|(p, _)| *p == "dbt_project.yml") {
        write(
            &root,
            "dbt_project.yml",
            "name: fixture\nversion: '1.0'\nconfig-version: 2\n",
        );
    }
    for (path, content) in files {
        write(&root, path, content);
    }
    (dir, root)
}

/// Reads a CSV file into rows of strings (header excluded), for independent computations.
pub fn read_csv(path: &Path) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(path).expect("read csv");
    text.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect()
}

/// A copy of the bundled OMS lakehouse project in a fresh temp folder.
pub fn oms_project() -> (tempfile::TempDir, PathBuf) {
    bundled_project("oms")
}

/// Copies the commerce project's sample exports of `platform` (`samples/<platform>`) into `landing`.
pub fn copy_samples(project: &Path, platform: &str, landing: &Path) {
    std::fs::create_dir_all(landing).expect("mkdir");
    for entry in std::fs::read_dir(project.join("samples").join(platform)).expect("samples") {
        let path = entry.expect("entry").path();
        std::fs::copy(&path, landing.join(path.file_name().expect("name"))).expect("copy");
    }
}

/// A copy of `projects/<name>` in a fresh temp folder (without its landing folder, and without
/// its schedules: a test that serves must not have jobs firing on the wall clock).
pub fn bundled_project(name: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../projects")
        .join(name);
    let root = dir.path().join(name);
    std::fs::create_dir_all(&root).expect("mkdir");
    copy_dir(&src, &root);
    let _ = std::fs::remove_dir_all(root.join("landing"));
    let _ = std::fs::remove_file(root.join("schedules.yml"));
    (dir, root)
}
