//! The user a rule is checked for, and how condition keys and templates name fields: records
//! are held flat (as the API returns them), while the platform stores the schema's fields
//! under `data`, so `data.<field>` is the field and a bare key is a built-in, or (by
//! [`BareKeys`]) either nothing or the field.

use offbase_model::BuiltIn;
use serde_json::{Map, Value};

/// How a condition key without `data.` that names no built-in is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BareKeys {
    /// At the top level of the record as the platform stores it, where only built-ins live: a
    /// missing field (most likely the platform's behaviour).
    #[default]
    Literal,
    /// As `data.<field>`: the schema's field of that name.
    Data,
}

/// How rules are read where the platform leaves a choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Options {
    pub bare_keys: BareKeys,
}

/// A signed-in user: their record in the app's `User` entity, flat as the API returns it
/// (`id`, `email`, `role` and the other built-ins, then the schema's fields, which rules and
/// templates reach as `data.<field>`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct User {
    record: Map<String, Value>,
}

impl User {
    /// The user whose `User` record (flat, as the API returns it) is `record`.
    pub fn from_record(record: Map<String, Value>) -> User {
        User { record }
    }

    /// A user from its parts: `data` holds the schema's fields.
    pub fn new(
        id: impl Into<String>,
        email: impl Into<String>,
        role: impl Into<String>,
        data: Map<String, Value>,
    ) -> User {
        let mut record = Map::new();
        record.insert("id".to_owned(), Value::String(id.into()));
        record.insert("email".to_owned(), Value::String(email.into()));
        record.insert("role".to_owned(), Value::String(role.into()));
        for (name, value) in data {
            record.entry(name).or_insert(value);
        }
        User { record }
    }

    /// The user's record, flat.
    pub fn record(&self) -> &Map<String, Value> {
        &self.record
    }

    pub fn id(&self) -> Option<&str> {
        self.text("id")
    }

    pub fn email(&self) -> Option<&str> {
        self.text("email")
    }

    pub fn role(&self) -> Option<&str> {
        self.text("role")
    }

    /// The schema's fields of the user (everything but the built-ins).
    pub fn data(&self) -> Map<String, Value> {
        self.record
            .iter()
            .filter(|(name, _)| !is_built_in(name, true))
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect()
    }

    fn text(&self, name: &str) -> Option<&str> {
        self.record.get(name).and_then(Value::as_str)
    }
}

/// What a condition key names in a flat record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    /// The field at this (possibly dotted) path of the flat record.
    Field(String),
    /// Nothing: a bare key read literally.
    Missing,
}

/// What `key` names in a record of an entity (`user_entity`: the `User` entity, whose user
/// built-ins are top-level too).
pub(crate) fn target(key: &str, user_entity: bool, bare_keys: BareKeys) -> Target {
    if let Some(field) = key.strip_prefix("data.") {
        return Target::Field(field.to_owned());
    }
    let first = key.split('.').next().unwrap_or(key);
    if is_built_in(first, user_entity) || bare_keys == BareKeys::Data {
        Target::Field(key.to_owned())
    } else {
        Target::Missing
    }
}

/// Whether `name` is a built-in field (the record built-ins, and on `User` the user ones).
pub(crate) fn is_built_in(name: &str, user_entity: bool) -> bool {
    BuiltIn::RECORD
        .iter()
        .any(|built_in| built_in.field_name() == name)
        || (user_entity
            && BuiltIn::USER
                .iter()
                .any(|built_in| built_in.field_name() == name))
}

/// The value at a dotted path of a flat record, `None` when missing.
pub(crate) fn resolve<'a>(record: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    let mut segments = path.split('.');
    let mut current = record.get(segments.next()?)?;
    for segment in segments {
        current = current.as_object()?.get(segment)?;
    }
    Some(current)
}
