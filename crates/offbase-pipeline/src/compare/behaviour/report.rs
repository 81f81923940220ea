//! The report of `diff behaviour`: `reports/diff-behaviour.md` (every differing request with its
//! SQL and a diff of the two answers) and `reports/diff-behaviour.json`.

use super::*;
use crate::PipelineError;
use crate::workspace::Workspace;

/// Writes `reports/diff-behaviour.md` and `reports/diff-behaviour.json`.
pub fn write_reports(workspace: &Workspace, diff: &BehaviourDiff) -> Result<(), PipelineError> {
    let folder = workspace.reports_dir();
    workspace.write_json(&folder.join("diff-behaviour.json"), diff)?;
    crate::workspace::files::write_atomic(
        &folder.join("diff-behaviour.md"),
        behaviour_report(diff).as_bytes(),
    )
}

/// `reports/diff-behaviour.md`: the counts, a row per request, then each differing request
/// with its SQL and a diff of the two answers.
pub fn behaviour_report(diff: &BehaviourDiff) -> String {
    let mut text = format!(
        "# Behaviour diff: {}\n\nOld backend: {}  \nNew backend: {}{}\n\n{} requests: {} match, {} mismatch, {} error; match rate {:.1}%\n\n| # | request | verdict | compared | old | new | noise |\n|---:|---|---|---|---|---|---|\n",
        if diff.clean() { "clean" } else { "DIFFERENCES" },
        diff.old,
        diff.new,
        diff.as_user
            .as_deref()
            .map(|who| format!("  \nAsked as: {who} (held to the access rules)"))
            .unwrap_or_default(),
        diff.requests.len(),
        diff.matched,
        diff.mismatched,
        diff.errors,
        diff.match_rate()
    );
    for outcome in &diff.requests {
        text.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} |\n",
            outcome.number,
            outcome.label.replace('|', "\\|"),
            verdict_word(outcome.verdict),
            outcome.comparison.map(comparison_word).unwrap_or_default(),
            outcome.old.replace('|', "\\|"),
            outcome.new.replace('|', "\\|"),
            outcome.noise_fields.join(", ")
        ));
    }
    if !diff.writes.is_empty() {
        text.push_str(&writes_section(diff));
    }
    for outcome in &diff.requests {
        if outcome.verdict == Verdict::Match {
            continue;
        }
        text.push_str(&format!(
            "\n## #{} {}: {}\n\n",
            outcome.number,
            outcome.label,
            verdict_word(outcome.verdict)
        ));
        if let Some(error) = &outcome.error {
            text.push_str(&format!("{error}\n\n"));
        }
        if let Some(sql) = &outcome.sql {
            text.push_str(&format!("```sql\n{sql}\n```\n\n"));
        }
        if let Some(diff) = &outcome.diff {
            text.push_str(&format!("```diff\n{diff}```\n"));
        }
    }
    text
}

/// The writes tried as the user: counts per operation, then every write the two sides
/// disagree on.
fn writes_section(diff: &BehaviourDiff) -> String {
    let mut text = format!(
        "\n## Writes as {}\n\nThe old backend's access rules evaluated on its records (nothing written to it); PostgreSQL's answer tried under the user's role and rolled back.\n\n| operation | tried | allowed on both | denied on both | differing |\n|---|---:|---:|---:|---:|\n",
        diff.as_user.as_deref().unwrap_or_default()
    );
    for operation in offbase_base44::rls::Operation::ALL {
        let tried: Vec<&WriteOutcome> = diff
            .writes
            .iter()
            .filter(|write| write.operation == operation)
            .collect();
        if tried.is_empty() {
            continue;
        }
        let both = |allowed: bool| {
            tried
                .iter()
                .filter(|write| write.matches() && write.old == allowed)
                .count()
        };
        text.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n",
            operation.key(),
            tried.len(),
            both(true),
            both(false),
            tried.iter().filter(|write| !write.matches()).count()
        ));
    }
    let differing: Vec<&WriteOutcome> = diff
        .writes
        .iter()
        .filter(|write| !write.matches())
        .collect();
    if !differing.is_empty() {
        text.push_str(
            "\n| entity | record | operation | old backend | PostgreSQL |\n|---|---|---|---|---|\n",
        );
        let word = |allowed: bool| if allowed { "allowed" } else { "denied" };
        for write in differing {
            let new = match (write.new, &write.error) {
                (Some(allowed), _) => word(allowed).to_owned(),
                (None, Some(error)) => format!("not tried: {}", error.replace('|', "\\|")),
                (None, None) => "not tried".to_owned(),
            };
            text.push_str(&format!(
                "| {} | {} | {} | {} | {} |\n",
                write.entity,
                write.id,
                write.operation.key(),
                word(write.old),
                new
            ));
        }
    }
    text
}

pub fn verdict_word(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Match => "match",
        Verdict::Mismatch => "MISMATCH",
        Verdict::Error => "ERROR",
    }
}

pub fn comparison_word(comparison: Comparison) -> &'static str {
    match comparison {
        Comparison::Ordered => "in order",
        Comparison::Unordered => "as a set",
        Comparison::SizeOnly => "size only",
        Comparison::Count => "count",
        Comparison::Record => "record",
        Comparison::BothRefused => "both refused",
    }
}
