//! The codes and tokens mailed to users: made at random, kept only as their SHA-256 (what a
//! store or a leak of it holds cannot be typed in), and compared in constant time.

use sha2::{Digest, Sha256};

/// A 6-digit verification code, every value as likely.
pub fn new_code() -> String {
    format!("{:06}", rand::random_range(0..1_000_000u32))
}

/// A reset or invitation token: 256 random bits in hex, so it goes into a URL as it is.
pub fn new_token() -> String {
    hex(&rand::random::<[u8; 32]>())
}

/// The SHA-256 of a code or token, in lowercase hex: what is kept of it. The same digest as
/// the users export's one-time login tokens, so one lookup finds both.
pub fn token_digest(secret: &str) -> String {
    hex(&Sha256::digest(secret.as_bytes()))
}

/// Whether `secret` is the code or token kept as `digest` (a [`token_digest`]), in constant
/// time.
pub fn matches_digest(secret: &str, digest: &str) -> bool {
    same_bytes(token_digest(secret).as_bytes(), digest.as_bytes())
}

/// Equality that takes the same time whatever the first differing byte.
pub fn same_bytes(left: &[u8], right: &[u8]) -> bool {
    left.len() == right.len()
        && left
            .iter()
            .zip(right)
            .fold(0u8, |difference, (left, right)| difference | (left ^ right))
            == 0
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}
