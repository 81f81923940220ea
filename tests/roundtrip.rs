//! Live round trip: each sample's plan is applied to a real PostgreSQL, read back from the
//! catalog, and compared with the target model: tables, columns, types, NOT NULLs, defaults,
//! CHECKs, keys, indexes and enum types.

use offbase_model::TargetSchema;
use offbase_pg::{CatalogSchema, apply_plan, introspect};
use offbase_pipeline::plan::PlanOutput;
use offbase_tests::{SAMPLES, TestSchema, plan_app, repo_root, sample};
use serde_json::Value;

/// Compares the catalog with the plan; returns every mismatch.
fn mismatches(target: &TargetSchema, catalog: &CatalogSchema) -> Vec<String> {
    let mut problems = Vec::new();
    let planned: Vec<&str> = target
        .tables
        .iter()
        .map(|table| table.name.as_str())
        .collect();
    let found: Vec<&str> = catalog.tables.keys().map(String::as_str).collect();
    let mut planned_sorted = planned.clone();
    planned_sorted.sort_unstable();
    if planned_sorted != found {
        problems.push(format!(
            "tables: planned {planned_sorted:?}, found {found:?}"
        ));
    }
    for table in &target.tables {
        let Some(read) = catalog.tables.get(&table.name) else {
            continue;
        };
        let planned_columns: Vec<&str> = table.columns.iter().map(|c| c.name.as_str()).collect();
        let found_columns: Vec<&str> = read.columns.iter().map(|c| c.name.as_str()).collect();
        if planned_columns != found_columns {
            problems.push(format!(
                "{}: columns planned {planned_columns:?}, found {found_columns:?}",
                table.name
            ));
        }
        let mut expected_constraints = vec![table.primary_key_name.clone()];
        for column in &table.columns {
            let Some(found) = read.column(&column.name) else {
                continue;
            };
            if found.data_type != column.pg_type.sql() {
                problems.push(format!(
                    "{}.{}: type planned {}, found {}",
                    table.name,
                    column.name,
                    column.pg_type.sql(),
                    found.data_type
                ));
            }
            if found.not_null != column.not_null {
                problems.push(format!(
                    "{}.{}: NOT NULL planned {}, found {}",
                    table.name, column.name, column.not_null, found.not_null
                ));
            }
            if found.default.is_some() != column.default.is_some() {
                problems.push(format!(
                    "{}.{}: default planned {:?}, found {:?}",
                    table.name, column.name, column.default, found.default
                ));
            }
            if let Some(check) = &column.check {
                expected_constraints.push(check.name.clone());
                match read.constraint(&check.name) {
                    Some(constraint) if constraint.kind == "c" => {
                        for value in &check.allowed {
                            let literal = match value {
                                Value::String(text) => format!("'{}'", text.replace('\'', "''")),
                                other => other.to_string(),
                            };
                            if !constraint.definition.contains(&literal) {
                                problems.push(format!(
                                    "{}: CHECK {} lacks {literal}: {}",
                                    table.name, check.name, constraint.definition
                                ));
                            }
                        }
                    }
                    other => problems.push(format!(
                        "{}: CHECK {} not found (found {other:?})",
                        table.name, check.name
                    )),
                }
            }
        }
        match read.constraint(&table.primary_key_name) {
            Some(key) if key.kind == "p" && key.columns == table.primary_key => {}
            other => problems.push(format!(
                "{}: primary key {} on {:?} not found (found {other:?})",
                table.name, table.primary_key_name, table.primary_key
            )),
        }
        for key in target
            .foreign_keys
            .iter()
            .filter(|key| key.table == table.name)
        {
            expected_constraints.push(key.name.clone());
            match read.constraint(&key.name) {
                Some(found)
                    if found.kind == "f"
                        && found.columns == [key.column.clone()]
                        && found.target_table.as_deref() == Some(key.target_table.as_str())
                        && !found.validated => {}
                other => problems.push(format!(
                    "{}: foreign key {} ({} → {}) not found NOT VALID (found {other:?})",
                    table.name, key.name, key.column, key.target_table
                )),
            }
        }
        let mut found_constraints: Vec<String> =
            read.constraints.iter().map(|c| c.name.clone()).collect();
        found_constraints.sort();
        expected_constraints.sort();
        if found_constraints != expected_constraints {
            problems.push(format!(
                "{}: constraints planned {expected_constraints:?}, found {found_constraints:?}",
                table.name
            ));
        }
        let mut expected_indexes: Vec<String> = target
            .indexes
            .iter()
            .filter(|index| index.table == table.name)
            .map(|index| index.name.clone())
            .chain([table.primary_key_name.clone()])
            .collect();
        expected_indexes.sort();
        let found_indexes: Vec<String> = read.indexes.iter().map(|i| i.name.clone()).collect();
        if found_indexes != expected_indexes {
            problems.push(format!(
                "{}: indexes planned {expected_indexes:?}, found {found_indexes:?}",
                table.name
            ));
        }
    }
    let planned_enums: Vec<(String, Vec<String>)> = {
        let mut enums: Vec<_> = target
            .enum_types
            .iter()
            .map(|e| (e.name.clone(), e.values.clone()))
            .collect();
        enums.sort();
        enums
    };
    let found_enums: Vec<(String, Vec<String>)> = catalog
        .enum_types
        .iter()
        .map(|(name, values)| (name.clone(), values.clone()))
        .collect();
    if planned_enums != found_enums {
        problems.push(format!(
            "enum types: planned {planned_enums:?}, found {found_enums:?}"
        ));
    }
    problems
}

async fn apply_and_compare(label: &str, output: &PlanOutput) -> TestSchema {
    let mut schema = TestSchema::with_plan(label, output).await;
    let catalog = match introspect(&mut schema.connection, &schema.name).await {
        Ok(catalog) => catalog,
        Err(error) => panic!("{label}: reading the catalog failed: {error}"),
    };
    let problems = mismatches(&output.target, &catalog);
    assert!(
        problems.is_empty(),
        "{label}: the catalog differs from the plan:\n{}",
        problems.join("\n")
    );
    schema
}

#[tokio::test]
async fn every_sample_plan_round_trips_through_postgres() {
    for name in SAMPLES {
        let output = plan_app(&sample(name), None);
        apply_and_compare(name, &output).await.drop().await;
    }
}

#[tokio::test]
async fn the_mapped_marketplace_round_trips_with_enum_types_and_junctions() {
    let mappings = repo_root().join("mappings/examples/marketplace.toml");
    let output = plan_app(&sample("marketplace"), Some(&mappings));
    assert!(!output.target.enum_types.is_empty());
    assert!(
        output
            .target
            .tables
            .iter()
            .any(|table| table.junction.is_some())
    );
    apply_and_compare("marketplace_mapped", &output)
        .await
        .drop()
        .await;
}

#[tokio::test]
async fn an_enum_value_with_an_apostrophe_is_enforced_exactly() {
    let output = plan_app(&sample("marketplace"), None);
    let mut schema = apply_and_compare("apostrophe", &output).await;
    let insert = |category: &str| {
        format!(
            "INSERT INTO \"{}\".listing (id, title, price, category) VALUES ('l-{}', 't', 1, '{}')",
            schema.name,
            category.len(),
            category.replace('\'', "''")
        )
    };
    let accepted = sqlx::raw_sql(&insert("Collector's Items"))
        .execute(&mut schema.connection)
        .await;
    assert!(
        accepted.is_ok(),
        "the enum value with an apostrophe was refused: {accepted:?}"
    );
    let refused = sqlx::raw_sql(&insert("Collectors Items"))
        .execute(&mut schema.connection)
        .await;
    assert!(refused.is_err(), "a value outside the enum was accepted");
    schema.drop().await;
}

#[tokio::test]
async fn applying_over_existing_tables_is_refused_and_changes_nothing() {
    let output = plan_app(&sample("tasks"), None);
    let mut schema = apply_and_compare("refuse", &output).await;
    let marker = format!(
        "INSERT INTO \"{}\".project (id, name) VALUES ('kept', 'kept')",
        schema.name
    );
    if let Err(error) = sqlx::raw_sql(&marker).execute(&mut schema.connection).await {
        panic!("{error}");
    }
    let error = apply_plan(
        &mut schema.connection,
        &schema.name,
        &output.target,
        &output.sql,
    )
    .await
    .err()
    .map(|error| error.to_string())
    .unwrap_or_default();
    assert!(error.contains("already has"), "{error}");
    assert!(error.contains("project"), "{error}");
    assert!(error.contains("--pg-schema"), "{error}");
    let count = format!("SELECT count(*) FROM \"{}\".project", schema.name);
    let rows: Result<(i64,), _> = sqlx::query_as(&count)
        .fetch_one(&mut schema.connection)
        .await;
    assert_eq!(rows.ok(), Some((1,)));
    schema.drop().await;
}
