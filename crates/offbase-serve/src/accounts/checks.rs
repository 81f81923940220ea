//! What the calls check first and share: the app, the SMTP server, the users table, the
//! signed-in user; the request body's fields; the refusals several calls give.

use super::codes::CODES_PER_HOUR;
use crate::caller::{self, Credentials};
use crate::error::ApiError;
use crate::mail::{Mailer, is_address};
use crate::routes::AppState;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use serde_json::{Map, Value};

pub(super) fn check_app(state: &AppState, app_id: &str) -> Result<(), ApiError> {
    if app_id == state.app_id {
        Ok(())
    } else {
        Err(ApiError::not_found(format!("app `{app_id}` not found")))
    }
}

pub(super) fn mailer<'s>(state: &'s AppState, what: &str) -> Result<&'s Mailer, ApiError> {
    state.accounts.mailer.as_ref().ok_or_else(|| {
        ApiError::not_served(format!(
            "{what} sends a mail, and this server has no SMTP server to send it through: start \
             `offbase serve` with --smtp-url (or OFFBASE_SERVE_SMTP_URL) and --mail-from"
        ))
    })
}

pub(super) fn users_ready(state: &AppState) -> Result<(), ApiError> {
    if state.accounts.users_table {
        Ok(())
    } else {
        Err(ApiError::not_served(format!(
            "accounts need the users table of `offbase users export --format postgres` in \
             schema {}: apply its users.sql, then restart `offbase serve`",
            state.pg_schema
        )))
    }
}

pub(super) fn disabled() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "this user is disabled: a disabled user cannot sign in",
    )
}

pub(super) fn ambiguous(email: &str) -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        format!(
            "more than one user has the email {email} (ignoring case): merge them in the users \
             table first"
        ),
    )
}

pub(super) fn too_many(email: &str) -> ApiError {
    ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        format!(
            "{CODES_PER_HOUR} mails of this kind were sent to {email} in the last hour: try again \
             later"
        ),
    )
}

pub(super) fn internal(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, message)
}

pub(super) fn read_body(body: &Bytes) -> Result<Map<String, Value>, ApiError> {
    match serde_json::from_slice(body) {
        Ok(Value::Object(fields)) => Ok(fields),
        Ok(other) => Err(ApiError::bad_request(format!(
            "the request body must be a JSON object, found {}",
            offbase_model::json_kind(&other)
        ))),
        Err(error) => Err(ApiError::bad_request(format!(
            "the request body is not valid JSON: {error}"
        ))),
    }
}

/// A text field of the body (`""` when missing or not text).
pub(super) fn text<'a>(body: &'a Map<String, Value>, name: &str) -> &'a str {
    body.get(name).and_then(Value::as_str).unwrap_or_default()
}

/// The mail address in field `name`: 400 saying `usage` when missing, or naming it when it is
/// no address.
pub(super) fn address(
    body: &Map<String, Value>,
    name: &str,
    usage: &str,
) -> Result<String, ApiError> {
    let email = text(body, name).trim();
    if email.is_empty() {
        return Err(ApiError::bad_request(usage));
    }
    if !is_address(email) {
        return Err(ApiError::bad_request(format!(
            "`{name}` is not a mail address"
        )));
    }
    Ok(email.to_owned())
}

/// The signed-in user's id from a bearer token: 401 without one, 403 for the service key.
pub(super) fn token_user(
    state: &AppState,
    headers: &HeaderMap,
    what: &str,
) -> Result<String, ApiError> {
    match state.credentials(headers) {
        Credentials::Token(token) => state
            .auth
            .secret
            .verify(&state.app_id, &token)
            .map_err(caller::unauthorized),
        Credentials::Service => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            format!("{what} takes the signed-in user's own token: the service key is no user"),
        )),
        Credentials::Nothing => Err(caller::unauthorized(format!(
            "{what} takes the signed-in user's token (Authorization: Bearer <token>)"
        ))),
        Credentials::Invalid => Err(caller::unauthorized(
            "the credentials sent are neither this app's service key nor a bearer token",
        )),
    }
}
