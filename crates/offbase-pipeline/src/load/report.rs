//! What a load reports: each entity's checkpoint (stored with every batch), the summary of a
//! load (counts per entity, foreign keys, relaxed constraints) and its two report files,
//! `reports/load.md` and `reports/load.json`.

use crate::PipelineError;
use crate::workspace::Workspace;
use crate::workspace::parts::Position;
use offbase_copy::convert::ConstraintKind;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// An entity's progress, stored in the target with every batch.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EntityCheckpoint {
    pub position: Position,
    pub read: u64,
    pub loaded: u64,
    pub rejected: u64,
    /// Rejected as superseded duplicates (counted in `rejected` too).
    pub duplicates: u64,
    pub junction_rows: u64,
    /// Bytes of staged data consumed.
    pub bytes: u64,
    /// The length of the entity's reject file after the batch.
    pub reject_bytes: u64,
    /// Rejects by reason code.
    pub reasons: BTreeMap<String, u64>,
    /// Rows let through a relaxed constraint: `column` → kind → rows.
    pub relaxed: BTreeMap<String, BTreeMap<String, u64>>,
    /// File URLs rewritten through the URL map, per field.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub urls_rewritten: BTreeMap<String, u64>,
    pub finished: bool,
    /// Seconds spent loading, over all runs.
    pub seconds: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EntityLoadSummary {
    pub entity: String,
    /// The table, or `None` when the mapping skips the entity.
    pub table: Option<String>,
    pub read: u64,
    pub loaded: u64,
    pub rejected: u64,
    pub duplicates: u64,
    pub junction_rows: u64,
    pub bytes: u64,
    pub seconds: f64,
    pub reasons: BTreeMap<String, u64>,
    /// File URLs rewritten through the URL map (a load with `--rewrite-urls`), per field.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub urls_rewritten: BTreeMap<String, u64>,
    /// The manifest's record count, which `read` must equal.
    pub staged: u64,
}

impl EntityLoadSummary {
    /// An entity nothing was read of yet.
    pub fn empty(entity: &str, table: Option<String>, staged: u64) -> Self {
        EntityLoadSummary {
            entity: entity.to_owned(),
            table,
            read: 0,
            loaded: 0,
            rejected: 0,
            duplicates: 0,
            junction_rows: 0,
            bytes: 0,
            seconds: 0.0,
            reasons: BTreeMap::new(),
            urls_rewritten: BTreeMap::new(),
            staged,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ForeignKeyReport {
    pub name: String,
    pub table: String,
    pub column: String,
    pub target_table: String,
    pub orphans: u64,
    /// Ids of referencing rows whose reference matches nothing (at most five).
    pub sample: Vec<String>,
    pub validated: bool,
    /// The query that lists every orphan (empty when there is none).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub query: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RelaxedReport {
    pub table: String,
    pub column: String,
    pub kind: ConstraintKind,
    pub rows: u64,
    /// Added back because no loaded row breaks it.
    pub restored: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoadStatus {
    Loaded,
    /// The schema already held a finished load of this workspace: nothing was done.
    AlreadyLoaded,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadSummary {
    pub status: LoadStatus,
    pub workspace: String,
    pub database: String,
    pub pg_schema: String,
    pub entities: Vec<EntityLoadSummary>,
    pub foreign_keys: Vec<ForeignKeyReport>,
    pub relaxed: Vec<RelaxedReport>,
    pub rejects_folder: String,
    pub seconds: f64,
}

impl LoadSummary {
    /// Whether every entity's `read = loaded + rejected` and `read` = the staged count.
    pub fn balanced(&self) -> bool {
        self.entities.iter().all(|entity| {
            entity.table.is_none()
                || (entity.read == entity.loaded + entity.rejected && entity.read == entity.staged)
        })
    }

    pub fn rejected(&self) -> u64 {
        self.entities.iter().map(|entity| entity.rejected).sum()
    }
}

/// Writes `reports/load.md` and `reports/load.json`, and the page `reports/index.html`.
pub fn write_reports(workspace: &Workspace, summary: &LoadSummary) -> Result<(), PipelineError> {
    let folder = workspace.reports_dir();
    let mut json = serde_json::to_string_pretty(summary).unwrap_or_default();
    json.push('\n');
    crate::workspace::files::write_atomic(&folder.join("load.json"), json.as_bytes())?;
    crate::workspace::files::write_atomic(
        &folder.join("load.md"),
        load_report(summary).as_bytes(),
    )?;
    crate::page::write_index(workspace)
}

/// The human report of a load.
pub fn load_report(summary: &LoadSummary) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "# Load of {} into schema `{}`\n\n",
        summary.workspace, summary.pg_schema
    ));
    out.push_str(&format!("Database: {}\n\n", summary.database));
    out.push_str("| entity | table | read | loaded | rejected | duplicates | bytes | seconds |\n");
    out.push_str("|---|---|---:|---:|---:|---:|---:|---:|\n");
    for entity in &summary.entities {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {:.2} |\n",
            entity.entity,
            entity.table.as_deref().unwrap_or("(skipped)"),
            entity.read,
            entity.loaded,
            entity.rejected,
            entity.duplicates,
            entity.bytes,
            entity.seconds
        ));
    }
    let unbalanced: Vec<&EntityLoadSummary> = summary
        .entities
        .iter()
        .filter(|entity| {
            entity.table.is_some()
                && (entity.read != entity.loaded + entity.rejected || entity.read != entity.staged)
        })
        .collect();
    out.push('\n');
    if unbalanced.is_empty() {
        out.push_str("Every staged record was loaded or rejected (read = loaded + rejected).\n");
    } else {
        for entity in unbalanced {
            out.push_str(&format!(
                "**{}: read {} of {} staged, loaded {}, rejected {}.**\n",
                entity.entity, entity.read, entity.staged, entity.loaded, entity.rejected
            ));
        }
    }
    let rejected: Vec<&EntityLoadSummary> = summary
        .entities
        .iter()
        .filter(|entity| entity.rejected > 0)
        .collect();
    if !rejected.is_empty() {
        out.push_str(
            "\n## Rejects\n\nEach rejected record is in `reports/rejects/<Entity>.jsonl` with its id, field, reason, value and the whole record.\n\n| entity | reason | records |\n|---|---|---:|\n"
        );
        for entity in rejected {
            for (reason, count) in &entity.reasons {
                out.push_str(&format!("| {} | {} | {} |\n", entity.entity, reason, count));
            }
        }
    }
    if summary
        .entities
        .iter()
        .any(|entity| !entity.urls_rewritten.is_empty())
    {
        out.push_str("\n## File URLs rewritten\n\nBase44 file URLs replaced by the URLs of their copies (`files/url-map.json`).\n\n| entity | field | URLs |\n|---|---|---:|\n");
        for entity in &summary.entities {
            for (field, count) in &entity.urls_rewritten {
                out.push_str(&format!("| {} | {} | {} |\n", entity.entity, field, count));
            }
        }
    }
    if !summary.relaxed.is_empty() {
        out.push_str("\n## Relaxed constraints\n\n| table | column | constraint | rows breaking it | outcome |\n|---|---|---|---:|---|\n");
        for relaxed in &summary.relaxed {
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} |\n",
                relaxed.table,
                relaxed.column,
                kind_name(relaxed.kind).replace('_', " "),
                relaxed.rows,
                if relaxed.restored {
                    "added back"
                } else {
                    "left out"
                }
            ));
        }
    }
    if !summary.foreign_keys.is_empty() {
        out.push_str("\n## Foreign keys\n\nOrphans are rows of the referencing table whose reference matches no row of its target; the sample ids are theirs.\n\n| key | reference | orphans | sample ids (referencing rows) | state |\n|---|---|---:|---|---|\n");
        for key in &summary.foreign_keys {
            out.push_str(&format!(
                "| {} | {}.{} → {} | {} | {} | {} |\n",
                key.name,
                key.table,
                key.column,
                key.target_table,
                key.orphans,
                key.sample.join(", "),
                if key.validated {
                    "validated"
                } else {
                    "NOT VALID: resolve the orphans, then VALIDATE"
                }
            ));
        }
        for key in summary
            .foreign_keys
            .iter()
            .filter(|key| !key.query.is_empty())
        {
            out.push_str(&format!(
                "\nThe {} orphans of `{}.{}`:\n\n```sql\n{}\n```\n",
                key.orphans, key.table, key.column, key.query
            ));
        }
    }
    out
}

pub(crate) fn kind_name(kind: ConstraintKind) -> &'static str {
    match kind {
        ConstraintKind::NotNull => "not_null",
        ConstraintKind::Check => "check",
    }
}
