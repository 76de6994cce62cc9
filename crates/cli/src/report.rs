//! dbt-style progress lines, a progress bar on terminals, and the closing summary.

use std::collections::BTreeSet;
use std::io::IsTerminal;
use std::sync::Mutex;

use indicatif::{ProgressBar, ProgressStyle};
use orderlake_engine::{NodeResult, Reporter, RunOptions, Status};
use orderlake_project::{Node, Project};

pub struct Printer {
    bar: Option<ProgressBar>,
    name_width: usize,
    lock: Mutex<()>,
}

impl Printer {
    pub fn new(project: &Project, selection: &BTreeSet<String>, options: &RunOptions) -> Self {
        let nodes = orderlake_engine::run::runnable(project, selection, options);
        let name_width = nodes
            .iter()
            .map(|n| display_name(n).len())
            .max()
            .unwrap_or(20)
            .clamp(20, 60);
        let bar = std::io::stdout().is_terminal().then(|| {
            let bar = ProgressBar::new(nodes.len() as u64);
            if let Ok(style) =
                ProgressStyle::with_template("{bar:30.cyan/blue} {pos}/{len} {elapsed} {msg}")
            {
                bar.set_style(style);
            }
            bar
        });
        Printer {
            bar,
            name_width,
            lock: Mutex::new(()),
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }

    fn println(&self, line: String) {
        let _guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        match &self.bar {
            Some(bar) => bar.println(line),
            None => println!("{line}"),
        }
    }
}

fn display_name(node: &Node) -> String {
    match &node.relation {
        Some(r) if !r.ephemeral => format!("{}.{}", r.schema, r.identifier),
        _ => node.name.clone(),
    }
}

impl Reporter for Printer {
    fn started(&self, node: &Node) {
        if let Some(bar) = &self.bar {
            bar.set_message(node.name.clone());
        }
    }

    fn finished(&self, index: usize, total: usize, node: &Node, result: &NodeResult) {
        let detail = match (result.status, result.rows, result.failures) {
            (Status::Skipped, _, _) => String::new(),
            (Status::Error, _, _) => "error".to_string(),
            (_, _, Some(f)) => format!("{f} failing"),
            (_, Some(rows), _) => format!("{rows} rows"),
            _ => node.materialized().to_string(),
        };
        let width = total.to_string().len();
        let line = format!(
            "{index:>width$}/{total} {status:<5} {kind:<6} {name:<name_width$} {detail:>14} {secs:>7.2}s",
            status = result.status.as_str(),
            kind = node.resource_type.as_str(),
            name = display_name(node),
            name_width = self.name_width,
            secs = result.execution_time,
        );
        self.println(line);
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
    }
}

/// The closing lines: counts by status, then every error, failure and warning with its message.
pub fn summary(project: &Project, results: &[NodeResult], seconds: f64) {
    let count = |s: Status| results.iter().filter(|r| r.status == s).count();
    let ok = count(Status::Success) + count(Status::Pass);
    println!();
    println!(
        "Finished {} node{} in {seconds:.2}s: {ok} ok, {} warn, {} error, {} fail, {} skipped",
        results.len(),
        if results.len() == 1 { "" } else { "s" },
        count(Status::Warn),
        count(Status::Error),
        count(Status::Fail),
        count(Status::Skipped),
    );
    for r in results {
        if matches!(r.status, Status::Error | Status::Fail | Status::Warn) {
            let name = project
                .nodes
                .get(&r.unique_id)
                .map(|n| format!("{} {}", n.resource_type.as_str(), n.name))
                .unwrap_or_else(|| r.unique_id.clone());
            println!();
            println!("{} in {name}", r.status.as_str());
            if let Some(m) = &r.message {
                for line in m.lines() {
                    println!("  {line}");
                }
            }
        }
    }
}
