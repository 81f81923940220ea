//! References between entities: foreign keys (declared in the mapping file or inferred from
//! a field's name or description, with a confidence), arrays of references, and the junction
//! tables that expand them.

use super::{PlanError, Planner};
use crate::references::{EntityIndex, Shape, described_target, reference_stem};
use offbase_model::rules::References;
use offbase_model::{
    ArrayReference, ArrayReferences, Column, ColumnSource, Confidence, Entity, ForeignKey,
    Junction, PgType, Table,
};
use std::collections::BTreeMap;

impl Planner<'_> {
    /// Foreign keys, array references and junction tables, inferred or declared.
    #[allow(clippy::type_complexity)]
    pub(super) fn references(
        &mut self,
        entities: &[&Entity],
        tables: &[Table],
        table_names: &BTreeMap<String, String>,
    ) -> Result<(Vec<ForeignKey>, Vec<ArrayReference>, Vec<Table>), PlanError> {
        let index = EntityIndex::new(entities.iter().map(|entity| entity.name.as_str()));
        let skipped_index = EntityIndex::new(
            self.rules
                .entities
                .iter()
                .filter(|(_, entity)| entity.skip)
                .map(|(name, _)| name.as_str()),
        );
        let mut foreign_keys = Vec::new();
        let mut array_references = Vec::new();
        let mut junctions = Vec::new();
        for (entity, table) in entities.iter().zip(tables) {
            for column in &table.columns {
                if column.source != ColumnSource::Field {
                    continue;
                }
                let Some(field_name) = column.field.as_deref() else {
                    continue;
                };
                let field_override = self.field_override(entity, field_name);
                let stem = reference_stem(field_name);
                let (target, confidence, reason) = match &field_override.references {
                    Some(References::Enabled(false)) => {
                        if stem.and_then(|(stem, _)| index.resolve(stem)).is_some() {
                            self.decision(
                                entity,
                                Some(field_name),
                                "foreign key suppressed by the mapping file",
                            );
                        }
                        continue;
                    }
                    Some(References::Entity(target)) => {
                        if !table_names.contains_key(target) {
                            return Err(PlanError::UnknownReference {
                                entity: entity.name.clone(),
                                field: field_name.to_owned(),
                                target: target.clone(),
                            });
                        }
                        (
                            target.clone(),
                            Confidence::Declared,
                            "declared in the mapping file".to_owned(),
                        )
                    }
                    forced => {
                        let forced = forced == &Some(References::Enabled(true));
                        if !forced && !self.rules.options.infer_foreign_keys {
                            continue;
                        }
                        let inferred =
                            self.infer_target(entity, field_name, &index, &skipped_index, forced);
                        let Some(inferred) = inferred else { continue };
                        inferred
                    }
                };
                let target_table = table_names.get(&target).cloned().unwrap_or_default();
                let many =
                    matches!(stem, Some((_, Shape::Many))) || column.pg_type.element().is_some();
                match (&column.pg_type, many) {
                    (pg_type, false)
                        if pg_type.is_textual() && !matches!(pg_type, PgType::Enum(_)) =>
                    {
                        let name = self
                            .registry
                            .claim_with_suffix(&format!("{}_{}", table.name, column.name), "_fkey");
                        self.decision(
                            entity,
                            Some(field_name),
                            format!(
                                "foreign key to {target_table}.id ({} confidence: {reason}); created NOT VALID after the load",
                                confidence_word(confidence)
                            ),
                        );
                        foreign_keys.push(ForeignKey {
                            name,
                            table: table.name.clone(),
                            column: column.name.clone(),
                            entity: entity.name.clone(),
                            field: field_name.to_owned(),
                            target_entity: target.clone(),
                            target_table,
                            target_column: "id".to_owned(),
                            confidence,
                            reason,
                            on_delete_cascade: false,
                        });
                    }
                    (PgType::Array(element), _) if element.is_textual() => {
                        let strategy = field_override
                            .array_references
                            .unwrap_or(self.rules.options.array_references);
                        let junction_table = (strategy == ArrayReferences::Junction).then(|| {
                            let (junction, keys) =
                                self.junction(entity, table, column, &target, &target_table);
                            foreign_keys.extend(keys);
                            let name = junction.name.clone();
                            junctions.push(junction);
                            name
                        });
                        self.decision(
                            entity,
                            Some(field_name),
                            match &junction_table {
                                Some(junction) => format!(
                                    "an array of references to {target_table}.id ({reason}): expanded into the junction table {junction:?}"
                                ),
                                None => format!(
                                    "an array of references to {target_table}.id ({reason}): a plain foreign key cannot enforce it; kept as {}, set array_references = \"junction\" for a junction table",
                                    column.pg_type
                                ),
                            },
                        );
                        array_references.push(ArrayReference {
                            entity: entity.name.clone(),
                            field: field_name.to_owned(),
                            table: table.name.clone(),
                            column: column.name.clone(),
                            target_entity: target.clone(),
                            target_table,
                            junction_table,
                        });
                    }
                    (pg_type, _) => {
                        let message = format!(
                            "named like a reference to {target} but stored as {pg_type}: no foreign key"
                        );
                        if confidence == Confidence::Declared {
                            self.warning(entity, Some(field_name), message);
                        } else {
                            self.decision(entity, Some(field_name), message);
                        }
                    }
                }
            }
        }
        Ok((foreign_keys, array_references, junctions))
    }

    /// The entity a field refers to by its name or description, with the confidence and the
    /// reason; notes near misses. `forced` is `references = true` in the mapping file.
    fn infer_target(
        &mut self,
        entity: &Entity,
        field_name: &str,
        index: &EntityIndex,
        skipped_index: &EntityIndex,
        forced: bool,
    ) -> Option<(String, Confidence, String)> {
        let stem = reference_stem(field_name);
        if let Some((target, confidence)) = stem.and_then(|(stem, _)| index.resolve(stem)) {
            let reason = match confidence {
                Confidence::High => format!("the name {field_name:?} names entity {target}"),
                _ => format!(
                    "the name {field_name:?} names entity {target} (plural or case variant)"
                ),
            };
            return Some((target.to_owned(), confidence, reason));
        }
        // A description only counts for names shaped like one reference (`parent_task_id`),
        // not for any text that mentions an id.
        if let Some((_, Shape::One)) = stem
            && let Some(description) = entity
                .field(field_name)
                .and_then(|f| f.description.as_deref())
            && let Some(target) = described_target(description, index.entities())
        {
            let reason = format!("its description names {target}.id");
            return Some((target.to_owned(), Confidence::Medium, reason));
        }
        let stem = stem.map(|(stem, _)| stem);
        if forced {
            self.warning(
                entity,
                Some(field_name),
                "references = true, but neither the name nor the description names an entity of the plan: give the entity, references = \"Entity\"",
            );
        } else if let Some((skipped, _)) = stem.and_then(|stem| skipped_index.resolve(stem)) {
            self.decision(
                entity,
                Some(field_name),
                format!("names entity {skipped}, which the mapping skips: no foreign key"),
            );
        } else if let Some(target) = stem.and_then(|stem| index.resolve_suffix(stem)) {
            self.decision(
                entity,
                Some(field_name),
                format!(
                    "may reference {target}.id (the name ends with the entity's); not enforced: declare it with references = \"{target}\" in a mapping file"
                ),
            );
        }
        None
    }

    fn junction(
        &mut self,
        entity: &Entity,
        table: &Table,
        column: &Column,
        target: &str,
        target_table: &str,
    ) -> (Table, Vec<ForeignKey>) {
        let name = self
            .registry
            .claim(&format!("{}_{}", table.name, column.name));
        let primary_key_name = self.registry.claim_with_suffix(&name, "_pkey");
        let field_name = column.field.clone().unwrap_or_default();
        let junction_column = |name: &str, pg_type: PgType| Column {
            name: name.to_owned(),
            field: None,
            source: ColumnSource::Junction,
            pg_type,
            not_null: true,
            default: None,
            check: None,
        };
        let junction = Table {
            entity: entity.name.clone(),
            name: name.clone(),
            columns: vec![
                junction_column("source_id", PgType::Text),
                junction_column("position", PgType::Integer),
                junction_column("target_id", PgType::Text),
            ],
            primary_key: vec!["source_id".to_owned(), "position".to_owned()],
            primary_key_name,
            junction: Some(Junction {
                field: field_name.clone(),
                target_entity: target.to_owned(),
            }),
        };
        let key = |planner: &mut Self,
                   column: &str,
                   target_entity: &str,
                   target_table: &str,
                   cascade: bool| ForeignKey {
            name: planner
                .registry
                .claim_with_suffix(&format!("{name}_{column}"), "_fkey"),
            table: name.clone(),
            column: column.to_owned(),
            entity: entity.name.clone(),
            field: field_name.clone(),
            target_entity: target_entity.to_owned(),
            target_table: target_table.to_owned(),
            target_column: "id".to_owned(),
            confidence: Confidence::High,
            reason: format!("junction table of {}.{}", entity.name, field_name),
            on_delete_cascade: cascade,
        };
        let keys = vec![
            key(self, "source_id", &entity.name, &table.name, true),
            key(self, "target_id", target, target_table, false),
        ];
        (junction, keys)
    }
}

fn confidence_word(confidence: Confidence) -> &'static str {
    match confidence {
        Confidence::Declared => "declared",
        Confidence::High => "high",
        Confidence::Medium => "medium",
    }
}
