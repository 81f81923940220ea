//! What the calls check first and share: the app, the SMTP server, the users table, the
//! signed-in user; the refusals only serve gives. The requests' checks and the refusals both
//! servers give are `offbase_base44::accounts`', answered here as serve's errors.

use crate::caller::{self, Credentials};
use crate::error::ApiError;
use crate::mail::Mailer;
use crate::routes::AppState;
use axum::http::{HeaderMap, StatusCode};
use offbase_base44::accounts::Refusal;

/// A shared refusal, answered as serve's errors are.
impl From<Refusal> for ApiError {
    fn from(refusal: Refusal) -> Self {
        let status =
            StatusCode::from_u16(refusal.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        ApiError::new(status, refusal.message)
    }
}

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

/// Several rows of the users table have `email`.
pub(super) fn ambiguous(email: &str) -> ApiError {
    Refusal::ambiguous(email, "merge them in the users table first").into()
}

pub(super) fn internal(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, message)
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
        Credentials::Service => Err(Refusal::service_key_is_no_user(what).into()),
        Credentials::Nothing => Err(Refusal::no_user_token(what).into()),
        Credentials::Invalid => Err(Refusal::unknown_credentials().into()),
    }
}
