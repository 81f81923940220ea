//! The plan as a migration the usual tools apply as is (`offbase plan --format`): dbmate
//! (`db/migrations/<version>_<name>.sql`, with its `-- migrate:up` marker), sqlx
//! (`migrations/<version>_<name>.sql`) and the Supabase CLI
//! (`supabase/migrations/<version>_<name>.sql`). The plan's names are unqualified, so each
//! migration first creates the target schema and points `search_path` at it for its own
//! transaction (`SET LOCAL`: all three tools run a migration in one), and sets it back at the
//! end (`RESET`), since the tools then record the migration in their own table, in the same
//! transaction, through the connection's `search_path`. The version is the
//! 14-digit UTC time every one of them accepts (`--migration-version` fixes it, for files that
//! must come out byte for byte the same). [`migration_text`] is pure.

use crate::PipelineError;
use crate::plan::PlanOutput;
use crate::workspace::files::write_atomic;
use offbase_model::names::quote_identifier;
use std::path::{Path, PathBuf};

/// The tool a migration is written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MigrationFormat {
    Dbmate,
    Sqlx,
    Supabase,
}

impl MigrationFormat {
    /// The folder the tool reads its migrations from, under the plan's output folder.
    pub fn folder(self) -> &'static str {
        match self {
            MigrationFormat::Dbmate => "db/migrations",
            MigrationFormat::Sqlx => "migrations",
            MigrationFormat::Supabase => "supabase/migrations",
        }
    }
}

/// The migration's contents: the plan into `pg_schema`.
pub fn migration_text(plan_file: &str, format: MigrationFormat, pg_schema: &str) -> String {
    let schema = quote_identifier(pg_schema);
    let mut text = String::new();
    if format == MigrationFormat::Dbmate {
        text.push_str("-- migrate:up\n");
    }
    text.push_str(&format!(
        "-- The schema, and this transaction's search_path set to it: the plan's names are unqualified.\nCREATE SCHEMA IF NOT EXISTS {schema};\nSET LOCAL search_path TO {schema};\n\n"
    ));
    text.push_str(plan_file);
    if !text.ends_with('\n') {
        text.push('\n');
    }
    // The tools record the migration in the same transaction, in their own table, found
    // through the connection's search_path.
    text.push_str("\n-- The connection's search_path back, for the tool's own record of this migration.\nRESET search_path;\n");
    if format == MigrationFormat::Dbmate {
        text.push_str(&format!(
            "\n-- migrate:down\n-- No way back is written: to undo, drop the schema {schema} (and its data) or restore a backup.\n"
        ));
    }
    text
}

/// The migration's file name: `<version>_offbase_<app>.sql`, the app's name in lower-case
/// letters, digits and underscores.
pub fn migration_name(version: &str, app: &str) -> String {
    let app: String = app
        .chars()
        .map(|character| {
            if character.is_ascii_alphanumeric() {
                character.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("{version}_offbase_{app}.sql")
}

/// A version for a migration written now: the UTC time as 14 digits (`20261205081500`).
pub fn version_now() -> String {
    chrono::Utc::now().format("%Y%m%d%H%M%S").to_string()
}

/// Checks a version given by hand: digits only (all three tools order by it as a number).
pub fn check_version(version: &str) -> Result<(), String> {
    if !version.is_empty() && version.len() <= 18 && version.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(format!(
            "{version:?} is not a migration version: give digits, e.g. 20261205081500"
        ))
    }
}

/// Writes the migration of `output` for `format` into its folder under `out`, and the mapping
/// report beside it (`out/mapping-report.md`). Returns the two paths.
pub fn write_migration(
    output: &PlanOutput,
    out: &Path,
    format: MigrationFormat,
    pg_schema: &str,
    version: &str,
) -> Result<Vec<PathBuf>, PipelineError> {
    let path = out
        .join(format.folder())
        .join(migration_name(version, &output.target.app));
    write_atomic(
        &path,
        migration_text(&output.plan_file, format, pg_schema).as_bytes(),
    )?;
    let report = out.join("mapping-report.md");
    write_atomic(&report, output.report.as_bytes())?;
    Ok(vec![path, report])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_tool_gets_its_markers_the_schema_and_the_plan() {
        let plan = "-- offbase plan\nCREATE TABLE \"task\" (\"id\" text);\n";
        let dbmate = migration_text(plan, MigrationFormat::Dbmate, "my app");
        assert!(dbmate.starts_with("-- migrate:up\n"), "{dbmate}");
        assert!(dbmate.contains(
            "CREATE SCHEMA IF NOT EXISTS \"my app\";\nSET LOCAL search_path TO \"my app\";\n\n-- offbase plan\nCREATE TABLE"
        ));
        assert!(dbmate.contains("\n-- migrate:down\n"));
        for format in [MigrationFormat::Sqlx, MigrationFormat::Supabase] {
            let text = migration_text(plan, format, "public");
            assert!(text.starts_with("-- The schema"), "{text}");
            assert!(!text.contains("migrate:"), "{text}");
            assert!(
                text.ends_with("CREATE TABLE \"task\" (\"id\" text);\n\n-- The connection's search_path back, for the tool's own record of this migration.\nRESET search_path;\n"),
                "{text}"
            );
        }
        assert_eq!(
            migration_name("20261205081500", "My-CRM 2"),
            "20261205081500_offbase_my_crm_2.sql"
        );
        assert!(check_version("20261205081500").is_ok());
        assert!(check_version("2026-12-05").is_err());
        assert!(check_version("").is_err());
        assert_eq!(version_now().len(), 14);
    }
}
