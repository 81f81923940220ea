//! One column of a field or a built-in: its type by the rules (or the mapping file), NOT
//! NULL, and a DEFAULT that fits it; a re-declared built-in merged into the built-in column.

use super::Planner;
use crate::values::fit_scalar;
use offbase_model::rules::{FieldOverride, ScalarArrays};
use offbase_model::{BuiltIn, Check, Column, ColumnSource, Entity, Field, FieldKind, PgType};
use serde_json::Value;

/// The PostgreSQL type of a built-in column.
fn built_in_type(built_in: BuiltIn) -> PgType {
    match built_in {
        BuiltIn::CreatedDate | BuiltIn::UpdatedDate => PgType::Timestamptz,
        BuiltIn::IsSample | BuiltIn::Disabled | BuiltIn::IsVerified | BuiltIn::IsService => {
            PgType::Boolean
        }
        _ => PgType::Text,
    }
}

impl Planner<'_> {
    pub(super) fn built_in_column(
        &mut self,
        entity: &Entity,
        table: &str,
        built_in: BuiltIn,
    ) -> Column {
        let pg_type = built_in_type(built_in);
        let mut column = Column {
            name: built_in.field_name().to_owned(),
            field: Some(built_in.field_name().to_owned()),
            source: ColumnSource::BuiltIn(built_in),
            pg_type: pg_type.clone(),
            not_null: built_in == BuiltIn::Id,
            default: None,
            check: None,
        };
        let Some(declared) = entity.field(built_in.field_name()) else {
            return column;
        };
        let field_name = declared.name.as_str();
        let field_override = self.field_override(entity, field_name);
        let declared_type = self.natural_type(entity, declared);
        if declared_type != pg_type {
            self.warning(
                entity,
                Some(field_name),
                format!(
                    "re-declares the built-in {field_name} as {}; kept as one {} column (values that do not fit are rejected at load)",
                    describe_kind(declared),
                    pg_type
                ),
            );
            return column;
        }
        self.decision(
            entity,
            Some(field_name),
            format!("re-declares the built-in {field_name}: merged into the built-in column"),
        );
        if built_in != BuiltIn::Id {
            column.not_null = self.not_null(entity, declared, &field_override);
            let base_name = format!("{table}_{}", column.name);
            column.check = self.enum_check(
                entity,
                declared,
                &base_name,
                &mut column.pg_type,
                &field_override,
            );
            column.default =
                self.default_value(entity, declared, &column.pg_type, column.check.as_ref());
        }
        column
    }

    pub(super) fn field_column(
        &mut self,
        entity: &Entity,
        table: &str,
        field: &Field,
        column_name: String,
        field_override: &FieldOverride,
    ) -> Column {
        let natural = self.natural_type(entity, field);
        let mut pg_type = match &field_override.pg_type {
            Some(pg_type) => {
                if *pg_type != natural {
                    self.decision(
                        entity,
                        Some(&field.name),
                        format!("type {pg_type} set by the mapping file (default {natural})"),
                    );
                }
                pg_type.clone()
            }
            None => natural,
        };
        let not_null = self.not_null(entity, field, field_override);
        let base_name = format!("{table}_{column_name}");
        let check = self.enum_check(entity, field, &base_name, &mut pg_type, field_override);
        let default = self.default_value(entity, field, &pg_type, check.as_ref());
        Column {
            name: column_name,
            field: Some(field.name.clone()),
            source: ColumnSource::Field,
            pg_type,
            not_null,
            default,
            check,
        }
    }

    fn not_null(&mut self, entity: &Entity, field: &Field, field_override: &FieldOverride) -> bool {
        match field_override.not_null {
            Some(not_null) if not_null != field.required => {
                self.decision(
                    entity,
                    Some(&field.name),
                    if not_null {
                        "NOT NULL set by the mapping file (the schema does not require it)"
                    } else {
                        "required, but NOT NULL dropped by the mapping file"
                    },
                );
                not_null
            }
            _ => field.required,
        }
    }

    /// The type the rules give a field before any per-field override.
    fn natural_type(&mut self, entity: &Entity, field: &Field) -> PgType {
        let json = |planner: &Self, key: &str| {
            planner
                .rules
                .type_for(key, None)
                .cloned()
                .unwrap_or(PgType::Jsonb)
        };
        match &field.kind {
            FieldKind::String
            | FieldKind::Integer
            | FieldKind::Number
            | FieldKind::Boolean
            | FieldKind::Binary => self
                .rules
                .type_for(field.kind.key(), field.format.as_deref())
                .cloned()
                .unwrap_or(PgType::Text),
            FieldKind::Object => json(self, "object"),
            FieldKind::Any => json(self, "any"),
            FieldKind::Union(types) => {
                let pg_type = json(self, "any");
                self.decision(
                    entity,
                    Some(&field.name),
                    format!("a union of {}: stored as {pg_type}", types.join(", ")),
                );
                pg_type
            }
            FieldKind::Unknown(name) => {
                let pg_type = json(self, "any");
                self.warning(
                    entity,
                    Some(&field.name),
                    format!("unknown type {name:?}: stored as {pg_type}, values kept as they are"),
                );
                pg_type
            }
            FieldKind::Array => {
                let scalar_item = field.items.as_deref().filter(|items| {
                    matches!(
                        items.kind,
                        FieldKind::String
                            | FieldKind::Integer
                            | FieldKind::Number
                            | FieldKind::Boolean
                    )
                });
                match scalar_item {
                    Some(items) if self.rules.options.scalar_arrays == ScalarArrays::Array => {
                        match self
                            .rules
                            .type_for(items.kind.key(), items.format.as_deref())
                        {
                            Some(element) if !element.is_json() && element.element().is_none() => {
                                PgType::Array(Box::new(element.clone()))
                            }
                            _ => json(self, "array"),
                        }
                    }
                    _ => json(self, "array"),
                }
            }
        }
    }

    /// A `DEFAULT` that fits the column, or none (with a warning saying why).
    fn default_value(
        &mut self,
        entity: &Entity,
        field: &Field,
        pg_type: &PgType,
        check: Option<&Check>,
    ) -> Option<Value> {
        let default = field.default.as_ref().filter(|value| !value.is_null())?;
        let fitted = match pg_type {
            PgType::Jsonb | PgType::Json => Ok(default.clone()),
            PgType::Array(element) => match default {
                Value::Array(items) => items
                    .iter()
                    .map(|item| fit_scalar(item, element))
                    .collect::<Result<Vec<_>, _>>()
                    .map(Value::Array),
                other => Err(format!("{other} is not an array")),
            },
            scalar => fit_scalar(default, scalar),
        };
        match fitted {
            Ok(value) => {
                // The values the column accepts: its CHECK's, or its enum type's labels.
                let allowed: Option<Vec<Value>> = match check {
                    Some(check) => Some(check.allowed.clone()),
                    None => match pg_type.element().unwrap_or(pg_type) {
                        PgType::Enum(name) => self
                            .enum_types
                            .iter()
                            .find(|enum_type| &enum_type.name == name)
                            .map(|enum_type| {
                                enum_type
                                    .values
                                    .iter()
                                    .cloned()
                                    .map(Value::String)
                                    .collect()
                            }),
                        _ => None,
                    },
                };
                let outside = allowed.is_some_and(|allowed| match &value {
                    Value::Array(items) => items.iter().any(|item| !allowed.contains(item)),
                    scalar => !allowed.contains(scalar),
                });
                if outside {
                    self.warning(
                        entity,
                        Some(&field.name),
                        format!("default {value} is not one of the enum values: no DEFAULT"),
                    );
                    return None;
                }
                Some(value)
            }
            Err(reason) => {
                self.warning(
                    entity,
                    Some(&field.name),
                    format!("default ignored: {reason} for a {pg_type} column"),
                );
                None
            }
        }
    }
}

/// How a field was declared, for messages: `string (date-time)`, `integer`.
fn describe_kind(field: &Field) -> String {
    match &field.format {
        Some(format) => format!("{} ({format})", field.kind.key()),
        None => field.kind.key().to_owned(),
    }
}
