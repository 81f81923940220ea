//! Unit tests of the codes, tokens, password bounds and account lookups.

use super::codes::{new_code, new_token};
use super::passwords::check_new_password;
use super::store::single;
use offbase_pg::serve::Account;

#[test]
fn codes_are_six_digits_and_tokens_long() {
    for _ in 0..200 {
        let code = new_code();
        assert_eq!(code.len(), 6, "{code}");
        assert!(code.bytes().all(|byte| byte.is_ascii_digit()), "{code}");
    }
    let token = new_token();
    assert_eq!(token.len(), 43);
    assert_ne!(token, new_token());
    assert!(
        token
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_')
    );
}

#[test]
fn passwords_have_bounds() {
    assert!(check_new_password("short").is_err());
    assert!(check_new_password("long enough").is_ok());
    assert!(check_new_password(&"x".repeat(73)).is_err());
    assert!(check_new_password(&"x".repeat(72)).is_ok());
}

#[test]
fn one_account_or_none() {
    let account = |id: &str| Account {
        id: id.to_owned(),
        email: None,
        password_hash: Some("$2b$secret".to_owned()),
        disabled: false,
        is_verified: true,
    };
    assert_eq!(single(vec![]), None);
    assert_eq!(single(vec![account("a")]), Some(account("a")));
    assert_eq!(single(vec![account("a"), account("b")]), None);
    assert!(!format!("{:?}", account("a")).contains("secret"));
}
