//! `offbase plan`: schemas to DDL and a mapping report, optionally applied.

use super::{Context, runtime};
use crate::cli::PlanArgs;
use offbase_pipeline::plan;
use std::process::ExitCode;

pub fn plan(arguments: PlanArgs, context: &Context) -> anyhow::Result<ExitCode> {
    let json = arguments.output.json;
    let reporter = context.reporter(json);
    let rules = plan::load_rules(arguments.mappings.mappings.as_deref())?;
    let output = plan::plan_with_rls(&arguments.source, &rules, arguments.rls.mode(), &*reporter)?;
    let written = plan::write_plan(&output, &arguments.out)?;
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
