use thiserror::Error;

/// Why an operation was refused. Every refusal names the field and the rule; nothing was written.
#[derive(Debug, Error)]
pub enum DeskError {
    /// Input that breaks a rule, e.g. `quantity: must be greater than 0`.
    #[error("{field}: {rule}")]
    Invalid { field: String, rule: String },
    #[error("{what} {id} does not exist")]
    NotFound { what: &'static str, id: i64 },
    #[error("role '{role}' may not {operation}")]
    Forbidden {
        role: String,
        operation: &'static str,
    },
    /// No token, or one the desk does not know (or has revoked).
    #[error("a valid API token is required")]
    Unauthorized,
    #[error("database: {0}")]
    Database(#[from] crate::store::DbError),
}

impl DeskError {
    pub fn invalid(field: &str, rule: impl Into<String>) -> Self {
        DeskError::Invalid {
            field: field.to_string(),
            rule: rule.into(),
        }
    }
}

pub type Result<T, E = DeskError> = std::result::Result<T, E>;

impl From<rusqlite::Error> for DeskError {
    fn from(e: rusqlite::Error) -> Self {
        DeskError::Database(e.into())
    }
}

impl From<postgres::Error> for DeskError {
    fn from(e: postgres::Error) -> Self {
        DeskError::Database(e.into())
    }
}
