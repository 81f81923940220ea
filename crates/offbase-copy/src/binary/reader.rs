//! The bounds-checked big-endian [`Reader`] the decoder and the numeric decoder read values
//! with: running out of bytes is a [`DecodeError`], never a panic.

use super::error::DecodeError;

/// A bounds-checked reader over one complete piece of the stream: running out of bytes is
/// malformed data, never a panic.
pub(super) struct Reader<'a> {
    pub(super) data: &'a [u8],
    pub(super) column: usize,
}

impl<'a> Reader<'a> {
    pub(super) fn error(&self, reason: impl Into<String>) -> DecodeError {
        DecodeError::Field {
            column: self.column,
            reason: reason.into(),
        }
    }

    pub(super) fn take(&mut self, count: usize) -> Result<&'a [u8], DecodeError> {
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

    pub(super) fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let mut bytes = [0; N];
        bytes.copy_from_slice(self.take(N)?);
        Ok(bytes)
    }

    pub(super) fn i16(&mut self) -> Result<i16, DecodeError> {
        self.array().map(i16::from_be_bytes)
    }

    pub(super) fn u16(&mut self) -> Result<u16, DecodeError> {
        self.array().map(u16::from_be_bytes)
    }

    pub(super) fn i32(&mut self) -> Result<i32, DecodeError> {
        self.array().map(i32::from_be_bytes)
    }

    pub(super) fn u32(&mut self) -> Result<u32, DecodeError> {
        self.array().map(u32::from_be_bytes)
    }

    pub(super) fn i64(&mut self) -> Result<i64, DecodeError> {
        self.array().map(i64::from_be_bytes)
    }

    /// A length-prefixed field: `None` for NULL.
    pub(super) fn field(&mut self) -> Result<Option<&'a [u8]>, DecodeError> {
        let length = self.i32()?;
        if length == -1 {
            return Ok(None);
        }
        let length =
            usize::try_from(length).map_err(|_| self.error(format!("field length {length}")))?;
        self.take(length).map(Some)
    }
}
