//! The planner: schema IR + mapping rules → target model. Every decision that is not a plain
//! default leaves a note, so the mapping report can explain the plan field by field.

use crate::names::NameRegistry;
use crate::references::{EntityIndex, Shape, described_target, reference_stem};
use crate::values::fit_scalar;
use offbase_model::names::{fit_identifier, is_reserved_word, is_system_column, snake_case};

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
use offbase_model::rules::{EnumStrategy, FieldOverride, References, ScalarArrays};
use offbase_model::{
    App, ArrayReference, ArrayReferences, BuiltIn, Check, Column, ColumnSource, Confidence, Entity,
    EnumType, Field, FieldKind, ForeignKey, Index, Junction, MappingRules, Note, PgType, Table,
    TargetSchema,
};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

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

    /// Table names: the mapping file's names first (they must not clash), then derived ones.
    /// A name beginning with `pg_` gets [`PG_CATALOG_SUFFIX`]: PostgreSQL searches `pg_catalog`
    /// before any schema, so a table named `pg_class` or `pg_type` would be taken for the
    /// system catalog's by every unqualified statement.
    fn table_names(&mut self, entities: &[&Entity]) -> Result<BTreeMap<String, String>, PlanError> {
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

    fn table(&mut self, entity: &Entity, name: String) -> Result<Table, PlanError> {
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

    fn built_in_column(&mut self, entity: &Entity, table: &str, built_in: BuiltIn) -> Column {
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

    fn field_column(
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
        if let Some(rules) = &field.rls {
            self.decision(
                entity,
                Some(&field.name),
                format!("field-level access rules {rules} kept in the plan, not yet enforced in PostgreSQL"),
            );
        }
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

    /// The enum constraint for a field: a CHECK, or a PostgreSQL enum type (which changes the
    /// column type), or nothing, as the strategy says and the values allow.
    fn enum_check(
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

    /// Foreign keys, array references and junction tables, inferred or declared.
    #[allow(clippy::type_complexity)]
    fn references(
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

/// PostgreSQL enum labels are 1 to 63 bytes of text.
fn fits_enum_label(value: &Value) -> bool {
    value.as_str().is_some_and(|label| {
        !label.is_empty() && label.len() <= offbase_model::names::MAX_IDENTIFIER_BYTES
    })
}

fn confidence_word(confidence: Confidence) -> &'static str {
    match confidence {
        Confidence::Declared => "declared",
        Confidence::High => "high",
        Confidence::Medium => "medium",
    }
}

/// How a field was declared, for messages: `string (date-time)`, `integer`.
fn describe_kind(field: &Field) -> String {
    match &field.format {
        Some(format) => format!("{} ({format})", field.kind.key()),
        None => field.kind.key().to_owned(),
    }
}
