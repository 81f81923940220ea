//! `POST .../entities/{Entity}/import`, the SDK's `importEntities(file)`: a CSV file in a
//! multipart part named `file`, read by `offbase_base44::exports::csv::parse_import` (the
//! platform's pairing of columns with fields, all or nothing), its records created as a bulk
//! create would create them, by the caller, under the entity's create rule. A file that
//! cannot be imported, or a record the schema refuses, answers 200 with `status: "error"`
//! (the platform's `ImportResult`); a caller the rules refuse gets the bulk create's 403.

use crate::entities::{CREATE_STAMPS, EntityPath, creator, fresh, writer};
use crate::error::{ApiError, json_response};
use crate::session::Caller;
use crate::state::SharedState;
use crate::store::{StoreError, now_millis};
use crate::uploads::receive;
use axum::Extension;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use offbase_base44::exports::csv::{IMPORT_BODY_MAX, import_answer, parse_import};
use offbase_base44::rls::Operation;
use serde_json::Value;

pub(crate) async fn import(
    State(state): State<SharedState>,
    Extension(caller): Extension<Caller>,
    axum::extract::Path((_, entity)): EntityPath,
    request: Request,
) -> Response {
    let file = match receive(request, IMPORT_BODY_MAX).await {
        Ok(file) => file,
        Err(response) => return response,
    };
    let parsed = state.store.read(|store| {
        store
            .table(&entity)
            .map(|table| parse_import(&file.bytes, &file.name, &table.entity))
    });
    let records = match parsed {
        Ok(Ok(records)) => records,
        Ok(Err(refusal)) => return answer(Err(refusal.0)),
        Err(error) => return ApiError::from(error).into_response(),
    };
    let body = Value::Array(records.into_iter().map(Value::Object).collect());
    let now = now_millis();
    let written = state.store.write(|store| {
        let writer = writer(&state, store, &caller, &entity, Operation::Create)?;
        let records =
            store.create_many_as(&entity, &body, now, creator(&caller).as_ref(), &writer)?;
        Ok::<_, StoreError>(
            records
                .into_iter()
                .map(|record| fresh(writer.shape(record), now, &CREATE_STAMPS))
                .collect::<Vec<_>>(),
        )
    });
    match written {
        Ok(records) => answer(Ok(records)),
        // The schema refused a record: the platform's answer for a file it cannot import.
        Err(error) if error.status() == 400 => answer(Err(error.to_string())),
        Err(error) => ApiError::from(error).into_response(),
    }
}

fn answer(result: Result<Vec<Value>, String>) -> Response {
    json_response(StatusCode::OK, &import_answer(result))
}
