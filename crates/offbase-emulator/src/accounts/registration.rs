//! Registration: `auth/register` (a code mailed, the password kept pending), `auth/verify-otp`
//! (the code spent: verified, the pending password set, signed in) and `auth/resend-otp` (a
//! new code, the same answer for every address).

use super::passwords::hash_password;
use super::{
    accounts_by_email, ambiguous, check_app, create_account, mail, mark_verified, signed_in, single,
};
use crate::error::ApiError;
use crate::ledger::{CodeCheck, MailKind};
use crate::state::AppState;
use axum::body::Bytes;
use chrono::Utc;
use offbase_base44::accounts::{
    self, CodeRequest, DEFAULT_ROLE, Refusal, Registration, Verification, new_code,
};
use serde_json::Value;

pub(super) async fn register_account(
    state: &AppState,
    app_id: &str,
    body: &Bytes,
) -> Result<Value, ApiError> {
    check_app(state, app_id)?;
    let Registration {
        email,
        password,
        full_name,
    } = Registration::read(body)?;
    let pending = hash_password(password).await?;
    let code = new_code();

    // The ledger held from the lookup to the code: a concurrent registration of the address
    // waits, and finds the account this one makes.
    let mut ledger = state.accounts.lock();
    let accounts = accounts_by_email(state, &ledger, &email);
    let id = match accounts.as_slice() {
        [] => create_account(state, &email, full_name.as_deref(), DEFAULT_ROLE)?,
        [account] if account.disabled => return Err(Refusal::disabled().into()),
        [account] if account.password_hash.is_some() => {
            return Err(Refusal::already_registered(&email).into());
        }
        [account] => account.id.clone(),
        _ => return Err(ambiguous(&email).into()),
    };
    // A new account has no code yet, so only an existing one can be refused here, and
    // nothing was created then.
    if !ledger.issue(&id, MailKind::Verify, &code, Some(pending), Utc::now()) {
        return Err(Refusal::too_many(&email).into());
    }
    ledger.post(mail(&email, MailKind::Verify, &code, None));
    Ok(accounts::registered(&email))
}

pub(super) fn verify_code(state: &AppState, app_id: &str, body: &Bytes) -> Result<Value, ApiError> {
    check_app(state, app_id)?;
    let Verification { email, code } = Verification::read(body)?;
    let mut ledger = state.accounts.lock();
    let Some(account) = single(accounts_by_email(state, &ledger, &email)) else {
        return Err(Refusal::wrong_code().into());
    };
    if account.disabled {
        return Err(Refusal::disabled().into());
    }
    let CodeCheck::Right {
        pending_password_hash,
    } = ledger.try_code(&account.id, MailKind::Verify, &code, Utc::now())
    else {
        return Err(Refusal::wrong_code().into());
    };
    // A code from resend-otp brings no password: the account keeps the one it has (or none).
    if let Some(hash) = pending_password_hash {
        ledger.set_password_hash(&account.id, hash);
    }
    drop(ledger);
    mark_verified(state, &account.id)?;
    signed_in(state, &account.id)
}

pub(super) fn resend_code(state: &AppState, app_id: &str, body: &Bytes) -> Result<Value, ApiError> {
    check_app(state, app_id)?;
    let CodeRequest { email } = CodeRequest::read(body)?;
    let mut ledger = state.accounts.lock();
    if let Some(account) = single(accounts_by_email(state, &ledger, &email))
        && !account.disabled
        && (!account.is_verified || account.password_hash.is_none())
    {
        let code = new_code();
        if ledger.issue(&account.id, MailKind::Verify, &code, None, Utc::now()) {
            ledger.post(mail(&email, MailKind::Verify, &code, None));
        }
    }
    Ok(accounts::code_resent())
}
