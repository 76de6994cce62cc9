//! Engine errors: what failed, on which relation, with the engine's own message.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("{0}")]
    Project(#[from] orderlake_project::ProjectError),

    #[error("{0}")]
    DataFusion(#[from] datafusion::error::DataFusionError),

    #[error("Delta Lake: {0}")]
    Delta(#[from] deltalake::DeltaTableError),

    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("{0}")]
    Invalid(String),
}

impl EngineError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        EngineError::Io {
            path: path.into(),
            source,
        }
    }
}

pub type Result<T, E = EngineError> = std::result::Result<T, E>;
