//! The platform's API as offbase relies on it, each fact stated once (see the reference on
//! Base44's API: list limits and rate limits per plan): the list cap and default limit, the
//! free plan's allowances, and which query parameters each read defines, any other being an
//! equality filter. The client pages by these numbers, the emulator enforces them, the sync
//! paces itself by them, read translation caps by them, and the HAR reader reads requests by
//! the parameter rule.

use serde_json::{Map, Value};

/// The most records one list (or cursor-list) request returns: a larger `limit` is silently
/// cut to this.
pub const LIST_CAP: usize = 5000;

/// Records a list request returns when it gives no `limit`.
pub const DEFAULT_LIST_LIMIT: usize = 50;

/// The most records one bulk update request may change.
pub const BULK_UPDATE_MAX: usize = 500;

/// The most records one `update-many` request (`updateMany(query, data)`) updates: with more
/// matches, it updates this many and answers `has_more: true`, and the client calls again.
pub const UPDATE_MANY_BATCH: usize = 500;

/// The most records one `upsert` request (`upsert(records, {key})`) writes.
pub const UPSERT_MAX: usize = 500;

/// An allowance of requests per window, per app.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Allowance {
    pub requests: u32,
    pub window_seconds: u64,
}

/// The free plan's allowances, per operation class (paid plans get multiples of them). Over
/// an allowance the API answers 429 with `retry-after` in seconds.
pub mod free_plan {
    use super::Allowance;

    /// List, cursor list, count and trash listing share this one.
    pub const LIST: Allowance = Allowance {
        requests: 100,
        window_seconds: 60,
    };
    pub const GET: Allowance = Allowance {
        requests: 150,
        window_seconds: 60,
    };
    /// Create and bulk create.
    pub const CREATE: Allowance = Allowance {
        requests: 140,
        window_seconds: 60,
    };
    /// Update, bulk update and restore.
    pub const UPDATE: Allowance = Allowance {
        requests: 100,
        window_seconds: 60,
    };
    /// Delete and permanent delete.
    pub const DELETE: Allowance = Allowance {
        requests: 100,
        window_seconds: 30,
    };
}

/// The entity reads that take query parameters. Each defines some parameters; any other one
/// (a field name, or a parameter another read defines, such as `sort` on the count) is an
/// equality filter on the field of that name, whose condition [`equality_condition`] gives, and
/// all of them hold together with `q`. A get (`GET /entities/{Entity}/{id}`) ignores its
/// query parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadEndpoint {
    /// `GET /entities/{Entity}` and `GET /entities/{Entity}/trash`.
    List,
    /// `GET /entities/{Entity}/v2/list`.
    CursorList,
    /// `GET /entities/{Entity}/count`.
    Count,
}

impl ReadEndpoint {
    /// The query parameters this read defines.
    pub const fn parameters(self) -> &'static [&'static str] {
        match self {
            ReadEndpoint::List => &["q", "sort", "limit", "skip", "fields"],
            ReadEndpoint::CursorList => &["q", "sort", "limit", "cursor", "fields"],
            ReadEndpoint::Count => &["q"],
        }
    }

    /// Whether this read defines the parameter `name`; when it does not, the parameter is an
    /// equality filter.
    pub fn defines(self, name: &str) -> bool {
        self.parameters().contains(&name)
    }
}

/// The condition an equality parameter (`?field=text`) sets on its field. The value arrives as
/// text: it matches a field holding that string, or a number or boolean whose JSON text it is
/// (`?priority=2` is `{"$in": ["2", 2]}`, `?done=true` is `{"$in": ["true", true]}`).
pub fn equality_condition(text: &str) -> Value {
    let mut candidates = vec![Value::String(text.to_owned())];
    if let Ok(parsed @ (Value::Number(_) | Value::Bool(_))) = serde_json::from_str(text) {
        candidates.push(parsed);
    }
    let mut condition = Map::new();
    condition.insert("$in".to_owned(), Value::Array(candidates));
    Value::Object(condition)
}

/// What a request to the entity API presents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credentials {
    /// The app's key (`api_key: KEY` or `Authorization: Bearer KEY`).
    Key,
    /// A bearer token other than the key.
    Token(String),
    /// No `api_key` and no `Authorization` header.
    Nothing,
    /// A wrong `api_key`, or an `Authorization` header of another scheme.
    Invalid,
}

/// The credentials of a request, from the values of its `api_key` and `Authorization` headers
/// (as bytes), read as the platform reads them: the key wins (`is_key` says which text is the
/// key, in constant time), then a bearer token; any other `api_key` or `Authorization` is
/// invalid; none at all is an anonymous visitor. An `Authorization` value that is not visible
/// ASCII holds no bearer token. The emulator and `offbase serve` both read requests with it.
pub fn credentials(
    api_keys: &[&[u8]],
    authorizations: &[&[u8]],
    is_key: impl Fn(&[u8]) -> bool,
) -> Credentials {
    let bearers: Vec<&str> = authorizations
        .iter()
        .filter(|value| {
            value
                .iter()
                .all(|byte| *byte == b'\t' || (b' '..=b'~').contains(byte))
        })
        .filter_map(|value| std::str::from_utf8(value).ok())
        .filter_map(|value| value.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .collect();
    if api_keys.iter().any(|value| is_key(value))
        || bearers.iter().any(|token| is_key(token.as_bytes()))
    {
        return Credentials::Key;
    }
    if let Some(token) = bearers.iter().find(|token| !token.is_empty()) {
        return Credentials::Token((*token).to_owned());
    }
    if api_keys.is_empty() && authorizations.is_empty() {
        Credentials::Nothing
    } else {
        Credentials::Invalid
    }
}

/// The email (trimmed) and password of a sign-in body (`auth/login`'s
/// `{"email": ..., "password": ...}`); the message of a 400 when the body is not JSON or either
/// is missing or empty.
pub fn sign_in_body(body: &[u8]) -> Result<(String, String), String> {
    let request: Value = serde_json::from_slice(body)
        .map_err(|error| format!("the request body is not valid JSON: {error}"))?;
    let text = |name: &str| {
        request
            .get(name)
            .and_then(Value::as_str)
            .unwrap_or_default()
    };
    let (email, password) = (text("email").trim(), text("password"));
    if email.is_empty() || password.is_empty() {
        return Err("signing in takes `{\"email\": ..., \"password\": ...}`".to_owned());
    }
    Ok((email.to_owned(), password.to_owned()))
}

/// A write's body that must be one record (`what`: "a new record", "an update", ...); the
/// message of a 400 when it is not an object.
pub fn body_record<'a>(body: &'a Value, what: &str) -> Result<&'a Map<String, Value>, String> {
    body.as_object().ok_or_else(|| {
        format!(
            "{what} must be a JSON object of field names and values, found {}",
            offbase_model::json_kind(body)
        )
    })
}

/// A bulk write's body that must be an array of records (`what`: "a bulk create", ...); the
/// message of a 400 when it is not an array.
pub fn body_array<'a>(body: &'a Value, what: &str) -> Result<&'a Vec<Value>, String> {
    body.as_array().ok_or_else(|| {
        format!(
            "{what} takes a JSON array of records, found {}",
            offbase_model::json_kind(body)
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_read_defines_its_parameters_and_the_rest_are_equality_filters() {
        assert!(ReadEndpoint::List.defines("skip"));
        assert!(!ReadEndpoint::List.defines("cursor"));
        assert!(ReadEndpoint::CursorList.defines("cursor"));
        assert!(!ReadEndpoint::CursorList.defines("skip"));
        assert!(ReadEndpoint::Count.defines("q"));
        assert!(!ReadEndpoint::Count.defines("sort"));
        assert!(!ReadEndpoint::List.defines("status"));
        assert_eq!(
            equality_condition("2"),
            serde_json::json!({"$in": ["2", 2]})
        );
        assert_eq!(
            equality_condition("true"),
            serde_json::json!({"$in": ["true", true]})
        );
        assert_eq!(
            equality_condition("open"),
            serde_json::json!({"$in": ["open"]})
        );
        assert_eq!(
            equality_condition("[1]"),
            serde_json::json!({"$in": ["[1]"]})
        );
    }

    #[test]
    fn the_key_wins_then_a_token_and_nothing_is_anonymous() {
        /// The values of one header.
        type Values = &'static [&'static [u8]];
        let is_key = |text: &[u8]| text == b"secret";
        let cases: [(Values, Values, Credentials); 8] = [
            (&[b"secret"], &[], Credentials::Key),
            (&[], &[b"Bearer secret"], Credentials::Key),
            (&[], &[b"bearer  secret "], Credentials::Key),
            (&[b"nope"], &[b"Bearer secret"], Credentials::Key),
            (
                &[],
                &[b"Bearer a.b.c"],
                Credentials::Token("a.b.c".to_owned()),
            ),
            (&[], &[], Credentials::Nothing),
            (&[b"nope"], &[], Credentials::Invalid),
            (
                &[],
                &[b"Basic secret", b"Bearer \xc3\xa9"],
                Credentials::Invalid,
            ),
        ];
        for (api_keys, authorizations, expected) in cases {
            assert_eq!(credentials(api_keys, authorizations, is_key), expected);
        }
    }

    #[test]
    fn sign_in_bodies_and_write_bodies_are_checked() {
        assert_eq!(
            sign_in_body(br#"{"email": " a@b.c ", "password": "pw"}"#),
            Ok(("a@b.c".to_owned(), "pw".to_owned()))
        );
        for body in [
            &br#"{"email": "a@b.c"}"#[..],
            br#"{"email": " ", "password": "pw"}"#,
        ] {
            assert_eq!(
                sign_in_body(body),
                Err("signing in takes `{\"email\": ..., \"password\": ...}`".to_owned())
            );
        }
        assert!(sign_in_body(b"{").is_err_and(|message| message.starts_with("the request body")));
        let record = serde_json::json!({"a": 1});
        assert!(body_record(&record, "an update").is_ok());
        assert_eq!(
            body_array(&record, "a bulk create"),
            Err("a bulk create takes a JSON array of records, found an object".to_owned())
        );
    }
}
