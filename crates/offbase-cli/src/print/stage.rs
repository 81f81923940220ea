//! `plan`, `pull` (from the API, CSV exports or seeds) and `generate`.

use super::listed;
use offbase_pipeline::plan::PlanSummary;
use offbase_pipeline::stage::generate::GenerateSummary;
use offbase_pipeline::stage::import::ImportSummary;
use offbase_pipeline::stage::pull::PullSummary;

pub fn plan(summary: &PlanSummary) {
    outcome!(
        "Planned {}: {} entities → {} tables, {} columns, {} foreign keys, {} array references, {} indexes.",
        summary.app,
        summary.entities,
        summary.tables,
        summary.columns,
        summary.foreign_keys,
        summary.array_references,
        summary.indexes
    );
    if !summary.warnings.is_empty() {
        say!(
            "{} warnings (all of them in the mapping report):",
            summary.warnings.len()
        );
        for note in summary.warnings.iter().take(listed(10)) {
            let subject = match (&note.entity, &note.field) {
                (Some(entity), Some(field)) => format!("{entity}.{field}: "),
                (Some(entity), None) => format!("{entity}: "),
                _ => String::new(),
            };
            say!("  - {subject}{}", note.message);
        }
        if summary.warnings.len() > listed(10) {
            say!(
                "  ... and {} more (-v lists them all)",
                summary.warnings.len() - 10
            );
        }
    }
    say!(
        "{} decisions explained in the mapping report.",
        summary.decisions
    );
    for file in &summary.files {
        say!("Wrote {file}");
    }
    if let Some(applied) = &summary.applied {
        say!(
            "Applied {} statements ({} tables) to schema {:?} in one transaction.",
            applied.statements,
            applied.tables,
            applied.schema
        );
    }
}

pub fn pull(summary: &PullSummary) {
    say!(
        "{:<24} {:>10} {:>10} {:>12} {:>8}  count check",
        "entity",
        "records",
        "source",
        "bytes",
        "seconds"
    );
    for entity in &summary.entities {
        let source = entity
            .source_count
            .map(|count| count.to_string())
            .unwrap_or_else(|| "-".to_owned());
        let check = match (entity.matches_source, entity.source_count) {
            (true, _) => "ok".to_owned(),
            (false, Some(count)) => format!(
                "differs by {} (the app may have taken writes during the pull)",
                i128::from(entity.records) - i128::from(count)
            ),
            (false, None) => "no count from the source".to_owned(),
        };
        let note = if entity.already_complete {
            " (already pulled)"
        } else {
            ""
        };
        say!(
            "{:<24} {:>10} {:>10} {:>12} {:>8.1}  {check}{note}",
            entity.entity,
            entity.records,
            source,
            entity.bytes,
            entity.seconds
        );
    }
    let records: u64 = summary.entities.iter().map(|entity| entity.records).sum();
    outcome!(
        "Pulled {records} records of {} entities into {} in {:.1}s ({} requests, {} retried, {} throttled).",
        summary.entities.len(),
        summary.workspace,
        summary.seconds,
        summary.requests,
        summary.retries,
        summary.throttled
    );
}

/// `pull --from-csv` and `pull --from-seed`.
pub fn import(summary: &ImportSummary) {
    for warning in &summary.warnings {
        say!("warning: {warning}");
    }
    say!(
        "{:<24} {:>10} {:>12} {:>8}  schema",
        "entity",
        "records",
        "bytes",
        "flagged"
    );
    for entity in &summary.entities {
        say!(
            "{:<24} {:>10} {:>12} {:>8}  {}",
            entity.entity,
            entity.records,
            entity.bytes,
            entity.flagged_records,
            if entity.inferred_schema {
                "inferred"
            } else {
                "given"
            }
        );
    }
    let flagged: u64 = summary
        .entities
        .iter()
        .map(|entity| entity.flagged_records)
        .sum();
    outcome!(
        "Imported {} records of {} entities into {}.",
        summary
            .entities
            .iter()
            .map(|entity| entity.records)
            .sum::<u64>(),
        summary.entities.len(),
        summary.workspace
    );
    if flagged > 0 {
        say!(
            "{flagged} records hold values that did not convert: they are kept as they were and will be rejected at load with the reason."
        );
    }
}

pub fn generate(summary: &GenerateSummary) {
    for entity in &summary.entities {
        say!(
            "{:<24} {:>10} records {:>12} bytes",
            entity.entity,
            entity.records,
            entity.bytes
        );
    }
    outcome!(
        "Generated {} records (seed {}) into {} in {:.1}s.",
        summary.records,
        summary.seed,
        summary.workspace,
        summary.seconds
    );
}
