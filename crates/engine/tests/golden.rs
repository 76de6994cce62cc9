//! Golden-file tests of the engine, in the spirit of DataFusion's sqllogictest: each file in
//! `tests/golden/` is a specification that a person can read — the project's files, the builds,
//! and what the warehouse holds after each — and the runner checks it through the engine API
//! (no binary, no CLI).
//!
//! Records are separated by blank lines:
//!
//! ```text
//! # a comment
//! file models/orders.sql          the lines up to the next blank line become that project file
//! seed raw_orders                 the same, as seeds/raw_orders.csv
//! build [--full-refresh] [-s SEL] [--event-time-start T] [--event-time-end T] [--command C]
//! ----                            expected: one line per node result (status, name, rows or the error)
//! query
//! select … order by …
//! ----                            expected: the result as a table
//! ```
//!
//! Refresh the expected blocks after an intended change with
//! `ORDERLAKE_BLESS=1 cargo test -p orderlake-engine --test golden`, and read the diff.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use orderlake_engine::invocation::{self, Command, Request};
use orderlake_engine::output::{Format, format_batches};
use orderlake_engine::{NodeResult, Status};
use orderlake_project::{LoadOptions, Project, ResourceType};

/// One record of a golden file.
#[derive(Debug)]
enum Record {
    Comment(Vec<String>),
    File {
        path: String,
        body: Vec<String>,
    },
    Build {
        args: Vec<String>,
        expected: Vec<String>,
    },
    Query {
        sql: Vec<String>,
        expected: Vec<String>,
    },
}

fn parse(text: &str, file: &Path) -> Vec<Record> {
    let mut records = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    let mut i = 0;
    // A block: lines up to the next blank line.
    let block = |i: &mut usize| -> Vec<String> {
        let mut out = Vec::new();
        while *i < lines.len() && !lines[*i].trim().is_empty() {
            out.push(lines[*i].to_string());
            *i += 1;
        }
        out
    };
    while i < lines.len() {
        let line = lines[i];
        if line.trim().is_empty() {
            i += 1;
            continue;
        }
        if line.starts_with('#') {
            let mut comment = Vec::new();
            while i < lines.len() && lines[i].starts_with('#') {
                comment.push(lines[i].to_string());
                i += 1;
            }
            records.push(Record::Comment(comment));
            continue;
        }
        let mut words = line.split_whitespace();
        let keyword = words.next().unwrap_or_default();
        let rest: Vec<String> = words.map(str::to_string).collect();
        i += 1;
        match keyword {
            "file" | "seed" => {
                let name = rest
                    .first()
                    .unwrap_or_else(|| panic!("{}:{i}: '{keyword}' needs a path", file.display()));
                let path = if keyword == "seed" {
                    format!("seeds/{name}.csv")
                } else {
                    name.clone()
                };
                let body = block(&mut i);
                records.push(Record::File { path, body });
            }
            "build" => {
                let separator = block(&mut i);
                assert_eq!(
                    separator.first().map(String::as_str),
                    Some("----"),
                    "{}:{i}: 'build' is followed by '----' and the expected results",
                    file.display()
                );
                records.push(Record::Build {
                    args: rest,
                    expected: separator[1..].to_vec(),
                });
            }
            "query" => {
                let all = block(&mut i);
                let split = all.iter().position(|l| l == "----").unwrap_or_else(|| {
                    panic!(
                        "{}:{i}: a query needs '----' before its result",
                        file.display()
                    )
                });
                records.push(Record::Query {
                    sql: all[..split].to_vec(),
                    expected: all[split + 1..].to_vec(),
                });
            }
            other => panic!("{}:{i}: unknown record '{other}'", file.display()),
        }
    }
    records
}

fn render(records: &[Record]) -> String {
    let mut out = String::new();
    for (n, record) in records.iter().enumerate() {
        if n > 0 {
            out.push('\n');
        }
        match record {
            Record::Comment(lines) => {
                for l in lines {
                    writeln!(out, "{l}").ok();
                }
            }
            Record::File { path, body } => {
                match path
                    .strip_prefix("seeds/")
                    .and_then(|p| p.strip_suffix(".csv"))
                {
                    Some(seed) => writeln!(out, "seed {seed}").ok(),
                    None => writeln!(out, "file {path}").ok(),
                };
                for l in body {
                    writeln!(out, "{l}").ok();
                }
            }
            Record::Build { args, expected } => {
                writeln!(
                    out,
                    "{}",
                    ["build".to_string()]
                        .iter()
                        .chain(args)
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(" ")
                )
                .ok();
                writeln!(out, "----").ok();
                for l in expected {
                    writeln!(out, "{l}").ok();
                }
            }
            Record::Query { sql, expected } => {
                writeln!(out, "query").ok();
                for l in sql {
                    writeln!(out, "{l}").ok();
                }
                writeln!(out, "----").ok();
                for l in expected {
                    writeln!(out, "{l}").ok();
                }
            }
        }
    }
    out
}

fn request(args: &[String], file: &Path) -> Request {
    let mut request = Request::new(Command::Build);
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = || {
            args.next()
                .cloned()
                .unwrap_or_else(|| panic!("{}: {arg} needs a value", file.display()))
        };
        match arg.as_str() {
            "--full-refresh" => request.full_refresh = true,
            "-s" | "--select" => request.select.push(value()),
            "--exclude" => request.exclude.push(value()),
            "--event-time-start" => request.event_time_start = Some(value()),
            "--event-time-end" => request.event_time_end = Some(value()),
            "--command" => {
                request.command = match value().as_str() {
                    "run" => Command::Run,
                    "test" => Command::Test,
                    "seed" => Command::Seed,
                    "snapshot" => Command::Snapshot,
                    _ => Command::Build,
                }
            }
            other => panic!("{}: unknown build argument {other}", file.display()),
        }
    }
    request
}

/// One line per node, seeds first, then models, snapshots and tests, each by name: stable
/// across runs whatever order the threads finished in.
fn describe(results: &[NodeResult], project: &Project, root: &Path) -> Vec<String> {
    let mut lines: Vec<((Option<ResourceType>, String), String)> = results
        .iter()
        .map(|r| {
            let node = project.nodes.get(&r.unique_id);
            let name = node
                .map(|n| format!("{} {}", n.resource_type.as_str(), n.name))
                .unwrap_or_else(|| r.unique_id.clone());
            let order = (node.map(|n| n.resource_type), name.clone());
            let mut line = format!("{} {name}", r.status.as_str());
            if let Some(rows) = r.rows {
                write!(line, " rows={rows}").ok();
            }
            if let Some(failures) = r.failures {
                write!(line, " failures={failures}").ok();
            }
            for e in &r.expectations {
                write!(line, " {}:{}", e.name, e.violations).ok();
            }
            if matches!(r.status, Status::Error | Status::Fail) {
                write!(
                    line,
                    ": {}",
                    scrub(r.message.as_deref().unwrap_or_default(), root)
                )
                .ok();
            }
            (order, line)
        })
        .collect();
    lines.sort();
    lines.into_iter().map(|(_, l)| l).collect()
}

/// An error message without what changes from run to run: the temporary project folder, and
/// which Delta data file and row an error was found in. The compiled-SQL line is left out (its
/// path is the node's).
fn scrub(message: &str, root: &Path) -> String {
    let data_file = regex::Regex::new(r"\(file: [^)]*\)").expect("regex");
    let root = root.to_string_lossy();
    message
        .lines()
        .filter(|l| !l.trim_start().starts_with("compiled SQL:"))
        .map(|l| {
            data_file
                .replace_all(&l.replace(root.as_ref(), "<project>"), "(file: …)")
                .into_owned()
        })
        .collect::<Vec<_>>()
        .join(" / ")
}

async fn run_file(path: &Path) -> (String, String) {
    let text = std::fs::read_to_string(path).expect("read golden file");
    let mut records = parse(&text, path);
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    let has_project_file = records
        .iter()
        .any(|r| matches!(r, Record::File { path, .. } if path == "dbt_project.yml"));
    if !has_project_file {
        std::fs::write(root.join("dbt_project.yml"), "name: golden\n").expect("write");
    }
    for record in &mut records {
        match record {
            Record::Comment(_) => {}
            Record::File { path, body } => {
                let file = root.join(path.as_str());
                std::fs::create_dir_all(file.parent().expect("parent")).expect("mkdir");
                std::fs::write(&file, body.join("\n") + "\n").expect("write");
            }
            Record::Build { args, expected } => {
                let project = match Project::load(root, &LoadOptions::default()) {
                    Ok(p) => Arc::new(p),
                    Err(e) => {
                        *expected = vec![format!("load error: {e}")];
                        continue;
                    }
                };
                let request = request(args, path);
                *expected = match invocation::build(project.clone(), &request).await {
                    Ok(outcome) => describe(&outcome.results, &project, root),
                    Err(e) => vec![format!("error: {}", orderlake_engine::report(&e))],
                };
            }
            Record::Query { sql, expected } => {
                let project = Project::load(root, &LoadOptions::default()).expect("load");
                let warehouse = invocation::open_warehouse(&project).await.expect("open");
                let result = match warehouse.sql(&sql.join("\n")).await {
                    Ok(df) => match df.collect().await {
                        Ok(batches) => format_batches(&batches, Format::Table).expect("format"),
                        Err(e) => format!("query error: {e}"),
                    },
                    Err(e) => format!("query error: {}", orderlake_engine::report(&e)),
                };
                *expected = result
                    .lines()
                    .map(str::to_string)
                    .filter(|l| !l.trim().is_empty())
                    .collect();
            }
        }
    }
    (text, render(&records))
}

fn golden_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/golden")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "test"))
        .collect();
    files.sort();
    files
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn golden_files_hold() {
    let bless = std::env::var_os("ORDERLAKE_BLESS").is_some();
    let files = golden_files();
    assert!(files.len() >= 4, "expected golden files in tests/golden");
    let mut failures = Vec::new();
    for file in &files {
        let (expected, actual) = run_file(file).await;
        if expected == actual {
            continue;
        }
        if bless {
            std::fs::write(file, &actual).expect("bless");
            eprintln!("blessed {}", file.display());
        } else {
            failures.push(format!(
                "{}:\n--- expected\n{expected}\n+++ actual\n{actual}",
                file.display()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} golden file(s) differ (ORDERLAKE_BLESS=1 to accept):\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}
