//! One function per command: call the pipeline, print the outcome.

use crate::cli::PlanArgs;
use crate::output::TerminalReporter;
use anyhow::{Context, bail};
use offbase_pipeline::plan;
use std::process::ExitCode;

pub fn plan(arguments: PlanArgs) -> anyhow::Result<ExitCode> {
    let reporter = TerminalReporter::new(arguments.json);
    let rules = plan::load_rules(arguments.mappings.as_deref())?;
    let output = plan::plan(&arguments.source, &rules, &reporter)?;
    let written = plan::write_plan(&output, &arguments.out)?;
    let mut summary = output.summary();
    summary.files = written
        .iter()
        .map(|path| path.display().to_string())
        .collect();
    if arguments.apply {
        let Some(url) = arguments.database.database_url.as_deref() else {
            bail!("--apply needs a database: pass --database-url URL or set DATABASE_URL");
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("cannot start the async runtime")?;
        let outcome = runtime.block_on(plan::apply(&output, url, &arguments.database.pg_schema))?;
        summary.applied = Some(outcome);
    }
    if arguments.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "Planned {}: {} entities → {} tables, {} columns, {} foreign keys, {} array references, {} indexes.",
        summary.app,
        summary.entities,
        summary.tables,
        summary.columns,
        summary.foreign_keys,
        summary.array_references,
        summary.indexes
    );
    if !summary.warnings.is_empty() {
        println!(
            "{} warnings (all of them in the mapping report):",
            summary.warnings.len()
        );
        for note in summary.warnings.iter().take(10) {
            let subject = match (&note.entity, &note.field) {
                (Some(entity), Some(field)) => format!("{entity}.{field}: "),
                (Some(entity), None) => format!("{entity}: "),
                _ => String::new(),
            };
            println!("  - {subject}{}", note.message);
        }
        if summary.warnings.len() > 10 {
            println!("  ... and {} more", summary.warnings.len() - 10);
        }
    }
    println!(
        "{} decisions explained in the mapping report.",
        summary.decisions
    );
    for file in &summary.files {
        println!("Wrote {file}");
    }
    if let Some(applied) = &summary.applied {
        println!(
            "Applied {} statements ({} tables) to schema {:?} in one transaction.",
            applied.statements, applied.tables, applied.schema
        );
    }
    Ok(ExitCode::SUCCESS)
}
