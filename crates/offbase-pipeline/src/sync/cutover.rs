//! The cutover: the gates that must all pass before the app is pointed at PostgreSQL, the
//! steps around the write freeze, and the report (`reports/cutover.md` and `.json`).
//!
//! In order: the sync must have run recently (lag gate); the source must be quiet (the write
//! freeze: no record changed for `quiet` seconds, unless the freeze is confirmed); a final
//! sync pass; a final verification against a fresh pull of the source (counts and content
//! hashes per entity; where they differ, the row-level `diff data` names the records); no
//! unreviewed rejects; foreign-key orphans counted and acknowledged.
//! When every gate passes and it is not a dry run, the foreign keys the sync took off are
//! added back (validated where no orphans exist) and the schema is marked as cut over
//! (`offbase.cutovers`), in one transaction: from then on no sync writes into it.
//!
//! The cutover takes the target lock before its final sync pass and holds it to the end, so a
//! sync still running waits, then finds the mark and stops. A schema already cut over is
//! refused, dry run or not; [`undo`] lifts the mark for a rollback, after counting the rows the
//! new backend wrote since. The real run's report is `reports/cutover.md` and `.json`;
//! rehearsals write `reports/cutover-dry-run.*`, and a report of a switch is never overwritten.

use crate::PipelineError;
use crate::compare::verify::verify;
use crate::files::rewrite::{RemainingUrls, remaining_urls};
use crate::migrate::{Destination, MigrateOptions, MigrateSource, migrate};
use crate::plan::plan_workspace;
use crate::progress::{NoProgress, Reporter};
pub use crate::sync::undo::{UndoReport, undo};
use crate::sync::{SyncOptions, status, sync_pass};
use crate::workspace::Workspace;
use offbase_base44::client::{Client, ListQuery};
use offbase_model::BuiltIn;
use offbase_pg::load as pg_load;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct CutoverOptions {
    pub sync: SyncOptions,
    /// The longest time since an entity's last sync pass that still passes the lag gate.
    pub max_lag: Duration,
    /// How long the source must have been quiet to count as frozen.
    pub quiet: Duration,
    /// How long to wait for the source to go quiet.
    pub freeze_timeout: Duration,
    /// The operator confirms writes are frozen: no waiting for quiet.
    pub freeze_confirmed: bool,
    /// Rejects were reviewed: they do not stop the cutover.
    pub rejects_reviewed: bool,
    /// Orphans are acknowledged: their foreign keys stay NOT VALID.
    pub orphans_acknowledged: bool,
    /// Values still pointing at Base44's file storage are acknowledged.
    pub file_urls_acknowledged: bool,
    /// Everything but the final step.
    pub dry_run: bool,
}

impl CutoverOptions {
    pub fn new(sync: SyncOptions) -> Self {
        CutoverOptions {
            sync,
            max_lag: Duration::from_secs(120),
            quiet: Duration::from_secs(30),
            freeze_timeout: Duration::from_secs(600),
            freeze_confirmed: false,
            rejects_reviewed: false,
            orphans_acknowledged: false,
            file_urls_acknowledged: false,
            dry_run: false,
        }
    }
}

/// One gate: its name, the figure it judged, and whether it passed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Gate {
    pub name: String,
    pub passed: bool,
    pub figure: String,
    /// What to do when it did not pass.
    pub remedy: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CutoverReport {
    pub pg_schema: String,
    pub dry_run: bool,
    pub go: bool,
    /// Whether the final step ran (go and not a dry run).
    pub cut_over: bool,
    pub gates: Vec<Gate>,
    /// Seconds each step took, in order.
    pub timings: Vec<(String, f64)>,
    /// When each step happened (UTC, ISO 8601).
    #[serde(default)]
    pub times: CutoverTimes,
    /// The run, as the mark in the target names it.
    #[serde(default)]
    pub run: String,
    /// Records the data gate found different, for a reviewed repair (`offbase sync --reapply`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repair_file: Option<String>,
}

/// When the cutover's steps happened (UTC, ISO 8601); a step that did not run has none.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CutoverTimes {
    pub started: Option<String>,
    /// When the write freeze was established (quiet observed, or confirmed).
    pub freeze: Option<String>,
    /// When the final sync pass finished.
    pub final_sync: Option<String>,
    /// When the schema was switched: the time of the mark in `offbase.cutovers`.
    pub switched: Option<String>,
}

/// The records the data gate found different, per entity (a file the operator reviews before
/// `offbase sync --reapply` puts the source's version back).
pub type RepairList = std::collections::BTreeMap<String, std::collections::BTreeSet<String>>;

fn now_iso() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.6fZ")
        .to_string()
}

/// The most records named per kind of finding in the data gate's figure.
const FINDINGS_NAMED: usize = 3;

/// The data gate's row-level findings: per entity, the records missing on one side and the
/// records with other values (with the fields), a few named, the rest counted.
fn row_findings(diff: &crate::compare::diff::DataDiff) -> Vec<String> {
    let name = |ids: Vec<String>| {
        let shown: Vec<&String> = ids.iter().take(FINDINGS_NAMED).collect();
        let more = ids.len().saturating_sub(FINDINGS_NAMED);
        let mut text = shown
            .iter()
            .map(|id| id.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        if more > 0 {
            text.push_str(&format!(" and {more} more"));
        }
        text
    };
    let mut findings = Vec::new();
    for entity in &diff.entities {
        let missing: Vec<String> = entity
            .missing_in_target
            .iter()
            .filter(|id| !entity.rejected.contains(id))
            .cloned()
            .collect();
        if !missing.is_empty() {
            findings.push(format!(
                "{}: {} missing in the target ({})",
                entity.entity,
                missing.len(),
                name(missing.clone())
            ));
        }
        if !entity.missing_in_source.is_empty() {
            findings.push(format!(
                "{}: {} only in the target ({})",
                entity.entity,
                entity.missing_in_source.len(),
                name(entity.missing_in_source.clone())
            ));
        }
        if !entity.different.is_empty() {
            let described: Vec<String> = entity
                .different
                .iter()
                .map(|record| format!("{} ({})", record.id, record.fields.join(", ")))
                .collect();
            findings.push(format!(
                "{}: {} with other values ({})",
                entity.entity,
                entity.different.len(),
                name(described)
            ));
        }
    }
    findings
}

/// Runs the cutover (or its rehearsal) and writes the report into the workspace.
pub async fn cutover(
    workspace: &Workspace,
    client: &Client,
    options: &CutoverOptions,
    reporter: Arc<dyn Reporter>,
) -> Result<CutoverReport, PipelineError> {
    let pg_schema = options.sync.target.pg_schema.clone();
    let run = crate::lock::run_name(if options.dry_run {
        "cutover --dry-run"
    } else {
        "cutover"
    });
    let mut times = CutoverTimes {
        started: Some(now_iso()),
        ..CutoverTimes::default()
    };
    // A schema that was switched is refused before anything runs: a rehearsal's final sync
    // would write into it, and its report would stand beside the record of the switch.
    let mut connection = offbase_pg::connect(&options.sync.target.database_url).await?;
    pg_load::prepare_state(&mut connection).await?;
    offbase_pg::cutover::refuse_if_cut_over(&mut connection, &pg_schema).await?;
    // The fresh pull is compared through the URL map of the workspace that was loaded.
    let settled = options
        .sync
        .target
        .settled(&mut connection)
        .await?
        .with_url_map(workspace)?;
    let mut gates = Vec::new();
    let mut timings = Vec::new();
    let mut step = Instant::now();
    let mut lap = |name: &str, timings: &mut Vec<(String, f64)>| {
        timings.push((name.to_owned(), step.elapsed().as_secs_f64()));
        step = Instant::now();
    };

    // 1. The sync has been keeping up.
    let before = status(&options.sync.target.database_url, &pg_schema).await?;
    let output = plan_workspace(workspace, settled.mappings.as_ref(), &NoProgress)?;
    let mut worst: Option<f64> = Some(0.0);
    for table in output
        .target
        .tables
        .iter()
        .filter(|table| table.junction.is_none())
    {
        let since = before
            .entities
            .iter()
            .find(|entity| entity.entity == table.entity)
            .and_then(|entity| entity.since_last_pass_seconds);
        worst = match (worst, since) {
            (Some(worst), Some(since)) => Some(worst.max(since)),
            _ => None,
        };
    }
    let lag_ok = worst.is_some_and(|worst| worst <= options.max_lag.as_secs_f64());
    gates.push(Gate {
        name: "sync lag".into(),
        passed: lag_ok,
        figure: match worst {
            Some(worst) => format!(
                "the oldest last pass is {worst:.1} s ago (limit {} s)",
                options.max_lag.as_secs()
            ),
            None => "an entity was never synced".into(),
        },
        remedy: (!lag_ok)
            .then(|| "keep `offbase sync` running until every entity has passed recently".into()),
    });
    lap("lag gate", &mut timings);

    // 2. The write freeze.
    let freeze = if options.freeze_confirmed {
        Gate {
            name: "write freeze".into(),
            passed: true,
            figure: "confirmed by the operator (--freeze-confirmed)".into(),
            remedy: None,
        }
    } else {
        wait_for_quiet(client, &output.app, options, &*reporter).await?
    };
    if freeze.passed {
        times.freeze = Some(now_iso());
    }
    gates.push(freeze);
    lap("write freeze", &mut timings);

    // 3. The final sync pass, then 4. the final verification against a fresh pull. From here
    // to the end the cutover holds the target lock: a sync still running finishes its pass,
    // then waits, and after a switch finds the mark and stops.
    crate::lock::lock_target(&mut connection, &pg_schema, "cutover", &*reporter).await?;
    let passed = sync_pass(
        workspace,
        client,
        &options.sync,
        &mut connection,
        &*reporter,
    )
    .await?;
    times.final_sync = Some(now_iso());
    let applied: u64 = passed
        .entities
        .iter()
        .map(|entity| entity.upserted + entity.deleted)
        .sum();
    lap("final sync", &mut timings);
    let snapshot = Workspace::new(workspace.cutover_dir().join("snapshot"));
    if snapshot.root().exists() {
        std::fs::remove_dir_all(snapshot.root())
            .map_err(|error| PipelineError::io(snapshot.root(), error))?;
    }
    let snapshot_options = MigrateOptions {
        files: None,
        source: MigrateSource::Api {
            client: Box::new(client.clone()),
            schema_from: workspace.schemas_dir(),
        },
        workspace: snapshot.clone(),
        mappings: settled.mappings.clone(),
        destination: Destination::Bundle {
            path: workspace.cutover_dir().join("snapshot.sql"),
            options: crate::load::bundle::BundleOptions {
                pg_schema: pg_schema.clone(),
                mappings: settled.mappings.clone(),
                relax: settled.relax,
                rewrite_urls: false,
                rls: Default::default(),
            },
        },
    };
    migrate(&snapshot_options, Arc::clone(&reporter)).await?;
    let compared = verify(&snapshot, &settled, &*reporter).await?;
    let differing: Vec<String> = compared
        .entities
        .iter()
        .filter(|entity| !entity.matches())
        .map(|entity| {
            format!(
                "{} ({} rows in the source, {} in the target{})",
                entity.entity,
                entity.expected_rows,
                entity.actual_rows,
                if entity.expected_rows == entity.actual_rows {
                    ", contents differ"
                } else {
                    ""
                }
            )
        })
        .collect();
    // Where the hashes differ, the row-level diff of the fresh pull against the target names
    // the records (its report lands in the snapshot's reports folder).
    let repair_path = workspace.cutover_dir().join("repair.json");
    let (findings, repair) = if differing.is_empty() {
        (Vec::new(), RepairList::new())
    } else {
        let diff = crate::compare::diff::diff_data(&snapshot, &settled, &NoProgress).await?;
        crate::compare::diff::write_reports(&snapshot, &diff)?;
        (row_findings(&diff), repair_list(&diff))
    };
    let repair_file = if repair.is_empty() {
        if repair_path.exists() {
            std::fs::remove_file(&repair_path)
                .map_err(|error| PipelineError::io(&repair_path, error))?;
        }
        None
    } else {
        workspace.write_json(&repair_path, &repair)?;
        Some(repair_path.display().to_string())
    };
    gates.push(Gate {
        name: "data".into(),
        passed: differing.is_empty(),
        figure: if differing.is_empty() {
            format!(
                "{} entities: counts and content hashes equal to a fresh pull; the final sync applied {applied} changes",
                compared.entities.len()
            )
        } else if findings.is_empty() {
            format!("differs: {}", differing.join(", "))
        } else {
            format!(
                "differs: {}; {}",
                differing.join(", "),
                findings.join("; ")
            )
        },
        remedy: (!differing.is_empty()).then(|| {
            let diff_file = snapshot.reports_dir().join("diff-data.md");
            match &repair_file {
                // A row changed in the target alone keeps its `updated_date`: the sync never
                // reads its record again, so "sync again" would not fix it.
                Some(file) => format!(
                    "read {} (every differing record, with a diff). Where the target is wrong (a row changed, added or lost in PostgreSQL alone, which no sync reads again), review {file} (the {} records, by entity) and put the source's version back with `offbase sync --workspace {} --pg-schema {pg_schema} --reapply {file}`; where the source changed, let the sync run. Then run the cutover again",
                    diff_file.display(),
                    repair.values().map(|ids| ids.len()).sum::<usize>(),
                    workspace.root().display(),
                ),
                None => format!(
                    "read {} (every differing record, with a diff), fix the cause, sync again",
                    diff_file.display()
                ),
            }
        }),
    });
    lap("final verification", &mut timings);

    // 5. Rejects reviewed.
    let rejects = count_rejects(workspace)?;
    let rejects_ok = rejects == 0 || options.rejects_reviewed;
    gates.push(Gate {
        name: "rejects".into(),
        passed: rejects_ok,
        figure: format!(
            "{rejects} rejected records in reports/rejects{}",
            if rejects > 0 && options.rejects_reviewed {
                " (reviewed: --rejects-reviewed)"
            } else {
                ""
            }
        ),
        remedy: (!rejects_ok).then(|| {
            "read reports/rejects/*.jsonl, fix what must move, then pass --rejects-reviewed".into()
        }),
    });

    // 6. Orphans of the foreign keys the cutover adds back.
    let mut orphans = Vec::new();
    for key in &output.target.foreign_keys {
        let id_column = crate::load::referencing_id_column(&output.target, key);
        let (count, sample) =
            pg_load::count_orphans(&mut connection, &pg_schema, key, &id_column, 3).await?;
        if count > 0 {
            orphans.push(format!(
                "{}.{} → {}: {count} (e.g. {})",
                key.table,
                key.column,
                key.target_table,
                sample.join(", ")
            ));
        }
    }
    let orphans_ok = orphans.is_empty() || options.orphans_acknowledged;
    gates.push(Gate {
        name: "foreign-key orphans".into(),
        passed: orphans_ok,
        figure: if orphans.is_empty() {
            "none".into()
        } else {
            format!(
                "{}{}",
                orphans.join("; "),
                if options.orphans_acknowledged {
                    " (acknowledged)"
                } else {
                    ""
                }
            )
        },
        remedy: (!orphans_ok).then(|| {
            "fix the references, or pass --orphans-acknowledged to keep those keys NOT VALID".into()
        }),
    });
    lap("rejects and orphans", &mut timings);

    // 7. No loaded value still points at Base44's file storage, which goes with the app.
    let remaining = remaining_urls(
        &mut connection,
        &pg_schema,
        &output.target.tables,
        FILE_EXAMPLES,
    )
    .await?;
    gates.push(file_gate(&remaining, options.file_urls_acknowledged));
    lap("file URLs", &mut timings);

    let go = gates.iter().all(|gate| gate.passed);
    let mut report = CutoverReport {
        pg_schema: pg_schema.clone(),
        dry_run: options.dry_run,
        go,
        cut_over: false,
        gates,
        timings,
        times,
        run: run.clone(),
        repair_file,
    };
    if go && !options.dry_run {
        // The final step, in one transaction: the foreign keys back (validated where no
        // orphans exist) and the mark that ends the sync period.
        let load_sql = offbase_sql::render_for_load(&output.target, settled.relax);
        let mut transaction = offbase_pg::begin(&mut connection).await?;
        for (key, constraint) in output
            .target
            .foreign_keys
            .iter()
            .zip(&load_sql.foreign_keys)
        {
            crate::load::add_foreign_key(
                &mut transaction,
                &pg_schema,
                &output.target,
                key,
                &constraint.sql,
            )
            .await?;
        }
        report.cut_over = true;
        let recorded = serde_json::to_value(&report).unwrap_or_default();
        let mark =
            offbase_pg::cutover::write_mark(&mut transaction, &pg_schema, &run, &recorded).await?;
        offbase_pg::commit(transaction).await?;
        report.times.switched = Some(mark.at);
        lap("foreign keys back and switch", &mut report.timings);
    }
    offbase_pg::cutover::unlock_target(&mut connection, &pg_schema).await?;
    write_report(workspace, &report)?;
    Ok(report)
}

/// Every record the row-level diff found different (missing on either side, or with other
/// values), per entity; rejected records are left out (they are the rejects gate's).
fn repair_list(diff: &crate::compare::diff::DataDiff) -> RepairList {
    let mut list = RepairList::new();
    for entity in &diff.entities {
        let ids = entity
            .missing_in_target
            .iter()
            .filter(|id| !entity.rejected.contains(id))
            .chain(&entity.missing_in_source)
            .cloned()
            .chain(entity.different.iter().map(|record| record.id.clone()));
        let ids: std::collections::BTreeSet<String> = ids.collect();
        if !ids.is_empty() {
            list.insert(entity.entity.clone(), ids);
        }
    }
    list
}

/// Waits until no record of any entity changed for `quiet`, or the timeout.
async fn wait_for_quiet(
    client: &Client,
    app: &offbase_model::App,
    options: &CutoverOptions,
    reporter: &dyn Reporter,
) -> Result<Gate, PipelineError> {
    let started = Instant::now();
    let mut last_notice: Option<Instant> = None;
    let updated = BuiltIn::UpdatedDate.field_name();
    loop {
        let mut newest: Option<i64> = None;
        for entity in &app.entities {
            let page = client
                .list(
                    &entity.name,
                    &ListQuery {
                        sort: Some(format!("-{updated}")),
                        limit: Some(1),
                        fields: Some(vec![updated.to_owned()]),
                        ..ListQuery::default()
                    },
                )
                .await?;
            let instant = page
                .first()
                .and_then(|record| record.get(updated))
                .and_then(Value::as_str)
                .and_then(offbase_model::time::parse_timestamp)
                .map(|instant| instant.timestamp_micros());
            newest = newest.max(instant);
        }
        let now = chrono::Utc::now().timestamp_micros();
        let quiet_for = newest.map_or(f64::INFINITY, |newest| (now - newest) as f64 / 1e6);
        if quiet_for >= options.quiet.as_secs_f64() {
            return Ok(Gate {
                name: "write freeze".into(),
                passed: true,
                figure: if quiet_for.is_finite() {
                    format!("the source has been quiet for {quiet_for:.0} s")
                } else {
                    "the source holds no record".into()
                },
                remedy: None,
            });
        }
        if options.dry_run || started.elapsed() >= options.freeze_timeout {
            return Ok(Gate {
                name: "write freeze".into(),
                passed: false,
                figure: format!(
                    "the last write was {quiet_for:.1} s ago (needs {} s of quiet: --quiet-period)",
                    options.quiet.as_secs()
                ),
                remedy: Some(
                    "freeze writes in the old app (maintenance mode), then run again, or pass --freeze-confirmed".into(),
                ),
            });
        }
        if last_notice.is_none_or(|at: Instant| at.elapsed() >= crate::lock::NOTICE_EVERY) {
            reporter.message(&format!(
                "waiting for the write freeze: the last write was {quiet_for:.0} s ago, {} s of quiet needed (gives up after {} s, {:.0} s so far)",
                options.quiet.as_secs(),
                options.freeze_timeout.as_secs(),
                started.elapsed().as_secs_f64()
            ));
            last_notice = Some(Instant::now());
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

fn count_rejects(workspace: &Workspace) -> Result<u64, PipelineError> {
    let folder = workspace.rejects_dir();
    let Ok(entries) = std::fs::read_dir(&folder) else {
        return Ok(0);
    };
    // Records, not lines: one the load rejected and each sync pass rejected again (its line
    // in `<Entity>.jsonl` and in `sync-<Entity>.jsonl`) is one record to review. A line
    // without an id, or one that does not read as a reject (an edited file), counts alone:
    // nothing in the folder goes uncounted.
    let mut records = std::collections::BTreeSet::new();
    let mut without_id = 0;
    for entry in entries.flatten() {
        let path = entry.path();
        if path
            .extension()
            .is_none_or(|extension| extension != "jsonl")
        {
            continue;
        }
        let file = std::fs::File::open(&path).map_err(|error| PipelineError::io(&path, error))?;
        for line in std::io::BufRead::lines(std::io::BufReader::new(file)) {
            let line = line.map_err(|error| PipelineError::io(&path, error))?;
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str::<crate::workspace::rejects::RejectLine>(&line) {
                Ok(crate::workspace::rejects::RejectLine {
                    entity,
                    id: Some(id),
                    ..
                }) => {
                    records.insert((entity, id));
                }
                _ => without_id += 1,
            }
        }
    }
    Ok(records.len() as u64 + without_id)
}

/// Where a cutover's report goes: `reports/cutover.*` for real runs, `reports/cutover-dry-run.*`
/// for rehearsals (the file stem).
pub fn report_stem(dry_run: bool) -> &'static str {
    if dry_run {
        "cutover-dry-run"
    } else {
        "cutover"
    }
}

/// Writes the report. A real run's report that records a switch is the record of what moved:
/// a later real run (after an undo) first moves it aside to `cutover-<switch time>.*`.
fn write_report(workspace: &Workspace, report: &CutoverReport) -> Result<(), PipelineError> {
    let folder = workspace.reports_dir();
    let stem = report_stem(report.dry_run);
    let json_path = folder.join(format!("{stem}.json"));
    if !report.dry_run {
        let earlier: Option<CutoverReport> = workspace.read_json(&json_path).ok().flatten();
        if let Some(earlier) = earlier.filter(|earlier| earlier.cut_over) {
            let when: String = earlier
                .times
                .switched
                .as_deref()
                .unwrap_or("earlier")
                .chars()
                .map(|character| {
                    if character.is_ascii_alphanumeric() {
                        character
                    } else {
                        '-'
                    }
                })
                .collect();
            for extension in ["json", "md"] {
                let from = folder.join(format!("{stem}.{extension}"));
                let to = folder.join(format!("{stem}-{when}.{extension}"));
                if from.exists() && !to.exists() {
                    std::fs::rename(&from, &to).map_err(|error| PipelineError::io(&from, error))?;
                }
            }
        }
    }
    workspace.write_json(&json_path, report)?;
    let path = folder.join(format!("{stem}.md"));
    crate::workspace::files::write_atomic(&path, cutover_report(report).as_bytes())?;
    crate::page::write_index(workspace)
}

/// Values named in the file gate's figure.
const FILE_EXAMPLES: usize = 5;

/// The file gate: passed when no loaded value points at Base44's storage, or the operator
/// acknowledged the ones that do (each column counted, the first values named).
fn file_gate(remaining: &RemainingUrls, acknowledged: bool) -> Gate {
    let total = remaining.total();
    let passed = total == 0 || acknowledged;
    let figure = if total == 0 {
        "no loaded value points at Base44's file storage".to_owned()
    } else {
        let columns: Vec<String> = remaining
            .values
            .iter()
            .map(|(column, count)| format!("{column} ({count})"))
            .collect();
        let examples: Vec<String> = remaining
            .examples
            .iter()
            .map(|example| {
                format!(
                    "{}.{} of {}: {}",
                    example.table, example.column, example.id, example.url
                )
            })
            .collect();
        format!(
            "{total} values still point at Base44's file storage: {}; e.g. {}{}",
            columns.join(", "),
            examples.join("; "),
            if acknowledged {
                " (acknowledged: --file-urls-acknowledged)"
            } else {
                ""
            }
        )
    };
    Gate {
        name: "file URLs".into(),
        passed,
        figure,
        remedy: (!passed).then(|| {
            "copy the files (`offbase files copy --public-url URL`) and rewrite the loaded URLs (`offbase files rewrite`); files that cannot be copied are in reports/rejects/files.jsonl: pass --file-urls-acknowledged to keep their URLs".into()
        }),
    }
}

/// `reports/cutover.md` (or `cutover-dry-run.md`): the gates with what to do about each, the
/// run, the moments in UTC and the seconds of each step.
pub fn cutover_report(report: &CutoverReport) -> String {
    let mut text = format!(
        "# Cutover{} of schema `{}`: {}\n\n| gate | passed | figure | what to do |\n|---|---|---|---|\n",
        if report.dry_run { " rehearsal" } else { "" },
        report.pg_schema,
        match (report.go, report.cut_over) {
            (true, true) => "GO, done",
            (true, false) => "GO",
            (false, _) => "NO-GO",
        }
    );
    for gate in &report.gates {
        text.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            gate.name,
            if gate.passed { "yes" } else { "**no**" },
            gate.figure.replace('|', "\\|"),
            gate.remedy.as_deref().unwrap_or("")
        ));
    }
    text.push_str(&format!(
        "\nRun: {}.\n\n| moment | UTC |\n|---|---|\n",
        if report.run.is_empty() {
            "-"
        } else {
            report.run.as_str()
        }
    ));
    for (moment, time) in [
        ("started", &report.times.started),
        ("write freeze", &report.times.freeze),
        ("final sync done", &report.times.final_sync),
        ("switched (cut over)", &report.times.switched),
    ] {
        text.push_str(&format!(
            "| {moment} | {} |\n",
            time.as_deref().unwrap_or("-")
        ));
    }
    text.push_str("\n| step | seconds |\n|---|---:|\n");
    for (step, seconds) in &report.timings {
        text.push_str(&format!("| {step} | {seconds:.2} |\n"));
    }
    text
}

#[cfg(test)]
#[path = "cutover_tests.rs"]
mod tests;
