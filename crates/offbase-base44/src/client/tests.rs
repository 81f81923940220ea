//! Unit tests of the client: key and app id checks, redaction, `retry-after` and the wait cap.

use super::retry::{human_wait, parse_retry_after};
use super::*;
use tokio::time::Instant;

fn config(key: &str) -> ClientConfig {
    ClientConfig::new(
        "http://127.0.0.1:9",
        "0dad9f07cd1e58f3fd183368",
        ApiKey::new(key),
    )
}

#[test]
fn a_key_a_header_cannot_carry_is_refused_when_the_client_is_built() {
    for (key, problem) in [
        ("secret-one\nsecret-two", "a line break at character 11"),
        ("secret-key\n", "a line break at the end"),
        ("\rsecret-key", "a line break at the start"),
        ("secret\u{7}key", "a control character at character 7"),
        ("secret-kéy", "a character outside ASCII at character 9"),
    ] {
        let Err(error) = Client::new(config(key)) else {
            panic!("{key:?} was accepted");
        };
        let message = error.to_string();
        assert!(matches!(error, ClientError::InvalidKey { .. }), "{message}");
        assert!(message.contains(problem), "{message}");
        assert!(message.contains("cannot carry"), "{message}");
        assert!(!message.contains("secret"), "{message}");
    }
    assert!(Client::new(config("a plain key\twith tab")).is_ok());
}

#[test]
fn an_app_id_a_header_cannot_carry_is_refused_when_the_client_is_built() {
    let mut config = config("key");
    config.app_id = "0dad9f07\n".to_owned();
    let Err(error) = Client::new(config) else {
        panic!("accepted");
    };
    assert!(matches!(error, ClientError::InvalidAppId { .. }), "{error}");
}

#[test]
fn the_key_is_blanked_out_of_bodies_and_requests() {
    let key = "echo-key-7d41c0b2e9f85a63";
    let Ok(client) = Client::new(config(key)) else {
        panic!("client");
    };
    // The key straddling the 200-character cut must not leave a prefix behind.
    let body = format!(
        "{}{key} and {key}\n{{\"api_key\":\"{key}\"}}",
        "x".repeat(190)
    );
    let snippet = client.snippet(body.as_bytes());
    assert!(!snippet.contains("7d41"), "{snippet}");
    assert!(snippet.contains("***"), "{snippet}");
    let request = client.describe("/api/x", &[("q", format!("{{\"id\":\"{key}\"}}"))]);
    assert!(!request.contains(key), "{request}");
    // As JSON escapes it, too.
    assert_eq!(redact_key(r#"{"k":"a\"b"}"#, "a\"b"), r#"{"k":"***"}"#);
    assert_eq!(redact_key("nothing to hide", ""), "nothing to hide");
}

#[test]
fn retry_after_of_any_length_parses_without_panicking() {
    assert_eq!(parse_retry_after(" 2 "), Some(Duration::from_secs(2)));
    assert_eq!(
        parse_retry_after("999999"),
        Some(Duration::from_secs(999_999))
    );
    assert_eq!(parse_retry_after("1e300"), Some(Duration::MAX));
    assert_eq!(parse_retry_after("-1"), None);
    assert_eq!(parse_retry_after("NaN"), None);
    assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
    assert_eq!(human_wait(Duration::from_secs(999_999)), "999999 s");
    assert_eq!(human_wait(Duration::from_millis(1500)), "1.5 s");
}

#[test]
fn the_retry_wait_cap_defaults_to_two_minutes() {
    let mut config = config("key");
    assert_eq!(config.max_retry_wait, DEFAULT_MAX_RETRY_WAIT);
    // However long a cap is asked for, deadlines computed from it cannot overflow.
    config.max_retry_wait = Duration::MAX;
    let Ok(client) = Client::new(config) else {
        panic!("client");
    };
    assert_eq!(client.config.max_retry_wait, LONGEST_WAIT);
    assert!(Instant::now().checked_add(LONGEST_WAIT).is_some());
}
