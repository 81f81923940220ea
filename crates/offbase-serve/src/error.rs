//! Errors: [`ServeError`] for starting a server (bad configuration, an unreadable workspace, a
//! database that does not answer, a port in use), and the JSON error answers of the HTTP API,
//! in the platform's (and the emulator's) shape `{"error": "..."}`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};

/// Why a server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("invalid serve configuration: {0}")]
    InvalidConfig(String),
    #[error(transparent)]
    Pipeline(#[from] offbase_pipeline::PipelineError),
    #[error(transparent)]
    Database(#[from] offbase_pg::PgError),
    #[error(
        "cannot listen on {address}: {source} (is another process using the port? bind port 0 \
         for a free one)"
    )]
    Bind {
        address: std::net::SocketAddr,
        source: std::io::Error,
    },
}

/// An error answer of the HTTP API: a status and `{"error": message}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiError {
    pub(crate) status: StatusCode,
    pub(crate) message: String,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
        }
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }

    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, message)
    }

    /// What this slice of `offbase serve` does not answer yet.
    pub(crate) fn not_served(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::NOT_IMPLEMENTED, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = Map::new();
        // `message` is what the SDK shows (`Base44Error.message`); `error` what older
        // clients, offbase's own included, read.
        body.insert("error".to_owned(), Value::String(self.message.clone()));
        body.insert("message".to_owned(), Value::String(self.message));
        json_response(self.status, &Value::Object(body))
    }
}

/// A JSON answer.
pub(crate) fn json_response(status: StatusCode, body: &Value) -> Response {
    // Serialising a `Value` cannot fail (its keys are strings).
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        bytes,
    )
        .into_response()
}
