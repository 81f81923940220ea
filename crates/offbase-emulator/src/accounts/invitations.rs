//! Invitations and their links: `users/invite-user` (an admin or the API key; the invited
//! account has no password and is mailed a link) and `auth/login-token`, the link that signs
//! in once with an invitation's token and sends the browser back to `from_url` with
//! `?access_token=...` (303), as `offbase serve` does. Serve's link also takes the one-time
//! login tokens of its users export; the emulator has no export, so only invitations' tokens.
//!
//! `from_url` is checked as serve checks it (`offbase_base44::accounts::return_to`), against the
//! request's own origin (its `Host`): the emulator has no public URL of its own.

use super::{
    accounts_by_email, ambiguous, check_app, create_account, mail, mark_verified, signed_in,
    spend_token, unauthorized,
};
use crate::error::ApiError;
use crate::ledger::MailKind;
use crate::session::{Credentials, credentials};
use crate::state::AppState;
use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use offbase_base44::accounts::{
    self, Invitation, LoginLink, Refusal, invite_link, new_token, with_token,
};
use serde_json::Value;

pub(super) fn invite(
    state: &AppState,
    app_id: &str,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Value, ApiError> {
    check_app(state, app_id)?;
    let Invitation { email, role } = Invitation::read(body)?;
    inviter(state, headers)?;
    let token = new_token();
    let mut ledger = state.accounts.lock();
    let accounts = accounts_by_email(state, &ledger, &email);
    let id = match accounts.as_slice() {
        [] => create_account(state, &email, None, &role)?,
        [account] if account.password_hash.is_some() => {
            return Err(Refusal::already_signs_in(&email).into());
        }
        // Invited again: a new link; the account keeps its role.
        [account] => account.id.clone(),
        _ => return Err(ambiguous(&email).into()),
    };
    // A new account has no token yet, so only an existing one can be refused here.
    if !ledger.issue(&id, MailKind::Invite, &token, None, Utc::now()) {
        return Err(Refusal::too_many(&email).into());
    }
    let link = invite_link(state.accounts.link_base(), &state.app_id, &token);
    ledger.post(mail(&email, MailKind::Invite, &token, Some(link)));
    Ok(accounts::invited(&email, &role))
}

/// Who may invite: the API key (the service role), or a signed-in admin.
fn inviter(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    let token = match credentials(headers, &state.sessions) {
        Credentials::Key => return Ok(()),
        Credentials::Token(token) => token,
        Credentials::Nothing => return Err(Refusal::inviter_unknown().into()),
        Credentials::Invalid => return Err(Refusal::unknown_credentials().into()),
    };
    let user = state
        .store
        .read(|store| crate::session::signed_in(store, &state.sessions, &token))
        .map_err(unauthorized)?;
    if user.role() != Some("admin") {
        return Err(Refusal::inviter_not_admin(user.email().unwrap_or("(no email)")).into());
    }
    Ok(())
}

/// The signed-in `from_url` with its token, for [`redirect`].
pub(super) fn sign_in_with_link(
    state: &AppState,
    app_id: &str,
    headers: &HeaderMap,
    pairs: &[(String, String)],
) -> Result<String, ApiError> {
    check_app(state, app_id)?;
    let host = headers
        .get(header::HOST)
        .and_then(|value| value.to_str().ok());
    let LoginLink { token, back } = LoginLink::read(pairs, host, None)?;
    let id = spend_token(
        state,
        &mut state.accounts.lock(),
        MailKind::Invite,
        &token,
        Refusal::wrong_link,
    )?;
    // The mailed link proves the address.
    mark_verified(state, &id)?;
    let answer = signed_in(state, &id)?;
    let access_token = answer
        .get("access_token")
        .and_then(Value::as_str)
        .unwrap_or_default();
    Ok(with_token(&back, access_token))
}

/// A redirect (303) to `location`, never cached, never telling where it came from (serve's
/// `login_page::redirect`: a Response, so each server builds its own).
pub(super) fn redirect(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(value) => (
            StatusCode::SEE_OTHER,
            [
                (header::LOCATION, value),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
                (
                    header::REFERRER_POLICY,
                    HeaderValue::from_static("no-referrer"),
                ),
            ],
        )
            .into_response(),
        Err(_) => {
            ApiError::bad_request("`from_url` cannot be sent back as a header").into_response()
        }
    }
}
