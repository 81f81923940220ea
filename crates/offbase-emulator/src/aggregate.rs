//! `POST .../entities/{Entity}/aggregate` (the SDK's `aggregate(spec)`, `@base44/sdk` 0.8.50):
//! the spec as the JSON body, `{"rows": [...], "truncated": bool}` back. The spec is read and
//! checked, and the groups computed, by `offbase_base44::aggregate` (its doc lists every
//! decision: row shape, buckets, nulls, numbers, order, limit, errors); this handler picks the
//! records, as the list does: the live ones (never the trash) that `query` matches and the
//! caller may read (`access::Reader`: a caller who reads nothing gets groups of nothing, and
//! without `groupBy`/`dateBucket` one total row with `count` 0, not an error). A field the
//! caller may not read (a field rule) counts as missing in the groups and the computed fields,
//! so an aggregate never tells what a read would hide; `query` sees it, as the list's `q` does.
//! A spec the module refuses is a 400 naming what is wrong; an unknown entity a 404 first.

use crate::access::Reader;
use crate::error::{ApiError, json_response};
use crate::session::Caller;
use crate::state::SharedState;
use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use offbase_base44::aggregate::{AggregateSpec, Groups};
use serde_json::Value;

/// `POST .../{Entity}/aggregate`.
pub(crate) async fn aggregate(
    State(state): State<SharedState>,
    Extension(caller): Extension<Caller>,
    Path((_, entity)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    match aggregate_records(&state, &caller, &entity, &body) {
        Ok(answer) => json_response(StatusCode::OK, &answer),
        Err(error) => error.into_response(),
    }
}

fn aggregate_records(
    state: &SharedState,
    caller: &Caller,
    entity: &str,
    body: &Bytes,
) -> Result<Value, ApiError> {
    let body: Value = if body.iter().all(u8::is_ascii_whitespace) {
        // No body: every default (one total row of every record).
        Value::Object(serde_json::Map::new())
    } else {
        serde_json::from_slice(body).map_err(|error| {
            ApiError::bad_request(format!("the request body is not valid JSON: {error}"))
        })?
    };
    state.store.read(|store| {
        let table = store.table(entity)?;
        let spec = AggregateSpec::parse(&body, &table.entity)
            .map_err(|error| ApiError::bad_request(format!("invalid aggregate spec: {error}")))?;
        let reader = Reader::new(store, table, caller, state.rules.options());
        let mut groups = Groups::new(&spec);
        if !reader.sees_nothing() {
            for stored in table.live.values() {
                let record = stored.record();
                if spec.query.matches(&record) && reader.sees(&record) {
                    groups.add(&reader.shape(&record));
                }
            }
        }
        Ok(groups.finish().to_json())
    })
}
