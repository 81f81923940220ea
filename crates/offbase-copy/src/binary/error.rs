//! Why the binary COPY codec fails: [`EncodeError`] for a row that could not be encoded, and
//! [`DecodeError`] for a stream that could not be decoded. A leaf: the layout, the numeric
//! codec, the reader, the encoder and the decoder all report through these.

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
