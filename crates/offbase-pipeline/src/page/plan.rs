//! The page's plan section (the plan's warnings and decisions, from the plan folder's
//! `notes.json`) and the examples of rejected records under the load (the first lines of each
//! entity's reject file: bounded, whatever the file's size).

use super::{escape, grouped};
use crate::workspace::Workspace;
use crate::workspace::rejects::{RejectLine, rejects_path};
use offbase_model::{Note, NoteLevel};
use std::collections::BTreeMap;
use std::fmt::Write;
use std::io::BufRead;

/// Rows a table of notes shows; the rest are in the mapping report.
const NOTES_SHOWN: usize = 100;
/// Rejected records shown per entity.
pub(super) const EXAMPLES_PER_ENTITY: usize = 3;

/// The first [`EXAMPLES_PER_ENTITY`] rejects of each of `entities` (those that have any).
pub(super) fn reject_examples(
    workspace: &Workspace,
    entities: &[String],
) -> BTreeMap<String, Vec<RejectLine>> {
    let mut examples = BTreeMap::new();
    for entity in entities {
        let Ok(file) = std::fs::File::open(rejects_path(workspace, entity)) else {
            continue;
        };
        let first: Vec<RejectLine> = std::io::BufReader::new(file)
            .lines()
            .map_while(Result::ok)
            .filter_map(|line| serde_json::from_str(&line).ok())
            .take(EXAMPLES_PER_ENTITY)
            .collect();
        if !first.is_empty() {
            examples.insert(entity.clone(), first);
        }
    }
    examples
}

/// The examples table, under the load's figures.
pub(super) fn examples_table(examples: &BTreeMap<String, Vec<RejectLine>>) -> String {
    if examples.is_empty() {
        return String::new();
    }
    let mut table = String::from(
        "<h3>Rejected records, first of each entity</h3>\n<table id=\"reject-examples\"><tr><th>entity</th><th>id</th><th>field</th><th>reason</th><th>why</th></tr>\n",
    );
    for (entity, rejects) in examples {
        for reject in rejects {
            let _ = writeln!(
                table,
                "<tr><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(entity),
                escape(reject.id.as_deref().unwrap_or("(none)")),
                escape(reject.field.as_deref().unwrap_or("")),
                escape(&reject.reason),
                escape(&reject.message)
            );
        }
    }
    table.push_str("</table>\n");
    table
}

/// The plan's warnings and decisions.
pub(super) fn plan_section(notes: &[Note]) -> String {
    let mut section = String::from("<section id=\"plan\"><h2>Plan</h2>\n");
    let warnings: Vec<&Note> = notes
        .iter()
        .filter(|note| note.level == NoteLevel::Warning)
        .collect();
    let decisions: Vec<&Note> = notes
        .iter()
        .filter(|note| note.level == NoteLevel::Decision)
        .collect();
    let _ = writeln!(
        section,
        "<p><b data-figure=\"plan-warnings\">{}</b> warnings and <b data-figure=\"plan-decisions\">{}</b> decisions; all of them, with every column, in <code>plan/mapping-report.md</code>.</p>",
        grouped(warnings.len() as u64),
        grouped(decisions.len() as u64)
    );
    for (title, id, list) in [
        ("Warnings", "plan-warnings", &warnings),
        ("Decisions", "plan-decisions", &decisions),
    ] {
        if list.is_empty() {
            continue;
        }
        let _ = writeln!(
            section,
            "<h3>{title}</h3>\n<table id=\"{id}\"><tr><th>entity</th><th>field</th><th>what</th></tr>"
        );
        for note in list.iter().take(NOTES_SHOWN) {
            let _ = writeln!(
                section,
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(note.entity.as_deref().unwrap_or("")),
                escape(note.field.as_deref().unwrap_or("")),
                escape(&note.message)
            );
        }
        section.push_str("</table>\n");
        if list.len() > NOTES_SHOWN {
            let _ = writeln!(
                section,
                "<p class=\"muted\">and {} more in the mapping report.</p>",
                grouped((list.len() - NOTES_SHOWN) as u64)
            );
        }
    }
    section.push_str("</section>\n");
    section
}
