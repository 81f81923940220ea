//! Passwords: their bounds and their bcrypt hashes (made and checked off the request threads);
//! `auth/reset-password-request` (a reset token mailed, the same answer for every address),
//! `auth/reset-password` (the token spent, the password set) and `auth/change-password` (the
//! signed-in user's own, given the current one).

use super::checks::{
    address, check_app, disabled, internal, mailer, read_body, text, token_user, users_ready,
};
use super::codes::{CODES_PER_HOUR, RESET, RESET_LIFETIME, issue, new_token};
use super::mails::{reset_mail, send_later};
use super::store::{account_by_id, accounts_by_email, begin, commit, mark_verified, single};
use crate::caller;
use crate::error::ApiError;
use crate::routes::{AppState, connection};
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use offbase_pg::serve::NewCode;
use offbase_pipeline::users::formats::postgres::{TABLE as USERS_TABLE, token_digest};
use serde_json::{Value, json};

/// Passwords: at least this many characters, at most bcrypt's 72 bytes.
const MIN_PASSWORD_CHARS: usize = 8;
const MAX_PASSWORD_BYTES: usize = 72;
/// bcrypt's cost for new hashes.
const BCRYPT_COST: u32 = 11;

pub(super) async fn request_reset(
    state: &AppState,
    app_id: &str,
    body: &Bytes,
) -> Result<Value, ApiError> {
    check_app(state, app_id)?;
    let mailer = mailer(state, "resetting a password")?;
    users_ready(state)?;
    let body = read_body(body)?;
    let email = address(&body, "email", "a reset request takes `{\"email\": ...}`")?;
    let mut connection = connection(state).await?;
    let mut transaction = begin(&mut connection).await?;
    if let Some(account) = single(accounts_by_email(state, &mut transaction, &email).await?)
        && !account.disabled
    {
        let token = new_token();
        let digest = token_digest(&token);
        let issued = issue(
            state,
            &mut transaction,
            &NewCode {
                user_id: &account.id,
                purpose: RESET,
                code_sha256: &digest,
                pending_password_hash: None,
                lifetime_seconds: RESET_LIFETIME,
                max_per_hour: CODES_PER_HOUR,
            },
        )
        .await?;
        if issued {
            commit(transaction).await?;
            send_later(
                mailer.clone(),
                reset_mail(state, &email, &token),
                "password reset",
            );
        }
    }
    // The same answer for every address: it tells no one who has an account.
    Ok(json!({
        "success": true,
        "message": "if an account uses this email, a mail with a reset link was sent to it",
    }))
}

pub(super) async fn reset(state: &AppState, app_id: &str, body: &Bytes) -> Result<Value, ApiError> {
    check_app(state, app_id)?;
    users_ready(state)?;
    let body = read_body(body)?;
    let token = text(&body, "reset_token").trim();
    let password = text(&body, "new_password");
    if token.is_empty() {
        return Err(ApiError::bad_request(
            "resetting takes `{\"reset_token\": ..., \"new_password\": ...}`",
        ));
    }
    check_new_password(password)?;
    let hash = hash_password(password.to_owned()).await?;
    let refused = || {
        ApiError::bad_request(
            "the reset token is invalid, used or expired: ask for a new one with \
             auth/reset-password-request",
        )
    };
    let mut connection = connection(state).await?;
    let mut transaction = begin(&mut connection).await?;
    let Some(id) = offbase_pg::serve::use_token(
        &mut transaction,
        &state.pg_schema,
        RESET,
        &token_digest(token),
    )
    .await
    .map_err(caller::database)?
    else {
        return Err(refused());
    };
    let account = account_by_id(state, &mut transaction, &id)
        .await?
        .ok_or_else(refused)?;
    if account.disabled {
        return Err(disabled());
    }
    // The mailed token proves the address: the account is verified too.
    offbase_pg::serve::update_account(
        &mut transaction,
        &state.pg_schema,
        USERS_TABLE,
        &id,
        Some(&hash),
        true,
    )
    .await
    .map_err(caller::database)?;
    mark_verified(state, &mut transaction, &id).await?;
    commit(transaction).await?;
    Ok(json!({"success": true, "message": "the password was reset: sign in with the new one"}))
}

pub(super) async fn change(
    state: &AppState,
    app_id: &str,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Value, ApiError> {
    check_app(state, app_id)?;
    users_ready(state)?;
    let id = token_user(state, headers, "changing a password")?;
    let body = read_body(body)?;
    let named = text(&body, "user_id");
    if !named.is_empty() && named != id {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "a user changes only their own password: `user_id` is not the signed-in user",
        ));
    }
    let current = text(&body, "current_password");
    let password = text(&body, "new_password");
    if current.is_empty() {
        return Err(ApiError::bad_request(
            "changing a password takes `{\"user_id\": ..., \"current_password\": ..., \
             \"new_password\": ...}`",
        ));
    }
    check_new_password(password)?;
    let mut connection = connection(state).await?;
    let mut transaction = begin(&mut connection).await?;
    let account = account_by_id(state, &mut transaction, &id)
        .await?
        .ok_or_else(|| {
            ApiError::not_found(
                "the signed-in user is not in the users table: export the users again \
                 (offbase users export --format postgres)",
            )
        })?;
    if account.disabled {
        return Err(disabled());
    }
    let Some(hash) = account.password_hash else {
        return Err(ApiError::bad_request(
            "this user has no password yet: set one with a reset \
             (auth/reset-password-request)",
        ));
    };
    if !password_matches(current.to_owned(), hash).await? {
        return Err(ApiError::bad_request("the current password is not right"));
    }
    let hash = hash_password(password.to_owned()).await?;
    offbase_pg::serve::update_account(
        &mut transaction,
        &state.pg_schema,
        USERS_TABLE,
        &id,
        Some(&hash),
        false,
    )
    .await
    .map_err(caller::database)?;
    // A reset link mailed before no longer sets a password.
    offbase_pg::serve::use_code(&mut transaction, &state.pg_schema, &id, RESET)
        .await
        .map_err(caller::database)?;
    commit(transaction).await?;
    Ok(json!({"success": true, "message": "the password was changed"}))
}

pub(super) fn check_new_password(password: &str) -> Result<(), ApiError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(ApiError::bad_request(format!(
            "a password has at least {MIN_PASSWORD_CHARS} characters"
        )));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(ApiError::bad_request(format!(
            "a password has at most {MAX_PASSWORD_BYTES} bytes (bcrypt reads no further)"
        )));
    }
    Ok(())
}

pub(super) async fn hash_password(password: String) -> Result<String, ApiError> {
    // bcrypt is slow on purpose: off the request threads.
    tokio::task::spawn_blocking(move || bcrypt::hash(password, BCRYPT_COST))
        .await
        .map_err(|_| internal("hashing the password stopped"))?
        .map_err(|_| internal("the password could not be hashed"))
}

pub(crate) async fn password_matches(password: String, hash: String) -> Result<bool, ApiError> {
    tokio::task::spawn_blocking(move || bcrypt::verify(password, &hash).unwrap_or(false))
        .await
        .map_err(|_| internal("checking the password stopped"))
}
