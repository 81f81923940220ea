//! `load`, `migrate` (its load or bundle and verification), `reseal` and `status`.

use super::{human_seconds, listed};
use offbase_pipeline::compare::verify::VerifySummary;
use offbase_pipeline::load::{LoadStatus, LoadSummary};
use offbase_pipeline::migrate::MigrateSummary;
use offbase_pipeline::sync::SyncStatus;
use offbase_pipeline::workspace::reseal::ResealedPart;
use std::path::Path;

pub fn load(summary: &LoadSummary) {
    if summary.status == LoadStatus::AlreadyLoaded {
        say!(
            "Schema {:?} already holds a finished load of this workspace: nothing to do (--replace loads it again).",
            summary.pg_schema
        );
    }
    say!(
        "{:<24} {:>10} {:>10} {:>9} {:>12} {:>8} {:>10}",
        "entity",
        "read",
        "loaded",
        "rejected",
        "bytes",
        "seconds",
        "records/s"
    );
    for entity in &summary.entities {
        match &entity.table {
            Some(_) => say!(
                "{:<24} {:>10} {:>10} {:>9} {:>12} {:>8.2} {:>10}",
                entity.entity,
                entity.read,
                entity.loaded,
                entity.rejected,
                entity.bytes,
                entity.seconds,
                if entity.seconds > 0.0 {
                    format!("{:.0}", entity.read as f64 / entity.seconds)
                } else {
                    "-".to_owned()
                }
            ),
            None => say!(
                "{:<24} {:>10} {:>10} {:>9} {:>12} {:>8} {:>10}  skipped by the mapping",
                entity.entity,
                entity.staged,
                0,
                0,
                0,
                "-",
                "-"
            ),
        }
    }
    let read: u64 = summary.entities.iter().map(|entity| entity.read).sum();
    let loaded: u64 = summary.entities.iter().map(|entity| entity.loaded).sum();
    let rejected = summary.rejected();
    say!(
        "{:<24} {:>10} {:>10} {:>9}",
        "total",
        read,
        loaded,
        rejected
    );
    if summary.balanced() {
        say!("Every staged record is loaded or rejected (read = loaded + rejected).");
    } else {
        say!("Some staged records are not accounted for: see reports/load.md.");
    }
    if rejected > 0 {
        say!(
            "{rejected} rejected records, each with its reason, in {}.",
            summary.rejects_folder
        );
    }
    let orphaned: Vec<_> = summary
        .foreign_keys
        .iter()
        .filter(|key| !key.validated)
        .collect();
    let validated = summary.foreign_keys.len() - orphaned.len();
    say!(
        "Foreign keys: {validated} validated, {} left NOT VALID because of orphans.",
        orphaned.len()
    );
    for key in orphaned.iter().take(listed(10)) {
        say!(
            "  {}.{} → {}: {} orphans, rows of {} that refer to no {} (e.g. {})",
            key.table,
            key.column,
            key.target_table,
            key.orphans,
            key.table,
            key.target_table,
            key.sample.join(", ")
        );
    }
    if !orphaned.is_empty() {
        say!(
            "The query that lists each key's orphans is in {}/reports/load.md.",
            summary.workspace
        );
    }
    let rewritten: u64 = summary
        .entities
        .iter()
        .flat_map(|entity| entity.urls_rewritten.values())
        .sum();
    if rewritten > 0 {
        let fields: Vec<String> = summary
            .entities
            .iter()
            .flat_map(|entity| {
                entity
                    .urls_rewritten
                    .iter()
                    .map(move |(field, count)| format!("{}.{field} {count}", entity.entity))
            })
            .collect();
        say!(
            "File URLs rewritten to their copies: {rewritten} ({}).",
            fields.join(", ")
        );
    }
    for relaxed in summary.relaxed.iter().filter(|relaxed| !relaxed.restored) {
        say!(
            "Relaxed: {}.{} keeps no {:?} constraint ({} rows break it).",
            relaxed.table,
            relaxed.column,
            relaxed.kind,
            relaxed.rows
        );
    }
    outcome!(
        "Loaded {loaded} of {read} records ({rejected} rejected) into schema {:?} in {:.1}s.",
        summary.pg_schema,
        summary.seconds
    );
    say!("Report: {}/reports/load.md", summary.workspace);
}

pub fn migrate(summary: &MigrateSummary) {
    if let Some(files) = &summary.files {
        crate::print::files_copy(&files.copy);
    }
    if let Some(load_summary) = &summary.load {
        load(load_summary);
    }
    if let Some(bundle) = &summary.bundle {
        let records: u64 = bundle.entities.iter().map(|entity| entity.loaded).sum();
        let rejected: u64 = bundle.entities.iter().map(|entity| entity.rejected).sum();
        outcome!(
            "No database given: wrote {} ({} bytes, {records} records, {rejected} rejected into {}/reports/rejects).",
            bundle.bundle,
            bundle.bytes,
            summary.workspace
        );
        say!(
            "Apply it with: psql -v ON_ERROR_STOP=1 -f {}",
            bundle.bundle
        );
    }
    if let Some(verify_summary) = &summary.verify {
        verify(verify_summary);
    }
    say!("Plan and mapping report: {}", summary.plan_files.join(", "));
}

fn verify(summary: &VerifySummary) {
    for entity in &summary.entities {
        if !entity.matches() {
            outcome!(
                "verify: {} differs: workspace {} rows (hash {}), PostgreSQL {} rows (hash {})",
                entity.entity,
                entity.expected_rows,
                entity.expected_hash,
                entity.actual_rows,
                entity.actual_hash
            );
        }
    }
    if summary.matches() {
        say!(
            "Verified: {} tables hold exactly the workspace's loaded records (counts and content hashes).",
            summary.entities.len()
        );
    }
}

pub fn reseal(changed: &[ResealedPart], manifest: &Path) {
    if changed.is_empty() {
        outcome!("Every part matches the manifest: nothing to reseal.");
        return;
    }
    for part in changed {
        say!(
            "{}: {} records → {}, {} bytes → {}, SHA-256 {} → {}",
            part.file,
            part.records_before,
            part.records_after,
            part.bytes_before,
            part.bytes_after,
            part.sha256_before.get(..12).unwrap_or(&part.sha256_before),
            part.sha256_after.get(..12).unwrap_or(&part.sha256_after)
        );
    }
    outcome!(
        "Resealed {} parts in {}: the load takes them as they are now.",
        changed.len(),
        manifest.display()
    );
}

pub fn status(status: &SyncStatus) {
    outcome!(
        "Schema {:?}: load {}",
        status.pg_schema,
        status.load_phase.as_deref().unwrap_or("not started")
    );
    if let Some(mark) = &status.cut_over {
        say!(
            "Cut over at {} (by {}): no sync writes into this schema any more.",
            mark.at,
            mark.by
        );
    }
    if status.entities.is_empty() {
        say!("No sync pass yet.");
        return;
    }
    say!(
        "{:<24} {:<28} {:>7} {:>10} {:>10} {:>9} {:>9} {:>9} {:>8}",
        "entity",
        "cursor",
        "lag",
        "last pass",
        "reconciled",
        "upserted",
        "deleted",
        "rejected",
        "passes"
    );
    let ago = |seconds: Option<f64>| {
        seconds
            .map(|seconds| format!("{} ago", human_seconds(seconds)))
            .unwrap_or_else(|| "never".to_owned())
    };
    for entity in &status.entities {
        say!(
            "{:<24} {:<28} {:>7} {:>10} {:>10} {:>9} {:>9} {:>9} {:>8}",
            entity.entity,
            entity.cursor.as_deref().unwrap_or("-"),
            entity
                .lag_seconds
                .map(human_seconds)
                .unwrap_or_else(|| "-".to_owned()),
            ago(entity.since_last_pass_seconds),
            ago(entity.since_last_reconcile_seconds),
            entity.state.upserted,
            entity.state.deleted,
            entity.state.rejected,
            entity.state.passes
        );
    }
}
