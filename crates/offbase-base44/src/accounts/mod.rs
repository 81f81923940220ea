//! The platform's account rules and texts, for the SDK's account calls (`auth/register`,
//! `auth/verify-otp`, `auth/resend-otp`, `auth/reset-password-request`, `auth/reset-password`,
//! `auth/change-password`, `users/invite-user`, `auth/login-token`): how long a code or token
//! lives and how many a user gets, what a password and a mail address must be, how each call's
//! request is read and checked, what each answers, and the refusals' statuses and messages.
//!
//! Both `offbase serve` (over PostgreSQL) and the emulator (in memory) answer these calls, and a
//! test drives the published SDK against both and requires the same answers: so the rules and
//! texts live here once, with no HTTP and no storage. Each server keeps what differs (where
//! accounts and codes are kept, how mails go out, who the caller is) and turns a [`Refusal`]
//! into its own error answer.
//!
//! - `requests`: each call's request body (or query) read and checked, in the order the
//!   platform refuses in;
//! - `answers`: the success bodies;
//! - `refusals`: the refusals several calls give, as [`Refusal`];
//! - `secrets`: the codes and tokens mailed, made at random and kept as their SHA-256;
//! - `address`: what a mail address is;
//! - `links`: the links mailed, and where a sign-in may send a browser back to.

mod address;
mod answers;
mod links;
mod refusals;
mod requests;
mod secrets;
#[cfg(test)]
mod tests;

pub use address::is_address;
pub use answers::{
    code_resent, invited, password_changed, password_reset, registered, reset_requested, signed_in,
};
pub use links::{
    DEFAULT_RETURN, invite_link, origin_of, parameter, reset_link, return_to, with_token,
};
pub use refusals::Refusal;
pub use requests::{
    CodeRequest, Invitation, LoginLink, PasswordChange, Registration, Reset, ResetRequest,
    Verification, read_body,
};
pub use secrets::{matches_digest, new_code, new_token, same_bytes, token_digest};

/// The role of a registered user, and of an invited one by default.
pub const DEFAULT_ROLE: &str = "user";

/// How long a verification code works, in seconds.
pub const CODE_LIFETIME: u32 = 10 * 60;
/// Tries a verification code allows.
pub const CODE_TRIES: u16 = 5;
/// How long a password reset token works, in seconds.
pub const RESET_LIFETIME: u32 = 60 * 60;
/// How long an invitation's link works, in seconds.
pub const INVITE_LIFETIME: u32 = 7 * 24 * 60 * 60;
/// Codes or tokens of one kind mailed to one account in an hour, at most.
pub const CODES_PER_HOUR: u16 = 5;

/// Passwords: at least this many characters, at most bcrypt's 72 bytes (it reads no further).
pub const MIN_PASSWORD_CHARS: usize = 8;
pub const MAX_PASSWORD_BYTES: usize = 72;

/// A new password within the bounds, or why not (400).
pub fn check_new_password(password: &str) -> Result<(), Refusal> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(Refusal::bad_request(format!(
            "a password has at least {MIN_PASSWORD_CHARS} characters"
        )));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(Refusal::bad_request(format!(
            "a password has at most {MAX_PASSWORD_BYTES} bytes (bcrypt reads no further)"
        )));
    }
    Ok(())
}
