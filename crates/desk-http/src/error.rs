use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use orderlake_desk::DeskError;
use serde::Serialize;
use utoipa::ToSchema;

/// The JSON body of every refusal: what kind, which field, which rule. Nothing was written.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorBody {
    /// `invalid`, `unauthorized`, `forbidden`, `not_found` or `internal`.
    pub error: &'static str,
    /// The request field at fault (`lines[0].quantity`, `customer_id`, …), when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// The rule it breaks, in words.
    pub message: String,
}

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub body: ErrorBody,
}

impl ApiError {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            body: ErrorBody {
                error: "invalid",
                field: Some(field.into()),
                message: message.into(),
            },
        }
    }

    pub fn internal(message: impl std::fmt::Display) -> Self {
        ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            body: ErrorBody {
                error: "internal",
                field: None,
                message: message.to_string(),
            },
        }
    }

    /// A body, query or path that does not deserialize. axum reports the failing path first
    /// (`lines[0].quantity: invalid type …`, `missing field \`customer_id\``); split it into
    /// field and rule so the caller sees which field to fix.
    pub fn from_rejection(where_: &str, text: &str) -> Self {
        let detail = text
            .split_once(": ")
            .map(|(_, rest)| rest)
            .unwrap_or(text)
            .trim();
        let (path, rule) = match detail.split_once(": ") {
            Some((p, r)) if !p.contains(' ') => (p.trim_start_matches('.'), r),
            _ => ("", detail),
        };
        let missing = rule
            .strip_prefix("missing field `")
            .and_then(|r| r.split('`').next());
        let field = match (path, missing) {
            ("", Some(m)) => m.to_string(),
            (p, Some(m)) => format!("{p}.{m}"),
            ("", None) => where_.to_string(),
            (p, None) => p.to_string(),
        };
        ApiError::invalid(field, rule.to_string())
    }
}

impl From<DeskError> for ApiError {
    fn from(e: DeskError) -> Self {
        let message = e.to_string();
        let (status, error, field) = match e {
            DeskError::Invalid { field, rule } => {
                return ApiError::invalid(field, rule);
            }
            DeskError::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized", None),
            DeskError::Forbidden { .. } => (StatusCode::FORBIDDEN, "forbidden", None),
            DeskError::NotFound { .. } => (StatusCode::NOT_FOUND, "not_found", None),
            DeskError::Database(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal", None),
        };
        ApiError {
            status,
            body: ErrorBody {
                error,
                field,
                message,
            },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::error!(message = %self.body.message, "desk request failed");
        }
        let mut response = (self.status, Json(self.body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}
