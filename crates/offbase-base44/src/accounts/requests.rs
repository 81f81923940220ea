//! Each account call's request, read and checked. The checks run in the platform's order (an
//! answer names the first thing wrong), and both servers run them at the same point of a call,
//! so the same request is refused alike. The texts given (passwords, codes, tokens) stay out of
//! debug output.

use super::links::{parameter, return_to};
use super::{DEFAULT_ROLE, Refusal, check_new_password, is_address};
use serde_json::{Map, Value};
use std::fmt;

/// Stands for a secret in debug output.
const REDACTED: &str = "<redacted>";

/// The request body as a JSON object, or why not (400).
pub fn read_body(body: &[u8]) -> Result<Map<String, Value>, Refusal> {
    match serde_json::from_slice(body) {
        Ok(Value::Object(fields)) => Ok(fields),
        Ok(other) => Err(Refusal::bad_request(format!(
            "the request body must be a JSON object, found {}",
            offbase_model::json_kind(&other)
        ))),
        Err(error) => Err(Refusal::bad_request(format!(
            "the request body is not valid JSON: {error}"
        ))),
    }
}

/// A text field of the body (`""` when missing or not text).
fn text<'a>(body: &'a Map<String, Value>, name: &str) -> &'a str {
    body.get(name).and_then(Value::as_str).unwrap_or_default()
}

/// The mail address in field `name`, trimmed: 400 saying `usage` when missing, or naming the
/// field when it is no address.
fn address(body: &Map<String, Value>, name: &str, usage: &str) -> Result<String, Refusal> {
    let email = text(body, name).trim();
    if email.is_empty() {
        return Err(Refusal::bad_request(usage));
    }
    if !is_address(email) {
        return Err(Refusal::bad_request(format!(
            "`{name}` is not a mail address"
        )));
    }
    Ok(email.to_owned())
}

/// `auth/register` `{email, password, full_name?}`.
#[derive(Clone, PartialEq, Eq)]
pub struct Registration {
    pub email: String,
    pub password: String,
    /// Trimmed; `None` when missing or blank.
    pub full_name: Option<String>,
}

impl Registration {
    pub fn read(body: &[u8]) -> Result<Self, Refusal> {
        let body = read_body(body)?;
        let email = address(
            &body,
            "email",
            "registering takes `{\"email\": ..., \"password\": ...}`",
        )?;
        let password = text(&body, "password");
        check_new_password(password)?;
        let full_name = Some(text(&body, "full_name").trim())
            .filter(|name| !name.is_empty())
            .map(str::to_owned);
        Ok(Registration {
            email,
            password: password.to_owned(),
            full_name,
        })
    }
}

impl fmt::Debug for Registration {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("Registration")
            .field("email", &self.email)
            .field("password", &REDACTED)
            .field("full_name", &self.full_name)
            .finish()
    }
}

/// `auth/verify-otp` `{email, otp_code}`.
#[derive(Clone, PartialEq, Eq)]
pub struct Verification {
    /// Trimmed, not checked as an address: a wrong one finds no account, and is refused as a
    /// wrong code is.
    pub email: String,
    pub code: String,
}

impl Verification {
    pub fn read(body: &[u8]) -> Result<Self, Refusal> {
        let body = read_body(body)?;
        let email = text(&body, "email").trim().to_owned();
        // A code typed as a number is the same code.
        let code = match body.get("otp_code") {
            Some(Value::Number(number)) => number.to_string(),
            Some(Value::String(text)) => text.trim().to_owned(),
            _ => String::new(),
        };
        if email.is_empty() || code.is_empty() {
            return Err(Refusal::bad_request(
                "verifying takes `{\"email\": ..., \"otp_code\": ...}`",
            ));
        }
        Ok(Verification { email, code })
    }
}

impl fmt::Debug for Verification {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("Verification")
            .field("email", &self.email)
            .field("code", &REDACTED)
            .finish()
    }
}

/// `auth/resend-otp` `{email}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeRequest {
    pub email: String,
}

impl CodeRequest {
    pub fn read(body: &[u8]) -> Result<Self, Refusal> {
        let body = read_body(body)?;
        let email = address(&body, "email", "resending a code takes `{\"email\": ...}`")?;
        Ok(CodeRequest { email })
    }
}

/// `auth/reset-password-request` `{email}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResetRequest {
    pub email: String,
}

impl ResetRequest {
    pub fn read(body: &[u8]) -> Result<Self, Refusal> {
        let body = read_body(body)?;
        let email = address(&body, "email", "a reset request takes `{\"email\": ...}`")?;
        Ok(ResetRequest { email })
    }
}

/// `auth/reset-password` `{reset_token, new_password}`.
#[derive(Clone, PartialEq, Eq)]
pub struct Reset {
    /// Trimmed.
    pub token: String,
    pub password: String,
}

impl Reset {
    pub fn read(body: &[u8]) -> Result<Self, Refusal> {
        let body = read_body(body)?;
        let token = text(&body, "reset_token").trim();
        let password = text(&body, "new_password");
        if token.is_empty() {
            return Err(Refusal::bad_request(
                "resetting takes `{\"reset_token\": ..., \"new_password\": ...}`",
            ));
        }
        check_new_password(password)?;
        Ok(Reset {
            token: token.to_owned(),
            password: password.to_owned(),
        })
    }
}

impl fmt::Debug for Reset {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("Reset")
            .field("token", &REDACTED)
            .field("password", &REDACTED)
            .finish()
    }
}

/// `auth/change-password` `{user_id, current_password, new_password}`, of the signed-in user.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordChange {
    pub current_password: String,
    pub new_password: String,
}

impl PasswordChange {
    /// The change `body` asks for `signed_in` (the user id its token signs in): a `user_id`
    /// naming anyone else is refused (403) before the passwords are looked at.
    pub fn read(body: &[u8], signed_in: &str) -> Result<Self, Refusal> {
        let body = read_body(body)?;
        let named = text(&body, "user_id");
        if !named.is_empty() && named != signed_in {
            return Err(Refusal::forbidden(
                "a user changes only their own password: `user_id` is not the signed-in user",
            ));
        }
        let current = text(&body, "current_password");
        let password = text(&body, "new_password");
        if current.is_empty() {
            return Err(Refusal::bad_request(
                "changing a password takes `{\"user_id\": ..., \"current_password\": ..., \
                 \"new_password\": ...}`",
            ));
        }
        check_new_password(password)?;
        Ok(PasswordChange {
            current_password: current.to_owned(),
            new_password: password.to_owned(),
        })
    }
}

impl fmt::Debug for PasswordChange {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("PasswordChange")
            .field("current_password", &REDACTED)
            .field("new_password", &REDACTED)
            .finish()
    }
}

/// `users/invite-user` `{user_email, role?}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invitation {
    pub email: String,
    /// [`DEFAULT_ROLE`] when none is given.
    pub role: String,
}

impl Invitation {
    pub fn read(body: &[u8]) -> Result<Self, Refusal> {
        let body = read_body(body)?;
        let email = address(
            &body,
            "user_email",
            "inviting takes `{\"user_email\": ..., \"role\": ...}`",
        )?;
        let role = match text(&body, "role").trim() {
            "" => DEFAULT_ROLE,
            role if role.len() <= 64
                && role.chars().all(|character| {
                    character.is_ascii_alphanumeric() || "_-".contains(character)
                }) =>
            {
                role
            }
            _ => {
                return Err(Refusal::bad_request(
                    "`role` is a role name: letters, digits, `_` and `-` (e.g. `user` or `admin`)",
                ));
            }
        };
        Ok(Invitation {
            email,
            role: role.to_owned(),
        })
    }
}

/// `auth/login-token?token=...&from_url=...`: the link that signs in once.
#[derive(Clone, PartialEq, Eq)]
pub struct LoginLink {
    /// Trimmed.
    pub token: String,
    /// Where the browser goes once signed in (see [`return_to`]).
    pub back: String,
}

impl LoginLink {
    /// The link's query `pairs` read: `from_url` is checked first, so a link sending the browser
    /// elsewhere is refused before its token is spent. `host` and `public_origin` as
    /// [`return_to`] takes them.
    pub fn read(
        pairs: &[(String, String)],
        host: Option<&str>,
        public_origin: Option<&str>,
    ) -> Result<Self, Refusal> {
        let back = return_to(parameter(pairs, "from_url"), host, public_origin)?;
        let token = parameter(pairs, "token").map(str::trim).unwrap_or_default();
        if token.is_empty() {
            return Err(Refusal::bad_request(
                "a sign-in link carries its one-time `token`",
            ));
        }
        Ok(LoginLink {
            token: token.to_owned(),
            back,
        })
    }
}

impl fmt::Debug for LoginLink {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("LoginLink")
            .field("token", &REDACTED)
            .field("back", &self.back)
            .finish()
    }
}
