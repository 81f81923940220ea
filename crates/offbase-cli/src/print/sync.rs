//! The sync period: the sync's table (redrawn in place on a terminal, appended elsewhere) and
//! its reporter, a reapplied repair, the cutover's gates and verdict, an undone cutover.

use super::human_seconds;
use crate::output::{Notes, printable};
use offbase_pipeline::progress::Reporter;
use offbase_pipeline::sync::SyncSummary;
use offbase_pipeline::sync::continuous::PassOutcome;
use offbase_pipeline::sync::cutover::{CutoverReport, RepairList, UndoReport};
use serde::Serialize;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// The sync's reporter: on a terminal, notes join the table (printed above it, the table
/// redrawn at once); elsewhere they are plain lines on stderr (`{"note": ...}` with `--json`).
/// Every note is also kept for the next JSON line.
#[derive(Debug)]
pub struct SyncReporter {
    table: Arc<Mutex<SyncTable>>,
    live: bool,
    json: bool,
    notes: Notes,
}

impl SyncReporter {
    pub fn new(table: Arc<Mutex<SyncTable>>, live: bool, json: bool, notes: Notes) -> Self {
        SyncReporter {
            table,
            live,
            json,
            notes,
        }
    }

    /// `value` as a JSON line, with the notes shown since the last one.
    pub fn json_line(&self, value: &impl Serialize) -> serde_json::Result<serde_json::Value> {
        self.notes.document(value)
    }
}

impl Reporter for SyncReporter {
    fn started(&self, _task: &str, _total: Option<u64>) {}
    fn advanced(&self, _task: &str, _amount: u64) {}
    fn finished(&self, _task: &str) {}
    fn message(&self, text: &str) {
        let text = &printable(text);
        self.notes.keep(text);
        if crate::output::verbosity() == crate::output::Verbosity::Quiet {
            return;
        }
        if self.live
            && let Ok(mut table) = self.table.lock()
        {
            table.pending.push(text.to_owned());
            table.print(true);
        } else if self.json {
            eprintln!("{}", serde_json::json!({ "note": text }));
        } else {
            eprintln!("{} {text}", crate::output::note_label());
        }
    }
}

/// `sync --reapply FILE`: per entity, what was re-read and written.
pub fn reapply(summary: &SyncSummary, records: &RepairList, file: &Path) {
    for entity in &summary.entities {
        say!(
            "{:<24} {} records re-read: {} written with the source's version, {} deleted (gone from the source), {} rejected",
            entity.entity,
            entity.fetched + entity.deleted,
            entity.upserted,
            entity.deleted,
            entity.rejected
        );
    }
    outcome!(
        "Reapplied {} records from {}.",
        records.values().map(|ids| ids.len()).sum::<usize>(),
        file.display()
    );
}

/// The gates, then the verdict and where the report is.
pub fn cutover(report: &CutoverReport, report_file: &Path) {
    for gate in &report.gates {
        say!(
            "{:<22} {:<6} {}",
            gate.name,
            if gate.passed {
                console::style("ok").green()
            } else {
                console::style("NO").red().bold()
            },
            gate.figure
        );
        if let Some(remedy) = &gate.remedy {
            say!("{:<29} → {remedy}", "");
        }
    }
    let verdict = match (report.go, report.cut_over) {
        (true, true) => format!(
            "GO: cut over at {}; the foreign keys are back and no sync will write into schema {:?} again.",
            report.times.switched.as_deref().unwrap_or("-"),
            report.pg_schema
        ),
        (true, false) => "GO (rehearsal: nothing was switched).".to_owned(),
        (false, _) => "NO-GO: fix the gates marked NO and run again.".to_owned(),
    };
    let verdict = if report.go {
        console::style(verdict).green().bold()
    } else {
        console::style(verdict).red().bold()
    };
    outcome!("{verdict} Report: {}", report_file.display());
}

/// `cutover --undo` done.
pub fn undone(report: &UndoReport, schema: &str) {
    outcome!(
        "Schema {schema:?} is no longer marked as cut over (the switch at {} by {} is kept in offbase.cutovers as undone). `offbase sync` may run again.{}",
        report.switched_at,
        report.switched_by,
        if report.written_after_switch.is_empty() {
            String::new()
        } else {
            " The rows written after the switch were declared exported: the next sync overwrites or deletes them.".to_owned()
        }
    );
}

/// The sync's table: per entity, totals since the command started and the last pass's lag,
/// then when the next pass starts and why then.
#[derive(Debug, Default)]
pub struct SyncTable {
    started: Option<std::time::Instant>,
    passes: u64,
    printed_lines: usize,
    rows: std::collections::BTreeMap<String, SyncRow>,
    /// Messages not shown yet, and every pass message shown (each is shown once).
    pending: Vec<String>,
    shown: std::collections::BTreeSet<String>,
    /// The line under the table: the next pass and its pacing.
    footer: Option<String>,
}

#[derive(Debug, Default)]
struct SyncRow {
    fetched: u64,
    upserted: u64,
    deleted: u64,
    rejected: u64,
    lag_seconds: Option<f64>,
    last_pass: Option<std::time::Instant>,
}

impl SyncTable {
    pub fn record(&mut self, summary: &SyncSummary, outcome: Option<&PassOutcome>) {
        let now = std::time::Instant::now();
        self.started.get_or_insert(now);
        self.passes += 1;
        for entity in &summary.entities {
            let row = self.rows.entry(entity.entity.clone()).or_default();
            row.fetched += entity.fetched;
            row.upserted += entity.upserted;
            row.deleted += entity.deleted;
            row.rejected += entity.rejected;
            row.lag_seconds = entity.lag_seconds;
            row.last_pass = Some(now);
        }
        self.footer = outcome.map(|outcome| {
            format!(
                "next pass in {:.1} s ({})",
                outcome.next_pass_in.as_secs_f64(),
                outcome.pacing
            )
        });
        for message in summary.skipped.iter().chain(&summary.added_columns) {
            if self.shown.insert(message.clone()) {
                self.pending.push(message.clone());
            }
        }
    }

    /// The run in one line: passes and totals (what `-q` prints when the sync ends).
    pub fn totals_line(&self) -> String {
        let sum = |value: fn(&SyncRow) -> u64| self.rows.values().map(value).sum::<u64>();
        format!(
            "Synced {} passes: {} fetched, {} upserted, {} deleted, {} rejected.",
            self.passes,
            sum(|row| row.fetched),
            sum(|row| row.upserted),
            sum(|row| row.deleted),
            sum(|row| row.rejected)
        )
    }

    pub fn print(&mut self, live: bool) {
        use std::io::Write;
        let elapsed = self
            .started
            .map(|started| started.elapsed().as_secs_f64())
            .unwrap_or_default()
            .max(1e-3);
        let mut out = String::new();
        if self.passes > 0 {
            self.table_lines(&mut out, elapsed);
        }
        let mut stdout = std::io::stdout().lock();
        if live && self.printed_lines > 0 {
            // Back to the table's first line, and clear to the end of the screen.
            let _ = write!(stdout, "\x1b[{}A\x1b[J", self.printed_lines);
        }
        // Messages stay above the table.
        for message in self.pending.drain(..) {
            let _ = writeln!(
                stdout,
                "{}",
                if live {
                    format!("note: {message}")
                } else {
                    message
                }
            );
        }
        let _ = write!(stdout, "{out}");
        let _ = stdout.flush();
        self.printed_lines = out.lines().count();
    }

    fn table_lines(&self, out: &mut String, elapsed: f64) {
        out.push_str(&format!(
            "pass {} after {}\n{:<24} {:>10} {:>9} {:>9} {:>8} {:>8} {:>8} {:>10}\n",
            self.passes,
            human_seconds(elapsed),
            "entity",
            "changes/s",
            "upserted",
            "deleted",
            "rejected",
            "fetched",
            "lag",
            "last poll"
        ));
        for (entity, row) in &self.rows {
            out.push_str(&format!(
                "{:<24} {:>10.1} {:>9} {:>9} {:>8} {:>8} {:>8} {:>10}\n",
                entity,
                (row.upserted + row.deleted) as f64 / elapsed,
                row.upserted,
                row.deleted,
                row.rejected,
                row.fetched,
                row.lag_seconds
                    .map(human_seconds)
                    .unwrap_or_else(|| "-".to_owned()),
                row.last_pass
                    .map(|at| format!("{} ago", human_seconds(at.elapsed().as_secs_f64())))
                    .unwrap_or_else(|| "never".to_owned())
            ));
        }
        if let Some(footer) = &self.footer {
            out.push_str(footer);
            out.push('\n');
        }
    }
}
