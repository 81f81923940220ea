//! Signing in for tests: `POST /api/apps/{app_id}/auth/test-token` with the app's API key and
//! `{"email": ...}` (or `{"id": ...}`) answers `{"access_token", "token_type", "user"}` for that
//! record of the app's `User` data, the shape of the platform's `auth/login`. The token then
//! goes in `Authorization: Bearer <token>` (see `session` for the scheme). The emulator keeps
//! no passwords, so there is no `auth/login`. No rate limit and no injected faults.

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
            (None, Some(id)) => store.user_record(id).cloned().ok_or_else(|| {
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
