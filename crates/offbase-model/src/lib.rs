//! The offbase data model: the schema IR read from a Base44 app, the mapping rules that steer
//! translation, and the target-table model the planner produces. Pure data and pure functions:
//! nothing here touches a file, the network or a database.

pub mod ir;
pub mod names;
pub mod pg_type;
pub mod record;
pub mod rules;
pub mod target;
pub mod time;

/// What kind of JSON value this is, as a message says it: `a string`, `an array`, `null`.
pub fn json_kind(value: &serde_json::Value) -> &'static str {
    use serde_json::Value;
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

pub use ir::{App, BuiltIn, Entity, Field, FieldKind, Rls, RlsRule, SchemaSource, SourceLayout};
pub use pg_type::PgType;
pub use rules::{ArrayReferences, EnumStrategy, MappingRules, RulesError};
pub use target::{
    ArrayReference, Check, Column, ColumnSource, Confidence, EnumType, ForeignKey, Index, Junction,
    Note, NoteLevel, Table, TargetSchema,
};
