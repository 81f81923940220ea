//! Signing in: `POST /api/apps/{app_id}/auth/login` with `{email, password}` answers
//! `{access_token, user}` as the platform does. Passwords are checked against the bcrypt hashes
//! of the users table `offbase users export --format postgres` writes (`<pg-schema>.users`:
//! the hashes an app kept in its User entity); the token is a JWT of [`crate::token`]. Also the
//! app template's bootstrap call (`public-settings`).

use crate::accounts::password_matches;
use crate::caller;
use crate::error::ApiError;
use crate::routes::{AppState, SharedState, connection, respond};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use offbase_base44::api::sign_in_body;
use offbase_pg::serve::Access;
use offbase_pipeline::users::formats::postgres::TABLE as USERS_TABLE;
use serde_json::{Value, json};

fn invalid() -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "invalid email or password")
}

/// `POST .../auth/login`.
pub(crate) async fn login(
    State(state): State<SharedState>,
    Path(app_id): Path<String>,
    body: Bytes,
) -> Response {
    respond(sign_in(&state, &app_id, &body).await)
}

async fn sign_in(state: &AppState, app_id: &str, body: &Bytes) -> Result<Value, ApiError> {
    if app_id != state.app_id {
        return Err(ApiError::not_found(format!("app `{app_id}` not found")));
    }
    let (email, password) = sign_in_body(body).map_err(ApiError::bad_request)?;
    let mut connection = connection(state).await?;
    // Read-write: the account calls lock the users' rows, and so does this read.
    let mut transaction = offbase_pg::serve::begin(
        &mut connection,
        Access::ReadWrite,
        Some(offbase_pg::serve::OWN_ROLE),
    )
    .await
    .map_err(caller::database)?;
    // The users table is the server's own (no policies, no grants to the rules' roles): read
    // in the server's role; the User record then as the service role.
    let found = offbase_pg::serve::accounts_by_email(
        &mut transaction,
        &state.pg_schema,
        USERS_TABLE,
        &email,
    )
    .await
    .map_err(|error| {
        ApiError::not_served(format!(
            "signing in with a password needs the users table of `offbase users export \
             --format postgres` in schema {}: {error}",
            state.pg_schema
        ))
    })?;
    // Two users with one email (ignoring case) sign in as neither.
    let [account] = found.as_slice() else {
        return Err(invalid());
    };
    let (id, disabled) = (account.id.clone(), account.disabled);
    let Some(hash) = account.password_hash.clone() else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "this user has no password on this server yet (the platform exported none): sign \
             in with the one-time login token the users export issued, or reset the password",
        ));
    };
    let matches = password_matches(password, hash).await?;
    if !matches {
        return Err(invalid());
    }
    if disabled {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "this user is disabled: a disabled user cannot sign in",
        ));
    }
    let user = caller::read_user(state, &mut transaction, &id)
        .await?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "this user is in the users table but not in the loaded User entity: load the \
                 User entity, or export the users again",
            )
        })?;
    let token = state.auth.secret.issue(&state.app_id, &id);
    Ok(json!({
        "access_token": token,
        "token_type": "Bearer",
        "user": Value::Object(user.record),
    }))
}

/// `GET /api/apps/public/prod/public-settings/by-id/{app_id}`: the app template's first call.
/// Every app served here is public (sign-in is the app's own choice per page).
pub(crate) async fn public_settings(
    State(state): State<SharedState>,
    Path(app_id): Path<String>,
) -> Response {
    respond(if app_id == state.app_id {
        Ok(json!({"id": state.app_id, "public_settings": {"auth_required": false}}))
    } else {
        Err(ApiError::not_found(format!("app `{app_id}` not found")))
    })
}
