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
}
