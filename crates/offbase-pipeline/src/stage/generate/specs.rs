//! The per-field generators of the record generator, compiled once per plan: how a text
//! value looks ([`TextKind`], from a field's format, type and name hints), what a value is made
//! of ([`Spec`]: choices, bounded numbers, lengths, references, nested JSON), and the plan of
//! each entity's record ([`EntityPlan`]: built-ins, then fields, each with its source and
//! presence). [`Compiler`] builds them from the target model.

use super::random::{Key, hash_name};
use offbase_model::{BuiltIn, Check, Column, Entity, Field, FieldKind, PgType, TargetSchema};
use offbase_sql::{Shape, fit_scalar, reference_stem};
use serde_json::Value;
use std::collections::BTreeMap;

/// How a text value looks, decided once per field from its format, type and name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TextKind {
    Words,
    Category,
    Title,
    Sentence,
    PersonName,
    FirstName,
    LastName,
    Handle,
    Email,
    Uri,
    Hostname,
    Uuid,
    Ipv4,
    Ipv6,
    DateTime,
    Date,
    Time,
    File,
    RichText,
    Regex,
    Phone,
    Color,
    Identifier,
    Code,
    Address,
    City,
    Country,
    Currency,
    Digits,
    Decimal,
    BooleanText,
    Base64,
}

/// A value generator for one field, an item or a nested property.
#[derive(Debug, Clone)]
pub(super) enum Spec {
    /// One of these values (an enum, a CHECK, an enum type).
    Choice(Vec<Value>),
    Text {
        kind: TextKind,
        min_length: usize,
        max_length: Option<usize>,
    },
    Integer {
        low: i64,
        high: i64,
    },
    Number {
        low: f64,
        high: f64,
        decimals: u32,
    },
    Boolean,
    Timestamp,
    Date,
    Time,
    Uuid,
    /// The id of a record of another (or the same) entity.
    Reference {
        key: Key,
        same_entity: bool,
        nullable: bool,
    },
    /// Ids of records of an entity, as an array.
    References {
        key: Key,
        same_entity: bool,
    },
    Array {
        items: Box<Spec>,
        max_items: u64,
    },
    Object(Vec<Property>),
    /// A small object with no declared properties.
    FreeObject,
    /// Any JSON value.
    AnyJson,
    /// One of several declared types.
    Union(Vec<Spec>),
    Null,
}

#[derive(Debug, Clone)]
pub(super) struct Property {
    pub(super) name: String,
    pub(super) required: bool,
    pub(super) spec: Spec,
}

/// Where a built-in or field value comes from.
#[derive(Debug, Clone)]
pub(super) enum Source {
    Id,
    CreatedDate,
    UpdatedDate,
    CreatedBy,
    CreatedById,
    UserEmail,
    UserFullName,
    UserRole,
    /// `true` with this percentage.
    Flag(u64),
    Constant(Value),
    Spec(Spec),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Presence {
    /// Always present and not null (`NOT NULL` or `required`).
    Always,
    /// Mostly present, sometimes null, sometimes absent.
    Optional,
}

#[derive(Debug, Clone)]
pub(super) struct Slot {
    pub(super) name: String,
    pub(super) salt: u64,
    pub(super) presence: Presence,
    pub(super) source: Source,
}

#[derive(Debug, Clone)]
pub(super) struct EntityPlan {
    pub(super) name: String,
    pub(super) key: Key,
    /// The `User` entity's key, for `created_by` and `created_by_id`.
    pub(super) users: Option<Key>,
    /// The app id, for file URLs.
    pub(super) app_id: String,
    pub(super) slots: Vec<Slot>,
}

/// Builds the entity plans from the target model; only used by
/// [`Generator::new`](super::Generator::new).
pub(super) struct Compiler<'a> {
    pub(super) target: &'a TargetSchema,
    pub(super) keys: &'a BTreeMap<&'a str, Key>,
    pub(super) app_id: String,
    pub(super) users: Option<Key>,
}

impl Compiler<'_> {
    pub(super) fn entity(
        &self,
        entity: &Entity,
        table: &offbase_model::Table,
        key: Key,
    ) -> EntityPlan {
        let mut slots = Vec::new();
        let built_ins = entity.built_ins();
        for built_in in &built_ins {
            let name = built_in.field_name();
            let column = table.column(name);
            let not_null = column.is_some_and(|column| column.not_null);
            let check = column
                .and_then(|column| column.check.as_ref())
                .filter(|check| !check.allowed.is_empty() && !check.elements);
            // Users read back without `created_by*` and `is_sample`, unless a schema insists.
            if entity.is_user()
                && matches!(
                    built_in,
                    BuiltIn::CreatedBy | BuiltIn::CreatedById | BuiltIn::IsSample
                )
                && !not_null
            {
                continue;
            }
            // A schema that re-declares a built-in with an enum constrains it (a `User` schema
            // redefining `role`): a CHECK, or an enum type under the `pg_enum` strategy.
            let constrained = column
                .filter(|column| check.is_some() || matches!(column.pg_type, PgType::Enum(_)));
            let source = match (built_in, constrained) {
                (BuiltIn::Id, _) => Source::Id,
                (BuiltIn::CreatedDate, _) => Source::CreatedDate,
                (BuiltIn::UpdatedDate, _) => Source::UpdatedDate,
                (_, Some(column)) => {
                    Source::Spec(self.scalar_spec(&built_in.field(), &column.pg_type, check, None))
                }
                (BuiltIn::CreatedBy, None) => Source::CreatedBy,
                (BuiltIn::CreatedById, None) => Source::CreatedById,
                (BuiltIn::IsSample, None) => Source::Constant(Value::Bool(false)),
                (BuiltIn::Email, None) => Source::UserEmail,
                (BuiltIn::FullName, None) => Source::UserFullName,
                (BuiltIn::Role, None) => Source::UserRole,
                (BuiltIn::Disabled, None) => Source::Flag(3),
                (BuiltIn::IsVerified, None) => Source::Flag(90),
                (BuiltIn::AppId, None) => Source::Constant(Value::String(self.app_id.clone())),
                (BuiltIn::IsService, None) => Source::Constant(Value::Bool(false)),
            };
            slots.push(Slot {
                name: name.to_owned(),
                salt: hash_name(name),
                presence: Presence::Always,
                source,
            });
        }
        for field in &entity.fields {
            if built_ins
                .iter()
                .any(|built_in| built_in.field_name() == field.name)
            {
                continue;
            }
            let column = table.column_for_field(&field.name);
            let (spec, not_null) = match column {
                Some(column) => (
                    self.column_spec(&table.name, field, column),
                    column.not_null,
                ),
                // A field the mapping skips: its values go to `_extra`, which takes any JSON.
                None => (json_spec(field), false),
            };
            slots.push(Slot {
                name: field.name.clone(),
                salt: hash_name(&field.name),
                presence: if not_null || field.required {
                    Presence::Always
                } else {
                    Presence::Optional
                },
                source: Source::Spec(spec),
            });
        }
        EntityPlan {
            name: entity.name.clone(),
            key,
            users: self.users,
            app_id: self.app_id.clone(),
            slots,
        }
    }

    /// The generator for a field stored in `column` of `table`: the column decides the shape
    /// (its type, CHECK and references), the field adds bounds, lengths, format and name.
    fn column_spec(&self, table: &str, field: &Field, column: &Column) -> Spec {
        let same_table =
            |table_name: &str, column_name: &str| table_name == table && column_name == column.name;
        // A CHECK wins over a reference: a value outside it would not load at all.
        if column.check.is_none()
            && let Some(key) = self
                .target
                .foreign_keys
                .iter()
                .find(|key| same_table(&key.table, &key.column))
            && let Some(target) = self.keys.get(key.target_entity.as_str())
        {
            return Spec::Reference {
                key: *target,
                same_entity: key.target_entity == key.entity,
                nullable: !column.not_null,
            };
        }
        if column.check.is_none()
            && let Some(reference) = self
                .target
                .array_references
                .iter()
                .find(|reference| same_table(&reference.table, &reference.column))
            && let Some(target) = self.keys.get(reference.target_entity.as_str())
        {
            return Spec::References {
                key: *target,
                same_entity: reference.target_entity == reference.entity,
            };
        }
        match &column.pg_type {
            PgType::Jsonb | PgType::Json => json_spec(field),
            PgType::Array(element) => {
                let items = field.items.as_deref();
                let item_spec = match column.check.as_ref().filter(|check| check.elements) {
                    Some(check) if !check.allowed.is_empty() => Spec::Choice(check.allowed.clone()),
                    _ => {
                        let enum_values = items
                            .and_then(|items| items.enum_values.as_deref())
                            .or(field.enum_values.as_deref());
                        let fallback;
                        let item_field = match items {
                            Some(items) => items,
                            None => {
                                fallback = Field::new(field.name.clone(), FieldKind::String);
                                &fallback
                            }
                        };
                        self.scalar_spec(item_field, element, None, enum_values)
                    }
                };
                Spec::Array {
                    items: Box::new(item_spec),
                    max_items: 4,
                }
            }
            scalar => self.scalar_spec(
                field,
                scalar,
                column.check.as_ref(),
                field.enum_values.as_deref(),
            ),
        }
    }

    /// The generator for one scalar of `pg_type`.
    fn scalar_spec(
        &self,
        field: &Field,
        pg_type: &PgType,
        check: Option<&Check>,
        enum_values: Option<&[Value]>,
    ) -> Spec {
        if let Some(check) = check.filter(|check| !check.allowed.is_empty()) {
            return Spec::Choice(check.allowed.clone());
        }
        if let PgType::Enum(name) = pg_type
            && let Some(enum_type) = self
                .target
                .enum_types
                .iter()
                .find(|enum_type| &enum_type.name == name)
            && !enum_type.values.is_empty()
        {
            return Spec::Choice(
                enum_type
                    .values
                    .iter()
                    .cloned()
                    .map(Value::String)
                    .collect(),
            );
        }
        // An enum the plan does not enforce still makes plausible values: the members that
        // fit the column.
        if let Some(values) = enum_values {
            let mut fitting: Vec<Value> = Vec::new();
            for value in values.iter().filter(|value| !value.is_null()) {
                if let Ok(fitted) = fit_scalar(value, pg_type)
                    && !fitting.contains(&fitted)
                {
                    fitting.push(fitted);
                }
            }
            if !fitting.is_empty() {
                return Spec::Choice(fitting);
            }
        }
        match pg_type {
            PgType::Text | PgType::Varchar(_) | PgType::Enum(_) => {
                let limit = match pg_type {
                    PgType::Varchar(Some(length)) => Some(*length as usize),
                    _ => None,
                };
                text_spec(field, limit)
            }
            PgType::Uuid => Spec::Uuid,
            PgType::Boolean => Spec::Boolean,
            PgType::Smallint | PgType::Integer | PgType::Bigint => {
                integer_spec(field, pg_type.integer_range())
            }
            PgType::Real | PgType::DoublePrecision => number_spec(field, None),
            PgType::Numeric(precision) => number_spec(field, *precision),
            PgType::Timestamptz | PgType::Timestamp => Spec::Timestamp,
            PgType::Date => Spec::Date,
            PgType::Time => Spec::Time,
            PgType::Jsonb | PgType::Json => json_spec(field),
            // No nested arrays in a plan; words are the least surprising fallback.
            PgType::Array(_) => text_spec(field, None),
        }
    }
}

/// The generator for a value stored as JSON: the field's declared shape, followed all the way
/// down.
fn json_spec(field: &Field) -> Spec {
    let enum_values: Vec<Value> = field
        .enum_values
        .iter()
        .flatten()
        .filter(|value| !value.is_null())
        .cloned()
        .collect();
    if !enum_values.is_empty() {
        // An enum on an array names its elements (a multi-select), unless it lists arrays.
        if field.kind == FieldKind::Array && !enum_values.iter().any(Value::is_array) {
            return Spec::Array {
                items: Box::new(Spec::Choice(enum_values)),
                max_items: 3,
            };
        }
        return Spec::Choice(enum_values);
    }
    match &field.kind {
        FieldKind::String => match field.format.as_deref() {
            Some("date-time") => Spec::Timestamp,
            Some("date") => Spec::Date,
            Some("time") => Spec::Time,
            Some("uuid") => Spec::Uuid,
            _ => text_spec(field, None),
        },
        FieldKind::Integer => integer_spec(field, None),
        FieldKind::Number => number_spec(field, None),
        FieldKind::Boolean => Spec::Boolean,
        FieldKind::Binary => text_spec(field, None),
        FieldKind::Array => Spec::Array {
            items: Box::new(match field.items.as_deref() {
                Some(items) => json_spec(items),
                None => text_spec(&Field::new(field.name.clone(), FieldKind::String), None),
            }),
            max_items: 4,
        },
        FieldKind::Object => match field.properties.as_deref() {
            Some(properties) if !properties.is_empty() => Spec::Object(
                properties
                    .iter()
                    .map(|property| Property {
                        name: property.name.clone(),
                        required: property.required,
                        spec: json_spec(property),
                    })
                    .collect(),
            ),
            _ => Spec::FreeObject,
        },
        FieldKind::Any | FieldKind::Unknown(_) => Spec::AnyJson,
        FieldKind::Union(types) => {
            let specs: Vec<Spec> = types
                .iter()
                .map(|name| match name.as_str() {
                    "string" => text_spec(field, None),
                    "integer" => integer_spec(field, None),
                    "number" => number_spec(field, None),
                    "boolean" => Spec::Boolean,
                    "array" => Spec::Array {
                        items: Box::new(text_spec(field, None)),
                        max_items: 3,
                    },
                    "object" => Spec::FreeObject,
                    "null" => Spec::Null,
                    _ => Spec::AnyJson,
                })
                .collect();
            if specs.is_empty() {
                Spec::AnyJson
            } else {
                Spec::Union(specs)
            }
        }
    }
}

fn text_spec(field: &Field, limit: Option<usize>) -> Spec {
    let min_length = field.min_length.unwrap_or(0) as usize;
    let max_length = match (field.max_length.map(|length| length as usize), limit) {
        (Some(declared), Some(limit)) => Some(declared.min(limit)),
        (declared, limit) => declared.or(limit),
    };
    Spec::Text {
        kind: text_kind(field),
        min_length,
        max_length,
    }
}

/// Integers within the field's `minimum`/`maximum` and the column type's range.
fn integer_spec(field: &Field, range: Option<(i64, i64)>) -> Spec {
    let (type_low, type_high) = range.unwrap_or((i64::MIN, i64::MAX));
    let minimum = field
        .minimum
        .filter(|value| value.is_finite())
        .map(f64::ceil);
    let maximum = field
        .maximum
        .filter(|value| value.is_finite())
        .map(f64::floor);
    let (low, high) = match (minimum, maximum) {
        (Some(low), Some(high)) => (low, high),
        (Some(low), None) => (low, low + 100.0),
        (None, Some(high)) if high >= 0.0 => (0.0, high),
        (None, Some(high)) => (high - 100.0, high),
        (None, None) => (0.0, 100.0),
    };
    // `as` saturates, and the clamp keeps both ends inside the column type.
    let low = (low as i64).clamp(type_low, type_high);
    let high = (high as i64).clamp(type_low, type_high).max(low);
    Spec::Integer { low, high }
}

/// Numbers within the field's bounds and, for `numeric(p,s)`, the column's precision.
fn number_spec(field: &Field, precision: Option<(u32, u32)>) -> Spec {
    let minimum = field.minimum.filter(|value| value.is_finite());
    let maximum = field.maximum.filter(|value| value.is_finite());
    let (mut low, mut high) = match (minimum, maximum) {
        (Some(low), Some(high)) => (low, high),
        (Some(low), None) => (low, low + 1000.0),
        (None, Some(high)) if high >= 0.0 => (0.0, high),
        (None, Some(high)) => (high - 1000.0, high),
        (None, None) => (0.0, 1000.0),
    };
    let mut decimals = 2;
    if let Some((precision, scale)) = precision {
        let integer_digits = precision.saturating_sub(scale).min(15) as i32;
        let limit = 10f64.powi(integer_digits) - 10f64.powi(-(scale.min(15) as i32));
        low = low.clamp(-limit, limit);
        high = high.clamp(-limit, limit);
        decimals = scale.min(2);
    }
    let limit = 1.0e15;
    let low = low.clamp(-limit, limit);
    let high = high.clamp(-limit, limit).max(low);
    Spec::Number {
        low,
        high,
        decimals,
    }
}

/// Splits a field name into lowercase words: `profileImageUrl` → profile, image, url.
fn name_words(name: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut previous_lower = false;
    for character in name.chars() {
        if !character.is_alphanumeric() {
            if !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
            previous_lower = false;
            continue;
        }
        if character.is_uppercase() && previous_lower && !current.is_empty() {
            words.push(std::mem::take(&mut current));
        }
        previous_lower = character.is_lowercase() || character.is_ascii_digit();
        current.extend(character.to_lowercase());
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

/// What a text field holds: by its format, else its declared type, else its name.
fn text_kind(field: &Field) -> TextKind {
    if let Some(format) = field.format.as_deref() {
        let kind = match format.to_ascii_lowercase().as_str() {
            "email" | "idn-email" => Some(TextKind::Email),
            "uri" | "url" | "uri-reference" | "iri" => Some(TextKind::Uri),
            "hostname" | "idn-hostname" => Some(TextKind::Hostname),
            "uuid" => Some(TextKind::Uuid),
            "ipv4" => Some(TextKind::Ipv4),
            "ipv6" => Some(TextKind::Ipv6),
            "date-time" | "datetime" => Some(TextKind::DateTime),
            "date" => Some(TextKind::Date),
            "time" => Some(TextKind::Time),
            "file" | "image" => Some(TextKind::File),
            "richtext" | "html" => Some(TextKind::RichText),
            "regex" => Some(TextKind::Regex),
            "color" => Some(TextKind::Color),
            _ => None,
        };
        if let Some(kind) = kind {
            return kind;
        }
    }
    match field.kind {
        FieldKind::Integer => return TextKind::Digits,
        FieldKind::Number => return TextKind::Decimal,
        FieldKind::Boolean => return TextKind::BooleanText,
        FieldKind::Binary => return TextKind::Base64,
        _ => {}
    }
    let words = name_words(&field.name);
    let has = |candidates: &[&str]| words.iter().any(|word| candidates.contains(&word.as_str()));
    let last = words.last().map(String::as_str).unwrap_or_default();
    if has(&["email", "mail"]) {
        return TextKind::Email;
    }
    if last == "id" || reference_stem(&field.name).is_some_and(|(_, shape)| shape == Shape::One) {
        return TextKind::Identifier;
    }
    if has(&["name"]) && has(&["first", "given"]) {
        return TextKind::FirstName;
    }
    if has(&["surname"]) || (has(&["name"]) && has(&["last", "family"])) {
        return TextKind::LastName;
    }
    if has(&["name"]) && has(PERSON_WORDS) {
        return TextKind::PersonName;
    }
    if last == "at" {
        return TextKind::DateTime;
    }
    NAME_HINTS
        .iter()
        .find(|(candidates, _)| has(candidates))
        .map_or(TextKind::Words, |(_, kind)| *kind)
}

/// Words that make a `...name` field a person's name (`customer_name`, `assigneeName`).
#[rustfmt::skip]
const PERSON_WORDS: &[&str] = &[
    "full", "user", "customer", "contact", "client", "owner", "author", "assignee", "person",
    "member", "patient", "student", "employee", "manager", "parent", "teacher", "driver", "guest",
    "player", "doctor", "display", "sender", "recipient", "buyer", "seller",
];

/// Words in a field name that say what its text holds; the first match wins.
#[rustfmt::skip]
const NAME_HINTS: &[(&[&str], TextKind)] = &[
    (&["image", "photo", "avatar", "logo", "picture", "thumbnail", "attachment", "file",
       "document", "video", "audio", "icon", "banner", "pdf", "receipt"], TextKind::File),
    (&["url", "uri", "link", "website", "href", "homepage"], TextKind::Uri),
    (&["phone", "mobile", "tel", "telephone", "whatsapp", "fax"], TextKind::Phone),
    (&["color", "colour"], TextKind::Color),
    (&["ip"], TextKind::Ipv4),
    (&["hostname", "domain"], TextKind::Hostname),
    (&["uuid", "guid"], TextKind::Uuid),
    (&["html", "richtext"], TextKind::RichText),
    (&["username", "handle", "nickname", "slug"], TextKind::Handle),
    (&["description", "notes", "note", "content", "message", "body", "text", "comment",
       "comments", "summary", "bio", "details", "feedback", "reason", "instructions", "answer",
       "question", "prompt", "response", "story", "caption", "excerpt", "about", "remarks"],
     TextKind::Sentence),
    (&["name", "title", "subject", "headline", "label", "heading"], TextKind::Title),
    (&["address", "street"], TextKind::Address),
    (&["city", "town"], TextKind::City),
    (&["country"], TextKind::Country),
    (&["currency"], TextKind::Currency),
    (&["zip", "postal", "postcode"], TextKind::Digits),
    (&["code", "sku", "ref", "reference", "number"], TextKind::Code),
    (&["timestamp"], TextKind::DateTime),
    (&["date", "day", "birthday", "dob", "deadline"], TextKind::Date),
    (&["time"], TextKind::Time),
    (&["status", "type", "category", "kind", "level", "tag", "tags", "role", "stage", "priority",
       "state", "mode", "plan", "tier", "language", "source", "channel", "method", "unit",
       "format", "platform", "difficulty", "frequency"], TextKind::Category),
];
