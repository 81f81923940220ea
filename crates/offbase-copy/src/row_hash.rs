//! Row hashes that PostgreSQL and offbase compute alike, so that `diff data` can compare a
//! table with the workspace range by range without moving the rows: PostgreSQL hashes each
//! row with its own hash functions (`hash_record_extended` over the columns, then
//! `hashint8extended`), and [`row_hash`] computes the same 64 bits from the cells a load
//! would write. Owns the SQL expression ([`row_hash_sql`]), the ports of PostgreSQL's hash
//! functions (Bob Jenkins' lookup3 as in `src/common/hashfn.c`, little-endian), and the text
//! PostgreSQL prints for the values hashed as text: `numeric_out` and `jsonb_out`.
//!
//! Which hash each column gets (the expression in [`row_hash_sql`], mirrored by
//! [`cell_hash`]):
//!
//! | column type | PostgreSQL hashes |
//! |---|---|
//! | text, varchar, enum | the text (`hashtextextended`) |
//! | smallint, integer, bigint, boolean | the integer (`hashint2/4/8extended`, `hashcharextended`) |
//! | real, double precision | the float (`hashfloat8extended`: `0` = `-0`) |
//! | numeric | its `numeric_out` text (`12.50` differs from `12.5` here; the row-level diff then says they are the same) |
//! | timestamptz, timestamp, time | the microseconds (`timestamp_hash_extended`): time zone settings do not matter |
//! | date | the day number (`hashint4extended`) |
//! | uuid | the 16 bytes |
//! | jsonb | its `jsonb_out` text (keys sorted by length then bytes, numbers as `numeric_out`) |
//! | json | its text as stored |
//! | arrays | `hash_array_extended`, elements as above (numeric, enum and JSON elements as text) |
//!
//! A NULL hashes to 0. The row hash is order-sensitive over the columns; a sum of row hashes
//! is an order-independent hash of a set of rows.

use super::binary::Decimal;
use super::cell::Cell;
use offbase_model::names::quote_identifier;
use offbase_model::{PgType, Table};
use serde_json::Value;

/// The SQL expression of a row's hash (a `bigint`) over `table`'s columns, for a `FROM`
/// item aliased `alias`.
pub fn row_hash_sql(table: &Table, alias: &str) -> String {
    let alias = quote_identifier(alias);
    let columns: Vec<String> = table
        .columns
        .iter()
        .map(|column| {
            column_sql(
                &format!("{alias}.{}", quote_identifier(&column.name)),
                &column.pg_type,
            )
        })
        .collect();
    // ROW() of one column is still a record.
    format!(
        "hashint8extended(hash_record_extended(ROW({}), 0), 0)",
        columns.join(", ")
    )
}

/// One column as it goes into the hashed record: as itself when its type's hash function
/// is mirrored here, as text when its text is.
fn column_sql(column: &str, pg_type: &PgType) -> String {
    match pg_type {
        PgType::Numeric(_)
        | PgType::Enum(_)
        | PgType::Jsonb
        | PgType::Json
        | PgType::Varchar(_) => {
            format!("{column}::text")
        }
        PgType::Array(element) => match element.as_ref() {
            PgType::Numeric(_)
            | PgType::Enum(_)
            | PgType::Jsonb
            | PgType::Json
            | PgType::Varchar(_) => format!("{column}::text[]"),
            _ => column.to_owned(),
        },
        _ => column.to_owned(),
    }
}

/// The hash PostgreSQL computes with [`row_hash_sql`] for a row of these cells (one per
/// column, in table order, typed as `types`).
pub fn row_hash(cells: &[Cell<'_>], types: &[&PgType]) -> i64 {
    let mut result: u64 = 0;
    for (cell, pg_type) in cells.iter().zip(types) {
        result = combine(result, cell_hash(cell, pg_type));
    }
    hash_int8(result as i64) as i64
}

/// `(result << 5) - result + element`: how records and arrays fold their members' hashes.
fn combine(result: u64, element: u64) -> u64 {
    (result << 5).wrapping_sub(result).wrapping_add(element)
}

/// One cell's hash as PostgreSQL computes it for a column of `pg_type` (0 for NULL).
pub fn cell_hash(cell: &Cell<'_>, pg_type: &PgType) -> u64 {
    match cell {
        Cell::Null => 0,
        Cell::Bool(value) => hash_uint32(u32::from(*value)),
        Cell::Int2(value) => hash_uint32(i32::from(*value) as u32),
        Cell::Int4(value) => hash_uint32(*value as u32),
        Cell::Int8(value) | Cell::Timestamp(value) | Cell::Time(value) => hash_int8(*value),
        Cell::Float4(value) => hash_float8(f64::from(*value)),
        Cell::Float8(value) => hash_float8(*value),
        Cell::Numeric(text) => hash_bytes(numeric_text(text, numeric_scale(pg_type)).as_bytes()),
        Cell::Text(text) => hash_bytes(text.as_bytes()),
        Cell::Uuid(bytes) => hash_bytes(bytes),
        Cell::Date(days) => hash_uint32(*days as u32),
        Cell::Json(document) => match pg_type {
            PgType::Json => hash_bytes(
                serde_json::to_string(document.as_ref())
                    .unwrap_or_default()
                    .as_bytes(),
            ),
            _ => hash_bytes(jsonb_text(document).as_bytes()),
        },
        Cell::Array { element, items } => {
            let mut result: u64 = 1;
            for item in items {
                result = combine(result, cell_hash(item, element));
            }
            result
        }
    }
}

fn numeric_scale(pg_type: &PgType) -> Option<u32> {
    match pg_type {
        PgType::Numeric(Some((_, scale))) => Some(*scale),
        PgType::Array(element) => numeric_scale(element),
        _ => None,
    }
}

/// A decimal (as serde_json prints a number) as `numeric_out` prints it once stored in a
/// column of that scale (or of none): `1e20` → `100000000000000000000`, `12.50` → `12.50`.
pub fn numeric_text(text: &str, scale: Option<u32>) -> String {
    match Decimal::parse(text) {
        Ok(decimal) => decimal.plain_text(scale),
        Err(_) => text.to_owned(),
    }
}

/// A JSON document as `jsonb_out` prints it: object keys sorted by length, then bytes;
/// `", "` and `": "` between items; strings escaped as PostgreSQL escapes them; numbers as
/// `numeric_out` prints them.
pub fn jsonb_text(value: &Value) -> String {
    let mut out = String::new();
    write_jsonb(value, &mut out);
    out
}

fn write_jsonb(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(number) => out.push_str(&numeric_text(&number.to_string(), None)),
        Value::String(text) => write_json_string(text, out),
        Value::Array(items) => {
            out.push('[');
            for (position, item) in items.iter().enumerate() {
                if position > 0 {
                    out.push_str(", ");
                }
                write_jsonb(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_unstable_by(|left, right| {
                left.0
                    .len()
                    .cmp(&right.0.len())
                    .then_with(|| left.0.as_bytes().cmp(right.0.as_bytes()))
            });
            out.push('{');
            for (position, (key, item)) in entries.into_iter().enumerate() {
                if position > 0 {
                    out.push_str(", ");
                }
                write_json_string(key, out);
                out.push_str(": ");
                write_jsonb(item, out);
            }
            out.push('}');
        }
    }
}

/// `escape_json`: quotes, backslashes and the C escapes; other control characters as
/// `\u00xx`; everything else as is.
fn write_json_string(text: &str, out: &mut String) {
    out.push('"');
    for character in text.chars() {
        match character {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            control if (control as u32) < 0x20 => {
                out.push_str(&format!("\\u{:04x}", control as u32));
            }
            other => out.push(other),
        }
    }
    out.push('"');
}

/// `hashint8extended(value, 0)`.
pub fn hash_int8(value: i64) -> u64 {
    let low = value as u32;
    let high = (value >> 32) as u32;
    hash_uint32(if value >= 0 { low ^ high } else { low ^ !high })
}

/// `hashfloat8extended(value, 0)`: zero (either sign) hashes to the seed; NaNs alike.
fn hash_float8(value: f64) -> u64 {
    if value == 0.0 {
        return 0;
    }
    let value = if value.is_nan() { f64::NAN } else { value };
    hash_bytes(&value.to_le_bytes())
}

const GOLDEN: u32 = 0x9e37_79b9;

struct State {
    a: u32,
    b: u32,
    c: u32,
}

impl State {
    fn new(length: u32) -> State {
        let start = GOLDEN.wrapping_add(length).wrapping_add(3_923_095);
        State {
            a: start,
            b: start,
            c: start,
        }
    }

    fn mix(&mut self) {
        let State { a, b, c } = self;
        *a = a.wrapping_sub(*c);
        *a ^= c.rotate_left(4);
        *c = c.wrapping_add(*b);
        *b = b.wrapping_sub(*a);
        *b ^= a.rotate_left(6);
        *a = a.wrapping_add(*c);
        *c = c.wrapping_sub(*b);
        *c ^= b.rotate_left(8);
        *b = b.wrapping_add(*a);
        *a = a.wrapping_sub(*c);
        *a ^= c.rotate_left(16);
        *c = c.wrapping_add(*b);
        *b = b.wrapping_sub(*a);
        *b ^= a.rotate_left(19);
        *a = a.wrapping_add(*c);
        *c = c.wrapping_sub(*b);
        *c ^= b.rotate_left(4);
        *b = b.wrapping_add(*a);
    }

    fn finish(mut self) -> u64 {
        let State { a, b, c } = &mut self;
        *c ^= *b;
        *c = c.wrapping_sub(b.rotate_left(14));
        *a ^= *c;
        *a = a.wrapping_sub(c.rotate_left(11));
        *b ^= *a;
        *b = b.wrapping_sub(a.rotate_left(25));
        *c ^= *b;
        *c = c.wrapping_sub(b.rotate_left(16));
        *a ^= *c;
        *a = a.wrapping_sub(c.rotate_left(4));
        *b ^= *a;
        *b = b.wrapping_sub(a.rotate_left(14));
        *c ^= *b;
        *c = c.wrapping_sub(b.rotate_left(24));
        (u64::from(self.b) << 32) | u64::from(self.c)
    }
}

/// `hash_bytes_extended(bytes, 0)` (what `hashtextextended` computes for a deterministic
/// collation).
pub fn hash_bytes(bytes: &[u8]) -> u64 {
    let mut state = State::new(bytes.len() as u32);
    let word = |chunk: &[u8], at: usize| -> u32 {
        let mut four = [0u8; 4];
        for (slot, byte) in four.iter_mut().zip(chunk.iter().skip(at)) {
            *slot = *byte;
        }
        u32::from_le_bytes(four)
    };
    let mut chunks = bytes.chunks_exact(12);
    for chunk in &mut chunks {
        state.a = state.a.wrapping_add(word(chunk, 0));
        state.b = state.b.wrapping_add(word(chunk, 4));
        state.c = state.c.wrapping_add(word(chunk, 8));
        state.mix();
    }
    // The last 0..=11 bytes: a and b take theirs as little-endian words, c its bytes shifted
    // up by one (its lowest byte is reserved for the length).
    let rest = chunks.remainder();
    state.a = state.a.wrapping_add(word(rest, 0));
    state.b = state.b.wrapping_add(word(rest, 4));
    if rest.len() > 8 {
        state.c = state.c.wrapping_add(word(rest, 8) << 8);
    }
    state.finish()
}

/// `hash_bytes_uint32_extended(value, 0)` (`hashint4extended` and friends).
pub fn hash_uint32(value: u32) -> u64 {
    let mut state = State::new(4);
    state.a = state.a.wrapping_add(value);
    state.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numbers_print_as_numeric_out() {
        for (input, scale, expected) in [
            ("1e20", None, "100000000000000000000"),
            ("1.5e-7", None, "0.00000015"),
            ("12.50", None, "12.50"),
            ("12.5", Some(2), "12.50"),
            ("-0.0", None, "0.0"),
            ("-0", None, "0"),
            ("100000.0", None, "100000.0"),
            ("-3", None, "-3"),
            ("0.001", None, "0.001"),
            ("1.5e3", None, "1500"),
            ("18446744073709551615", None, "18446744073709551615"),
        ] {
            assert_eq!(numeric_text(input, scale), expected, "{input}");
        }
    }

    #[test]
    fn documents_print_as_jsonb_out() {
        assert_eq!(
            jsonb_text(&json!({"bb": 1, "a": [1.5, null, "x\n\u{1}"], "c": {"z": true, "y": {}}})),
            r#"{"a": [1.5, null, "x\n\u0001"], "c": {"y": {}, "z": true}, "bb": 1}"#
        );
    }

    #[test]
    fn lookup3_handles_every_tail_length() {
        // Every tail length gives a distinct hash, and the word loads cover each byte.
        let bytes: Vec<u8> = (1..=40).collect();
        let hashes: std::collections::BTreeSet<u64> = (0..=bytes.len())
            .map(|length| hash_bytes(&bytes[..length]))
            .collect();
        assert_eq!(hashes.len(), bytes.len() + 1);
    }
}
