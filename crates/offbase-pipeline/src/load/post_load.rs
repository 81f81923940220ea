//! After the data: primary keys, relaxed constraints the data allows, indexes, foreign keys
//! (validated where no orphans exist) and ANALYZE, then the access rules (row level security).
//! Each step checks the catalog first or can run again, so a rerun after a kill picks up where
//! it stopped.

use super::report::{EntityCheckpoint, ForeignKeyReport, RelaxedReport, kind_name};
use crate::PipelineError;
use crate::plan::PlanOutput;
use crate::progress::Reporter;
use offbase_copy::convert::ConstraintKind;
use offbase_model::{BuiltIn, TargetSchema};
use offbase_pg::PgConnection;
use offbase_pg::load::{self as pg_load};
use offbase_sql::LoadSql;
use std::collections::BTreeMap;

/// Primary keys, relaxed constraints the data allows, indexes, foreign keys (validated where
/// no orphans exist), ANALYZE. Each step checks the catalog first, so a rerun after a kill
/// picks up where it stopped.
pub(super) async fn post_load(
    connection: &mut PgConnection,
    database_url: &str,
    pg_schema: &str,
    output: &PlanOutput,
    load_sql: &LoadSql,
    checkpoints: &BTreeMap<String, EntityCheckpoint>,
    reporter: &dyn Reporter,
) -> Result<(Vec<RelaxedReport>, Vec<ForeignKeyReport>), PipelineError> {
    let target = &output.target;
    let steps = (load_sql.primary_keys.len() * 2
        + load_sql.relaxed.len()
        + load_sql.indexes.len()
        + load_sql.foreign_keys.len()
        + target.tables.len()) as u64;
    let task = "keys, indexes, analyze";
    reporter.started(task, Some(steps));
    let mut second = offbase_pg::connect(database_url).await?;
    for session in [&mut *connection, &mut second] {
        pg_load::execute_in(session, pg_schema, INDEX_BUILD_MEMORY).await?;
    }
    // Index builds (primary keys' unique indexes included) take SHARE locks, which do not
    // conflict with each other: two connections build two indexes at a time.
    let mut builds = Vec::new();
    for key in &load_sql.primary_keys {
        if pg_load::constraint_exists(connection, pg_schema, &key.table, &key.name).await? {
            reporter.advanced(task, 1);
        } else {
            builds.push(key.index.as_str());
        }
    }
    builds.extend(load_sql.indexes.iter().map(String::as_str));
    let next = std::sync::atomic::AtomicUsize::new(0);
    let (first, other) = tokio::join!(
        build_indexes(connection, pg_schema, &builds, &next, reporter, task),
        build_indexes(&mut second, pg_schema, &builds, &next, reporter, task)
    );
    first?;
    other?;
    // ANALYZE on the second connection, beside the constraints and foreign keys on the first.
    let analyze = async {
        for table in &target.tables {
            let sql = format!("ANALYZE {}", offbase_sql::quote_identifier(&table.name));
            pg_load::execute_in(&mut second, pg_schema, &sql).await?;
            reporter.advanced(task, 1);
        }
        Ok::<(), PipelineError>(())
    };
    let keys = constraints_and_foreign_keys(
        connection,
        pg_schema,
        output,
        load_sql,
        checkpoints,
        reporter,
        task,
    );
    let (analyzed, keys) = tokio::join!(analyze, keys);
    analyzed?;
    let keys = keys?;
    reporter.finished(task);
    access_rules(connection, pg_schema, output, reporter).await?;
    Ok(keys)
}

/// The plan's access-rules section, in one transaction, in the dialect the load recorded when
/// it started (`--rls on` or `supabase`), unless it was started with `--rls off`: a resumed
/// load keeps the choice of the run that started it. It runs last: its policies hold whoever
/// is not the tables' owner to the rules, and nothing before it needs them. Every statement
/// can run again, so a rerun after a kill (before the load is marked done) applies it again.
async fn access_rules(
    connection: &mut PgConnection,
    pg_schema: &str,
    output: &PlanOutput,
    reporter: &dyn Reporter,
) -> Result<(), PipelineError> {
    if !output.access.has_rules {
        return Ok(());
    }
    let mode = crate::target::recorded_rls(connection, pg_schema).await?;
    let statements = output.access_rules_in(mode);
    if statements.is_empty() {
        return Ok(());
    }
    let task = "access rules";
    reporter.started(task, Some(1));
    // One batch, not a statement a transaction: the section's first statements set the search
    // path its functions keep, and the whole section goes in or none of it. A failure names
    // the section (its first line).
    let sql = format!(
        "-- the access-rules section of the plan ({} statements)\n{};",
        statements.len(),
        statements.join(";\n")
    );
    pg_load::execute_in(connection, pg_schema, &sql).await?;
    reporter.advanced(task, 1);
    reporter.finished(task);
    Ok(())
}

/// Runs index builds from `builds`, taking the next one not yet taken, until none is left.
async fn build_indexes(
    session: &mut PgConnection,
    pg_schema: &str,
    builds: &[&str],
    next: &std::sync::atomic::AtomicUsize,
    reporter: &dyn Reporter,
    task: &str,
) -> Result<(), PipelineError> {
    while let Some(sql) = builds.get(next.fetch_add(1, std::sync::atomic::Ordering::Relaxed)) {
        pg_load::execute_in(session, pg_schema, sql).await?;
        reporter.advanced(task, 1);
    }
    Ok(())
}

/// Memory for each index build's sort: enough to sort a few million keys without spilling to
/// disk, on each of the two connections that build indexes.
const INDEX_BUILD_MEMORY: &str = "SET maintenance_work_mem = '256MB'";

async fn constraints_and_foreign_keys(
    connection: &mut PgConnection,
    pg_schema: &str,
    output: &PlanOutput,
    load_sql: &LoadSql,
    checkpoints: &BTreeMap<String, EntityCheckpoint>,
    reporter: &dyn Reporter,
    task: &str,
) -> Result<(Vec<RelaxedReport>, Vec<ForeignKeyReport>), PipelineError> {
    let target = &output.target;
    for key in &load_sql.primary_keys {
        if !pg_load::constraint_exists(connection, pg_schema, &key.table, &key.name).await? {
            pg_load::execute_in(connection, pg_schema, &key.sql).await?;
            reporter.advanced(task, 1);
        }
    }
    // Rows let through each relaxed constraint, by table and column.
    let mut broken: BTreeMap<(String, String, ConstraintKind), u64> = BTreeMap::new();
    for (entity, checkpoint) in checkpoints {
        let Some(table) = target.table_for_entity(entity) else {
            continue;
        };
        for (column, kinds) in &checkpoint.relaxed {
            for (kind, rows) in kinds {
                let kind = if kind == "check" {
                    ConstraintKind::Check
                } else {
                    ConstraintKind::NotNull
                };
                *broken
                    .entry((table.name.clone(), column.clone(), kind))
                    .or_default() += rows;
            }
        }
    }
    let mut relaxed = Vec::new();
    for constraint in &load_sql.relaxed {
        let rows = broken
            .get(&(
                constraint.table.clone(),
                constraint.column.clone(),
                constraint.kind,
            ))
            .copied()
            .unwrap_or_default();
        let restored = rows == 0;
        if restored {
            let present = match constraint.kind {
                ConstraintKind::NotNull => {
                    pg_load::column_not_null(
                        connection,
                        pg_schema,
                        &constraint.table,
                        &constraint.column,
                    )
                    .await?
                }
                ConstraintKind::Check => {
                    pg_load::constraint_exists(
                        connection,
                        pg_schema,
                        &constraint.table,
                        &constraint.name,
                    )
                    .await?
                }
            };
            if !present {
                pg_load::execute_in(connection, pg_schema, &constraint.sql).await?;
            }
        } else {
            reporter.message(&format!(
                "{}.{}: {} rows break its {} constraint: left relaxed",
                constraint.table,
                constraint.column,
                rows,
                kind_name(constraint.kind).replace('_', " ")
            ));
        }
        relaxed.push(RelaxedReport {
            table: constraint.table.clone(),
            column: constraint.column.clone(),
            kind: constraint.kind,
            rows,
            restored,
        });
        reporter.advanced(task, 1);
    }
    let mut foreign_keys = Vec::new();
    for (key, constraint) in target.foreign_keys.iter().zip(&load_sql.foreign_keys) {
        foreign_keys
            .push(add_foreign_key(connection, pg_schema, target, key, &constraint.sql).await?);
        reporter.advanced(task, 1);
    }
    Ok((relaxed, foreign_keys))
}

/// Adds a foreign key `NOT VALID` (where it is missing) and validates it; when validation
/// fails, counts its orphans with a few sample ids and leaves it NOT VALID. Validating finds
/// out whether orphans exist as fast as counting them would, so they are counted only then.
pub(crate) async fn add_foreign_key(
    connection: &mut PgConnection,
    pg_schema: &str,
    target: &TargetSchema,
    key: &offbase_model::ForeignKey,
    add_sql: &str,
) -> Result<ForeignKeyReport, PipelineError> {
    if !pg_load::constraint_exists(connection, pg_schema, &key.table, &key.name).await? {
        pg_load::execute_in(connection, pg_schema, add_sql).await?;
    }
    let validated = pg_load::constraint_validated(connection, pg_schema, &key.table, &key.name)
        .await?
        || pg_load::validate_foreign_key(connection, pg_schema, &key.table, &key.name).await?;
    let (orphans, sample) = if validated {
        (0, Vec::new())
    } else {
        let id_column = referencing_id_column(target, key);
        pg_load::count_orphans(connection, pg_schema, key, &id_column, 5).await?
    };
    Ok(ForeignKeyReport {
        name: key.name.clone(),
        table: key.table.clone(),
        column: key.column.clone(),
        target_table: key.target_table.clone(),
        orphans,
        sample,
        validated,
        query: if orphans > 0 {
            pg_load::orphans_query(pg_schema, key)
        } else {
            String::new()
        },
    })
}

/// The column that names a referencing row in orphan samples: its table's first primary key
/// column.
pub(crate) fn referencing_id_column(
    target: &TargetSchema,
    key: &offbase_model::ForeignKey,
) -> String {
    target
        .tables
        .iter()
        .find(|table| table.name == key.table)
        .and_then(|table| table.primary_key.first())
        .cloned()
        .unwrap_or_else(|| BuiltIn::Id.field_name().to_owned())
}
