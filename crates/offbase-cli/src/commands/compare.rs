//! Comparing the old backend with the new one: `offbase diff data`, `offbase diff behaviour`,
//! and the corpora the latter replays (`offbase corpus generate`, `offbase corpus from-har`).

use super::{Context, announced, api_key, exit_code, runtime, workspace_client};
use crate::cli::{
    CorpusFromHarArgs, CorpusGenerateArgs, DiffBehaviourArgs, DiffDataArgs, DiffDataSource,
};
use anyhow::{Context as _, bail};
use offbase_base44::client::{Client, ClientConfig};
use offbase_pipeline::progress::Reporter;
use offbase_pipeline::target::{MappingFile, Target};
use std::process::ExitCode;

pub fn diff_data(arguments: DiffDataArgs, context: &Context) -> anyhow::Result<ExitCode> {
    let json = arguments.output.json;
    let reporter = context.reporter(json);
    let target = arguments
        .target
        .target("diff needs a database", arguments.workspace.mappings())?;
    let workspace = arguments.workspace.workspace();
    let diff = match arguments.source {
        DiffDataSource::Workspace => runtime()?.block_on(
            offbase_pipeline::compare::diff::diff_data(&workspace, &target, &*reporter),
        )?,
        DiffDataSource::Api => {
            let api = &arguments.api;
            let client = match (&api.api_url, &api.app_id) {
                (Some(api_url), Some(app_id)) => {
                    let mut config = ClientConfig::new(
                        api_url.clone(),
                        app_id.clone(),
                        api_key(&api.key.api_key_env)?,
                    );
                    config.requests_per_minute = arguments.requests_per_minute;
                    Client::new(config)?
                }
                (None, app_id) => {
                    if let Some(app_id) = app_id {
                        super::same_app_as_workspace(&workspace, app_id)?;
                    }
                    workspace_client(
                        &workspace,
                        &api.key.api_key_env,
                        arguments.requests_per_minute,
                    )?
                }
                (Some(_), None) => bail!(
                    "--api-url needs --app-id (or BASE44_APP_ID); or give neither: the API the workspace was pulled from"
                ),
            };
            runtime()?.block_on(offbase_pipeline::compare::api_source::diff_data_api(
                &workspace,
                &target,
                &announced(client, &reporter),
                arguments.page_size.clamp(1, offbase_base44::api::LIST_CAP),
                &*reporter,
            ))?
        }
    };
    offbase_pipeline::compare::diff::write_reports(&workspace, &diff)?;
    // Against the workspace, after a sync: the target holds the changes made in Base44 since
    // the pull, which are differences from the workspace and none from the app.
    if !diff.clean() && matches!(arguments.source, DiffDataSource::Workspace) {
        let synced = runtime()?
            .block_on(offbase_pipeline::sync::status(
                &target.database_url,
                &target.pg_schema,
            ))
            .map(|status| status.entities.iter().any(|entity| entity.state.passes > 0))
            .unwrap_or(false);
        if synced {
            reporter.message(
                "the target was synced after the workspace was pulled: differences from the \
                 workspace may be the sync's own changes. Compare with the app itself: offbase \
                 diff data --source api",
            );
        }
    }
    reporter.clear();
    if json {
        println!("{}", reporter.json(&diff)?);
    } else {
        crate::print::diff_data(&diff, &workspace.reports_dir().join("diff-data.md"));
    }
    Ok(exit_code(diff.clean()))
}

pub fn diff_behaviour(arguments: DiffBehaviourArgs, context: &Context) -> anyhow::Result<ExitCode> {
    use offbase_pipeline::compare::behaviour::{BehaviourOptions, NewBackend};
    let json = arguments.output.json;
    let reporter = context.reporter(json);
    let workspace = arguments.workspace.workspace();
    let text = std::fs::read_to_string(&arguments.corpus)
        .with_context(|| format!("cannot read the corpus {}", arguments.corpus.display()))?;
    let corpus = offbase_base44::corpus::read_corpus(&text)
        .with_context(|| format!("in {}", arguments.corpus.display()))?;
    if corpus.is_empty() {
        bail!(
            "the corpus {} holds no request: make one with `offbase corpus generate` or `offbase corpus from-har`",
            arguments.corpus.display()
        );
    }
    let old = announced(
        workspace_client(
            &workspace,
            &arguments.key.api_key_env,
            arguments.requests_per_minute,
        )?,
        &reporter,
    );
    let new = match &arguments.target_url {
        Some(url) => {
            let app_id = arguments
                .target_app_id
                .clone()
                .unwrap_or_else(|| old.app_id().to_owned());
            NewBackend::Api(announced(
                Client::new(ClientConfig::new(
                    url.clone(),
                    app_id,
                    api_key(&arguments.target_api_key_env)?,
                ))?,
                &reporter,
            ))
        }
        None => {
            let url = arguments.target.url(
                "diff behaviour compares with PostgreSQL",
                " (or --target-url for an API)",
            )?;
            NewBackend::Postgres(Target::new(url, arguments.target.pg_schema.clone()))
        }
    };
    let options = BehaviourOptions {
        ignore_fields: arguments.ignore.clone(),
        float_tolerance: arguments.float_tolerance,
        as_user: arguments.as_user.clone(),
        writes: arguments.writes,
    };
    let diff = runtime()?.block_on(offbase_pipeline::compare::behaviour::diff_behaviour(
        &workspace,
        MappingFile::read_optional(arguments.workspace.mappings())?.as_ref(),
        &old,
        &new,
        &corpus,
        &options,
        &*reporter,
    ))?;
    offbase_pipeline::compare::behaviour::write_reports(&workspace, &diff)?;
    reporter.clear();
    if json {
        println!("{}", reporter.json(&diff)?);
    } else {
        crate::print::diff_behaviour(&diff, &workspace.reports_dir().join("diff-behaviour.md"));
    }
    Ok(exit_code(diff.clean()))
}

pub fn corpus_generate(
    arguments: CorpusGenerateArgs,
    context: &Context,
) -> anyhow::Result<ExitCode> {
    let _reporter = context.reporter(false);
    let corpus = offbase_pipeline::compare::corpus::generate_corpus(
        &arguments.workspace.workspace(),
        MappingFile::read_optional(arguments.workspace.mappings())?.as_ref(),
    )?;
    let text = offbase_base44::corpus::write_corpus(&corpus);
    match &arguments.out {
        Some(path) => {
            offbase_pipeline::workspace::files::write_atomic(path, text.as_bytes())?;
            eprintln!("{} requests written to {}", corpus.len(), path.display());
        }
        None => print!("{text}"),
    }
    Ok(ExitCode::SUCCESS)
}

pub fn corpus_from_har(arguments: CorpusFromHarArgs) -> anyhow::Result<ExitCode> {
    let text = std::fs::read_to_string(&arguments.har)
        .with_context(|| format!("cannot read {}", arguments.har.display()))?;
    let extract = offbase_base44::har::corpus_from_har(&text)
        .with_context(|| format!("in {}", arguments.har.display()))?;
    let corpus = offbase_base44::corpus::write_corpus(&extract.requests);
    match &arguments.out {
        Some(path) => offbase_pipeline::workspace::files::write_atomic(path, corpus.as_bytes())?,
        None => print!("{corpus}"),
    }
    if arguments.output.json {
        let summary = serde_json::json!({
            "requests": extract.requests.len(),
            "skipped": extract.skip_counts(),
            "skipped_entries": extract.skipped.iter().map(ToString::to_string).collect::<Vec<_>>(),
        });
        let text = serde_json::to_string_pretty(&summary)?;
        if arguments.out.is_some() {
            println!("{text}");
        } else {
            eprintln!("{text}");
        }
    } else {
        crate::print::har_extract(&extract, arguments.out.as_deref());
    }
    if extract.requests.is_empty() {
        bail!(
            "{} holds no entity read: capture the Network tab while using the app (lists, filters, record pages)",
            arguments.har.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}
