//! Engine errors, by category, each keeping the error that caused it as its `source`.
//!
//! A message is built from the outside in: [`EngineError::Node`] says which model failed and
//! where its compiled SQL is, [`EngineError::Context`] says what was being done, and the source
//! says what DataFusion, Delta Lake or the file system answered. [`report`] prints the whole
//! chain once, for people.

use std::path::PathBuf;

use orderlake_project::ResourceType;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Project(#[from] orderlake_project::ProjectError),

    #[error(transparent)]
    DataFusion(#[from] datafusion::error::DataFusionError),

    #[error("Delta Lake: {0}")]
    Delta(#[from] deltalake::DeltaTableError),

    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A node's definition does not fit the data it reads or writes (a key that is not a
    /// column, a file format that is not supported, a setting the run needs and lacks).
    #[error("{0}")]
    Definition(String),

    /// A configuration names a column the data does not have.
    #[error("{role} '{column}' is not a column of the query (columns: {})", columns.join(", "))]
    UnknownColumn {
        role: &'static str,
        column: String,
        columns: Vec<String>,
    },

    /// An incremental model's columns changed and `on_schema_change: fail` refuses it.
    #[error(
        "the model's columns changed (new: [{}], removed: [{}]) and on_schema_change is 'fail'; run with --full-refresh or change on_schema_change",
        added.join(", "), removed.join(", ")
    )]
    SchemaChanged {
        added: Vec<String>,
        removed: Vec<String>,
    },

    /// A MERGE source holds several rows for one key, so Delta cannot tell which one wins.
    #[error(
        "{source}\n  hint: the model returns more than one row for some unique_key ({}), e.g. {example}; deduplicate it",
        keys.join(", ")
    )]
    DuplicateKeys {
        keys: Vec<String>,
        /// One duplicated key, as `column = value` pairs.
        example: String,
        #[source]
        source: Box<EngineError>,
    },

    /// Expectations with `on_violation: fail` were broken; nothing was written.
    #[error("expectation failed on {node}: {}; nothing was written", failed.join(", "))]
    ExpectationFailed { node: String, failed: Vec<String> },

    /// A value passed in by the caller (a command-line flag, an API argument) is not usable.
    #[error("{what}: {message}")]
    Argument { what: String, message: String },

    /// The warehouse's storage answered with an error: a wrong key, a missing bucket, an
    /// unreachable endpoint, a file that cannot be read.
    #[error(
        "{location}{}: {source}",
        endpoint.as_ref().map(|e| format!(" (endpoint {e})")).unwrap_or_default()
    )]
    Storage {
        location: String,
        endpoint: Option<String>,
        #[source]
        source: Box<object_store::Error>,
    },

    /// The warehouse is not in the state an operation needs.
    #[error("{0}")]
    Warehouse(String),

    /// A node failed: which one, and where its compiled SQL is.
    #[error(
        "{} '{name}' ({}): {source}{}",
        kind.as_str(),
        path.display(),
        compiled.as_ref().map(|p| format!("\n  compiled SQL: {}", p.display())).unwrap_or_default()
    )]
    Node {
        kind: ResourceType,
        name: String,
        path: PathBuf,
        compiled: Option<PathBuf>,
        #[source]
        source: Box<EngineError>,
    },

    /// What was being done when `source` happened.
    #[error("{context}: {source}")]
    Context {
        context: String,
        #[source]
        source: Box<EngineError>,
    },
}

impl EngineError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        EngineError::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn definition(message: impl Into<String>) -> Self {
        EngineError::Definition(message.into())
    }

    pub(crate) fn argument(what: impl Into<String>, message: impl Into<String>) -> Self {
        EngineError::Argument {
            what: what.into(),
            message: message.into(),
        }
    }

    /// The innermost engine error, past every `Node` and `Context` wrapper.
    pub fn root(&self) -> &EngineError {
        match self {
            EngineError::Node { source, .. } | EngineError::Context { source, .. } => source.root(),
            other => other,
        }
    }
}

impl From<datafusion::arrow::error::ArrowError> for EngineError {
    fn from(e: datafusion::arrow::error::ArrowError) -> Self {
        EngineError::DataFusion(e.into())
    }
}

/// Adds what was being done to an error, keeping it as the source.
pub trait ResultExt<T> {
    fn context(self, context: impl FnOnce() -> String) -> Result<T>;
}

impl<T, E: Into<EngineError>> ResultExt<T> for std::result::Result<T, E> {
    fn context(self, context: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| EngineError::Context {
            context: context(),
            source: Box::new(e.into()),
        })
    }
}

/// The whole chain of an error for people: each cause once, outermost first. A cause whose
/// text its parent already printed is not repeated.
pub fn report(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = cause.source();
    }
    out
}

pub type Result<T, E = EngineError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_keeps_the_source_and_the_report_says_it_once() {
        let err: Result<()> = Err(EngineError::argument("--event-time-start", "not a date"));
        let err = err.context(|| "planning batches".into()).unwrap_err();
        assert_eq!(
            report(&err),
            "planning batches: --event-time-start: not a date"
        );
        assert!(matches!(err.root(), EngineError::Argument { .. }));
        let source = std::error::Error::source(&err).expect("source kept");
        assert_eq!(source.to_string(), "--event-time-start: not a date");
    }
}
