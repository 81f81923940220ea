//! Loading into tables a migration tool made from the plan (`offbase plan --format`, then
//! dbmate, sqlx or the Supabase CLI): the load adopts them instead of creating its own, once it
//! has proved they are the plan's and hold nothing. The plan and the load's starting shape
//! (tables without keys, indexes or relaxed constraints) are built in a scratch schema inside
//! the transaction and read back from the catalog, so "the plan's tables" means what
//! PostgreSQL made of the plan, not a second reading of the SQL; the scratch work is rolled
//! back. The adopted tables are then brought to the load's starting shape (their keys,
//! indexes and relaxed constraints dropped, to be added back by the post-load as after any
//! load) and the run recorded, in the same transaction: a refusal leaves them as they were.

use crate::catalog::{CatalogSchema, CatalogTable, introspect};
use crate::{PgError, execute, statement_error};
use offbase_sql::quote_identifier;
use serde_json::Value;
use sqlx::Connection;
use sqlx::postgres::PgConnection;
use std::collections::{BTreeMap, BTreeSet};

/// What the adoption compares the schema with and brings it to.
#[derive(Debug)]
pub struct AdoptShape<'a> {
    /// The plan's statements that make its tables, indexes and foreign keys (no access rules).
    pub plan: &'a [String],
    /// The load's own statements that make its tables (the load's starting shape).
    pub load_tables: &'a [String],
    /// The plan's tables.
    pub tables: &'a [String],
    /// The plan's enum types.
    pub types: &'a [String],
}

/// At most this many differences are named in a refusal.
const SHOWN: usize = 10;

/// Adopts the plan's tables in `pg_schema` for a load and records its run (as
/// [`crate::load::begin_run`] does for tables it creates), in one transaction. Refuses
/// (`NotAdoptable`) when a table is missing, holds rows, or differs from the plan.
pub async fn adopt_run(
    connection: &mut PgConnection,
    pg_schema: &str,
    digest: &str,
    settings: &Value,
    shape: &AdoptShape<'_>,
) -> Result<usize, PgError> {
    let refuse = |why: String| PgError::NotAdoptable {
        schema: pg_schema.to_owned(),
        why,
    };
    let mut transaction = connection
        .begin()
        .await
        .map_err(|error| statement_error("BEGIN", error))?;
    let present = introspect(&mut transaction, pg_schema).await?;
    let missing: Vec<&str> = shape
        .tables
        .iter()
        .filter(|table| !present.tables.contains_key(*table))
        .map(String::as_str)
        .collect();
    if !missing.is_empty() {
        return Err(refuse(format!(
            "it does not hold the plan's table{} {}",
            if missing.len() == 1 { "" } else { "s" },
            listed(&missing)
        )));
    }
    // No row may go in or out while the tables are checked and reshaped.
    for table in shape.tables {
        execute(
            &mut transaction,
            &format!(
                "LOCK TABLE {} IN ACCESS EXCLUSIVE MODE",
                qualified(pg_schema, table)
            ),
        )
        .await?;
    }
    let mut holding = Vec::new();
    for table in shape.tables {
        let sql = format!(
            "SELECT EXISTS (SELECT 1 FROM {}) AS holds",
            qualified(pg_schema, table)
        );
        let holds: bool = sqlx::query_scalar(&sql)
            .fetch_one(&mut *transaction)
            .await
            .map_err(|error| statement_error(&sql, error))?;
        if holds {
            holding.push(table.as_str());
        }
    }
    if !holding.is_empty() {
        return Err(refuse(format!(
            "it loads only into empty tables, and {} hold{} rows",
            listed(&holding),
            if holding.len() == 1 { "s" } else { "" }
        )));
    }
    // Read again under the locks: nothing can change them from here to the commit.
    let actual = introspect(&mut transaction, pg_schema).await?;
    let expected = scratch_catalog(&mut transaction, shape.plan).await?;
    let found = differences(&expected, &actual, shape.tables, shape.types);
    if !found.is_empty() {
        return Err(refuse(format!(
            "its tables are not the plan's:\n    {}",
            shown(&found).join("\n    ")
        )));
    }
    let starting = scratch_catalog(&mut transaction, shape.load_tables).await?;
    for statement in strip_statements(pg_schema, &actual, &starting, shape.tables) {
        execute(&mut transaction, &statement).await?;
    }
    let reshaped = introspect(&mut transaction, pg_schema).await?;
    let left = differences(&starting, &reshaped, shape.tables, shape.types);
    if !left.is_empty() {
        return Err(refuse(format!(
            "its tables could not be brought to the load's starting shape:\n    {}",
            shown(&left).join("\n    ")
        )));
    }
    // `introspect` pointed the session's search_path at the schema it read.
    execute(&mut transaction, "RESET search_path").await?;
    crate::load::record_run(&mut transaction, pg_schema, digest, settings).await?;
    transaction
        .commit()
        .await
        .map_err(|error| statement_error("COMMIT", error))?;
    Ok(shape.tables.len())
}

/// What `statements` make of an empty schema, read back from the catalog; the scratch schema
/// is rolled back.
async fn scratch_catalog(
    connection: &mut PgConnection,
    statements: &[String],
) -> Result<CatalogSchema, PgError> {
    let mut savepoint = connection
        .begin()
        .await
        .map_err(|error| statement_error("SAVEPOINT", error))?;
    // Unique among concurrent adoptions: the backend's pid is.
    let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&mut *savepoint)
        .await
        .map_err(|error| statement_error("SELECT pg_backend_pid()", error))?;
    let scratch = format!("offbase_adopt_{pid}");
    execute(
        &mut savepoint,
        &format!("CREATE SCHEMA {}", quote_identifier(&scratch)),
    )
    .await?;
    execute(
        &mut savepoint,
        &format!("SET LOCAL search_path TO {}", quote_identifier(&scratch)),
    )
    .await?;
    for statement in statements {
        execute(&mut savepoint, statement).await?;
    }
    let catalog = introspect(&mut savepoint, &scratch).await;
    savepoint
        .rollback()
        .await
        .map_err(|error| statement_error("ROLLBACK TO SAVEPOINT", error))?;
    catalog
}

/// Every way `actual` differs from `expected` in `tables` and `types`, one line each, sorted:
/// columns by name (the load's COPY names them, so their order does not matter), types,
/// NOT NULLs, defaults, constraints by name and definition, indexes by name and definition
/// (its schema left out), enum labels in order.
pub fn differences(
    expected: &CatalogSchema,
    actual: &CatalogSchema,
    tables: &[String],
    types: &[String],
) -> Vec<String> {
    let mut found = Vec::new();
    for table in tables {
        let (Some(want), Some(have)) = (expected.tables.get(table), actual.tables.get(table))
        else {
            if expected.tables.contains_key(table) != actual.tables.contains_key(table) {
                found.push(format!("table {table}: missing"));
            }
            continue;
        };
        compare(&mut found, table, "column", &columns(want), &columns(have));
        compare(
            &mut found,
            table,
            "constraint",
            &constraints(want),
            &constraints(have),
        );
        compare(&mut found, table, "index", &indexes(want), &indexes(have));
    }
    for name in types {
        let want = expected.enum_types.get(name);
        let have = actual.enum_types.get(name);
        if want != have {
            found.push(format!(
                "type {name}: {} in the plan, {} here",
                labels(want),
                labels(have)
            ));
        }
    }
    found.sort();
    found
}

fn labels(values: Option<&Vec<String>>) -> String {
    match values {
        Some(values) => format!("({})", values.join(", ")),
        None => "missing".to_owned(),
    }
}

fn compare(
    found: &mut Vec<String>,
    table: &str,
    what: &str,
    want: &BTreeMap<String, String>,
    have: &BTreeMap<String, String>,
) {
    let names: BTreeSet<&String> = want.keys().chain(have.keys()).collect();
    for name in names {
        match (want.get(name), have.get(name)) {
            (Some(want), Some(have)) if want == have => {}
            (Some(want), Some(have)) => found.push(format!(
                "table {table}, {what} {name}: {have} here, {want} in the plan"
            )),
            (Some(want), None) => found.push(format!(
                "table {table}, {what} {name}: missing ({want} in the plan)"
            )),
            (None, Some(have)) => found.push(format!(
                "table {table}, {what} {name}: not in the plan ({have})"
            )),
            (None, None) => {}
        }
    }
}

fn columns(table: &CatalogTable) -> BTreeMap<String, String> {
    table
        .columns
        .iter()
        .map(|column| {
            let mut text = column.data_type.clone();
            if column.not_null {
                text.push_str(" NOT NULL");
            }
            if let Some(default) = &column.default {
                text.push_str(&format!(" DEFAULT {default}"));
            }
            (column.name.clone(), text)
        })
        .collect()
}

fn constraints(table: &CatalogTable) -> BTreeMap<String, String> {
    table
        .constraints
        .iter()
        .map(|constraint| (constraint.name.clone(), constraint.definition.clone()))
        .collect()
}

/// Index definitions without the `ON schema.table` part, which names the scratch schema on
/// one side.
fn indexes(table: &CatalogTable) -> BTreeMap<String, String> {
    table
        .indexes
        .iter()
        .map(|index| {
            let definition = &index.definition;
            let text = match (definition.find(" ON "), definition.find(" USING ")) {
                (Some(on), Some(using)) if on < using => {
                    format!("{}{}", &definition[..on], &definition[using..])
                }
                _ => definition.clone(),
            };
            (index.name.clone(), text)
        })
        .collect()
}

/// The statements that bring `actual` (the plan's tables) to `starting` (the load's): foreign
/// keys dropped first (they depend on the keys they reference), then the other constraints
/// the starting shape lacks, the indexes it lacks (those of dropped constraints went with
/// them), and its NOT NULLs it lacks.
pub fn strip_statements(
    pg_schema: &str,
    actual: &CatalogSchema,
    starting: &CatalogSchema,
    tables: &[String],
) -> Vec<String> {
    let mut foreign_keys = Vec::new();
    let mut others = Vec::new();
    for table in tables {
        let (Some(have), Some(want)) = (actual.tables.get(table), starting.tables.get(table))
        else {
            continue;
        };
        let name = qualified(pg_schema, table);
        for constraint in &have.constraints {
            if want.constraint(&constraint.name).is_some() {
                continue;
            }
            let statement = format!(
                "ALTER TABLE {name} DROP CONSTRAINT {}",
                quote_identifier(&constraint.name)
            );
            match constraint.kind.as_str() {
                "f" => foreign_keys.push(statement),
                _ => others.push(statement),
            }
        }
        for index in &have.indexes {
            let kept = want.indexes.iter().any(|other| other.name == index.name);
            if kept || have.constraint(&index.name).is_some() {
                continue;
            }
            others.push(format!("DROP INDEX {}", qualified(pg_schema, &index.name)));
        }
        for column in &have.columns {
            let nullable = want
                .column(&column.name)
                .is_some_and(|starting| !starting.not_null);
            if column.not_null && nullable {
                others.push(format!(
                    "ALTER TABLE {name} ALTER COLUMN {} DROP NOT NULL",
                    quote_identifier(&column.name)
                ));
            }
        }
    }
    foreign_keys.extend(others);
    foreign_keys
}

fn qualified(pg_schema: &str, name: &str) -> String {
    format!("{}.{}", quote_identifier(pg_schema), quote_identifier(name))
}

fn listed(names: &[&str]) -> String {
    let strings: Vec<String> = names.iter().map(|name| (*name).to_owned()).collect();
    shown(&strings).join(", ")
}

/// The first [`SHOWN`] of `lines`, and how many more there are.
fn shown(lines: &[String]) -> Vec<String> {
    let mut out: Vec<String> = lines.iter().take(SHOWN).cloned().collect();
    if lines.len() > SHOWN {
        out.push(format!("and {} more", lines.len() - SHOWN));
    }
    out
}
