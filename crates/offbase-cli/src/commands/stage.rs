//! Staging records into a workspace: `offbase pull` (from the API, or `--from-csv` and
//! `--from-seed` imports) and `offbase generate`.

use super::{Context, announced, api_key, app_id_for, exit_code, runtime};
use crate::cli::{GenerateArgs, PullArgs};
use crate::output::TerminalReporter;
use anyhow::{Context as _, bail};
use offbase_base44::client::{Client, ClientConfig};
use offbase_pipeline::plan;
use offbase_pipeline::progress::Reporter;
use offbase_pipeline::stage::pull::PullOptions;
use offbase_pipeline::workspace::Workspace;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

pub fn pull(arguments: PullArgs, context: &Context) -> anyhow::Result<ExitCode> {
    let json = arguments.output.json;
    let reporter = context.reporter(json);
    let workspace = arguments.workspace.workspace();
    if let Some(folder) = arguments
        .from_csv
        .as_deref()
        .or(arguments.from_seed.as_deref())
    {
        return import(&arguments, folder, &workspace, &reporter);
    }
    let Some(api_url) = arguments.api.api_url.clone() else {
        bail!("give a source: --api-url, --from-csv or --from-seed");
    };
    let Some(schema_from) = arguments.schema_from.clone() else {
        bail!("--api-url needs --schema-from: the app's code export (its entity schemas)");
    };
    let app_id = app_id_for(arguments.api.app_id.clone(), Some(&schema_from), &*reporter)?;
    let key = api_key(&arguments.api.key.api_key_env)?;
    let outcome = offbase_base44::schema::read_app(&schema_from)?;
    for warning in &outcome.warnings {
        reporter.message(&format!("{}: {}", warning.path, warning.message));
    }
    let mut config = ClientConfig::new(api_url, app_id, key);
    config.requests_per_minute = arguments.requests_per_minute;
    config.max_retry_wait = arguments.max_retry_wait;
    let client = announced(Client::new(config)?, &reporter);
    let options = PullOptions {
        entities: arguments.entities.clone(),
        page_size: arguments.page_size,
        concurrency: arguments.concurrency,
        fresh: arguments.fresh,
        checkpoint_interval: std::time::Duration::from_millis(arguments.checkpoint_interval_ms),
        ..PullOptions::default()
    };
    let summary = runtime()?.block_on(offbase_pipeline::stage::pull::pull(
        &client,
        &outcome.app,
        &workspace,
        &options,
        reporter.clone(),
    ))?;
    reporter.clear();
    if json {
        println!("{}", reporter.json(&summary)?);
    } else {
        crate::print::pull(&summary);
    }
    Ok(exit_code(
        summary.entities.iter().all(|entity| entity.matches_source),
    ))
}

/// `pull --from-csv` and `pull --from-seed`.
fn import(
    arguments: &PullArgs,
    folder: &Path,
    workspace: &Workspace,
    reporter: &Arc<TerminalReporter>,
) -> anyhow::Result<ExitCode> {
    let schemas = match &arguments.schema_from {
        Some(path) => {
            let outcome = offbase_base44::schema::read_app(path)?;
            for warning in &outcome.warnings {
                reporter.message(&format!("{}: {}", warning.path, warning.message));
            }
            Some(outcome.app)
        }
        None if arguments.from_seed.is_some() => {
            bail!("--from-seed needs --schema-from: seed files carry records, not schemas")
        }
        None => None,
    };
    let part_records = PullOptions::default().part_records;
    let summary = if arguments.from_csv.is_some() {
        offbase_pipeline::stage::import::import_csv(
            folder,
            schemas.as_ref(),
            workspace,
            part_records,
            reporter.as_ref(),
        )?
    } else {
        offbase_pipeline::stage::import::import_seed(
            folder,
            schemas.as_ref(),
            workspace,
            part_records,
            reporter.as_ref(),
        )?
    };
    reporter.clear();
    if arguments.output.json {
        println!("{}", reporter.json(&summary)?);
    } else {
        crate::print::import(&summary);
    }
    Ok(ExitCode::SUCCESS)
}

pub fn generate(arguments: GenerateArgs, context: &Context) -> anyhow::Result<ExitCode> {
    let json = arguments.output.json;
    let reporter = context.reporter(json);
    let rules = plan::load_rules(arguments.workspace.mappings())?;
    let mut counts = offbase_pipeline::stage::generate::GenerateCounts::uniform(arguments.records);
    for item in &arguments.records_for {
        let Some((entity, count)) = item.split_once('=') else {
            bail!("--records-for {item:?}: expected ENTITY=N, e.g. Task=1000000");
        };
        let count: u64 = count
            .trim()
            .parse()
            .with_context(|| format!("--records-for {item:?}: {count:?} is not a count"))?;
        counts = counts.with(entity.trim(), count);
    }
    let summary = offbase_pipeline::stage::generate::generate_workspace(
        &arguments.schema_from,
        &rules,
        &counts,
        arguments.seed,
        &arguments.workspace.workspace(),
        PullOptions::default().part_records,
        &*reporter,
    )?;
    reporter.clear();
    if json {
        println!("{}", reporter.json(&summary)?);
    } else {
        crate::print::generate(&summary);
    }
    Ok(ExitCode::SUCCESS)
}
