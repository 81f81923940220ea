//! `offbase files`: the files an app's records and code point at on Base44's storage.

use super::{Context, runtime};
use crate::cli::{FilesCopyArgs, FilesScanArgs};
use offbase_pipeline::files::copy::CopyOptions;
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

pub fn files_copy(arguments: FilesCopyArgs, context: &Context) -> anyhow::Result<ExitCode> {
    let json = arguments.output.json;
    let reporter = context.reporter(json);
    let mut options = CopyOptions::new(&arguments.to);
    options.concurrency = arguments.concurrency.max(1);
    options.via = arguments.via.clone();
    let summary = runtime()?.block_on(offbase_pipeline::files::copy::copy(
        &arguments.workspace.workspace(),
        &options,
        &*reporter,
    ))?;
    reporter.clear();
    if json {
        println!("{}", reporter.json(&summary)?);
    } else {
        crate::print::files_copy(&summary);
    }
    if summary.rejected > 0 {
        eprintln!(
            "exit code 1: {} files could not be copied; see {}.",
            summary.rejected,
            summary
                .rejects_file
                .as_deref()
                .unwrap_or("reports/rejects/files.jsonl")
        );
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}
