//! The codes and tokens mailed to users: what each is for, how long it lives, how many tries
//! and mails it allows; made at random and issued into `offbase_auth_codes` (as its SHA-256).
//! The calls check and spend them there (`offbase_pg::serve::{try_code, use_code,
//! use_token}`).

use crate::caller;
use crate::error::ApiError;
use crate::routes::AppState;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use offbase_pg::serve::NewCode;
use sqlx::{Postgres, Transaction};

/// A registration's code: how long it lives and how many tries it allows.
pub(super) const OTP_LIFETIME: u32 = 10 * 60;
pub(super) const OTP_TRIES: i32 = 5;
/// A reset token's life.
pub(super) const RESET_LIFETIME: u32 = 60 * 60;
/// An invitation's life.
pub(super) const INVITE_LIFETIME: u32 = 7 * 24 * 60 * 60;
/// Codes of one kind mailed to one account in an hour, at most.
pub(super) const CODES_PER_HOUR: i32 = 5;

/// What a code in `offbase_auth_codes` is for.
pub(super) const VERIFY: &str = "verify_email";
pub(super) const RESET: &str = "reset_password";
pub(super) const INVITE: &str = "invite";

/// A 6-digit code, every value as likely.
pub(super) fn new_code() -> String {
    format!("{:06}", rand::random_range(0..1_000_000u32))
}

/// A token of 256 random bits, URL-safe.
pub(super) fn new_token() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}

pub(super) async fn issue(
    state: &AppState,
    transaction: &mut Transaction<'_, Postgres>,
    code: &NewCode<'_>,
) -> Result<bool, ApiError> {
    offbase_pg::serve::issue_code(transaction, &state.pg_schema, code)
        .await
        .map_err(caller::database)
}
