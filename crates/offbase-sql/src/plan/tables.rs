//! Table and column names: the mapping file's first, then derived ones (snake case, fitted
//! to 63 bytes, clear of system columns, `pg_` names and each other), and the table of an
//! entity built column by column.

use super::{EXTRA_COLUMN, PlanError, Planner};
use offbase_model::names::{fit_identifier, is_reserved_word, is_system_column, snake_case};
use offbase_model::{Column, ColumnSource, Entity, Field, PgType, Table};
use std::collections::{BTreeMap, BTreeSet};

/// What a table name beginning with `pg_` gets at its end.
const PG_CATALOG_SUFFIX: &str = "_app";

/// `name`, or, when PostgreSQL's catalog could claim it (`pg_...`), the name with
/// [`PG_CATALOG_SUFFIX`], fitted to 63 bytes.
fn outside_pg_catalog(name: String) -> String {
    if name.starts_with("pg_") {
        fit_identifier(&format!("{name}{PG_CATALOG_SUFFIX}"))
    } else {
        name
    }
}

impl Planner<'_> {
    /// Table names: the mapping file's names first (they must not clash), then derived ones.
    /// A name beginning with `pg_` gets [`PG_CATALOG_SUFFIX`]: PostgreSQL searches `pg_catalog`
    /// before any schema, so a table named `pg_class` or `pg_type` would be taken for the
    /// system catalog's by every unqualified statement.
    pub(super) fn table_names(
        &mut self,
        entities: &[&Entity],
    ) -> Result<BTreeMap<String, String>, PlanError> {
        let mut names: BTreeMap<String, String> = BTreeMap::new();
        let mut owners: BTreeMap<String, String> = BTreeMap::new();
        for entity in entities {
            if let Some(table) = self
                .rules
                .entity(&entity.name)
                .and_then(|e| e.table.clone())
            {
                let table = outside_pg_catalog(table);
                if let Some(first) = owners.get(&table) {
                    return Err(PlanError::NameClash {
                        name: table,
                        first: format!("entity {first}"),
                        second: format!("entity {}", entity.name),
                    });
                }
                self.registry.claim(&table);
                owners.insert(table.clone(), entity.name.clone());
                self.decision(
                    entity,
                    None,
                    format!("table named {table:?} by the mapping file"),
                );
                names.insert(entity.name.clone(), table);
            }
        }
        for entity in entities {
            if names.contains_key(&entity.name) {
                continue;
            }
            let derived = outside_pg_catalog(snake_case(&entity.name));
            if derived.starts_with("pg_") {
                self.decision(
                    entity,
                    None,
                    format!(
                        "table name ends with {PG_CATALOG_SUFFIX:?}: names beginning with pg_ are PostgreSQL's own, and its catalog (pg_class, pg_type, ...) is searched before any schema"
                    ),
                );
            }
            let table = self.registry.claim(&derived);
            if table != derived {
                let reason = if let Some(owner) = owners.get(&derived) {
                    format!("{derived:?} is taken by entity {owner}")
                } else {
                    format!("{derived:?} is longer than 63 bytes")
                };
                self.decision(
                    entity,
                    None,
                    format!("table renamed to {table:?}: {reason}"),
                );
            }
            if is_reserved_word(&table) {
                self.decision(
                    entity,
                    None,
                    format!(
                        "table {table:?} is an SQL reserved word: quote it when writing SQL by hand"
                    ),
                );
            }
            owners.entry(derived).or_insert_with(|| entity.name.clone());
            names.insert(entity.name.clone(), table);
        }
        Ok(names)
    }

    pub(super) fn table(&mut self, entity: &Entity, name: String) -> Result<Table, PlanError> {
        let primary_key_name = self.registry.claim_with_suffix(&name, "_pkey");
        let mut columns = Vec::new();
        let mut taken: BTreeMap<String, String> = BTreeMap::new();
        let built_ins = entity.built_ins();
        for built_in in &built_ins {
            let column = self.built_in_column(entity, &name, *built_in);
            taken.insert(
                column.name.clone(),
                format!("the built-in {}", built_in.field_name()),
            );
            columns.push(column);
        }
        taken.insert(EXTRA_COLUMN.to_owned(), "the _extra column".to_owned());
        let built_in_names: BTreeSet<&str> = built_ins
            .iter()
            .map(|built_in| built_in.field_name())
            .collect();
        let declared: Vec<&Field> = entity
            .fields
            .iter()
            .filter(|field| !built_in_names.contains(field.name.as_str()))
            .collect();
        // Names the mapping file gives claim first.
        let mut explicit: BTreeMap<&str, String> = BTreeMap::new();
        for field in &declared {
            let field_override = self.field_override(entity, &field.name);
            if field_override.skip {
                continue;
            }
            if let Some(column) = field_override.column {
                if let Some(first) = taken.get(&column) {
                    return Err(PlanError::NameClash {
                        name: column,
                        first: first.clone(),
                        second: format!("{}.{}", entity.name, field.name),
                    });
                }
                taken.insert(column.clone(), format!("field {}", field.name));
                explicit.insert(field.name.as_str(), column);
            }
        }
        // A field already spelled as its column (`first_name`, `xmin_2`) keeps the name before
        // a field that converts to it (`firstName`) or is renamed to it (`xmin`, a system
        // column): a name that must change anyway is no column's spelling.
        let mut derived: BTreeMap<&str, String> = BTreeMap::new();
        let spelled_as_column = |field: &Field| {
            snake_case(&field.name) == field.name
                && fit_identifier(&field.name) == field.name
                && !is_system_column(&field.name)
        };
        let exact_first = declared
            .iter()
            .filter(|field| spelled_as_column(field))
            .chain(declared.iter().filter(|field| !spelled_as_column(field)));
        for field in exact_first {
            let field_override = self.field_override(entity, &field.name);
            if field_override.skip || explicit.contains_key(field.name.as_str()) {
                continue;
            }
            let name = self.derive_column_name(entity, field, &mut taken);
            derived.insert(field.name.as_str(), name);
        }
        for field in &declared {
            let field_override = self.field_override(entity, &field.name);
            if field_override.skip {
                self.decision(
                    entity,
                    Some(&field.name),
                    "skipped by the mapping file: its values are kept in _extra",
                );
                continue;
            }
            let column_name = match explicit.get(field.name.as_str()) {
                Some(column) => {
                    self.decision(
                        entity,
                        Some(&field.name),
                        format!("column named {column:?} by the mapping file"),
                    );
                    column.clone()
                }
                None => derived
                    .get(field.name.as_str())
                    .cloned()
                    .unwrap_or_default(),
            };
            let column = self.field_column(entity, &name, field, column_name, &field_override);
            columns.push(column);
        }
        columns.push(Column {
            name: EXTRA_COLUMN.to_owned(),
            field: None,
            source: ColumnSource::Extra,
            pg_type: PgType::Jsonb,
            not_null: false,
            default: None,
            check: None,
        });
        Ok(Table {
            entity: entity.name.clone(),
            name,
            columns,
            primary_key: vec!["id".to_owned()],
            primary_key_name,
            junction: None,
        })
    }

    fn derive_column_name(
        &mut self,
        entity: &Entity,
        field: &Field,
        taken: &mut BTreeMap<String, String>,
    ) -> String {
        let derived = snake_case(&field.name);
        let fitted = fit_identifier(&derived);
        let mut reasons = Vec::new();
        if fitted != derived {
            reasons.push(format!("{derived:?} is longer than 63 bytes"));
        }
        let mut name = fitted.clone();
        if is_system_column(&name) {
            reasons.push(format!("{name:?} is a PostgreSQL system column"));
        } else if let Some(owner) = taken.get(&name) {
            reasons.push(format!("{name:?} is taken by {owner}"));
        }
        let mut counter = 2;
        while is_system_column(&name) || taken.contains_key(&name) {
            name = offbase_model::names::with_suffix(&derived, &format!("_{counter}"));
            counter += 1;
        }
        taken.insert(name.clone(), format!("field {}", field.name));
        if !reasons.is_empty() {
            self.decision(
                entity,
                Some(&field.name),
                format!("column renamed to {name:?}: {}", reasons.join("; ")),
            );
        }
        if is_reserved_word(&name) {
            self.decision(
                entity,
                Some(&field.name),
                format!(
                    "column {name:?} is an SQL reserved word: quote it when writing SQL by hand"
                ),
            );
        }
        name
    }
}
