//! The content hash of a set of rows: how a loaded table is checked against the workspace
//! without sorting either side. Each row is hashed (SHA-256) over a canonical form of its
//! cells, and the row hashes are added up modulo 2^128, so the order of rows does not matter
//! but every row, and how many times it occurs, does.
//!
//! The canonical form compares values as PostgreSQL stores them: a `numeric` by its value
//! (`12.50` = `12.5`), a JSON document with its object keys sorted and its numbers by value
//! (what `jsonb` keeps), a timestamp by its instant.

use super::binary::Decimal;
use super::cell::Cell;
use serde::{Serialize, Serializer};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// An order-independent hash of rows, with their count.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContentHash {
    rows: u64,
    sum: u128,
}

impl ContentHash {
    /// Adds one row.
    pub fn add_row(&mut self, cells: &[Cell<'_>]) {
        let mut hasher = Sha256::new();
        for cell in cells {
            feed_cell(&mut hasher, cell);
        }
        let digest = hasher.finalize();
        let mut first = [0u8; 16];
        first.copy_from_slice(&digest[..16]);
        self.sum = self.sum.wrapping_add(u128::from_be_bytes(first));
        self.rows += 1;
    }

    /// The number of rows added.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// The hash as 32 hexadecimal digits.
    pub fn hex(&self) -> String {
        format!("{:032x}", self.sum)
    }
}

impl Serialize for ContentHash {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut state = serializer.serialize_struct("ContentHash", 2)?;
        state.serialize_field("rows", &self.rows)?;
        state.serialize_field("hash", &self.hex())?;
        state.end()
    }
}

// One tag byte a kind of value, so that values of different kinds never feed the same bytes.
const TAG_NULL: u8 = 0;
const TAG_BOOL: u8 = 1;
const TAG_INTEGER: u8 = 2;
const TAG_FLOAT4: u8 = 3;
const TAG_FLOAT8: u8 = 4;
const TAG_NUMBER: u8 = 5;
const TAG_TEXT: u8 = 6;
const TAG_UUID: u8 = 7;
const TAG_TIMESTAMP: u8 = 8;
const TAG_DATE: u8 = 9;
const TAG_TIME: u8 = 10;
const TAG_ARRAY: u8 = 11;
const TAG_JSON_NULL: u8 = 12;
const TAG_JSON_OBJECT: u8 = 13;
const TAG_UNPARSED_NUMBER: u8 = 14;

fn feed_cell(hasher: &mut Sha256, cell: &Cell<'_>) {
    match cell {
        Cell::Null => hasher.update([TAG_NULL]),
        Cell::Bool(value) => hasher.update([TAG_BOOL, u8::from(*value)]),
        Cell::Int2(value) => feed_integer(hasher, i64::from(*value)),
        Cell::Int4(value) => feed_integer(hasher, i64::from(*value)),
        Cell::Int8(value) => feed_integer(hasher, *value),
        Cell::Float4(value) => {
            hasher.update([TAG_FLOAT4]);
            hasher.update(canonical_f32(*value).to_be_bytes());
        }
        Cell::Float8(value) => {
            hasher.update([TAG_FLOAT8]);
            hasher.update(canonical_f64(*value).to_be_bytes());
        }
        Cell::Numeric(text) => feed_number(hasher, text),
        Cell::Text(text) => feed_text(hasher, text),
        Cell::Uuid(bytes) => {
            hasher.update([TAG_UUID]);
            hasher.update(bytes);
        }
        Cell::Timestamp(micros) => {
            hasher.update([TAG_TIMESTAMP]);
            hasher.update(micros.to_be_bytes());
        }
        Cell::Date(days) => {
            hasher.update([TAG_DATE]);
            hasher.update(days.to_be_bytes());
        }
        Cell::Time(micros) => {
            hasher.update([TAG_TIME]);
            hasher.update(micros.to_be_bytes());
        }
        Cell::Json(document) => feed_json(hasher, document),
        Cell::Array { items, .. } => {
            hasher.update([TAG_ARRAY]);
            hasher.update((items.len() as u64).to_be_bytes());
            for item in items {
                feed_cell(hasher, item);
            }
        }
    }
}

fn feed_integer(hasher: &mut Sha256, value: i64) {
    hasher.update([TAG_INTEGER]);
    hasher.update(value.to_be_bytes());
}

fn feed_text(hasher: &mut Sha256, text: &str) {
    hasher.update([TAG_TEXT]);
    hasher.update((text.len() as u64).to_be_bytes());
    hasher.update(text.as_bytes());
}

/// A decimal by value: sign, significant digits and the power of ten of the last one.
fn feed_number(hasher: &mut Sha256, text: &str) {
    let Ok(decimal) = Decimal::parse(text) else {
        // Not a decimal (`NaN`): compared by its spelling.
        hasher.update([TAG_UNPARSED_NUMBER]);
        hasher.update((text.len() as u64).to_be_bytes());
        hasher.update(text.as_bytes());
        return;
    };
    hasher.update([TAG_NUMBER]);
    match decimal.significant() {
        None => hasher.update([0u8]),
        Some((digits, count, lowest)) => {
            hasher.update([if decimal.negative { 2u8 } else { 1u8 }]);
            hasher.update((count as u64).to_be_bytes());
            for digit in digits {
                hasher.update([digit]);
            }
            hasher.update(lowest.to_be_bytes());
        }
    }
}

fn feed_json(hasher: &mut Sha256, value: &Value) {
    match value {
        Value::Null => hasher.update([TAG_JSON_NULL]),
        Value::Bool(flag) => hasher.update([TAG_BOOL, u8::from(*flag)]),
        Value::Number(number) => feed_number(hasher, &number.to_string()),
        Value::String(text) => feed_text(hasher, text),
        Value::Array(items) => {
            hasher.update([TAG_ARRAY]);
            hasher.update((items.len() as u64).to_be_bytes());
            for item in items {
                feed_json(hasher, item);
            }
        }
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_unstable_by(|left, right| left.0.cmp(right.0));
            hasher.update([TAG_JSON_OBJECT]);
            hasher.update((entries.len() as u64).to_be_bytes());
            for (key, item) in entries {
                feed_text(hasher, key);
                feed_json(hasher, item);
            }
        }
    }
}

/// PostgreSQL compares all NaNs equal and `-0` equal to `0`.
fn canonical_f64(value: f64) -> u64 {
    if value.is_nan() {
        f64::NAN.to_bits()
    } else if value == 0.0 {
        0
    } else {
        value.to_bits()
    }
}

fn canonical_f32(value: f32) -> u32 {
    if value.is_nan() {
        f32::NAN.to_bits()
    } else if value == 0.0 {
        0
    } else {
        value.to_bits()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::borrow::Cow;

    fn hash(rows: &[Vec<Cell<'_>>]) -> ContentHash {
        let mut hash = ContentHash::default();
        for row in rows {
            hash.add_row(row);
        }
        hash
    }

    #[test]
    fn order_of_rows_does_not_matter_but_each_row_does() {
        let first = vec![Cell::Int8(1), Cell::Text("a")];
        let second = vec![Cell::Int8(2), Cell::Text("b")];
        let forward = hash(&[first.clone(), second.clone()]);
        assert_eq!(forward, hash(&[second.clone(), first.clone()]));
        assert_ne!(forward, hash(&[first.clone(), first.clone()]));
        assert_ne!(forward, hash(std::slice::from_ref(&first)));
        assert_eq!(forward.rows(), 2);
        assert_eq!(forward.hex().len(), 32);
    }

    #[test]
    fn numbers_and_documents_compare_by_value() {
        let spelled = |text: &str| hash(&[vec![Cell::Numeric(text.into())]]);
        assert_eq!(spelled("12.50"), spelled("12.5"));
        assert_eq!(spelled("1e3"), spelled("1000"));
        assert_eq!(spelled("0.000"), spelled("0"));
        assert_ne!(spelled("12.5"), spelled("-12.5"));
        assert_ne!(spelled("1"), spelled("10"));

        let document = |value: Value| hash(&[vec![Cell::Json(Cow::Owned(value))]]);
        assert_eq!(
            document(json!({"b": 1, "a": [1.5, "x"]})),
            document(json!({"a": [1.50, "x"], "b": 1.0}))
        );
        assert_ne!(document(json!({"a": "1"})), document(json!({"a": 1})));
        assert_ne!(document(json!([1, 2])), document(json!([2, 1])));
    }

    #[test]
    fn cells_of_different_kinds_differ() {
        let one = |cell: Cell<'static>| hash(&[vec![cell]]);
        assert_ne!(one(Cell::Null), one(Cell::Text("")));
        assert_ne!(one(Cell::Text("1")), one(Cell::Int8(1)));
        assert_ne!(one(Cell::Timestamp(5)), one(Cell::Int8(5)));
        // Splitting text differently between columns changes the hash.
        assert_ne!(
            hash(&[vec![Cell::Text("ab"), Cell::Text("c")]]),
            hash(&[vec![Cell::Text("a"), Cell::Text("bc")]])
        );
    }
}
