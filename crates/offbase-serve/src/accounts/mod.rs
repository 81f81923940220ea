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
//!
//! The emulator answers these calls too, and a test requires the same answers from both: the
//! rules and texts they share (the numbers above, the requests' checks, the answers, the
//! refusals, the codes' making and digest, the way back after a sign-in) are
//! `offbase_base44::accounts`'. The submodules, each owning one part of the rest:
//! - `codes`: the codes and tokens mailed, issued into the codes table;
//! - `registration`: register, verify-otp and resend-otp;
//! - `passwords`: bcrypt hashes, reset (request and spend) and change;
//! - `invitations`: invite-user, and the login-token link that signs in once;
//! - `store`: the accounts as stored (users row and User record), the transaction, a sign-in;
//! - `checks`: what every call checks first (the app, SMTP, the users table, the caller), and
//!   the shared refusals answered as serve's errors;
//! - `mails`: the mails the calls send.

mod checks;
mod codes;
mod invitations;
mod mails;
mod passwords;
mod registration;
mod store;
#[cfg(test)]
mod tests;

/// Whether a password matches a bcrypt hash (off the request threads): sign-in checks too.
pub(crate) use passwords::password_matches;

use crate::ServeError;
use crate::login_page::redirect;
use crate::mail::Mailer;
use crate::routes::{SharedState, respond};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use offbase_pipeline::users::formats::postgres::TABLE as USERS_TABLE;
use sqlx::PgConnection;

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

// The handlers, as `routes` names them.

/// `POST .../auth/register` `{email, password, full_name?}`.
pub(crate) async fn register(
    State(state): State<SharedState>,
    Path(app_id): Path<String>,
    body: Bytes,
) -> Response {
    respond(registration::register_account(&state, &app_id, &body).await)
}

/// `POST .../auth/verify-otp` `{email, otp_code}`: `{access_token, user}`.
pub(crate) async fn verify_otp(
    State(state): State<SharedState>,
    Path(app_id): Path<String>,
    body: Bytes,
) -> Response {
    respond(registration::verify_code(&state, &app_id, &body).await)
}

/// `POST .../auth/resend-otp` `{email}`.
pub(crate) async fn resend_otp(
    State(state): State<SharedState>,
    Path(app_id): Path<String>,
    body: Bytes,
) -> Response {
    respond(registration::resend_code(&state, &app_id, &body).await)
}

/// `POST .../auth/reset-password-request` `{email}`.
pub(crate) async fn reset_password_request(
    State(state): State<SharedState>,
    Path(app_id): Path<String>,
    body: Bytes,
) -> Response {
    respond(passwords::request_reset(&state, &app_id, &body).await)
}

/// `POST .../auth/reset-password` `{reset_token, new_password}`.
pub(crate) async fn reset_password(
    State(state): State<SharedState>,
    Path(app_id): Path<String>,
    body: Bytes,
) -> Response {
    respond(passwords::reset(&state, &app_id, &body).await)
}

/// `POST .../auth/change-password` `{user_id, current_password, new_password}`.
pub(crate) async fn change_password(
    State(state): State<SharedState>,
    Path(app_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    respond(passwords::change(&state, &app_id, &headers, &body).await)
}

/// `POST .../users/invite-user` and `.../runtime/users/invite-user` `{user_email, role}`.
pub(crate) async fn invite_user(
    State(state): State<SharedState>,
    Path(app_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    respond(invitations::invite(&state, &app_id, &headers, &body).await)
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
    match invitations::sign_in_with_link(&state, &app_id, &headers, &pairs).await {
        Ok(location) => redirect(&location),
        Err(error) => error.into_response(),
    }
}
