//! Errors as problem details (RFC 9457): a JSON body with a type, a title,
//! the status, a detail a person can act on, and for bad input each
//! field's problem. What went wrong inside the service (a database error)
//! is logged in full and answered with a generic 500 that says nothing
//! about any child.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use cnis_app::service::{FieldError, ServiceError};
use serde::Serialize;

/// A problem document.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem (`about:blank` when the status says it all).
    #[serde(rename = "type")]
    pub kind: String,
    /// A short summary of the kind of problem.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// What happened and what to do, in words for a person.
    pub detail: String,
    /// Each field's problem, for bad input.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

/// An error a handler returns.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    detail: String,
    errors: Vec<FieldError>,
    retry_after: Option<u64>,
}

impl ApiError {
    /// An error with a status and words.
    pub fn new(status: StatusCode, detail: impl Into<String>) -> ApiError {
        ApiError { status, detail: detail.into(), errors: Vec::new(), retry_after: None }
    }

    /// The request body could not be read.
    pub fn bad_request(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, detail)
    }

    /// The status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The words.
    pub fn detail(&self) -> &str {
        &self.detail
    }

    /// Field problems.
    pub fn errors(&self) -> &[FieldError] {
        &self.errors
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> ApiError {
        let status = match &e {
            ServiceError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ServiceError::Unauthenticated | ServiceError::BadCredentials => StatusCode::UNAUTHORIZED,
            ServiceError::Locked { .. } => StatusCode::LOCKED,
            ServiceError::Forbidden(_) => StatusCode::FORBIDDEN,
            ServiceError::NotFound(_) => StatusCode::NOT_FOUND,
            ServiceError::Conflict(_) => StatusCode::CONFLICT,
            ServiceError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ServiceError::AuditUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            ServiceError::Store(_) | ServiceError::File { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let retry_after = match &e {
            ServiceError::RateLimited { retry_after } => Some(*retry_after),
            _ => None,
        };
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            // The full error goes to the log only; it may name a file or a
            // constraint, never shown to a caller.
            tracing::error!(error = %e, "request failed");
            return ApiError::new(
                status,
                "Something went wrong in the service. The error was logged; try again later.",
            );
        }
        let errors = match &e {
            ServiceError::Invalid(errors) => errors.clone(),
            _ => Vec::new(),
        };
        ApiError { status, detail: e.to_string(), errors, retry_after }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let title = self.status.canonical_reason().unwrap_or("Error").to_string();
        let problem = Problem {
            kind: "about:blank".into(),
            title,
            status: self.status.as_u16(),
            detail: self.detail,
            errors: self.errors,
        };
        let mut r = (self.status, Json(problem)).into_response();
        r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        if let Some(s) = self.retry_after
            && let Ok(v) = HeaderValue::from_str(&s.to_string())
        {
            r.headers_mut().insert(header::RETRY_AFTER, v);
        }
        r
    }
}
