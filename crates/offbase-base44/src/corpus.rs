//! A behaviour corpus: logical Base44 entity requests, one JSON object a line (JSONL), that
//! `offbase diff behaviour` asks of the old backend and the new one. Owns the request type
//! ([`CorpusRequest`]), its checks ([`CorpusRequest::check`]) and the JSONL reader and writer.
//! Pure: no I/O.
//!
//! A line:
//!
//! ```json
//! {"name":"Task: open tasks by due date","entity":"Task","op":"filter","q":{"status":"open"},"sort":"-due_date","limit":20,"skip":0,"fields":["title","due_date"]}
//! ```
//!
//! `op` is `list` (no `q`), `filter` (with `q`), `get` (by `id`) or `count` (`q` only); `name`
//! is optional and shown in reports.

use crate::query::{QueryError, parse_filter, parse_sort};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What a request does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Operation {
    /// `GET /entities/{Entity}` without `q`.
    List,
    /// `GET /entities/{Entity}?q=...`.
    Filter,
    /// `GET /entities/{Entity}/{id}`.
    Get,
    /// `GET /entities/{Entity}/count?q=...`.
    Count,
}

/// One logical request of the corpus.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CorpusRequest {
    /// A label for reports; `describe()` is used when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub entity: String,
    pub op: Operation,
    /// The filter (`filter` and `count`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub q: Option<Value>,
    /// `field`, `+field` or `-field` (`list` and `filter`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sort: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skip: Option<u64>,
    /// Projection: only these fields (and `id`) in each record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fields: Option<Vec<String>>,
    /// The record id (`get`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

/// Why a corpus line cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum CorpusError {
    #[error("corpus line {line}: not a request: {message}")]
    Syntax { line: usize, message: String },
    #[error("corpus line {line} ({entity} {op:?}): {message}")]
    Invalid {
        line: usize,
        entity: String,
        op: Operation,
        message: String,
    },
}

impl CorpusRequest {
    /// A request of `op` on `entity` with nothing else set.
    pub fn new(entity: impl Into<String>, op: Operation) -> Self {
        CorpusRequest {
            name: None,
            entity: entity.into(),
            op,
            q: None,
            sort: None,
            limit: None,
            skip: None,
            fields: None,
            id: None,
        }
    }

    /// Whether the parts fit the operation and `q` and `sort` parse.
    pub fn check(&self) -> Result<(), String> {
        // Real apps name entities beyond the documented `[A-Za-z0-9]+` (`Ops_Task`); the
        // name must stay one plain path segment of the entity URL.
        if self.entity.is_empty()
            || !self
                .entity
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return Err(format!(
                "entity `{}` is not an entity name (letters, digits and `_`)",
                self.entity
            ));
        }
        let paging = self.sort.is_some() || self.limit.is_some() || self.skip.is_some();
        match self.op {
            Operation::Get => {
                if self.id.as_deref().is_none_or(str::is_empty) {
                    return Err("`get` needs an `id`".to_owned());
                }
                if self.q.is_some() || paging || self.fields.is_some() {
                    return Err("`get` takes only an `id`".to_owned());
                }
            }
            Operation::Count => {
                if paging || self.fields.is_some() || self.id.is_some() {
                    return Err("`count` takes only `q`".to_owned());
                }
            }
            Operation::List | Operation::Filter => {
                if self.id.is_some() {
                    return Err(format!("`{:?}` takes no `id`", self.op).to_lowercase());
                }
            }
        }
        if self.op == Operation::List && self.q.is_some() {
            return Err("`list` takes no `q`: use `filter`".to_owned());
        }
        if let Some(q) = &self.q {
            parse_filter(q).map_err(|error: QueryError| format!("invalid `q`: {error}"))?;
        }
        if let Some(sort) = &self.sort {
            parse_sort(sort).map_err(|error| format!("invalid `sort`: {error}"))?;
        }
        Ok(())
    }

    /// A one-line description: `GET Task?q=...&sort=...`, for reports when there is no name.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(q) = &self.q {
            parts.push(format!("q={q}"));
        }
        if let Some(sort) = &self.sort {
            parts.push(format!("sort={sort}"));
        }
        if let Some(limit) = self.limit {
            parts.push(format!("limit={limit}"));
        }
        if let Some(skip) = self.skip {
            parts.push(format!("skip={skip}"));
        }
        if let Some(fields) = &self.fields {
            parts.push(format!("fields={}", fields.join(",")));
        }
        let query = if parts.is_empty() {
            String::new()
        } else {
            format!("?{}", parts.join("&"))
        };
        match self.op {
            Operation::Get => format!(
                "get {}/{}",
                self.entity,
                self.id.as_deref().unwrap_or_default()
            ),
            Operation::Count => format!("count {}{query}", self.entity),
            Operation::List | Operation::Filter => {
                format!("{:?} {}{query}", self.op, self.entity).to_lowercase()
            }
        }
    }

    /// The label for reports.
    pub fn label(&self) -> String {
        self.name.clone().unwrap_or_else(|| self.describe())
    }
}

/// Reads a JSONL corpus; blank lines and lines starting with `#` or `//` are skipped.
pub fn read_corpus(text: &str) -> Result<Vec<CorpusRequest>, CorpusError> {
    let mut requests = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with("//") {
            continue;
        }
        let line = index + 1;
        let request: CorpusRequest =
            serde_json::from_str(trimmed).map_err(|error| CorpusError::Syntax {
                line,
                message: error.to_string(),
            })?;
        request.check().map_err(|message| CorpusError::Invalid {
            line,
            entity: request.entity.clone(),
            op: request.op,
            message,
        })?;
        requests.push(request);
    }
    Ok(requests)
}

/// Writes requests as JSONL (one compact object a line, keys in declaration order).
pub fn write_corpus(requests: &[CorpusRequest]) -> String {
    let mut text = String::new();
    for request in requests {
        if let Ok(line) = serde_json::to_string(request) {
            text.push_str(&line);
            text.push('\n');
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Real apps have entities such as `Ops_Task`: the generated corpus of such an app was
    /// refused as a whole.
    #[test]
    fn an_entity_name_with_an_underscore_is_a_valid_request() {
        assert_eq!(
            CorpusRequest::new("Ops_Task", Operation::Count).check(),
            Ok(())
        );
        assert!(
            CorpusRequest::new("Ops/Task", Operation::Count)
                .check()
                .is_err()
        );
        assert!(
            CorpusRequest::new("Ops-Task", Operation::Count)
                .check()
                .is_err()
        );
    }

    #[test]
    fn corpus_round_trips_and_checks_each_line() {
        let mut request = CorpusRequest::new("Task", Operation::Filter);
        request.q = Some(serde_json::json!({"status": {"$in": ["open", "done"]}}));
        request.sort = Some("-due_date".to_owned());
        request.limit = Some(20);
        let text = write_corpus(std::slice::from_ref(&request));
        let read = read_corpus(&format!("# comment\n\n{text}")).unwrap_or_default();
        assert_eq!(read, vec![request]);

        let error = read_corpus("{\"entity\":\"Task\",\"op\":\"get\"}\n")
            .err()
            .map(|error| error.to_string());
        assert_eq!(
            error.as_deref(),
            Some("corpus line 1 (Task Get): `get` needs an `id`")
        );
        let error =
            read_corpus("{\"entity\":\"Task\",\"op\":\"filter\",\"q\":{\"a\":{\"$bad\":1}}}")
                .err()
                .map(|error| error.to_string());
        assert!(
            error
                .as_deref()
                .is_some_and(|text| text.starts_with("corpus line 1 (Task Filter): invalid `q`")),
            "{error:?}"
        );
    }
}
