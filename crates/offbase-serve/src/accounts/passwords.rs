//! Passwords: their bcrypt hashes (made and checked off the request threads);
//! `auth/reset-password-request` (a reset token mailed, the same answer for every address),
//! `auth/reset-password` (the token spent, the password set) and `auth/change-password` (the
//! signed-in user's own, given the current one). Their bounds are the shared ones
//! (`offbase_base44::accounts::check_new_password`).

use super::checks::{check_app, internal, mailer, token_user, users_ready};
use super::codes::{RESET, issue};
use super::mails::{reset_mail, send_later};
use super::store::{account_by_id, accounts_by_email, begin, commit, mark_verified, single};
use crate::caller;
use crate::error::ApiError;
use crate::routes::{AppState, connection};
use axum::body::Bytes;
use axum::http::HeaderMap;
use offbase_base44::accounts::{
    self, CODES_PER_HOUR, PasswordChange, RESET_LIFETIME, Refusal, Reset, ResetRequest, new_token,
    token_digest,
};
use offbase_pg::serve::NewCode;
use offbase_pipeline::users::formats::postgres::TABLE as USERS_TABLE;
use serde_json::Value;

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
    let ResetRequest { email } = ResetRequest::read(body)?;
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
                max_per_hour: i32::from(CODES_PER_HOUR),
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
    Ok(accounts::reset_requested())
}

pub(super) async fn reset(state: &AppState, app_id: &str, body: &Bytes) -> Result<Value, ApiError> {
    check_app(state, app_id)?;
    users_ready(state)?;
    let Reset { token, password } = Reset::read(body)?;
    let hash = hash_password(password).await?;
    let refused = || ApiError::from(Refusal::wrong_reset_token());
    let mut connection = connection(state).await?;
    let mut transaction = begin(&mut connection).await?;
    let Some(id) = offbase_pg::serve::use_token(
        &mut transaction,
        &state.pg_schema,
        RESET,
        &token_digest(&token),
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
        return Err(Refusal::disabled().into());
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
    Ok(accounts::password_reset())
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
    let PasswordChange {
        current_password,
        new_password,
    } = PasswordChange::read(body, &id)?;
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
        return Err(Refusal::disabled().into());
    }
    let Some(hash) = account.password_hash else {
        return Err(Refusal::no_password_yet().into());
    };
    if !password_matches(current_password, hash).await? {
        return Err(Refusal::wrong_current_password().into());
    }
    let hash = hash_password(new_password).await?;
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
    Ok(accounts::password_changed())
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
