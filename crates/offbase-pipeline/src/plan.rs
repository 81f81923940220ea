//! The plan stage: read an app's entity schemas, apply the mapping rules, and produce the DDL,
//! the mapping report and a summary; write them to a folder and, on request, apply the DDL.

use crate::PipelineError;
use crate::progress::Reporter;
use crate::workspace::files::write_atomic;
use offbase_base44::platform::add_platform_entities;
use offbase_base44::schema::read_app;
use offbase_model::{App, MappingRules, Note, NoteLevel, TargetSchema};
use offbase_pg::ApplyOutcome;
pub use offbase_sql::RlsMode;
use offbase_sql::{AccessRules, PlanSql};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Everything a plan produces, in memory.
#[derive(Debug, Clone)]
pub struct PlanOutput {
    pub app: App,
    pub target: TargetSchema,
    /// Every statement; the access rules' last, in their own section.
    pub sql: PlanSql,
    /// The access rules as the plan enforces them (or, with `--rls off`, does not).
    pub access: AccessRules,
    /// The mapping rules the plan was made under (to translate the access rules in another
    /// dialect: [`PlanOutput::access_rules_in`]).
    pub rules: MappingRules,
    /// The `plan.sql` text.
    pub plan_file: String,
    /// The `mapping-report.md` text.
    pub report: String,
}

/// The machine-readable summary (`offbase plan --json`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlanSummary {
    pub app: String,
    pub app_id: Option<String>,
    pub entities: usize,
    pub tables: usize,
    pub columns: usize,
    pub foreign_keys: usize,
    pub array_references: usize,
    pub indexes: usize,
    pub enum_types: usize,
    pub warnings: Vec<Note>,
    pub decisions: usize,
    pub files: Vec<String>,
    pub applied: Option<ApplyOutcome>,
}

impl PlanOutput {
    /// The statements of the access-rules section in `mode`'s dialect (none with `--rls off`):
    /// this plan's own when it was made in that mode, else its rules translated again. A load
    /// plans before it reads the mode its run recorded, and applies the recorded one.
    pub fn access_rules_in(&self, mode: RlsMode) -> Vec<String> {
        if mode == self.access.mode {
            return self.access.statements.clone();
        }
        offbase_sql::access_rules(&self.app, &self.target, &self.rules, mode).statements
    }

    pub fn summary(&self) -> PlanSummary {
        PlanSummary {
            app: self.app.name.clone(),
            app_id: self.app.app_id.clone(),
            entities: self.app.entities.len(),
            tables: self.target.tables.len(),
            columns: self
                .target
                .tables
                .iter()
                .map(|table| table.columns.len())
                .sum(),
            foreign_keys: self.target.foreign_keys.len(),
            array_references: self.target.array_references.len(),
            indexes: self.target.indexes.len(),
            enum_types: self.target.enum_types.len(),
            warnings: self.target.warnings().cloned().collect(),
            decisions: self
                .target
                .notes
                .iter()
                .filter(|note| note.level == NoteLevel::Decision)
                .count(),
            files: Vec::new(),
            applied: None,
        }
    }
}

/// A mapping file as read: the name reports show (without its folder, so a report is the same
/// wherever it is run from) and its text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MappingFile {
    pub origin: String,
    pub text: String,
}

impl MappingFile {
    pub fn read(path: &Path) -> Result<Self, PipelineError> {
        let text = std::fs::read_to_string(path).map_err(|error| PipelineError::io(path, error))?;
        let origin = path
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.display().to_string());
        Ok(MappingFile { origin, text })
    }

    /// Reads the file at `path`, if one is given.
    pub fn read_optional(path: Option<&Path>) -> Result<Option<Self>, PipelineError> {
        path.map(MappingFile::read).transpose()
    }
}

/// The mapping rules: built-in defaults, then the app's mapping file if one is given.
pub fn load_rules(mappings: Option<&Path>) -> Result<MappingRules, PipelineError> {
    rules_with(MappingFile::read_optional(mappings)?.as_ref())
}

/// The mapping rules: built-in defaults, then `mappings` if given.
pub fn rules_with(mappings: Option<&MappingFile>) -> Result<MappingRules, PipelineError> {
    let mut rules = MappingRules::defaults()?;
    if let Some(file) = mappings {
        rules.merge(&file.text, &file.origin)?;
    }
    Ok(rules)
}

/// Plans a workspace's schemas (`schemas/`) with the default rules and `mappings`, as every
/// stage after the pull does.
pub fn plan_workspace(
    workspace: &crate::workspace::Workspace,
    mappings: Option<&MappingFile>,
    reporter: &dyn Reporter,
) -> Result<PlanOutput, PipelineError> {
    plan(&workspace.schemas_dir(), &rules_with(mappings)?, reporter)
}

/// [`plan_workspace`], with the access rules in `rls`'s dialect (or left out).
pub fn plan_workspace_with_rls(
    workspace: &crate::workspace::Workspace,
    mappings: Option<&MappingFile>,
    rls: RlsMode,
    reporter: &dyn Reporter,
) -> Result<PlanOutput, PipelineError> {
    plan_with_rls(
        &workspace.schemas_dir(),
        &rules_with(mappings)?,
        rls,
        reporter,
    )
}

/// Reads the schemas under `source` and plans them under `rules`, access rules enforced.
pub fn plan(
    source: &Path,
    rules: &MappingRules,
    reporter: &dyn Reporter,
) -> Result<PlanOutput, PipelineError> {
    plan_with_rls(source, rules, RlsMode::On, reporter)
}

/// [`plan`], with the access rules enforced in a dialect, or not (`--rls`).
pub fn plan_with_rls(
    source: &Path,
    rules: &MappingRules,
    rls: RlsMode,
    reporter: &dyn Reporter,
) -> Result<PlanOutput, PipelineError> {
    reporter.started("read schemas", None);
    let outcome = read_app(source)?;
    reporter.finished("read schemas");
    for warning in &outcome.warnings {
        reporter.message(&format!("{}: {}", warning.path, warning.message));
    }
    let mut app = outcome.app;
    let added = add_platform_entities(&mut app);
    let mut target = offbase_sql::plan(&app, rules)?;
    // What the reader noticed belongs in the report too, first among the warnings.
    let mut notes: Vec<Note> = outcome
        .warnings
        .iter()
        .map(|warning| {
            Note::warning(
                warning.entity.as_deref(),
                None,
                format!("{}: {}", warning.path, warning.message),
            )
        })
        .collect();
    for entity in &added {
        notes.push(Note::decision(
            Some(entity),
            None,
            "no schema file: the platform's built-in entity, with its built-in fields only",
        ));
    }
    notes.append(&mut target.notes);
    let access = offbase_sql::access_rules(&app, &target, rules, rls);
    // What the access rules cannot enforce faithfully is a warning of the plan like any other.
    notes.extend(access.warnings().cloned());
    notes.sort_by_key(|note| note.level);
    target.notes = notes;
    let mut sql = offbase_sql::render(&target);
    sql.add_access_rules(&access);
    let plan_file = sql.to_file(&target);
    let report = offbase_sql::mapping_report(&target, &app, &rules.origins, &access);
    Ok(PlanOutput {
        app,
        target,
        sql,
        access,
        rules: rules.clone(),
        plan_file,
        report,
    })
}

/// The plan's warnings and decisions as JSON, beside the report (the report page shows them).
pub const NOTES_FILE: &str = "notes.json";

/// Writes `plan.sql`, `mapping-report.md` and `notes.json` into `out`, atomically. Returns the
/// paths of the first two (what people read; the notes are for the report page).
pub fn write_plan(output: &PlanOutput, out: &Path) -> Result<Vec<PathBuf>, PipelineError> {
    let plan_path = out.join("plan.sql");
    let report_path = out.join("mapping-report.md");
    write_atomic(&plan_path, output.plan_file.as_bytes())?;
    write_atomic(&report_path, output.report.as_bytes())?;
    let mut notes = serde_json::to_string_pretty(&output.target.notes)
        .map_err(|error| PipelineError::io(out.join(NOTES_FILE), std::io::Error::other(error)))?;
    notes.push('\n');
    write_atomic(&out.join(NOTES_FILE), notes.as_bytes())?;
    Ok(vec![plan_path, report_path])
}

/// Applies the plan into `pg_schema` of the database at `database_url`, in one transaction.
pub async fn apply(
    output: &PlanOutput,
    database_url: &str,
    pg_schema: &str,
) -> Result<ApplyOutcome, PipelineError> {
    let mut connection = offbase_pg::connect(database_url).await?;
    let outcome =
        offbase_pg::apply_plan(&mut connection, pg_schema, &output.target, &output.sql).await?;
    Ok(outcome)
}
