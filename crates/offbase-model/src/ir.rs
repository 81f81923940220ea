//! The schema IR: an app, its entities and their fields, as read from Base44 schema files.
//! Keeps everything the source said, including keys offbase does not interpret (`extra`), so a
//! later stage can still reach them.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// One Base44 app: its entities, sorted by name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct App {
    /// A display name for the app (its folder name, or its id).
    pub name: String,
    /// The Base44 app id, when the export carries one (`base44/.app.jsonc`).
    pub app_id: Option<String>,
    pub entities: Vec<Entity>,
}

impl App {
    pub fn entity(&self, name: &str) -> Option<&Entity> {
        self.entities.iter().find(|entity| entity.name == name)
    }
}

/// Where a schema came from: the layouts of an exported app, in order of precedence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceLayout {
    /// `base44/entities/*.jsonc` (the current CLI layout).
    Base44Entities,
    /// `src/entities/*.json` (older exports).
    SrcEntities,
    /// `entities/*.json` (older exports).
    Entities,
    /// A single file or folder given directly.
    Direct,
    /// `src/api/entities.js`: entity names only, no schema.
    NamesOnly,
    /// Not in any file: an entity the platform always has (`User`).
    Platform,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchemaSource {
    /// The file, relative to the source root given by the user, with `/` separators.
    pub path: String,
    pub layout: SourceLayout,
}

/// One entity schema.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entity {
    pub name: String,
    pub source: SchemaSource,
    pub title: Option<String>,
    pub description: Option<String>,
    /// Declared fields, in the order the schema file lists them.
    pub fields: Vec<Field>,
    pub rls: Option<Rls>,
    /// Top-level keys offbase does not interpret, kept as they were.
    pub extra: BTreeMap<String, Value>,
}

impl Entity {
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|field| field.name == name)
    }

    /// Whether this is the platform's user entity, which carries extra built-in fields.
    pub fn is_user(&self) -> bool {
        self.name == "User"
    }

    /// The built-in fields every record of this entity has, in column order.
    pub fn built_ins(&self) -> Vec<BuiltIn> {
        let mut built_ins = BuiltIn::RECORD.to_vec();
        if self.is_user() {
            built_ins.extend_from_slice(&BuiltIn::USER);
        }
        built_ins
    }
}

/// The JSON type of a field, as declared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "types")]
pub enum FieldKind {
    String,
    Integer,
    Number,
    Boolean,
    Array,
    Object,
    Binary,
    /// No `type` at all: free JSON.
    Any,
    /// A union of several non-null types (e.g. `["string", "number"]`): free JSON.
    Union(Vec<String>),
    /// A type name the reference does not know, kept as written: free JSON, reported.
    Unknown(String),
}

impl FieldKind {
    /// The name used in mapping keys and reports.
    pub fn key(&self) -> &str {
        match self {
            FieldKind::String => "string",
            FieldKind::Integer => "integer",
            FieldKind::Number => "number",
            FieldKind::Boolean => "boolean",
            FieldKind::Array => "array",
            FieldKind::Object => "object",
            FieldKind::Binary => "binary",
            FieldKind::Any => "any",
            FieldKind::Union(_) => "union",
            FieldKind::Unknown(_) => "unknown",
        }
    }
}

/// One field of an entity, or the item or nested property of one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Field {
    pub name: String,
    pub kind: FieldKind,
    /// The declared type admits `null` (e.g. `["string", "null"]`).
    pub nullable: bool,
    pub format: Option<String>,
    pub title: Option<String>,
    pub description: Option<String>,
    /// Listed in the parent's `required`.
    pub required: bool,
    /// `enum` values, of any JSON type.
    pub enum_values: Option<Vec<Value>>,
    pub enum_names: Option<Vec<Value>>,
    pub default: Option<Value>,
    pub minimum: Option<f64>,
    pub maximum: Option<f64>,
    pub min_length: Option<u64>,
    pub max_length: Option<u64>,
    pub pattern: Option<String>,
    /// The item definition of an array field.
    pub items: Option<Box<Field>>,
    /// The nested properties of an object field, in file order.
    pub properties: Option<Vec<Field>>,
    /// Field-level access rules, kept as written.
    pub rls: Option<Value>,
    /// Keys offbase does not interpret, kept as they were.
    pub extra: BTreeMap<String, Value>,
}

impl Field {
    /// A field with nothing but a name and a kind.
    pub fn new(name: impl Into<String>, kind: FieldKind) -> Self {
        Field {
            name: name.into(),
            kind,
            nullable: false,
            format: None,
            title: None,
            description: None,
            required: false,
            enum_values: None,
            enum_names: None,
            default: None,
            minimum: None,
            maximum: None,
            min_length: None,
            max_length: None,
            pattern: None,
            items: None,
            properties: None,
            rls: None,
            extra: BTreeMap::new(),
        }
    }
}

/// Entity-level access rules (`rls`). Each operation is open (`true`), closed (`false`) or a
/// condition; an omitted operation is open to everyone.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Rls {
    pub create: Option<RlsRule>,
    pub read: Option<RlsRule>,
    pub update: Option<RlsRule>,
    pub delete: Option<RlsRule>,
    /// Shorthand for create + update + delete.
    pub write: Option<RlsRule>,
    /// Keys other than the five operations, kept as written.
    pub extra: BTreeMap<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RlsRule {
    Allow(bool),
    Condition(Value),
}

/// The fields Base44 adds to every record (and, for `User`, the user built-ins).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BuiltIn {
    Id,
    CreatedDate,
    UpdatedDate,
    CreatedBy,
    CreatedById,
    IsSample,
    Email,
    FullName,
    Role,
    Disabled,
    IsVerified,
    AppId,
    IsService,
}

impl BuiltIn {
    /// Built-ins of every record, in column order.
    pub const RECORD: [BuiltIn; 6] = [
        BuiltIn::Id,
        BuiltIn::CreatedDate,
        BuiltIn::UpdatedDate,
        BuiltIn::CreatedBy,
        BuiltIn::CreatedById,
        BuiltIn::IsSample,
    ];
    /// Extra built-ins of the `User` entity.
    pub const USER: [BuiltIn; 7] = [
        BuiltIn::Email,
        BuiltIn::FullName,
        BuiltIn::Role,
        BuiltIn::Disabled,
        BuiltIn::IsVerified,
        BuiltIn::AppId,
        BuiltIn::IsService,
    ];

    /// The field name as records carry it.
    pub fn field_name(self) -> &'static str {
        match self {
            BuiltIn::Id => "id",
            BuiltIn::CreatedDate => "created_date",
            BuiltIn::UpdatedDate => "updated_date",
            BuiltIn::CreatedBy => "created_by",
            BuiltIn::CreatedById => "created_by_id",
            BuiltIn::IsSample => "is_sample",
            BuiltIn::Email => "email",
            BuiltIn::FullName => "full_name",
            BuiltIn::Role => "role",
            BuiltIn::Disabled => "disabled",
            BuiltIn::IsVerified => "is_verified",
            BuiltIn::AppId => "app_id",
            BuiltIn::IsService => "is_service",
        }
    }

    /// The field definition the platform implies for this built-in.
    pub fn field(self) -> Field {
        let kind = match self {
            BuiltIn::IsSample | BuiltIn::Disabled | BuiltIn::IsVerified | BuiltIn::IsService => {
                FieldKind::Boolean
            }
            _ => FieldKind::String,
        };
        let mut field = Field::new(self.field_name(), kind);
        if matches!(self, BuiltIn::CreatedDate | BuiltIn::UpdatedDate) {
            field.format = Some("date-time".to_owned());
        }
        // Only the id is guaranteed: seed files and hand-made records may lack timestamps.
        field.required = self == BuiltIn::Id;
        field
    }
}
