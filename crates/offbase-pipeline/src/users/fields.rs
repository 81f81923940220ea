//! Which fields of a user are secrets, and which secret is a password hash a sign-in provider
//! can take. Decided by the field's name (its words) and, for hashes, by the value's shape:
//! a value is never printed, whatever it is.

/// Words that make a field secret-looking wherever they stand in its name (`password_hash`,
/// `pinHash`, `totp_secret`, `reset_token`): its value stays out of every report, summary,
/// error and log, and out of every artefact that is not meant to carry a hash.
const SECRET_WORDS: [&str; 15] = [
    "password",
    "passwd",
    "pwd",
    "hash",
    "hashed",
    "secret",
    "secrets",
    "token",
    "tokens",
    "totp",
    "otp",
    "pin",
    "salt",
    "credential",
    "credentials",
];

/// Pairs of words that together make a field secret (`api_key`, `apiKey`, `private_key`).
const SECRET_PAIRS: [(&str, &str); 4] = [
    ("api", "key"),
    ("private", "key"),
    ("secret", "key"),
    ("access", "key"),
];

/// The words of a field name: split at `_`, `-`, `.`, spaces, digits and lower-to-upper case
/// changes, lowercased (`apiKeyEncrypted` → `api`, `key`, `encrypted`).
pub fn name_words(name: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut previous_lower = false;
    for character in name.chars() {
        if !character.is_alphabetic() {
            if !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
            previous_lower = false;
            continue;
        }
        if character.is_uppercase() && previous_lower && !current.is_empty() {
            words.push(std::mem::take(&mut current));
        }
        previous_lower = character.is_lowercase();
        current.extend(character.to_lowercase());
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

/// Whether a field's name makes it secret-looking (password, hash, secret, token, api key,
/// totp, pin, ...). Whole words only: `pinned`, `hashtag` and `spinner` are not secrets.
pub fn is_secret_field(name: &str) -> bool {
    let words = name_words(name);
    words
        .iter()
        .any(|word| SECRET_WORDS.contains(&word.as_str()))
        || words.windows(2).any(|pair| {
            SECRET_PAIRS
                .iter()
                .any(|(first, second)| pair[0] == *first && pair[1] == *second)
        })
}

/// Replaces the value of every secret-looking field inside `value` (at any depth) with `***`,
/// for reports and diffs that show records: such values never reach one. Which fields differ
/// is still said by name.
pub fn redact_secrets(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(fields) => {
            for (name, field) in fields.iter_mut() {
                if is_secret_field(name) && !field.is_null() {
                    *field = serde_json::Value::String("***".to_owned());
                } else {
                    redact_secrets(field);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(redact_secrets),
        _ => {}
    }
}

/// How much a secret field is like a sign-in credential: 0 for a password, 1 for a PIN, `None`
/// for any other secret (a TOTP seed, an API key, a token). A user signs in with the first
/// credential field in this order (then by name) that holds a bcrypt hash.
pub fn credential_rank(name: &str) -> Option<u8> {
    let words = name_words(name);
    let has = |wanted: &[&str]| words.iter().any(|word| wanted.contains(&word.as_str()));
    if has(&["totp", "otp", "token", "tokens", "salt"]) {
        return None;
    }
    if has(&["password", "passwd", "pwd"]) {
        Some(0)
    } else if has(&["pin"]) {
        Some(1)
    } else {
        None
    }
}

/// Whether a value is a bcrypt hash as PHP, OpenBSD and Node write it: `$2a$`, `$2b$` or
/// `$2y$`, a two-digit cost (04 to 31), then 53 characters of bcrypt's base-64 (22 of salt, 31
/// of hash): 60 in all.
pub fn is_bcrypt(value: &str) -> bool {
    let bytes = value.as_bytes();
    if bytes.len() != 60 {
        return false;
    }
    let prefix_ok =
        bytes.starts_with(b"$2a$") || bytes.starts_with(b"$2b$") || bytes.starts_with(b"$2y$");
    let cost_ok = bytes[4].is_ascii_digit()
        && bytes[5].is_ascii_digit()
        && bytes[6] == b'$'
        && (4..=31).contains(&((bytes[4] - b'0') * 10 + (bytes[5] - b'0')));
    prefix_ok
        && cost_ok
        && bytes[7..]
            .iter()
            .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'/'))
}

/// A bcrypt hash with the `$2b$` prefix where it had `$2y$` (PHP's name for the same
/// algorithm and output), for targets that document only `$2a$` and `$2b$` (Auth0).
pub fn bcrypt_2b(hash: &str) -> String {
    match hash.strip_prefix("$2y$") {
        Some(rest) => format!("$2b${rest}"),
        None => hash.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_split_into_words() {
        assert_eq!(name_words("apiKeyEncrypted"), ["api", "key", "encrypted"]);
        assert_eq!(name_words("password_hash"), ["password", "hash"]);
        assert_eq!(name_words("TOTP-secret2"), ["totp", "secret"]);
    }

    #[test]
    fn secret_looking_fields_by_whole_words() {
        for secret in [
            "password_hash",
            "passwordHash",
            "pin_hash",
            "totp_secret",
            "api_key_encrypted",
            "apiKey",
            "secret_key",
            "reset_token",
            "hashed_password",
            "otp",
            "recovery_credentials",
        ] {
            assert!(is_secret_field(secret), "{secret}");
        }
        for plain in [
            "pinned",
            "hashtag",
            "spinner",
            "shipping_address",
            "keyboard",
            "api_version",
            "full_name",
            "tokenizer_model",
        ] {
            assert!(!is_secret_field(plain), "{plain}");
        }
    }

    #[test]
    fn credentials_rank_passwords_before_pins() {
        assert_eq!(credential_rank("password_hash"), Some(0));
        assert_eq!(credential_rank("hashedPassword"), Some(0));
        assert_eq!(credential_rank("pin_hash"), Some(1));
        assert_eq!(credential_rank("totp_secret"), None);
        assert_eq!(credential_rank("password_reset_token"), None);
        assert_eq!(credential_rank("api_key"), None);
    }

    #[test]
    fn bcrypt_hashes_by_shape() {
        let hash = "$2b$10$nFguVi9LsCAcvTZFKQlRKeLVydo8ETv483lkNsSFI/Wl1Rz1Ypo1K";
        assert!(is_bcrypt(hash));
        assert!(is_bcrypt(&hash.replacen("$2b$", "$2y$", 1)));
        assert!(is_bcrypt(&hash.replacen("$2b$", "$2a$", 1)));
        assert!(!is_bcrypt(&hash.replacen("$2b$", "$2x$", 1)));
        assert!(!is_bcrypt(&hash.replacen("$10$", "$99$", 1)));
        assert!(!is_bcrypt(&hash[..59]));
        assert!(!is_bcrypt("5f4dcc3b5aa765d61d8327deb882cf99"));
        assert_eq!(
            bcrypt_2b(&hash.replacen("$2b$", "$2y$", 1)),
            hash,
            "$2y$ becomes $2b$"
        );
        assert_eq!(bcrypt_2b(hash), hash);
    }
}
