//! `diff data`, `diff behaviour` and what `corpus from-har` kept and skipped.

use super::listed;
use offbase_base44::har::HarExtract;
use offbase_pipeline::compare::behaviour::{BehaviourDiff, Verdict, comparison_word, verdict_word};
use offbase_pipeline::compare::diff::DataDiff;
use std::path::Path;

/// The table of `diff data`, then the verdict and where the report is.
pub fn diff_data(diff: &DataDiff, report: &Path) {
    say!(
        "{:<24} {:>9} {:>18} {:>10} {:>18} {:>10}",
        "entity",
        "same",
        "missing in target",
        "rejected",
        "missing in source",
        "different"
    );
    for entity in &diff.entities {
        say!(
            "{:<24} {:>9} {:>18} {:>10} {:>18} {:>10}   ({} range queries, {} hashes and {} rows read)",
            entity.entity,
            entity.same,
            // A rejected record is missing from the target on purpose: it has its own column.
            entity
                .missing_in_target
                .len()
                .saturating_sub(entity.rejected.len()),
            entity.rejected.len(),
            entity.missing_in_source.len(),
            entity.different.len(),
            entity.range_queries,
            entity.hashes_fetched,
            entity.rows_fetched
        );
        for record in entity.different.iter().take(listed(3)) {
            say!(
                "  {} {}: {}",
                entity.entity,
                record.id,
                record.fields.join(", ")
            );
        }
    }
    outcome!(
        "{} Report: {}",
        if diff.clean() {
            "Same: every record matches (rejected records aside)."
        } else {
            "Differences found."
        },
        report.display()
    );
}

/// Every request of `diff behaviour` that did not match, then the counts.
pub fn diff_behaviour(diff: &BehaviourDiff, report: &Path) {
    for outcome in diff
        .requests
        .iter()
        .filter(|outcome| outcome.verdict != Verdict::Match)
    {
        say!(
            "#{:<4} {:<8} {}",
            outcome.number,
            verdict_word(outcome.verdict),
            outcome.label
        );
        match (&outcome.error, outcome.comparison) {
            (Some(error), _) => say!("       {error}"),
            (None, Some(comparison)) => say!(
                "       old: {}; new: {} (compared {})",
                outcome.old,
                outcome.new,
                comparison_word(comparison)
            ),
            (None, None) => {}
        }
    }
    for write in diff.writes.iter().filter(|write| !write.matches()) {
        let word = |allowed: bool| if allowed { "allowed" } else { "denied" };
        say!(
            "write    {} {} of {}: old backend {}, PostgreSQL {}",
            write.operation.key(),
            write.id,
            write.entity,
            word(write.old),
            match (write.new, &write.error) {
                (Some(allowed), _) => word(allowed).to_owned(),
                (_, Some(error)) => format!("not tried ({error})"),
                (None, None) => "not tried".to_owned(),
            }
        );
    }
    if !diff.writes.is_empty() {
        say!(
            "{} writes tried as {}: {} alike, {} differing",
            diff.writes.len(),
            diff.as_user.as_deref().unwrap_or_default(),
            diff.writes.len() - diff.writes_differing,
            diff.writes_differing
        );
    }
    outcome!(
        "{} requests{}: {} match, {} mismatch, {} error; match rate {:.1}%. Report: {}",
        diff.requests.len(),
        diff.as_user
            .as_deref()
            .map(|who| format!(" asked as {who}"))
            .unwrap_or_default(),
        diff.matched,
        diff.mismatched,
        diff.errors,
        diff.match_rate(),
        report.display()
    );
}

/// On stderr (stdout may carry the corpus): how many requests, where, and what was skipped.
pub fn har_extract(extract: &HarExtract, out: Option<&Path>) {
    eprintln!(
        "{} requests{}",
        extract.requests.len(),
        out.map(|path| format!(" written to {}", path.display()))
            .unwrap_or_default()
    );
    for (reason, count) in extract.skip_counts() {
        eprintln!("  skipped {count}: {reason}");
    }
}
