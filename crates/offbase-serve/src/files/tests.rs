//! Unit tests of names, keys, signatures and the keys a `file_uri` names.

use super::names::{MAX_NAME, plain_key, plain_segment, safe_file_name};
use super::serve::key_of;
use super::signed::private_keys;
use axum::http::Uri;

#[test]
fn file_names_become_plain_names_and_keys_stay_plain() {
    for (sent, kept) in [
        ("lamp.png", "lamp.png"),
        ("my photo (1).JPG", "my_photo_1_.JPG"),
        ("../../etc/passwd", "passwd"),
        ("..\\..\\boot.ini", "boot.ini"),
        ("..", "file"),
        ("", "file"),
        (".env", "env"),
        ("фото.jpg", "_.jpg"),
        ("a\0b\nc.txt", "a_b_c.txt"),
    ] {
        let safe = safe_file_name(sent);
        assert_eq!(safe, kept, "{sent:?}");
        assert!(plain_key(&format!("public/app/abc_{safe}")));
    }
    let long = format!("{}.pdf", "x".repeat(300));
    let kept = safe_file_name(&long);
    assert_eq!(kept.len(), MAX_NAME);
    assert!(kept.ends_with(".pdf"));
    for hostile in [
        "",
        "/etc/passwd",
        "public/../x",
        "public//x",
        "a\\b",
        "./x",
        "a\nb",
    ] {
        assert!(!plain_key(hostile), "{hostile:?}");
    }
    assert!(plain_segment("6650e44a00000000000000a0"));
    for bad in ["", ".", "..", "a/b", "a b"] {
        assert!(!plain_segment(bad), "{bad:?}");
    }
}

#[test]
fn request_paths_name_keys_as_sent() {
    let key = |path: &str| key_of(&path.parse::<Uri>().unwrap_or_default());
    assert_eq!(
        key("/files/public/app/abc_lamp.png"),
        Some("public/app/abc_lamp.png".to_owned())
    );
    assert_eq!(
        key("/files/public/app/a%20b.png"),
        Some("public/app/a%20b.png".to_owned())
    );
    for hostile in [
        "/files/public/../private/app/x.pdf",
        "/files/public/app/..",
        "/files/public//x",
        "/files/public/app/x.png.offbase-partial",
    ] {
        assert_eq!(key(hostile), None, "{hostile}");
    }
}

#[test]
fn file_url_signatures_hold_the_key_the_expiry_and_the_secret() {
    let secret = crate::TokenSecret::new(b"secret");
    let signature = secret.sign_file_url("private/app/abc_x.pdf", 100);
    assert_eq!(signature.len(), 43);
    assert_eq!(
        signature,
        secret.sign_file_url("private/app/abc_x.pdf", 100)
    );
    for other in [
        secret.sign_file_url("private/app/abc_y.pdf", 100),
        secret.sign_file_url("private/app/abc_x.pdf", 101),
        crate::TokenSecret::new(b"other").sign_file_url("private/app/abc_x.pdf", 100),
    ] {
        assert_ne!(signature, other);
    }
}

#[test]
fn a_platform_file_uri_names_the_copy_files_copy_made() {
    let keys = private_keys("private/uploads/9f9f9f9f9_contract.pdf");
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[0], "private/uploads/9f9f9f9f9_contract.pdf");
    assert!(keys[1].starts_with("private/") && keys[1].ends_with("_9f9f9f9f9_contract.pdf"));
    // Not a plain key: only the copy's.
    assert_eq!(private_keys("private/../../etc/passwd").len(), 1);
    assert_eq!(private_keys("gs://x/y.pdf").len(), 1);
}
