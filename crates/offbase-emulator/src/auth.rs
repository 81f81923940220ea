//! Signing in for tests: `POST /api/apps/{app_id}/auth/test-token` with the app's API key and
//! `{"email": ...}` (or `{"id": ...}`) answers `{"access_token", "token_type", "user"}` for that
//! record of the app's `User` data, the shape of the platform's `auth/login`. The token then
//! goes in `Authorization: Bearer <token>` (see `session` for the scheme). No rate limit and
//! no injected faults.
//!
//! `POST /api/apps/{app_id}/auth/login` with `{email, password}` answers the same shape for a
//! user whose `User` record keeps a bcrypt `password_hash` (as the apps that keep their own
//! credentials do): the platform exports no passwords, so this field stands in for its
//! password store, and it is the hash `offbase users export` carries to the new sign-in, so a
//! migrated app signs the same people in on both. A password the account calls set
//! (`accounts`: verify-otp, reset, change) is kept in memory beside the record (`ledger` says
//! why) and is checked instead of the field. Any other user, a wrong password or an unknown
//! email is 401 `invalid email or password`; a disabled user 403.

use crate::error::{ApiError, json_response};
use crate::routes::unauthorized;
use crate::session::{Credentials, credentials};
use crate::state::{SharedState, tagged};
use crate::stats::Route;
use crate::store::StoreError;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use offbase_base44::api::sign_in_body;
use serde_json::{Map, Value};

/// `POST /api/apps/{app_id}/auth/test-token`.
pub(crate) async fn test_token(
    State(state): State<SharedState>,
    Path(app_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let response = match issue(&state, &app_id, &headers, &body) {
        Ok(answer) => json_response(StatusCode::OK, &answer),
        Err(error) => error.into_response(),
    };
    tagged(response, Route::UserToken)
}

fn issue(
    state: &SharedState,
    app_id: &str,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Value, ApiError> {
    if credentials(headers, &state.sessions) != Credentials::Key {
        return Err(unauthorized(
            "issuing a user token needs the app's API key, and none was sent",
        ));
    }
    if app_id != state.app_id {
        return Err(ApiError::not_found(format!("app `{app_id}` not found")));
    }
    let request: Value = serde_json::from_slice(body).map_err(|error| {
        ApiError::bad_request(format!("the request body is not valid JSON: {error}"))
    })?;
    let text = |name: &str| {
        request
            .get(name)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|text| !text.is_empty())
    };
    state.store.read(|store| {
        let user = match (text("email"), text("id")) {
            (Some(email), _) => match store.users_with_email(email).as_slice() {
                [one] => (*one).clone(),
                [] => {
                    return Err(ApiError::not_found(format!(
                        "no user of this app has the email `{email}`: add one to \
                         data/User.jsonl or create it with the API key"
                    )));
                }
                _ => {
                    return Err(ApiError::new(
                        StatusCode::CONFLICT,
                        format!("several users have the email `{email}`: ask by `id` instead"),
                    ));
                }
            },
            (None, Some(id)) => store.user_record(id).ok_or_else(|| {
                ApiError::from(StoreError::NotFound {
                    entity: "User".to_owned(),
                    id: id.to_owned(),
                })
            })?,
            (None, None) => {
                return Err(ApiError::bad_request(
                    "give the user to sign in as `{\"email\": ...}` or `{\"id\": ...}`",
                ));
            }
        };
        if user.get("disabled") == Some(&Value::Bool(true)) {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "this user is disabled: a disabled user cannot sign in",
            ));
        }
        let Some(id) = user.get("id").and_then(Value::as_str) else {
            return Err(ApiError::bad_request("this user record has no string `id`"));
        };
        let mut answer = Map::new();
        answer.insert(
            "access_token".to_owned(),
            Value::String(state.sessions.token(id)),
        );
        answer.insert("token_type".to_owned(), Value::String("Bearer".to_owned()));
        answer.insert("user".to_owned(), Value::Object(user.clone()));
        Ok(Value::Object(answer))
    })
}

/// `POST /api/apps/{app_id}/auth/login`.
pub(crate) async fn login(
    State(state): State<SharedState>,
    Path(app_id): Path<String>,
    body: Bytes,
) -> Response {
    let response = match sign_in(&state, &app_id, &body).await {
        Ok(answer) => json_response(StatusCode::OK, &answer),
        Err(error) => error.into_response(),
    };
    tagged(response, Route::Login)
}

async fn sign_in(state: &SharedState, app_id: &str, body: &Bytes) -> Result<Value, ApiError> {
    if app_id != state.app_id {
        return Err(ApiError::not_found(format!("app `{app_id}` not found")));
    }
    let (email, password) = sign_in_body(body).map_err(ApiError::bad_request)?;
    let invalid = || ApiError::new(StatusCode::UNAUTHORIZED, "invalid email or password");
    let user = state
        .store
        .read(|store| match store.users_with_email(&email).as_slice() {
            [one] => Some((*one).clone()),
            _ => None,
        });
    let Some(user) = user else {
        return Err(invalid());
    };
    let set_by_accounts = user
        .get("id")
        .and_then(Value::as_str)
        .and_then(|id| state.accounts.password_hash(id));
    let Some(hash) = set_by_accounts.or_else(|| {
        user.get("password_hash")
            .and_then(Value::as_str)
            .map(str::to_owned)
    }) else {
        return Err(invalid());
    };
    // bcrypt is slow on purpose: off the request threads.
    let matches = tokio::task::spawn_blocking(move || bcrypt::verify(password, &hash))
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or(false);
    if !matches {
        return Err(invalid());
    }
    if user.get("disabled") == Some(&Value::Bool(true)) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "this user is disabled: a disabled user cannot sign in",
        ));
    }
    let Some(id) = user.get("id").and_then(Value::as_str) else {
        return Err(ApiError::bad_request("this user record has no string `id`"));
    };
    let mut answer = Map::new();
    answer.insert(
        "access_token".to_owned(),
        Value::String(state.sessions.token(id)),
    );
    answer.insert("token_type".to_owned(), Value::String("Bearer".to_owned()));
    answer.insert("user".to_owned(), Value::Object(user.clone()));
    Ok(Value::Object(answer))
}
