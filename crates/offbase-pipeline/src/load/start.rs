//! How a load starts: the digest that says what it is of (a resume must match it), the reject
//! files of an earlier load cleared, and `--adopt`, which starts it in the plan's tables a
//! migration tool made instead of creating its own (the checks and the reshaping are
//! `offbase_pg::adopt`'s).

use super::LoadOptions;
use crate::PipelineError;
use crate::plan::PlanOutput;
use crate::progress::Reporter;
use offbase_base44::files::UrlRewrite;
use offbase_copy::convert::Relax;
use offbase_pg::PgConnection;
use offbase_sql::LoadSql;
use sha2::{Digest, Sha256};
use std::fs;
use std::path::Path;

/// Starts the run in the plan's tables a migration made (`--adopt`), saying so.
pub(super) async fn adopt(
    connection: &mut PgConnection,
    options: &LoadOptions,
    output: &PlanOutput,
    load_sql: &LoadSql,
    digest: &str,
    reporter: &dyn Reporter,
) -> Result<(), PipelineError> {
    let plan: Vec<String> = output
        .sql
        .statements
        .iter()
        .filter(|statement| statement.section != offbase_sql::Section::AccessRules)
        .map(|statement| statement.sql.clone())
        .collect();
    let tables = output.target.table_names();
    let types = output.target.enum_type_names();
    let shape = offbase_pg::adopt::AdoptShape {
        plan: &plan,
        load_tables: &load_sql.tables,
        tables: &tables,
        types: &types,
    };
    let adopted = offbase_pg::adopt::adopt_run(
        connection,
        &options.target.pg_schema,
        digest,
        &options.target.settings(),
        &shape,
    )
    .await?;
    reporter.message(&format!(
        "--adopt: loading into the {adopted} empty tables of the plan in schema {:?} (their keys, indexes and foreign keys come back after the data)",
        options.target.pg_schema
    ));
    Ok(())
}

pub(super) fn clear_rejects(folder: &Path) -> Result<(), PipelineError> {
    match fs::remove_dir_all(folder) {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(error) => Err(PipelineError::io(folder, error)),
    }
}

/// Identifies what a load is of: the staged data (its manifest, which hashes every part), the
/// DDL, the relax options and the URL map rewritten through. A resume must match it.
pub(super) fn load_digest(
    manifest: &[u8],
    load_sql: &LoadSql,
    relax: Relax,
    urls: Option<&UrlRewrite>,
) -> String {
    let mut hasher = Sha256::new();
    hasher.update(manifest);
    hasher.update(serde_json::to_vec(load_sql).unwrap_or_default());
    hasher.update(serde_json::to_vec(&relax).unwrap_or_default());
    if let Some(urls) = urls {
        for (old, new) in urls.iter() {
            hasher.update(old.as_bytes());
            hasher.update(b"\0");
            hasher.update(new.as_bytes());
            hasher.update(b"\0");
        }
    }
    hasher
        .finalize()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}
