//! The framing of a binary COPY stream: the file [`HEADER`] and [`TRAILER`] a writer puts
//! around the rows, the signature a reader checks, and the length word of a NULL field. A
//! leaf shared by the encoder and the decoder.

/// The file header: signature, flags (no OIDs), header extension length (none).
pub const HEADER: &[u8] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";
/// The file trailer: a field count of -1.
pub const TRAILER: &[u8] = &[0xff, 0xff];

pub(super) const SIGNATURE: &[u8] = b"PGCOPY\n\xff\r\n\0";
pub(super) const NULL_LENGTH: [u8; 4] = (-1i32).to_be_bytes();
