//! The planner: schema IR + mapping rules → target model. Every decision that is not a plain
//! default leaves a note, so the mapping report can explain the plan field by field.
//!
//! This module owns the entry point ([`plan`]), the mapping file's validation and the
//! planner's state; the steps live in `tables` (table and column names), `columns` (a
//! column's type, NOT NULL and DEFAULT), `enums` (CHECK or PostgreSQL enum type) and
//! `foreign_keys` (foreign keys, array references, junction tables).

mod columns;
mod enums;
mod foreign_keys;
mod tables;

use crate::names::NameRegistry;
use offbase_model::names::is_system_column;
use offbase_model::rules::FieldOverride;
use offbase_model::{App, Entity, EnumType, Index, MappingRules, Note, TargetSchema};

/// The name of the column that keeps record fields the table has no column for.
pub const EXTRA_COLUMN: &str = "_extra";

/// A mapping file that cannot be applied to this app.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error(
        "the mapping names entity {entity:?}, which the app does not have (its entities: {known})"
    )]
    UnknownEntity { entity: String, known: String },
    #[error(
        "the mapping names field {field:?} of entity {entity:?}, which its schema does not declare"
    )]
    UnknownField { entity: String, field: String },
    #[error(
        "the mapping for {entity}.{field} references entity {target:?}, which the plan does not have"
    )]
    UnknownReference {
        entity: String,
        field: String,
        target: String,
    },
    #[error(
        "the mapping gives the name {name:?} to both {first} and {second}: choose another name"
    )]
    NameClash {
        name: String,
        first: String,
        second: String,
    },
    #[error("the mapping for {subject} is invalid: {message}")]
    InvalidOverride { subject: String, message: String },
}

/// Plans the PostgreSQL schema for `app` under `rules`.
pub fn plan(app: &App, rules: &MappingRules) -> Result<TargetSchema, PlanError> {
    validate_overrides(app, rules)?;
    let mut planner = Planner {
        rules,
        registry: NameRegistry::default(),
        notes: Vec::new(),
        enum_types: Vec::new(),
    };
    let mut entities: Vec<&Entity> = app.entities.iter().collect();
    entities.sort_by(|left, right| left.name.cmp(&right.name));
    let mut planned = Vec::new();
    for entity in entities {
        if rules.entity(&entity.name).is_some_and(|entity| entity.skip) {
            planner.decision(
                entity,
                None,
                "skipped by the mapping file: no table, its records are not loaded",
            );
        } else {
            planned.push(entity);
        }
    }
    let table_names = planner.table_names(&planned)?;
    let mut tables = Vec::new();
    for entity in &planned {
        let name = table_names.get(&entity.name).cloned().unwrap_or_default();
        tables.push(planner.table(entity, name)?);
    }
    let (foreign_keys, array_references, junctions) =
        planner.references(&planned, &tables, &table_names)?;
    let mut indexes = Vec::new();
    for table in &tables {
        indexes.push(Index {
            name: planner
                .registry
                .claim_with_suffix(&format!("{}_updated_date_id", table.name), "_idx"),
            table: table.name.clone(),
            columns: vec!["updated_date".into(), "id".into()],
            reason: "the sync cursor (updated_date, id)".into(),
        });
    }
    for key in &foreign_keys {
        // A junction's source column leads its primary key, which already indexes it.
        let leads_primary_key = junctions.iter().any(|junction| {
            junction.name == key.table && junction.primary_key.first() == Some(&key.column)
        });
        if leads_primary_key {
            continue;
        }
        indexes.push(Index {
            name: planner
                .registry
                .claim_with_suffix(&format!("{}_{}", key.table, key.column), "_idx"),
            table: key.table.clone(),
            columns: vec![key.column.clone()],
            reason: format!("foreign key to {}", key.target_table),
        });
    }
    // Junction tables go right after their owner so the plan reads entity by entity.
    let mut ordered = Vec::new();
    for table in tables {
        let entity = table.entity.clone();
        ordered.push(table);
        ordered.extend(
            junctions
                .iter()
                .filter(|junction| junction.entity == entity)
                .cloned(),
        );
    }
    let mut notes = planner.notes;
    // Warnings first; within a level, entity order; generation order otherwise.
    notes.sort_by(|left, right| (left.level, &left.entity).cmp(&(right.level, &right.entity)));
    Ok(TargetSchema {
        app: app.name.clone(),
        tables: ordered,
        enum_types: planner.enum_types,
        foreign_keys,
        indexes,
        array_references,
        notes,
    })
}

fn validate_overrides(app: &App, rules: &MappingRules) -> Result<(), PlanError> {
    for (entity_name, entity_override) in &rules.entities {
        let Some(entity) = app.entity(entity_name) else {
            let known: Vec<&str> = app.entities.iter().map(|e| e.name.as_str()).collect();
            return Err(PlanError::UnknownEntity {
                entity: entity_name.clone(),
                known: known.join(", "),
            });
        };
        if let Some(table) = &entity_override.table {
            check_identifier(table, &format!("entity {entity_name} (table)"))?;
        }
        for (field_name, field_override) in &entity_override.fields {
            let subject = format!("{entity_name}.{field_name}");
            if entity.field(field_name).is_none() {
                return Err(PlanError::UnknownField {
                    entity: entity_name.clone(),
                    field: field_name.clone(),
                });
            }
            if let Some(column) = &field_override.column {
                check_identifier(column, &subject)?;
                if is_system_column(column) {
                    return Err(PlanError::InvalidOverride {
                        subject,
                        message: format!("{column:?} is a PostgreSQL system column name"),
                    });
                }
            }
            let built_in = entity
                .built_ins()
                .iter()
                .any(|built_in| built_in.field_name() == field_name);
            if field_name == "id" && *field_override != FieldOverride::default() {
                return Err(PlanError::InvalidOverride {
                    subject,
                    message: "the id column is always `id text primary key`".into(),
                });
            }
            if built_in
                && (field_override.skip
                    || field_override.column.is_some()
                    || field_override.pg_type.is_some()
                    || field_override.references.is_some()
                    || field_override.array_references.is_some())
            {
                return Err(PlanError::InvalidOverride {
                    subject,
                    message: "a built-in column keeps its name and type and cannot be skipped or made a reference; only enum and not_null apply".into(),
                });
            }
        }
    }
    Ok(())
}

fn check_identifier(name: &str, subject: &str) -> Result<(), PlanError> {
    let problem = if name.is_empty() {
        Some("the name is empty".to_owned())
    } else if name.len() > offbase_model::names::MAX_IDENTIFIER_BYTES {
        Some(format!("{name:?} is longer than 63 bytes"))
    } else if name.contains('\0') || name.contains('"') {
        Some(format!("{name:?} holds a NUL or a double quote"))
    } else {
        None
    };
    match problem {
        Some(message) => Err(PlanError::InvalidOverride {
            subject: subject.to_owned(),
            message,
        }),
        None => Ok(()),
    }
}

struct Planner<'a> {
    rules: &'a MappingRules,
    /// Names of relations, types and constraints: one namespace, so nothing ever clashes.
    registry: NameRegistry,
    notes: Vec<Note>,
    enum_types: Vec<EnumType>,
}

impl<'a> Planner<'a> {
    fn warning(&mut self, entity: &Entity, field: Option<&str>, message: impl Into<String>) {
        self.notes
            .push(Note::warning(Some(&entity.name), field, message));
    }

    fn decision(&mut self, entity: &Entity, field: Option<&str>, message: impl Into<String>) {
        self.notes
            .push(Note::decision(Some(&entity.name), field, message));
    }

    fn field_override(&self, entity: &Entity, field: &str) -> FieldOverride {
        self.rules
            .field(&entity.name, field)
            .cloned()
            .unwrap_or_default()
    }
}
