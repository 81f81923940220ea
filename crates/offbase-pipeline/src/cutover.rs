//! The cutover: the gates that must all pass before the app is pointed at PostgreSQL, the
//! steps around the write freeze, and the report (`reports/cutover.md` and `.json`).
//!
//! In order: the sync must have run recently (lag gate); the source must be quiet (the write
//! freeze: no record changed for `quiet` seconds, unless the freeze is confirmed); a final
//! sync pass; a final verification against a fresh pull of the source (counts and content
//! hashes per entity; where they differ, the row-level `diff data` names the records); no
//! unreviewed rejects; foreign-key orphans counted and acknowledged.
//! When every gate passes and it is not a dry run, the foreign keys the sync took off are
//! added back (validated where no orphans exist); the report says so.

use crate::PipelineError;
use crate::load::LoadOptions;
use crate::migrate::{Destination, MigrateOptions, MigrateSource, migrate};
use crate::plan::plan_workspace;
use crate::progress::{NoProgress, Reporter};
use crate::sync::{SyncOptions, status, sync_once};
use crate::verify::verify;
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
}

/// The most records named per kind of finding in the data gate's figure.
const FINDINGS_NAMED: usize = 3;

/// The data gate's row-level findings: per entity, the records missing on one side and the
/// records with other values (with the fields), a few named, the rest counted.
fn row_findings(diff: &crate::diff::DataDiff) -> Vec<String> {
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
    let pg_schema = options.sync.pg_schema.clone();
    let mut gates = Vec::new();
    let mut timings = Vec::new();
    let mut step = Instant::now();
    let mut lap = |name: &str, timings: &mut Vec<(String, f64)>| {
        timings.push((name.to_owned(), step.elapsed().as_secs_f64()));
        step = Instant::now();
    };

    // 1. The sync has been keeping up.
    let before = status(&options.sync.database_url, &pg_schema).await?;
    let output = plan_workspace(workspace, options.sync.mappings.as_deref(), &NoProgress)?;
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
    gates.push(freeze);
    lap("write freeze", &mut timings);

    // 3. The final sync pass, then 4. the final verification against a fresh pull.
    let passed = sync_once(workspace, client, &options.sync, &*reporter).await?;
    let applied: u64 = passed
        .entities
        .iter()
        .map(|entity| entity.upserted + entity.deleted)
        .sum();
    lap("final sync", &mut timings);
    let snapshot = Workspace::new(workspace.root().join("cutover").join("snapshot"));
    if snapshot.root().exists() {
        std::fs::remove_dir_all(snapshot.root())
            .map_err(|error| PipelineError::io(snapshot.root(), error))?;
    }
    let snapshot_options = MigrateOptions {
        source: MigrateSource::Api {
            client: Box::new(client.clone()),
            schema_from: workspace.schemas_dir(),
        },
        workspace: snapshot.clone(),
        mappings: options.sync.mappings.clone(),
        destination: Destination::Bundle {
            path: workspace.root().join("cutover").join("snapshot.sql"),
            options: crate::bundle::BundleOptions {
                pg_schema: pg_schema.clone(),
                mappings: options.sync.mappings.clone(),
                relax: Default::default(),
            },
        },
    };
    migrate(&snapshot_options, Arc::clone(&reporter)).await?;
    let mut load_options = LoadOptions::new(options.sync.database_url.clone(), pg_schema.clone());
    load_options.mappings = options.sync.mappings.clone();
    let compared = verify(&snapshot, &load_options, &*reporter).await?;
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
    let findings = if differing.is_empty() {
        Vec::new()
    } else {
        let diff = crate::diff::diff_data(&snapshot, &load_options, &NoProgress).await?;
        crate::diff::write_reports(&snapshot, &diff)?;
        row_findings(&diff)
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
            format!(
                "read {} (every differing record, with a diff), fix the cause, sync again",
                snapshot.root().join("reports").join("diff-data.md").display()
            )
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
    let mut connection = offbase_pg::connect(&options.sync.database_url).await?;
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

    let go = gates.iter().all(|gate| gate.passed);
    let mut cut_over = false;
    if go && !options.dry_run {
        // The final step: the foreign keys back, validated where no orphans exist.
        let load_sql = offbase_sql::render_for_load(&output.target, Default::default());
        for (key, constraint) in output
            .target
            .foreign_keys
            .iter()
            .zip(&load_sql.foreign_keys)
        {
            crate::load::add_foreign_key(
                &mut connection,
                &pg_schema,
                &output.target,
                key,
                &constraint.sql,
            )
            .await?;
        }
        cut_over = true;
        lap("foreign keys back", &mut timings);
    }
    let report = CutoverReport {
        pg_schema,
        dry_run: options.dry_run,
        go,
        cut_over,
        gates,
        timings,
    };
    write_report(workspace, &report)?;
    Ok(report)
}

/// Waits until no record of any entity changed for `quiet`, or the timeout.
async fn wait_for_quiet(
    client: &Client,
    app: &offbase_model::App,
    options: &CutoverOptions,
    reporter: &dyn Reporter,
) -> Result<Gate, PipelineError> {
    let started = Instant::now();
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
                    "the last write was {quiet_for:.1} s ago (needs {} s of quiet)",
                    options.quiet.as_secs()
                ),
                remedy: Some(
                    "freeze writes in the old app (maintenance mode), then run again, or pass --freeze-confirmed".into(),
                ),
            });
        }
        reporter.message(&format!(
            "waiting for the write freeze: the last write was {quiet_for:.0} s ago"
        ));
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

fn count_rejects(workspace: &Workspace) -> Result<u64, PipelineError> {
    let folder = workspace.root().join("reports").join("rejects");
    let Ok(entries) = std::fs::read_dir(&folder) else {
        return Ok(0);
    };
    let mut count = 0;
    for entry in entries.flatten() {
        let path = entry.path();
        if path
            .extension()
            .is_some_and(|extension| extension == "jsonl")
        {
            let text =
                std::fs::read_to_string(&path).map_err(|error| PipelineError::io(&path, error))?;
            count += text.lines().filter(|line| !line.trim().is_empty()).count() as u64;
        }
    }
    Ok(count)
}

fn write_report(workspace: &Workspace, report: &CutoverReport) -> Result<(), PipelineError> {
    let folder = workspace.root().join("reports");
    workspace.write_json(&folder.join("cutover.json"), report)?;
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
    text.push_str("\n| step | seconds |\n|---|---:|\n");
    for (step, seconds) in &report.timings {
        text.push_str(&format!("| {step} | {seconds:.2} |\n"));
    }
    let path = folder.join("cutover.md");
    crate::files::write_atomic(&path, text.as_bytes())
}
