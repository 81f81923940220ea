//! The SDK's account calls, under `/api/apps/{app_id}/`: `auth/register`, `auth/verify-otp`,
//! `auth/resend-otp`, `auth/reset-password-request`, `auth/reset-password`,
//! `auth/change-password`, `users/invite-user` (and the users module's
//! `runtime/users/invite-user`), `auth/login-token` (the link an invitation signs in with once),
//! and the emulator's own `emulator/outbox`, where tests read the mails.
//!
//! They answer as `offbase serve` does (its `accounts` module, written to mirror the platform):
//! the same statuses, the same success bodies, the same refusal messages where the two run
//! the same check, so a test can drive the published SDK against both and compare. What
//! differs is where things are kept: an account is the app's `User` record (the emulator has
//! no users table); the codes, tokens and passwords the calls set are in memory (`ledger`, whose
//! doc says why passwords stay out of the records); mails go to the outbox instead of an SMTP
//! server, so no call answers 501 for a missing one.
//!
//! - register: a 6-digit code in the outbox (10 minutes, 5 tries); the password is kept hashed
//!   beside the code, and becomes the account's only when the code is verified. An account
//!   without a password may be registered this way too; one with a password is a 409.
//! - verify-otp: marks the User record verified, sets the pending password, and answers
//!   `{access_token, token_type, user}` as `auth/login` does.
//! - resend-otp and reset-password-request answer the same whatever the address, and mail
//!   nothing for an address without an account.
//! - reset-password: the mailed token (1 hour, one use) sets the password.
//! - change-password: the signed-in user's own, given the current one.
//! - invite-user: an admin or the API key (the service role); the invited account has no
//!   password and gets a link that signs in once (7 days).
//!
//! At most 5 mails of a kind go to an account in an hour. No answer carries a password, code
//! or token other than the caller's own new sign-in token; bcrypt runs off the request threads.
//! No rate limit and no injected faults (as `auth/login`).
//!
//! The submodules, each owning one part:
//! - `registration`: register, verify-otp and resend-otp;
//! - `passwords`: their bounds and bcrypt hashes, reset (request and spend) and change;
//! - `invitations`: invite-user, and the login-token link that signs in once.
//!
//! The rules and texts both servers share (the requests' checks, the answers, the refusals,
//! the codes' numbers) are `offbase_base44::accounts`'; this module holds the handlers and what
//! the emulator's calls share besides: the accounts as stored (User record and ledger), who the
//! caller is, the mails.

mod invitations;
mod passwords;
mod registration;

use crate::error::{ApiError, json_response};
use crate::ledger::{Ledger, MailKind, OutboxMail};
use crate::session::{Credentials, credentials};
use crate::state::{AppState, SharedState, tagged};
use crate::stats::Route;
use crate::store::{Record, now_millis};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use offbase_base44::accounts::{Refusal, parameter};
use serde_json::{Map, Value, json};

type Params = Query<Vec<(String, String)>>;

// The handlers, as `routes` names them.

/// `POST .../auth/register` `{email, password, full_name?}`.
pub(crate) async fn register(
    State(state): State<SharedState>,
    Path(app_id): Path<String>,
    body: Bytes,
) -> Response {
    let answer = registration::register_account(&state, &app_id, &body).await;
    tagged(respond(answer), Route::Register)
}

/// `POST .../auth/verify-otp` `{email, otp_code}`: `{access_token, token_type, user}`.
pub(crate) async fn verify_otp(
    State(state): State<SharedState>,
    Path(app_id): Path<String>,
    body: Bytes,
) -> Response {
    let answer = registration::verify_code(&state, &app_id, &body);
    tagged(respond(answer), Route::VerifyOtp)
}

/// `POST .../auth/resend-otp` `{email}`.
pub(crate) async fn resend_otp(
    State(state): State<SharedState>,
    Path(app_id): Path<String>,
    body: Bytes,
) -> Response {
    let answer = registration::resend_code(&state, &app_id, &body);
    tagged(respond(answer), Route::ResendOtp)
}

/// `POST .../auth/reset-password-request` `{email}`.
pub(crate) async fn reset_password_request(
    State(state): State<SharedState>,
    Path(app_id): Path<String>,
    body: Bytes,
) -> Response {
    let answer = passwords::request_reset(&state, &app_id, &body);
    tagged(respond(answer), Route::ResetPasswordRequest)
}

/// `POST .../auth/reset-password` `{reset_token, new_password}`.
pub(crate) async fn reset_password(
    State(state): State<SharedState>,
    Path(app_id): Path<String>,
    body: Bytes,
) -> Response {
    let answer = passwords::reset(&state, &app_id, &body).await;
    tagged(respond(answer), Route::ResetPassword)
}

/// `POST .../auth/change-password` `{user_id, current_password, new_password}`.
pub(crate) async fn change_password(
    State(state): State<SharedState>,
    Path(app_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let answer = passwords::change(&state, &app_id, &headers, &body).await;
    tagged(respond(answer), Route::ChangePassword)
}

/// `POST .../users/invite-user` and `.../runtime/users/invite-user` `{user_email, role}`.
pub(crate) async fn invite_user(
    State(state): State<SharedState>,
    Path(app_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let answer = invitations::invite(&state, &app_id, &headers, &body);
    tagged(respond(answer), Route::InviteUser)
}

/// `GET .../auth/login-token?token=...&from_url=...`: signs in once with an invitation's token
/// and sends the browser to `from_url` with `?access_token=...` (303).
pub(crate) async fn login_token(
    State(state): State<SharedState>,
    Path(app_id): Path<String>,
    headers: HeaderMap,
    Query(pairs): Params,
) -> Response {
    let response = match invitations::sign_in_with_link(&state, &app_id, &headers, &pairs) {
        Ok(location) => invitations::redirect(&location),
        Err(error) => error.into_response(),
    };
    tagged(response, Route::LoginToken)
}

/// `GET .../emulator/outbox[?to=email]` with the app's API key: the mails "sent", in send
/// order, as `[{to, kind, code, token, link, sent_at}]` (the address compared ignoring ASCII
/// case). The key, because the outbox holds every code and token.
pub(crate) async fn outbox(
    State(state): State<SharedState>,
    Path(app_id): Path<String>,
    headers: HeaderMap,
    Query(pairs): Params,
) -> Response {
    let answer = if credentials(&headers, &state.sessions) != Credentials::Key {
        Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "reading the outbox needs the app's API key (an `api_key` header or \
             `Authorization: Bearer <key>`): it holds every code and token mailed",
        ))
    } else {
        check_app(&state, &app_id).map(|()| {
            let to = parameter(&pairs, "to")
                .map(str::trim)
                .filter(|to| !to.is_empty());
            Value::Array(
                state
                    .accounts
                    .outbox()
                    .iter()
                    .filter(|mail| to.is_none_or(|to| mail.to.trim().eq_ignore_ascii_case(to)))
                    .map(OutboxMail::to_json)
                    .collect(),
            )
        })
    };
    tagged(respond(answer), Route::Outbox)
}

fn respond(answer: Result<Value, ApiError>) -> Response {
    match answer {
        Ok(body) => json_response(StatusCode::OK, &body),
        Err(error) => error.into_response(),
    }
}

/// A shared refusal, answered as the emulator's errors are.
impl From<Refusal> for ApiError {
    fn from(refusal: Refusal) -> Self {
        let status =
            StatusCode::from_u16(refusal.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        ApiError::new(status, refusal.message)
    }
}

// What the calls check first, and the refusals several give.

fn check_app(state: &AppState, app_id: &str) -> Result<(), ApiError> {
    if app_id == state.app_id {
        Ok(())
    } else {
        Err(ApiError::not_found(format!("app `{app_id}` not found")))
    }
}

/// Several User records have `email`.
fn ambiguous(email: &str) -> Refusal {
    Refusal::ambiguous(email, "merge their User records first")
}

fn internal(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, message)
}

fn unauthorized(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, message)
}

// The accounts as stored: the User record, and what the ledger keeps for it.

/// An account: a live `User` record and its password.
struct Account {
    id: String,
    disabled: bool,
    is_verified: bool,
    /// The one an account call set, else the one the record was loaded with.
    password_hash: Option<String>,
}

impl Account {
    fn of(record: &Record, ledger: &Ledger) -> Option<Account> {
        let id = record.get("id").and_then(Value::as_str)?.to_owned();
        let password_hash = ledger
            .password_hash(&id)
            .or_else(|| record.get("password_hash").and_then(Value::as_str))
            .map(str::to_owned);
        Some(Account {
            disabled: record.get("disabled") == Some(&Value::Bool(true)),
            is_verified: record.get("is_verified") == Some(&Value::Bool(true)),
            password_hash,
            id,
        })
    }
}

/// The accounts with this address (ASCII case ignored).
fn accounts_by_email(state: &AppState, ledger: &Ledger, email: &str) -> Vec<Account> {
    state.store.read(|store| {
        store
            .users_with_email(email)
            .into_iter()
            .filter_map(|record| Account::of(&record, ledger))
            .collect()
    })
}

fn account_by_id(state: &AppState, ledger: &Ledger, id: &str) -> Option<Account> {
    state.store.read(|store| {
        store
            .user_record(id)
            .and_then(|record| Account::of(&record, ledger))
    })
}

/// The one account of a lookup (none, or several sharing the address: no one).
fn single(accounts: Vec<Account>) -> Option<Account> {
    let mut accounts = accounts.into_iter();
    match (accounts.next(), accounts.next()) {
        (Some(account), None) => Some(account),
        _ => None,
    }
}

/// The account a live `token` of `kind` was mailed to, the token now spent: `wrong` when there
/// is none; a disabled user's is refused unspent, so it works once the user is enabled again.
fn spend_token(
    state: &AppState,
    ledger: &mut Ledger,
    kind: MailKind,
    token: &str,
    wrong: fn() -> Refusal,
) -> Result<String, ApiError> {
    let id = ledger
        .token_user(kind, token, Utc::now())
        .ok_or_else(wrong)?;
    let account = account_by_id(state, ledger, &id).ok_or_else(wrong)?;
    if account.disabled {
        return Err(Refusal::disabled().into());
    }
    ledger.spend(&id, kind);
    Ok(id)
}

/// A new account: its User record as a create writes it, with the fields `offbase serve`
/// gives a new account's record (`email`, `full_name` when given, `role`, `disabled`,
/// `is_verified`, `app_id`, `is_service`). Its id.
fn create_account(
    state: &AppState,
    email: &str,
    full_name: Option<&str>,
    role: &str,
) -> Result<String, ApiError> {
    let mut fields = Map::new();
    fields.insert("email".to_owned(), Value::String(email.to_owned()));
    if let Some(full_name) = full_name {
        fields.insert("full_name".to_owned(), Value::String(full_name.to_owned()));
    }
    fields.insert("role".to_owned(), Value::String(role.to_owned()));
    fields.insert("disabled".to_owned(), Value::Bool(false));
    fields.insert("is_verified".to_owned(), Value::Bool(false));
    fields.insert("app_id".to_owned(), Value::String(state.app_id.clone()));
    fields.insert("is_service".to_owned(), Value::Bool(false));
    let record = state
        .store
        .write(|store| store.create("User", &Value::Object(fields), now_millis()))?;
    record
        .get("id")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| internal("the new User record has no id"))
}

/// Marks the User record of `id` verified (`is_verified`, `updated_date` bumped), unless it is
/// already.
fn mark_verified(state: &AppState, id: &str) -> Result<(), ApiError> {
    state.store.write(|store| {
        let verified = store
            .user_record(id)
            .is_none_or(|record| record.get("is_verified") == Some(&Value::Bool(true)));
        if !verified {
            store.update("User", id, &json!({"is_verified": true}), now_millis())?;
        }
        Ok(())
    })
}

/// What a sign-in answers: a token for `id` and the user's record, as `auth/login` does.
fn signed_in(state: &AppState, id: &str) -> Result<Value, ApiError> {
    let user = state
        .store
        .read(|store| store.user_record(id))
        .ok_or_else(|| unauthorized("the user this sign-in is for no longer exists"))?;
    Ok(offbase_base44::accounts::signed_in(
        &state.sessions.token(id),
        user,
    ))
}

/// A mail for the outbox, sent now.
fn mail(to: &str, kind: MailKind, secret: &str, link: Option<String>) -> OutboxMail {
    let (code, token) = match kind {
        MailKind::Verify => (Some(secret.to_owned()), None),
        MailKind::Reset | MailKind::Invite => (None, Some(secret.to_owned())),
    };
    OutboxMail {
        to: to.to_owned(),
        kind,
        code,
        token,
        link,
        sent_at: now_millis(),
    }
}

/// The signed-in user's id from a bearer token: 401 without one, 403 for the API key.
fn token_user(state: &AppState, headers: &HeaderMap, what: &str) -> Result<String, ApiError> {
    match credentials(headers, &state.sessions) {
        Credentials::Token(token) => state
            .sessions
            .user_id(&token)
            .ok_or_else(|| unauthorized("the token was not issued by this emulator")),
        Credentials::Key => Err(Refusal::service_key_is_no_user(what).into()),
        Credentials::Nothing => Err(Refusal::no_user_token(what).into()),
        Credentials::Invalid => Err(Refusal::unknown_credentials().into()),
    }
}
