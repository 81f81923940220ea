//! Who a request is from: the app's API key (the service role, which bypasses access rules), a
//! signed-in user (a bearer token this emulator issued for a record of the app's `User` data),
//! or an anonymous visitor (no credentials at all). Owns reading the credentials of a request
//! and the token scheme.
//!
//! A user token is `ob1.<user id in hex>.<HMAC-SHA256 in hex>`, the HMAC keyed with the API key
//! over the app id and the user id: stateless, tied to the app, and not guessable without the
//! key. Tokens do not expire; a token whose user no longer exists, or is `disabled`, is refused.

use crate::store::Store;
use axum::http::{HeaderMap, HeaderName, HeaderValue, header};
use offbase_base44::accounts::same_bytes;
pub(crate) use offbase_base44::api::Credentials;
use offbase_base44::rls::User;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::fmt;

/// The first part of every user token (the scheme's version).
const TOKEN_PREFIX: &str = "ob1";

/// Who a request is from.
#[derive(Debug, Clone)]
pub(crate) enum Caller {
    /// The app's API key: the service role, no access rules.
    Service,
    /// A signed-in user, as their `User` record read when the request arrived.
    User(Box<User>),
    /// No credentials.
    Anonymous,
}

impl Caller {
    /// The user rules are checked for; `None` for the service role and anonymous visitors.
    pub(crate) fn user(&self) -> Option<&User> {
        match self {
            Caller::User(user) => Some(user),
            Caller::Service | Caller::Anonymous => None,
        }
    }

    /// Who, for refusal messages (an email, never a token).
    pub(crate) fn describe(&self) -> String {
        match self {
            Caller::Service => "the service role".to_owned(),
            Caller::User(user) => format!(
                "user {}",
                user.email().or_else(|| user.id()).unwrap_or("(no email)")
            ),
            Caller::Anonymous => "an anonymous visitor".to_owned(),
        }
    }
}

/// The API key and app id user tokens are made with. Never printed.
#[derive(Clone)]
pub(crate) struct SessionKey {
    key: String,
    app_id: String,
}

impl fmt::Debug for SessionKey {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("SessionKey")
            .field("key", &"<redacted>")
            .field("app_id", &self.app_id)
            .finish()
    }
}

impl SessionKey {
    pub(crate) fn new(key: &str, app_id: &str) -> Self {
        SessionKey {
            key: key.to_owned(),
            app_id: app_id.to_owned(),
        }
    }

    /// Whether `text` is the API key.
    pub(crate) fn is_key(&self, text: &[u8]) -> bool {
        same_bytes(text, self.key.as_bytes())
    }

    /// The token of the user with this id.
    pub(crate) fn token(&self, user_id: &str) -> String {
        user_token(&self.key, &self.app_id, user_id)
    }

    /// The user id a token was issued for, when this emulator issued it.
    pub(crate) fn user_id(&self, token: &str) -> Option<String> {
        let mut parts = token.trim().split('.');
        let (Some(TOKEN_PREFIX), Some(id), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return None;
        };
        let id = String::from_utf8(hex_decode(id)?).ok()?;
        let expected = hex(&signature_of(&self.key, &self.app_id, &id));
        same_bytes(expected.as_bytes(), signature.as_bytes()).then_some(id)
    }
}

/// The bearer token that signs in the user `user_id` of app `app_id` on an emulator started
/// with `api_key` (what `POST /api/apps/{app_id}/auth/test-token` answers).
pub fn user_token(api_key: &str, app_id: &str, user_id: &str) -> String {
    format!(
        "{TOKEN_PREFIX}.{}.{}",
        hex(user_id.as_bytes()),
        hex(&signature_of(api_key, app_id, user_id))
    )
}

fn signature_of(key: &str, app_id: &str, user_id: &str) -> [u8; 32] {
    hmac_sha256(
        key.as_bytes(),
        format!("offbase-emulator user token\n{app_id}\n{user_id}").as_bytes(),
    )
}

/// The credentials of a request: the key wins, then a bearer token; any other `api_key` or
/// `Authorization` header is invalid; none at all is an anonymous visitor
/// ([`offbase_base44::api::credentials`]).
pub(crate) fn credentials(headers: &HeaderMap, sessions: &SessionKey) -> Credentials {
    let values = |name: HeaderName| {
        headers
            .get_all(name)
            .iter()
            .map(HeaderValue::as_bytes)
            .collect::<Vec<_>>()
    };
    offbase_base44::api::credentials(
        &values(HeaderName::from_static("api_key")),
        &values(header::AUTHORIZATION),
        |text| sessions.is_key(text),
    )
}

/// The user a token signs in, from the live `User` data; the reason when none.
pub(crate) fn signed_in(
    store: &Store,
    sessions: &SessionKey,
    token: &str,
) -> Result<User, &'static str> {
    let id = sessions
        .user_id(token)
        .ok_or("the token was not issued by this emulator")?;
    let record = store
        .user_record(&id)
        .ok_or("the user this token was issued for no longer exists")?;
    if record.get("disabled") == Some(&Value::Bool(true)) {
        return Err("the user this token was issued for is disabled");
    }
    Ok(User::from_record(record.clone()))
}

/// HMAC-SHA256 (RFC 2104).
fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    const BLOCK: usize = 64;
    let mut block = [0u8; BLOCK];
    if key.len() > BLOCK {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(block.map(|byte| byte ^ 0x36));
    inner.update(message);
    let inner = inner.finalize();
    let mut outer = Sha256::new();
    outer.update(block.map(|byte| byte ^ 0x5c));
    outer.update(inner);
    outer.finalize().into()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn hex_decode(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !text.is_ascii() {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|index| u8::from_str_radix(text.get(index..index + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_the_rfc_4231_vectors() {
        assert_eq!(
            hex(&hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // A key longer than the block is hashed first (test case 6).
        assert_eq!(
            hex(&hmac_sha256(
                &[0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First"
            )),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn tokens_verify_only_with_the_key_and_app_they_were_made_with() {
        let sessions = SessionKey::new("secret", "app1");
        let token = sessions.token("user-1");
        assert!(token.starts_with("ob1."));
        assert_eq!(sessions.user_id(&token), Some("user-1".to_owned()));
        assert_eq!(token, user_token("secret", "app1", "user-1"));
        assert_eq!(SessionKey::new("other", "app1").user_id(&token), None);
        assert_eq!(SessionKey::new("secret", "app2").user_id(&token), None);
        // Another user's id with this signature, a cut signature, garbage.
        let forged = token.replacen(&hex(b"user-1"), &hex(b"user-2"), 1);
        assert_eq!(sessions.user_id(&forged), None);
        assert_eq!(sessions.user_id(&token[..token.len() - 2]), None);
        for text in ["", "ob1", "ob1..", "ob1.zz.00", "x.y.z.w", "é"] {
            assert_eq!(sessions.user_id(text), None, "{text}");
        }
        assert!(!format!("{sessions:?}").contains("secret"));
    }

    #[test]
    fn the_key_wins_then_a_token_and_nothing_is_anonymous() {
        let sessions = SessionKey::new("secret", "app1");
        let headers = |pairs: &[(&'static str, &'static str)]| {
            let mut headers = HeaderMap::new();
            for (name, value) in pairs {
                headers.append(*name, HeaderValue::from_static(value));
            }
            headers
        };
        let cases = [
            (headers(&[("api_key", "secret")]), Credentials::Key),
            (
                headers(&[("authorization", "Bearer secret")]),
                Credentials::Key,
            ),
            (
                headers(&[("authorization", "bearer  secret ")]),
                Credentials::Key,
            ),
            (
                headers(&[("api_key", "nope"), ("authorization", "Bearer secret")]),
                Credentials::Key,
            ),
            (
                headers(&[("authorization", "Bearer ob1.aa.bb")]),
                Credentials::Token("ob1.aa.bb".to_owned()),
            ),
            (headers(&[]), Credentials::Nothing),
            (headers(&[("x-api-key", "secret")]), Credentials::Nothing),
            (headers(&[("api_key", "secrets")]), Credentials::Invalid),
            (headers(&[("api_key", "")]), Credentials::Invalid),
            (
                headers(&[("authorization", "Basic secret")]),
                Credentials::Invalid,
            ),
        ];
        for (headers, expected) in cases {
            assert_eq!(credentials(&headers, &sessions), expected, "{headers:?}");
        }
    }
}
