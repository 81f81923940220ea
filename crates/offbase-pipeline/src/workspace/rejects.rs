//! The reject line: one JSON object a line in `reports/rejects/<Entity>.jsonl` (written by the
//! load and the bundle) and `reports/rejects/sync-<Entity>.jsonl` (by the sync), for every
//! record that did not go in as it was, with why. Its one writer and one reader are here, so
//! what a load writes and what verify, diff and behaviour read back cannot drift apart.

use crate::PipelineError;
use crate::workspace::Workspace;
use offbase_copy::convert::Rejection;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::io::BufRead;
use std::path::{Path, PathBuf};

/// One reject, its keys in this order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RejectLine {
    pub entity: String,
    pub id: Option<String>,
    /// The field the reason is about, where it is one field.
    pub field: Option<String>,
    /// The reason code (`offbase_copy::convert::RejectReason::code`).
    pub reason: String,
    pub message: String,
    /// The offending value, where there is one.
    pub value: Option<Value>,
    /// Where the record came from: `part file:line` (1-based) for a staged line, `sync` for a
    /// record a sync read from the API.
    pub source: String,
    /// The whole record, where the line was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<Map<String, Value>>,
    /// The line as text, where it was no record (a repeated key, not a JSON object).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<String>,
    /// The line's bytes in base64, where they are not UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line_base64: Option<String>,
}

impl RejectLine {
    /// The reject of a record or line of `entity`, for `rejection`, from `source`; the record
    /// or the line is added by the caller.
    pub fn new(entity: &str, id: Option<String>, rejection: &Rejection, source: &str) -> Self {
        RejectLine {
            entity: entity.to_owned(),
            id,
            field: rejection.field.clone(),
            reason: rejection.reason.code().to_owned(),
            message: rejection.message.clone(),
            value: rejection.value.as_deref().cloned(),
            source: source.to_owned(),
            record: None,
            line: None,
            line_base64: None,
        }
    }

    /// The line as the reject file holds it: one JSON object and a newline.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = serde_json::to_vec(self).unwrap_or_default();
        bytes.push(b'\n');
        bytes
    }
}

/// The reject file the load (and the bundle) writes for `entity`.
pub fn rejects_path(workspace: &Workspace, entity: &str) -> PathBuf {
    workspace.rejects_path("", entity)
}

/// Every reject line of the file at `path`, in order; a missing file has none, and a line that
/// is not a reject line (an edited file) is passed over.
pub fn read_rejects(path: &Path, mut visit: impl FnMut(RejectLine)) -> Result<(), PipelineError> {
    let file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(error) => return Err(PipelineError::io(path, error)),
    };
    for line in std::io::BufReader::new(file).lines() {
        let line = line.map_err(|error| PipelineError::io(path, error))?;
        if let Ok(reject) = serde_json::from_str::<RejectLine>(&line) {
            visit(reject);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The writer keeps the key order every reject file has had, and the reader reads it back.
    #[test]
    fn a_reject_line_round_trips_in_its_key_order() -> Result<(), PipelineError> {
        let reject = RejectLine {
            entity: "Note".into(),
            id: Some("n1".into()),
            field: Some("title".into()),
            reason: "required".into(),
            message: "title is required".into(),
            value: None,
            source: "data/Note/part-00000.jsonl:3".into(),
            record: json!({"id": "n1"}).as_object().cloned(),
            line: None,
            line_base64: None,
        };
        let bytes = reject.to_bytes();
        assert_eq!(
            String::from_utf8_lossy(&bytes),
            "{\"entity\":\"Note\",\"id\":\"n1\",\"field\":\"title\",\"reason\":\"required\",\"message\":\"title is required\",\"value\":null,\"source\":\"data/Note/part-00000.jsonl:3\",\"record\":{\"id\":\"n1\"}}\n"
        );
        let folder = tempfile::tempdir().map_err(|error| PipelineError::io("temp", error))?;
        let path = folder.path().join("Note.jsonl");
        let mut file = bytes.clone();
        file.extend_from_slice(b"not a reject\n");
        file.extend_from_slice(&bytes);
        std::fs::write(&path, &file).map_err(|error| PipelineError::io(&path, error))?;
        let mut read = Vec::new();
        read_rejects(&path, |line| read.push(line))?;
        assert_eq!(read, [reject.clone(), reject]);
        Ok(())
    }
}
