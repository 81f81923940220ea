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
