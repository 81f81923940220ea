//! The binary COPY encoder ([`BinaryEncoder`]): rows of cells to the bytes a live load streams
//! to PostgreSQL. Why a row could not be encoded is `error`'s [`EncodeError`].

use super::error::EncodeError;
use super::frame::NULL_LENGTH;
use super::layout::{Scalar, Slot, TIME_MAX_MICROS, cell_kind};
use super::numeric::{Decimal, write_numeric};
use crate::cell::Cell;
use offbase_model::PgType;
use std::collections::BTreeMap;

/// Encodes rows of one table in the binary COPY format. Built once per table: it resolves
/// every column's kind and array element OID up front, so encoding a row does no lookups and
/// no allocations beyond growing the output buffer.
#[derive(Debug, Clone)]
pub struct BinaryEncoder {
    columns: Vec<EncoderColumn>,
    /// The column types, for mismatch messages.
    types: Vec<PgType>,
}

#[derive(Debug, Clone, Copy)]
struct EncoderColumn {
    slot: Slot,
    /// The element OID of an array column (0 for a scalar column).
    element_oid: u32,
}

impl BinaryEncoder {
    /// An encoder for a table whose columns have `columns` types, in COPY column order.
    /// `enum_oids` maps enum type names (as in [`PgType::Enum`]) to their OIDs; only enum
    /// arrays need one, because an array carries its element type's OID. A scalar enum is
    /// sent as its label.
    pub fn new(
        columns: &[PgType],
        enum_oids: &BTreeMap<String, u32>,
    ) -> Result<BinaryEncoder, EncodeError> {
        if i16::try_from(columns.len()).is_err() {
            return Err(EncodeError::TooManyColumns {
                count: columns.len(),
            });
        }
        let mut resolved = Vec::with_capacity(columns.len());
        for pg_type in columns {
            let slot = Slot::of(pg_type)?;
            let element_oid = match (slot.array, pg_type.element()) {
                (true, Some(PgType::Enum(name))) => *enum_oids
                    .get(name)
                    .ok_or_else(|| EncodeError::UnknownEnum { name: name.clone() })?,
                (true, _) => slot.scalar.oid().unwrap_or_default(),
                (false, _) => 0,
            };
            resolved.push(EncoderColumn { slot, element_oid });
        }
        Ok(BinaryEncoder {
            columns: resolved,
            types: columns.to_vec(),
        })
    }

    /// Appends one row (`cells` in column order) to `out`. The caller writes
    /// [`HEADER`](super::frame::HEADER) before the first row and [`TRAILER`](super::frame::TRAILER) after
    /// the last.
    pub fn encode_row(&self, cells: &[Cell<'_>], out: &mut Vec<u8>) -> Result<(), EncodeError> {
        if cells.len() != self.columns.len() {
            return Err(EncodeError::ColumnCount {
                expected: self.columns.len(),
                found: cells.len(),
            });
        }
        let start = out.len();
        let result = self.encode_fields(cells, out);
        if result.is_err() {
            // Leave no half row behind: the caller may skip this row and go on.
            out.truncate(start);
        }
        result
    }

    fn encode_fields(&self, cells: &[Cell<'_>], out: &mut Vec<u8>) -> Result<(), EncodeError> {
        // The count fits: `new` checked it.
        let count = i16::try_from(cells.len()).unwrap_or(i16::MAX);
        out.extend_from_slice(&count.to_be_bytes());
        for (column, (cell, layout)) in cells.iter().zip(&self.columns).enumerate() {
            let mismatch = || EncodeError::Mismatch {
                column,
                expected: self
                    .types
                    .get(column)
                    .map(PgType::to_string)
                    .unwrap_or_default(),
                found: cell_kind(cell),
            };
            if !layout.slot.array {
                encode_scalar(layout.slot.scalar, cell, column, out, mismatch)?;
                continue;
            }
            let items = match cell {
                Cell::Null => {
                    out.extend_from_slice(&NULL_LENGTH);
                    continue;
                }
                Cell::Array { items, .. } => items,
                _ => return Err(mismatch()),
            };
            variable_length(out, column, |out| {
                let length = i32::try_from(items.len()).map_err(|_| EncodeError::TooLarge {
                    column,
                    length: items.len(),
                })?;
                let dimensions: i32 = if items.is_empty() { 0 } else { 1 };
                let has_null = i32::from(items.iter().any(|item| matches!(item, Cell::Null)));
                out.extend_from_slice(&dimensions.to_be_bytes());
                out.extend_from_slice(&has_null.to_be_bytes());
                out.extend_from_slice(&layout.element_oid.to_be_bytes());
                if dimensions == 1 {
                    out.extend_from_slice(&length.to_be_bytes());
                    out.extend_from_slice(&1i32.to_be_bytes());
                }
                for item in items {
                    encode_scalar(layout.slot.scalar, item, column, out, mismatch)?;
                }
                Ok(())
            })?;
        }
        Ok(())
    }
}

/// Writes one field: its length and its bytes, or -1 for `Null`.
fn encode_scalar(
    scalar: Scalar,
    cell: &Cell<'_>,
    column: usize,
    out: &mut Vec<u8>,
    mismatch: impl Fn() -> EncodeError,
) -> Result<(), EncodeError> {
    match (scalar, cell) {
        (_, Cell::Null) => out.extend_from_slice(&NULL_LENGTH),
        (Scalar::Bool, Cell::Bool(value)) => fixed(out, &[u8::from(*value)]),
        (Scalar::Int2, Cell::Int2(value)) => fixed(out, &value.to_be_bytes()),
        (Scalar::Int4, Cell::Int4(value)) => fixed(out, &value.to_be_bytes()),
        (Scalar::Int8, Cell::Int8(value)) => fixed(out, &value.to_be_bytes()),
        (Scalar::Float4, Cell::Float4(value)) => fixed(out, &value.to_bits().to_be_bytes()),
        (Scalar::Float8, Cell::Float8(value)) => fixed(out, &value.to_bits().to_be_bytes()),
        (Scalar::Numeric, Cell::Numeric(text)) => {
            let decimal = Decimal::parse(text).map_err(|reason| EncodeError::Numeric {
                column,
                text: text.clone(),
                reason,
            })?;
            variable_length(out, column, |out| {
                write_numeric(&decimal, out).map_err(|reason| EncodeError::Numeric {
                    column,
                    text: text.clone(),
                    reason,
                })
            })?;
        }
        (Scalar::Text | Scalar::Varchar | Scalar::Enum, Cell::Text(text)) => {
            let length = i32::try_from(text.len()).map_err(|_| EncodeError::TooLarge {
                column,
                length: text.len(),
            })?;
            out.extend_from_slice(&length.to_be_bytes());
            out.extend_from_slice(text.as_bytes());
        }
        (Scalar::Uuid, Cell::Uuid(bytes)) => fixed(out, bytes),
        (Scalar::Timestamptz | Scalar::Timestamp, Cell::Timestamp(micros)) => {
            fixed(out, &micros.to_be_bytes());
        }
        (Scalar::Date, Cell::Date(days)) => fixed(out, &days.to_be_bytes()),
        (Scalar::Time, Cell::Time(micros)) => {
            if !(0..=TIME_MAX_MICROS).contains(micros) {
                return Err(EncodeError::TimeOutOfRange {
                    column,
                    micros: *micros,
                });
            }
            fixed(out, &micros.to_be_bytes());
        }
        (Scalar::Jsonb, Cell::Json(value)) => variable_length(out, column, |out| {
            // jsonb's binary form is a version byte followed by the document's text.
            out.push(1);
            serde_json::to_writer(&mut *out, value.as_ref())
                .map_err(|source| EncodeError::Json { column, source })
        })?,
        (Scalar::Json, Cell::Json(value)) => variable_length(out, column, |out| {
            serde_json::to_writer(&mut *out, value.as_ref())
                .map_err(|source| EncodeError::Json { column, source })
        })?,
        _ => return Err(mismatch()),
    }
    Ok(())
}

fn fixed(out: &mut Vec<u8>, bytes: &[u8]) {
    // Fixed-size values are at most 16 bytes.
    let length = bytes.len() as i32;
    out.extend_from_slice(&length.to_be_bytes());
    out.extend_from_slice(bytes);
}

/// Writes a length placeholder, lets `write` append the value, then patches the length in:
/// the value goes straight into `out` with no intermediate buffer.
fn variable_length(
    out: &mut Vec<u8>,
    column: usize,
    write: impl FnOnce(&mut Vec<u8>) -> Result<(), EncodeError>,
) -> Result<(), EncodeError> {
    let length_at = out.len();
    out.extend_from_slice(&[0; 4]);
    write(out)?;
    let written = out.len() - length_at - 4;
    let length = i32::try_from(written).map_err(|_| EncodeError::TooLarge {
        column,
        length: written,
    })?;
    out[length_at..length_at + 4].copy_from_slice(&length.to_be_bytes());
    Ok(())
}
