//! The commands of the sync period: `sync` (passes paced to the API's budget, a table redrawn in
//! place on a terminal, plain lines elsewhere) and `cutover` (the gates, the switch, `--undo`).

use crate::commands::{announced, human_seconds, runtime, workspace_client};
use crate::output::TerminalReporter;
use anyhow::{Context, bail};
use offbase_pipeline::progress::Reporter;
use offbase_pipeline::workspace::Workspace;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

pub fn sync(arguments: crate::cli::SyncArgs) -> anyhow::Result<ExitCode> {
    use offbase_pipeline::sync::{SyncOptions, reapply, sync_once};
    use offbase_pipeline::sync_loop::{Schedule, SyncEnd, run};
    let Some(url) = arguments.database.database_url.clone() else {
        bail!("sync needs a database: pass --database-url URL or set DATABASE_URL");
    };
    // On a terminal the table is redrawn in place after each pass, and notes go above it;
    // elsewhere (a log) each pass adds its lines and notes are plain lines on stderr.
    let live = std::io::IsTerminal::is_terminal(&std::io::stdout())
        && !arguments.once
        && !arguments.json
        && arguments.reapply.is_none();
    let table = Arc::new(Mutex::new(SyncTable::default()));
    let reporter: Arc<dyn Reporter> = Arc::new(SyncReporter {
        table: Arc::clone(&table),
        live,
        json: arguments.json,
    });
    let workspace = Workspace::new(&arguments.workspace);
    let notices = Arc::clone(&reporter);
    let client = workspace_client(&workspace, &arguments.api_key_env, None)?
        .with_wait_notice(Arc::new(move |text: &str| notices.message(text)));
    let mut options = SyncOptions::new(url, arguments.database.pg_schema.clone());
    options.mappings = arguments.mappings.clone();
    options.overlap = arguments.overlap;
    options.reconcile = !arguments.no_reconcile;
    options.reconcile_every = arguments.reconcile_every;
    options.soft_delete = arguments.soft_delete;
    options.schema_from = arguments.schema_from.clone();
    let runtime = runtime()?;
    if let Some(file) = &arguments.reapply {
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("cannot read the repair list {}", file.display()))?;
        let records: offbase_pipeline::cutover::RepairList = serde_json::from_str(&text)
            .with_context(|| {
                format!(
                    "{}: expected {{\"Entity\": [\"id\", ...]}}, as the cutover writes it",
                    file.display()
                )
            })?;
        let summary =
            runtime.block_on(reapply(&workspace, &client, &options, &records, &*reporter))?;
        if arguments.json {
            println!("{}", serde_json::to_string(&summary)?);
        } else {
            for entity in &summary.entities {
                println!(
                    "{:<24} {} records re-read: {} written with the source's version, {} deleted (gone from the source), {} rejected",
                    entity.entity,
                    entity.fetched + entity.deleted,
                    entity.upserted,
                    entity.deleted,
                    entity.rejected
                );
            }
            println!(
                "Reapplied {} records from {}.",
                records.values().map(|ids| ids.len()).sum::<usize>(),
                file.display()
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    if arguments.once {
        let summary = runtime.block_on(sync_once(&workspace, &client, &options, &*reporter))?;
        if arguments.json {
            println!("{}", serde_json::to_string(&summary)?);
        } else if let Ok(mut table) = table.lock() {
            table.record(&summary, None);
            table.print(false);
        }
        return Ok(ExitCode::SUCCESS);
    }
    let schedule = Schedule {
        interval: arguments.interval,
        requests_per_minute: Some(arguments.requests_per_minute).filter(|limit| *limit > 0),
    };
    let stop = Arc::new(AtomicBool::new(false));
    let json = arguments.json;
    let ended = runtime.block_on(async {
        let watcher = Arc::clone(&stop);
        // Ctrl-C on a terminal, SIGTERM from `kill` or a service manager: the pass in flight
        // finishes, then the sync exits 0.
        tokio::spawn(async move {
            #[cfg(unix)]
            {
                use tokio::signal::unix::{SignalKind, signal};
                if let Ok(mut terminate) = signal(SignalKind::terminate()) {
                    tokio::select! {
                        _ = tokio::signal::ctrl_c() => {}
                        _ = terminate.recv() => {}
                    }
                    watcher.store(true, Ordering::SeqCst);
                    return;
                }
            }
            if tokio::signal::ctrl_c().await.is_ok() {
                watcher.store(true, Ordering::SeqCst);
            }
        });
        let stopped = Arc::clone(&stop);
        let mut on_pass = |outcome: &offbase_pipeline::sync_loop::PassOutcome| {
            if json {
                // The pass's summary, with its pacing: what the sync waits for until the next.
                let mut line = serde_json::to_value(&outcome.summary).unwrap_or_default();
                if let Some(fields) = line.as_object_mut() {
                    fields.insert("requests".into(), outcome.requests.into());
                    fields.insert("period_seconds".into(), outcome.period.as_secs_f64().into());
                    fields.insert(
                        "next_pass_in_seconds".into(),
                        outcome.next_pass_in.as_secs_f64().into(),
                    );
                    fields.insert("pacing".into(), outcome.pacing.clone().into());
                }
                println!("{line}");
            } else if let Ok(mut table) = table.lock() {
                table.record(&outcome.summary, Some(outcome));
                table.print(live);
            }
        };
        run(
            &workspace,
            &client,
            &options,
            schedule,
            &move || stopped.load(Ordering::SeqCst),
            &mut on_pass,
            &*reporter,
        )
        .await
    })?;
    if let SyncEnd::CutOver(mark) = ended {
        let text = format!(
            "schema {:?} was cut over at {} (by {}): the sync stops; nothing was written after the switch",
            mark.pg_schema, mark.at, mark.by
        );
        reporter.message(&text);
    }
    Ok(ExitCode::SUCCESS)
}

/// The sync's reporter: on a terminal, notes join the table (printed above it, the table
/// redrawn at once); elsewhere they are plain lines on stderr.
struct SyncReporter {
    table: Arc<Mutex<SyncTable>>,
    live: bool,
    json: bool,
}

impl Reporter for SyncReporter {
    fn started(&self, _task: &str, _total: Option<u64>) {}
    fn advanced(&self, _task: &str, _amount: u64) {}
    fn finished(&self, _task: &str) {}
    fn message(&self, text: &str) {
        let text = &crate::output::printable(text);
        if self.live
            && let Ok(mut table) = self.table.lock()
        {
            table.pending.push(text.to_owned());
            table.print(true);
        } else if self.json {
            eprintln!("{}", serde_json::json!({ "note": text }));
        } else {
            eprintln!("note: {text}");
        }
    }
}

pub fn cutover(arguments: crate::cli::CutoverArgs) -> anyhow::Result<ExitCode> {
    use offbase_pipeline::cutover::{CutoverOptions, cutover, report_stem};
    use offbase_pipeline::sync::SyncOptions;
    let reporter = Arc::new(TerminalReporter::new(arguments.json));
    let Some(url) = arguments.database.database_url.clone() else {
        bail!("cutover needs a database: pass --database-url URL or set DATABASE_URL");
    };
    let workspace = Workspace::new(&arguments.workspace);
    if arguments.undo {
        return undo(&arguments, &workspace, &url, &reporter);
    }
    let client = announced(
        workspace_client(&workspace, &arguments.api_key_env, None)?,
        &reporter,
    );
    let mut sync = SyncOptions::new(url, arguments.database.pg_schema.clone());
    sync.mappings = arguments.mappings.clone();
    let mut options = CutoverOptions::new(sync);
    options.dry_run = arguments.dry_run;
    options.freeze_confirmed = arguments.freeze_confirmed;
    options.quiet = arguments.quiet;
    options.freeze_timeout = arguments.freeze_timeout;
    options.max_lag = arguments.max_lag;
    options.rejects_reviewed = arguments.rejects_reviewed;
    options.orphans_acknowledged = arguments.orphans_acknowledged;
    let report = runtime()?.block_on(cutover(&workspace, &client, &options, reporter.clone()))?;
    reporter.clear();
    if arguments.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        for gate in &report.gates {
            println!(
                "{:<22} {:<6} {}",
                gate.name,
                if gate.passed { "ok" } else { "NO" },
                gate.figure
            );
            if let Some(remedy) = &gate.remedy {
                println!("{:<29} → {remedy}", "");
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
        println!(
            "{verdict} Report: {}",
            workspace
                .reports_dir()
                .join(format!("{}.md", report_stem(report.dry_run)))
                .display()
        );
    }
    Ok(if report.go {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// `cutover --undo`: lifts the mark, unless the new backend wrote rows since the switch and
/// `--discard-writes-after-switch` was not given.
fn undo(
    arguments: &crate::cli::CutoverArgs,
    workspace: &Workspace,
    url: &str,
    reporter: &Arc<TerminalReporter>,
) -> anyhow::Result<ExitCode> {
    let schema = &arguments.database.pg_schema;
    let report = runtime()?.block_on(offbase_pipeline::cutover::undo(
        workspace,
        url,
        schema,
        arguments.mappings.as_deref(),
        arguments.discard_writes_after_switch,
        &**reporter,
    ))?;
    if arguments.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    }
    if !report.undone {
        let tables: Vec<String> = report
            .written_after_switch
            .iter()
            .map(|(table, rows)| format!("{table}: {rows}"))
            .collect();
        bail!(
            "schema {schema:?} stays cut over: the new backend wrote rows after the switch at {} ({}). A sync would overwrite or delete them. Export them first, e.g. `\\copy (SELECT * FROM {schema}.<table> WHERE updated_date > '{}') TO '<table>.csv' CSV HEADER` in psql, and re-enter them in Base44; then run `offbase cutover --undo --discard-writes-after-switch`",
            report.switched_at,
            tables.join(", "),
            report.switched_at
        );
    }
    if !arguments.json {
        println!(
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
    Ok(ExitCode::SUCCESS)
}

/// The sync's table: per entity, totals since the command started and the last pass's lag,
/// then when the next pass starts and why then.
#[derive(Debug, Default)]
struct SyncTable {
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
    fn record(
        &mut self,
        summary: &offbase_pipeline::sync::SyncSummary,
        outcome: Option<&offbase_pipeline::sync_loop::PassOutcome>,
    ) {
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

    fn print(&mut self, live: bool) {
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
