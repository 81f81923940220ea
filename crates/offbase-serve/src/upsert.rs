//! `POST .../{Entity}/upsert` `{records, key}` (the SDK's `upsert`): each record updates the
//! one record its key finds among those the caller may read and update (locked `FOR UPDATE`,
//! which row level security holds to both policies), or is created; all or nothing, in one
//! transaction as the caller. The request's rules are `offbase_base44::upsert`'s, shared with
//! the emulator; the writes are `writes`' own.

use crate::caller::Request;
use crate::error::ApiError;
use crate::reads::guard_users;
use crate::routes::{AppState, SharedState, connection, respond};
use crate::writer::Writer;
use crate::writes::{
    CREATE_STAMPS, UPDATE_STAMPS, begin, commit, denied, fresh, matching, now_millis, read_body,
};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use offbase_base44::upsert::{UpsertRequest, parse_upsert};
use offbase_model::time::format_stored;
use serde_json::{Map, Value};
use std::collections::BTreeSet;

/// `POST .../{Entity}/upsert`.
pub(crate) async fn upsert(
    State(state): State<SharedState>,
    Path((app_id, name)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    respond(upsert_records(&state, &headers, &app_id, &name, &body).await)
}

async fn upsert_records(
    state: &AppState,
    headers: &HeaderMap,
    app_id: &str,
    name: &str,
    body: &Bytes,
) -> Result<Value, ApiError> {
    let writer = Writer::new(state, app_id, name)?;
    let request = parse_upsert(&read_body(body)?)
        .map_err(|error| ApiError::bad_request(error.to_string()))?;
    if let Some(field) = request
        .key
        .iter()
        .find(|field| !writer.writable.contains(field.as_str()))
    {
        return Err(ApiError::bad_request(format!(
            "the key field `{field}` is not a field of {name}: an upsert's key is one of the \
             entity's own fields"
        )));
    }
    let mut connection = connection(state).await?;
    let mut transaction = begin(state, &mut connection, headers).await?;
    guard_users(state, writer.declared, &transaction.caller)?;
    let now = now_millis();
    let mut written: Vec<(String, bool)> = Vec::with_capacity(request.records.len());
    for (index, fields) in request.records.iter().enumerate() {
        let created = write_one(&writer, &mut transaction, &request, index, fields, now).await?;
        written.push(created);
    }
    let ids: Vec<String> = written.iter().map(|(id, _)| id.clone()).collect();
    let records = writer.read_back(&mut transaction, &ids).await?;
    commit(transaction).await?;
    let created = written.iter().filter(|(_, created)| *created).count();
    let records: Vec<Value> = records
        .into_iter()
        .zip(&written)
        .map(|(record, (_, created))| {
            let stamps: &[&str] = if *created {
                &CREATE_STAMPS
            } else {
                &UPDATE_STAMPS
            };
            fresh(record, now, stamps)
        })
        .collect();
    Ok(serde_json::json!({
        "created": created,
        "updated": written.len() - created,
        "records": records,
    }))
}

/// Writes record `index` of the request: its id, and whether it was created.
async fn write_one(
    writer: &Writer<'_>,
    transaction: &mut Request<'_>,
    request: &UpsertRequest,
    index: usize,
    fields: &Map<String, Value>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(String, bool), ApiError> {
    let in_item = |mut error: ApiError| {
        error.message = format!("record {index} of `records`: {}", error.message);
        error
    };
    let query = request.key_query(fields);
    let found = matching(writer, transaction, &query, Some(2), true).await?;
    match found.as_slice() {
        [] => {
            let record = writer.new_record(fields, now, &transaction.caller);
            let id = record
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            writer
                .insert(transaction, std::slice::from_ref(&record))
                .await
                .map_err(in_item)?;
            Ok((id, true))
        }
        [old] => {
            let id = old
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            let mut new = old.clone();
            writer.merge(&mut new, fields);
            new.insert("updated_date".to_owned(), Value::String(format_stored(now)));
            let set: BTreeSet<String> = fields
                .iter()
                .filter(|(field, value)| {
                    writer.writable.contains(field.as_str()) && old.get(*field) != Some(*value)
                })
                .map(|(field, _)| field.clone())
                .collect();
            if !writer
                .overwrite(transaction, &id, &new, &set)
                .await
                .map_err(in_item)?
            {
                return Err(in_item(denied(
                    &transaction.caller,
                    "update",
                    writer.name,
                    "the update policy hides it",
                )));
            }
            Ok((id, false))
        }
        _ => Err(in_item(ApiError::new(
            StatusCode::CONFLICT,
            format!(
                "several {} records have the key {query}: an upsert's key must identify one \
                 record",
                writer.name
            ),
        ))),
    }
}
