//! Converting a staged record into the rows of its tables: one row of the entity's table (one
//! cell per column, by the column's type) and the rows of its junction tables. A value that
//! does not convert, a missing required value or a value outside an enum rejects the whole
//! record with the field, a reason code and a message; nothing is coerced into something the
//! source did not hold. Fields without a column go into `_extra`.
//!
//! Records come in their staged form ([`offbase_model::record`]): the importer's flags under
//! [`FLAGS_KEY`] (such a record is rejected with the importer's reason), and a source field of
//! that name under its escaped key, which is read back as the source wrote it.
//!
//! This module owns the outcome types (what a load relaxes, why a record is rejected, what it
//! becomes); `entity` holds the per-table converter (fields to columns, constraints, `_extra`,
//! junction rows) and `value` the conversion of one JSON value to a cell of its column's type.

mod entity;
#[cfg(test)]
mod tests;
mod value;

pub use entity::{EntityConverter, SlottedRecord};
pub use value::{ConvertFailure, convert_value, parse_uuid};

use crate::cell::Cell;
use offbase_model::{BuiltIn, Column, ColumnSource};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The record key under which an importer records values it could not convert (a CSV cell
/// that is not an integer, say): such a record is rejected with the importer's reason.
pub use offbase_model::record::FLAGS_KEY;

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
