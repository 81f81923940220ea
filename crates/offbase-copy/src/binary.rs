//! PostgreSQL's binary COPY format: the encoder a live load streams rows through, and a
//! decoder for `COPY ... TO STDOUT (FORMAT binary)` that turns a loaded table back into cells
//! so it can be checked against the workspace. Also home of the column layout and the decimal
//! parser that the text encoder and the content hash share.
//!
//! Format reference: <https://www.postgresql.org/docs/current/sql-copy.html> ("Binary
//! Format"); the per-type layouts are each type's `*_send`/`*_recv` functions.

use super::cell::Cell;
use offbase_model::PgType;
use std::borrow::Cow;
use std::collections::BTreeMap;

/// The file header: signature, flags (no OIDs), header extension length (none).
pub const HEADER: &[u8] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";
/// The file trailer: a field count of -1.
pub const TRAILER: &[u8] = &[0xff, 0xff];

const SIGNATURE: &[u8] = b"PGCOPY\n\xff\r\n\0";
const NULL_LENGTH: [u8; 4] = (-1i32).to_be_bytes();

// Sign words of the binary numeric format (`numeric.c`).
const NUMERIC_POSITIVE: u16 = 0x0000;
const NUMERIC_NEGATIVE: u16 = 0x4000;
const NUMERIC_NAN: u16 = 0xC000;
const NUMERIC_POSITIVE_INFINITY: u16 = 0xD000;
const NUMERIC_NEGATIVE_INFINITY: u16 = 0xF000;
/// The largest display scale the binary numeric format can carry (`NUMERIC_DSCALE_MASK`).
const NUMERIC_MAX_DISPLAY_SCALE: i64 = 0x3FFF;
/// Exponents beyond this are refused before any arithmetic on them; PostgreSQL's own limit
/// is far smaller (a weight must fit in 16 bits).
const DECIMAL_MAX_EXPONENT: i64 = 1_000_000_000;

/// `time` runs from 00:00:00 to 24:00:00 inclusive.
pub(crate) const TIME_MAX_MICROS: i64 = 86_400_000_000;

/// Why a row could not be encoded. On an error the output buffer is left as it was before
/// the row.
#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    #[error(
        "enum type {name:?} has no OID: create the plan's enum types first and pass the OID of \
         every enum type the table's arrays use"
    )]
    UnknownEnum { name: String },
    #[error(
        "column type {pg_type} is not supported by COPY encoding (arrays must be one-dimensional)"
    )]
    UnsupportedType { pg_type: String },
    #[error("the row has {found} values but the table has {expected} columns")]
    ColumnCount { expected: usize, found: usize },
    #[error("a table of {count} columns is more than COPY can carry (at most 32767)")]
    TooManyColumns { count: usize },
    #[error("column {column}: a {found} value does not belong in a {expected} column")]
    Mismatch {
        column: usize,
        expected: String,
        found: &'static str,
    },
    #[error("column {column}: numeric value {text:?} cannot be encoded: {reason}")]
    Numeric {
        column: usize,
        text: String,
        reason: &'static str,
    },
    #[error("column {column}: time value of {micros} microseconds is outside 00:00:00..24:00:00")]
    TimeOutOfRange { column: usize, micros: i64 },
    #[error("column {column}: a value of {length} bytes is too large for one COPY field")]
    TooLarge { column: usize, length: usize },
    #[error("column {column}: the JSON document could not be written: {source}")]
    Json {
        column: usize,
        source: serde_json::Error,
    },
}

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

    /// Appends one row (`cells` in column order) to `out`. The caller writes [`HEADER`]
    /// before the first row and [`TRAILER`] after the last.
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

/// A decimal number as text (`-12.50`, `1e-7`, `.5`), split into its parts without
/// allocating. Its value is `±(integer digits ++ fraction digits) × 10^(exponent −
/// fraction length)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Decimal<'a> {
    pub(crate) negative: bool,
    integer: &'a [u8],
    fraction: &'a [u8],
    exponent: i64,
}

impl<'a> Decimal<'a> {
    /// Parses PostgreSQL's `numeric` input syntax (also what serde_json prints for a number).
    pub(crate) fn parse(text: &'a str) -> Result<Decimal<'a>, &'static str> {
        let bytes = text.as_bytes();
        let mut position = 0;
        let negative = match bytes.first() {
            Some(b'-') => {
                position = 1;
                true
            }
            Some(b'+') => {
                position = 1;
                false
            }
            _ => false,
        };
        let digits_from = |start: usize| {
            let length = bytes
                .get(start..)
                .unwrap_or_default()
                .iter()
                .take_while(|byte| byte.is_ascii_digit())
                .count();
            (
                start + length,
                bytes.get(start..start + length).unwrap_or_default(),
            )
        };
        let (after_integer, integer) = digits_from(position);
        position = after_integer;
        let mut fraction: &[u8] = &[];
        if bytes.get(position) == Some(&b'.') {
            let (after_fraction, digits) = digits_from(position + 1);
            fraction = digits;
            position = after_fraction;
        }
        if integer.is_empty() && fraction.is_empty() {
            return Err("it is not a decimal number");
        }
        let mut exponent: i64 = 0;
        if matches!(bytes.get(position), Some(b'e' | b'E')) {
            position += 1;
            let exponent_negative = match bytes.get(position) {
                Some(b'-') => {
                    position += 1;
                    true
                }
                Some(b'+') => {
                    position += 1;
                    false
                }
                _ => false,
            };
            let (after_exponent, digits) = digits_from(position);
            if digits.is_empty() {
                return Err("its exponent has no digits");
            }
            for digit in digits {
                exponent = exponent * 10 + i64::from(digit - b'0');
                if exponent > DECIMAL_MAX_EXPONENT {
                    return Err("its exponent is out of range");
                }
            }
            if exponent_negative {
                exponent = -exponent;
            }
            position = after_exponent;
        }
        if position != bytes.len() {
            return Err("it is not a decimal number");
        }
        Ok(Decimal {
            negative,
            integer,
            fraction,
            exponent,
        })
    }

    /// Every written digit, integer part then fraction, as values 0..=9.
    fn digits(&self) -> impl DoubleEndedIterator<Item = u8> + Clone + 'a {
        self.integer
            .iter()
            .chain(self.fraction)
            .map(|digit| digit - b'0')
    }

    fn digit_count(&self) -> usize {
        self.integer.len() + self.fraction.len()
    }

    /// The digits from the first to the last non-zero one, and the power of ten of the last;
    /// `None` for zero. Equal numbers give equal results whatever their spelling.
    pub(crate) fn significant(
        &self,
    ) -> Option<(impl Iterator<Item = u8> + Clone + 'a, usize, i64)> {
        let leading = self.digits().take_while(|digit| *digit == 0).count();
        if leading == self.digit_count() {
            return None;
        }
        let trailing = self.digits().rev().take_while(|digit| *digit == 0).count();
        let count = self.digit_count() - leading - trailing;
        // Lengths of a text are far below 2^62 and the exponent is bounded by the parser.
        let lowest = self.exponent - self.fraction.len() as i64 + trailing as i64;
        Some((self.digits().skip(leading).take(count), count, lowest))
    }

    /// The number of digits after the decimal point PostgreSQL keeps for this input
    /// (`12.50` → 2, `1e-7` → 7, `1.5e3` → 0).
    fn display_scale(&self) -> i64 {
        (self.fraction.len() as i64 - self.exponent).max(0)
    }

    /// The number as `numeric_out` prints it once stored: plain decimal digits (no exponent),
    /// `scale` digits after the point (the column's scale, else the input's display scale),
    /// no sign on zero (`1e20` → `100000000000000000000`, `1.5e-7` → `0.00000015`).
    pub(crate) fn plain_text(&self, scale: Option<u32>) -> String {
        let scale = scale.map_or(self.display_scale(), i64::from).max(0) as usize;
        let digits: Vec<u8> = self.digits().map(|digit| digit + b'0').collect();
        let point = self.integer.len() as i64 + self.exponent;
        let (whole, fraction): (Vec<u8>, Vec<u8>) = if point <= 0 {
            let mut fraction = vec![b'0'; point.unsigned_abs() as usize];
            fraction.extend_from_slice(&digits);
            (Vec::new(), fraction)
        } else if point as usize >= digits.len() {
            let mut whole = digits.clone();
            whole.resize(point as usize, b'0');
            (whole, Vec::new())
        } else {
            let (whole, fraction) = digits.split_at(point as usize);
            (whole.to_vec(), fraction.to_vec())
        };
        let first = whole.iter().position(|digit| *digit != b'0');
        let mut fraction = fraction;
        fraction.resize(scale, b'0');
        let zero = first.is_none() && fraction.iter().all(|digit| *digit == b'0');
        let mut text = String::with_capacity(whole.len() + scale + 2);
        if self.negative && !zero {
            text.push('-');
        }
        match first {
            Some(first) => text.extend(whole.iter().skip(first).map(|digit| char::from(*digit))),
            None => text.push('0'),
        }
        if scale > 0 {
            text.push('.');
            text.extend(fraction.iter().map(|digit| char::from(*digit)));
        }
        text
    }
}

/// Where a decimal's base-10000 digits fall: the shape of its binary `numeric`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NumericShape {
    groups: i16,
    weight: i16,
    display_scale: u16,
    /// Zeros to put before the significant digits to fill the first group, and after them
    /// to fill the last one (both below 4).
    left_padding: usize,
    right_padding: usize,
}

impl NumericShape {
    /// The shape of `decimal`, or why PostgreSQL's numeric cannot hold it.
    pub(crate) fn of(decimal: &Decimal<'_>) -> Result<NumericShape, &'static str> {
        let display_scale = decimal.display_scale();
        if display_scale > NUMERIC_MAX_DISPLAY_SCALE {
            return Err("it has more digits after the decimal point than numeric can keep (16383)");
        }
        // Checked above: 0..=0x3FFF.
        let display_scale = display_scale as u16;
        let Some((_, count, lowest)) = decimal.significant() else {
            return Ok(NumericShape {
                groups: 0,
                weight: 0,
                display_scale,
                left_padding: 0,
                right_padding: 0,
            });
        };
        // Pad with zeros on the right down to a power of ten that is a multiple of 4, and on
        // the left up to a whole group, so the digits split into base-10000 groups aligned on
        // the decimal point.
        let right_padding = lowest.rem_euclid(4);
        let aligned_lowest = lowest - right_padding;
        let padded = count as i64 + right_padding;
        let left_padding = (4 - padded % 4) % 4;
        let groups = (padded + left_padding) / 4;
        let weight = aligned_lowest / 4 + groups - 1;
        Ok(NumericShape {
            groups: i16::try_from(groups).map_err(|_| "it has too many digits for numeric")?,
            weight: i16::try_from(weight)
                .map_err(|_| "it is too large or too small for numeric")?,
            display_scale,
            left_padding: left_padding as usize,
            right_padding: right_padding as usize,
        })
    }
}

/// Writes the binary `numeric` value: digit count, weight, sign, display scale, then the
/// base-10000 digits, most significant first, without leading or trailing zero digits.
fn write_numeric(decimal: &Decimal<'_>, out: &mut Vec<u8>) -> Result<(), &'static str> {
    let shape = NumericShape::of(decimal)?;
    // Zero is always positive in PostgreSQL, whatever sign it was written with.
    let sign = if decimal.negative && shape.groups > 0 {
        NUMERIC_NEGATIVE
    } else {
        NUMERIC_POSITIVE
    };
    out.extend_from_slice(&shape.groups.to_be_bytes());
    out.extend_from_slice(&shape.weight.to_be_bytes());
    out.extend_from_slice(&sign.to_be_bytes());
    out.extend_from_slice(&shape.display_scale.to_be_bytes());
    let Some((digits, _, _)) = decimal.significant() else {
        return Ok(());
    };
    let mut padded_digits = std::iter::repeat_n(0u8, shape.left_padding)
        .chain(digits)
        .chain(std::iter::repeat_n(0u8, shape.right_padding));
    for _ in 0..shape.groups {
        let mut group: u16 = 0;
        for _ in 0..4 {
            group = group * 10 + u16::from(padded_digits.next().unwrap_or(0));
        }
        out.extend_from_slice(&group.to_be_bytes());
    }
    Ok(())
}

/// Why a binary COPY stream could not be decoded.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("the data does not start with the binary COPY signature")]
    Signature,
    #[error("the binary COPY header sets flags {flags:#x} that this decoder does not support")]
    UnsupportedFlags { flags: u32 },
    #[error("the binary COPY stream ended early ({what} is incomplete)")]
    Truncated { what: &'static str },
    #[error("a row has {found} fields but {expected} column types were given")]
    ColumnCount { expected: usize, found: i16 },
    #[error("column {column}: {reason}")]
    Field { column: usize, reason: String },
    #[error("column {column}: the JSON document does not parse: {source}")]
    Json {
        column: usize,
        source: serde_json::Error,
    },
    #[error("{bytes} bytes follow the binary COPY trailer")]
    AfterTrailer { bytes: usize },
    #[error("column type {pg_type} cannot be decoded (arrays must be one-dimensional)")]
    UnsupportedType { pg_type: String },
}

/// Decodes a complete binary COPY stream held in `data` (header, rows, trailer), calling
/// `visit` with each row's cells in column order. `types` are the column types; enum
/// columns decode to [`Cell::Text`], JSON columns to an owned [`Cell::Json`], numeric columns
/// to [`Cell::Numeric`] text with the value's display scale (`12.50`). Returns the number of
/// rows. A visitor error stops the decoding and is returned.
pub fn decode_rows<'a, E: From<DecodeError>>(
    data: &'a [u8],
    types: &'a [PgType],
    mut visit: impl FnMut(&[Cell<'a>]) -> Result<(), E>,
) -> Result<u64, E> {
    let slots = decoder_slots(types)?;
    let mut position = match header_length(data)? {
        Some(length) => length,
        None => return Err(DecodeError::Truncated { what: "the header" }.into()),
    };
    let mut rows = 0;
    loop {
        let rest = data.get(position..).unwrap_or_default();
        match frame(rest, slots.len())? {
            Some(Frame::Row { length }) => {
                let row = rest.get(..length).unwrap_or_default();
                let cells = decode_row(row, &slots, types)?;
                visit(&cells)?;
                rows += 1;
                position += length;
            }
            Some(Frame::Trailer) => {
                let after = rest.len() - TRAILER.len();
                if after > 0 {
                    return Err(DecodeError::AfterTrailer { bytes: after }.into());
                }
                return Ok(rows);
            }
            None if rest.is_empty() => {
                return Err(DecodeError::Truncated {
                    what: "the trailer",
                }
                .into());
            }
            None => return Err(DecodeError::Truncated { what: "a row" }.into()),
        }
    }
}

/// Decodes a binary COPY stream fed in chunks as they arrive (PostgreSQL sends one row per
/// message): [`push`](Self::push) each chunk, then take rows with
/// [`next_row`](Self::next_row) until it returns `None`; after the last chunk,
/// [`finish`](Self::finish) checks that the stream was complete.
#[derive(Debug)]
pub struct BinaryDecoder<'t> {
    types: &'t [PgType],
    slots: Vec<Slot>,
    buffer: Vec<u8>,
    /// Where the undecoded part of `buffer` starts.
    position: usize,
    state: DecoderState,
    rows: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DecoderState {
    Header,
    Rows,
    Done,
}

impl<'t> BinaryDecoder<'t> {
    pub fn new(types: &'t [PgType]) -> Result<BinaryDecoder<'t>, DecodeError> {
        Ok(BinaryDecoder {
            types,
            slots: decoder_slots(types)?,
            buffer: Vec::new(),
            position: 0,
            state: DecoderState::Header,
            rows: 0,
        })
    }

    /// Appends a chunk of the stream.
    pub fn push(&mut self, chunk: &[u8]) {
        if self.position > 0 {
            // Drop what was decoded; what is left is at most one partial row.
            self.buffer.drain(..self.position);
            self.position = 0;
        }
        self.buffer.extend_from_slice(chunk);
    }

    /// The next complete row, or `None` when more data is needed or the trailer was read.
    pub fn next_row(&mut self) -> Result<Option<Vec<Cell<'_>>>, DecodeError> {
        if self.state == DecoderState::Header {
            let rest = self.buffer.get(self.position..).unwrap_or_default();
            match header_length(rest)? {
                Some(length) => {
                    self.position += length;
                    self.state = DecoderState::Rows;
                }
                None => return Ok(None),
            }
        }
        if self.state == DecoderState::Done {
            return Ok(None);
        }
        let rest = self.buffer.get(self.position..).unwrap_or_default();
        match frame(rest, self.slots.len())? {
            None => Ok(None),
            Some(Frame::Trailer) => {
                self.position += TRAILER.len();
                self.state = DecoderState::Done;
                Ok(None)
            }
            Some(Frame::Row { length }) => {
                let start = self.position;
                self.position += length;
                self.rows += 1;
                let row = self.buffer.get(start..start + length).unwrap_or_default();
                decode_row(row, &self.slots, self.types).map(Some)
            }
        }
    }

    /// The number of rows decoded so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Checks that the stream ended with its trailer and nothing after it.
    pub fn finish(&self) -> Result<u64, DecodeError> {
        let left = self.buffer.len() - self.position;
        match self.state {
            DecoderState::Done if left > 0 => Err(DecodeError::AfterTrailer { bytes: left }),
            DecoderState::Done => Ok(self.rows),
            DecoderState::Header => Err(DecodeError::Truncated { what: "the header" }),
            DecoderState::Rows if left == 0 => Err(DecodeError::Truncated {
                what: "the trailer",
            }),
            DecoderState::Rows => Err(DecodeError::Truncated { what: "a row" }),
        }
    }
}

fn decoder_slots(types: &[PgType]) -> Result<Vec<Slot>, DecodeError> {
    types
        .iter()
        .map(|pg_type| {
            Slot::of(pg_type).map_err(|_| DecodeError::UnsupportedType {
                pg_type: pg_type.to_string(),
            })
        })
        .collect()
}

/// A bounds-checked reader over one complete piece of the stream: running out of bytes is
/// malformed data, never a panic.
struct Reader<'a> {
    data: &'a [u8],
    column: usize,
}

impl<'a> Reader<'a> {
    fn error(&self, reason: impl Into<String>) -> DecodeError {
        DecodeError::Field {
            column: self.column,
            reason: reason.into(),
        }
    }

    fn take(&mut self, count: usize) -> Result<&'a [u8], DecodeError> {
        if count > self.data.len() {
            return Err(self.error(format!(
                "{count} bytes expected, {} left in the value",
                self.data.len()
            )));
        }
        let (taken, rest) = self.data.split_at(count);
        self.data = rest;
        Ok(taken)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let mut bytes = [0; N];
        bytes.copy_from_slice(self.take(N)?);
        Ok(bytes)
    }

    fn i16(&mut self) -> Result<i16, DecodeError> {
        self.array().map(i16::from_be_bytes)
    }

    fn u16(&mut self) -> Result<u16, DecodeError> {
        self.array().map(u16::from_be_bytes)
    }

    fn i32(&mut self) -> Result<i32, DecodeError> {
        self.array().map(i32::from_be_bytes)
    }

    fn u32(&mut self) -> Result<u32, DecodeError> {
        self.array().map(u32::from_be_bytes)
    }

    fn i64(&mut self) -> Result<i64, DecodeError> {
        self.array().map(i64::from_be_bytes)
    }

    /// A length-prefixed field: `None` for NULL.
    fn field(&mut self) -> Result<Option<&'a [u8]>, DecodeError> {
        let length = self.i32()?;
        if length == -1 {
            return Ok(None);
        }
        let length =
            usize::try_from(length).map_err(|_| self.error(format!("field length {length}")))?;
        self.take(length).map(Some)
    }
}

/// The header's length if `data` holds all of it.
fn header_length(data: &[u8]) -> Result<Option<usize>, DecodeError> {
    let fixed = SIGNATURE.len() + 8;
    if data.len() < SIGNATURE.len() {
        if SIGNATURE.starts_with(data) {
            return Ok(None);
        }
        return Err(DecodeError::Signature);
    }
    if !data.starts_with(SIGNATURE) {
        return Err(DecodeError::Signature);
    }
    let Some(words) = data.get(SIGNATURE.len()..fixed) else {
        return Ok(None);
    };
    let mut reader = Reader {
        data: words,
        column: 0,
    };
    let flags = reader.u32()?;
    let extension = reader.u32()?;
    // Bit 16 says rows carry OIDs; bits 17..31 are critical flags a reader must understand.
    if flags & 0xFFFF_0000 != 0 {
        return Err(DecodeError::UnsupportedFlags { flags });
    }
    let length = usize::try_from(extension)
        .ok()
        .and_then(|extension| fixed.checked_add(extension))
        .ok_or(DecodeError::UnsupportedFlags { flags })?;
    Ok((data.len() >= length).then_some(length))
}

enum Frame {
    Row { length: usize },
    Trailer,
}

/// Finds where the next row ends, reading only lengths; `None` if `data` does not hold all
/// of it yet.
fn frame(data: &[u8], columns: usize) -> Result<Option<Frame>, DecodeError> {
    let Some(count) = data.get(..2) else {
        return Ok(None);
    };
    let count = i16::from_be_bytes([count[0], count[1]]);
    if count == -1 {
        return Ok(Some(Frame::Trailer));
    }
    if usize::try_from(count).ok() != Some(columns) {
        return Err(DecodeError::ColumnCount {
            expected: columns,
            found: count,
        });
    }
    let mut position = 2usize;
    for column in 0..columns {
        let Some(length) = data.get(position..position + 4) else {
            return Ok(None);
        };
        let length = i32::from_be_bytes([length[0], length[1], length[2], length[3]]);
        position += 4;
        if length == -1 {
            continue;
        }
        let length = usize::try_from(length).map_err(|_| DecodeError::Field {
            column,
            reason: format!("field length {length}"),
        })?;
        position += length;
        if position > data.len() {
            return Ok(None);
        }
    }
    Ok(Some(Frame::Row { length: position }))
}

/// Decodes one complete row (as found by [`frame`]).
fn decode_row<'a>(
    row: &'a [u8],
    slots: &[Slot],
    types: &'a [PgType],
) -> Result<Vec<Cell<'a>>, DecodeError> {
    let mut reader = Reader {
        data: row.get(2..).unwrap_or_default(),
        column: 0,
    };
    let mut cells = Vec::with_capacity(slots.len());
    for (column, (slot, pg_type)) in slots.iter().zip(types).enumerate() {
        reader.column = column;
        let Some(value) = reader.field()? else {
            cells.push(Cell::Null);
            continue;
        };
        let mut value = Reader {
            data: value,
            column,
        };
        let cell = if slot.array {
            let element = pg_type.element().unwrap_or(pg_type);
            decode_array(&mut value, slot.scalar, element)?
        } else {
            decode_scalar(&mut value, slot.scalar)?
        };
        if !value.data.is_empty() {
            return Err(value.error(format!(
                "{} bytes left over after the value",
                value.data.len()
            )));
        }
        cells.push(cell);
    }
    Ok(cells)
}

fn decode_array<'a>(
    value: &mut Reader<'a>,
    scalar: Scalar,
    element: &'a PgType,
) -> Result<Cell<'a>, DecodeError> {
    let dimensions = value.i32()?;
    let _has_null = value.i32()?;
    let oid = value.u32()?;
    if let Some(expected) = scalar.oid()
        && oid != expected
    {
        return Err(value.error(format!(
            "array elements have type OID {oid}, expected {expected} ({element})"
        )));
    }
    let length = match dimensions {
        0 => 0,
        1 => {
            let length = value.i32()?;
            let _lower_bound = value.i32()?;
            usize::try_from(length)
                .map_err(|_| value.error(format!("array dimension length {length}")))?
        }
        other => {
            return Err(value.error(format!(
                "an array of {other} dimensions; only one-dimensional arrays are supported"
            )));
        }
    };
    // Each element takes at least its 4-byte length: never trust the count for capacity.
    let mut items = Vec::with_capacity(length.min(value.data.len() / 4));
    for _ in 0..length {
        let item = match value.field()? {
            None => Cell::Null,
            Some(bytes) => {
                let mut item = Reader {
                    data: bytes,
                    column: value.column,
                };
                let cell = decode_scalar(&mut item, scalar)?;
                if !item.data.is_empty() {
                    return Err(item.error("bytes left over after an array element"));
                }
                cell
            }
        };
        items.push(item);
    }
    Ok(Cell::Array { element, items })
}

fn decode_scalar<'a>(value: &mut Reader<'a>, scalar: Scalar) -> Result<Cell<'a>, DecodeError> {
    Ok(match scalar {
        Scalar::Bool => Cell::Bool(value.array::<1>()?[0] != 0),
        Scalar::Int2 => Cell::Int2(value.i16()?),
        Scalar::Int4 => Cell::Int4(value.i32()?),
        Scalar::Int8 => Cell::Int8(value.i64()?),
        Scalar::Float4 => Cell::Float4(f32::from_bits(value.u32()?)),
        Scalar::Float8 => Cell::Float8(f64::from_bits(value.array().map(u64::from_be_bytes)?)),
        Scalar::Numeric => Cell::Numeric(decode_numeric(value)?),
        Scalar::Text | Scalar::Varchar | Scalar::Enum => {
            let bytes = value.take(value.data.len())?;
            Cell::Text(std::str::from_utf8(bytes).map_err(|_| value.error("text is not UTF-8"))?)
        }
        Scalar::Uuid => Cell::Uuid(value.array()?),
        Scalar::Timestamptz | Scalar::Timestamp => Cell::Timestamp(value.i64()?),
        Scalar::Date => Cell::Date(value.i32()?),
        Scalar::Time => Cell::Time(value.i64()?),
        Scalar::Jsonb | Scalar::Json => {
            if scalar == Scalar::Jsonb {
                let version = value.array::<1>()?[0];
                if version != 1 {
                    return Err(value.error(format!("jsonb format version {version}")));
                }
            }
            let text = value.take(value.data.len())?;
            let document = serde_json::from_slice(text).map_err(|source| DecodeError::Json {
                column: value.column,
                source,
            })?;
            Cell::Json(Cow::Owned(document))
        }
    })
}

/// Prints a binary `numeric` as PostgreSQL's `numeric_out` does: all integer digits, then
/// exactly display-scale digits after the point.
fn decode_numeric(value: &mut Reader<'_>) -> Result<String, DecodeError> {
    let count = value.i16()?;
    let weight = value.i16()?;
    let sign = value.u16()?;
    let display_scale = value.u16()?;
    match sign {
        NUMERIC_POSITIVE | NUMERIC_NEGATIVE => {}
        NUMERIC_NAN => return Ok("NaN".to_owned()),
        NUMERIC_POSITIVE_INFINITY => return Ok("Infinity".to_owned()),
        NUMERIC_NEGATIVE_INFINITY => return Ok("-Infinity".to_owned()),
        other => return Err(value.error(format!("numeric sign word {other:#x}"))),
    }
    if i64::from(display_scale) > NUMERIC_MAX_DISPLAY_SCALE {
        return Err(value.error(format!("numeric display scale {display_scale}")));
    }
    let count =
        usize::try_from(count).map_err(|_| value.error(format!("numeric digit count {count}")))?;
    let bytes = value.take(count * 2)?;
    let group = |index: i64| -> u16 {
        usize::try_from(index)
            .ok()
            .and_then(|index| bytes.get(index * 2..index * 2 + 2))
            .map_or(0, |pair| u16::from_be_bytes([pair[0], pair[1]]))
    };
    if let Some(bad) = (0..count as i64).map(group).find(|digit| *digit > 9999) {
        return Err(value.error(format!("numeric digit {bad} is not below 10000")));
    }
    let weight = i64::from(weight);
    let mut text =
        String::with_capacity((weight.max(0) as usize + 1) * 4 + usize::from(display_scale) + 2);
    if sign == NUMERIC_NEGATIVE {
        text.push('-');
    }
    if weight < 0 {
        text.push('0');
    } else {
        // Group `index` holds the digits of 10000^(weight - index).
        for index in 0..=weight {
            let digits = group(index);
            if index == 0 {
                push_number(&mut text, u64::from(digits));
            } else {
                push_group(&mut text, digits, 4);
            }
        }
    }
    if display_scale > 0 {
        text.push('.');
        let mut left = usize::from(display_scale);
        let mut index = weight + 1;
        while left > 0 {
            let take = left.min(4);
            push_group(&mut text, group(index), take);
            left -= take;
            index += 1;
        }
    }
    Ok(text)
}

fn push_number(text: &mut String, mut number: u64) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (number % 10) as u8;
        number /= 10;
        if number == 0 {
            break;
        }
    }
    for digit in &digits[start..] {
        text.push(char::from(*digit));
    }
}

/// Pushes the first `take` of a group's four digits, zero-padded.
fn push_group(text: &mut String, group: u16, take: usize) {
    let digits = [group / 1000, group / 100 % 10, group / 10 % 10, group % 10];
    for digit in digits.iter().take(take) {
        text.push(char::from(b'0' + *digit as u8));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn numeric_bytes(text: &str) -> Vec<u8> {
        let mut out = Vec::new();
        let decimal = match Decimal::parse(text) {
            Ok(decimal) => decimal,
            Err(reason) => panic!("{text}: {reason}"),
        };
        if let Err(reason) = write_numeric(&decimal, &mut out) {
            panic!("{text}: {reason}");
        }
        out
    }

    /// The binary numeric: (ndigits, weight, sign, dscale, digits).
    fn numeric(count: i16, weight: i16, sign: u16, scale: u16, digits: &[u16]) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&count.to_be_bytes());
        out.extend_from_slice(&weight.to_be_bytes());
        out.extend_from_slice(&sign.to_be_bytes());
        out.extend_from_slice(&scale.to_be_bytes());
        for digit in digits {
            out.extend_from_slice(&digit.to_be_bytes());
        }
        out
    }

    const POSITIVE: u16 = NUMERIC_POSITIVE;
    const NEGATIVE: u16 = NUMERIC_NEGATIVE;

    #[test]
    fn numeric_matches_hand_computed_bytes() {
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("0", numeric(0, 0, POSITIVE, 0, &[])),
            ("-0", numeric(0, 0, POSITIVE, 0, &[])),
            ("0.00", numeric(0, 0, POSITIVE, 2, &[])),
            ("-0.5", numeric(1, -1, NEGATIVE, 1, &[5000])),
            ("1e-7", numeric(1, -2, POSITIVE, 7, &[10])),
            ("1E-7", numeric(1, -2, POSITIVE, 7, &[10])),
            (
                "123456789012345678901234567890.123",
                numeric(
                    9,
                    7,
                    POSITIVE,
                    3,
                    &[12, 3456, 7890, 1234, 5678, 9012, 3456, 7890, 1230],
                ),
            ),
            ("100", numeric(1, 0, POSITIVE, 0, &[100])),
            ("0.0001", numeric(1, -1, POSITIVE, 4, &[1])),
            ("10000", numeric(1, 1, POSITIVE, 0, &[1])),
            ("-12.50", numeric(2, 0, NEGATIVE, 2, &[12, 5000])),
            (
                "16428176.83",
                numeric(3, 1, POSITIVE, 2, &[1642, 8176, 8300]),
            ),
            ("1.5e3", numeric(1, 0, POSITIVE, 0, &[1500])),
            ("1.5e+3", numeric(1, 0, POSITIVE, 0, &[1500])),
            ("1e20", numeric(1, 5, POSITIVE, 0, &[1])),
            ("12345678", numeric(2, 1, POSITIVE, 0, &[1234, 5678])),
            ("0.00012345", numeric(2, -1, POSITIVE, 8, &[1, 2345])),
            ("9999.9999", numeric(2, 0, POSITIVE, 4, &[9999, 9999])),
            ("1.7976931348623157e308", {
                // 17976931348623157 × 10^292: groups 1 7976 9313 4862 3157 × 10000^73.
                numeric(5, 77, POSITIVE, 0, &[1, 7976, 9313, 4862, 3157])
            }),
            ("5e-324", numeric(1, -81, POSITIVE, 324, &[5])),
            (".5", numeric(1, -1, POSITIVE, 1, &[5000])),
            ("5.", numeric(1, 0, POSITIVE, 0, &[5])),
            ("+7", numeric(1, 0, POSITIVE, 0, &[7])),
            ("000123.4500", numeric(2, 0, POSITIVE, 4, &[123, 4500])),
        ];
        for (text, expected) in cases {
            assert_eq!(numeric_bytes(text), expected, "{text}");
        }
    }

    #[test]
    fn numeric_round_trips_through_the_decoder() {
        let cases = [
            ("0", "0"),
            ("-0", "0"),
            ("0.00", "0.00"),
            ("-0.5", "-0.5"),
            ("1e-7", "0.0000001"),
            (
                "123456789012345678901234567890.123",
                "123456789012345678901234567890.123",
            ),
            ("100", "100"),
            ("0.0001", "0.0001"),
            ("10000", "10000"),
            ("-12.50", "-12.50"),
            ("16428176.83", "16428176.83"),
            ("1.5e3", "1500"),
            ("1e20", "100000000000000000000"),
            ("000123.4500", "123.4500"),
            ("0.00012345", "0.00012345"),
        ];
        for (text, expected) in cases {
            let bytes = numeric_bytes(text);
            let mut reader = Reader {
                data: &bytes,
                column: 0,
            };
            match decode_numeric(&mut reader) {
                Ok(decoded) => assert_eq!(decoded, expected, "{text}"),
                Err(error) => panic!("{text}: {error}"),
            }
        }
    }

    #[test]
    fn numeric_refuses_what_is_not_a_number_or_does_not_fit() {
        for text in [
            "",
            "-",
            ".",
            "e5",
            "1e",
            "1e+",
            "1.2.3",
            "12a",
            "NaN",
            "Infinity",
            " 1",
            "1 ",
            "--1",
            "1e9999999999",
            "1e200000",
            "1e-20000",
        ] {
            let parsed = Decimal::parse(text);
            let written = parsed.and_then(|decimal| write_numeric(&decimal, &mut Vec::new()));
            assert!(written.is_err(), "{text:?} was accepted");
        }
    }

    fn encoder(types: &[PgType]) -> BinaryEncoder {
        let enums = BTreeMap::from([("mood".to_owned(), 16_400)]);
        match BinaryEncoder::new(types, &enums) {
            Ok(encoder) => encoder,
            Err(error) => panic!("{error}"),
        }
    }

    fn encode(types: &[PgType], cells: &[Cell<'_>]) -> Vec<u8> {
        let mut out = Vec::new();
        if let Err(error) = encoder(types).encode_row(cells, &mut out) {
            panic!("{error}");
        }
        out
    }

    #[test]
    fn header_and_trailer_are_the_documented_bytes() {
        assert_eq!(HEADER.len(), 19);
        assert_eq!(&HEADER[..11], b"PGCOPY\n\xff\r\n\0");
        assert_eq!(&HEADER[11..], &[0; 8]);
        assert_eq!(TRAILER, &(-1i16).to_be_bytes());
    }

    #[test]
    fn scalars_are_length_prefixed_big_endian() {
        let types = [
            PgType::Boolean,
            PgType::Smallint,
            PgType::Bigint,
            PgType::Text,
            PgType::Date,
            PgType::Jsonb,
            PgType::Json,
            PgType::Text,
        ];
        let value = json!({"a": [1, "é"]});
        let cells = [
            Cell::Bool(true),
            Cell::Int2(-2),
            Cell::Int8(i64::MIN),
            Cell::Text("hé"),
            Cell::Date(-1),
            Cell::Json(Cow::Borrowed(&value)),
            Cell::Json(Cow::Borrowed(&value)),
            Cell::Null,
        ];
        let mut expected = vec![0, 8];
        expected.extend_from_slice(&[0, 0, 0, 1, 1]);
        expected.extend_from_slice(&[0, 0, 0, 2, 0xff, 0xfe]);
        expected.extend_from_slice(&[0, 0, 0, 8, 0x80, 0, 0, 0, 0, 0, 0, 0]);
        expected.extend_from_slice(&[0, 0, 0, 3, b'h', 0xc3, 0xa9]);
        expected.extend_from_slice(&[0, 0, 0, 4, 0xff, 0xff, 0xff, 0xff]);
        let document = "{\"a\":[1,\"é\"]}".as_bytes();
        expected.extend_from_slice(&(document.len() as i32 + 1).to_be_bytes());
        expected.push(1);
        expected.extend_from_slice(document);
        expected.extend_from_slice(&(document.len() as i32).to_be_bytes());
        expected.extend_from_slice(document);
        expected.extend_from_slice(&[0xff, 0xff, 0xff, 0xff]);
        assert_eq!(encode(&types, &cells), expected);
    }

    #[test]
    fn arrays_carry_dimensions_null_flag_and_element_oid() {
        let mood = PgType::Enum("mood".into());
        let text = PgType::Text;
        let types = [
            PgType::Array(Box::new(mood.clone())),
            PgType::Array(Box::new(PgType::Bigint)),
        ];
        let cells = [
            Cell::Array {
                element: &mood,
                items: vec![Cell::Text("ok"), Cell::Null],
            },
            Cell::Array {
                element: &text,
                items: vec![],
            },
        ];
        let mut expected = vec![0, 2];
        let mut first = Vec::new();
        first.extend_from_slice(&1i32.to_be_bytes());
        first.extend_from_slice(&1i32.to_be_bytes());
        first.extend_from_slice(&16_400u32.to_be_bytes());
        first.extend_from_slice(&2i32.to_be_bytes());
        first.extend_from_slice(&1i32.to_be_bytes());
        first.extend_from_slice(&[0, 0, 0, 2, b'o', b'k', 0xff, 0xff, 0xff, 0xff]);
        expected.extend_from_slice(&(first.len() as i32).to_be_bytes());
        expected.extend_from_slice(&first);
        expected.extend_from_slice(&12i32.to_be_bytes());
        expected.extend_from_slice(&0i32.to_be_bytes());
        expected.extend_from_slice(&0i32.to_be_bytes());
        expected.extend_from_slice(&20u32.to_be_bytes());
        assert_eq!(encode(&types, &cells), expected);
    }

    #[test]
    fn wrong_cells_and_missing_enums_are_errors_and_leave_no_partial_row() {
        let types = [PgType::Text, PgType::Integer];
        let mut out = vec![9];
        let result = encoder(&types).encode_row(&[Cell::Text("a"), Cell::Int8(1)], &mut out);
        assert!(
            matches!(result, Err(EncodeError::Mismatch { column: 1, .. })),
            "{result:?}"
        );
        assert_eq!(out, vec![9]);
        let result = encoder(&types).encode_row(&[Cell::Text("a")], &mut out);
        assert!(matches!(result, Err(EncodeError::ColumnCount { .. })));
        let result =
            encoder(&[PgType::Numeric(None)]).encode_row(&[Cell::Numeric("1,5".into())], &mut out);
        assert!(matches!(result, Err(EncodeError::Numeric { .. })));
        let result = encoder(&[PgType::Time]).encode_row(&[Cell::Time(-1)], &mut out);
        assert!(matches!(result, Err(EncodeError::TimeOutOfRange { .. })));
        let missing = BinaryEncoder::new(
            &[PgType::Array(Box::new(PgType::Enum("other".into())))],
            &BTreeMap::new(),
        );
        assert!(matches!(missing, Err(EncodeError::UnknownEnum { .. })));
        assert_eq!(out, vec![9]);
    }

    fn sample_types() -> Vec<PgType> {
        vec![
            PgType::Bigint,
            PgType::Numeric(None),
            PgType::Text,
            PgType::Jsonb,
            PgType::Array(Box::new(PgType::Text)),
            PgType::Array(Box::new(PgType::Enum("mood".into()))),
            PgType::Timestamptz,
            PgType::Uuid,
            PgType::Real,
            PgType::Time,
        ]
    }

    fn sample_stream(types: &[PgType]) -> Vec<u8> {
        let text = PgType::Text;
        let mood = PgType::Enum("mood".into());
        let document = json!({"b": [1, 2.5, null], "a": "x\ny 😀"});
        let rows = [
            vec![
                Cell::Int8(1),
                Cell::Numeric("-12.50".into()),
                Cell::Text("tab\there"),
                Cell::Json(Cow::Borrowed(&document)),
                Cell::Array {
                    element: &text,
                    items: vec![Cell::Text("a"), Cell::Null, Cell::Text("")],
                },
                Cell::Array {
                    element: &mood,
                    items: vec![Cell::Text("happy")],
                },
                Cell::Timestamp(-1),
                Cell::Uuid([7; 16]),
                Cell::Float4(1.5),
                Cell::Time(TIME_MAX_MICROS),
            ],
            vec![Cell::Null; types.len()],
        ];
        let encoder = encoder(types);
        let mut out = HEADER.to_vec();
        for row in &rows {
            if let Err(error) = encoder.encode_row(row, &mut out) {
                panic!("{error}");
            }
        }
        out.extend_from_slice(TRAILER);
        out
    }

    #[test]
    fn decoder_reads_back_what_the_encoder_wrote() {
        let types = sample_types();
        let stream = sample_stream(&types);
        let mut decoded = Vec::new();
        let rows = decode_rows(&stream, &types, |cells| {
            decoded.push(format!("{cells:?}"));
            Ok::<(), DecodeError>(())
        });
        assert!(matches!(rows, Ok(2)), "{rows:?}");
        assert!(decoded[0].contains("Numeric(\"-12.50\")"), "{}", decoded[0]);
        assert!(
            decoded[0].contains("Text(\"tab\\there\")"),
            "{}",
            decoded[0]
        );
        assert!(decoded[0].contains("Time(86400000000)"), "{}", decoded[0]);
        assert_eq!(decoded[1], format!("{:?}", vec![Cell::Null; types.len()]));

        // Fed one byte at a time, the incremental decoder yields the same rows.
        let mut decoder = match BinaryDecoder::new(&types) {
            Ok(decoder) => decoder,
            Err(error) => panic!("{error}"),
        };
        let mut incremental = Vec::new();
        for byte in &stream {
            decoder.push(std::slice::from_ref(byte));
            loop {
                match decoder.next_row() {
                    Ok(Some(cells)) => incremental.push(format!("{cells:?}")),
                    Ok(None) => break,
                    Err(error) => panic!("{error}"),
                }
            }
        }
        assert!(matches!(decoder.finish(), Ok(2)));
        assert_eq!(incremental, decoded);
    }

    #[test]
    fn decoder_never_panics_on_truncated_or_corrupted_data() {
        let types = sample_types();
        let stream = sample_stream(&types);
        let ignore = |_: &[Cell<'_>]| Ok::<(), DecodeError>(());
        for length in 0..stream.len() {
            let truncated = &stream[..length];
            assert!(decode_rows(truncated, &types, ignore).is_err(), "{length}");
            let mut decoder = match BinaryDecoder::new(&types) {
                Ok(decoder) => decoder,
                Err(error) => panic!("{error}"),
            };
            decoder.push(truncated);
            while let Ok(Some(_)) = decoder.next_row() {}
            assert!(decoder.finish().is_err(), "{length}");
        }
        for position in 0..stream.len() {
            for replacement in [0x00, 0x7f, 0x80, 0xff] {
                let mut corrupted = stream.clone();
                corrupted[position] = replacement;
                let _ = decode_rows(&corrupted, &types, ignore);
            }
        }
        let mut extra = stream.clone();
        extra.push(0);
        assert!(matches!(
            decode_rows(&extra, &types, ignore),
            Err(DecodeError::AfterTrailer { bytes: 1 })
        ));
        assert!(matches!(
            decode_rows(b"PGCOPY\n\xff\r\n\x01", &types, ignore),
            Err(DecodeError::Signature)
        ));
    }

    #[test]
    fn decoder_rejects_malformed_numerics() {
        let cases = [
            numeric(1, 0, POSITIVE, 0, &[10_000]),
            numeric(1, 0, 0x1234, 0, &[1]),
            numeric(-1, 0, POSITIVE, 0, &[]),
            numeric(2, 0, POSITIVE, 0, &[1]),
            numeric(0, 0, POSITIVE, 0x4000, &[]),
        ];
        for bytes in cases {
            let mut reader = Reader {
                data: &bytes,
                column: 0,
            };
            assert!(decode_numeric(&mut reader).is_err(), "{bytes:?}");
        }
        let mut reader = Reader {
            data: &numeric(0, 0, NUMERIC_NAN, 0, &[]),
            column: 0,
        };
        assert_eq!(decode_numeric(&mut reader).ok().as_deref(), Some("NaN"));
    }
}
