//! The binary COPY decoder: `COPY ... TO STDOUT (FORMAT binary)` back into cells, whole
//! ([`decode_rows`]) or chunk by chunk as PostgreSQL sends it ([`BinaryDecoder`]). Malformed
//! data is an error ([`DecodeError`], owned by `error`), never a panic.

use super::error::DecodeError;
use super::frame::{SIGNATURE, TRAILER};
use super::layout::{Scalar, Slot};
use super::numeric::decode_numeric;
use super::reader::Reader;
use crate::cell::Cell;
use offbase_model::PgType;
use std::borrow::Cow;

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
