//! The sync period: `offbase sync` (passes paced to the API's budget, `--once`, `--reapply`)
//! and `offbase cutover` (the gates, the switch, `--undo`).

use super::{Context, announced, exit_code, runtime, workspace_client};
use crate::cli::{CutoverArgs, SyncArgs};
use crate::output::TerminalReporter;
use crate::print::{SyncReporter, SyncTable};
use anyhow::{Context as _, bail};
use offbase_pipeline::progress::Reporter;
use offbase_pipeline::target::Target;
use offbase_pipeline::workspace::Workspace;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

pub fn sync(arguments: SyncArgs, context: &Context) -> anyhow::Result<ExitCode> {
    use offbase_pipeline::sync::continuous::{Schedule, SyncEnd, run};
    use offbase_pipeline::sync::{SyncOptions, reapply, sync_once};
    let json = arguments.output.json;
    let target = arguments
        .target
        .target("sync needs a database", arguments.workspace.mappings())?;
    // On a terminal the table is redrawn in place after each pass, and notes go above it;
    // elsewhere (a log) each pass adds its lines and notes are plain lines on stderr.
    let live = std::io::IsTerminal::is_terminal(&std::io::stdout())
        && !arguments.once
        && !json
        && arguments.reapply.is_none();
    let table = Arc::new(Mutex::new(SyncTable::default()));
    let reporter = Arc::new(SyncReporter::new(
        Arc::clone(&table),
        live,
        json,
        context.notes(),
    ));
    context.announce(&*reporter);
    let workspace = arguments.workspace.workspace();
    let notices = Arc::clone(&reporter);
    let client = workspace_client(&workspace, &arguments.key.api_key_env, None)?
        .with_wait_notice(Arc::new(move |text: &str| notices.message(text)));
    let mut options = SyncOptions::for_target(&target);
    options.overlap = arguments.overlap;
    options.reconcile = !arguments.no_reconcile;
    options.reconcile_every = arguments.reconcile_every;
    options.soft_delete = arguments.soft_delete;
    options.schema_from = arguments.schema_from.clone();
    let runtime = runtime()?;
    if let Some(file) = &arguments.reapply {
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("cannot read the repair list {}", file.display()))?;
        let records: offbase_pipeline::sync::cutover::RepairList = serde_json::from_str(&text)
            .with_context(|| {
                format!(
                    "{}: expected {{\"Entity\": [\"id\", ...]}}, as the cutover writes it",
                    file.display()
                )
            })?;
        let summary =
            runtime.block_on(reapply(&workspace, &client, &options, &records, &*reporter))?;
        if json {
            println!("{}", reporter.json_line(&summary)?);
        } else {
            crate::print::reapply(&summary, &records, file);
        }
        return Ok(ExitCode::SUCCESS);
    }
    if arguments.once {
        let summary = runtime.block_on(sync_once(&workspace, &client, &options, &*reporter))?;
        if json {
            println!("{}", reporter.json_line(&summary)?);
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
        let mut on_pass = |outcome: &offbase_pipeline::sync::continuous::PassOutcome| {
            if json {
                // The pass's summary, with its pacing: what the sync waits for until the next.
                let mut line = reporter.json_line(&outcome.summary).unwrap_or_default();
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
                // With -q the table is not shown: the summary after the last pass is.
                if crate::output::verbosity() != crate::output::Verbosity::Quiet {
                    table.print(live);
                }
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
    // The page's lag chart up to the last pass (the sync refreshes it only every 60 passes).
    if let Err(error) = offbase_pipeline::page::write_index(&workspace) {
        reporter.message(&format!("reports/index.html was not written: {error}"));
    }
    if !json
        && crate::output::verbosity() == crate::output::Verbosity::Quiet
        && let Ok(table) = table.lock()
    {
        println!("{}", table.totals_line());
    }
    if let SyncEnd::CutOver(mark) = ended {
        let text = format!(
            "schema {:?} was cut over at {} (by {}): the sync stops; nothing was written after the switch",
            mark.pg_schema, mark.at, mark.by
        );
        reporter.message(&text);
    }
    Ok(ExitCode::SUCCESS)
}

pub fn cutover(arguments: CutoverArgs, context: &Context) -> anyhow::Result<ExitCode> {
    use offbase_pipeline::sync::SyncOptions;
    use offbase_pipeline::sync::cutover::{CutoverOptions, cutover, report_stem};
    let json = arguments.output.json;
    let reporter = context.reporter(json);
    let target = arguments
        .target
        .target("cutover needs a database", arguments.workspace.mappings())?;
    let workspace = arguments.workspace.workspace();
    if arguments.undo {
        return undo(&arguments, &workspace, &target, &reporter);
    }
    let client = announced(
        workspace_client(&workspace, &arguments.key.api_key_env, None)?,
        &reporter,
    );
    let mut options = CutoverOptions::new(SyncOptions::for_target(&target));
    options.dry_run = arguments.dry_run;
    options.freeze_confirmed = arguments.freeze_confirmed;
    options.quiet = arguments.quiet_period;
    options.freeze_timeout = arguments.freeze_timeout;
    options.max_lag = arguments.max_lag;
    options.rejects_reviewed = arguments.rejects_reviewed;
    options.orphans_acknowledged = arguments.orphans_acknowledged;
    options.file_urls_acknowledged = arguments.file_urls_acknowledged;
    let report = runtime()?.block_on(cutover(&workspace, &client, &options, reporter.clone()))?;
    reporter.clear();
    if json {
        println!("{}", reporter.json(&report)?);
    } else {
        let stem = report_stem(report.dry_run);
        crate::print::cutover(&report, &workspace.reports_dir().join(format!("{stem}.md")));
    }
    Ok(exit_code(report.go))
}

/// `cutover --undo`: lifts the mark, unless the new backend wrote rows since the switch and
/// `--discard-writes-after-switch` was not given.
fn undo(
    arguments: &CutoverArgs,
    workspace: &Workspace,
    target: &Target,
    reporter: &Arc<TerminalReporter>,
) -> anyhow::Result<ExitCode> {
    let schema = &target.pg_schema;
    let report = runtime()?.block_on(offbase_pipeline::sync::cutover::undo(
        workspace,
        target,
        arguments.discard_writes_after_switch,
        &**reporter,
    ))?;
    if arguments.output.json {
        println!("{}", reporter.json(&report)?);
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
    if !arguments.output.json {
        crate::print::undone(&report, schema);
    }
    Ok(ExitCode::SUCCESS)
}
