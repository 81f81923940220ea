//! The target model: the PostgreSQL tables, constraints and indexes a plan creates, and the
//! notes that explain every decision that is not a plain default. The planner builds it from
//! the IR and the rules; the SQL renderer, the loader and the report read it.

use crate::ir::BuiltIn;
use crate::pg_type::PgType;
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetSchema {
    pub app: String,
    /// Tables in entity-name order, junction tables after their owner.
    pub tables: Vec<Table>,
    /// PostgreSQL enum types (enum strategy `pg_enum`).
    pub enum_types: Vec<EnumType>,
    /// Foreign keys, created `NOT VALID` after the load.
    pub foreign_keys: Vec<ForeignKey>,
    /// Indexes, created after the load.
    pub indexes: Vec<Index>,
    /// Arrays of references, not enforceable by a plain foreign key.
    pub array_references: Vec<ArrayReference>,
    /// Warnings and decisions, in a stable order (warnings first).
    pub notes: Vec<Note>,
}

impl TargetSchema {
    pub fn table_for_entity(&self, entity: &str) -> Option<&Table> {
        self.tables
            .iter()
            .find(|table| table.junction.is_none() && table.entity == entity)
    }

    /// The names of the tables and enum types the plan creates.
    pub fn relation_names(&self) -> Vec<String> {
        let mut names = self.table_names();
        names.extend(self.enum_type_names());
        names
    }

    /// The tables' names, in the plan's order.
    pub fn table_names(&self) -> Vec<String> {
        self.tables.iter().map(|table| table.name.clone()).collect()
    }

    /// The enum types' names, in the plan's order.
    pub fn enum_type_names(&self) -> Vec<String> {
        self.enum_types
            .iter()
            .map(|enum_type| enum_type.name.clone())
            .collect()
    }

    pub fn warnings(&self) -> impl Iterator<Item = &Note> {
        self.notes
            .iter()
            .filter(|note| note.level == NoteLevel::Warning)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Table {
    /// The entity the table holds (the owner entity, for a junction table).
    pub entity: String,
    pub name: String,
    pub columns: Vec<Column>,
    /// The primary key columns.
    pub primary_key: Vec<String>,
    pub primary_key_name: String,
    /// For a junction table: what it expands.
    pub junction: Option<Junction>,
}

impl Table {
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|column| column.name == name)
    }

    pub fn column_for_field(&self, field: &str) -> Option<&Column> {
        self.columns
            .iter()
            .find(|column| column.field.as_deref() == Some(field))
    }
}

/// What a column holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "name")]
pub enum ColumnSource {
    /// A built-in record field (possibly re-declared by the schema).
    BuiltIn(BuiltIn),
    /// A field declared in the schema.
    Field,
    /// The catch-all for record fields that are not columns.
    Extra,
    /// A junction table's column (owner id, target id or position).
    Junction,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Column {
    pub name: String,
    /// The record field it holds (absent for `_extra` and junction columns).
    pub field: Option<String>,
    pub source: ColumnSource,
    pub pg_type: PgType,
    pub not_null: bool,
    /// The column default, as a JSON value compatible with `pg_type`.
    pub default: Option<Value>,
    pub check: Option<Check>,
}

/// A CHECK constraint restricting a column to an enum's values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Check {
    pub name: String,
    /// Allowed values, typed for the column (strings, integers or numbers).
    pub allowed: Vec<Value>,
    /// For array columns: every element must be allowed (`column <@ ARRAY[...]`).
    pub elements: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnumType {
    pub name: String,
    pub values: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Confidence {
    /// Declared in the mapping file.
    Declared,
    /// The field stem is the entity name (`project_id` → Project).
    High,
    /// The stem matches after a plural or case variant (`projects_id`, `projectID`).
    Medium,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ForeignKey {
    pub name: String,
    pub table: String,
    pub column: String,
    pub entity: String,
    pub field: String,
    pub target_entity: String,
    pub target_table: String,
    pub target_column: String,
    pub confidence: Confidence,
    /// Why offbase thinks it is a reference.
    pub reason: String,
    /// Delete the referencing rows with the referenced one (junction tables only).
    pub on_delete_cascade: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Index {
    pub name: String,
    pub table: String,
    pub columns: Vec<String>,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArrayReference {
    pub entity: String,
    pub field: String,
    pub table: String,
    pub column: String,
    pub target_entity: String,
    pub target_table: String,
    /// The junction table that expands it, when the strategy is `junction`.
    pub junction_table: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Junction {
    pub field: String,
    pub target_entity: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoteLevel {
    /// Something the user should look at: a value may not fit, a name was lost, a rule ignored.
    Warning,
    /// A decision that is not a plain default (a rename, an override, an inferred key).
    Decision,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Note {
    pub level: NoteLevel,
    pub entity: Option<String>,
    pub field: Option<String>,
    pub message: String,
}

impl Note {
    pub fn warning(entity: Option<&str>, field: Option<&str>, message: impl Into<String>) -> Self {
        Note {
            level: NoteLevel::Warning,
            entity: entity.map(str::to_owned),
            field: field.map(str::to_owned),
            message: message.into(),
        }
    }

    pub fn decision(entity: Option<&str>, field: Option<&str>, message: impl Into<String>) -> Self {
        Note {
            level: NoteLevel::Decision,
            entity: entity.map(str::to_owned),
            field: field.map(str::to_owned),
            message: message.into(),
        }
    }
}
