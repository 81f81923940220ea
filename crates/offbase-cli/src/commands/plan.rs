//! `offbase plan`: schemas to DDL and a mapping report, optionally applied.

use super::{Context, runtime};
use crate::cli::{PlanArgs, PlanFormat};
use offbase_pipeline::migrations::{self, MigrationFormat};
use offbase_pipeline::plan;
use std::process::ExitCode;

pub fn plan(arguments: PlanArgs, context: &Context) -> anyhow::Result<ExitCode> {
    let json = arguments.output.json;
    let reporter = context.reporter(json);
    let rules = plan::load_rules(arguments.mappings.mappings.as_deref())?;
    let output = plan::plan_with_rls(&arguments.source, &rules, arguments.rls.mode(), &*reporter)?;
    let written = match migration_format(arguments.format) {
        None => plan::write_plan(&output, &arguments.out)?,
        Some(format) => {
            let version = match &arguments.migration_version {
                Some(version) => {
                    migrations::check_version(version)
                        .map_err(|message| anyhow::anyhow!("--migration-version: {message}"))?;
                    version.clone()
                }
                None => migrations::version_now(),
            };
            migrations::write_migration(
                &output,
                &arguments.out,
                format,
                &arguments.target.pg_schema,
                &version,
            )?
        }
    };
    let mut summary = output.summary();
    summary.files = written
        .iter()
        .map(|path| path.display().to_string())
        .collect();
    if arguments.apply {
        let url = arguments.target.url("--apply needs a database", "")?;
        let outcome =
            runtime()?.block_on(plan::apply(&output, &url, &arguments.target.pg_schema))?;
        summary.applied = Some(outcome);
    }
    reporter.clear();
    if json {
        println!("{}", reporter.json(&summary)?);
    } else {
        crate::print::plan(&summary);
    }
    Ok(ExitCode::SUCCESS)
}

fn migration_format(format: PlanFormat) -> Option<MigrationFormat> {
    match format {
        PlanFormat::Plain => None,
        PlanFormat::Dbmate => Some(MigrationFormat::Dbmate),
        PlanFormat::Sqlx => Some(MigrationFormat::Sqlx),
        PlanFormat::Supabase => Some(MigrationFormat::Supabase),
    }
}
