//! `offbase files`: the files an app's records and code point at on Base44's storage.

use super::Context;
use crate::cli::FilesScanArgs;
use std::process::ExitCode;

pub fn files_scan(arguments: FilesScanArgs, context: &Context) -> anyhow::Result<ExitCode> {
    let json = arguments.output.json;
    let reporter = context.reporter(json);
    let summary = offbase_pipeline::files::scan::scan(
        &arguments.workspace.workspace(),
        arguments.code.as_deref(),
        &*reporter,
    )?;
    reporter.clear();
    if json {
        println!("{}", reporter.json(&summary)?);
    } else {
        crate::print::files_scan(&summary);
    }
    Ok(ExitCode::SUCCESS)
}
