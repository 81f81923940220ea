//! The cursor list, `GET .../{Entity}/v2/list` (the SDK's `list(options)` and
//! `filter(query, options)`): one keyset page of records, `{"items": [...], "next_cursor":
//! "..." | null, "has_more": bool}`, read as the emulator reads it.
//!
//! - Parameters: `q`, `sort` (default `-created_date`, newest first), `limit` (default 50, the
//!   emulator's; 0 or more than 5000 means 5000), `fields`, `cursor`; any other parameter is an
//!   equality filter, as on the other reads.
//! - The order is the sort field, then `id` in the same direction (`offbase_sql::query::page_sql`),
//!   so every record has one place and a page starts right after the last record of the one
//!   before: a record deleted (or added) between pages shifts nothing.
//! - The cursor carries the walk (`q`, `sort`, `fields`, the equality parameters) and where
//!   the page ended: a later page needs only `cursor` (and `limit`); a parameter sent again
//!   with it must repeat the cursor's, else 400, as is a cursor that is not one of ours or was
//!   issued for another app or entity. It is URL-safe base64 (no padding) of a JSON object
//!   (`{"v": 1, "app", "entity", "q", "sort", "fields", "equals": [[name, value]], "after":
//!   [sort value, id]}`), opaque to clients and trusted by nothing: the filter it carries is
//!   parsed again as `q` is, and the position reaches the SQL only as a typed literal, after
//!   `page_sql` checked that the sort field's column can hold it.
//! - `distinct` (the SDK's distinct values of a field) is not served: 501 naming it.
//!
//! The page runs in a read-only transaction as the caller, so the access rules decide what it
//! holds (an anonymous visitor the rules hide everything from gets an empty last page).

use crate::error::ApiError;
use crate::params::{ReadParams, project};
use crate::reads::read_rows;
use crate::routes::{AppState, SharedState, entity, respond};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use offbase_base44::api::ReadEndpoint;
use offbase_base44::query::parse_sort;
use offbase_pipeline::compare::canonical::platform_record;
use offbase_sql::query::{
    DEFAULT_LIMIT, LIST_CAP, PageError, PagePosition, page_sql, take_page_position,
};
use serde_json::{Map, Value};

/// The order of a walk that gives no `sort`: newest first.
const DEFAULT_SORT: &str = "-created_date";
/// The cursor format's version: a cursor of another is refused.
const CURSOR_VERSION: u64 = 1;

/// `GET .../{Entity}/v2/list`.
pub(crate) async fn list_page(
    State(state): State<SharedState>,
    Path((app_id, entity)): Path<(String, String)>,
    headers: HeaderMap,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Response {
    respond(read_page(&state, &headers, &app_id, &entity, pairs).await)
}

/// The parameters of one request, as given.
#[derive(Debug, Default)]
struct Given {
    q: Option<String>,
    sort: Option<String>,
    limit: Option<u64>,
    fields: Option<String>,
    cursor: Option<String>,
    /// Whether `distinct` was asked for.
    distinct: bool,
    /// Parameters the endpoint does not define: equality filters, in request order.
    equals: Vec<(String, String)>,
}

impl Given {
    /// Splits `pairs` (for a repeated defined parameter the last wins).
    fn read(pairs: Vec<(String, String)>) -> Result<Self, ApiError> {
        let mut given = Given::default();
        for (name, value) in pairs {
            if name == "distinct" {
                given.distinct = true;
                continue;
            }
            if !ReadEndpoint::CursorList.defines(&name) {
                given.equals.push((name, value));
                continue;
            }
            match name.as_str() {
                "q" => given.q = Some(value),
                "sort" => given.sort = Some(value),
                "limit" => given.limit = Some(read_limit(&value)?),
                "fields" => given.fields = Some(value),
                "cursor" => given.cursor = Some(value),
                _ => {}
            }
        }
        Ok(given)
    }

    /// The records a page holds: the default without `limit`, the cap for 0 or more.
    fn page_size(&self) -> u64 {
        match self.limit {
            None => DEFAULT_LIMIT.min(LIST_CAP),
            Some(0) => LIST_CAP,
            Some(limit) => limit.min(LIST_CAP),
        }
    }
}

fn read_limit(value: &str) -> Result<u64, ApiError> {
    value.trim().parse::<u64>().map_err(|_| {
        ApiError::bad_request(format!(
            "`limit` must be a whole number of 0 or more, found `{value}`"
        ))
    })
}

/// What selects the records of a walk, page after page: the cursor carries it.
#[derive(Debug, Clone, PartialEq)]
struct Walk {
    /// `q` as compact JSON ([`normalized_q`]); `None`: no `q`.
    q: Option<String>,
    /// The sort, as `field` or `-field`.
    sort: String,
    /// `fields` as given.
    fields: Option<String>,
    equals: Vec<(String, String)>,
}

/// A cursor: the walk, and where its last page ended.
#[derive(Debug, Clone, PartialEq)]
struct Cursor {
    app: String,
    entity: String,
    walk: Walk,
    after: PagePosition,
}

impl Cursor {
    fn encode(&self) -> String {
        let walk = &self.walk;
        let text = |text: &Option<String>| text.clone().map_or(Value::Null, Value::String);
        let mut object = Map::new();
        object.insert("v".to_owned(), Value::from(CURSOR_VERSION));
        object.insert("app".to_owned(), Value::String(self.app.clone()));
        object.insert("entity".to_owned(), Value::String(self.entity.clone()));
        object.insert("q".to_owned(), text(&walk.q));
        object.insert("sort".to_owned(), Value::String(walk.sort.clone()));
        object.insert("fields".to_owned(), text(&walk.fields));
        object.insert(
            "equals".to_owned(),
            Value::Array(
                walk.equals
                    .iter()
                    .map(|(name, value)| {
                        Value::Array(vec![
                            Value::String(name.clone()),
                            Value::String(value.clone()),
                        ])
                    })
                    .collect(),
            ),
        );
        object.insert(
            "after".to_owned(),
            Value::Array(vec![
                self.after.value().clone(),
                Value::String(self.after.id().to_owned()),
            ]),
        );
        URL_SAFE_NO_PAD.encode(Value::Object(object).to_string())
    }

    /// Reads a cursor this server issued; 400 for anything else.
    fn decode(text: &str) -> Result<Self, ApiError> {
        Self::read(text).ok_or_else(invalid_cursor)
    }

    fn read(text: &str) -> Option<Self> {
        let bytes = URL_SAFE_NO_PAD
            .decode(text.trim().trim_end_matches('='))
            .ok()?;
        let Value::Object(mut object) = serde_json::from_slice::<Value>(&bytes).ok()? else {
            return None;
        };
        if object.get("v").and_then(Value::as_u64) != Some(CURSOR_VERSION) {
            return None;
        }
        let mut take = |name: &str| object.remove(name);
        let string = |value: Option<Value>| match value? {
            Value::String(text) => Some(text),
            _ => None,
        };
        let optional = |value: Option<Value>| match value? {
            Value::Null => Some(None),
            Value::String(text) => Some(Some(text)),
            _ => None,
        };
        let app = string(take("app"))?;
        let entity = string(take("entity"))?;
        let q = optional(take("q"))?;
        let sort = string(take("sort"))?;
        let fields = optional(take("fields"))?;
        let Value::Array(pairs) = take("equals")? else {
            return None;
        };
        let equals = pairs
            .into_iter()
            .map(|pair| match pair {
                Value::Array(pair) => match <[Value; 2]>::try_from(pair).ok()? {
                    [Value::String(name), Value::String(value)] => Some((name, value)),
                    _ => None,
                },
                _ => None,
            })
            .collect::<Option<Vec<_>>>()?;
        let Value::Array(after) = take("after")? else {
            return None;
        };
        let [value, Value::String(id)] = <[Value; 2]>::try_from(after).ok()? else {
            return None;
        };
        Some(Cursor {
            app,
            entity,
            walk: Walk {
                q,
                sort,
                fields,
                equals,
            },
            after: PagePosition::new(value, id),
        })
    }
}

fn invalid_cursor() -> ApiError {
    ApiError::bad_request("invalid `cursor`: pass `next_cursor` from the previous page unchanged")
}

/// `q` as the cursor keeps it: compact JSON, so the same filter sent again with other spacing
/// still matches; `None` when blank. Text that is not JSON is kept as is (it fails later).
fn normalized_q(text: &str) -> Option<String> {
    if text.trim().is_empty() {
        return None;
    }
    Some(
        serde_json::from_str::<Value>(text)
            .map(|value| value.to_string())
            .unwrap_or_else(|_| text.to_owned()),
    )
}

/// A parameter given again next to a cursor must repeat the cursor's value.
fn same_as_cursor<T: PartialEq>(name: &str, given: Option<T>, carried: &T) -> Result<(), ApiError> {
    match given {
        Some(given) if given != *carried => Err(ApiError::bad_request(format!(
            "`{name}` differs from the one the cursor carries: leave it out when passing \
             `cursor`, or start again without a cursor"
        ))),
        _ => Ok(()),
    }
}

/// The walk and the position a request asks for: the cursor's (checked against what is given
/// with it), or the parameters' from the start.
fn walk_of(
    state: &AppState,
    name: &str,
    given: Given,
) -> Result<(Walk, Option<PagePosition>), ApiError> {
    match given.cursor.as_deref() {
        Some(text) if !text.trim().is_empty() => {
            let cursor = Cursor::decode(text)?;
            if cursor.app != state.app_id || cursor.entity != name {
                return Err(ApiError::bad_request(format!(
                    "this cursor was issued for the {} entity of app {}: a cursor only works on \
                     the app and entity it came from",
                    cursor.entity, cursor.app
                )));
            }
            let walk = cursor.walk;
            same_as_cursor("q", given.q.as_deref().map(normalized_q), &walk.q)?;
            let given_sort = match given.sort.as_deref() {
                Some(text) => parse_sort(text)
                    .map_err(|error| ApiError::bad_request(error.to_string()))?
                    .map(|sort| sort.to_string()),
                None => None,
            };
            same_as_cursor("sort", given_sort, &walk.sort)?;
            same_as_cursor("fields", given.fields.map(Some), &walk.fields)?;
            let given_equals = (!given.equals.is_empty()).then_some(given.equals);
            same_as_cursor("filter parameters", given_equals, &walk.equals)?;
            Ok((walk, Some(cursor.after)))
        }
        _ => {
            // The sort as the cursor keeps it: `field` or `-field`, so `+field` or spacing
            // given again next to the cursor still matches.
            let text = given
                .sort
                .filter(|text| !text.trim().is_empty())
                .unwrap_or_else(|| DEFAULT_SORT.to_owned());
            let sort = parse_sort(&text)
                .map_err(|error| ApiError::bad_request(error.to_string()))?
                .ok_or_else(|| ApiError::bad_request("empty sort"))?;
            Ok((
                Walk {
                    q: given.q.as_deref().and_then(normalized_q),
                    sort: sort.to_string(),
                    fields: given.fields,
                    equals: given.equals,
                },
                None,
            ))
        }
    }
}

async fn read_page(
    state: &AppState,
    headers: &HeaderMap,
    app_id: &str,
    name: &str,
    pairs: Vec<(String, String)>,
) -> Result<Value, ApiError> {
    if app_id != state.app_id {
        return Err(ApiError::not_found(format!("app `{app_id}` not found")));
    }
    let given = Given::read(pairs)?;
    if given.distinct {
        return Err(ApiError::not_served(
            "not served yet: `distinct` (the distinct values of a field) on v2/list; list the \
             records and collect the values instead",
        ));
    }
    let limit = given.page_size();
    let (walk, after) = walk_of(state, name, given)?;
    // The walk read as the other reads read their parameters: the same filter, sort and
    // `fields`, parsed again from what the cursor carried.
    let mut pairs: Vec<(String, String)> = Vec::new();
    if let Some(q) = &walk.q {
        pairs.push(("q".to_owned(), q.clone()));
    }
    pairs.push(("sort".to_owned(), walk.sort.clone()));
    if let Some(fields) = &walk.fields {
        pairs.push(("fields".to_owned(), fields.clone()));
    }
    pairs.extend(walk.equals.iter().cloned());
    let params = ReadParams::read(pairs, ReadEndpoint::CursorList)?;
    let sort = params
        .sort
        .ok_or_else(|| ApiError::bad_request("empty sort"))?;
    let (declared, table) = entity(state, app_id, name)?;
    let sql = page_sql(
        &state.pg_schema,
        table,
        &params.filter,
        &sort,
        after.as_ref(),
        limit.saturating_add(1),
    )
    .map_err(|error| match error {
        PageError::Translate(error) => ApiError::not_served(format!("not served yet: {error}")),
        PageError::Position { .. } => invalid_cursor(),
    })?;
    let mut rows = read_rows(state, headers, declared, &sql).await?;
    let has_more = u64::try_from(rows.len()).unwrap_or(u64::MAX) > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    let mut last = None;
    let mut items = Vec::with_capacity(rows.len());
    for mut row in rows {
        last = take_page_position(&mut row);
        if let Some(record) = platform_record(row, table) {
            items.push(Value::Object(project(record, params.fields.as_deref())));
        }
    }
    let next_cursor = if has_more {
        let after = last.ok_or_else(|| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the page's last row came back without its position",
            )
        })?;
        Value::String(
            Cursor {
                app: state.app_id.clone(),
                entity: name.to_owned(),
                walk,
                after,
            }
            .encode(),
        )
    } else {
        Value::Null
    };
    let mut body = Map::new();
    body.insert("items".to_owned(), Value::Array(items));
    body.insert("next_cursor".to_owned(), next_cursor);
    body.insert("has_more".to_owned(), Value::Bool(has_more));
    Ok(Value::Object(body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cursor() -> Cursor {
        Cursor {
            app: "app".to_owned(),
            entity: "Task".to_owned(),
            walk: Walk {
                q: Some(r#"{"status":"done"}"#.to_owned()),
                sort: "-due_date".to_owned(),
                fields: None,
                equals: vec![("priority".to_owned(), "2".to_owned())],
            },
            after: PagePosition::new(json!("2025-10-01"), "68d24f0820f2bcf3323e9204"),
        }
    }

    #[test]
    fn a_cursor_round_trips_as_url_safe_text() -> Result<(), ApiError> {
        let cursor = cursor();
        let text = cursor.encode();
        assert!(
            text.bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_'),
            "{text}"
        );
        assert_eq!(Cursor::decode(&text)?, cursor);
        let mut null_after = cursor.clone();
        null_after.after = PagePosition::new(Value::Null, "a");
        null_after.walk.q = None;
        assert_eq!(Cursor::decode(&null_after.encode())?, null_after);
        Ok(())
    }

    #[test]
    fn anything_else_is_an_invalid_cursor() {
        let encode = |value: Value| URL_SAFE_NO_PAD.encode(value.to_string());
        let mut other_version = json!({
            "v": 2, "app": "app", "entity": "Task", "q": null, "sort": "title",
            "fields": null, "equals": [], "after": [null, "a"]
        });
        let garbage = [
            "not a cursor!".to_owned(),
            URL_SAFE_NO_PAD.encode("not json"),
            encode(json!([1, 2])),
            encode(other_version.clone()),
            {
                other_version["v"] = json!(1);
                other_version["after"] = json!([null, 5]);
                encode(other_version.clone())
            },
            {
                other_version["after"] = json!([null, "a"]);
                other_version["equals"] = json!([["a"]]);
                encode(other_version)
            },
        ];
        for text in garbage {
            let refused = Cursor::decode(&text);
            assert!(
                matches!(&refused, Err(error) if error.status == StatusCode::BAD_REQUEST),
                "{text}: {refused:?}"
            );
        }
    }

    #[test]
    fn parameters_split_as_the_endpoint_defines_them() -> Result<(), ApiError> {
        let pairs = |list: &[(&str, &str)]| {
            list.iter()
                .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
                .collect::<Vec<_>>()
        };
        let given = Given::read(pairs(&[
            ("limit", "7"),
            ("skip", "3"),
            ("cursor", "abc"),
            ("distinct", "status"),
        ]))?;
        assert_eq!(given.page_size(), 7);
        assert_eq!(given.cursor.as_deref(), Some("abc"));
        assert!(given.distinct);
        // `skip` is no parameter of the cursor list: an equality filter, as on the platform.
        assert_eq!(given.equals, vec![("skip".to_owned(), "3".to_owned())]);
        assert_eq!(Given::read(Vec::new())?.page_size(), DEFAULT_LIMIT);
        assert_eq!(Given::read(pairs(&[("limit", "0")]))?.page_size(), LIST_CAP);
        assert_eq!(
            Given::read(pairs(&[("limit", "100000")]))?.page_size(),
            LIST_CAP
        );
        assert!(Given::read(pairs(&[("limit", "-1")])).is_err());
        Ok(())
    }
}
