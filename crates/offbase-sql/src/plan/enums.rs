//! A field's enum: a CHECK constraint, a PostgreSQL enum type (which changes the column's
//! type), or nothing, as the strategy says and the values allow.

use super::Planner;
use crate::values::fit_scalar;
use offbase_model::rules::{EnumStrategy, FieldOverride};
use offbase_model::{Check, Entity, EnumType, Field, PgType};
use serde_json::Value;

impl Planner<'_> {
    /// The enum constraint for a field: a CHECK, or a PostgreSQL enum type (which changes the
    /// column type), or nothing, as the strategy says and the values allow.
    pub(super) fn enum_check(
        &mut self,
        entity: &Entity,
        field: &Field,
        base_name: &str,
        pg_type: &mut PgType,
        field_override: &FieldOverride,
    ) -> Option<Check> {
        let elements = pg_type.element().is_some();
        if !elements
            && field.enum_values.is_none()
            && field
                .items
                .as_deref()
                .is_some_and(|items| items.enum_values.is_some())
        {
            self.decision(
                entity,
                Some(&field.name),
                format!("enum on the items not enforced: the column is {pg_type}"),
            );
            return None;
        }
        let values = if elements {
            field
                .items
                .as_ref()
                .and_then(|items| items.enum_values.as_ref())
                .or(field.enum_values.as_ref())
        } else {
            field.enum_values.as_ref()
        }?;
        let target = pg_type
            .element()
            .cloned()
            .unwrap_or_else(|| pg_type.clone());
        let field_name = field.name.as_str();
        if !(target.is_textual() || target.is_numeric()) {
            self.decision(
                entity,
                Some(field_name),
                format!("enum not enforced: the column is {pg_type}"),
            );
            return None;
        }
        let mut allowed: Vec<Value> = Vec::new();
        for value in values.iter().filter(|value| !value.is_null()) {
            match fit_scalar(value, &target) {
                Ok(fitted) => {
                    if !allowed.contains(&fitted) {
                        allowed.push(fitted);
                    }
                }
                Err(reason) => {
                    self.warning(
                        entity,
                        Some(field_name),
                        format!("enum not enforced: the enum value {reason} for a {target} column"),
                    );
                    return None;
                }
            }
        }
        if allowed.is_empty() {
            return None;
        }
        let strategy = field_override
            .enum_strategy
            .unwrap_or(self.rules.options.enum_strategy);
        if strategy != self.rules.options.enum_strategy && strategy != EnumStrategy::None {
            self.decision(
                entity,
                Some(field_name),
                format!("enum strategy {strategy:?} set by the mapping file"),
            );
        }
        match strategy {
            EnumStrategy::None => {
                self.decision(
                    entity,
                    Some(field_name),
                    "enum not enforced: strategy none in the mapping",
                );
                None
            }
            EnumStrategy::PgEnum if target.is_textual() && allowed.iter().all(fits_enum_label) => {
                let name = self.registry.claim_with_suffix(base_name, "_enum");
                let values = allowed
                    .iter()
                    .filter_map(|value| value.as_str().map(str::to_owned))
                    .collect();
                self.enum_types.push(EnumType {
                    name: name.clone(),
                    values,
                });
                let enum_type = PgType::Enum(name.clone());
                *pg_type = if elements {
                    PgType::Array(Box::new(enum_type))
                } else {
                    enum_type
                };
                self.decision(
                    entity,
                    Some(field_name),
                    format!("enum as the PostgreSQL enum type {name:?}"),
                );
                None
            }
            EnumStrategy::PgEnum | EnumStrategy::Check => {
                if strategy == EnumStrategy::PgEnum {
                    self.decision(
                        entity,
                        Some(field_name),
                        "a PostgreSQL enum type needs text labels of 1 to 63 bytes: a CHECK constraint instead",
                    );
                }
                Some(Check {
                    name: self.registry.claim_with_suffix(base_name, "_check"),
                    allowed,
                    elements,
                })
            }
        }
    }
}

/// PostgreSQL enum labels are 1 to 63 bytes of text.
fn fits_enum_label(value: &Value) -> bool {
    value.as_str().is_some_and(|label| {
        !label.is_empty() && label.len() <= offbase_model::names::MAX_IDENTIFIER_BYTES
    })
}
