//! Errors: [`EmulatorError`] for starting an emulator (bad config, unreadable app, port in
//! use), and the JSON error answers of the HTTP API (`{"error": "..."}`), which never carry the
//! API key. Depends on no other module of the crate (a store refusal becomes an answer in
//! `store`, next to the status it maps to).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use offbase_base44::SchemaError;
use serde_json::{Map, Value};

/// Why an emulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    #[error("invalid emulator configuration: {0}")]
    InvalidConfig(String),
    #[error("cannot read the app's entity schemas: {0}")]
    Schema(#[from] SchemaError),
    #[error("{path}: cannot read the records: {source}")]
    DataRead {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}:{line}: {message} (fix the line or remove it)")]
    DataFile {
        path: String,
        line: usize,
        message: String,
    },
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
    /// Whole seconds for a `retry-after` header (429 answers).
    pub(crate) retry_after: Option<u64>,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
            retry_after: None,
        }
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }

    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, message)
    }

    pub(crate) fn too_many_requests(retry_after: u64, message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::TOO_MANY_REQUESTS,
            message: message.into(),
            retry_after: Some(retry_after),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = Map::new();
        // `message` is what the SDK shows (`Base44Error.message`); `error` what older
        // clients, offbase's own included, read.
        body.insert("error".to_owned(), Value::String(self.message.clone()));
        body.insert("message".to_owned(), Value::String(self.message));
        let mut response = json_response(self.status, &Value::Object(body));
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
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
