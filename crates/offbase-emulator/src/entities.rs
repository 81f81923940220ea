//! The entity REST API's handlers: list, cursor list, count, get, create, bulk create, update,
//! bulk update, update-many, delete, delete-many, trash, restore and permanent delete under
//! `/api/apps/{app_id}/entities/{Entity}`. Each reads its parameters, asks the store, and shapes
//! the answer as the platform does (bare arrays, fresh `Z` timestamps on what it just wrote).
//! Authentication, rate limits and faults happen before, in the route table's gate (`routes`),
//! which hands each handler the [`Caller`]; access rules apply to users and anonymous visitors
//! (`access`). `User/me` (get, update, delete) names the signed-in user's own record.

use crate::access::{Reader, Writer};
use crate::error::{ApiError, json_response};
use crate::listing::{
    CursorState, DEFAULT_LIMIT, Endpoint, Entry, LIST_CAP, ListParams, V2_DEFAULT_SORT, anchor,
    body_filter, build_filter, keyset_order, normalized_q, order, project, read_fields, read_sort,
    select, smallest, sort_key, sort_value, walk_created,
};
use crate::records::Stored;
use crate::session::Caller;
use crate::state::SharedState;
use crate::store::{Creator, Record, Store, StoreError, now_millis};
use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use offbase_base44::api::UPDATE_MANY_BATCH;
use offbase_base44::rls::Operation;
use offbase_base44::update::parse_update;
use offbase_base44::upsert::parse_upsert;
use offbase_model::time::format_fresh;
use serde_json::{Map, Value};
use std::cmp::Ordering;

type Params = Query<Vec<(String, String)>>;
pub(crate) type EntityPath = Path<(String, String)>;
type RecordPath = Path<(String, String, String)>;

fn respond(result: Result<Value, ApiError>) -> Response {
    match result {
        Ok(body) => json_response(StatusCode::OK, &body),
        Err(error) => error.into_response(),
    }
}

fn success() -> Value {
    success_with([])
}

/// `{"success": true}` and `fields`, in that order.
fn success_with<const N: usize>(fields: [(&str, Value); N]) -> Value {
    let mut body = Map::new();
    body.insert("success".to_owned(), Value::Bool(true));
    for (name, value) in fields {
        body.insert(name.to_owned(), value);
    }
    Value::Object(body)
}

fn read_body(body: &Bytes) -> Result<Value, ApiError> {
    serde_json::from_slice(body).map_err(|error| {
        ApiError::bad_request(format!("the request body is not valid JSON: {error}"))
    })
}

/// A record the platform has just written, with the timestamps it set in the fresh form
/// (`...sssZ`); the stored copy keeps the stored form, which later reads return.
pub(crate) fn fresh(mut record: Record, now: DateTime<Utc>, fields: &[&str]) -> Value {
    for field in fields {
        if record.contains_key(*field) {
            record.insert((*field).to_owned(), Value::String(format_fresh(now)));
        }
    }
    Value::Object(record)
}

/// Which records a skip-paged listing reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Live,
    Trash,
}

/// `GET .../{Entity}`: a bare array, `limit` 50 by default and capped at 5000.
pub(crate) async fn list(
    State(state): State<SharedState>,
    Extension(caller): Extension<Caller>,
    Path((_, entity)): EntityPath,
    Query(pairs): Params,
) -> Response {
    respond(list_records(&state, &caller, &entity, pairs, Source::Live))
}

/// `GET .../{Entity}/trash`: like the list, over deleted records, with no cap: without `limit`
/// the whole trash. The service role's only.
pub(crate) async fn trash(
    State(state): State<SharedState>,
    Extension(caller): Extension<Caller>,
    Path((_, entity)): EntityPath,
    Query(pairs): Params,
) -> Response {
    respond(list_records(&state, &caller, &entity, pairs, Source::Trash))
}

/// The trash, restore and permanent delete are the service role's only.
fn service_only(caller: &Caller, what: &str) -> Result<(), StoreError> {
    match caller {
        Caller::Service => Ok(()),
        _ => Err(StoreError::Forbidden(format!(
            "{what} needs the app's API key (the service role); {} may not",
            caller.describe()
        ))),
    }
}

fn list_records(
    state: &SharedState,
    caller: &Caller,
    entity: &str,
    pairs: Vec<(String, String)>,
    source: Source,
) -> Result<Value, ApiError> {
    let params = ListParams::read(pairs, Endpoint::List)?;
    let filter = build_filter(params.q.as_deref(), &params.equals)?;
    let sort = read_sort(params.sort.as_deref())?;
    let fields = read_fields(params.fields.as_deref());
    let limit = match source {
        Source::Live => params.page_size(DEFAULT_LIMIT, LIST_CAP),
        Source::Trash => params.page_size(usize::MAX, usize::MAX),
    };
    state.store.read(|store| {
        let table = store.table(entity)?;
        let records = match source {
            Source::Live => &table.live,
            Source::Trash if table.has_trash() => {
                service_only(caller, "the trash")?;
                &table.trash
            }
            Source::Trash => return Err(StoreError::NoTrash(entity.to_owned()).into()),
        };
        let reader = Reader::new(store, table, caller, state.rules.options());
        if reader.sees_nothing() {
            return Ok(Value::Array(Vec::new()));
        }
        let keep = params.skip.saturating_add(limit);
        let walked = walk_created(records, &filter, sort.as_ref(), keep, |stored| {
            reader.sees_stored(stored)
        });
        let selected = match walked {
            Some(selected) => selected,
            None => {
                let mut selected = select(records.iter(), &filter);
                retain_seen(&mut selected, &reader);
                order(&mut selected, sort.as_ref(), table.generation, keep);
                selected
            }
        };
        Ok(Value::Array(
            selected
                .into_iter()
                .skip(params.skip)
                .take(limit)
                .map(|(_, stored)| {
                    Value::Object(project(&reader.shape(&stored.record()), fields.as_deref()))
                })
                .collect(),
        ))
    })
}

/// Keeps the records the caller may read.
fn retain_seen(selected: &mut Vec<Entry<'_>>, reader: &Reader) {
    selected.retain(|(_, stored)| reader.sees_stored(stored));
}

/// `GET .../{Entity}/v2/list`: one keyset page, `{"items", "next_cursor", "has_more"}`.
pub(crate) async fn list_v2(
    State(state): State<SharedState>,
    Extension(caller): Extension<Caller>,
    Path((_, entity)): EntityPath,
    Query(pairs): Params,
) -> Response {
    respond(cursor_page(&state, &caller, &entity, pairs))
}

/// A `v2/list` parameter given again next to a cursor must repeat the cursor's value.
fn same_as_cursor<T: PartialEq>(name: &str, given: Option<T>, carried: &T) -> Result<(), ApiError> {
    match given {
        Some(given) if given != *carried => Err(ApiError::bad_request(format!(
            "`{name}` differs from the one the cursor carries: leave it out when passing \
             `cursor`, or start again without a cursor"
        ))),
        _ => Ok(()),
    }
}

fn cursor_page(
    state: &SharedState,
    caller: &Caller,
    entity: &str,
    pairs: Vec<(String, String)>,
) -> Result<Value, ApiError> {
    let params = ListParams::read(pairs, Endpoint::CursorList)?;
    let limit = params.page_size(DEFAULT_LIMIT, LIST_CAP);
    let (q, sort_text, fields_text, equals, after) = match params.cursor.as_deref() {
        Some(text) if !text.trim().is_empty() => {
            let cursor = CursorState::decode(text)?;
            if cursor.app != state.app_id || cursor.entity != entity {
                return Err(ApiError::bad_request(format!(
                    "this cursor was issued for the {} entity of app {}: a cursor only works \
                     on the app and entity it came from",
                    cursor.entity, cursor.app
                )));
            }
            same_as_cursor("q", params.q.as_deref().map(normalized_q), &cursor.q)?;
            let given_sort = read_sort(params.sort.as_deref())?.map(|sort| sort.to_string());
            same_as_cursor("sort", given_sort, &cursor.sort)?;
            same_as_cursor("fields", params.fields.map(Some), &cursor.fields)?;
            let given_equals = (!params.equals.is_empty()).then_some(params.equals);
            same_as_cursor("filter parameters", given_equals, &cursor.equals)?;
            (
                cursor.q,
                cursor.sort,
                cursor.fields,
                cursor.equals,
                Some((cursor.after_value, cursor.after_id)),
            )
        }
        _ => (
            params.q.as_deref().and_then(normalized_q),
            params
                .sort
                .filter(|text| !text.trim().is_empty())
                .unwrap_or_else(|| V2_DEFAULT_SORT.to_owned()),
            params.fields,
            params.equals,
            None,
        ),
    };
    let sort = read_sort(Some(&sort_text))?.ok_or_else(|| ApiError::bad_request("empty sort"))?;
    let filter = build_filter(q.as_deref(), &equals)?;
    let fields = read_fields(fields_text.as_deref());
    state.store.read(|store| {
        let table = store.table(entity)?;
        let reader = Reader::new(store, table, caller, state.rules.options());
        let mut selected = if reader.sees_nothing() {
            Vec::new()
        } else {
            select(table.live.iter(), &filter)
        };
        retain_seen(&mut selected, &reader);
        // Each record's sort value read once, and compared as the record would be.
        let mut keyed: Vec<(Record, Entry)> = selected
            .into_iter()
            .map(|entry| (sort_key(&sort, entry.0, entry.1), entry))
            .collect();
        if let Some((value, id)) = &after {
            let anchor = anchor(&sort, value);
            keyed.retain(|(key, (record_id, _))| {
                keyset_order(&sort, (record_id, key), (id, &anchor)) == Ordering::Greater
            });
        }
        smallest(
            &mut keyed,
            limit.saturating_add(1),
            |(left, (left_id, _)), (right, (right_id, _))| {
                keyset_order(&sort, (left_id, left), (right_id, right))
            },
        );
        let has_more = keyed.len() > limit;
        keyed.truncate(limit);
        let next_cursor = match keyed.last() {
            Some((last, (last_id, _))) if has_more => Value::String(
                CursorState {
                    app: state.app_id.clone(),
                    entity: entity.to_owned(),
                    q: q.clone(),
                    sort: sort.to_string(),
                    fields: fields_text.clone(),
                    equals: equals.clone(),
                    after_value: sort_value(&sort, last),
                    after_id: (*last_id).clone(),
                }
                .encode(),
            ),
            _ => Value::Null,
        };
        let items = keyed
            .into_iter()
            .map(|(_, (_, stored))| {
                Value::Object(project(&reader.shape(&stored.record()), fields.as_deref()))
            })
            .collect();
        let mut body = Map::new();
        body.insert("items".to_owned(), Value::Array(items));
        body.insert("next_cursor".to_owned(), next_cursor);
        body.insert("has_more".to_owned(), Value::Bool(has_more));
        Ok(Value::Object(body))
    })
}

/// `GET .../{Entity}/count`: `{"count": n}` of the live records matching `q` (and any
/// equality parameter).
pub(crate) async fn count(
    State(state): State<SharedState>,
    Extension(caller): Extension<Caller>,
    Path((_, entity)): EntityPath,
    Query(pairs): Params,
) -> Response {
    respond(count_records(&state, &caller, &entity, pairs))
}

fn count_records(
    state: &SharedState,
    caller: &Caller,
    entity: &str,
    pairs: Vec<(String, String)>,
) -> Result<Value, ApiError> {
    let params = ListParams::read(pairs, Endpoint::Count)?;
    let filter = build_filter(params.q.as_deref(), &params.equals)?;
    state.store.read(|store| {
        let table = store.table(entity)?;
        let reader = Reader::new(store, table, caller, state.rules.options());
        let count = if reader.sees_nothing() {
            0
        } else {
            let mut selected = select(table.live.iter(), &filter);
            retain_seen(&mut selected, &reader);
            selected.len()
        };
        let mut body = Map::new();
        body.insert("count".to_owned(), Value::from(count));
        Ok(Value::Object(body))
    })
}

/// `GET .../{Entity}/{id}`: the live record as stored; a record the caller may not read is a
/// 404, like a missing one. `User/me`: the signed-in user's own record, whatever the `read`
/// rule.
pub(crate) async fn get(
    State(state): State<SharedState>,
    Extension(caller): Extension<Caller>,
    Path((_, entity, id)): RecordPath,
) -> Response {
    respond(get_record(&state, &caller, &entity, &id))
}

fn get_record(
    state: &SharedState,
    caller: &Caller,
    entity: &str,
    id: &str,
) -> Result<Value, ApiError> {
    let me = is_me(entity, id);
    let id = record_id(caller, entity, id)?;
    state.store.read(|store| {
        let table = store.table(entity)?;
        let reader = Reader::new(store, table, caller, state.rules.options());
        table
            .live
            .get(&id)
            .map(Stored::record)
            .filter(|record| me || reader.sees(record))
            .map(|record| Value::Object(reader.shape(&record).into_owned()))
            .ok_or_else(|| {
                StoreError::NotFound {
                    entity: entity.to_owned(),
                    id,
                }
                .into()
            })
    })
}

/// Whether the path names `User/me`.
fn is_me(entity: &str, id: &str) -> bool {
    entity == "User" && id == "me"
}

/// The record id a path names: `User/me` is the signed-in user's.
fn record_id(caller: &Caller, entity: &str, id: &str) -> Result<String, ApiError> {
    if !is_me(entity, id) {
        return Ok(id.to_owned());
    }
    match caller {
        Caller::User(user) => user
            .id()
            .map(str::to_owned)
            .ok_or_else(|| ApiError::new(StatusCode::UNAUTHORIZED, "the signed-in user has no id")),
        Caller::Anonymous => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "`User/me` needs a signed-in user: send a user's token as `Authorization: Bearer \
             <token>` (POST /api/apps/{app_id}/auth/test-token issues one)",
        )),
        Caller::Service => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "`User/me` needs a signed-in user: the API key (the service role) is no user; send \
             a user's token as `Authorization: Bearer <token>` instead",
        )),
    }
}

/// Who a create by `caller` is made for: `None` (the emulator's own `created_by`) for the
/// service role; the user's email and id; `anonymous` and `null` for an anonymous visitor.
pub(crate) fn creator(caller: &Caller) -> Option<Creator> {
    match caller {
        Caller::Service => None,
        Caller::User(user) => Some(Creator {
            email: user.record().get("email").cloned().unwrap_or(Value::Null),
            id: user.record().get("id").cloned().unwrap_or(Value::Null),
        }),
        Caller::Anonymous => Some(Creator {
            email: Value::String("anonymous".to_owned()),
            id: Value::Null,
        }),
    }
}

/// The checks of `operation` on `entity` for `caller`.
pub(crate) fn writer(
    state: &SharedState,
    store: &Store,
    caller: &Caller,
    entity: &str,
    operation: Operation,
) -> Result<Writer, StoreError> {
    let table = store.table(entity)?;
    Ok(Writer::new(
        store,
        table,
        caller,
        operation,
        state.rules.options(),
    ))
}

/// The timestamps a create sets.
pub(crate) const CREATE_STAMPS: [&str; 2] = ["created_date", "updated_date"];
/// The timestamp an update sets.
const UPDATE_STAMPS: [&str; 1] = ["updated_date"];

/// Parses a JSON body, applies `write` to the store at one instant, and shapes the result.
fn write_body<T>(
    state: &SharedState,
    body: &Bytes,
    write: impl FnOnce(&mut Store, &Value, DateTime<Utc>) -> Result<T, StoreError>,
    shape: impl FnOnce(T, DateTime<Utc>) -> Value,
) -> Result<Value, ApiError> {
    let body = read_body(body)?;
    let now = now_millis();
    let written = state.store.write(|store| write(store, &body, now))?;
    Ok(shape(written, now))
}

fn fresh_all(records: Vec<Record>, now: DateTime<Utc>, stamps: &[&str]) -> Value {
    Value::Array(
        records
            .into_iter()
            .map(|record| fresh(record, now, stamps))
            .collect(),
    )
}

/// `POST .../{Entity}`: creates a record from a flat object.
pub(crate) async fn create(
    State(state): State<SharedState>,
    Extension(caller): Extension<Caller>,
    Path((_, entity)): EntityPath,
    body: Bytes,
) -> Response {
    respond(write_body(
        &state,
        &body,
        |store, body, now| {
            let writer = writer(&state, store, &caller, &entity, Operation::Create)?;
            let record = store.create_as(&entity, body, now, creator(&caller).as_ref(), &writer)?;
            Ok(writer.shape(record))
        },
        |record, now| fresh(record, now, &CREATE_STAMPS),
    ))
}

/// `POST .../{Entity}/bulk`: creates every record of an array (all or nothing).
pub(crate) async fn bulk_create(
    State(state): State<SharedState>,
    Extension(caller): Extension<Caller>,
    Path((_, entity)): EntityPath,
    body: Bytes,
) -> Response {
    respond(write_body(
        &state,
        &body,
        |store, body, now| {
            let writer = writer(&state, store, &caller, &entity, Operation::Create)?;
            let records =
                store.create_many_as(&entity, body, now, creator(&caller).as_ref(), &writer)?;
            Ok(records
                .into_iter()
                .map(|record| writer.shape(record))
                .collect())
        },
        |records, now| fresh_all(records, now, &CREATE_STAMPS),
    ))
}

/// `PUT .../{Entity}/{id}`: merges a flat object into the record, bumps `updated_date`. The
/// answer carries `updated_date` in the fresh form (the server just set it, as on a create) and
/// every other field as stored; later reads return the stored form.
pub(crate) async fn update(
    State(state): State<SharedState>,
    Extension(caller): Extension<Caller>,
    Path((_, entity, id)): RecordPath,
    body: Bytes,
) -> Response {
    let id = match record_id(&caller, &entity, &id) {
        Ok(id) => id,
        Err(error) => return error.into_response(),
    };
    respond(write_body(
        &state,
        &body,
        |store, body, now| {
            let writer = writer(&state, store, &caller, &entity, Operation::Update)?;
            let record = store.update_as(&entity, &id, body, now, &writer)?;
            Ok(writer.shape(record))
        },
        |record, now| fresh(record, now, &UPDATE_STAMPS),
    ))
}

/// `PUT .../{Entity}/bulk`: `[{id, ...}]`, at most 500, all or nothing.
pub(crate) async fn bulk_update(
    State(state): State<SharedState>,
    Extension(caller): Extension<Caller>,
    Path((_, entity)): EntityPath,
    body: Bytes,
) -> Response {
    respond(write_body(
        &state,
        &body,
        |store, body, now| {
            let writer = writer(&state, store, &caller, &entity, Operation::Update)?;
            let records = store.update_many_as(&entity, body, now, &writer)?;
            Ok(records
                .into_iter()
                .map(|record| writer.shape(record))
                .collect())
        },
        |records, now| fresh_all(records, now, &UPDATE_STAMPS),
    ))
}

/// `PATCH .../{Entity}/update-many`: `{"query": {...}, "data": {<update operators>}}` (the
/// SDK's `updateMany(query, data)`). Applies `data` (`offbase_base44::update`) to the first
/// [`UPDATE_MANY_BATCH`] records in (`created_date`, `id`) order that `query` matches and the
/// caller may read and update (others are skipped: row level security), bumping their
/// `updated_date`, all or nothing. Answers `{"success": true, "updated": n, "has_more": b}`;
/// `has_more` is true when more such records remain, and the client calls again. Every record
/// taken counts as updated, even when the update leaves its fields as they were (its
/// `updated_date` moves, as a plain update's does). `query` is required (`{}` takes every
/// record), so a forgotten query never updates a whole entity by accident.
pub(crate) async fn update_many(
    State(state): State<SharedState>,
    Extension(caller): Extension<Caller>,
    Path((_, entity)): EntityPath,
    body: Bytes,
) -> Response {
    respond(update_matching(&state, &caller, &entity, &body))
}

fn update_matching(
    state: &SharedState,
    caller: &Caller,
    entity: &str,
    body: &Bytes,
) -> Result<Value, ApiError> {
    let body = read_body(body)?;
    let shape = "send {\"query\": {...}, \"data\": {\"$set\": {...}}}";
    let Value::Object(request) = &body else {
        return Err(ApiError::bad_request(format!(
            "the body of update-many must be a JSON object, found {}: {shape}",
            offbase_model::json_kind(&body)
        )));
    };
    let part = |name: &str, missing: &str| match request.get(name) {
        None | Some(Value::Null) => Err(ApiError::bad_request(format!(
            "the body of update-many has no `{name}`: {shape} ({missing})"
        ))),
        Some(value) => Ok(value),
    };
    let filter = body_filter(part("query", "`{}` updates every record")?)?;
    let update = parse_update(part("data", "the update operators")?)
        .map_err(|error| ApiError::bad_request(format!("invalid update in `data`: {error}")))?;
    let now = now_millis();
    let batch = state.store.write(|store| {
        let writer = writer(state, store, caller, entity, Operation::Update)?;
        store.update_matching_as(entity, &filter, &update, now, UPDATE_MANY_BATCH, &writer)
    })?;
    Ok(success_with([
        ("updated", Value::from(batch.updated)),
        ("has_more", Value::Bool(batch.has_more)),
    ]))
}

/// `POST .../{Entity}/upsert` `{records, key}`: each record updates the record its key finds,
/// or is created (`offbase_base44::upsert`); `{"created", "updated", "records"}`, the records
/// with the timestamps just set in the fresh form.
pub(crate) async fn upsert(
    State(state): State<SharedState>,
    Extension(caller): Extension<Caller>,
    Path((_, entity)): EntityPath,
    body: Bytes,
) -> Response {
    respond(write_body(
        &state,
        &body,
        |store, body, now| {
            let request =
                parse_upsert(body).map_err(|error| StoreError::InvalidBody(error.to_string()))?;
            let creating = writer(&state, store, &caller, &entity, Operation::Create)?;
            let updating = writer(&state, store, &caller, &entity, Operation::Update)?;
            let written = store.upsert_as(
                &entity,
                &request,
                now,
                creator(&caller).as_ref(),
                &creating,
                &updating,
            )?;
            Ok(written
                .into_iter()
                .map(|(record, created)| (creating.shape(record), created))
                .collect::<Vec<_>>())
        },
        |written, now| {
            let created = written.iter().filter(|(_, created)| *created).count();
            let updated = written.len() - created;
            let records = written
                .into_iter()
                .map(|(record, created)| {
                    let stamps: &[&str] = if created {
                        &CREATE_STAMPS
                    } else {
                        &UPDATE_STAMPS
                    };
                    fresh(record, now, stamps)
                })
                .collect();
            let mut body = Map::new();
            body.insert("created".to_owned(), Value::from(created));
            body.insert("updated".to_owned(), Value::from(updated));
            body.insert("records".to_owned(), Value::Array(records));
            Value::Object(body)
        },
    ))
}

/// `DELETE .../{Entity}` with the query as the JSON body (the SDK's `deleteMany(query)`):
/// soft-deletes every live record the query matches and the caller may read and delete
/// (others are skipped: row level security) into the trash (`User`: removed outright).
/// Answers `{"success": true, "deleted": n}`. A body is required (`{}` deletes every
/// record), so a forgotten query never empties an entity by accident.
pub(crate) async fn delete_many(
    State(state): State<SharedState>,
    Extension(caller): Extension<Caller>,
    Path((_, entity)): EntityPath,
    body: Bytes,
) -> Response {
    respond(delete_matching(&state, &caller, &entity, &body))
}

fn delete_matching(
    state: &SharedState,
    caller: &Caller,
    entity: &str,
    body: &Bytes,
) -> Result<Value, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request(
            "delete-many needs the query as the JSON body (`{}` deletes every record): send \
             DELETE .../entities/{Entity} with a body such as {\"status\": \"archived\"}",
        ));
    }
    let filter = body_filter(&read_body(body)?)?;
    let deleted = state.store.write(|store| {
        let writer = writer(state, store, caller, entity, Operation::Delete)?;
        store.delete_matching_as(entity, &filter, &writer)
    })?;
    Ok(success_with([("deleted", Value::from(deleted))]))
}

/// `DELETE .../{Entity}/{id}`: soft delete, `{"success": true}`.
pub(crate) async fn delete(
    State(state): State<SharedState>,
    Extension(caller): Extension<Caller>,
    Path((_, entity, id)): RecordPath,
) -> Response {
    let id = match record_id(&caller, &entity, &id) {
        Ok(id) => id,
        Err(error) => return error.into_response(),
    };
    respond(
        state
            .store
            .write(|store| {
                let writer = writer(&state, store, &caller, &entity, Operation::Delete)?;
                store.delete_as(&entity, &id, &writer)
            })
            .map(|()| success())
            .map_err(ApiError::from),
    )
}

/// `PUT .../{Entity}/{id}/restore`: the record back from the trash, same id and fields. The
/// service role's only.
pub(crate) async fn restore(
    State(state): State<SharedState>,
    Extension(caller): Extension<Caller>,
    Path((_, entity, id)): RecordPath,
) -> Response {
    respond(
        state
            .store
            .write(|store| {
                store.table(&entity)?;
                service_only(&caller, "restoring from the trash")?;
                store.restore(&entity, &id)
            })
            .map(Value::Object)
            .map_err(ApiError::from),
    )
}

/// `DELETE .../{Entity}/{id}/permanent`: erases a trashed record, `{"success": true}`. The
/// service role's only.
pub(crate) async fn purge(
    State(state): State<SharedState>,
    Extension(caller): Extension<Caller>,
    Path((_, entity, id)): RecordPath,
) -> Response {
    respond(
        state
            .store
            .write(|store| {
                store.table(&entity)?;
                service_only(&caller, "a permanent delete")?;
                store.purge(&entity, &id)
            })
            .map(|()| success())
            .map_err(ApiError::from),
    )
}
