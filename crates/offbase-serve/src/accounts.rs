//! The SDK's account calls, under `/api/apps/{app_id}/`: `auth/register`, `auth/verify-otp`,
//! `auth/resend-otp`, `auth/reset-password-request`, `auth/reset-password`,
//! `auth/change-password`, `users/invite-user` (and the users module's
//! `runtime/users/invite-user`), and `auth/login-token`, the link a one-time login token signs
//! in with (the users export's tokens and the invitations').
//!
//! Accounts are the rows of the users table `offbase users export --format postgres` creates
//! (`<pg-schema>.users`: the bcrypt hash, `is_verified`, `disabled`, the export's one-time
//! login token), each with its record in the `User` entity's table (what `User/me` answers). A
//! new account gets both: the User record as a create writes it (the load's converter, the
//! platform's built-ins), the users row without a password. The codes and tokens mailed to
//! users live in `<pg-schema>.offbase_auth_codes` beside the users table (created at start when
//! the users table exists): one live code per user and purpose, as its SHA-256, with its
//! expiry, its tries, when it was used, and how many were sent this hour.
//!
//! - register: a 6-digit code by mail (10 minutes, 5 tries); the password is kept hashed as
//!   the code's pending hash, and becomes the account's only when the code is verified, so no
//!   one signs in with an address they do not own. An account without a password (migrated,
//!   invited) may be registered this way too.
//! - verify-otp: marks the account verified, sets the pending password, and answers
//!   `{access_token, user}` as a sign-in does. A user without a password may also sign in with
//!   a code from resend-otp.
//! - resend-otp and reset-password-request answer the same whatever the address (an account
//!   or not), and mail in the background, so they tell no one who has an account.
//! - reset-password: the mailed token (1 hour, one use) sets the password.
//! - change-password: the signed-in user's own, given the current password.
//! - invite-user: an admin or the service role; the invited account has no password and gets
//!   a link that signs in once (7 days).
//!
//! At most 5 codes of a kind are mailed to an account in an hour. Nothing here prints or
//! answers a password, code or token other than the caller's own new sign-in token; bcrypt
//! runs off the request threads; codes compare in constant time, tokens are looked up by their
//! SHA-256.

use crate::ServeError;
use crate::caller::{self, Credentials};
use crate::error::ApiError;
use crate::login_page::{host, redirect, return_to, with_token};
use crate::mail::{Mail, Mailer, is_address};
use crate::routes::{AppState, SharedState, connection, respond};
use crate::token::same_bytes;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use offbase_copy::convert::EntityConverter;
use offbase_copy::json::row_json;
use offbase_model::record::staged_key;
use offbase_model::time::format_stored;
use offbase_model::{BuiltIn, Table};
use offbase_pg::serve::{Access, Account, NewAccount, NewCode, WriteError};
use offbase_pipeline::users::formats::postgres::{TABLE as USERS_TABLE, token_digest};
use serde_json::{Map, Value, json};
use sqlx::{PgConnection, Postgres, Transaction};

/// A registration's code: how long it lives and how many tries it allows.
const OTP_LIFETIME: u32 = 10 * 60;
const OTP_TRIES: i32 = 5;
/// A reset token's life.
const RESET_LIFETIME: u32 = 60 * 60;
/// An invitation's life.
const INVITE_LIFETIME: u32 = 7 * 24 * 60 * 60;
/// Codes of one kind mailed to one account in an hour, at most.
const CODES_PER_HOUR: i32 = 5;
/// Passwords: at least this many characters, at most bcrypt's 72 bytes.
const MIN_PASSWORD_CHARS: usize = 8;
const MAX_PASSWORD_BYTES: usize = 72;
/// bcrypt's cost for new hashes.
const BCRYPT_COST: u32 = 11;
/// The role of a registered user, and of an invited one by default.
const DEFAULT_ROLE: &str = "user";

/// What a code in `offbase_auth_codes` is for.
const VERIFY: &str = "verify_email";
const RESET: &str = "reset_password";
const INVITE: &str = "invite";

type Params = Query<Vec<(String, String)>>;

/// How accounts are served.
#[derive(Debug, Clone)]
pub(crate) struct AccountSettings {
    /// `None`: no SMTP server configured, the calls that mail answer 501.
    pub(crate) mailer: Option<Mailer>,
    /// Where the links in mails point: the public URL, else this server's address.
    pub(crate) link_base: String,
    /// The public URL's origin (`https://app.example.com`), where sign-ins may send browsers
    /// back to besides the request's own origin.
    pub(crate) public_origin: Option<String>,
    /// Whether the users table existed when the server started.
    pub(crate) users_table: bool,
    /// What mails call the app: the public URL's host, else `app <id>`.
    pub(crate) app_name: String,
}

/// At start: whether the users table exists and, when it does, the codes table created if
/// missing.
pub(crate) async fn prepare(
    connection: &mut PgConnection,
    pg_schema: &str,
) -> Result<bool, ServeError> {
    let exists = offbase_pg::serve::table_exists(connection, pg_schema, USERS_TABLE).await?;
    if exists {
        offbase_pg::serve::ensure_auth_codes_table(connection, pg_schema).await?;
    }
    Ok(exists)
}

// ---------------------------------------------------------------------------------------
// The handlers.

/// `POST .../auth/register` `{email, password, full_name?}`.
pub(crate) async fn register(
    State(state): State<SharedState>,
    Path(app_id): Path<String>,
    body: Bytes,
) -> Response {
    respond(register_account(&state, &app_id, &body).await)
}

/// `POST .../auth/verify-otp` `{email, otp_code}`: `{access_token, user}`.
pub(crate) async fn verify_otp(
    State(state): State<SharedState>,
    Path(app_id): Path<String>,
    body: Bytes,
) -> Response {
    respond(verify_code(&state, &app_id, &body).await)
}

/// `POST .../auth/resend-otp` `{email}`.
pub(crate) async fn resend_otp(
    State(state): State<SharedState>,
    Path(app_id): Path<String>,
    body: Bytes,
) -> Response {
    respond(resend_code(&state, &app_id, &body).await)
}

/// `POST .../auth/reset-password-request` `{email}`.
pub(crate) async fn reset_password_request(
    State(state): State<SharedState>,
    Path(app_id): Path<String>,
    body: Bytes,
) -> Response {
    respond(request_reset(&state, &app_id, &body).await)
}

/// `POST .../auth/reset-password` `{reset_token, new_password}`.
pub(crate) async fn reset_password(
    State(state): State<SharedState>,
    Path(app_id): Path<String>,
    body: Bytes,
) -> Response {
    respond(reset(&state, &app_id, &body).await)
}

/// `POST .../auth/change-password` `{user_id, current_password, new_password}`.
pub(crate) async fn change_password(
    State(state): State<SharedState>,
    Path(app_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    respond(change(&state, &app_id, &headers, &body).await)
}

/// `POST .../users/invite-user` and `.../runtime/users/invite-user` `{user_email, role}`.
pub(crate) async fn invite_user(
    State(state): State<SharedState>,
    Path(app_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    respond(invite(&state, &app_id, &headers, &body).await)
}

/// `GET .../auth/login-token?token=...&from_url=...`: signs in once with a login token (the
/// users export's, or an invitation's) and sends the browser to `from_url` with
/// `?access_token=...`.
pub(crate) async fn login_token(
    State(state): State<SharedState>,
    Path(app_id): Path<String>,
    headers: HeaderMap,
    Query(pairs): Params,
) -> Response {
    match sign_in_with_link(&state, &app_id, &headers, &pairs).await {
        Ok(location) => redirect(&location),
        Err(error) => error.into_response(),
    }
}

// ---------------------------------------------------------------------------------------
// The calls.

async fn register_account(state: &AppState, app_id: &str, body: &Bytes) -> Result<Value, ApiError> {
    check_app(state, app_id)?;
    let mailer = mailer(state, "registering")?;
    users_ready(state)?;
    let body = read_body(body)?;
    let email = address(
        &body,
        "email",
        "registering takes `{\"email\": ..., \"password\": ...}`",
    )?;
    let password = text(&body, "password");
    check_new_password(password)?;
    let full_name = Some(text(&body, "full_name").trim()).filter(|name| !name.is_empty());
    let pending = hash_password(password.to_owned()).await?;
    let code = new_code();

    let mut connection = connection(state).await?;
    let mut transaction = begin(&mut connection).await?;
    let accounts = accounts_by_email(state, &mut transaction, &email).await?;
    let id = match accounts.as_slice() {
        [] => create_account(state, &mut transaction, &email, full_name, DEFAULT_ROLE).await?,
        [account] if account.disabled => return Err(disabled()),
        [account] if account.password_hash.is_some() => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                format!(
                    "{email} is already registered: sign in, or reset the password \
                     (auth/reset-password-request)"
                ),
            ));
        }
        [account] => account.id.clone(),
        _ => return Err(ambiguous(&email)),
    };
    let digest = token_digest(&code);
    let issued = issue(
        state,
        &mut transaction,
        &NewCode {
            user_id: &id,
            purpose: VERIFY,
            code_sha256: &digest,
            pending_password_hash: Some(&pending),
            lifetime_seconds: OTP_LIFETIME,
            max_per_hour: CODES_PER_HOUR,
        },
    )
    .await?;
    if !issued {
        return Err(too_many(&email));
    }
    commit(transaction).await?;
    mailer
        .send(code_mail(state, &email, &code))
        .await
        .map_err(|reason| {
            ApiError::new(
                StatusCode::BAD_GATEWAY,
                format!(
                    "{email} is registered, but the mail with its code could not be sent: \
                     {reason}; ask for a new code with auth/resend-otp"
                ),
            )
        })?;
    Ok(json!({
        "success": true,
        "message": format!("a verification code was sent to {email}: verify it with auth/verify-otp"),
        "email": email,
        "expires_in": OTP_LIFETIME,
    }))
}

async fn verify_code(state: &AppState, app_id: &str, body: &Bytes) -> Result<Value, ApiError> {
    check_app(state, app_id)?;
    users_ready(state)?;
    let body = read_body(body)?;
    let email = text(&body, "email").trim().to_owned();
    // A code typed as a number is the same code.
    let code = match body.get("otp_code") {
        Some(Value::Number(number)) => number.to_string(),
        Some(Value::String(text)) => text.trim().to_owned(),
        _ => String::new(),
    };
    if email.is_empty() || code.is_empty() {
        return Err(ApiError::bad_request(
            "verifying takes `{\"email\": ..., \"otp_code\": ...}`",
        ));
    }
    let refused = || {
        ApiError::bad_request(format!(
            "the code is wrong or has expired (a code allows {OTP_TRIES} tries and lasts {} \
             minutes): ask for a new one with auth/resend-otp",
            OTP_LIFETIME / 60
        ))
    };
    let mut connection = connection(state).await?;
    let mut transaction = begin(&mut connection).await?;
    let Some(account) = single(accounts_by_email(state, &mut transaction, &email).await?) else {
        return Err(refused());
    };
    if account.disabled {
        return Err(disabled());
    }
    let Some((expected, pending)) = offbase_pg::serve::try_code(
        &mut transaction,
        &state.pg_schema,
        &account.id,
        VERIFY,
        OTP_TRIES,
    )
    .await
    .map_err(caller::database)?
    else {
        return Err(refused());
    };
    if !same_bytes(token_digest(&code).as_bytes(), expected.as_bytes()) {
        // The try counts.
        commit(transaction).await?;
        return Err(refused());
    }
    offbase_pg::serve::use_code(&mut transaction, &state.pg_schema, &account.id, VERIFY)
        .await
        .map_err(caller::database)?;
    offbase_pg::serve::update_account(
        &mut transaction,
        &state.pg_schema,
        USERS_TABLE,
        &account.id,
        pending.as_deref(),
        true,
    )
    .await
    .map_err(caller::database)?;
    mark_verified(state, &mut transaction, &account.id).await?;
    let answer = signed_in(state, &mut transaction, &account.id).await?;
    commit(transaction).await?;
    Ok(answer)
}

async fn resend_code(state: &AppState, app_id: &str, body: &Bytes) -> Result<Value, ApiError> {
    check_app(state, app_id)?;
    let mailer = mailer(state, "sending a code")?;
    users_ready(state)?;
    let body = read_body(body)?;
    let email = address(&body, "email", "resending a code takes `{\"email\": ...}`")?;
    let mut connection = connection(state).await?;
    let mut transaction = begin(&mut connection).await?;
    if let Some(account) = single(accounts_by_email(state, &mut transaction, &email).await?)
        && !account.disabled
        && (!account.is_verified || account.password_hash.is_none())
    {
        let code = new_code();
        let digest = token_digest(&code);
        let issued = issue(
            state,
            &mut transaction,
            &NewCode {
                user_id: &account.id,
                purpose: VERIFY,
                code_sha256: &digest,
                pending_password_hash: None,
                lifetime_seconds: OTP_LIFETIME,
                max_per_hour: CODES_PER_HOUR,
            },
        )
        .await?;
        if issued {
            commit(transaction).await?;
            send_later(
                mailer.clone(),
                code_mail(state, &email, &code),
                "verification",
            );
        }
    }
    Ok(json!({
        "success": true,
        "message": "if this email has an account waiting for a code, a new code was sent to it",
        "expires_in": OTP_LIFETIME,
    }))
}

async fn request_reset(state: &AppState, app_id: &str, body: &Bytes) -> Result<Value, ApiError> {
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

async fn reset(state: &AppState, app_id: &str, body: &Bytes) -> Result<Value, ApiError> {
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

async fn change(
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

async fn invite(
    state: &AppState,
    app_id: &str,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Value, ApiError> {
    check_app(state, app_id)?;
    let credentials = state.credentials(headers);
    let body = read_body(body)?;
    let email = address(
        &body,
        "user_email",
        "inviting takes `{\"user_email\": ..., \"role\": ...}`",
    )?;
    let role = match text(&body, "role").trim() {
        "" => DEFAULT_ROLE,
        role if role.len() <= 64
            && role
                .chars()
                .all(|character| character.is_ascii_alphanumeric() || "_-".contains(character)) =>
        {
            role
        }
        _ => {
            return Err(ApiError::bad_request(
                "`role` is a role name: letters, digits, `_` and `-` (e.g. `user` or `admin`)",
            ));
        }
    };
    let mut connection = connection(state).await?;
    let mut transaction = begin(&mut connection).await?;
    inviter(state, &mut transaction, &credentials).await?;
    let mailer = mailer(state, "inviting")?;
    users_ready(state)?;
    let accounts = accounts_by_email(state, &mut transaction, &email).await?;
    let id = match accounts.as_slice() {
        [] => create_account(state, &mut transaction, &email, None, role).await?,
        [account] if account.password_hash.is_some() => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                format!("{email} already has an account with a password: they can sign in"),
            ));
        }
        // Invited again: a new link; the account keeps its role.
        [account] => account.id.clone(),
        _ => return Err(ambiguous(&email)),
    };
    let token = new_token();
    let digest = token_digest(&token);
    let issued = issue(
        state,
        &mut transaction,
        &NewCode {
            user_id: &id,
            purpose: INVITE,
            code_sha256: &digest,
            pending_password_hash: None,
            lifetime_seconds: INVITE_LIFETIME,
            max_per_hour: CODES_PER_HOUR,
        },
    )
    .await?;
    if !issued {
        return Err(too_many(&email));
    }
    commit(transaction).await?;
    mailer
        .send(invite_mail(state, &email, &token))
        .await
        .map_err(|reason| {
            ApiError::new(
                StatusCode::BAD_GATEWAY,
                format!(
                    "{email} is invited, but the mail with the link could not be sent: \
                     {reason}; invite again"
                ),
            )
        })?;
    Ok(json!({
        "success": true,
        "user_email": email,
        "role": role,
        "expires_in": INVITE_LIFETIME,
    }))
}

/// Who may invite: the service role, or a signed-in admin.
async fn inviter(
    state: &AppState,
    transaction: &mut Transaction<'_, Postgres>,
    credentials: &Credentials,
) -> Result<(), ApiError> {
    let only = "only an admin or the service role may invite users";
    let token = match credentials {
        Credentials::Service => return Ok(()),
        Credentials::Token(token) => token,
        Credentials::Nothing => {
            return Err(caller::unauthorized(format!(
                "{only}: send an admin's token (Authorization: Bearer <token>) or the service key"
            )));
        }
        Credentials::Invalid => {
            return Err(caller::unauthorized(
                "the credentials sent are neither this app's service key nor a bearer token",
            ));
        }
    };
    let id = state
        .auth
        .secret
        .verify(&state.app_id, token)
        .map_err(caller::unauthorized)?;
    let user = caller::read_user(state, transaction, &id)
        .await?
        .ok_or_else(|| {
            caller::unauthorized("the user this token was issued for no longer exists")
        })?;
    own_role(state, transaction).await?;
    if user.record.get(BuiltIn::Disabled.field_name()) == Some(&Value::Bool(true)) {
        return Err(caller::unauthorized(
            "the user this token was issued for is disabled",
        ));
    }
    if user.role.as_deref() != Some("admin") {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            format!("{only}; user {} is not an admin", user.email),
        ));
    }
    Ok(())
}

async fn sign_in_with_link(
    state: &AppState,
    app_id: &str,
    headers: &HeaderMap,
    pairs: &[(String, String)],
) -> Result<String, ApiError> {
    check_app(state, app_id)?;
    users_ready(state)?;
    let parameter = |name: &str| {
        pairs
            .iter()
            .rev()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    };
    // Where to go is checked before the token is spent.
    let back = return_to(
        parameter("from_url"),
        host(headers),
        state.accounts.public_origin.as_deref(),
    )?;
    let token = parameter("token").map(str::trim).unwrap_or_default();
    if token.is_empty() {
        return Err(ApiError::bad_request(
            "a sign-in link carries its one-time `token`",
        ));
    }
    let refused = || {
        caller::unauthorized(
            "this sign-in link is invalid, used or expired: ask for a new one, or reset the \
             password (auth/reset-password-request)",
        )
    };
    let digest = token_digest(token);
    let mut connection = connection(state).await?;
    let mut transaction = begin(&mut connection).await?;
    let invited = offbase_pg::serve::use_token(&mut transaction, &state.pg_schema, INVITE, &digest)
        .await
        .map_err(caller::database)?;
    let by_invitation = invited.is_some();
    let id = match invited {
        Some(id) => id,
        None => offbase_pg::serve::use_login_token(
            &mut transaction,
            &state.pg_schema,
            USERS_TABLE,
            &digest,
        )
        .await
        .map_err(caller::database)?
        .ok_or_else(refused)?,
    };
    let account = account_by_id(state, &mut transaction, &id)
        .await?
        .ok_or_else(refused)?;
    if account.disabled {
        return Err(disabled());
    }
    if by_invitation {
        // The mailed link proves the address.
        offbase_pg::serve::update_account(
            &mut transaction,
            &state.pg_schema,
            USERS_TABLE,
            &id,
            None,
            true,
        )
        .await
        .map_err(caller::database)?;
        mark_verified(state, &mut transaction, &id).await?;
    }
    let answer = signed_in(state, &mut transaction, &id).await?;
    commit(transaction).await?;
    let access_token = answer
        .get("access_token")
        .and_then(Value::as_str)
        .unwrap_or_default();
    Ok(with_token(&back, access_token))
}

// ---------------------------------------------------------------------------------------
// What the calls share.

fn check_app(state: &AppState, app_id: &str) -> Result<(), ApiError> {
    if app_id == state.app_id {
        Ok(())
    } else {
        Err(ApiError::not_found(format!("app `{app_id}` not found")))
    }
}

fn mailer<'s>(state: &'s AppState, what: &str) -> Result<&'s Mailer, ApiError> {
    state.accounts.mailer.as_ref().ok_or_else(|| {
        ApiError::not_served(format!(
            "{what} sends a mail, and this server has no SMTP server to send it through: start \
             `offbase serve` with --smtp-url (or OFFBASE_SERVE_SMTP_URL) and --mail-from"
        ))
    })
}

fn users_ready(state: &AppState) -> Result<(), ApiError> {
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

fn disabled() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "this user is disabled: a disabled user cannot sign in",
    )
}

fn ambiguous(email: &str) -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        format!(
            "more than one user has the email {email} (ignoring case): merge them in the users \
             table first"
        ),
    )
}

fn too_many(email: &str) -> ApiError {
    ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        format!(
            "{CODES_PER_HOUR} mails of this kind were sent to {email} in the last hour: try again \
             later"
        ),
    )
}

fn internal(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, message)
}

fn read_body(body: &Bytes) -> Result<Map<String, Value>, ApiError> {
    match serde_json::from_slice(body) {
        Ok(Value::Object(fields)) => Ok(fields),
        Ok(other) => Err(ApiError::bad_request(format!(
            "the request body must be a JSON object, found {}",
            offbase_model::json_kind(&other)
        ))),
        Err(error) => Err(ApiError::bad_request(format!(
            "the request body is not valid JSON: {error}"
        ))),
    }
}

/// A text field of the body (`""` when missing or not text).
fn text<'a>(body: &'a Map<String, Value>, name: &str) -> &'a str {
    body.get(name).and_then(Value::as_str).unwrap_or_default()
}

/// The mail address in field `name`: 400 saying `usage` when missing, or naming it when it is
/// no address.
fn address(body: &Map<String, Value>, name: &str, usage: &str) -> Result<String, ApiError> {
    let email = text(body, name).trim();
    if email.is_empty() {
        return Err(ApiError::bad_request(usage));
    }
    if !is_address(email) {
        return Err(ApiError::bad_request(format!(
            "`{name}` is not a mail address"
        )));
    }
    Ok(email.to_owned())
}

fn check_new_password(password: &str) -> Result<(), ApiError> {
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

/// A 6-digit code, every value as likely.
fn new_code() -> String {
    format!("{:06}", rand::random_range(0..1_000_000u32))
}

/// A token of 256 random bits, URL-safe.
fn new_token() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}

/// An ObjectId-like id, as a create makes one: 8 hex digits of the second, 16 random ones.
fn new_id(now: DateTime<Utc>) -> String {
    let seconds = u32::try_from(now.timestamp()).unwrap_or(u32::MAX);
    format!("{seconds:08x}{:016x}", rand::random::<u64>())
}

async fn hash_password(password: String) -> Result<String, ApiError> {
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

/// A read-write transaction in the server's own role (the users table is the server's, not
/// the access rules' roles').
async fn begin(connection: &mut PgConnection) -> Result<Transaction<'_, Postgres>, ApiError> {
    offbase_pg::serve::begin(connection, Access::ReadWrite)
        .await
        .map_err(caller::database)
}

async fn commit(transaction: Transaction<'_, Postgres>) -> Result<(), ApiError> {
    transaction.commit().await.map_err(|error| {
        caller::database(offbase_pg::PgError::Statement {
            statement: "COMMIT".to_owned(),
            message: error.to_string(),
        })
    })
}

/// Back to the server's own role after a step as the service role.
async fn own_role(
    state: &AppState,
    transaction: &mut Transaction<'_, Postgres>,
) -> Result<(), ApiError> {
    if state.secured {
        offbase_pg::serve::reset_role(transaction)
            .await
            .map_err(caller::database)?;
    }
    Ok(())
}

/// The accounts with this address, the address locked until the transaction ends (a
/// concurrent registration or invitation of it waits).
async fn accounts_by_email(
    state: &AppState,
    transaction: &mut Transaction<'_, Postgres>,
    email: &str,
) -> Result<Vec<Account>, ApiError> {
    offbase_pg::serve::lock_email(transaction, email)
        .await
        .map_err(caller::database)?;
    offbase_pg::serve::accounts_by_email(transaction, &state.pg_schema, USERS_TABLE, email)
        .await
        .map_err(caller::database)
}

async fn account_by_id(
    state: &AppState,
    transaction: &mut Transaction<'_, Postgres>,
    id: &str,
) -> Result<Option<Account>, ApiError> {
    offbase_pg::serve::account_by_id(transaction, &state.pg_schema, USERS_TABLE, id)
        .await
        .map_err(caller::database)
}

/// The one account of a lookup (none, or several sharing the address: no one).
fn single(accounts: Vec<Account>) -> Option<Account> {
    let mut accounts = accounts.into_iter();
    match (accounts.next(), accounts.next()) {
        (Some(account), None) => Some(account),
        _ => None,
    }
}

async fn issue(
    state: &AppState,
    transaction: &mut Transaction<'_, Postgres>,
    code: &NewCode<'_>,
) -> Result<bool, ApiError> {
    offbase_pg::serve::issue_code(transaction, &state.pg_schema, code)
        .await
        .map_err(caller::database)
}

/// The User entity's table and its id column.
fn user_table(state: &AppState) -> Result<(&Table, &str), ApiError> {
    let table = state
        .target
        .table_for_entity("User")
        .ok_or_else(|| internal("the plan has no table for the User entity"))?;
    let id = table
        .column_for_field(BuiltIn::Id.field_name())
        .ok_or_else(|| internal("the User table has no id column"))?;
    Ok((table, id.name.as_str()))
}

/// A new account: its users row without a password and, unless a User record already has the
/// address (its id is then kept), its User record. Its id.
async fn create_account(
    state: &AppState,
    transaction: &mut Transaction<'_, Postgres>,
    email: &str,
    full_name: Option<&str>,
    role: &str,
) -> Result<String, ApiError> {
    let (table, id_column) = user_table(state)?;
    let existing = match table.column_for_field(BuiltIn::Email.field_name()) {
        Some(email_column) => {
            caller::as_service(state, transaction).await?;
            let ids = offbase_pg::serve::ids_by_email(
                transaction,
                &state.pg_schema,
                &table.name,
                id_column,
                &email_column.name,
                email,
            )
            .await
            .map_err(caller::database)?;
            own_role(state, transaction).await?;
            ids
        }
        None => Vec::new(),
    };
    let id = match existing.as_slice() {
        [] => {
            let now = Utc::now();
            let id = new_id(now);
            let stamp = Value::String(format_stored(now));
            let mut record = Map::new();
            record.insert("id".to_owned(), Value::String(id.clone()));
            record.insert("created_date".to_owned(), stamp.clone());
            record.insert("updated_date".to_owned(), stamp);
            record.insert("email".to_owned(), Value::String(email.to_owned()));
            if let Some(full_name) = full_name {
                record.insert("full_name".to_owned(), Value::String(full_name.to_owned()));
            }
            record.insert("role".to_owned(), Value::String(role.to_owned()));
            record.insert("disabled".to_owned(), Value::Bool(false));
            record.insert("is_verified".to_owned(), Value::Bool(false));
            record.insert("app_id".to_owned(), Value::String(state.app_id.clone()));
            record.insert("is_service".to_owned(), Value::Bool(false));
            let row = user_row(state, table, &record)?;
            caller::as_service(state, transaction).await?;
            offbase_pg::serve::insert_row(transaction, &state.pg_schema, &table.name, &row)
                .await
                .map_err(user_write_refused)?;
            own_role(state, transaction).await?;
            id
        }
        [id] => id.clone(),
        _ => return Err(ambiguous(email)),
    };
    offbase_pg::serve::insert_account(
        transaction,
        &state.pg_schema,
        USERS_TABLE,
        &NewAccount {
            id: &id,
            email,
            full_name,
            role,
            app_id: &state.app_id,
        },
    )
    .await
    .map_err(caller::database)?;
    Ok(id)
}

/// The User row of `record` as a write stores it (the load's converter), by column name.
fn user_row(
    state: &AppState,
    table: &Table,
    record: &Map<String, Value>,
) -> Result<Value, ApiError> {
    let staged: Map<String, Value> = record
        .iter()
        .map(|(key, value)| (staged_key(key).into_owned(), value.clone()))
        .collect();
    let converter = EntityConverter::new(&state.target, table, state.relax);
    let converted = converter.convert(&staged).map_err(|rejection| {
        ApiError::bad_request(format!(
            "cannot store this User record: {}",
            rejection.message
        ))
    })?;
    let names = table.columns.iter().map(|column| column.name.as_str());
    Ok(row_json(names, &converted.row))
}

fn user_write_refused(error: WriteError) -> ApiError {
    match error {
        WriteError::Denied(message) => ApiError::new(
            StatusCode::FORBIDDEN,
            format!("the User record could not be written: {message}"),
        ),
        WriteError::Refused(message) | WriteError::Referenced(message) => {
            ApiError::bad_request(format!("cannot store this User record: {message}"))
        }
        WriteError::Database(error) => caller::database(error),
    }
}

/// Marks the User record of `id` verified (`is_verified`, `updated_date`), as the service role.
async fn mark_verified(
    state: &AppState,
    transaction: &mut Transaction<'_, Postgres>,
    id: &str,
) -> Result<(), ApiError> {
    let (table, id_column) = user_table(state)?;
    let Some(verified_column) = table.column_for_field(BuiltIn::IsVerified.field_name()) else {
        return Ok(());
    };
    let Some(user) = caller::read_user(state, transaction, id).await? else {
        return own_role(state, transaction).await;
    };
    let field = BuiltIn::IsVerified.field_name();
    if user.record.get(field) == Some(&Value::Bool(true)) {
        return own_role(state, transaction).await;
    }
    let mut record = user.record;
    record.insert(field.to_owned(), Value::Bool(true));
    record.insert(
        "updated_date".to_owned(),
        Value::String(format_stored(Utc::now())),
    );
    let row = user_row(state, table, &record)?;
    let mut columns = vec![verified_column.name.as_str()];
    if let Some(updated) = table.column_for_field(BuiltIn::UpdatedDate.field_name()) {
        columns.push(updated.name.as_str());
    }
    offbase_pg::serve::update_row(
        transaction,
        &state.pg_schema,
        &table.name,
        id_column,
        id,
        &columns,
        &row,
    )
    .await
    .map_err(user_write_refused)?;
    own_role(state, transaction).await
}

/// What a sign-in answers: a token for `id` and the user's record.
async fn signed_in(
    state: &AppState,
    transaction: &mut Transaction<'_, Postgres>,
    id: &str,
) -> Result<Value, ApiError> {
    let user = caller::read_user(state, transaction, id)
        .await?
        .ok_or_else(|| {
            caller::unauthorized(
                "this user is in the users table but not in the loaded User entity: load the \
                 User entity, or export the users again",
            )
        })?;
    own_role(state, transaction).await?;
    let token = state.auth.secret.issue(&state.app_id, id);
    Ok(json!({
        "access_token": token,
        "token_type": "Bearer",
        "user": Value::Object(user.record),
    }))
}

/// The signed-in user's id from a bearer token: 401 without one, 403 for the service key.
fn token_user(state: &AppState, headers: &HeaderMap, what: &str) -> Result<String, ApiError> {
    match state.credentials(headers) {
        Credentials::Token(token) => state
            .auth
            .secret
            .verify(&state.app_id, &token)
            .map_err(caller::unauthorized),
        Credentials::Service => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            format!("{what} takes the signed-in user's own token: the service key is no user"),
        )),
        Credentials::Nothing => Err(caller::unauthorized(format!(
            "{what} takes the signed-in user's token (Authorization: Bearer <token>)"
        ))),
        Credentials::Invalid => Err(caller::unauthorized(
            "the credentials sent are neither this app's service key nor a bearer token",
        )),
    }
}

// ---------------------------------------------------------------------------------------
// The mails.

/// `link_base` + `path`.
fn link(state: &AppState, path: &str) -> String {
    format!("{}{path}", state.accounts.link_base)
}

fn code_mail(state: &AppState, email: &str, code: &str) -> Mail {
    Mail {
        to: email.to_owned(),
        subject: format!("Your verification code for {}", state.accounts.app_name),
        body: format!(
            "Your verification code for {app}:\n\n    {code}\n\nIt works for {minutes} minutes. \
             If you did not ask for it, ignore this mail.\n",
            app = state.accounts.app_name,
            minutes = OTP_LIFETIME / 60,
        ),
    }
}

fn reset_mail(state: &AppState, email: &str, token: &str) -> Mail {
    Mail {
        to: email.to_owned(),
        subject: format!("Reset your password for {}", state.accounts.app_name),
        body: format!(
            "Someone asked to reset the password of your account on {app}.\n\n\
             Choose a new password here (the link works once, for {hours} hour):\n\
             {page}\n\n\
             Or give the app this reset token:\n\
             {token}\n\n\
             If you did not ask for it, ignore this mail: your password stays as it is.\n",
            app = state.accounts.app_name,
            hours = RESET_LIFETIME / 3600,
            page = link(state, &format!("/login#reset_token={token}")),
        ),
    }
}

fn invite_mail(state: &AppState, email: &str, token: &str) -> Mail {
    Mail {
        to: email.to_owned(),
        subject: format!("You are invited to {}", state.accounts.app_name),
        body: format!(
            "You are invited to {app}.\n\n\
             Sign in with this link (it works once, for {days} days):\n\
             {url}\n\n\
             To sign in later with a password, choose one with \"Forgot your password?\" on \
             the sign-in page.\n",
            app = state.accounts.app_name,
            days = INVITE_LIFETIME / (24 * 3600),
            url = link(
                state,
                &format!(
                    "/api/apps/{}/auth/login-token?token={token}&from_url=/",
                    state.app_id
                )
            ),
        ),
    }
}

/// Sends `mail` without making the caller wait: for the calls whose answer must not tell
/// whether a mail went out. A failure is noted on stderr, without the address or the body.
fn send_later(mailer: Mailer, mail: Mail, what: &'static str) {
    tokio::spawn(async move {
        if let Err(reason) = mailer.send(mail).await {
            eprintln!("offbase serve: a {what} mail could not be sent: {reason}");
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_six_digits_and_tokens_long() {
        for _ in 0..200 {
            let code = new_code();
            assert_eq!(code.len(), 6, "{code}");
            assert!(code.bytes().all(|byte| byte.is_ascii_digit()), "{code}");
        }
        let token = new_token();
        assert_eq!(token.len(), 43);
        assert_ne!(token, new_token());
        assert!(
            token
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_')
        );
    }

    #[test]
    fn passwords_have_bounds() {
        assert!(check_new_password("short").is_err());
        assert!(check_new_password("long enough").is_ok());
        assert!(check_new_password(&"x".repeat(73)).is_err());
        assert!(check_new_password(&"x".repeat(72)).is_ok());
    }

    #[test]
    fn one_account_or_none() {
        let account = |id: &str| Account {
            id: id.to_owned(),
            email: None,
            password_hash: Some("$2b$secret".to_owned()),
            disabled: false,
            is_verified: true,
        };
        assert_eq!(single(vec![]), None);
        assert_eq!(single(vec![account("a")]), Some(account("a")));
        assert_eq!(single(vec![account("a"), account("b")]), None);
        assert!(!format!("{:?}", account("a")).contains("secret"));
    }
}
