//! The converter of one entity's records: each field to its column's cell, NOT NULL, CHECK
//! and enum-type membership applied (or relaxed and reported), unread fields into `_extra`,
//! array references into junction rows; and the fast path that parses a JSON line straight
//! into column slots.

use super::value::convert_value;
use super::{ConstraintKind, ConvertedRecord, FLAGS_KEY, RejectReason, Rejection, Relax};
use crate::cell::Cell;
use offbase_model::record::{CheckedValue, KeyCheck, source_key, staged_key};
use offbase_model::{BuiltIn, Check, Column, ColumnSource, PgType, Table, TargetSchema};
use serde::Deserialize;
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

/// Converts records of one entity to the rows of its table and junction tables.
#[derive(Debug, Clone)]
pub struct EntityConverter<'t> {
    table: &'t Table,
    columns: Vec<ColumnPlan<'t>>,
    junctions: Vec<&'t Table>,
    /// Record keys (staged) held by a column: everything else goes to `_extra`.
    column_fields: BTreeSet<Cow<'t, str>>,
    /// Whether no two columns read the same field: then a record with as many keys as fields
    /// found has nothing for `_extra`, and its keys need not be looked at one by one.
    fields_distinct: bool,
    /// Per column, the staged record key it reads (the field's, escaped where it must be),
    /// for every column that reads a field, `_extra` aside.
    column_key: Vec<Option<Cow<'t, str>>>,
    /// The keys of `column_key` sorted, with their column, for
    /// [`EntityConverter::parse_slotted`].
    sorted_fields: Vec<(Cow<'t, str>, usize)>,
    extra: Option<usize>,
    id_field: &'t str,
}

#[derive(Debug, Clone)]
struct ColumnPlan<'t> {
    column: &'t Column,
    /// Allowed values of a PostgreSQL enum type column.
    enum_values: Option<&'t [String]>,
    check_relaxed: bool,
    not_null_relaxed: bool,
}

impl<'t> EntityConverter<'t> {
    /// The converter for `table` (an entity's table, not a junction table) of `target`.
    pub fn new(target: &'t TargetSchema, table: &'t Table, relax: Relax) -> Self {
        let enum_values: BTreeMap<&str, &[String]> = target
            .enum_types
            .iter()
            .map(|enum_type| (enum_type.name.as_str(), enum_type.values.as_slice()))
            .collect();
        let columns: Vec<ColumnPlan<'t>> = table
            .columns
            .iter()
            .map(|column| {
                let enum_name = match &column.pg_type {
                    PgType::Enum(name) => Some(name.as_str()),
                    PgType::Array(element) => match element.as_ref() {
                        PgType::Enum(name) => Some(name.as_str()),
                        _ => None,
                    },
                    _ => None,
                };
                ColumnPlan {
                    column,
                    enum_values: enum_name.and_then(|name| enum_values.get(name).copied()),
                    check_relaxed: relax.relaxes_check(column),
                    not_null_relaxed: relax.relaxes_not_null(column),
                }
            })
            .collect();
        let column_fields: BTreeSet<Cow<'t, str>> = table
            .columns
            .iter()
            .filter_map(|column| column.field.as_deref().map(staged_key))
            .collect();
        let fields_distinct = column_fields.len()
            == table
                .columns
                .iter()
                .filter(|column| column.field.is_some())
                .count();
        let extra = table
            .columns
            .iter()
            .position(|column| column.source == ColumnSource::Extra);
        let column_key: Vec<Option<Cow<'t, str>>> = table
            .columns
            .iter()
            .map(|column| match column.source {
                ColumnSource::Extra => None,
                _ => column.field.as_deref().map(staged_key),
            })
            .collect();
        let mut sorted_fields: Vec<(Cow<'t, str>, usize)> = column_key
            .iter()
            .enumerate()
            .filter_map(|(index, key)| Some((key.clone()?, index)))
            .collect();
        sorted_fields.sort_unstable();
        let junctions = target
            .tables
            .iter()
            .filter(|candidate| {
                candidate.entity == table.entity
                    && candidate.junction.is_some()
                    && table.junction.is_none()
            })
            .collect();
        let id_field = table
            .columns
            .iter()
            .find(|column| column.source == ColumnSource::BuiltIn(BuiltIn::Id))
            .and_then(|column| column.field.as_deref())
            .unwrap_or(BuiltIn::Id.field_name());
        EntityConverter {
            table,
            columns,
            junctions,
            column_fields,
            fields_distinct,
            column_key,
            sorted_fields,
            extra,
            id_field,
        }
    }

    pub fn table(&self) -> &'t Table {
        self.table
    }

    /// The junction tables filled from this entity's records.
    pub fn junctions(&self) -> &[&'t Table] {
        &self.junctions
    }

    /// The column types of the entity table, in order.
    pub fn column_types(&self) -> Vec<&'t PgType> {
        self.columns
            .iter()
            .map(|plan| &plan.column.pg_type)
            .collect()
    }

    /// The column name at `index`.
    pub fn column_name(&self, index: usize) -> &'t str {
        self.columns
            .get(index)
            .map(|plan| plan.column.name.as_str())
            .unwrap_or_default()
    }

    /// The record field holding the id (`id`).
    pub fn id_field(&self) -> &'t str {
        self.id_field
    }

    /// The record's id, when it is a string.
    pub fn record_id<'a>(&self, record: &'a Map<String, Value>) -> Option<&'a str> {
        record.get(self.id_field).and_then(Value::as_str)
    }

    /// The number of columns of the entity's table.
    pub fn column_count(&self) -> usize {
        self.columns.len()
    }

    /// Converts one record, or says why it cannot be loaded.
    pub fn convert<'a>(
        &self,
        record: &'a Map<String, Value>,
    ) -> Result<ConvertedRecord<'a>, Rejection>
    where
        't: 'a,
    {
        if let Some(flags) = record.get(FLAGS_KEY) {
            return Err(flagged(record, flags));
        }
        let mut row = Vec::with_capacity(self.columns.len());
        let mut relaxed = Vec::new();
        let mut found = 0;
        for (index, plan) in self.columns.iter().enumerate() {
            let column = plan.column;
            let cell = match (&column.source, column.field.as_deref()) {
                // Filled in below, once the fields found are counted.
                (ColumnSource::Extra, _) => Cell::Null,
                (_, Some(field)) => {
                    let key = self.column_key.get(index).and_then(Option::as_deref);
                    let value = match key.and_then(|key| record.get(key)) {
                        Some(value) => {
                            found += 1;
                            value
                        }
                        None => &Value::Null,
                    };
                    let cell =
                        convert_value(value, &column.pg_type).map_err(|failure| Rejection {
                            field: Some(field.to_owned()),
                            reason: failure.reason,
                            message: format!("{field}: {}", failure.message),
                            value: Some(Box::new(value.clone())),
                        })?;
                    if let Some(violation) = self.check(plan, field, value, &cell)? {
                        relaxed.push((index, violation));
                    }
                    cell
                }
                (_, None) => Cell::Null,
            };
            row.push(cell);
        }
        if let Some(extra) = self.extra
            && (!self.fields_distinct || record.len() > found)
            && let Some(slot) = row.get_mut(extra)
        {
            *slot = self.extra_cell(record);
        }
        let mut junction_rows = Vec::new();
        if !self.junctions.is_empty() {
            let id = self.record_id(record).unwrap_or_default();
            for (junction_index, junction) in self.junctions.iter().enumerate() {
                let Some(field) = junction.junction.as_ref().map(|j| j.field.as_str()) else {
                    continue;
                };
                let Some(Value::Array(items)) = record.get(staged_key(field).as_ref()) else {
                    continue;
                };
                for (position, item) in items.iter().enumerate() {
                    // Elements that are not ids (null, say) keep their place but make no row.
                    if let Value::String(target) = item {
                        junction_rows.push((
                            junction_index,
                            vec![
                                Cell::Text(id),
                                Cell::Int4(i32::try_from(position + 1).unwrap_or(i32::MAX)),
                                Cell::Text(target.as_str()),
                            ],
                        ));
                    }
                }
            }
        }
        Ok(ConvertedRecord {
            row,
            junction_rows,
            relaxed,
        })
    }

    /// Whether [`EntityConverter::parse_slotted`] and [`EntityConverter::convert_slotted`]
    /// can stand in for [`EntityConverter::convert`] on this table: each field feeds one
    /// column, and no junction table needs the record's arrays.
    pub fn slotted(&self) -> bool {
        self.fields_distinct && self.junctions.is_empty()
    }

    /// Parses a JSON line straight into the table's columns: each field's value into its
    /// column's slot, without building the record as a map. `None` when the line is anything
    /// but a plain record (invalid JSON, an escaped key, the importer's flags): the caller
    /// then takes the general path, [`EntityConverter::convert`], which also says why.
    pub fn parse_slotted(&self, line: &str) -> Option<SlottedRecord> {
        if !self.slotted() {
            return None;
        }
        let mut deserializer = serde_json::Deserializer::from_str(line);
        let record = serde::Deserializer::deserialize_map(
            &mut deserializer,
            SlotVisitor { converter: self },
        )
        .ok()?;
        deserializer.end().ok()?;
        Some(record)
    }

    /// Converts a slotted record exactly as [`EntityConverter::convert`] converts the same
    /// record; `None` when the record must be rejected (the general path then says why).
    pub fn convert_slotted<'a>(&self, record: &'a SlottedRecord) -> Option<ConvertedRecord<'a>>
    where
        't: 'a,
    {
        let mut row = Vec::with_capacity(self.columns.len());
        let mut relaxed = Vec::new();
        for (index, (plan, slot)) in self.columns.iter().zip(&record.values).enumerate() {
            let column = plan.column;
            let cell = match (&column.source, column.field.as_deref()) {
                (ColumnSource::Extra, _) => match &record.extras {
                    Value::Object(extras) if !extras.is_empty() => {
                        Cell::Json(Cow::Borrowed(&record.extras))
                    }
                    _ => Cell::Null,
                },
                (_, Some(field)) => {
                    let value = slot.as_ref().unwrap_or(&Value::Null);
                    let cell = convert_value(value, &column.pg_type).ok()?;
                    if let Some(violation) = self.check(plan, field, value, &cell).ok()? {
                        relaxed.push((index, violation));
                    }
                    cell
                }
                (_, None) => Cell::Null,
            };
            row.push(cell);
        }
        Some(ConvertedRecord {
            row,
            junction_rows: Vec::new(),
            relaxed,
        })
    }

    /// The column a record key feeds: first the column after the previous key's (records
    /// are written in column order), else a search.
    fn column_of(&self, key: &str, hint: usize) -> Option<usize> {
        if let Some(Some(field)) = self.column_key.get(hint)
            && field == key
        {
            return Some(hint);
        }
        self.sorted_fields
            .binary_search_by(|(field, _)| field.as_ref().cmp(key))
            .ok()
            .and_then(|position| self.sorted_fields.get(position))
            .map(|(_, column)| *column)
    }

    /// Applies NOT NULL, CHECK and enum-type membership: a violation rejects the record, or,
    /// where the load relaxes that constraint, is returned for the report.
    fn check(
        &self,
        plan: &ColumnPlan<'_>,
        field: &str,
        value: &Value,
        cell: &Cell<'_>,
    ) -> Result<Option<ConstraintKind>, Rejection> {
        let column = plan.column;
        if matches!(cell, Cell::Null) {
            if column.not_null {
                if plan.not_null_relaxed {
                    return Ok(Some(ConstraintKind::NotNull));
                }
                return Err(Rejection {
                    field: Some(field.to_owned()),
                    reason: RejectReason::NotNull,
                    message: format!("{field}: a required value is missing or null"),
                    value: Some(Box::new(value.clone())),
                });
            }
            return Ok(None);
        }
        if let Some(allowed) = plan.enum_values {
            let outside = outside_enum_type(value, allowed);
            if let Some(outside) = outside {
                return Err(Rejection {
                    field: Some(field.to_owned()),
                    reason: RejectReason::Enum,
                    message: format!(
                        "{field}: {outside} is not a value of the enum type {} (a PostgreSQL enum type cannot be relaxed)",
                        column.pg_type
                    ),
                    value: Some(Box::new(value.clone())),
                });
            }
        }
        if let Some(check) = &column.check
            && let Some(outside) = outside_check(value, check)
        {
            if plan.check_relaxed {
                return Ok(Some(ConstraintKind::Check));
            }
            return Err(Rejection {
                field: Some(field.to_owned()),
                reason: RejectReason::Enum,
                message: format!("{field}: {outside} is not one of the enum's values"),
                value: Some(Box::new(value.clone())),
            });
        }
        Ok(None)
    }

    fn extra_cell<'a>(&self, record: &'a Map<String, Value>) -> Cell<'a> {
        let mut extra = Map::new();
        for (key, value) in record {
            if key != FLAGS_KEY && !self.column_fields.contains(key.as_str()) {
                extra.insert(source_key(key).to_owned(), value.clone());
            }
        }
        if extra.is_empty() {
            Cell::Null
        } else {
            Cell::Json(Cow::Owned(Value::Object(extra)))
        }
    }

    /// Whether this table has an `_extra` column.
    pub fn has_extra(&self) -> bool {
        self.extra.is_some()
    }
}

/// A record read by [`EntityConverter::parse_slotted`]: per column, the value of its field
/// when the record has it; the keys no column reads, as a JSON object in record order (what
/// `_extra` holds).
#[derive(Debug, Clone, PartialEq)]
pub struct SlottedRecord {
    values: Vec<Option<Value>>,
    extras: Value,
}

impl SlottedRecord {
    /// The record's id, when it has a string one.
    pub fn id<'a>(&'a self, converter: &EntityConverter<'_>) -> Option<&'a str> {
        let column = converter.column_of(&staged_key(converter.id_field), 0)?;
        self.values.get(column)?.as_ref()?.as_str()
    }
}

struct SlotVisitor<'c, 't> {
    converter: &'c EntityConverter<'t>,
}

impl<'de> serde::de::Visitor<'de> for SlotVisitor<'_, '_> {
    type Value = SlottedRecord;

    fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("a JSON object")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(
        self,
        mut access: A,
    ) -> Result<SlottedRecord, A::Error> {
        let converter = self.converter;
        let mut values: Vec<Option<Value>> = vec![None; converter.columns.len()];
        let mut extras = Map::new();
        let mut hint = 0;
        // Any error sends the line to the general path, which says why when it is a reason to
        // reject: a key with an escape (it cannot be borrowed), the importer's flags, a key
        // repeated (here or in an object inside a value).
        let check = KeyCheck::strict();
        let repeated = || serde::de::Error::custom("a key appears more than once");
        while let Some(key) = access.next_key::<&'de str>()? {
            if key == FLAGS_KEY {
                return Err(serde::de::Error::custom("flagged by the importer"));
            }
            let value: Value = access.next_value_seed(CheckedValue(&check))?;
            match converter.column_of(key, hint) {
                Some(column) => {
                    hint = column + 1;
                    if let Some(slot) = values.get_mut(column)
                        && slot.replace(value).is_some()
                    {
                        return Err(repeated());
                    }
                }
                None => {
                    if extras.insert(source_key(key).to_owned(), value).is_some() {
                        return Err(repeated());
                    }
                }
            }
        }
        Ok(SlottedRecord {
            values,
            extras: Value::Object(extras),
        })
    }
}

/// The rejection for a record the importer flagged: the first flag's field, with its reason
/// (a text: `flagged`; `{"reason", "message", "value"}`: that reason code, message and value).
fn flagged(record: &Map<String, Value>, flags: &Value) -> Rejection {
    let first = flags.as_object().and_then(|flags| flags.iter().next());
    match first {
        Some((field, flag)) => {
            let detail = flag.as_object();
            let reason = detail
                .and_then(|detail| detail.get("reason"))
                .and_then(|reason| RejectReason::deserialize(reason).ok())
                .unwrap_or(RejectReason::Flagged);
            let message = flag
                .as_str()
                .or_else(|| detail?.get("message")?.as_str())
                .unwrap_or("the importer could not convert the value");
            let value = match detail.and_then(|detail| detail.get("value")) {
                Some(value) => Some(value.clone()),
                None => record.get(staged_key(field).as_ref()).cloned(),
            };
            Rejection {
                field: Some(field.clone()),
                reason,
                message: format!("{field}: {message}"),
                value: value.map(Box::new),
            }
        }
        None => Rejection {
            field: None,
            reason: RejectReason::Flagged,
            message: format!("the importer flagged the record: {flags}"),
            value: None,
        },
    }
}

/// The first value of `value` (a scalar or an array of them) outside the CHECK's list.
fn outside_check(value: &Value, check: &Check) -> Option<String> {
    let allowed = |item: &Value| check.allowed.iter().any(|member| same_value(member, item));
    match value {
        Value::Array(items) if check.elements => items
            .iter()
            .find(|item| !item.is_null() && !allowed(item))
            .map(Value::to_string),
        Value::Null => None,
        other => (!allowed(other)).then(|| other.to_string()),
    }
}

fn outside_enum_type(value: &Value, allowed: &[String]) -> Option<String> {
    let allowed = |item: &Value| {
        item.as_str()
            .is_some_and(|text| allowed.iter().any(|member| member == text))
    };
    match value {
        Value::Array(items) => items
            .iter()
            .find(|item| !item.is_null() && !allowed(item))
            .map(Value::to_string),
        Value::Null => None,
        other => (!allowed(other)).then(|| other.to_string()),
    }
}

/// JSON equality where numbers compare by value (`2` equals `2.0`).
fn same_value(left: &Value, right: &Value) -> bool {
    match (left, right) {
        (Value::Number(left), Value::Number(right)) => match (left.as_i64(), right.as_i64()) {
            (Some(left), Some(right)) => left == right,
            _ => left.as_f64() == right.as_f64(),
        },
        _ => left == right,
    }
}
