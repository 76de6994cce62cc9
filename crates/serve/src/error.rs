//! What can go wrong while serving.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("warehouse {0}: {1}")]
    Warehouse(orderlake_project::StorageLocation, String),
    #[error("{0}")]
    DataFusion(#[from] datafusion::error::DataFusionError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Invalid(String),
}

pub type Result<T, E = ServeError> = std::result::Result<T, E>;

impl ServeError {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        ServeError::Io {
            path: path.into(),
            source,
        }
    }
}
