//! Converting a staged record into the rows of its tables: one row of the entity's table (one
//! cell per column, by the column's type) and the rows of its junction tables. A value that
//! does not convert, a missing required value or a value outside an enum rejects the whole
//! record with the field, a reason code and a message; nothing is coerced into something the
//! source did not hold. Fields without a column go into `_extra`.
//!
//! Records come in their staged form ([`offbase_model::record`]): the importer's flags under
//! [`FLAGS_KEY`] (such a record is rejected with the importer's reason), and a source field of
//! that name under its escaped key, which is read back as the source wrote it.

use super::cell::{Cell, POSTGRES_EPOCH_MICROS};
use offbase_model::{BuiltIn, Check, Column, ColumnSource, PgType, Table, TargetSchema};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

/// The record key under which an importer records values it could not convert (a CSV cell
/// that is not an integer, say): such a record is rejected with the importer's reason.
pub use offbase_model::record::FLAGS_KEY;
use offbase_model::record::{CheckedValue, KeyCheck, source_key, staged_key};

/// Which constraints a load relaxes instead of rejecting the records that break them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Relax {
    /// `NOT NULL` of required schema fields (never of `id`).
    pub required: bool,
    /// `CHECK` constraints of enum fields (not PostgreSQL enum types, which cannot hold
    /// another value).
    pub enums: bool,
}

impl Relax {
    pub fn is_empty(&self) -> bool {
        !self.required && !self.enums
    }

    /// Parses `required,enums` (either, both, or empty).
    pub fn parse(text: &str) -> Result<Relax, String> {
        let mut relax = Relax::default();
        for word in text
            .split(',')
            .map(str::trim)
            .filter(|word| !word.is_empty())
        {
            match word {
                "required" => relax.required = true,
                "enums" => relax.enums = true,
                other => {
                    return Err(format!(
                        "unknown constraint kind {other:?}: expected `required`, `enums` or `required,enums`"
                    ));
                }
            }
        }
        Ok(relax)
    }

    /// Whether this column's NOT NULL is relaxed.
    pub fn relaxes_not_null(&self, column: &Column) -> bool {
        self.required
            && column.not_null
            && !matches!(
                column.source,
                ColumnSource::BuiltIn(BuiltIn::Id) | ColumnSource::Junction
            )
    }

    /// Whether this column's CHECK is relaxed.
    pub fn relaxes_check(&self, column: &Column) -> bool {
        self.enums && column.check.is_some()
    }
}

/// Why a record was rejected, as a stable code (the reject file's `reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectReason {
    /// The line is not a JSON object (or not valid UTF-8).
    InvalidJson,
    /// An object of the record holds a key twice (JSON would keep only one of the values).
    DuplicateKey,
    /// The importer could not convert a value (a CSV cell, say).
    Flagged,
    /// The value is not of the column's type (a string in an integer field, a bad timestamp).
    WrongType,
    /// An integer outside the column's range.
    OutOfRange,
    /// A required value is missing or null.
    NotNull,
    /// A value outside the field's enum.
    Enum,
    /// Text holding a NUL character, which PostgreSQL text cannot store.
    NulCharacter,
    /// A value too long for a `varchar(n)` column.
    TooLong,
    /// Another record with the same id and a newer `updated_date` was loaded instead.
    DuplicateId,
    /// PostgreSQL refused the row (a rule the converter does not check).
    Database,
}

impl RejectReason {
    pub fn code(self) -> &'static str {
        match self {
            RejectReason::InvalidJson => "invalid_json",
            RejectReason::DuplicateKey => "duplicate_key",
            RejectReason::Flagged => "flagged",
            RejectReason::WrongType => "wrong_type",
            RejectReason::OutOfRange => "out_of_range",
            RejectReason::NotNull => "not_null",
            RejectReason::Enum => "enum",
            RejectReason::NulCharacter => "nul_character",
            RejectReason::TooLong => "too_long",
            RejectReason::DuplicateId => "duplicate_id",
            RejectReason::Database => "database",
        }
    }
}

/// A record that cannot be loaded.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejection {
    /// The record field at fault, when one is.
    pub field: Option<String>,
    pub reason: RejectReason,
    pub message: String,
    /// The offending value (boxed: rejections are rare, and a small error keeps every
    /// conversion's result small).
    pub value: Option<Box<Value>>,
}

/// A constraint a relaxed load let a value through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConstraintKind {
    NotNull,
    Check,
}

/// The rows a record becomes.
#[derive(Debug, Clone, PartialEq)]
pub struct ConvertedRecord<'a> {
    /// The entity table's row, one cell per column in table order.
    pub row: Vec<Cell<'a>>,
    /// Rows of the junction tables: (index into [`EntityConverter::junctions`], row).
    pub junction_rows: Vec<(usize, Vec<Cell<'a>>)>,
    /// Columns (by index) whose relaxed constraint this record breaks.
    pub relaxed: Vec<(usize, ConstraintKind)>,
}

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

/// Why a value does not convert to a type.
#[derive(Debug, Clone, PartialEq)]
pub struct ConvertFailure {
    pub reason: RejectReason,
    pub message: String,
}

fn wrong_type(value: &Value, expected: &str) -> ConvertFailure {
    ConvertFailure {
        reason: RejectReason::WrongType,
        message: format!("{} is not {expected}", shorten(&value.to_string(), 200)),
    }
}

fn shorten(text: &str, limit: usize) -> String {
    if text.chars().count() <= limit {
        text.to_owned()
    } else {
        let cut: String = text.chars().take(limit).collect();
        format!("{cut}...")
    }
}

/// Converts one JSON value to a cell of `pg_type`. `null` is `Cell::Null` for every type.
pub fn convert_value<'a>(
    value: &'a Value,
    pg_type: &'a PgType,
) -> Result<Cell<'a>, ConvertFailure> {
    if value.is_null() {
        return Ok(Cell::Null);
    }
    match pg_type {
        PgType::Text | PgType::Enum(_) => text(value).map(Cell::Text),
        PgType::Varchar(limit) => {
            let text = text(value)?;
            if let Some(limit) = limit
                && text.chars().count() > *limit as usize
            {
                return Err(ConvertFailure {
                    reason: RejectReason::TooLong,
                    message: format!(
                        "{} characters is longer than varchar({limit}) allows",
                        text.chars().count()
                    ),
                });
            }
            Ok(Cell::Text(text))
        }
        PgType::Uuid => value
            .as_str()
            .and_then(parse_uuid)
            .map(Cell::Uuid)
            .ok_or_else(|| wrong_type(value, "a UUID")),
        PgType::Boolean => value
            .as_bool()
            .map(Cell::Bool)
            .ok_or_else(|| wrong_type(value, "a boolean")),
        PgType::Smallint | PgType::Integer | PgType::Bigint => {
            let integer = integer(value).ok_or_else(|| wrong_type(value, "an integer"))?;
            let out_of_range = || ConvertFailure {
                reason: RejectReason::OutOfRange,
                message: format!("{value} is out of the range of {pg_type}"),
            };
            match pg_type {
                PgType::Smallint => i16::try_from(integer)
                    .map(Cell::Int2)
                    .map_err(|_| out_of_range()),
                PgType::Integer => i32::try_from(integer)
                    .map(Cell::Int4)
                    .map_err(|_| out_of_range()),
                _ => i64::try_from(integer)
                    .map(Cell::Int8)
                    .map_err(|_| out_of_range()),
            }
        }
        PgType::Real => {
            let number = value
                .as_f64()
                .ok_or_else(|| wrong_type(value, "a number"))?;
            let single = number as f32;
            if single.is_finite() {
                Ok(Cell::Float4(single))
            } else {
                Err(ConvertFailure {
                    reason: RejectReason::OutOfRange,
                    message: format!("{value} is out of the range of real"),
                })
            }
        }
        PgType::DoublePrecision => value
            .as_f64()
            .map(Cell::Float8)
            .ok_or_else(|| wrong_type(value, "a number")),
        PgType::Numeric(precision) => match value {
            Value::Number(number) => {
                let text = number.to_string();
                if let Some((precision, scale)) = precision {
                    check_numeric_fits(&text, *precision, *scale)?;
                }
                Ok(Cell::Numeric(text))
            }
            other => Err(wrong_type(other, "a number")),
        },
        PgType::Timestamptz | PgType::Timestamp => value
            .as_str()
            .and_then(offbase_model::time::parse_timestamp)
            .map(|instant| Cell::Timestamp(instant.timestamp_micros() - POSTGRES_EPOCH_MICROS))
            .ok_or_else(|| wrong_type(value, "an ISO 8601 timestamp")),
        PgType::Date => value
            .as_str()
            .and_then(offbase_model::time::parse_date)
            .map(|date| {
                use chrono::Datelike;
                Cell::Date(date.num_days_from_ce() - POSTGRES_EPOCH_DAYS_FROM_CE)
            })
            .ok_or_else(|| wrong_type(value, "a date (YYYY-MM-DD)")),
        PgType::Time => value
            .as_str()
            .and_then(offbase_model::time::parse_time)
            .map(|time| {
                use chrono::Timelike;
                Cell::Time(
                    i64::from(time.num_seconds_from_midnight()) * 1_000_000
                        + i64::from(time.nanosecond() / 1_000),
                )
            })
            .ok_or_else(|| wrong_type(value, "a time (HH:MM[:SS[.ffffff]])")),
        PgType::Jsonb => {
            if holds_nul(value) {
                return Err(ConvertFailure {
                    reason: RejectReason::NulCharacter,
                    message: "holds a NUL character (\\u0000), which jsonb cannot store".into(),
                });
            }
            Ok(Cell::Json(Cow::Borrowed(value)))
        }
        PgType::Json => Ok(Cell::Json(Cow::Borrowed(value))),
        PgType::Array(element) => {
            let Value::Array(items) = value else {
                return Err(wrong_type(value, &format!("an array ({pg_type})")));
            };
            let mut cells = Vec::with_capacity(items.len());
            for (position, item) in items.iter().enumerate() {
                if item.is_array() {
                    return Err(ConvertFailure {
                        reason: RejectReason::WrongType,
                        message: format!(
                            "element {} is a nested array; {pg_type} holds one dimension",
                            position + 1
                        ),
                    });
                }
                let cell = convert_value(item, element).map_err(|failure| ConvertFailure {
                    reason: failure.reason,
                    message: format!("element {}: {}", position + 1, failure.message),
                })?;
                cells.push(cell);
            }
            Ok(Cell::Array {
                element,
                items: cells,
            })
        }
    }
}

/// `num_days_from_ce` of 2000-01-01, PostgreSQL's day zero.
const POSTGRES_EPOCH_DAYS_FROM_CE: i32 = 730_120;

fn text(value: &Value) -> Result<&str, ConvertFailure> {
    match value {
        Value::String(text) => {
            if text.contains('\0') {
                Err(ConvertFailure {
                    reason: RejectReason::NulCharacter,
                    message: "holds a NUL character (\\u0000), which PostgreSQL text cannot store"
                        .into(),
                })
            } else {
                Ok(text)
            }
        }
        other => Err(wrong_type(other, "a string")),
    }
}

/// An integer value: a JSON integer, or a number with no fraction (`3.0`) that is exact.
fn integer(value: &Value) -> Option<i128> {
    let Value::Number(number) = value else {
        return None;
    };
    if let Some(integer) = number.as_i64() {
        return Some(i128::from(integer));
    }
    if let Some(integer) = number.as_u64() {
        return Some(i128::from(integer));
    }
    let float = number.as_f64()?;
    // Beyond 2^53 a float no longer names one integer: refuse rather than guess.
    (float.fract() == 0.0 && float.abs() <= 9_007_199_254_740_992.0).then_some(float as i128)
}

fn holds_nul(value: &Value) -> bool {
    match value {
        Value::String(text) => text.contains('\0'),
        Value::Array(items) => items.iter().any(holds_nul),
        Value::Object(map) => map
            .iter()
            .any(|(key, value)| key.contains('\0') || holds_nul(value)),
        _ => false,
    }
}

fn parse_uuid(text: &str) -> Option<[u8; 16]> {
    let bytes = text.as_bytes();
    if bytes.len() != 36 {
        return None;
    }
    let mut out = [0u8; 16];
    let mut nibbles = 0usize;
    for (position, &byte) in bytes.iter().enumerate() {
        if matches!(position, 8 | 13 | 18 | 23) {
            if byte != b'-' {
                return None;
            }
            continue;
        }
        let digit = (byte as char).to_digit(16)? as u8;
        let slot = out.get_mut(nibbles / 2)?;
        *slot = (*slot << 4) | digit;
        nibbles += 1;
    }
    (nibbles == 32).then_some(out)
}

/// Refuses a number that `numeric(precision, scale)` would round or overflow: PostgreSQL
/// rounds extra decimals silently, which would change the value.
fn check_numeric_fits(text: &str, precision: u32, scale: u32) -> Result<(), ConvertFailure> {
    let (mantissa, exponent) = match text.split_once(['e', 'E']) {
        Some((mantissa, exponent)) => (mantissa, exponent.parse::<i64>().unwrap_or(0)),
        None => (text, 0),
    };
    let mantissa = mantissa.trim_start_matches('-');
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let fraction = fraction.trim_end_matches('0');
    let whole = whole.trim_start_matches('0');
    // Digits before and after the point once the exponent is applied.
    let fraction_digits = (fraction.len() as i64 - exponent).max(0);
    let whole_digits = (whole.len() as i64 + exponent.min(fraction.len() as i64)).max(0)
        + (exponent - fraction.len() as i64).max(0);
    let fraction_digits = if whole.is_empty() && fraction.is_empty() {
        0
    } else {
        fraction_digits
    };
    if fraction_digits > i64::from(scale) {
        return Err(ConvertFailure {
            reason: RejectReason::OutOfRange,
            message: format!(
                "{text} has more than {scale} decimal places: numeric({precision},{scale}) would round it"
            ),
        });
    }
    if whole_digits > i64::from(precision) - i64::from(scale) {
        return Err(ConvertFailure {
            reason: RejectReason::OutOfRange,
            message: format!("{text} is too large for numeric({precision},{scale})"),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use offbase_model::{App, Entity, Field, FieldKind, MappingRules, SchemaSource, SourceLayout};
    use serde_json::json;

    /// `Note`: `title` (required), `at` (date-time), and `flagged_as`, a field named like the
    /// importer's flags when `declare_flags`.
    fn note_target(declare_flags: bool) -> TargetSchema {
        let mut fields = vec![Field::new("title", FieldKind::String), {
            let mut at = Field::new("at", FieldKind::String);
            at.format = Some("date-time".into());
            at
        }];
        if let Some(title) = fields.first_mut() {
            title.required = true;
        }
        if declare_flags {
            fields.push(Field::new(FLAGS_KEY, FieldKind::Object));
        }
        let app = App {
            name: "test".into(),
            app_id: None,
            entities: vec![Entity {
                name: "Note".into(),
                source: SchemaSource {
                    path: "Note.jsonc".into(),
                    layout: SourceLayout::Base44Entities,
                },
                title: None,
                description: None,
                fields,
                rls: None,
                extra: Default::default(),
            }],
        };
        let rules = MappingRules::defaults().unwrap_or_else(|error| panic!("{error}"));
        offbase_sql::plan(&app, &rules).unwrap_or_else(|error| panic!("{error}"))
    }

    fn object(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            other => panic!("not an object: {other}"),
        }
    }

    /// Both paths on a staged line: the general path's row (or rejection), and the fast path's
    /// row when it does not step aside (it must then agree).
    fn convert_line(converter: &EntityConverter<'_>, line: &str) -> Result<Vec<String>, Rejection> {
        let record = offbase_model::record::parse_object(line.as_bytes(), 0)
            .unwrap_or_else(|error| panic!("{line}: {error}"));
        let general = converter.convert(&record).map(|converted| {
            converted
                .row
                .iter()
                .map(|cell| format!("{cell:?}"))
                .collect()
        });
        if let Some(slotted) = converter.parse_slotted(line)
            && let Some(converted) = converter.convert_slotted(&slotted)
        {
            let fast: Vec<String> = converted
                .row
                .iter()
                .map(|cell| format!("{cell:?}"))
                .collect();
            assert_eq!(Ok(fast), general, "{line}");
        }
        general
    }

    /// Regression: a field named `_offbase_flags` in the source was taken for the importer's
    /// flags, and the record rejected as `flagged`. Staged under its escaped key, it is an
    /// ordinary field: in `_extra` when undeclared, in its column when declared.
    #[test]
    fn a_source_field_named_like_the_flags_is_an_ordinary_field() {
        let line = r#"{"id":"n1","title":"t","_offbase_flags_":{"title":"forged"}}"#;
        let target = note_target(false);
        let Some(table) = target.table_for_entity("Note") else {
            panic!("no table");
        };
        let converter = EntityConverter::new(&target, table, Relax::default());
        let Ok(row) = convert_line(&converter, line) else {
            panic!("rejected");
        };
        assert_eq!(
            row.last().map(String::as_str),
            Some(
                format!(
                    "{:?}",
                    Cell::Json(Cow::Owned(json!({FLAGS_KEY: {"title": "forged"}})))
                )
                .as_str()
            )
        );

        let target = note_target(true);
        let Some(table) = target.table_for_entity("Note") else {
            panic!("no table");
        };
        let converter = EntityConverter::new(&target, table, Relax::default());
        let column = table
            .columns
            .iter()
            .position(|column| column.field.as_deref() == Some(FLAGS_KEY));
        let Some(column) = column else {
            panic!("no column for the declared field");
        };
        let Ok(row) = convert_line(&converter, line) else {
            panic!("rejected");
        };
        assert_eq!(
            row.get(column),
            Some(&format!(
                "{:?}",
                Cell::Json(Cow::Owned(json!({"title": "forged"})))
            )),
        );
        assert_eq!(row.last().map(String::as_str), Some("Null"));
    }

    #[test]
    fn the_importers_flags_reject_with_their_reason() {
        let target = note_target(false);
        let Some(table) = target.table_for_entity("Note") else {
            panic!("no table");
        };
        let converter = EntityConverter::new(&target, table, Relax::default());
        let flagged = |line: &str| match convert_line(&converter, line) {
            Ok(row) => panic!("loaded: {row:?}"),
            Err(rejection) => rejection,
        };
        let rejection = flagged(r#"{"id":"n1","title":"x","_offbase_flags":{"title":"not text"}}"#);
        assert_eq!(
            rejection,
            Rejection {
                field: Some("title".into()),
                reason: RejectReason::Flagged,
                message: "title: not text".into(),
                value: Some(Box::new(json!("x"))),
            }
        );
        let rejection = flagged(
            r#"{"id":"n1","title":"x","_offbase_flags":{"title":{"reason":"duplicate_key","message":"twice","value":["w","x"]}}}"#,
        );
        assert_eq!(
            rejection,
            Rejection {
                field: Some("title".into()),
                reason: RejectReason::DuplicateKey,
                message: "title: twice".into(),
                value: Some(Box::new(json!(["w", "x"]))),
            }
        );
    }

    /// Regression: a repeated key kept its last value silently; the fast path now steps aside
    /// (the general path's parser refuses the line and says why).
    #[test]
    fn the_fast_path_steps_aside_for_a_repeated_key() {
        let target = note_target(false);
        let Some(table) = target.table_for_entity("Note") else {
            panic!("no table");
        };
        let converter = EntityConverter::new(&target, table, Relax::default());
        for line in [
            r#"{"id":"n1","title":"a","title":"b"}"#,
            r#"{"id":"n1","id":"n2","title":"a"}"#,
            r#"{"id":"n1","title":"a","other":1,"other":2}"#,
            r#"{"id":"n1","title":"a","other":{"k":1,"k":2}}"#,
        ] {
            assert!(converter.parse_slotted(line).is_none(), "{line}");
        }
        assert!(
            converter
                .parse_slotted(r#"{"id":"n1","title":"a","other":{"k":1}}"#)
                .is_some()
        );
    }

    /// Regression: timestamps outside PostgreSQL's grammar were loaded (`+99:00`, `2024-1-1`)
    /// and 7-digit fractions cut instead of rounded.
    #[test]
    fn timestamps_follow_the_grammar_and_round_like_postgresql() {
        let pg_type = PgType::Timestamptz;
        for bad in [
            "2024-01-01T00:00:00+99:00",
            "2024-1-1",
            "2024-1-1T00:00:00Z",
        ] {
            let value = json!(bad);
            let failure = convert_value(&value, &pg_type).err();
            assert_eq!(
                failure.map(|failure| failure.reason),
                Some(RejectReason::WrongType),
                "{bad}"
            );
        }
        let value = json!("2000-01-01T00:00:00.1234565Z");
        assert_eq!(
            convert_value(&value, &pg_type),
            Ok(Cell::Timestamp(123_456))
        );
        let value = json!("2000-01-01T00:00:00.1234575Z");
        assert_eq!(
            convert_value(&value, &pg_type),
            Ok(Cell::Timestamp(123_458))
        );
        let value = json!("2024-1-1");
        assert!(convert_value(&value, &PgType::Date).is_err());
        let record = object(json!({"id": "n1", "title": "t", "at": "2024-01-01T00:00:00+99:00"}));
        let target = note_target(false);
        let Some(table) = target.table_for_entity("Note") else {
            panic!("no table");
        };
        let converter = EntityConverter::new(&target, table, Relax::default());
        let rejection = converter.convert(&record).err();
        assert_eq!(
            rejection.map(|rejection| (rejection.field, rejection.reason, rejection.value)),
            Some((
                Some("at".to_owned()),
                RejectReason::WrongType,
                Some(Box::new(json!("2024-01-01T00:00:00+99:00")))
            ))
        );
    }
}
