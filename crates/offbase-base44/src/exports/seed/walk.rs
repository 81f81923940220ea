//! The two passes over a seed file's bytes, as serde walks of the JSON its JSONC is turned
//! into: [`check`] parses the whole file and keeps only the shape of its top level; [`stream`]
//! hands the elements of its record list over one at a time.

use super::{RecordList, SeedError, SeedEvent, Shaper, invalid_json};
use crate::jsonc::{self, JsoncReader};
use offbase_model::record::{CheckedValue, DuplicateKey, KeyCheck};
use serde::de::{DeserializeSeed, Error as _, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use std::io::{BufReader, Read};

/// Bytes of stripped JSON buffered for serde_json's reader.
const BUFFER: usize = 64 * 1024;

/// What the first pass learns of a seed file.
pub(super) struct Checked {
    pub(super) list: RecordList,
    pub(super) records: u64,
    pub(super) notes: Vec<String>,
}

/// The first pass: the whole file parsed (every value as `serde_json::Value` would be, so the
/// same errors), nothing kept but the shape of its top level.
pub(super) fn check<R: Read>(
    open: impl Fn() -> Result<R, SeedError>,
    file: &str,
) -> Result<Checked, SeedError> {
    let mut reader = JsoncReader::new(open()?);
    let parsed = {
        let mut deserializer =
            serde_json::Deserializer::from_reader(BufReader::with_capacity(BUFFER, &mut reader));
        ShapeSeed
            .deserialize(&mut deserializer)
            .and_then(|shape| deserializer.end().map(|()| shape))
    };
    let shape = parsed.map_err(|error| read_error(&mut reader, &open, file, error))?;
    let mut notes = Vec::new();
    let (list, records) = match shape {
        Shape::List { objects } => (RecordList::Top, objects),
        Shape::Object {
            repeated: Some(key),
            ..
        } => {
            return Err(SeedError::DuplicateKey {
                path: file.to_owned(),
                key,
            });
        }
        Shape::Object {
            records,
            data,
            repeated: None,
        } => match (records, data) {
            (Some(Walked::Array(objects)), data) => {
                if data.is_some() {
                    notes.push(format!(
                        "{file}: has both `records` and `data`: `records` read, `data` \
                         ignored; keep only one"
                    ));
                }
                (RecordList::Key("records"), objects)
            }
            (records, Some(Walked::Array(objects))) => {
                if let Some(records) = records {
                    notes.push(format!(
                        "{file}: `records` is {}, not a list: `data` read instead",
                        records.kind()
                    ));
                }
                (RecordList::Key("data"), objects)
            }
            _ => {
                notes.push(format!(
                    "{file}: an object without a `records` or `data` list: no records read; \
                     write the records as a JSON array"
                ));
                (RecordList::None, 0)
            }
        },
        Shape::Other(kind) => {
            notes.push(format!(
                "{file}: {} at the top level, not a list of records: no records read",
                kind.kind()
            ));
            (RecordList::None, 0)
        }
    };
    Ok(Checked {
        list,
        records,
        notes,
    })
}

/// The second pass: each element of the record list read as a value (catching repeated keys)
/// and handed to `sink` shaped, one at a time.
pub(super) fn stream<R: Read, E: From<SeedError>>(
    open: impl Fn() -> Result<R, SeedError>,
    file: &str,
    list: RecordList,
    mut shaper: Shaper<'_>,
    sink: &mut dyn FnMut(SeedEvent) -> Result<(), E>,
) -> Result<(), E> {
    let mut reader = JsoncReader::new(open()?);
    let mut stopped = None;
    let parsed = {
        let mut warnings = Vec::new();
        let mut handle = |index: usize, item: Value, duplicates: Vec<DuplicateKey>| {
            let record = shaper.shape(index, item, duplicates, &mut warnings);
            let events = warnings.drain(..).map(SeedEvent::Warning).chain(record);
            for event in events {
                if let Err(error) = sink(event) {
                    stopped = Some(error);
                    return false;
                }
            }
            true
        };
        let mut deserializer =
            serde_json::Deserializer::from_reader(BufReader::with_capacity(BUFFER, &mut reader));
        StreamSeed {
            list,
            handle: &mut handle,
        }
        .deserialize(&mut deserializer)
        .and_then(|()| deserializer.end())
    };
    if let Some(error) = stopped {
        return Err(error);
    }
    parsed.map_err(|error| read_error(&mut reader, &open, file, error).into())
}

/// The error of a failed pass, as reading the file whole would give it: a file that is not
/// UTF-8 is that first (the rest of the file is read to find out), then what the JSON parser
/// says, where it would have said it (`open` gives the text again, to find that out).
fn read_error<R: Read>(
    reader: &mut JsoncReader<R>,
    open: &dyn Fn() -> Result<R, SeedError>,
    file: &str,
    error: serde_json::Error,
) -> SeedError {
    if !error.is_io()
        && let Err(source) = std::io::copy(reader, &mut std::io::sink())
        && reader.invalid_utf8_line().is_none()
    {
        return SeedError::Io {
            path: file.to_owned(),
            source,
        };
    }
    if let Some(line) = reader.invalid_utf8_line() {
        return SeedError::InvalidUtf8 {
            path: file.to_owned(),
            line,
        };
    }
    if error.is_io() {
        return SeedError::Io {
            path: file.to_owned(),
            source: std::io::Error::from(error),
        };
    }
    let Ok(source) = open() else {
        return invalid_json(file, &error);
    };
    let (line, column, message) = jsonc::reader_error_position(&error, source);
    SeedError::InvalidJson {
        path: file.to_owned(),
        line,
        column,
        message,
    }
}

/// The shape of a seed file's top level, as the first pass sees it.
enum Shape {
    /// A list, holding this many objects.
    List {
        objects: u64,
    },
    /// An object: what its `records` and `data` hold, and the first of the two it repeats.
    Object {
        records: Option<Walked>,
        data: Option<Walked>,
        repeated: Option<String>,
    },
    Other(Walked),
}

/// A value walked through and let go: its kind (and for a list, how many objects it holds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Walked {
    Null,
    Bool,
    Number,
    String,
    Array(u64),
    Object,
}

impl Walked {
    /// As [`offbase_model::json_kind`] says it.
    fn kind(self) -> &'static str {
        let value = match self {
            Walked::Null => Value::Null,
            Walked::Bool => Value::Bool(false),
            Walked::Number => Value::from(0),
            Walked::String => Value::String(String::new()),
            Walked::Array(_) => Value::Array(Vec::new()),
            Walked::Object => Value::Object(Map::new()),
        };
        offbase_model::json_kind(&value)
    }
}

/// Parses any JSON value as `serde_json::Value` does (the same errors), keeping only its kind.
#[derive(Debug, Clone, Copy)]
struct Walk;

impl<'de> DeserializeSeed<'de> for Walk {
    type Value = Walked;

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<Walked, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walk {
    type Value = Walked;

    fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<Walked, E> {
        Ok(Walked::Bool)
    }

    fn visit_i64<E>(self, _: i64) -> Result<Walked, E> {
        Ok(Walked::Number)
    }

    fn visit_u64<E>(self, _: u64) -> Result<Walked, E> {
        Ok(Walked::Number)
    }

    fn visit_f64<E>(self, _: f64) -> Result<Walked, E> {
        Ok(Walked::Number)
    }

    fn visit_str<E>(self, _: &str) -> Result<Walked, E> {
        Ok(Walked::String)
    }

    fn visit_unit<E>(self) -> Result<Walked, E> {
        Ok(Walked::Null)
    }

    fn visit_none<E>(self) -> Result<Walked, E> {
        Ok(Walked::Null)
    }

    fn visit_some<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<Walked, D::Error> {
        self.deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut access: A) -> Result<Walked, A::Error> {
        let mut objects = 0;
        while let Some(item) = access.next_element_seed(Walk)? {
            if item == Walked::Object {
                objects += 1;
            }
        }
        Ok(Walked::Array(objects))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Walked, A::Error> {
        while access.next_key_seed(Walk)?.is_some() {
            access.next_value_seed(Walk)?;
        }
        Ok(Walked::Object)
    }
}

/// The first pass's view of the top level ([`Shape`]).
#[derive(Debug, Clone, Copy)]
struct ShapeSeed;

impl<'de> DeserializeSeed<'de> for ShapeSeed {
    type Value = Shape;

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<Shape, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ShapeSeed {
    type Value = Shape;

    fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<Shape, E> {
        Ok(Shape::Other(Walked::Bool))
    }

    fn visit_i64<E>(self, _: i64) -> Result<Shape, E> {
        Ok(Shape::Other(Walked::Number))
    }

    fn visit_u64<E>(self, _: u64) -> Result<Shape, E> {
        Ok(Shape::Other(Walked::Number))
    }

    fn visit_f64<E>(self, _: f64) -> Result<Shape, E> {
        Ok(Shape::Other(Walked::Number))
    }

    fn visit_str<E>(self, _: &str) -> Result<Shape, E> {
        Ok(Shape::Other(Walked::String))
    }

    fn visit_unit<E>(self) -> Result<Shape, E> {
        Ok(Shape::Other(Walked::Null))
    }

    fn visit_none<E>(self) -> Result<Shape, E> {
        Ok(Shape::Other(Walked::Null))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, access: A) -> Result<Shape, A::Error> {
        match Walk.visit_seq(access)? {
            Walked::Array(objects) => Ok(Shape::List { objects }),
            other => Ok(Shape::Other(other)),
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Shape, A::Error> {
        let (mut records, mut data, mut repeated) = (None, None, None);
        while let Some(key) = access.next_key::<String>()? {
            let walked = access.next_value_seed(Walk)?;
            let slot = match key.as_str() {
                "records" => &mut records,
                "data" => &mut data,
                _ => continue,
            };
            // JSON keeps the last; the first one's records would be lost: refused (after the
            // whole file parses, as an invalid file is that first).
            if slot.replace(walked).is_some() && repeated.is_none() {
                repeated = Some(key);
            }
        }
        Ok(Shape::Object {
            records,
            data,
            repeated,
        })
    }
}

/// Called with each element of the record list (its index, its value, the keys it repeats);
/// `false` stops the reading.
type Handle<'h> = &'h mut dyn FnMut(usize, Value, Vec<DuplicateKey>) -> bool;

/// The second pass's walk of the top level: the elements of the record list to the handle,
/// the rest skipped.
struct StreamSeed<'h> {
    list: RecordList,
    handle: Handle<'h>,
}

impl<'de> DeserializeSeed<'de> for StreamSeed<'_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for StreamSeed<'_> {
    type Value = ();

    fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("a list of records, or an object with a `records` or `data` list")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut access: A) -> Result<(), A::Error> {
        if self.list == RecordList::Top {
            each_record(access, self.handle)
        } else {
            while access.next_element::<IgnoredAny>()?.is_some() {}
            Ok(())
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<(), A::Error> {
        while let Some(key) = access.next_key::<String>()? {
            match self.list {
                RecordList::Key(list) if key == list => access.next_value_seed(ListSeed {
                    handle: &mut *self.handle,
                })?,
                _ => {
                    access.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// The record list under a key of the top-level object.
struct ListSeed<'h> {
    handle: Handle<'h>,
}

impl<'de> DeserializeSeed<'de> for ListSeed<'_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ListSeed<'_> {
    type Value = ();

    fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("a list of records")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, access: A) -> Result<(), A::Error> {
        each_record(access, self.handle)
    }
}

/// Reads the elements of a list one at a time, each handed over before the next is read.
fn each_record<'de, A: SeqAccess<'de>>(mut access: A, handle: Handle<'_>) -> Result<(), A::Error> {
    let mut index = 0;
    loop {
        let check = KeyCheck::collecting();
        let Some(item) = access.next_element_seed(CheckedValue(&check))? else {
            return Ok(());
        };
        if !handle(index, item, check.into_found()) {
            return Err(A::Error::custom("the records' reader stopped"));
        }
        index += 1;
    }
}
