//! `reports/index.html`: one self-contained page (no script, no network) that shows what the
//! JSON reports of a workspace say: the load (records per entity, rejects by reason, foreign
//! keys and orphans, examples of rejected records), the plan's warnings and decisions, the data
//! diff, the sync's lag over time, the cutover's gates and timings.
//! Rendered from the reports themselves, as written (`load.json`, `diff-data.json`,
//! `sync-lag.jsonl`, `cutover.json` or `cutover-dry-run.json`), so the page and the reports
//! never disagree. [`render`] is pure;
//! [`write_index`] reads the documents and writes the page, and runs after every report.

use crate::error::PipelineError;
use crate::sync::lag::{LagPoint, lag_file, read_lag};
use crate::workspace::Workspace;
use charts::{bars, lag_section};
use serde_json::Value;
use std::fmt::Write;

mod charts;
mod plan;

/// The JSON reports the page shows (each when the workspace has it).
#[derive(Debug, Default, Clone)]
pub struct Documents {
    pub load: Option<Value>,
    pub diff: Option<Value>,
    pub cutover: Option<Value>,
    /// The sync's passes, oldest first (none before a sync).
    pub lag: Vec<LagPoint>,
    /// The plan's warnings and decisions (`plan/notes.json`).
    pub notes: Vec<offbase_model::Note>,
    /// The first rejects of each entity that has any.
    pub reject_examples:
        std::collections::BTreeMap<String, Vec<crate::workspace::rejects::RejectLine>>,
}

/// Reads the workspace's JSON reports and writes `reports/index.html`.
pub fn write_index(workspace: &Workspace) -> Result<(), PipelineError> {
    let folder = workspace.reports_dir();
    let read = |name: &str| workspace.read_json::<Value>(&folder.join(name));
    // A real cutover's report says more than a rehearsal's.
    let cutover = match read("cutover.json")? {
        Some(real) => Some(real),
        None => read("cutover-dry-run.json")?,
    };
    let load = read("load.json")?;
    // The reject examples of the entities the load says rejected something.
    let rejecting: Vec<String> = load
        .as_ref()
        .map(|load| {
            entities(load)
                .iter()
                .filter(|entity| number(entity, "rejected") > 0)
                .map(|entity| text(entity, "entity").to_owned())
                .collect()
        })
        .unwrap_or_default();
    let documents = Documents {
        reject_examples: plan::reject_examples(workspace, &rejecting),
        load,
        diff: read("diff-data.json")?,
        cutover,
        lag: read_lag(&lag_file(workspace))?,
        notes: workspace
            .read_json(&workspace.plan_dir().join(crate::plan::NOTES_FILE))?
            .unwrap_or_default(),
    };
    crate::workspace::files::write_atomic(&folder.join("index.html"), render(&documents).as_bytes())
}

/// The page.
pub fn render(documents: &Documents) -> String {
    let schema = [&documents.load, &documents.diff, &documents.cutover]
        .into_iter()
        .flatten()
        .find_map(|document| document.get("pg_schema").and_then(Value::as_str))
        .unwrap_or("(no schema yet)");
    let mut page = String::new();
    let _ = write!(
        page,
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>offbase report: {schema}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>offbase report <span class=\"schema\">schema {schema}</span></h1>\n",
        schema = escape(schema)
    );
    page.push_str(&summary(documents));
    if !documents.notes.is_empty() {
        page.push_str(&plan::plan_section(&documents.notes));
    }
    match &documents.load {
        Some(load) => page.push_str(&load_section(load, &documents.reject_examples)),
        None => page.push_str(&absent("load", "offbase load (or migrate)")),
    }
    match &documents.diff {
        Some(diff) => page.push_str(&diff_section(diff)),
        None => page.push_str(&absent("diff", "offbase diff data")),
    }
    if documents.lag.is_empty() {
        page.push_str(&absent("sync-lag", "offbase sync"));
    } else {
        page.push_str(&lag_section(&documents.lag));
    }
    match &documents.cutover {
        Some(cutover) => page.push_str(&cutover_section(cutover)),
        None => page.push_str(&absent("cutover", "offbase cutover --dry-run")),
    }
    page.push_str("</body>\n</html>\n");
    page
}

const STYLE: &str = "body{font:15px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:2rem auto;max-width:68rem;padding:0 1rem;color:#1d2430}\
h1{font-size:1.6rem;margin-bottom:.2rem}h1 .schema{font-weight:400;color:#5b6473;font-size:1rem;margin-left:.6rem}\
h2{margin-top:2.2rem;border-bottom:1px solid #dde2ea;padding-bottom:.3rem}\
table{border-collapse:collapse;margin:.6rem 0;width:100%}th,td{padding:.3rem .6rem;border-bottom:1px solid #eef1f5;text-align:left}\
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}\
.cards{display:flex;gap:1rem;flex-wrap:wrap;margin:1rem 0}.card{border:1px solid #dde2ea;border-radius:8px;padding:.7rem 1rem;min-width:11rem}\
.card b{display:block;font-size:1.5rem}.ok{color:#16794c}.bad{color:#b3261e}.muted{color:#5b6473}\
svg text{font:12px system-ui,sans-serif;fill:#1d2430}code{background:#f3f5f8;padding:0 .25rem;border-radius:3px}";

/// The cards at the top: what a reader looks at first.
fn summary(documents: &Documents) -> String {
    let mut cards = String::from("<section id=\"summary\" class=\"cards\">\n");
    if let Some(load) = &documents.load {
        let (read, loaded, rejected) = load_totals(load);
        let _ = write!(
            cards,
            "<div class=\"card\">records loaded<b data-figure=\"loaded\">{}</b><span class=\"muted\">of {} read</span></div>\n<div class=\"card\">rejected<b data-figure=\"rejected\" class=\"{}\">{}</b><span class=\"muted\">with a reason each</span></div>\n",
            grouped(loaded),
            grouped(read),
            if rejected == 0 { "ok" } else { "bad" },
            grouped(rejected)
        );
    }
    if let Some(diff) = &documents.diff {
        let differences = diff_totals(diff);
        let _ = writeln!(
            cards,
            "<div class=\"card\">data diff<b data-figure=\"differences\" class=\"{}\">{}</b><span class=\"muted\">{}</span></div>",
            if differences == 0 { "ok" } else { "bad" },
            grouped(differences),
            if differences == 0 {
                "clean"
            } else {
                "differences"
            }
        );
    }
    if let Some(cutover) = &documents.cutover {
        let go = cutover.get("go").and_then(Value::as_bool) == Some(true);
        let dry = cutover.get("dry_run").and_then(Value::as_bool) == Some(true);
        let _ = writeln!(
            cards,
            "<div class=\"card\">cutover{}<b data-figure=\"go\" class=\"{}\">{}</b><span class=\"muted\">{}</span></div>",
            if dry { " (dry run)" } else { "" },
            if go { "ok" } else { "bad" },
            if go { "GO" } else { "NO GO" },
            if cutover.get("cut_over").and_then(Value::as_bool) == Some(true) {
                "switched"
            } else {
                "not switched"
            }
        );
    }
    cards.push_str("</section>\n");
    cards
}

fn absent(section: &str, command: &str) -> String {
    format!(
        "<section id=\"{section}\"><h2>{}</h2><p class=\"muted\">No report yet: <code>{}</code> writes it.</p></section>\n",
        heading(section),
        escape(command)
    )
}

fn heading(section: &str) -> &'static str {
    match section {
        "load" => "Load",
        "diff" => "Data diff",
        "sync-lag" => "Sync lag",
        _ => "Cutover",
    }
}

fn entities(document: &Value) -> &[Value] {
    document
        .get("entities")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
}

fn number(value: &Value, key: &str) -> u64 {
    value.get(key).and_then(Value::as_u64).unwrap_or_default()
}

fn text<'v>(value: &'v Value, key: &str) -> &'v str {
    value.get(key).and_then(Value::as_str).unwrap_or_default()
}

fn count(value: &Value, key: &str) -> u64 {
    match value.get(key) {
        Some(Value::Array(items)) => items.len() as u64,
        Some(other) => other.as_u64().unwrap_or_default(),
        None => 0,
    }
}

fn load_totals(load: &Value) -> (u64, u64, u64) {
    entities(load)
        .iter()
        .fold((0, 0, 0), |(read, loaded, rejected), entity| {
            (
                read + number(entity, "read"),
                loaded + number(entity, "loaded"),
                rejected + number(entity, "rejected"),
            )
        })
}

fn diff_totals(diff: &Value) -> u64 {
    entities(diff)
        .iter()
        .map(|entity| {
            count(entity, "missing_in_target")
                - count(entity, "rejected").min(count(entity, "missing_in_target"))
                + count(entity, "missing_in_source")
                + count(entity, "different")
        })
        .sum()
}

fn load_section(
    load: &Value,
    examples: &std::collections::BTreeMap<String, Vec<crate::workspace::rejects::RejectLine>>,
) -> String {
    let mut section = String::from("<section id=\"load\"><h2>Load</h2>\n");
    let _ = writeln!(
        section,
        "<p>Status <b>{}</b> in {:.1} s. Every staged record is loaded or rejected with a reason (read = loaded + rejected).</p>",
        escape(text(load, "status")),
        load.get("seconds")
            .and_then(Value::as_f64)
            .unwrap_or_default()
    );
    section.push_str("<table id=\"load-entities\"><tr><th>entity</th><th>table</th><th class=\"n\">read</th><th class=\"n\">loaded</th><th class=\"n\">rejected</th><th class=\"n\">duplicates</th><th class=\"n\">seconds</th><th>reject reasons</th></tr>\n");
    let mut reasons: std::collections::BTreeMap<String, u64> = std::collections::BTreeMap::new();
    for entity in entities(load) {
        let mut entity_reasons: Vec<(String, u64)> = entity
            .get("reasons")
            .and_then(Value::as_object)
            .map(|map| {
                map.iter()
                    .map(|(reason, times)| (reason.clone(), times.as_u64().unwrap_or_default()))
                    .collect()
            })
            .unwrap_or_default();
        for (reason, times) in &entity_reasons {
            *reasons.entry(reason.clone()).or_default() += times;
        }
        entity_reasons.sort_by(|left, right| right.1.cmp(&left.1).then(left.0.cmp(&right.0)));
        let top: Vec<String> = entity_reasons
            .iter()
            .take(3)
            .map(|(reason, times)| format!("{} ({})", escape(reason), grouped(*times)))
            .collect();
        let _ = writeln!(
            section,
            "<tr data-entity=\"{name}\"><td>{name}</td><td><code>{table}</code></td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{:.2}</td><td>{}</td></tr>",
            grouped(number(entity, "read")),
            grouped(number(entity, "loaded")),
            grouped(number(entity, "rejected")),
            grouped(number(entity, "duplicates")),
            entity
                .get("seconds")
                .and_then(Value::as_f64)
                .unwrap_or_default(),
            top.join(", "),
            name = escape(text(entity, "entity")),
            table = escape(text(entity, "table")),
        );
    }
    section.push_str("</table>\n");
    let loaded: Vec<(String, u64)> = entities(load)
        .iter()
        .map(|entity| (text(entity, "entity").to_owned(), number(entity, "loaded")))
        .collect();
    section.push_str("<h3>Records loaded per entity</h3>\n");
    section.push_str(&bars("chart-loaded", &loaded, "#3b6fd8"));
    if !reasons.is_empty() {
        let mut by_reason: Vec<(String, u64)> = reasons.into_iter().collect();
        by_reason.sort_by(|left, right| right.1.cmp(&left.1).then(left.0.cmp(&right.0)));
        section.push_str("<h3>Rejects by reason</h3>\n");
        section.push_str(&bars("chart-rejects", &by_reason, "#c0502f"));
        let _ = writeln!(
            section,
            "<p class=\"muted\">Each rejected record is in <code>{}</code> with its reason.</p>",
            escape(text(load, "rejects_folder"))
        );
    }
    section.push_str(&plan::examples_table(examples));
    let keys = load
        .get("foreign_keys")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    if !keys.is_empty() {
        section.push_str("<h3>Foreign keys</h3>\n<table id=\"foreign-keys\"><tr><th>key</th><th>from</th><th>to</th><th class=\"n\">orphans</th><th>state</th><th>orphan examples (referencing rows)</th></tr>\n");
        for key in keys {
            let validated = key.get("validated").and_then(Value::as_bool) == Some(true);
            let examples: Vec<String> = key
                .get("sample")
                .and_then(Value::as_array)
                .map(|sample| sample.iter().map(|item| escape(&plain(item))).collect())
                .unwrap_or_default();
            let _ = writeln!(
                section,
                "<tr><td><code>{}</code></td><td>{}.{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"{}\">{}</td><td>{}</td></tr>",
                escape(text(key, "name")),
                escape(text(key, "table")),
                escape(text(key, "column")),
                escape(text(key, "target_table")),
                grouped(number(key, "orphans")),
                if validated { "ok" } else { "bad" },
                if validated {
                    "validated"
                } else {
                    "NOT VALID (orphans)"
                },
                examples.join(", ")
            );
        }
        section.push_str("</table>\n");
    }
    section.push_str("</section>\n");
    section
}

fn diff_section(diff: &Value) -> String {
    let mut section = String::from("<section id=\"diff\"><h2>Data diff</h2>\n");
    let _ = writeln!(
        section,
        "<p>Source: <b>{}</b>. Records the load rejected are shown apart from those missing.</p>",
        escape(text(diff, "source"))
    );
    section.push_str("<table id=\"diff-entities\"><tr><th>entity</th><th class=\"n\">same</th><th class=\"n\">missing in target</th><th class=\"n\">of which rejected</th><th class=\"n\">missing in source</th><th class=\"n\">different</th><th>examples</th></tr>\n");
    for entity in entities(diff) {
        // Examples of what differs; the rejected records have their own column (and reject
        // file), so they are not examples of a loss.
        let rejected: Vec<&Value> = entity
            .get("rejected")
            .and_then(Value::as_array)
            .map(|items| items.iter().collect())
            .unwrap_or_default();
        let mut examples: Vec<String> = Vec::new();
        for key in ["different", "missing_in_source", "missing_in_target"] {
            if let Some(items) = entity.get(key).and_then(Value::as_array) {
                examples.extend(
                    items
                        .iter()
                        .filter(|item| !rejected.contains(item))
                        .take(3)
                        .map(|item| {
                            let id = item
                                .get("id")
                                .and_then(Value::as_str)
                                .map(str::to_owned)
                                .unwrap_or_else(|| plain(item));
                            escape(&id)
                        }),
                );
            }
        }
        examples.truncate(5);
        let _ = writeln!(
            section,
            "<tr data-entity=\"{name}\"><td>{name}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td></tr>",
            grouped(number(entity, "same")),
            grouped(count(entity, "missing_in_target")),
            grouped(count(entity, "rejected")),
            grouped(count(entity, "missing_in_source")),
            grouped(count(entity, "different")),
            examples.join(", "),
            name = escape(text(entity, "entity")),
        );
    }
    section.push_str("</table>\n</section>\n");
    section
}

fn cutover_section(cutover: &Value) -> String {
    let go = cutover.get("go").and_then(Value::as_bool) == Some(true);
    let mut section = String::from("<section id=\"cutover\"><h2>Cutover</h2>\n");
    let _ = writeln!(
        section,
        "<p>{}: <b class=\"{}\">{}</b></p>",
        if cutover.get("dry_run").and_then(Value::as_bool) == Some(true) {
            "Dry run"
        } else {
            "Run"
        },
        if go { "ok" } else { "bad" },
        if go { "GO" } else { "NO GO" }
    );
    section.push_str("<table id=\"gates\"><tr><th>gate</th><th>result</th><th>figure</th><th>what to do</th></tr>\n");
    for gate in cutover
        .get("gates")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
    {
        let passed = gate.get("passed").and_then(Value::as_bool) == Some(true);
        let _ = writeln!(
            section,
            "<tr><td>{}</td><td class=\"{}\">{}</td><td>{}</td><td>{}</td></tr>",
            escape(text(gate, "name")),
            if passed { "ok" } else { "bad" },
            if passed { "passed" } else { "failed" },
            escape(text(gate, "figure")),
            escape(text(gate, "remedy"))
        );
    }
    section.push_str("</table>\n");
    let timings: Vec<(String, f64)> = cutover
        .get("timings")
        .and_then(Value::as_array)
        .map(|steps| {
            steps
                .iter()
                .filter_map(|step| {
                    let name = step.get(0)?.as_str()?.to_owned();
                    Some((name, step.get(1)?.as_f64()?))
                })
                .collect()
        })
        .unwrap_or_default();
    if !timings.is_empty() {
        section.push_str("<h3>Timings</h3>\n<table id=\"timings\"><tr><th>step</th><th class=\"n\">seconds</th></tr>\n");
        for (step, seconds) in &timings {
            let _ = writeln!(
                section,
                "<tr><td>{}</td><td class=\"n\">{seconds:.2}</td></tr>",
                escape(step)
            );
        }
        section.push_str("</table>\n");
    }
    section.push_str("</section>\n");
    section
}

/// `1234567` as `1,234,567`: how the page writes a count.
pub fn grouped(value: u64) -> String {
    let digits = value.to_string();
    let mut out = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// A JSON value as text: a string as itself, anything else as JSON.
fn plain(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// Text made safe for HTML: an app's names and values are data, never markup.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_page_shows_the_json_figures_and_escapes_the_apps_text() {
        let load = json!({
            "status": "loaded", "pg_schema": "crm", "seconds": 1.5, "rejects_folder": "reports/rejects",
            "entities": [
                {"entity": "Deal<script>", "table": "deal", "read": 1200, "loaded": 1197, "rejected": 3,
                 "duplicates": 0, "seconds": 0.2, "reasons": {"enum": 2, "not_null": 1}},
                {"entity": "Company", "table": "company", "read": 60, "loaded": 60, "rejected": 0,
                 "duplicates": 0, "seconds": 0.1, "reasons": {}}
            ],
            "foreign_keys": [{"name": "deal_company_id_fkey", "table": "deal", "column": "company_id",
                              "target_table": "company", "orphans": 2, "sample": ["d1", "d2"], "validated": false}]
        });
        let cutover = json!({"pg_schema": "crm", "dry_run": true, "go": false, "cut_over": false,
            "gates": [{"name": "rejects", "passed": false, "figure": "3 records rejected", "remedy": "fix them"}],
            "timings": [["final sync", 0.5]]});
        let lag = (0..3)
            .map(|pass| LagPoint {
                at: format!("2026-12-05T10:00:0{pass}.000Z"),
                lag_seconds: [("Deal<b>".to_owned(), 1.0 + f64::from(pass))].into(),
            })
            .collect();
        let notes = vec![
            offbase_model::Note::warning(Some("Deal"), Some("stage"), "enum <i>not</i> enforced"),
            offbase_model::Note::decision(Some("Deal"), None, "table deal"),
        ];
        let reject: crate::workspace::rejects::RejectLine = serde_json::from_value(json!({
            "entity": "Deal<script>", "id": "d9", "field": "stage", "reason": "enum",
            "message": "`won<b>` is not in the enum", "source": "part-00001.jsonl:3"}))
        .unwrap_or_else(|error| panic!("{error}"));
        let page = render(&Documents {
            load: Some(load),
            diff: None,
            cutover: Some(cutover),
            lag,
            notes,
            reject_examples: [("Deal<script>".to_owned(), vec![reject])].into(),
        });
        assert!(page.contains("data-figure=\"loaded\">1,257<"));
        assert!(page.contains("data-figure=\"rejected\" class=\"bad\">3<"));
        assert!(page.contains("Deal&lt;script&gt;"));
        assert!(!page.contains("<script"));
        assert!(page.contains("enum (2), not_null (1)"));
        assert!(page.contains("NOT VALID (orphans)"));
        assert!(page.contains("d1, d2"));
        assert!(page.contains("data-figure=\"go\" class=\"bad\">NO GO<"));
        assert!(page.contains("No report yet: <code>offbase diff data</code>"));
        assert!(page.contains("<svg id=\"chart-rejects\""));
        assert!(page.contains("data-figure=\"sync-passes\">3<"));
        assert!(page.contains("the newest: Deal&lt;b&gt; 3.0 s."));
        assert!(page.contains(
            "<polyline data-entity=\"Deal&lt;b&gt;\" fill=\"none\" stroke=\"#3b6fb6\" stroke-width=\"1.5\" points=\"60.0,143.3 380.0,76.7 700.0,10.0\"/>"
        ));
        assert!(page.contains("data-figure=\"plan-warnings\">1<"));
        assert!(page.contains("data-figure=\"plan-decisions\">1<"));
        assert!(page.contains("enum &lt;i&gt;not&lt;/i&gt; enforced"));
        assert!(page.contains(
            "<tr><td>Deal&lt;script&gt;</td><td><code>d9</code></td><td>stage</td><td>enum</td><td>`won&lt;b&gt;` is not in the enum</td></tr>"
        ));
        let without = render(&Documents::default());
        assert!(!without.contains("id=\"plan\""));
        assert!(without.contains("No report yet: <code>offbase sync</code>"));
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(1_234_567), "1,234,567");
    }
}
