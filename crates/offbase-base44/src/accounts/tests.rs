//! The unit tests of `accounts`: codes and tokens, password bounds, addresses, the requests'
//! checks and their order, the way back after a sign-in.

use super::*;
use serde_json::json;

fn body(value: serde_json::Value) -> Vec<u8> {
    value.to_string().into_bytes()
}

#[test]
fn codes_are_six_digits_and_tokens_long() {
    for _ in 0..200 {
        let code = new_code();
        assert_eq!(code.len(), 6, "{code}");
        assert!(code.bytes().all(|byte| byte.is_ascii_digit()), "{code}");
    }
    let token = new_token();
    assert_eq!(token.len(), 64);
    assert_ne!(token, new_token());
    assert!(
        token.bytes().all(|byte| byte.is_ascii_hexdigit()),
        "{token}"
    );
}

#[test]
fn secrets_are_kept_as_their_sha256() {
    assert_eq!(
        token_digest("abc"),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    assert!(matches_digest("abc", &token_digest("abc")));
    assert!(!matches_digest("abd", &token_digest("abc")));
    assert!(!matches_digest("abc", ""));
    assert!(same_bytes(b"key", b"key"));
    assert!(!same_bytes(b"key", b"kez"));
    assert!(!same_bytes(b"key", b"keys"));
}

#[test]
fn passwords_have_bounds() {
    assert!(check_new_password("short").is_err());
    assert!(check_new_password("long enough").is_ok());
    assert!(check_new_password(&"x".repeat(73)).is_err());
    assert!(check_new_password(&"x".repeat(72)).is_ok());
    // Characters, not bytes, for the lower bound.
    assert!(check_new_password("ééééééé").is_err());
    assert!(check_new_password("éééééééé").is_ok());
}

#[test]
fn addresses() {
    for good in [
        "a@b.c",
        "ann@example.com",
        "new.person@example.com",
        "x+tag@sub.example.org",
        "o'hara@example.com",
        "\"first.last\"@example.com",
        "me@[127.0.0.1]",
        "me@[IPv6:::1]",
        "root@localhost",
        "ana@ex_ample.com",
        "jörg@bücher.example",
    ] {
        assert!(is_address(good), "{good}");
    }
    for bad in [
        "",
        "plain",
        "@example.com",
        "a@",
        "a b@example.com",
        "Ann <ann@example.com>",
        "<a@example.com>",
        "a@b@c",
        ".a@example.com",
        "a.@example.com",
        "a..b@example.com",
        "\"\"@example.com",
        "\"a\"b\"@example.com",
        "a@-example.com",
        "a@example-.com",
        "a@example..com",
        "a@example.com.",
        "a@☃.example",
        "a@example.com,b@example.com",
    ] {
        assert!(!is_address(bad), "{bad}");
    }
    let long_local = format!("{}@example.com", "a".repeat(65));
    let long_label = format!("a@{}.com", "b".repeat(64));
    assert!(!is_address(&long_local) && !is_address(&long_label));
}

#[test]
fn requests_are_checked_in_order() {
    assert_eq!(
        Registration::read(b"[1]")
            .err()
            .map(|refusal| refusal.message),
        Some("the request body must be a JSON object, found an array".to_owned())
    );
    // The address before the password.
    let answer = Registration::read(&body(json!({"email": "nobody", "password": "x"})));
    assert_eq!(
        answer
            .err()
            .map(|refusal| (refusal.status, refusal.message)),
        Some((400, "`email` is not a mail address".to_owned()))
    );
    let registration = Registration::read(&body(
        json!({"email": " ann@example.com ", "password": "long enough", "full_name": "  "}),
    ));
    assert_eq!(
        registration
            .as_ref()
            .map(|it| (it.email.as_str(), it.full_name.clone())),
        Ok(("ann@example.com", None))
    );

    // A code typed as a number is the same code.
    let verification = Verification::read(&body(json!({"email": "a@b.c", "otp_code": 123456})));
    assert_eq!(verification.map(|it| it.code), Ok("123456".to_owned()));
    assert!(Verification::read(&body(json!({"email": "a@b.c"}))).is_err());

    // Another user's id is refused before the passwords are looked at.
    let change = PasswordChange::read(&body(json!({"user_id": "u2"})), "u1");
    assert_eq!(change.err().map(|refusal| refusal.status), Some(403));
    let change = PasswordChange::read(&body(json!({"user_id": "u1"})), "u1");
    assert_eq!(change.err().map(|refusal| refusal.status), Some(400));

    let reset = Reset::read(&body(
        json!({"reset_token": " t ", "new_password": "short"}),
    ));
    assert!(
        reset
            .err()
            .is_some_and(|refusal| refusal.message.contains("at least 8"))
    );

    let invitation = Invitation::read(&body(json!({"user_email": "a@b.c"})));
    assert_eq!(invitation.map(|it| it.role), Ok(DEFAULT_ROLE.to_owned()));
    let invitation = Invitation::read(&body(json!({"user_email": "a@b.c", "role": "x y"})));
    assert!(invitation.is_err());
}

#[test]
fn nothing_secret_is_printed() {
    let registration = Registration::read(&body(
        json!({"email": "a@b.c", "password": "hunter2secret"}),
    ));
    let reset = Reset::read(&body(
        json!({"reset_token": "token-secret", "new_password": "hunter2secret"}),
    ));
    let pairs = [("token".to_owned(), "token-secret".to_owned())];
    let link = LoginLink::read(&pairs, None, None);
    let printed = format!("{registration:?} {reset:?} {link:?}");
    assert!(!printed.contains("secret"), "{printed}");
}

#[test]
fn sign_ins_go_back_only_to_this_site() {
    const HOST: Option<&str> = Some("app.example.com");
    let ok = |url: &str| return_to(Some(url), HOST, None);
    assert_eq!(return_to(None, HOST, None).ok().as_deref(), Some("/"));
    assert_eq!(return_to(Some(" "), HOST, None).ok().as_deref(), Some("/"));
    assert_eq!(ok("/tasks?id=1").ok().as_deref(), Some("/tasks?id=1"));
    assert!(ok("https://app.example.com/tasks").is_ok());
    assert!(ok("http://APP.example.com/").is_ok());
    for refused in [
        "https://evil.example/",
        "//evil.example/",
        "/\\evil.example",
        "/a b",
        "https://app.example.com@evil.example/",
        "https://app.example.com.evil.example/",
        "javascript:alert(1)",
        "data:text/html,hi",
        "tasks",
        "/tasks\nSet-Cookie: a=b",
        "ftp://app.example.com/",
    ] {
        assert!(ok(refused).is_err(), "{refused}");
    }
    // Without a Host, only paths and the public URL's origin.
    assert!(return_to(Some("https://app.example.com/"), None, None).is_err());
    assert!(
        return_to(
            Some("https://app.example.com/x"),
            Some("127.0.0.1:8044"),
            Some("https://app.example.com")
        )
        .is_ok()
    );
}

#[test]
fn a_link_checks_where_it_goes_before_its_token() {
    let pairs = |items: &[(&str, &str)]| -> Vec<(String, String)> {
        items
            .iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
            .collect()
    };
    let elsewhere = LoginLink::read(&pairs(&[("from_url", "https://evil.example/")]), None, None);
    assert!(
        elsewhere
            .err()
            .is_some_and(|refusal| refusal.message.contains("from_url"))
    );
    let without = LoginLink::read(&pairs(&[("from_url", "/a")]), None, None);
    assert!(
        without
            .err()
            .is_some_and(|refusal| refusal.message.contains("`token`"))
    );
    // The last of a repeated parameter.
    let link = LoginLink::read(&pairs(&[("token", "a"), ("token", " b ")]), None, None);
    assert_eq!(
        link.map(|link| (link.token, link.back)),
        Ok(("b".to_owned(), DEFAULT_RETURN.to_owned()))
    );
}

#[test]
fn the_token_goes_into_the_query_before_the_fragment() {
    assert_eq!(with_token("/", "t.o.k"), "/?access_token=t.o.k");
    assert_eq!(
        with_token("https://a.b/p?x=1#top", "t"),
        "https://a.b/p?x=1&access_token=t#top"
    );
    assert_eq!(
        invite_link("http://h", "app1", "t"),
        "http://h/api/apps/app1/auth/login-token?token=t&from_url=/"
    );
    assert_eq!(reset_link("http://h", "t"), "http://h/login#reset_token=t");
}
