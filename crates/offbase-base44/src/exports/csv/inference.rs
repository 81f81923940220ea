//! A schema inferred from an export when the app has none for its entity: the narrowest type
//! every value of a column shares, conservatively (zip codes and phone numbers stay text, enums
//! are never guessed), marked with [`INFERRED_KEY`]. The values are seen once each, row by row
//! ([`Inference`]): a column keeps only which types its values still all fit, and which kinds
//! of array elements it has seen.

use super::outcome::INFERRED_KEY;
use super::read::Row;
use super::typing::{
    IntegerText, is_missing_json, parse_boolean, parse_integer, parse_json_cell, parse_number,
};
use offbase_model::time::{parse_date, parse_timestamp};
use offbase_model::{Entity, Field, FieldKind, SchemaSource, SourceLayout};
use serde_json::Value;
use std::collections::BTreeMap;

/// The schema of an export's non-system columns, inferred from their non-missing values as the
/// rows go by.
#[derive(Debug)]
pub(super) struct Inference {
    /// Each non-system column: its position in the header and what its values fit so far.
    columns: Vec<(usize, ColumnTypes)>,
}

impl Inference {
    /// An inference for the columns `keys` (the header's record keys), the platform's columns
    /// (`system`) left out.
    pub(super) fn new(keys: &[String], system: &[&str]) -> Self {
        let columns = keys
            .iter()
            .enumerate()
            .filter(|(_, key)| !system.contains(&key.as_str()))
            .map(|(index, key)| (index, ColumnTypes::new(key)))
            .collect();
        Inference { columns }
    }

    /// Sees the values of one data row. A row that is not UTF-8 holds no values to trust.
    pub(super) fn observe(&mut self, row: &Row) {
        if row.invalid.is_some() {
            return;
        }
        for (index, column) in &mut self.columns {
            if let Some(value) = row.cells.get(*index) {
                column.observe(value);
            }
        }
    }

    /// The inferred entity, after the last row.
    pub(super) fn entity(self, entity: &str, file: &str) -> Entity {
        Entity {
            name: entity.to_owned(),
            source: SchemaSource {
                path: file.to_owned(),
                layout: SourceLayout::Direct,
            },
            title: None,
            description: None,
            fields: self
                .columns
                .into_iter()
                .map(|(_, column)| column.field())
                .collect(),
            rls: None,
            extra: BTreeMap::from([(INFERRED_KEY.to_owned(), Value::Bool(true))]),
        }
    }
}

/// The types every value of one column seen so far fits. Each starts possible and is ruled
/// out by the first value that does not fit it; a column with no value is text.
#[derive(Debug)]
struct ColumnTypes {
    name: String,
    seen: bool,
    boolean: bool,
    integer: bool,
    number: bool,
    date_time: bool,
    date: bool,
    array: bool,
    object: bool,
    /// What the elements of the arrays seen have in common (meaningful while `array` holds).
    elements: ElementTypes,
}

impl ColumnTypes {
    fn new(name: &str) -> Self {
        ColumnTypes {
            name: name.to_owned(),
            seen: false,
            boolean: true,
            integer: true,
            number: true,
            date_time: true,
            date: true,
            array: true,
            object: true,
            elements: ElementTypes::default(),
        }
    }

    /// Sees one cell; missing values (empty, `null`, `undefined`, `""`) tell nothing.
    fn observe(&mut self, value: &str) {
        if is_missing_json(value) {
            return;
        }
        self.seen = true;
        if self.boolean && parse_boolean(value).is_none() {
            self.boolean = false;
        }
        if self.integer || self.number {
            let plain = plain_number_text(value);
            let integer = parse_integer(value, false);
            self.integer &= plain && matches!(integer, IntegerText::Integer(_));
            self.number &=
                plain && integer != IntegerText::OutOfRange && parse_number(value).is_some();
        }
        if self.date_time && parse_timestamp(value).is_none() {
            self.date_time = false;
        }
        if self.date && parse_date(value).is_none() {
            self.date = false;
        }
        if self.array || self.object {
            match parse_json_cell(value) {
                Some(Value::Array(items)) => {
                    self.object = false;
                    items.iter().for_each(|item| self.elements.observe(item));
                }
                Some(Value::Object(_)) => self.array = false,
                _ => {
                    self.array = false;
                    self.object = false;
                }
            }
        }
    }

    /// The narrowest type all values share: boolean, integer, number, date-time, date, array
    /// (with items when their elements share a scalar type), object, else string. Never an
    /// enum.
    fn field(self) -> Field {
        let ColumnTypes {
            name,
            seen,
            boolean,
            integer,
            number,
            date_time,
            date,
            array,
            object,
            elements,
        } = self;
        let kind = if !seen {
            FieldKind::String
        } else if boolean {
            FieldKind::Boolean
        } else if integer {
            FieldKind::Integer
        } else if number {
            FieldKind::Number
        } else if date_time || date {
            let format = if date_time { "date-time" } else { "date" };
            let mut field = Field::new(name, FieldKind::String);
            field.format = Some(format.to_owned());
            return field;
        } else if array {
            let items = elements
                .kind()
                .map(|kind| Box::new(Field::new(format!("{name}[]"), kind)));
            let mut field = Field::new(name, FieldKind::Array);
            field.items = items;
            return field;
        } else if object {
            FieldKind::Object
        } else {
            FieldKind::String
        };
        Field::new(name, kind)
    }
}

/// The scalar type every array element seen has, kept as the types every element still fits.
#[derive(Debug)]
struct ElementTypes {
    any: bool,
    string: bool,
    boolean: bool,
    integer: bool,
    number: bool,
}

impl Default for ElementTypes {
    fn default() -> Self {
        ElementTypes {
            any: false,
            string: true,
            boolean: true,
            integer: true,
            number: true,
        }
    }
}

impl ElementTypes {
    fn observe(&mut self, element: &Value) {
        self.any = true;
        self.string &= element.is_string();
        self.boolean &= element.is_boolean();
        self.integer &= element.is_i64();
        self.number &= element.is_number();
    }

    /// The scalar type every element has, if any (integers and other numbers together:
    /// number).
    fn kind(&self) -> Option<FieldKind> {
        if !self.any {
            None
        } else if self.string {
            Some(FieldKind::String)
        } else if self.boolean {
            Some(FieldKind::Boolean)
        } else if self.integer {
            Some(FieldKind::Integer)
        } else if self.number {
            Some(FieldKind::Number)
        } else {
            None
        }
    }
}

/// A number written the way a program writes one: optional `-`, no leading zero, no `+`, no
/// surrounding space. Only such columns are inferred as numbers, so that codes like zip codes
/// (`02134`), phone numbers (`+4915...`) and ids too long for 64 bits stay text and lose nothing.
pub(super) fn plain_number_text(text: &str) -> bool {
    let body = text.strip_prefix('-').unwrap_or(text);
    let whole = body.split(['.', 'e', 'E']).next().unwrap_or(body);
    !whole.is_empty()
        && whole.bytes().all(|byte| byte.is_ascii_digit())
        && !(whole.len() > 1 && whole.starts_with('0'))
}
