//! `offbase users`: the app's users, for the sign-in provider that takes over from Base44.

use super::{Context, runtime};
use crate::cli::UsersExportArgs;
use offbase_pipeline::target::MappingFile;
use offbase_pipeline::users::{ExportOptions, export};
use std::process::ExitCode;

pub fn users_export(arguments: UsersExportArgs, context: &Context) -> anyhow::Result<ExitCode> {
    let json = arguments.output.json;
    let reporter = context.reporter(json);
    let mut options = ExportOptions::new(arguments.format.format());
    options.out = arguments.out.clone();
    options.app_id = arguments.app_id.clone();
    options.mappings = MappingFile::read_optional(arguments.workspace.mappings())?;
    options.pg_schema = arguments.target.pg_schema.clone();
    options.database_url = arguments.target.database_url.clone();
    let summary = runtime()?.block_on(export(
        &arguments.workspace.workspace(),
        &options,
        &*reporter,
    ))?;
    reporter.clear();
    if json {
        println!("{}", reporter.json(&summary)?);
    } else {
        crate::print::users_export(&summary);
    }
    let problems = summary.problems();
    if !problems.is_empty() {
        eprintln!(
            "exit code 1: {}; see {}.",
            crate::output::printable(&problems.join("; ")),
            crate::output::printable(&summary.report)
        );
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}
