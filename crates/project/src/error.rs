//! Errors raised while loading, rendering or planning a project.
//!
//! Every variant names the file (and line, where one is known) so a user can jump straight to
//! the problem.

use std::path::PathBuf;

/// Anything that can go wrong before a query reaches the engine.
#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("{}:{line}:{column}: invalid YAML: {message}", path.display())]
    Yaml {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },

    #[error("{}:{line}: {message}", path.display())]
    Template {
        path: PathBuf,
        line: usize,
        message: String,
    },

    #[error("{}:{line}: ref('{name}') does not name a model, seed or snapshot{}", path.display(), closest_hint(.closest))]
    MissingRef {
        path: PathBuf,
        line: usize,
        name: String,
        closest: Option<String>,
    },

    #[error("{}:{line}: source('{source_name}', '{table}') is not defined in any properties file{}", path.display(), closest_hint(.closest))]
    MissingSource {
        path: PathBuf,
        line: usize,
        source_name: String,
        table: String,
        closest: Option<String>,
    },

    #[error("{}:{line}: var('{name}') is not set: define it under `vars:` in dbt_project.yml, pass --vars, or give a default", path.display())]
    MissingVar {
        path: PathBuf,
        line: usize,
        name: String,
    },

    #[error("two {kind}s are named '{name}': {} and {}", first.display(), second.display())]
    Duplicate {
        kind: &'static str,
        name: String,
        first: PathBuf,
        second: PathBuf,
    },

    #[error("dependency cycle: {}", .0.join(" -> "))]
    Cycle(Vec<String>),

    #[error("{}: {message}", path.display())]
    Invalid { path: PathBuf, message: String },

    /// A configuration value that is not allowed, where it was written.
    #[error("{}{}: {kind} '{node}': {message}", path.display(), line_suffix(*.line))]
    Config {
        path: PathBuf,
        /// 1-based; 0 when the line could not be found.
        line: usize,
        kind: &'static str,
        node: String,
        message: String,
    },

    #[error("invalid selector '{selector}': {message}")]
    Selector { selector: String, message: String },
}

fn line_suffix(line: usize) -> String {
    if line == 0 {
        String::new()
    } else {
        format!(":{line}")
    }
}

fn closest_hint(closest: &Option<String>) -> String {
    match closest {
        Some(name) => format!(" (did you mean '{name}'?)"),
        None => String::new(),
    }
}

impl ProjectError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        ProjectError::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn yaml(path: impl Into<PathBuf>, err: &serde_yaml::Error) -> Self {
        let (line, column) = err
            .location()
            .map(|l| (l.line(), l.column()))
            .unwrap_or((0, 0));
        ProjectError::Yaml {
            path: path.into(),
            line,
            column,
            message: err.to_string(),
        }
    }

    pub(crate) fn invalid(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        ProjectError::Invalid {
            path: path.into(),
            message: message.into(),
        }
    }
}

/// The name in `candidates` closest to `name`, if any is close enough to be a likely typo.
pub fn closest_name<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    candidates
        .into_iter()
        .map(|c| (strsim::normalized_damerau_levenshtein(name, c), c))
        .filter(|(score, _)| *score >= 0.5)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c.to_string())
}

pub type Result<T, E = ProjectError> = std::result::Result<T, E>;
