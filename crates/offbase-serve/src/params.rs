//! The query parameters of the reads, read the way the platform (and the emulator) reads them:
//! `q` (JSON), `sort`, `limit`, `skip`, `fields`, and any other parameter an equality filter on
//! the field of that name (the rule of [`offbase_base44::api::ReadEndpoint`]).

use crate::error::ApiError;
use offbase_base44::api::{ReadEndpoint, equality_condition};
use offbase_base44::query::{Filter, Sort, parse_filter, parse_sort};
use serde_json::{Map, Value};

/// A read's parameters, parsed.
#[derive(Debug)]
pub(crate) struct ReadParams {
    pub(crate) filter: Filter,
    pub(crate) sort: Option<Sort>,
    /// As given: `list_sql` applies the default (50), the cap (5000) and `0` = the cap.
    pub(crate) limit: Option<u64>,
    pub(crate) skip: Option<u64>,
    pub(crate) fields: Option<Vec<String>>,
}

impl ReadParams {
    /// Reads `pairs` (in request order; for a repeated parameter the last wins).
    pub(crate) fn read(
        pairs: Vec<(String, String)>,
        endpoint: ReadEndpoint,
    ) -> Result<Self, ApiError> {
        let (mut q, mut sort, mut limit, mut skip, mut fields) = (None, None, None, None, None);
        let mut equals = Vec::new();
        for (name, value) in pairs {
            if !endpoint.defines(&name) {
                equals.push((name, value));
                continue;
            }
            match name.as_str() {
                "q" => q = Some(value),
                "sort" => sort = Some(value),
                "limit" => limit = Some(read_count("limit", &value)?),
                "skip" => skip = Some(read_count("skip", &value)?),
                "fields" => fields = Some(value),
                _ => {}
            }
        }
        let sort = match sort {
            Some(text) => {
                parse_sort(&text).map_err(|error| ApiError::bad_request(error.to_string()))?
            }
            None => None,
        };
        Ok(ReadParams {
            filter: filter(q.as_deref(), &equals)?,
            sort,
            limit,
            skip,
            fields: fields.as_deref().and_then(field_names),
        })
    }
}

fn read_count(name: &str, value: &str) -> Result<u64, ApiError> {
    value.trim().parse::<u64>().map_err(|_| {
        ApiError::bad_request(format!(
            "`{name}` must be a whole number of 0 or more, found `{value}`"
        ))
    })
}

/// `q` and every equality parameter, all of which must hold; a blank `q` is no filter.
fn filter(q: Option<&str>, equals: &[(String, String)]) -> Result<Filter, ApiError> {
    let mut clauses = Vec::new();
    if let Some(text) = q.filter(|text| !text.trim().is_empty()) {
        let value: Value = serde_json::from_str(text)
            .map_err(|error| ApiError::bad_request(format!("`q` is not valid JSON: {error}")))?;
        clauses.push(value);
    }
    for (field, text) in equals {
        let mut clause = Map::new();
        clause.insert(field.clone(), equality_condition(text));
        clauses.push(Value::Object(clause));
    }
    let q = match clauses.len() {
        0 => return Ok(Filter::all()),
        1 => clauses.remove(0),
        _ => {
            let mut all = Map::new();
            all.insert("$and".to_owned(), Value::Array(clauses));
            Value::Object(all)
        }
    };
    parse_filter(&q).map_err(|error| ApiError::bad_request(format!("invalid `q`: {error}")))
}

/// The names of `fields=a,b`; `None` when blank (every field).
fn field_names(text: &str) -> Option<Vec<String>> {
    let names: Vec<String> = text
        .split(',')
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .map(str::to_owned)
        .collect();
    (!names.is_empty()).then_some(names)
}

/// The record with only `fields` (and always `id`), as the platform projects.
pub(crate) fn project(record: Map<String, Value>, fields: Option<&[String]>) -> Map<String, Value> {
    match fields {
        None => record,
        Some(fields) => record
            .into_iter()
            .filter(|(name, _)| name == "id" || fields.iter().any(|field| field == name))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect()
    }

    #[test]
    fn unknown_parameters_are_equality_filters() -> Result<(), ApiError> {
        let read = ReadParams::read(
            pairs(&[
                ("status", "done"),
                ("limit", "5"),
                ("fields", "title, ,status"),
            ]),
            ReadEndpoint::List,
        )?;
        assert_eq!(read.limit, Some(5));
        assert_eq!(
            read.fields,
            Some(vec!["title".to_owned(), "status".to_owned()])
        );
        assert_ne!(read.filter, Filter::all());
        Ok(())
    }

    #[test]
    fn bad_q_and_limit_are_bad_requests() {
        for bad in [
            ("q", "{not json"),
            ("limit", "-1"),
            ("q", r#"{"$bogus": 1}"#),
        ] {
            let refused = ReadParams::read(pairs(&[bad]), ReadEndpoint::List);
            assert!(
                matches!(&refused, Err(error) if error.status.as_u16() == 400),
                "{bad:?}: {refused:?}"
            );
        }
    }
}
