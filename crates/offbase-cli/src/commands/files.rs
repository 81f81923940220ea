//! `offbase files`: the files an app's records and code point at on Base44's storage.

use super::{Context, announced, api_key, runtime, workspace_client};
use crate::cli::{FilesCopyArgs, FilesRewriteArgs, FilesScanArgs};
use offbase_pipeline::files::copy::CopyOptions;
use offbase_pipeline::files::storage::Destination;
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
    let mut options = CopyOptions::new(Destination::from_argument(&arguments.to)?);
    options.concurrency = arguments.concurrency.max(1);
    options.via = arguments.via.clone();
    options.public_url = arguments.public_url.clone();
    let workspace = arguments.workspace.workspace();
    options.api = private_files_client(&arguments, &workspace, &reporter)?;
    let summary = runtime()?.block_on(offbase_pipeline::files::copy::copy(
        &workspace, &options, &*reporter,
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

pub fn files_rewrite(arguments: FilesRewriteArgs, context: &Context) -> anyhow::Result<ExitCode> {
    let json = arguments.output.json;
    let reporter = context.reporter(json);
    let target = arguments.target.target(
        "files rewrite needs a database",
        arguments.workspace.mappings(),
    )?;
    let summary = runtime()?.block_on(offbase_pipeline::files::rewrite::rewrite_loaded(
        &arguments.workspace.workspace(),
        &target,
        arguments.dry_run,
        &*reporter,
    ))?;
    reporter.clear();
    if json {
        println!("{}", reporter.json(&summary)?);
    } else {
        crate::print::files_rewrite(&summary);
    }
    Ok(ExitCode::SUCCESS)
}

/// The API that signs URLs of private files: the one given, else the one the workspace was
/// pulled from when its key is set; none otherwise (private files are then not copied).
fn private_files_client(
    arguments: &FilesCopyArgs,
    workspace: &offbase_pipeline::workspace::Workspace,
    reporter: &std::sync::Arc<crate::output::TerminalReporter>,
) -> anyhow::Result<Option<offbase_base44::client::Client>> {
    use offbase_base44::client::{Client, ClientConfig};
    let key_env = &arguments.api.key.api_key_env;
    match (&arguments.api.api_url, &arguments.api.app_id) {
        (Some(api_url), Some(app_id)) => {
            let config = ClientConfig::new(api_url.clone(), app_id.clone(), api_key(key_env)?);
            Ok(Some(announced(Client::new(config)?, reporter)))
        }
        (Some(_), None) => anyhow::bail!("--api-url needs --app-id (or BASE44_APP_ID)"),
        (None, app_id) if std::env::var_os(key_env).is_some() => {
            if let Some(app_id) = app_id {
                super::same_app_as_workspace(workspace, app_id)?;
            }
            Ok(workspace_client(workspace, key_env, None)
                .ok()
                .map(|client| announced(client, reporter)))
        }
        (None, _) => Ok(None),
    }
}
