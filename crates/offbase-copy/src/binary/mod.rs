//! PostgreSQL's binary COPY format: the encoder a live load streams rows through, and a
//! decoder for `COPY ... TO STDOUT (FORMAT binary)` that turns a loaded table back into cells
//! so it can be checked against the workspace. Also home of the column layout and the decimal
//! parser that the text encoder and the content hash share.
//!
//! This module only declares the parts and re-exports their public items; the parts live in
//! (dependencies point down this list, never up to this file):
//! - `encode`: [`BinaryEncoder`];
//! - `decode`: [`decode_rows`] and [`BinaryDecoder`];
//! - `numeric`: the decimal text parser and the binary `numeric` layout, both directions;
//! - `layout`: which wire kind each column type is (`Scalar`, `Slot`), shared with text COPY;
//! - `reader`: the bounds-checked reader the decoders share;
//! - `frame`: the stream's framing constants ([`HEADER`], [`TRAILER`]);
//! - `error`: [`EncodeError`] and [`DecodeError`].
//!
//! Format reference: <https://www.postgresql.org/docs/current/sql-copy.html> ("Binary
//! Format"); the per-type layouts are each type's `*_send`/`*_recv` functions.

mod decode;
mod encode;
mod error;
mod frame;
mod layout;
mod numeric;
mod reader;
#[cfg(test)]
mod tests;

pub use decode::{BinaryDecoder, decode_rows};
pub use encode::BinaryEncoder;
pub use error::{DecodeError, EncodeError};
pub use frame::{HEADER, TRAILER};
pub(crate) use layout::{Scalar, Slot, TIME_MAX_MICROS, cell_kind};
pub(crate) use numeric::Decimal;
