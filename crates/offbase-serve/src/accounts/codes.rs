//! The codes and tokens mailed to users, issued into `offbase_auth_codes` (as their SHA-256)
//! with their life and the hour's allowance. Their numbers, making and digest are
//! `offbase_base44::accounts`'; the calls check and spend them in the table
//! (`offbase_pg::serve::{try_code, use_code, use_token}`).

use crate::caller;
use crate::error::ApiError;
use crate::routes::AppState;
use offbase_pg::serve::NewCode;
use sqlx::{Postgres, Transaction};

/// What a code in `offbase_auth_codes` is for.
pub(super) const VERIFY: &str = "verify_email";
pub(super) const RESET: &str = "reset_password";
pub(super) const INVITE: &str = "invite";

/// Issues `code`: `false` when the hour's allowance of its kind is spent (nothing issued).
pub(super) async fn issue(
    state: &AppState,
    transaction: &mut Transaction<'_, Postgres>,
    code: &NewCode<'_>,
) -> Result<bool, ApiError> {
    offbase_pg::serve::issue_code(transaction, &state.pg_schema, code)
        .await
        .map_err(caller::database)
}
