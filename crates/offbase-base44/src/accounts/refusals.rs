//! The refusals of the account calls: an HTTP status number and the message, as plain values
//! (each server turns them into its own error answer).

use super::{CODE_LIFETIME, CODE_TRIES, CODES_PER_HOUR};
use std::fmt;

/// A refused account call: the status to answer with and the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The HTTP status: 400, 401, 403, 409 or 429.
    pub status: u16,
    pub message: String,
}

impl fmt::Display for Refusal {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{} {}", self.status, self.message)
    }
}

impl std::error::Error for Refusal {}

impl Refusal {
    pub const BAD_REQUEST: u16 = 400;
    pub const UNAUTHORIZED: u16 = 401;
    pub const FORBIDDEN: u16 = 403;
    pub const CONFLICT: u16 = 409;
    pub const TOO_MANY_REQUESTS: u16 = 429;

    pub fn new(status: u16, message: impl Into<String>) -> Self {
        Refusal {
            status,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Refusal::new(Refusal::BAD_REQUEST, message)
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Refusal::new(Refusal::UNAUTHORIZED, message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Refusal::new(Refusal::FORBIDDEN, message)
    }

    /// A disabled user's account call (403).
    pub fn disabled() -> Self {
        Refusal::forbidden("this user is disabled: a disabled user cannot sign in")
    }

    /// Several accounts share `email` (409); `remedy` says where to merge them, which is where
    /// each server keeps accounts.
    pub fn ambiguous(email: &str, remedy: &str) -> Self {
        Refusal::new(
            Refusal::CONFLICT,
            format!("more than one user has the email {email} (ignoring case): {remedy}"),
        )
    }

    /// [`CODES_PER_HOUR`] mails of a kind went to `email` this hour (429).
    pub fn too_many(email: &str) -> Self {
        Refusal::new(
            Refusal::TOO_MANY_REQUESTS,
            format!(
                "{CODES_PER_HOUR} mails of this kind were sent to {email} in the last hour: try \
                 again later"
            ),
        )
    }

    /// Registering an address whose account has a password (409).
    pub fn already_registered(email: &str) -> Self {
        Refusal::new(
            Refusal::CONFLICT,
            format!(
                "{email} is already registered: sign in, or reset the password \
                 (auth/reset-password-request)"
            ),
        )
    }

    /// Inviting an address whose account has a password (409).
    pub fn already_signs_in(email: &str) -> Self {
        Refusal::new(
            Refusal::CONFLICT,
            format!("{email} already has an account with a password: they can sign in"),
        )
    }

    /// A verification code that is wrong, spent, out of tries or expired, or an address with
    /// no one account (400): all alike, so the answer tells no one which.
    pub fn wrong_code() -> Self {
        Refusal::bad_request(format!(
            "the code is wrong or has expired (a code allows {CODE_TRIES} tries and lasts {} \
             minutes): ask for a new one with auth/resend-otp",
            CODE_LIFETIME / 60
        ))
    }

    /// A reset token that is unknown, spent or expired (400).
    pub fn wrong_reset_token() -> Self {
        Refusal::bad_request(
            "the reset token is invalid, used or expired: ask for a new one with \
             auth/reset-password-request",
        )
    }

    /// A sign-in link's token that is unknown, spent or expired (401).
    pub fn wrong_link() -> Self {
        Refusal::unauthorized(
            "this sign-in link is invalid, used or expired: ask for a new one, or reset the \
             password (auth/reset-password-request)",
        )
    }

    /// Changing the password of an account without one (400).
    pub fn no_password_yet() -> Self {
        Refusal::bad_request(
            "this user has no password yet: set one with a reset (auth/reset-password-request)",
        )
    }

    /// A change whose current password does not match (400).
    pub fn wrong_current_password() -> Self {
        Refusal::bad_request("the current password is not right")
    }

    /// `what` (a call for the signed-in user) sent with the service key (403).
    pub fn service_key_is_no_user(what: &str) -> Self {
        Refusal::forbidden(format!(
            "{what} takes the signed-in user's own token: the service key is no user"
        ))
    }

    /// `what` (a call for the signed-in user) sent without credentials (401).
    pub fn no_user_token(what: &str) -> Self {
        Refusal::unauthorized(format!(
            "{what} takes the signed-in user's token (Authorization: Bearer <token>)"
        ))
    }

    /// Credentials that are neither the service key nor a bearer token (401).
    pub fn unknown_credentials() -> Self {
        Refusal::unauthorized(
            "the credentials sent are neither this app's service key nor a bearer token",
        )
    }

    /// An invitation sent without credentials (401).
    pub fn inviter_unknown() -> Self {
        Refusal::unauthorized(format!(
            "{ONLY_INVITERS}: send an admin's token (Authorization: Bearer <token>) or the \
             service key"
        ))
    }

    /// An invitation sent by a user who is no admin (403).
    pub fn inviter_not_admin(email: &str) -> Self {
        Refusal::forbidden(format!("{ONLY_INVITERS}; user {email} is not an admin"))
    }
}

const ONLY_INVITERS: &str = "only an admin or the service role may invite users";
