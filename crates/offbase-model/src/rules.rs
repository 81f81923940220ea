//! Mapping rules: the defaults (`mappings/base44.toml`, built in) merged with a per-app
//! mapping file. Parsing is pure: callers hand over the text and a name for messages.

use crate::pg_type::PgType;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The built-in defaults, the source of truth for the default type mapping.
pub const DEFAULT_RULES: &str = include_str!("../../../mappings/base44.toml");

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RulesError {
    #[error("{origin}: {message}")]
    Parse { origin: String, message: String },
    #[error(
        "{origin}: the [types] key {key:?} is not a Base44 type (use string, integer, number, boolean, array, object, binary, any, optionally followed by :format)"
    )]
    UnknownTypeKey { origin: String, key: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EnumStrategy {
    Check,
    PgEnum,
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScalarArrays {
    Array,
    Jsonb,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ArrayReferences {
    Report,
    Junction,
}

/// How an access-rule key without `data.` that names no built-in (`{"sender_email": ...}`) is
/// read. Records keep the schema's fields under `data`, so on the platform such a key most
/// likely names nothing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RlsBareKeys {
    /// As written: a top-level field records do not have (the rule never matches on it).
    #[default]
    Literal,
    /// As `data.<field>`: the schema's field of that name.
    Data,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Options {
    pub enum_strategy: EnumStrategy,
    pub scalar_arrays: ScalarArrays,
    pub array_references: ArrayReferences,
    pub infer_foreign_keys: bool,
    /// How access rules read bare keys (not in `mappings/base44.toml`: its default is
    /// [`RlsBareKeys::Literal`]).
    #[serde(default)]
    pub rls_bare_keys: RlsBareKeys,
}

/// A declared or suppressed foreign key in a mapping file: `references = "Project"` or
/// `references = false`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum References {
    Entity(String),
    Enabled(bool),
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldOverride {
    /// The column name to use instead of the derived one.
    pub column: Option<String>,
    /// The PostgreSQL type to use instead of the mapped one.
    #[serde(rename = "type")]
    pub pg_type: Option<PgType>,
    /// Leave the field out of the table; its values go to `_extra`.
    #[serde(default)]
    pub skip: bool,
    /// The enum strategy for this field.
    #[serde(rename = "enum")]
    pub enum_strategy: Option<EnumStrategy>,
    /// Declare (`"Entity"`) or suppress (`false`) a foreign key.
    pub references: Option<References>,
    /// The array-of-references strategy for this field.
    pub array_references: Option<ArrayReferences>,
    /// Keep `required` as `NOT NULL` (`true`) or drop it (`false`).
    pub not_null: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntityOverride {
    /// The table name to use instead of the derived one.
    pub table: Option<String>,
    /// Leave the entity out of the plan altogether.
    #[serde(default)]
    pub skip: bool,
    #[serde(default)]
    pub fields: BTreeMap<String, FieldOverride>,
}

/// The rules the planner follows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MappingRules {
    pub options: Options,
    pub types: BTreeMap<String, PgType>,
    pub entities: BTreeMap<String, EntityOverride>,
    /// Where each layer came from, for the report (`built-in defaults`, then the file name).
    pub origins: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct OptionsFile {
    enum_strategy: Option<EnumStrategy>,
    scalar_arrays: Option<ScalarArrays>,
    array_references: Option<ArrayReferences>,
    infer_foreign_keys: Option<bool>,
    rls_bare_keys: Option<RlsBareKeys>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesFile {
    #[serde(default)]
    options: OptionsFile,
    #[serde(default)]
    types: BTreeMap<String, PgType>,
    #[serde(default)]
    entities: BTreeMap<String, EntityOverride>,
}

const TYPE_KEYS: [&str; 8] = [
    "string", "integer", "number", "boolean", "array", "object", "binary", "any",
];

impl MappingRules {
    /// The built-in defaults.
    pub fn defaults() -> Result<Self, RulesError> {
        let mut rules = MappingRules {
            options: Options {
                enum_strategy: EnumStrategy::Check,
                scalar_arrays: ScalarArrays::Array,
                array_references: ArrayReferences::Report,
                infer_foreign_keys: true,
                rls_bare_keys: RlsBareKeys::Literal,
            },
            types: BTreeMap::new(),
            entities: BTreeMap::new(),
            origins: Vec::new(),
        };
        rules.merge(DEFAULT_RULES, "built-in defaults (mappings/base44.toml)")?;
        Ok(rules)
    }

    /// Layers a mapping file over these rules: its keys win.
    pub fn merge(&mut self, text: &str, origin: &str) -> Result<(), RulesError> {
        let file: RulesFile = toml::from_str(text).map_err(|error| RulesError::Parse {
            origin: origin.to_owned(),
            message: error.to_string().trim_end().to_owned(),
        })?;
        for key in file.types.keys() {
            let kind = key.split(':').next().unwrap_or_default();
            if !TYPE_KEYS.contains(&kind) {
                return Err(RulesError::UnknownTypeKey {
                    origin: origin.to_owned(),
                    key: key.clone(),
                });
            }
        }
        let options = file.options;
        if let Some(value) = options.enum_strategy {
            self.options.enum_strategy = value;
        }
        if let Some(value) = options.scalar_arrays {
            self.options.scalar_arrays = value;
        }
        if let Some(value) = options.array_references {
            self.options.array_references = value;
        }
        if let Some(value) = options.infer_foreign_keys {
            self.options.infer_foreign_keys = value;
        }
        if let Some(value) = options.rls_bare_keys {
            self.options.rls_bare_keys = value;
        }
        self.types.extend(file.types);
        for (entity, incoming) in file.entities {
            let existing = self.entities.entry(entity).or_default();
            if incoming.table.is_some() {
                existing.table = incoming.table;
            }
            existing.skip |= incoming.skip;
            existing.fields.extend(incoming.fields);
        }
        self.origins.push(origin.to_owned());
        Ok(())
    }

    /// The PostgreSQL type for a Base44 type and format: `type:format` first, then `type`.
    pub fn type_for(&self, kind: &str, format: Option<&str>) -> Option<&PgType> {
        format
            .and_then(|format| self.types.get(&format!("{kind}:{format}")))
            .or_else(|| self.types.get(kind))
    }

    pub fn entity(&self, name: &str) -> Option<&EntityOverride> {
        self.entities.get(name)
    }

    pub fn field(&self, entity: &str, field: &str) -> Option<&FieldOverride> {
        self.entities.get(entity)?.fields.get(field)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_defaults_parse_and_follow_the_design() -> Result<(), RulesError> {
        let rules = MappingRules::defaults()?;
        assert_eq!(rules.type_for("string", None), Some(&PgType::Text));
        assert_eq!(
            rules.type_for("string", Some("date-time")),
            Some(&PgType::Timestamptz)
        );
        assert_eq!(
            rules.type_for("string", Some("hostname")),
            Some(&PgType::Text)
        );
        assert_eq!(rules.type_for("integer", None), Some(&PgType::Bigint));
        assert_eq!(
            rules.type_for("number", None),
            Some(&PgType::DoublePrecision)
        );
        assert_eq!(rules.type_for("object", None), Some(&PgType::Jsonb));
        assert_eq!(rules.options.enum_strategy, EnumStrategy::Check);
        Ok(())
    }

    #[test]
    fn an_app_file_overrides_types_and_entities() -> Result<(), RulesError> {
        let mut rules = MappingRules::defaults()?;
        rules.merge(
            r#"
            [options]
            enum_strategy = "pg_enum"
            [types]
            number = "numeric"
            [entities.Order]
            table = "orders"
            [entities.Order.fields.total]
            type = "numeric(12,2)"
            references = false
            [entities.Order.fields.buyer]
            references = "User"
            "#,
            "app.toml",
        )?;
        assert_eq!(rules.options.enum_strategy, EnumStrategy::PgEnum);
        assert_eq!(rules.options.rls_bare_keys, RlsBareKeys::Literal);
        rules.merge("[options]\nrls_bare_keys = \"data\"\n", "bare.toml")?;
        assert_eq!(rules.options.rls_bare_keys, RlsBareKeys::Data);
        assert_eq!(rules.type_for("number", None), Some(&PgType::Numeric(None)));
        let total = rules.field("Order", "total").cloned().unwrap_or_default();
        assert_eq!(total.pg_type, Some(PgType::Numeric(Some((12, 2)))));
        assert_eq!(total.references, Some(References::Enabled(false)));
        let buyer = rules.field("Order", "buyer").cloned().unwrap_or_default();
        assert_eq!(buyer.references, Some(References::Entity("User".into())));
        assert_eq!(
            rules.entity("Order").and_then(|e| e.table.clone()),
            Some("orders".into())
        );
        Ok(())
    }

    #[test]
    fn a_typo_in_a_mapping_file_names_the_file_and_the_key() {
        let mut rules = MappingRules::defaults().unwrap_or_else(|_| unreachable!());
        let error = rules
            .merge(
                "[entities.Order.fields.total]\ntyp = \"numeric\"\n",
                "app.toml",
            )
            .err()
            .map(|error| error.to_string())
            .unwrap_or_default();
        assert!(error.starts_with("app.toml:"), "{error}");
        assert!(error.contains("typ"), "{error}");
        let error = rules
            .merge("[types]\ntext = \"text\"\n", "app.toml")
            .err()
            .map(|error| error.to_string())
            .unwrap_or_default();
        assert!(error.contains("\"text\""), "{error}");
        let error = rules
            .merge("[types]\nnumber = \"money\"\n", "app.toml")
            .err()
            .map(|error| error.to_string())
            .unwrap_or_default();
        assert!(error.contains("money"), "{error}");
    }
}
