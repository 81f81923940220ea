//! Records as offbase reads them from files and stages them.
//!
//! - **Repeated keys.** serde_json keeps the last value of a key an object repeats and drops
//!   the first silently. [`parse_object`] reads one record and refuses it at the first repeated
//!   key, at any depth, naming it ([`DuplicateKey`]); [`parse_value_collecting`] reads a whole
//!   document as serde_json does (the last value stays) and lists every repeated key with where
//!   it is, for files holding many records (seed files), where one bad record must not hide
//!   the others. [`CheckedValue`] is the same check for a hand-written visitor. Finding none
//!   costs nothing: a map insert says whether the key was there.
//! - **The importer's flags.** In a staged record, [`FLAGS_KEY`] holds offbase's own flags
//!   (values an importer could not convert). A source field of that name must not pass for
//!   them, so every source key is staged through [`staged_key`]: `_offbase_flags` followed by
//!   any number of `_` gets one `_` more, every other key stays as it is. That is one to one,
//!   and no source key is ever staged as `_offbase_flags` itself; [`source_key`] undoes it.
//! - **Byte order marks.** A UTF-8 BOM before the first line of a file is not part of the
//!   record ([`strip_bom`]).
//! - **Lines that are not UTF-8** keep their bytes as [`base64`], and their id when the rest
//!   of the line can be read ([`readable_id`]); [`not_utf8_line`] makes the record and flag
//!   the JSONL and CSV importers stage for such a line.

use serde::de::{DeserializeSeed, Error as _, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::cell::RefCell;

/// The staged-record key holding the importer's flags: `{field: reason}`, where a reason is a
/// text (rejected as `flagged`) or `{"reason": code, "message": text, "value": value}`.
pub const FLAGS_KEY: &str = "_offbase_flags";

/// Whether `key` is `_offbase_flags` followed by zero or more `_`.
fn is_reserved(key: &str) -> bool {
    key.strip_prefix(FLAGS_KEY)
        .is_some_and(|rest| rest.bytes().all(|byte| byte == b'_'))
}

/// The key a source field is staged under (see the module docs).
pub fn staged_key(key: &str) -> Cow<'_, str> {
    if is_reserved(key) {
        Cow::Owned(format!("{key}_"))
    } else {
        Cow::Borrowed(key)
    }
}

/// [`staged_key`] for an owned key, without copying the usual key.
pub fn into_staged_key(mut key: String) -> String {
    if is_reserved(&key) {
        key.push('_');
    }
    key
}

/// The source field a staged key holds: the inverse of [`staged_key`]. [`FLAGS_KEY`] itself
/// holds no source field; it is returned as it is.
pub fn source_key(key: &str) -> &str {
    if key.len() > FLAGS_KEY.len() && is_reserved(key) {
        key.get(..key.len() - 1).unwrap_or(key)
    } else {
        key
    }
}

/// A staged record in its source form: the flags left out, the keys as the source wrote them.
pub fn source_record(staged: Map<String, Value>) -> Map<String, Value> {
    if !staged.keys().any(|key| key.starts_with(FLAGS_KEY)) {
        return staged;
    }
    staged
        .into_iter()
        .filter(|(key, _)| key != FLAGS_KEY)
        .map(|(key, value)| (source_key(&key).to_owned(), value))
        .collect()
}

/// `bytes` without a leading UTF-8 byte order mark.
pub fn strip_bom(bytes: &[u8]) -> &[u8] {
    bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes)
}

/// Standard base64 (RFC 4648, with padding).
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let byte = |index: usize| u32::from(chunk.get(index).copied().unwrap_or(0));
        let triple = (byte(0) << 16) | (byte(1) << 8) | byte(2);
        for position in 0..4 {
            if position <= chunk.len() {
                let sextet = (triple >> (18 - 6 * position)) & 63;
                out.push(char::from(
                    ALPHABET.get(sextet as usize).copied().unwrap_or(b'='),
                ));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The id (`id_field`, a string) of a line that is not UTF-8, when the rest of the line is a
/// JSON object and the id itself lost nothing to the bad bytes.
pub fn readable_id(line: &[u8], id_field: &str) -> Option<String> {
    let text = String::from_utf8_lossy(line);
    let record: Map<String, Value> = serde_json::from_str(&text).ok()?;
    let id = record.get(id_field)?.as_str()?;
    (!id.contains('\u{FFFD}')).then(|| id.to_owned())
}

/// The key under which an importer keeps a line that is not a record: its text.
pub const LINE_KEY: &str = "_line";

/// The key under which an importer keeps the bytes (base64) of a line that is not UTF-8.
pub const LINE_BASE64_KEY: &str = "_line_base64";

/// A line (of a JSONL file, or a row of a CSV export) that is not UTF-8, kept as a record for
/// the load to reject with its reason: `id` when it could be read, the text with each invalid
/// sequence replaced by U+FFFD under [`LINE_KEY`], the bytes under [`LINE_BASE64_KEY`]. With
/// it, the importer's flags for it (see [`FLAGS_KEY`]), on [`LINE_KEY`]: `{place} is not valid
/// UTF-8 ({error}): its bytes are kept in _line_base64`; `place` says where the line is
/// (`file:line`).
pub fn not_utf8_line(
    bytes: &[u8],
    id: Option<String>,
    place: &str,
    error: &std::str::Utf8Error,
) -> (Map<String, Value>, Value) {
    let mut record = Map::new();
    if let Some(id) = id {
        record.insert(
            crate::BuiltIn::Id.field_name().to_owned(),
            Value::String(id),
        );
    }
    record.insert(
        LINE_KEY.to_owned(),
        Value::String(String::from_utf8_lossy(bytes).into_owned()),
    );
    record.insert(LINE_BASE64_KEY.to_owned(), Value::String(base64(bytes)));
    let mut flags = Map::new();
    flags.insert(
        LINE_KEY.to_owned(),
        Value::String(format!(
            "{place} is not valid UTF-8 ({error}): its bytes are kept in {LINE_BASE64_KEY}"
        )),
    );
    (record, Value::Object(flags))
}

/// One step of the way from a document's root to an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathStep {
    Key(String),
    Index(usize),
}

/// A key an object holds more than once.
#[derive(Debug, Clone, PartialEq)]
pub struct DuplicateKey {
    /// The object holding the key, from the root of what was parsed (empty: the root itself).
    pub path: Vec<PathStep>,
    pub key: String,
    /// The key's first value, and the one that repeats it.
    pub first: Value,
    pub second: Value,
}

impl DuplicateKey {
    /// The record field it is in, when the root is a record: the key itself, or the field
    /// whose value holds the object that repeats it.
    pub fn field(&self) -> &str {
        match self.path.first() {
            Some(PathStep::Key(field)) => field,
            _ => &self.key,
        }
    }

    /// The same duplicate seen from the object at `steps` steps down its path (a record in a
    /// list, say).
    pub fn below(mut self, steps: usize) -> DuplicateKey {
        self.path.drain(..steps.min(self.path.len()));
        self
    }

    /// Says what repeats where, without the field (reject messages put it first).
    pub fn message(&self) -> String {
        let place = if self.path.is_empty() {
            "the record".to_owned()
        } else {
            let mut place = String::new();
            for step in &self.path {
                match step {
                    PathStep::Key(key) if place.is_empty() => place.push_str(key),
                    PathStep::Key(key) => {
                        place.push('.');
                        place.push_str(key);
                    }
                    PathStep::Index(index) => place.push_str(&format!("[{index}]")),
                }
            }
            place
        };
        format!(
            "the key {:?} appears more than once in {place} (first {}, then {}): JSON keeps only one, so the record is not loaded",
            self.key,
            shorten(&self.first.to_string()),
            shorten(&self.second.to_string()),
        )
    }

    /// The importer's flag for it (see [`FLAGS_KEY`]): reason `duplicate_key`, both values.
    pub fn flag(&self) -> Value {
        let mut flag = Map::new();
        flag.insert("reason".into(), Value::String("duplicate_key".into()));
        flag.insert("message".into(), Value::String(self.message()));
        flag.insert(
            "value".into(),
            Value::Array(vec![self.first.clone(), self.second.clone()]),
        );
        Value::Object(flag)
    }
}

/// The importer's flags (see [`FLAGS_KEY`]) for the keys a record repeats (`duplicates`, seen
/// from the record): one per field, for its first repeat; `None` when it repeats none. A
/// repeated `id_field` leaves the record without an id: which one would be a guess (both
/// values are in the flag).
pub fn flag_repeated_keys(
    record: &mut Map<String, Value>,
    duplicates: &[DuplicateKey],
    id_field: &str,
) -> Option<Value> {
    let mut flags = Map::new();
    for duplicate in duplicates {
        if duplicate.path.is_empty() && duplicate.key == id_field {
            record.remove(id_field);
        }
        flags
            .entry(duplicate.field().to_owned())
            .or_insert_with(|| duplicate.flag());
    }
    (!flags.is_empty()).then_some(Value::Object(flags))
}

fn shorten(text: &str) -> String {
    const LIMIT: usize = 80;
    if text.chars().count() <= LIMIT {
        text.to_owned()
    } else {
        let cut: String = text.chars().take(LIMIT).collect();
        format!("{cut}...")
    }
}

/// Why a line is not one record.
#[derive(Debug)]
pub enum ObjectError {
    /// Not JSON, not an object, or not UTF-8.
    Json(serde_json::Error),
    /// An object holds a key twice.
    Duplicate(Box<DuplicateKey>),
}

impl std::fmt::Display for ObjectError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ObjectError::Json(error) => error.fmt(formatter),
            ObjectError::Duplicate(duplicate) => {
                write!(formatter, "{}: {}", duplicate.field(), duplicate.message())
            }
        }
    }
}

/// Where [`CheckedValue`] puts the repeated keys it finds: stopping at the first (the parse
/// then fails), or collecting them all (the last value stays, as serde_json keeps it).
#[derive(Debug, Default)]
pub struct KeyCheck {
    found: RefCell<Vec<DuplicateKey>>,
    collect: bool,
}

impl KeyCheck {
    /// Fails the parse at the first repeated key.
    pub fn strict() -> Self {
        KeyCheck::default()
    }

    /// Lets the parse go on, the last value kept, and lists every repeated key.
    pub fn collecting() -> Self {
        KeyCheck {
            found: RefCell::default(),
            collect: true,
        }
    }

    /// The repeated keys found.
    pub fn into_found(self) -> Vec<DuplicateKey> {
        self.found.into_inner()
    }

    /// How many were found so far (a strict check stops at the first, so it has none yet).
    fn since(&self) -> usize {
        if self.collect {
            self.found.borrow().len()
        } else {
            0
        }
    }

    /// Puts `step` in front of the paths of the duplicates found since `since`.
    fn under(&self, since: usize, step: impl FnOnce() -> PathStep) {
        let mut found = self.found.borrow_mut();
        if found.len() > since {
            let step = step();
            for duplicate in found.iter_mut().skip(since) {
                duplicate.path.insert(0, step.clone());
            }
        }
    }
}

/// A serde seed that reads any JSON value as `serde_json::Value` does, and catches repeated
/// keys into its [`KeyCheck`].
#[derive(Debug, Clone, Copy)]
pub struct CheckedValue<'c>(pub &'c KeyCheck);

impl<'de> DeserializeSeed<'de> for CheckedValue<'_> {
    type Value = Value;

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for CheckedValue<'_> {
    type Value = Value;

    fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("any JSON value")
    }

    fn visit_bool<E>(self, value: bool) -> Result<Value, E> {
        Ok(Value::Bool(value))
    }

    fn visit_i64<E>(self, value: i64) -> Result<Value, E> {
        Ok(Value::Number(value.into()))
    }

    fn visit_u64<E>(self, value: u64) -> Result<Value, E> {
        Ok(Value::Number(value.into()))
    }

    fn visit_f64<E>(self, value: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(value).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, value: &str) -> Result<Value, E> {
        Ok(Value::String(value.to_owned()))
    }

    fn visit_string<E>(self, value: String) -> Result<Value, E> {
        Ok(Value::String(value))
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        self.deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let check = self.0;
        let mut items = Vec::with_capacity(access.size_hint().unwrap_or(0).min(4096));
        loop {
            let since = check.since();
            let index = items.len();
            match access.next_element_seed(self) {
                Ok(Some(item)) => items.push(item),
                Ok(None) => break,
                Err(error) => {
                    check.under(since, || PathStep::Index(index));
                    return Err(error);
                }
            }
            if check.collect {
                check.under(since, || PathStep::Index(index));
            }
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, access: A) -> Result<Value, A::Error> {
        read_map(self.0, access, 0).map(Value::Object)
    }
}

/// Reads an object's entries into a map sized for `capacity`, catching repeated keys.
fn read_map<'de, A: MapAccess<'de>>(
    check: &KeyCheck,
    mut access: A,
    capacity: usize,
) -> Result<Map<String, Value>, A::Error> {
    let mut map = Map::with_capacity(capacity);
    while let Some(key) = access.next_key::<String>()? {
        let since = check.since();
        let value = match access.next_value_seed(CheckedValue(check)) {
            Ok(value) => value,
            Err(error) => {
                check.under(since, || PathStep::Key(key));
                return Err(error);
            }
        };
        if check.collect {
            check.under(since, || PathStep::Key(key.clone()));
        }
        match map.entry(key) {
            serde_json::map::Entry::Vacant(entry) => {
                entry.insert(value);
            }
            serde_json::map::Entry::Occupied(mut entry) => {
                let duplicate = DuplicateKey {
                    path: Vec::new(),
                    key: entry.key().clone(),
                    first: entry.get().clone(),
                    second: value.clone(),
                };
                check.found.borrow_mut().push(duplicate);
                if !check.collect {
                    return Err(A::Error::custom("a key appears more than once"));
                }
                entry.insert(value);
            }
        }
    }
    Ok(map)
}

/// Parses one record: a JSON object (nothing after it but whitespace), refused at the first
/// key repeated anywhere in it. `capacity`: the keys expected, to size the map once.
pub fn parse_object(bytes: &[u8], capacity: usize) -> Result<Map<String, Value>, ObjectError> {
    struct ObjectVisitor<'c>(&'c KeyCheck, usize);
    impl<'de> Visitor<'de> for ObjectVisitor<'_> {
        type Value = Map<String, Value>;
        fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            formatter.write_str("a JSON object")
        }
        fn visit_map<A: MapAccess<'de>>(self, access: A) -> Result<Self::Value, A::Error> {
            read_map(self.0, access, self.1)
        }
    }
    let check = KeyCheck::strict();
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let parsed =
        serde::Deserializer::deserialize_map(&mut deserializer, ObjectVisitor(&check, capacity))
            .and_then(|record| deserializer.end().map(|()| record));
    parsed.map_err(|error| match check.into_found().pop() {
        Some(duplicate) => ObjectError::Duplicate(Box::new(duplicate)),
        None => ObjectError::Json(error),
    })
}

/// Parses a JSON document as `serde_json::from_str::<Value>` does (a repeated key keeps its
/// last value), and lists every repeated key, with the path to the object that repeats it.
pub fn parse_value_collecting(text: &str) -> Result<(Value, Vec<DuplicateKey>), serde_json::Error> {
    let check = KeyCheck::collecting();
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let value = CheckedValue(&check).deserialize(&mut deserializer)?;
    deserializer.end()?;
    Ok((value, check.into_found()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn staged_keys_are_one_to_one_and_never_the_flags_key() {
        for (source, staged) in [
            ("title", "title"),
            ("_offbase_flags", "_offbase_flags_"),
            ("_offbase_flags_", "_offbase_flags__"),
            ("_offbase_flags_x", "_offbase_flags_x"),
            ("_offbase_flagsx", "_offbase_flagsx"),
            ("_offbase_flag", "_offbase_flag"),
        ] {
            assert_eq!(staged_key(source), staged, "{source}");
            assert_eq!(into_staged_key(source.to_owned()), staged, "{source}");
            assert_eq!(source_key(staged), source, "{staged}");
        }
        assert_eq!(source_key(FLAGS_KEY), FLAGS_KEY);
        let staged =
            json!({"id": "a", "_offbase_flags_": 1, "x": 2, "_offbase_flags": {"x": "no"}});
        let Value::Object(staged) = staged else {
            panic!("not an object");
        };
        assert_eq!(
            Value::Object(source_record(staged)),
            json!({"id": "a", "_offbase_flags": 1, "x": 2})
        );
    }

    #[test]
    fn repeated_keys_are_found_at_any_depth() {
        let parsed = parse_object(br#"{"id":"a","n":1,"id":"b"}"#, 4);
        let Err(ObjectError::Duplicate(duplicate)) = parsed else {
            panic!("{parsed:?}");
        };
        assert_eq!(
            *duplicate,
            DuplicateKey {
                path: vec![],
                key: "id".into(),
                first: json!("a"),
                second: json!("b"),
            }
        );
        assert_eq!(duplicate.field(), "id");
        let parsed = parse_object(br#"{"id":"a","meta":{"list":[0,{"k":1,"k":2}]}}"#, 4);
        let Err(ObjectError::Duplicate(duplicate)) = parsed else {
            panic!("{parsed:?}");
        };
        assert_eq!(
            duplicate.path,
            vec![
                PathStep::Key("meta".into()),
                PathStep::Key("list".into()),
                PathStep::Index(1)
            ]
        );
        assert_eq!(duplicate.field(), "meta");
        assert!(
            duplicate.message().starts_with(
                "the key \"k\" appears more than once in meta.list[1] (first 1, then 2)"
            ),
            "{}",
            duplicate.message()
        );
        // Without a repeated key: what serde_json reads, errors included.
        let line = br#"{"id":"a","n":[1,2.5,-3,null,true,{"x":"y"}],"big":18446744073709551615}"#;
        let parsed = parse_object(line, 0).ok();
        let expected: Option<Map<String, Value>> = serde_json::from_slice(line).ok();
        assert!(parsed.is_some());
        assert_eq!(parsed, expected);
        for bad in [&b"[1]"[..], b"{\"a\":1} x", b"{\"a\":", b"{\"a\":\"\xff\"}"] {
            assert!(
                matches!(parse_object(bad, 0), Err(ObjectError::Json(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn collecting_keeps_the_last_value_and_lists_every_repeat() {
        let text = r#"[{"id":"a","x":1,"x":2},{"id":"b"},{"id":"c","m":{"y":1,"y":3}}]"#;
        let Ok((value, found)) = parse_value_collecting(text) else {
            panic!("unparsed");
        };
        assert_eq!(
            value,
            json!([{"id":"a","x":2},{"id":"b"},{"id":"c","m":{"y":3}}])
        );
        let places: Vec<(Vec<PathStep>, String)> = found
            .iter()
            .map(|duplicate| (duplicate.path.clone(), duplicate.key.clone()))
            .collect();
        assert_eq!(
            places,
            vec![
                (vec![PathStep::Index(0)], "x".to_owned()),
                (
                    vec![PathStep::Index(2), PathStep::Key("m".into())],
                    "y".to_owned()
                ),
            ]
        );
        let below = found.get(1).cloned().map(|duplicate| duplicate.below(1));
        assert_eq!(below.as_ref().map(DuplicateKey::field), Some("m"));
    }

    #[test]
    fn base64_and_boms_and_readable_ids() {
        for (bytes, encoded) in [
            (&b""[..], ""),
            (b"f", "Zg=="),
            (b"fo", "Zm8="),
            (b"foo", "Zm9v"),
            (b"foob", "Zm9vYg=="),
            (b"\xff\xfe\x00", "//4A"),
        ] {
            assert_eq!(base64(bytes), encoded);
        }
        assert_eq!(strip_bom(b"\xEF\xBB\xBF{}"), b"{}");
        assert_eq!(strip_bom(b"{}"), b"{}");
        assert_eq!(
            readable_id(b"{\"id\":\"r1\",\"name\":\"bad \xff\"}", "id"),
            Some("r1".to_owned())
        );
        assert_eq!(
            readable_id(b"{\"id\":\"r\xff\",\"name\":\"x\"}", "id"),
            None
        );
        assert_eq!(readable_id(b"{\"id\":\"r1\",\"name\":\"\xff", "id"), None);
    }
}
