//! The offbase data model: the schema IR read from a Base44 app, the mapping rules that steer
//! translation, and the target-table model the planner produces. Pure data and pure functions:
//! nothing here touches a file, the network or a database.

pub mod ir;
pub mod names;
pub mod pg_type;
pub mod rules;
pub mod target;
pub mod time;

pub use ir::{App, BuiltIn, Entity, Field, FieldKind, Rls, RlsRule, SchemaSource, SourceLayout};
pub use pg_type::PgType;
pub use rules::{ArrayReferences, EnumStrategy, MappingRules, RulesError};
pub use target::{
    ArrayReference, Check, Column, ColumnSource, Confidence, EnumType, ForeignKey, Index, Junction,
    Note, NoteLevel, Table, TargetSchema,
};
