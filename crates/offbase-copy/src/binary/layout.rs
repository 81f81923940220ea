//! The column layout both COPY encoders and the decoder share: the wire kind of each
//! PostgreSQL type (`Scalar`), whether a column is an array of it (`Slot`), its type OID, and
//! which cells belong in it. Within `binary` it depends only on `error`.

use super::error::EncodeError;
use crate::cell::Cell;
use offbase_model::PgType;

/// `time` runs from 00:00:00 to 24:00:00 inclusive.
pub(crate) const TIME_MAX_MICROS: i64 = 86_400_000_000;

/// The encoding-relevant kind of a scalar column or array element type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scalar {
    Bool,
    Int2,
    Int4,
    Int8,
    Float4,
    Float8,
    Numeric,
    Text,
    Varchar,
    Enum,
    Uuid,
    Timestamptz,
    Timestamp,
    Date,
    Time,
    Jsonb,
    Json,
}

impl Scalar {
    /// The kind of a scalar type; `None` for an array type.
    pub(crate) fn of(pg_type: &PgType) -> Option<Scalar> {
        Some(match pg_type {
            PgType::Boolean => Scalar::Bool,
            PgType::Smallint => Scalar::Int2,
            PgType::Integer => Scalar::Int4,
            PgType::Bigint => Scalar::Int8,
            PgType::Real => Scalar::Float4,
            PgType::DoublePrecision => Scalar::Float8,
            PgType::Numeric(_) => Scalar::Numeric,
            PgType::Text => Scalar::Text,
            PgType::Varchar(_) => Scalar::Varchar,
            PgType::Enum(_) => Scalar::Enum,
            PgType::Uuid => Scalar::Uuid,
            PgType::Timestamptz => Scalar::Timestamptz,
            PgType::Timestamp => Scalar::Timestamp,
            PgType::Date => Scalar::Date,
            PgType::Time => Scalar::Time,
            PgType::Jsonb => Scalar::Jsonb,
            PgType::Json => Scalar::Json,
            PgType::Array(_) => return None,
        })
    }

    /// The type's OID (`pg_type.oid`); enum types have none fixed.
    pub(crate) fn oid(self) -> Option<u32> {
        Some(match self {
            Scalar::Bool => 16,
            Scalar::Int2 => 21,
            Scalar::Int4 => 23,
            Scalar::Int8 => 20,
            Scalar::Float4 => 700,
            Scalar::Float8 => 701,
            Scalar::Numeric => 1700,
            Scalar::Text => 25,
            Scalar::Varchar => 1043,
            Scalar::Uuid => 2950,
            Scalar::Timestamptz => 1184,
            Scalar::Timestamp => 1114,
            Scalar::Date => 1082,
            Scalar::Time => 1083,
            Scalar::Jsonb => 3802,
            Scalar::Json => 114,
            Scalar::Enum => return None,
        })
    }

    /// Whether `cell` (not `Null`) holds a value of this kind.
    pub(crate) fn accepts(self, cell: &Cell<'_>) -> bool {
        matches!(
            (self, cell),
            (Scalar::Bool, Cell::Bool(_))
                | (Scalar::Int2, Cell::Int2(_))
                | (Scalar::Int4, Cell::Int4(_))
                | (Scalar::Int8, Cell::Int8(_))
                | (Scalar::Float4, Cell::Float4(_))
                | (Scalar::Float8, Cell::Float8(_))
                | (Scalar::Numeric, Cell::Numeric(_))
                | (Scalar::Text | Scalar::Varchar | Scalar::Enum, Cell::Text(_))
                | (Scalar::Uuid, Cell::Uuid(_))
                | (Scalar::Timestamptz | Scalar::Timestamp, Cell::Timestamp(_))
                | (Scalar::Date, Cell::Date(_))
                | (Scalar::Time, Cell::Time(_))
                | (Scalar::Jsonb | Scalar::Json, Cell::Json(_))
        )
    }
}

/// One column as the encoders see it: a scalar, or a one-dimensional array of a scalar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Slot {
    pub(crate) scalar: Scalar,
    pub(crate) array: bool,
}

impl Slot {
    pub(crate) fn of(pg_type: &PgType) -> Result<Slot, EncodeError> {
        let unsupported = || EncodeError::UnsupportedType {
            pg_type: pg_type.to_string(),
        };
        match pg_type {
            PgType::Array(element) => Scalar::of(element)
                .map(|scalar| Slot {
                    scalar,
                    array: true,
                })
                .ok_or_else(unsupported),
            scalar => Scalar::of(scalar)
                .map(|scalar| Slot {
                    scalar,
                    array: false,
                })
                .ok_or_else(unsupported),
        }
    }
}

/// A short name of a cell's variant, for mismatch messages.
pub(crate) fn cell_kind(cell: &Cell<'_>) -> &'static str {
    match cell {
        Cell::Null => "NULL",
        Cell::Bool(_) => "boolean",
        Cell::Int2(_) => "smallint",
        Cell::Int4(_) => "integer",
        Cell::Int8(_) => "bigint",
        Cell::Float4(_) => "real",
        Cell::Float8(_) => "double precision",
        Cell::Numeric(_) => "numeric",
        Cell::Text(_) => "text",
        Cell::Uuid(_) => "uuid",
        Cell::Timestamp(_) => "timestamp",
        Cell::Date(_) => "date",
        Cell::Time(_) => "time",
        Cell::Json(_) => "JSON",
        Cell::Array { .. } => "array",
    }
}
