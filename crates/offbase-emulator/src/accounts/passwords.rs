//! Passwords: their bcrypt hashes (made and checked off the request threads);
//! `auth/reset-password-request` (a reset token mailed, the same answer for every address),
//! `auth/reset-password` (the token spent, the password set) and `auth/change-password` (the
//! signed-in user's own, given the current one). Their bounds are the shared ones
//! (`offbase_base44::accounts::check_new_password`).

use super::{
    account_by_id, accounts_by_email, check_app, internal, mail, mark_verified, single,
    spend_token, token_user,
};
use crate::error::ApiError;
use crate::ledger::MailKind;
use crate::state::AppState;
use axum::body::Bytes;
use axum::http::HeaderMap;
use chrono::Utc;
use offbase_base44::accounts::{
    self, PasswordChange, Refusal, Reset, ResetRequest, new_token, reset_link,
};
use serde_json::Value;

/// bcrypt's cost for new hashes: the lowest bcrypt takes. The hashes live in the emulator's
/// memory only (never exported, never answered) and tests hash many: speed matters here,
/// strength does not; `auth/login` checks a hash of any cost.
const BCRYPT_COST: u32 = 4;

pub(super) fn request_reset(
    state: &AppState,
    app_id: &str,
    body: &Bytes,
) -> Result<Value, ApiError> {
    check_app(state, app_id)?;
    let ResetRequest { email } = ResetRequest::read(body)?;
    let mut ledger = state.accounts.lock();
    if let Some(account) = single(accounts_by_email(state, &ledger, &email))
        && !account.disabled
    {
        let token = new_token();
        if ledger.issue(&account.id, MailKind::Reset, &token, None, Utc::now()) {
            let link = reset_link(state.accounts.link_base(), &token);
            ledger.post(mail(&email, MailKind::Reset, &token, Some(link)));
        }
    }
    Ok(accounts::reset_requested())
}

pub(super) async fn reset(state: &AppState, app_id: &str, body: &Bytes) -> Result<Value, ApiError> {
    check_app(state, app_id)?;
    let Reset { token, password } = Reset::read(body)?;
    let hash = hash_password(password).await?;
    let mut ledger = state.accounts.lock();
    let id = spend_token(
        state,
        &mut ledger,
        MailKind::Reset,
        &token,
        Refusal::wrong_reset_token,
    )?;
    ledger.set_password_hash(&id, hash);
    drop(ledger);
    // The mailed token proves the address: the account is verified too.
    mark_verified(state, &id)?;
    Ok(accounts::password_reset())
}

pub(super) async fn change(
    state: &AppState,
    app_id: &str,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Value, ApiError> {
    check_app(state, app_id)?;
    let id = token_user(state, headers, "changing a password")?;
    let PasswordChange {
        current_password,
        new_password,
    } = PasswordChange::read(body, &id)?;
    let account = account_by_id(state, &state.accounts.lock(), &id).ok_or_else(|| {
        ApiError::not_found("the signed-in user no longer exists in the app's User records")
    })?;
    if account.disabled {
        return Err(Refusal::disabled().into());
    }
    let Some(old_hash) = account.password_hash else {
        return Err(Refusal::no_password_yet().into());
    };
    if !password_matches(current_password, old_hash.clone()).await? {
        return Err(Refusal::wrong_current_password().into());
    }
    let hash = hash_password(new_password).await?;
    let mut ledger = state.accounts.lock();
    // The password checked is still the account's (no reset or change in between), else the
    // current password given is no longer the current one.
    let unchanged = account_by_id(state, &ledger, &id)
        .is_some_and(|account| account.password_hash.as_deref() == Some(old_hash.as_str()));
    if !unchanged {
        return Err(Refusal::wrong_current_password().into());
    }
    ledger.set_password_hash(&id, hash);
    // A reset link mailed before no longer sets a password.
    ledger.spend(&id, MailKind::Reset);
    Ok(accounts::password_changed())
}

pub(super) async fn hash_password(password: String) -> Result<String, ApiError> {
    // bcrypt is slow on purpose: off the request threads.
    tokio::task::spawn_blocking(move || bcrypt::hash(password, BCRYPT_COST))
        .await
        .map_err(|_| internal("hashing the password stopped"))?
        .map_err(|_| internal("the password could not be hashed"))
}

async fn password_matches(password: String, hash: String) -> Result<bool, ApiError> {
    tokio::task::spawn_blocking(move || bcrypt::verify(password, &hash).unwrap_or(false))
        .await
        .map_err(|_| internal("checking the password stopped"))
}
