//! Into PostgreSQL and what stands there: `offbase load`, `offbase migrate` (stage, plan, load
//! or bundle, verify), `offbase reseal` (the workspace's manifest) and `offbase status`.

use super::{Context, announced, api_key, app_id_for, runtime};
use crate::cli::{LoadArgs, LoadTuning, MigrateArgs, ResealArgs, StatusArgs};
use anyhow::bail;
use offbase_base44::client::{Client, ClientConfig};
use offbase_pipeline::files::copy::CopyOptions;
use offbase_pipeline::files::storage::Destination as FilesDestination;
use offbase_pipeline::load::bundle::BundleOptions;
use offbase_pipeline::load::{Existing, LoadOptions, Relax};
use offbase_pipeline::migrate::{Destination, MigrateOptions, MigrateSource};
use offbase_pipeline::progress::Reporter;
use offbase_pipeline::target::{MappingFile, Target};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

/// Where `offbase migrate` writes its bundle when there is no database and no --bundle.
const DEFAULT_BUNDLE: &str = "offbase-bundle.sql";

/// `--relax`, as the load takes it.
fn relax(tuning: &LoadTuning) -> anyhow::Result<Relax> {
    Relax::parse(&tuning.relax).map_err(|message| anyhow::anyhow!("--relax: {message}"))
}

fn load_options(mut target: Target, tuning: &LoadTuning) -> anyhow::Result<LoadOptions> {
    target.relax = relax(tuning)?;
    target.rewrite_urls = tuning.rewrite_urls;
    target.rls = tuning.rls.mode();
    let mut options = LoadOptions::new(target.database_url.clone(), target.pg_schema.clone());
    options.target = target;
    options.existing = if tuning.replace {
        confirm_replace(&options.target.pg_schema, tuning.yes)?;
        Existing::Replace
    } else {
        Existing::Resume
    };
    options.batch_records = tuning.batch_records;
    options.adopt = tuning.adopt;
    Ok(options)
}

/// `--replace` drops tables: on a terminal it asks first (`--yes` does not); elsewhere (a
/// script, CI) the flag itself is the answer.
fn confirm_replace(pg_schema: &str, yes: bool) -> anyhow::Result<()> {
    use std::io::{BufRead, IsTerminal, Write};
    if yes || !std::io::stdin().is_terminal() || !std::io::stderr().is_terminal() {
        return Ok(());
    }
    eprint!(
        "--replace drops the tables an earlier load made in schema {pg_schema:?} and loads again. Go on? [y/N] "
    );
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    if matches!(answer.trim(), "y" | "Y" | "yes" | "Yes") {
        Ok(())
    } else {
        bail!("nothing dropped: --replace was not confirmed (--yes skips the question)")
    }
}

pub fn load(arguments: LoadArgs, context: &Context) -> anyhow::Result<ExitCode> {
    let json = arguments.output.json;
    let reporter = context.reporter(json);
    let url = arguments.target.url(
        "load needs a database",
        " (or use `offbase migrate` without one to write a bundle)",
    )?;
    let target = Target::new(url, arguments.target.pg_schema.clone())
        .with_mappings(arguments.workspace.mappings())?;
    let options = load_options(target, &arguments.load)?;
    let summary = runtime()?.block_on(offbase_pipeline::load::load(
        &arguments.workspace.workspace(),
        &options,
        &*reporter,
    ))?;
    reporter.clear();
    if json {
        println!("{}", reporter.json(&summary)?);
    } else {
        crate::print::load(&summary);
    }
    Ok(ExitCode::SUCCESS)
}

pub fn migrate(arguments: MigrateArgs, context: &Context) -> anyhow::Result<ExitCode> {
    let json = arguments.output.json;
    let reporter = context.reporter(json);
    let api = &arguments.api;
    // The API client, when records come from the API: it also signs private files' URLs.
    let mut api_client = None;
    let source = match (&arguments.from, &api.api_url) {
        (Some(folder), _) => MigrateSource::Folder {
            folder: folder.clone(),
            schema_from: arguments.schema_from.clone(),
        },
        (None, Some(api_url)) => {
            let Some(schema_from) = arguments.schema_from.clone() else {
                bail!("--api-url needs --schema-from: the app's code export (its entity schemas)");
            };
            let app_id = app_id_for(api.app_id.clone(), Some(&schema_from), &*reporter)?;
            let mut config =
                ClientConfig::new(api_url.clone(), app_id, api_key(&api.key.api_key_env)?);
            config.max_retry_wait = arguments.max_retry_wait;
            let client = announced(Client::new(config)?, &reporter);
            api_client = Some(client.clone());
            MigrateSource::Api {
                client: Box::new(client),
                schema_from,
            }
        }
        (None, None) => bail!("give a source: --from DIR or --api-url URL"),
    };
    let mappings = arguments.workspace.mappings();
    // An explicit --bundle wins over a DATABASE_URL that may only be in the environment: the
    // user asked for a file, and loading into whatever database the shell points at instead
    // would be a surprise (and could land in a schema another load owns).
    let destination = match (&arguments.bundle, &arguments.target.database_url) {
        (None, Some(url)) => Destination::Database(load_options(
            Target::new(url.clone(), arguments.target.pg_schema.clone()).with_mappings(mappings)?,
            &arguments.load,
        )?),
        (bundle, _) => Destination::Bundle {
            path: bundle
                .clone()
                .unwrap_or_else(|| PathBuf::from(DEFAULT_BUNDLE)),
            options: BundleOptions {
                pg_schema: arguments.target.pg_schema.clone(),
                mappings: MappingFile::read_optional(mappings)?,
                relax: relax(&arguments.load)?,
                rewrite_urls: arguments.load.rewrite_urls,
                rls: arguments.load.rls.mode(),
            },
        },
    };
    // Files copied in a migrate: the same options as `offbase files copy`.
    let files = match &arguments.files_to {
        Some(to) => {
            let mut copy = CopyOptions::new(FilesDestination::from_argument(to)?);
            copy.via = arguments.files_via.clone();
            copy.public_url = arguments.files_public_url.clone();
            copy.api = api_client;
            Some(copy)
        }
        None => None,
    };
    let options = MigrateOptions {
        files,
        source,
        workspace: arguments.workspace.workspace(),
        mappings: MappingFile::read_optional(mappings)?,
        destination,
    };
    let dyn_reporter: Arc<dyn Reporter> = reporter.clone();
    let summary =
        runtime()?.block_on(offbase_pipeline::migrate::migrate(&options, dyn_reporter))?;
    reporter.clear();
    if json {
        println!("{}", reporter.json(&summary)?);
    } else {
        crate::print::migrate(&summary);
    }
    let problems = summary.problems();
    if problems.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    // Last, on stderr (also with --json), so an exit code of 1 never comes unexplained.
    eprintln!(
        "exit code 1: {}",
        crate::output::printable(&problems.join("; "))
    );
    Ok(ExitCode::from(1))
}

/// The JSON output is the list of changed parts, as it always was (an array carries no notes;
/// reseal shows none but the project file's, on stderr).
pub fn reseal(arguments: ResealArgs, context: &Context) -> anyhow::Result<ExitCode> {
    let json = arguments.output.json;
    let _reporter = context.reporter(json);
    let workspace = arguments.workspace.workspace();
    let changed = offbase_pipeline::workspace::reseal::reseal(&workspace)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&changed)?);
    } else {
        crate::print::reseal(&changed, &workspace.manifest_path());
    }
    Ok(ExitCode::SUCCESS)
}

pub fn status(arguments: StatusArgs, context: &Context) -> anyhow::Result<ExitCode> {
    let json = arguments.output.json;
    let reporter = context.reporter(json);
    let url = arguments.target.url("status needs a database", "")?;
    let status = runtime()?.block_on(offbase_pipeline::sync::status(
        &url,
        &arguments.target.pg_schema,
    ))?;
    if json {
        println!("{}", reporter.json(&status)?);
    } else {
        crate::print::status(&status);
    }
    Ok(ExitCode::SUCCESS)
}
