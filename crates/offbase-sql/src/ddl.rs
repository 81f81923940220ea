//! Renders a target model as PostgreSQL DDL with sea-query: enum types and tables first, then
//! the post-load section (indexes and `NOT VALID` foreign keys), which a loader runs after the
//! data so that COPY is not slowed by index upkeep or stopped by orphans, then the access-rules
//! section (row level security, written by `crate::rls`), which a loader runs last.

use crate::pretty::{pretty_create_table, quote_identifier};
use offbase_model::{Check, Column, ForeignKey, Index, PgType, Table, TargetSchema};
use sea_query::extension::postgres::Type;
use sea_query::{
    Alias, ColumnDef, ColumnType, Expr, ExprTrait, ForeignKeyAction, PostgresQueryBuilder,
    QueryBuilder, StringLen,
};
use serde::Serialize;
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Section {
    /// Enum types and tables: run before the load.
    Tables,
    /// Indexes and foreign keys: run after the load.
    PostLoad,
    /// Roles, functions, privileges and policies of the access rules: run after post-load.
    AccessRules,
}

impl Section {
    pub fn marker(self) -> &'static str {
        match self {
            Section::Tables => "-- offbase:section tables",
            Section::PostLoad => "-- offbase:section post-load",
            Section::AccessRules => "-- offbase:section access-rules",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Statement {
    pub section: Section,
    /// One SQL statement, without the trailing semicolon.
    pub sql: String,
}

/// The DDL of a plan, statement by statement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlanSql {
    pub statements: Vec<Statement>,
    /// The dialect of the access-rules section (what its header comment says).
    pub access_rules_mode: crate::rls::RlsMode,
}

impl PlanSql {
    /// Appends the access-rules section (after everything else, as it runs last).
    pub fn add_access_rules(&mut self, access: &crate::rls::AccessRules) {
        self.access_rules_mode = access.mode;
        self.statements
            .extend(access.statements.iter().map(|sql| Statement {
                section: Section::AccessRules,
                sql: sql.clone(),
            }));
    }

    pub fn section(&self, section: Section) -> impl Iterator<Item = &Statement> {
        self.statements
            .iter()
            .filter(move |statement| statement.section == section)
    }

    /// The `plan.sql` file: a header, then each section with its marker.
    pub fn to_file(&self, schema: &TargetSchema) -> String {
        let columns: usize = schema.tables.iter().map(|table| table.columns.len()).sum();
        let mut out = String::new();
        out.push_str(&format!(
            "-- offbase plan for the Base44 app {}\n",
            comment_safe(&schema.app)
        ));
        out.push_str("-- Review it, then apply it with `offbase plan SOURCE --apply` or `psql -v ON_ERROR_STOP=1 -1 -f plan.sql`.\n");
        out.push_str("-- Names are unqualified: set search_path to the target schema first.\n");
        out.push_str(&format!(
            "-- {} tables, {} columns, {} foreign keys, {} indexes, {} enum types.\n",
            schema.tables.len(),
            columns,
            schema.foreign_keys.len(),
            schema.indexes.len(),
            schema.enum_types.len()
        ));
        for section in [Section::Tables, Section::PostLoad, Section::AccessRules] {
            // An app without access rules (or planned with --rls off) has no such section.
            if section == Section::AccessRules && self.section(section).next().is_none() {
                continue;
            }
            out.push('\n');
            out.push_str(section.marker());
            out.push('\n');
            if section == Section::PostLoad {
                out.push_str("-- Run after the data is loaded. Foreign keys start NOT VALID; VALIDATE each one once its orphans are resolved.\n");
            }
            if section == Section::AccessRules {
                out.push_str(match self.access_rules_mode {
                    crate::rls::RlsMode::Supabase => "-- Run last, on a Supabase database: Supabase's roles (anon, authenticated, service_role), the functions that read the request's user from its JWT claims (auth.jwt()), then privileges and one policy per operation. It can run again. See mapping-report.md.\n",
                    crate::rls::RlsMode::On | crate::rls::RlsMode::Off => "-- Run last: roles, the functions that read the request's user from SET LOCAL app.user_id, app.user_email, app.user_role, then privileges and one policy per operation. It can run again. See mapping-report.md.\n",
                });
            }
            for statement in self.section(section) {
                out.push('\n');
                out.push_str(&statement.sql);
                out.push_str(";\n");
            }
        }
        out
    }
}

/// Text fit for an SQL `--` comment: control characters (a newline would end it) as spaces.
pub fn comment_safe(text: &str) -> String {
    text.chars()
        .map(|character| {
            if character.is_control() {
                ' '
            } else {
                character
            }
        })
        .collect()
}

/// Renders every statement of the plan.
pub fn render(schema: &TargetSchema) -> PlanSql {
    let mut statements = Vec::new();
    for enum_type in &schema.enum_types {
        let sql = Type::create()
            .as_enum(Alias::new(enum_type.name.clone()))
            .values(
                enum_type
                    .values
                    .iter()
                    .map(|value| Alias::new(value.clone())),
            )
            .to_string(PostgresQueryBuilder);
        statements.push(Statement {
            section: Section::Tables,
            sql,
        });
    }
    for table in &schema.tables {
        statements.push(Statement {
            section: Section::Tables,
            sql: create_table(table),
        });
    }
    for index in &schema.indexes {
        statements.push(Statement {
            section: Section::PostLoad,
            sql: create_index(index),
        });
    }
    for key in &schema.foreign_keys {
        statements.push(Statement {
            section: Section::PostLoad,
            sql: add_foreign_key(key),
        });
    }
    PlanSql {
        statements,
        access_rules_mode: crate::rls::RlsMode::default(),
    }
}

fn create_table(table: &Table) -> String {
    let mut create = sea_query::Table::create();
    create.table(Alias::new(table.name.clone()));
    for column in &table.columns {
        create.col(column_def(column));
    }
    let mut primary_key = sea_query::Index::create();
    primary_key.name(table.primary_key_name.clone());
    for column in &table.primary_key {
        primary_key.col(Alias::new(column.clone()));
    }
    create.primary_key(&mut primary_key);
    pretty_create_table(&create.to_string(PostgresQueryBuilder))
}

fn column_def(column: &Column) -> ColumnDef {
    let mut definition = ColumnDef::new_with_type(
        Alias::new(column.name.clone()),
        column_type(&column.pg_type),
    );
    if column.not_null {
        definition.not_null();
    }
    if let Some(default) = &column.default {
        definition.default(literal(default, &column.pg_type));
    }
    if let Some(check) = &column.check {
        definition.check((
            Alias::new(check.name.clone()),
            check_expression(column, check),
        ));
    }
    definition
}

fn column_type(pg_type: &PgType) -> ColumnType {
    match pg_type {
        PgType::Text => ColumnType::Text,
        PgType::Varchar(None) => ColumnType::String(StringLen::None),
        PgType::Varchar(Some(length)) => ColumnType::String(StringLen::N(*length)),
        PgType::Uuid => ColumnType::Uuid,
        PgType::Boolean => ColumnType::Boolean,
        PgType::Smallint => ColumnType::SmallInteger,
        PgType::Integer => ColumnType::Integer,
        PgType::Bigint => ColumnType::BigInteger,
        PgType::Real => ColumnType::Float,
        PgType::DoublePrecision => ColumnType::Double,
        PgType::Numeric(precision) => ColumnType::Decimal(*precision),
        PgType::Timestamptz => ColumnType::TimestampWithTimeZone,
        PgType::Timestamp => ColumnType::DateTime,
        PgType::Date => ColumnType::Date,
        PgType::Time => ColumnType::Time,
        PgType::Jsonb => ColumnType::JsonBinary,
        PgType::Json => ColumnType::Json,
        PgType::Array(element) => ColumnType::Array(column_type(element).into()),
        // sea-query writes custom type names verbatim, so the name is quoted here.
        PgType::Enum(name) => ColumnType::Custom(Alias::new(quote_identifier(name)).into()),
    }
}

/// The SQL spelling of a type, for casts.
fn cast_type(pg_type: &PgType) -> String {
    match pg_type {
        PgType::Enum(name) => quote_identifier(name),
        PgType::Array(element) => format!("{}[]", cast_type(element)),
        other => other.sql(),
    }
}

/// A scalar JSON value as an SQL literal expression (strings escaped by sea-query).
fn scalar_literal(value: &Value) -> Expr {
    match value {
        Value::String(text) => Expr::val(text.clone()),
        Value::Bool(flag) => Expr::val(*flag),
        Value::Number(number) => match number.as_i64() {
            Some(integer) => Expr::val(integer),
            // serde_json prints finite numbers in a form SQL reads as a numeric literal.
            None => Expr::cust(number.to_string()),
        },
        Value::Null => Expr::cust("NULL"),
        other => Expr::val(other.to_string()),
    }
}

/// A value (already fitted to the column type by the planner) as a `DEFAULT` expression.
fn literal(value: &Value, pg_type: &PgType) -> Expr {
    match (pg_type, value) {
        (PgType::Jsonb | PgType::Json, value) => Expr::cust_with_exprs(
            format!("$1::{}", pg_type.sql()),
            [Expr::val(value.to_string())],
        ),
        (PgType::Array(_), Value::Array(items)) => array_literal(items, pg_type),
        (PgType::Enum(_), value) => Expr::cust_with_exprs(
            format!("$1::{}", cast_type(pg_type)),
            [scalar_literal(value)],
        ),
        (_, value) => scalar_literal(value),
    }
}

/// `ARRAY[...]::type[]`. sea-query's custom-expression tokenizer reads `[...]` as a quoted
/// name, so each element is written as a literal by sea-query's own escaping and the array is
/// assembled around them.
fn array_literal(items: &[Value], pg_type: &PgType) -> Expr {
    if items.is_empty() {
        return Expr::cust(format!("'{{}}'::{}", cast_type(pg_type)));
    }
    let elements: Vec<String> = items.iter().map(scalar_sql).collect();
    Expr::cust(format!(
        "ARRAY[{}]::{}",
        elements.join(", "),
        cast_type(pg_type)
    ))
}

/// One scalar as SQL text, escaped by sea-query.
fn scalar_sql(value: &Value) -> String {
    let sea_value = match value {
        Value::String(text) => sea_query::Value::from(text.clone()),
        Value::Bool(flag) => sea_query::Value::from(*flag),
        Value::Number(number) => match number.as_i64() {
            Some(integer) => sea_query::Value::from(integer),
            None => return number.to_string(),
        },
        Value::Null => return "NULL".to_owned(),
        other => sea_query::Value::from(other.to_string()),
    };
    PostgresQueryBuilder.value_to_string(&sea_value)
}

fn check_expression(column: &Column, check: &Check) -> Expr {
    let column_expression = Expr::col(Alias::new(column.name.clone()));
    if check.elements {
        // Every element of the array must be allowed; a NULL array passes, as NULL does.
        let array = array_literal(&check.allowed, &column.pg_type);
        Expr::cust_with_exprs("$1 <@ $2", [column_expression, array])
    } else {
        column_expression.is_in(check.allowed.iter().map(scalar_literal))
    }
}

fn create_index(index: &Index) -> String {
    let mut create = sea_query::Index::create();
    create
        .if_not_exists()
        .name(index.name.clone())
        .table(Alias::new(index.table.clone()));
    for column in &index.columns {
        create.col(Alias::new(column.clone()));
    }
    create.to_string(PostgresQueryBuilder)
}

fn add_foreign_key(key: &ForeignKey) -> String {
    let mut create = sea_query::ForeignKey::create();
    create
        .name(key.name.clone())
        .from(
            Alias::new(key.table.clone()),
            Alias::new(key.column.clone()),
        )
        .to(
            Alias::new(key.target_table.clone()),
            Alias::new(key.target_column.clone()),
        );
    if key.on_delete_cascade {
        create.on_delete(ForeignKeyAction::Cascade);
    }
    format!("{} NOT VALID", create.to_string(PostgresQueryBuilder))
}

/// The DDL of a load, in the order a loader runs it: the tables go in before the data without
/// their primary keys (built once, after COPY, rather than row by row) and without the
/// constraints the load relaxes; the rest comes after the data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LoadSql {
    /// Enum types and tables.
    pub tables: Vec<String>,
    /// Primary keys, one per table: a unique index, then the constraint that adopts it.
    pub primary_keys: Vec<PrimaryKeySql>,
    /// Constraints the load relaxed, to add back where the loaded data allows.
    pub relaxed: Vec<RelaxedConstraint>,
    /// `CREATE INDEX IF NOT EXISTS`, one per index.
    pub indexes: Vec<String>,
    /// `ALTER TABLE ... ADD CONSTRAINT ... FOREIGN KEY ... NOT VALID`, in the plan's order.
    pub foreign_keys: Vec<ConstraintSql>,
}

/// A primary key added after the data in two steps: `index` builds its unique index (`CREATE
/// UNIQUE INDEX`, which, unlike `ADD PRIMARY KEY`, can run beside the other index builds of the
/// table), and `sql` turns that index into the constraint (`PRIMARY KEY USING INDEX`, instant:
/// the key columns are already NOT NULL).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PrimaryKeySql {
    pub table: String,
    pub name: String,
    pub index: String,
    pub sql: String,
}

/// A constraint and the statement that adds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConstraintSql {
    pub table: String,
    pub name: String,
    pub sql: String,
}

/// A NOT NULL or CHECK a relaxed load leaves out at first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RelaxedConstraint {
    pub table: String,
    pub column: String,
    pub kind: offbase_copy::convert::ConstraintKind,
    /// The CHECK's name (for a NOT NULL, the column's).
    pub name: String,
    pub sql: String,
}

/// Renders the load's DDL for `schema` under `relax`.
pub fn render_for_load(schema: &TargetSchema, relax: offbase_copy::convert::Relax) -> LoadSql {
    use offbase_copy::convert::ConstraintKind;
    let mut tables = Vec::new();
    for enum_type in &schema.enum_types {
        tables.push(
            Type::create()
                .as_enum(Alias::new(enum_type.name.clone()))
                .values(
                    enum_type
                        .values
                        .iter()
                        .map(|value| Alias::new(value.clone())),
                )
                .to_string(PostgresQueryBuilder),
        );
    }
    let mut primary_keys = Vec::new();
    let mut relaxed = Vec::new();
    for table in &schema.tables {
        let mut loaded = table.clone();
        for column in &mut loaded.columns {
            if relax.relaxes_not_null(column) {
                column.not_null = false;
                relaxed.push(RelaxedConstraint {
                    table: table.name.clone(),
                    column: column.name.clone(),
                    kind: ConstraintKind::NotNull,
                    name: column.name.clone(),
                    sql: format!(
                        "ALTER TABLE {} ALTER COLUMN {} SET NOT NULL",
                        quote_identifier(&table.name),
                        quote_identifier(&column.name)
                    ),
                });
            }
            if relax.relaxes_check(column)
                && let Some(check) = column.check.take()
            {
                let expression = sea_query::Query::select()
                    .expr(check_expression(column, &check))
                    .to_string(PostgresQueryBuilder);
                let expression = expression
                    .strip_prefix("SELECT ")
                    .unwrap_or(&expression)
                    .to_owned();
                relaxed.push(RelaxedConstraint {
                    table: table.name.clone(),
                    column: column.name.clone(),
                    kind: ConstraintKind::Check,
                    name: check.name.clone(),
                    sql: format!(
                        "ALTER TABLE {} ADD CONSTRAINT {} CHECK ({expression})",
                        quote_identifier(&table.name),
                        quote_identifier(&check.name)
                    ),
                });
            }
        }
        tables.push(create_table_without_primary_key(&loaded));
        let mut index = sea_query::Index::create();
        index
            .unique()
            .if_not_exists()
            .name(table.primary_key_name.clone())
            .table(Alias::new(table.name.clone()));
        for column in &table.primary_key {
            index.col(Alias::new(column.clone()));
        }
        primary_keys.push(PrimaryKeySql {
            table: table.name.clone(),
            name: table.primary_key_name.clone(),
            index: index.to_string(PostgresQueryBuilder),
            sql: format!(
                "ALTER TABLE {table} ADD CONSTRAINT {name} PRIMARY KEY USING INDEX {name}",
                table = quote_identifier(&table.name),
                name = quote_identifier(&table.primary_key_name),
            ),
        });
    }
    LoadSql {
        tables,
        primary_keys,
        relaxed,
        indexes: schema.indexes.iter().map(create_index).collect(),
        foreign_keys: schema
            .foreign_keys
            .iter()
            .map(|key| ConstraintSql {
                table: key.table.clone(),
                name: key.name.clone(),
                sql: add_foreign_key(key),
            })
            .collect(),
    }
}

/// `ALTER TABLE ... ADD COLUMN IF NOT EXISTS` for a column a schema gained after its table was
/// created: its type, default and CHECK, but never NOT NULL (the rows already there have no
/// value for it).
pub fn add_column(table: &Table, column: &Column) -> String {
    let mut added = column.clone();
    added.not_null = false;
    sea_query::Table::alter()
        .table(Alias::new(table.name.clone()))
        .add_column_if_not_exists(column_def(&added))
        .to_string(PostgresQueryBuilder)
}

fn create_table_without_primary_key(table: &Table) -> String {
    let mut create = sea_query::Table::create();
    create.table(Alias::new(table.name.clone()));
    for column in &table.columns {
        create.col(column_def(column));
    }
    pretty_create_table(&create.to_string(PostgresQueryBuilder))
}
