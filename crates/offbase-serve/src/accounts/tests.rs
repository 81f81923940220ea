//! Unit tests of the account lookups and of what serve keeps that the shared rules must match
//! (the shared codes, password bounds and addresses are tested in `offbase_base44::accounts`).

use super::store::single;
use offbase_pg::serve::Account;

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

/// The shared address rules are lettre's (which sends the mails), but for the domains only
/// its IDNA mapping makes valid: those are refused.
#[test]
fn addresses_are_taken_as_lettre_takes_them() {
    for address in [
        "ann@example.com",
        "x+tag@sub.example.org",
        "\"first.last\"@example.com",
        "me@[127.0.0.1]",
        "root@localhost",
        "jörg@bücher.example",
        "a@[]",
        "a@::1",
        "Ann <ann@example.com>",
        "a..b@example.com",
        "a@example.com,b@example.com",
        "\"a\"b\"@example.com",
    ] {
        assert_eq!(
            offbase_base44::accounts::is_address(address),
            crate::mail::is_address(address),
            "{address}"
        );
    }
    assert!(crate::mail::is_address("a@☃.example"));
    assert!(!offbase_base44::accounts::is_address("a@☃.example"));
}
