//! The success bodies of the account calls.

use super::{CODE_LIFETIME, INVITE_LIFETIME};
use serde_json::{Map, Value, json};

/// `auth/register`: the code is on its way to `email`.
pub fn registered(email: &str) -> Value {
    json!({
        "success": true,
        "message": format!("a verification code was sent to {email}: verify it with auth/verify-otp"),
        "email": email,
        "expires_in": CODE_LIFETIME,
    })
}

/// `auth/resend-otp`: the same answer for every address, so it tells no one who has an account.
pub fn code_resent() -> Value {
    json!({
        "success": true,
        "message": "if this email has an account waiting for a code, a new code was sent to it",
        "expires_in": CODE_LIFETIME,
    })
}

/// `auth/reset-password-request`: the same answer for every address, so it tells no one who
/// has an account.
pub fn reset_requested() -> Value {
    json!({
        "success": true,
        "message": "if an account uses this email, a mail with a reset link was sent to it",
    })
}

/// `auth/reset-password`.
pub fn password_reset() -> Value {
    json!({"success": true, "message": "the password was reset: sign in with the new one"})
}

/// `auth/change-password`.
pub fn password_changed() -> Value {
    json!({"success": true, "message": "the password was changed"})
}

/// `users/invite-user`: `email` is invited as `role`.
pub fn invited(email: &str, role: &str) -> Value {
    json!({
        "success": true,
        "user_email": email,
        "role": role,
        "expires_in": INVITE_LIFETIME,
    })
}

/// A sign-in (`auth/verify-otp`, as `auth/login`): the new token and the user's record.
pub fn signed_in(access_token: &str, user: Map<String, Value>) -> Value {
    json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "user": Value::Object(user),
    })
}
