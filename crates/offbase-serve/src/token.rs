//! Sign-in tokens: JSON Web Tokens signed with HMAC-SHA256 (RFC 7519, `alg: HS256`) under the
//! server's secret. The claims are the user's id (`sub`), the app (`app_id`), when it was
//! issued and when it expires (`iat`, `exp`, seconds). A token says who; the user's email,
//! role and whether they are disabled are read from the User table on every request, so a
//! role change or a disabled user takes effect at once.

/// Equality that takes the same time whatever the first differing byte (the signatures here,
/// the service key and file URLs' signatures elsewhere), shared with the account codes.
pub(crate) use offbase_base44::accounts::same_bytes;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How long a token signs its user in.
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(30 * 24 * 60 * 60);

/// The secret tokens are signed with. Never printed.
#[derive(Clone)]
pub struct TokenSecret(Vec<u8>);

impl fmt::Debug for TokenSecret {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("TokenSecret(<redacted>)")
    }
}

impl TokenSecret {
    pub fn new(secret: &[u8]) -> Self {
        TokenSecret(secret.to_vec())
    }

    /// A random secret: tokens then last as long as the process.
    pub fn random() -> Self {
        let bytes: [u8; 32] = rand::random();
        TokenSecret(bytes.to_vec())
    }

    fn signature(&self, message: &[u8]) -> Vec<u8> {
        // HMAC takes a key of any length.
        match Hmac::<Sha256>::new_from_slice(&self.0) {
            Ok(mut mac) => {
                mac.update(message);
                mac.finalize().into_bytes().to_vec()
            }
            Err(_) => Vec::new(),
        }
    }

    /// A token signing in `user_id` of `app_id` from now for [`TOKEN_LIFETIME`].
    pub fn issue(&self, app_id: &str, user_id: &str) -> String {
        let now = unix_seconds(SystemTime::now());
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
        let claims = json!({
            "sub": user_id,
            "app_id": app_id,
            "iat": now,
            "exp": now.saturating_add(TOKEN_LIFETIME.as_secs()),
        });
        let claims = URL_SAFE_NO_PAD.encode(claims.to_string());
        let signed = format!("{header}.{claims}");
        let signature = URL_SAFE_NO_PAD.encode(self.signature(signed.as_bytes()));
        format!("{signed}.{signature}")
    }

    /// The signature (base64url) of a signed file URL: `path` readable until `expires` (Unix
    /// seconds). Its signed text starts apart from a token's (which never holds a newline), so
    /// neither can stand for the other.
    pub(crate) fn sign_file_url(&self, path: &str, expires: u64) -> String {
        URL_SAFE_NO_PAD
            .encode(self.signature(format!("offbase-file\n{path}\n{expires}").as_bytes()))
    }

    /// The user id a token signs in, when this secret signed it for `app_id` and it has not
    /// expired; why not otherwise.
    pub fn verify(&self, app_id: &str, token: &str) -> Result<String, &'static str> {
        let mut parts = token.split('.');
        let (Some(header), Some(claims), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err("the token is not a JSON Web Token");
        };
        let expected = self.signature(format!("{header}.{claims}").as_bytes());
        let given = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| "the token's signature is not base64url")?;
        let header: Value = decode_part(header).ok_or("the token's header is not JSON")?;
        if header.get("alg").and_then(Value::as_str) != Some("HS256") {
            return Err("the token is not signed with HS256");
        }
        if expected.is_empty() || !same_bytes(&expected, &given) {
            return Err("the token was not signed by this server");
        }
        let claims: Value = decode_part(claims).ok_or("the token's claims are not JSON")?;
        if claims.get("app_id").and_then(Value::as_str) != Some(app_id) {
            return Err("the token was issued for another app");
        }
        let expires = claims.get("exp").and_then(Value::as_u64).unwrap_or(0);
        if expires <= unix_seconds(SystemTime::now()) {
            return Err("the token has expired: sign in again");
        }
        claims
            .get("sub")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or("the token names no user")
    }
}

fn decode_part(part: &str) -> Option<Value> {
    let bytes = URL_SAFE_NO_PAD.decode(part).ok()?;
    serde_json::from_slice(&bytes).ok()
}

fn unix_seconds(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_verifies_only_with_its_secret_and_app_until_it_expires() {
        let secret = TokenSecret::new(b"secret");
        let token = secret.issue("app1", "user-1");
        assert_eq!(secret.verify("app1", &token), Ok("user-1".to_owned()));
        assert!(TokenSecret::new(b"other").verify("app1", &token).is_err());
        assert_eq!(
            secret.verify("app2", &token),
            Err("the token was issued for another app")
        );
        // Claims changed under the same signature.
        let parts: Vec<&str> = token.split('.').collect();
        let forged_claims = URL_SAFE_NO_PAD
            .encode(json!({"sub": "admin", "app_id": "app1", "exp": u64::MAX}).to_string());
        let forged = format!("{}.{forged_claims}.{}", parts[0], parts[2]);
        assert_eq!(
            secret.verify("app1", &forged),
            Err("the token was not signed by this server")
        );
        // `alg: none` is refused whatever the signature.
        let none = URL_SAFE_NO_PAD.encode(br#"{"alg":"none"}"#);
        assert!(
            secret
                .verify("app1", &format!("{none}.{}.", parts[1]))
                .is_err()
        );
        for garbage in ["", "a.b", "a.b.c.d", "é.é.é"] {
            assert!(secret.verify("app1", garbage).is_err(), "{garbage}");
        }
        assert!(!format!("{secret:?}").contains("secret\""));
    }

    #[test]
    fn an_expired_token_is_refused() {
        let secret = TokenSecret::new(b"secret");
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
        let claims =
            URL_SAFE_NO_PAD.encode(json!({"sub": "u", "app_id": "a", "exp": 1}).to_string());
        let signed = format!("{header}.{claims}");
        let signature = URL_SAFE_NO_PAD.encode(secret.signature(signed.as_bytes()));
        assert_eq!(
            secret.verify("a", &format!("{signed}.{signature}")),
            Err("the token has expired: sign in again")
        );
    }
}
