//! `POST .../entities/{Entity}/import`, the SDK's `importEntities(file)`: a CSV file in a
//! multipart part named `file`, read by `offbase_base44::exports::csv::parse_import` (the
//! platform's pairing of columns with fields, all or nothing, as the emulator reads it), its
//! records created in one transaction as a bulk create creates them, as the caller, so the
//! policies decide. A file that cannot be imported, or a value a column cannot hold, answers
//! 200 with `status: "error"` (the platform's `ImportResult`); a caller the policies refuse
//! gets the bulk create's 403.

use crate::error::{ApiError, json_response};
use crate::routes::{SharedState, entity};
use crate::writes::{Record, create_new};
use axum::extract::multipart::Multipart;
use axum::extract::{FromRequest, Path, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use offbase_base44::exports::csv::{import_answer, parse_import};
use serde_json::Value;

/// The multipart part that holds the file.
const FILE_FIELD: &str = "file";

pub(crate) async fn import(
    State(state): State<SharedState>,
    Path((app_id, name)): Path<(String, String)>,
    headers: HeaderMap,
    request: Request,
) -> Response {
    let declared = match entity(&state, &app_id, &name) {
        Ok((declared, _)) => declared,
        Err(error) => return error.into_response(),
    };
    let (file, bytes) = match receive(request).await {
        Ok(file) => file,
        Err(error) => return error.into_response(),
    };
    let records = match parse_import(&bytes, &file, declared) {
        Ok(records) => records,
        Err(refusal) => return answer(Err(refusal.0)),
    };
    let items: Vec<&Record> = records.iter().collect();
    match create_new(&state, &headers, &app_id, &name, &items).await {
        Ok(created) => answer(Ok(created)),
        // A value its column cannot hold: the platform's answer for a file it cannot import.
        Err(error) if error.status == StatusCode::BAD_REQUEST => answer(Err(error.message)),
        Err(error) => error.into_response(),
    }
}

fn answer(result: Result<Vec<Value>, String>) -> Response {
    json_response(StatusCode::OK, &import_answer(result))
}

/// The file's name and bytes: the part named `file` (else the first with a file name).
async fn receive(request: Request) -> Result<(String, Vec<u8>), ApiError> {
    let mut multipart = Multipart::from_request(request, &()).await.map_err(|_| {
        ApiError::bad_request(
            "an import is `multipart/form-data` with the CSV file in a part named `file` (the \
             SDK's `importEntities(file)`)",
        )
    })?;
    let malformed = |error: axum::extract::multipart::MultipartError| {
        ApiError::new(
            error.status(),
            format!("the multipart body cannot be read: {}", error.body_text()),
        )
    };
    loop {
        let Some(mut field) = multipart.next_field().await.map_err(malformed)? else {
            return Err(ApiError::bad_request(
                "the import has no file: send the CSV file in a multipart part named `file`",
            ));
        };
        if field.name() != Some(FILE_FIELD) && field.file_name().is_none() {
            continue;
        }
        let name = field.file_name().unwrap_or(FILE_FIELD).to_owned();
        // The route's body limit bounds what this holds.
        let mut bytes = Vec::new();
        while let Some(chunk) = field.chunk().await.map_err(malformed)? {
            bytes.extend_from_slice(&chunk);
        }
        return Ok((name, bytes));
    }
}
