//! One function per command: call the pipeline, print the outcome.

use crate::cli::{
    EmulateArgs, GenerateArgs, LoadArgs, LoadTuning, MigrateArgs, PlanArgs, PullArgs,
};
use crate::output::TerminalReporter;
use anyhow::{Context, bail};
use offbase_base44::client::{ApiKey, Client, ClientConfig};
use offbase_pipeline::bundle::BundleOptions;
use offbase_pipeline::load::{Existing, LoadOptions, LoadStatus, LoadSummary, Relax};
use offbase_pipeline::migrate::{Destination, MigrateOptions, MigrateSource};
use offbase_pipeline::plan;
use offbase_pipeline::progress::Reporter;
use offbase_pipeline::pull::{PullOptions, PullSummary};
use offbase_pipeline::verify::VerifySummary;
use offbase_pipeline::workspace::Workspace;

use std::process::ExitCode;
use std::sync::Arc;

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
        let outcome =
            runtime()?.block_on(plan::apply(&output, url, &arguments.database.pg_schema))?;
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

pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

pub fn pull(arguments: PullArgs) -> anyhow::Result<ExitCode> {
    let reporter = Arc::new(TerminalReporter::new(arguments.json));
    let workspace = Workspace::new(&arguments.workspace);
    if let Some(folder) = arguments
        .from_csv
        .as_deref()
        .or(arguments.from_seed.as_deref())
    {
        return import(&arguments, folder, &workspace, reporter);
    }
    let Some(api_url) = arguments.api_url.clone() else {
        bail!("give a source: --api-url, --from-csv or --from-seed");
    };
    let (Some(app_id), Some(schema_from)) =
        (arguments.app_id.clone(), arguments.schema_from.clone())
    else {
        bail!("--api-url needs --app-id and --schema-from");
    };
    let key = api_key(&arguments.api_key_env)?;
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
    let summary = runtime()?.block_on(offbase_pipeline::pull::pull(
        &client,
        &outcome.app,
        &workspace,
        &options,
        reporter.clone(),
    ))?;
    reporter.clear();
    print_pull_summary(&summary, arguments.json)?;
    Ok(
        if summary.entities.iter().all(|entity| entity.matches_source) {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        },
    )
}

fn print_pull_summary(summary: &PullSummary, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(summary)?);
        return Ok(());
    }
    println!(
        "{:<24} {:>10} {:>10} {:>12} {:>8}  count check",
        "entity", "records", "source", "bytes", "seconds"
    );
    for entity in &summary.entities {
        let source = entity
            .source_count
            .map(|count| count.to_string())
            .unwrap_or_else(|| "-".to_owned());
        let check = match (entity.matches_source, entity.source_count) {
            (true, _) => "ok".to_owned(),
            (false, Some(count)) => format!(
                "differs by {} (the app may have taken writes during the pull)",
                i128::from(entity.records) - i128::from(count)
            ),
            (false, None) => "no count from the source".to_owned(),
        };
        let note = if entity.already_complete {
            " (already pulled)"
        } else {
            ""
        };
        println!(
            "{:<24} {:>10} {:>10} {:>12} {:>8.1}  {check}{note}",
            entity.entity, entity.records, source, entity.bytes, entity.seconds
        );
    }
    let records: u64 = summary.entities.iter().map(|entity| entity.records).sum();
    println!(
        "Pulled {records} records of {} entities into {} in {:.1}s ({} requests, {} retried, {} throttled).",
        summary.entities.len(),
        summary.workspace,
        summary.seconds,
        summary.requests,
        summary.retries,
        summary.throttled
    );
    Ok(())
}

/// `pull --from-csv` and `pull --from-seed`.
fn import(
    arguments: &PullArgs,
    folder: &std::path::Path,
    workspace: &Workspace,
    reporter: Arc<TerminalReporter>,
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
        offbase_pipeline::import::import_csv(
            folder,
            schemas.as_ref(),
            workspace,
            part_records,
            reporter.as_ref(),
        )?
    } else {
        offbase_pipeline::import::import_seed(
            folder,
            schemas.as_ref(),
            workspace,
            part_records,
            reporter.as_ref(),
        )?
    };
    reporter.clear();
    if arguments.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
        return Ok(ExitCode::SUCCESS);
    }
    for warning in &summary.warnings {
        println!("warning: {warning}");
    }
    println!(
        "{:<24} {:>10} {:>12} {:>8}  schema",
        "entity", "records", "bytes", "flagged"
    );
    for entity in &summary.entities {
        println!(
            "{:<24} {:>10} {:>12} {:>8}  {}",
            entity.entity,
            entity.records,
            entity.bytes,
            entity.flagged_records,
            if entity.inferred_schema {
                "inferred"
            } else {
                "given"
            }
        );
    }
    let flagged: u64 = summary
        .entities
        .iter()
        .map(|entity| entity.flagged_records)
        .sum();
    println!(
        "Imported {} records of {} entities into {}.",
        summary
            .entities
            .iter()
            .map(|entity| entity.records)
            .sum::<u64>(),
        summary.entities.len(),
        summary.workspace
    );
    if flagged > 0 {
        println!(
            "{flagged} records hold values that did not convert: they are kept as they were and will be rejected at load with the reason."
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub fn emulate(arguments: EmulateArgs) -> anyhow::Result<ExitCode> {
    let Ok(key) = std::env::var(&arguments.api_key_env) else {
        bail!(
            "no key for the emulator: set the environment variable {} (or name another with --api-key-env)",
            arguments.api_key_env
        );
    };
    let mut config = offbase_emulator::EmulatorConfig::new(&arguments.app_dir, key);
    config.app_id = arguments.app_id.clone();
    config.rate_limits = if arguments.no_rate_limits {
        offbase_emulator::RateLimits::Off
    } else {
        offbase_emulator::RateLimits::Base44 {
            scale: arguments.rate_limit_scale,
        }
    };
    config.faults = offbase_emulator::Faults {
        fail_rate: arguments.fail_rate,
        throttle_rate: arguments.throttle_rate,
        truncate_rate: arguments.truncate_rate,
        reset_rate: arguments.reset_rate,
        latency: std::time::Duration::from_millis(arguments.latency_ms),
        seed: arguments.seed,
    };
    if arguments.write_rate > 0 {
        config.writer = Some(offbase_emulator::WriterConfig {
            rate_per_second: arguments.write_rate,
            duration: std::time::Duration::from_secs(arguments.write_for),
            seed: arguments.seed,
        });
    }
    let address = std::net::SocketAddr::from(([127, 0, 0, 1], arguments.port));
    runtime()?.block_on(async {
        let running = offbase_emulator::start(config, address).await?;
        println!(
            "Serving {} as app {} at {} (key from ${}). Ctrl-C stops.",
            arguments.app_dir.display(),
            running.app_id(),
            running.api_url(),
            arguments.api_key_env
        );
        tokio::signal::ctrl_c()
            .await
            .context("cannot wait for Ctrl-C")?;
        running.shutdown().await;
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}

fn load_options(
    database_url: String,
    pg_schema: &str,
    mappings: Option<&std::path::Path>,
    tuning: &LoadTuning,
) -> anyhow::Result<LoadOptions> {
    let mut options = LoadOptions::new(database_url, pg_schema);
    options.mappings = mappings.map(std::path::Path::to_path_buf);
    options.relax =
        Relax::parse(&tuning.relax).map_err(|message| anyhow::anyhow!("--relax: {message}"))?;
    options.existing = if tuning.replace {
        Existing::Replace
    } else {
        Existing::Resume
    };
    options.batch_records = tuning.batch_records;
    Ok(options)
}

pub fn load(arguments: LoadArgs) -> anyhow::Result<ExitCode> {
    let reporter = TerminalReporter::new(arguments.json);
    let Some(url) = arguments.database.database_url.clone() else {
        bail!(
            "load needs a database: pass --database-url URL or set DATABASE_URL (or use `offbase migrate` without one to write a bundle)"
        );
    };
    let options = load_options(
        url,
        &arguments.database.pg_schema,
        arguments.mappings.as_deref(),
        &arguments.load,
    )?;
    let workspace = Workspace::new(&arguments.workspace);
    let summary = runtime()?.block_on(offbase_pipeline::load::load(
        &workspace, &options, &reporter,
    ))?;
    reporter.clear();
    if arguments.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        print_load_summary(&summary);
    }
    Ok(ExitCode::SUCCESS)
}

fn print_load_summary(summary: &LoadSummary) {
    if summary.status == LoadStatus::AlreadyLoaded {
        println!(
            "Schema {:?} already holds a finished load of this workspace: nothing to do (--replace loads it again).",
            summary.pg_schema
        );
    }
    println!(
        "{:<24} {:>10} {:>10} {:>9} {:>12} {:>8} {:>10}",
        "entity", "read", "loaded", "rejected", "bytes", "seconds", "records/s"
    );
    for entity in &summary.entities {
        match &entity.table {
            Some(_) => println!(
                "{:<24} {:>10} {:>10} {:>9} {:>12} {:>8.2} {:>10}",
                entity.entity,
                entity.read,
                entity.loaded,
                entity.rejected,
                entity.bytes,
                entity.seconds,
                if entity.seconds > 0.0 {
                    format!("{:.0}", entity.read as f64 / entity.seconds)
                } else {
                    "-".to_owned()
                }
            ),
            None => println!(
                "{:<24} {:>10} {:>10} {:>9} {:>12} {:>8} {:>10}  skipped by the mapping",
                entity.entity, entity.staged, 0, 0, 0, "-", "-"
            ),
        }
    }
    let read: u64 = summary.entities.iter().map(|entity| entity.read).sum();
    let loaded: u64 = summary.entities.iter().map(|entity| entity.loaded).sum();
    let rejected = summary.rejected();
    println!(
        "{:<24} {:>10} {:>10} {:>9}",
        "total", read, loaded, rejected
    );
    if summary.balanced() {
        println!("Every staged record is loaded or rejected (read = loaded + rejected).");
    } else {
        println!("Some staged records are not accounted for: see reports/load.md.");
    }
    if rejected > 0 {
        println!(
            "{rejected} rejected records, each with its reason, in {}.",
            summary.rejects_folder
        );
    }
    let orphaned: Vec<_> = summary
        .foreign_keys
        .iter()
        .filter(|key| !key.validated)
        .collect();
    let validated = summary.foreign_keys.len() - orphaned.len();
    println!(
        "Foreign keys: {validated} validated, {} left NOT VALID because of orphans.",
        orphaned.len()
    );
    for key in orphaned.iter().take(10) {
        println!(
            "  {}.{} → {}: {} orphans (e.g. {})",
            key.table,
            key.column,
            key.target_table,
            key.orphans,
            key.sample.join(", ")
        );
    }
    for relaxed in summary.relaxed.iter().filter(|relaxed| !relaxed.restored) {
        println!(
            "Relaxed: {}.{} keeps no {:?} constraint ({} rows break it).",
            relaxed.table, relaxed.column, relaxed.kind, relaxed.rows
        );
    }
    println!(
        "Schema {:?} of {} in {:.1}s. Report: {}/reports/load.md",
        summary.pg_schema, summary.database, summary.seconds, summary.workspace
    );
}

pub fn migrate(arguments: MigrateArgs) -> anyhow::Result<ExitCode> {
    let reporter = Arc::new(TerminalReporter::new(arguments.json));
    let workspace = Workspace::new(&arguments.workspace);
    let source = match (&arguments.from, &arguments.api_url) {
        (Some(folder), _) => MigrateSource::Folder {
            folder: folder.clone(),
            schema_from: arguments.schema_from.clone(),
        },
        (None, Some(api_url)) => {
            let (Some(app_id), Some(schema_from)) =
                (arguments.app_id.clone(), arguments.schema_from.clone())
            else {
                bail!("--api-url needs --app-id and --schema-from");
            };
            let mut config =
                ClientConfig::new(api_url.clone(), app_id, api_key(&arguments.api_key_env)?);
            config.max_retry_wait = arguments.max_retry_wait;
            MigrateSource::Api {
                client: Box::new(announced(Client::new(config)?, &reporter)),
                schema_from,
            }
        }
        (None, None) => bail!("give a source: --from DIR or --api-url URL"),
    };
    let destination = match arguments.database.database_url.clone() {
        Some(url) => Destination::Database(load_options(
            url,
            &arguments.database.pg_schema,
            arguments.mappings.as_deref(),
            &arguments.load,
        )?),
        None => Destination::Bundle {
            path: arguments.bundle.clone(),
            options: BundleOptions {
                pg_schema: arguments.database.pg_schema.clone(),
                mappings: arguments.mappings.clone(),
                relax: Relax::parse(&arguments.load.relax)
                    .map_err(|message| anyhow::anyhow!("--relax: {message}"))?,
            },
        },
    };
    let options = MigrateOptions {
        source,
        workspace,
        mappings: arguments.mappings.clone(),
        destination,
    };
    let dyn_reporter: Arc<dyn Reporter> = reporter.clone();
    let summary =
        runtime()?.block_on(offbase_pipeline::migrate::migrate(&options, dyn_reporter))?;
    reporter.clear();
    if arguments.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        if let Some(load) = &summary.load {
            print_load_summary(load);
        }
        if let Some(bundle) = &summary.bundle {
            let records: u64 = bundle.entities.iter().map(|entity| entity.loaded).sum();
            let rejected: u64 = bundle.entities.iter().map(|entity| entity.rejected).sum();
            println!(
                "No database given: wrote {} ({} bytes, {records} records, {rejected} rejected into {}/reports/rejects).",
                bundle.bundle, bundle.bytes, summary.workspace
            );
            println!(
                "Apply it with: psql -v ON_ERROR_STOP=1 -f {}",
                bundle.bundle
            );
        }
        if let Some(verify) = &summary.verify {
            print_verify_summary(verify);
        }
        println!("Plan and mapping report: {}", summary.plan_files.join(", "));
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

fn print_verify_summary(summary: &VerifySummary) {
    for entity in &summary.entities {
        if !entity.matches() {
            println!(
                "verify: {} differs: workspace {} rows (hash {}), PostgreSQL {} rows (hash {})",
                entity.entity,
                entity.expected_rows,
                entity.expected_hash,
                entity.actual_rows,
                entity.actual_hash
            );
        }
    }
    if summary.matches() {
        println!(
            "Verified: {} tables hold exactly the workspace's loaded records (counts and content hashes).",
            summary.entities.len()
        );
    }
}

pub fn generate(arguments: GenerateArgs) -> anyhow::Result<ExitCode> {
    let reporter = TerminalReporter::new(arguments.json);
    let rules = plan::load_rules(arguments.mappings.as_deref())?;
    let mut counts = offbase_pipeline::generate::GenerateCounts::uniform(arguments.records);
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
    let workspace = Workspace::new(&arguments.workspace);
    let summary = offbase_pipeline::generate::generate_workspace(
        &arguments.schema_from,
        &rules,
        &counts,
        arguments.seed,
        &workspace,
        PullOptions::default().part_records,
        &reporter,
    )?;
    reporter.clear();
    if arguments.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        for entity in &summary.entities {
            println!(
                "{:<24} {:>10} records {:>12} bytes",
                entity.entity, entity.records, entity.bytes
            );
        }
        println!(
            "Generated {} records (seed {}) into {} in {:.1}s.",
            summary.records, summary.seed, summary.workspace, summary.seconds
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The client, telling the reporter whenever it waits (throttled, retrying, paced).
pub(crate) fn announced(client: Client, reporter: &Arc<TerminalReporter>) -> Client {
    let reporter = Arc::clone(reporter);
    client.with_wait_notice(Arc::new(move |text: &str| reporter.message(text)))
}

/// A client of the API the workspace was pulled from, paced at `requests_per_minute` when given.
pub(crate) fn workspace_client(
    workspace: &Workspace,
    api_key_env: &str,
    requests_per_minute: Option<u32>,
) -> anyhow::Result<Client> {
    use offbase_pipeline::workspace::{Manifest, SourceInfo};
    let manifest: Option<Manifest> = workspace.read_json(&workspace.manifest_path())?;
    let Some(SourceInfo::Api { api_url, app_id }) = manifest.and_then(|manifest| manifest.source)
    else {
        bail!(
            "{} was not pulled from the Base44 API: sync and cutover read the API the workspace came from (pull or migrate with --api-url first)",
            workspace.root().display()
        );
    };
    let mut config = ClientConfig::new(api_url, app_id, api_key(api_key_env)?);
    config.requests_per_minute = requests_per_minute;
    Ok(Client::new(config)?)
}

/// The API key from the environment variable `name` (never from the command line, so it stays
/// out of shell history and process lists).
pub(crate) fn api_key(name: &str) -> anyhow::Result<ApiKey> {
    let Ok(key) = std::env::var(name) else {
        bail!(
            "no API key: set the environment variable {name} (or name another with --api-key-env)"
        );
    };
    crate::output::register_secret(&key);
    Ok(ApiKey::new(key))
}

/// `0.8s`, `42s`, `12m`, `5h`, `186d`.
pub(crate) fn human_seconds(seconds: f64) -> String {
    match seconds {
        seconds if seconds < 10.0 => format!("{seconds:.1}s"),
        seconds if seconds < 120.0 => format!("{seconds:.0}s"),
        seconds if seconds < 7_200.0 => format!("{:.0}m", seconds / 60.0),
        seconds if seconds < 172_800.0 => format!("{:.0}h", seconds / 3_600.0),
        seconds => format!("{:.0}d", seconds / 86_400.0),
    }
}

pub fn reseal(arguments: crate::cli::ResealArgs) -> anyhow::Result<ExitCode> {
    let workspace = Workspace::new(&arguments.workspace);
    let changed = offbase_pipeline::reseal::reseal(&workspace)?;
    if arguments.json {
        println!("{}", serde_json::to_string_pretty(&changed)?);
        return Ok(ExitCode::SUCCESS);
    }
    if changed.is_empty() {
        println!("Every part matches the manifest: nothing to reseal.");
        return Ok(ExitCode::SUCCESS);
    }
    for part in &changed {
        println!(
            "{}: {} records → {}, {} bytes → {}, SHA-256 {} → {}",
            part.file,
            part.records_before,
            part.records_after,
            part.bytes_before,
            part.bytes_after,
            part.sha256_before.get(..12).unwrap_or(&part.sha256_before),
            part.sha256_after.get(..12).unwrap_or(&part.sha256_after)
        );
    }
    println!(
        "Resealed {} parts in {}: the load takes them as they are now.",
        changed.len(),
        workspace.manifest_path().display()
    );
    Ok(ExitCode::SUCCESS)
}

pub fn status(arguments: crate::cli::StatusArgs) -> anyhow::Result<ExitCode> {
    let Some(url) = arguments.database.database_url.clone() else {
        bail!("status needs a database: pass --database-url URL or set DATABASE_URL");
    };
    let status = runtime()?.block_on(offbase_pipeline::sync::status(
        &url,
        &arguments.database.pg_schema,
    ))?;
    if arguments.json {
        println!("{}", serde_json::to_string_pretty(&status)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "Schema {:?}: load {}",
        status.pg_schema,
        status.load_phase.as_deref().unwrap_or("not started")
    );
    if let Some(mark) = &status.cut_over {
        println!(
            "Cut over at {} (by {}): no sync writes into this schema any more.",
            mark.at, mark.by
        );
    }
    if status.entities.is_empty() {
        println!("No sync pass yet.");
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:<24} {:<28} {:>7} {:>10} {:>10} {:>9} {:>9} {:>9} {:>8}",
        "entity",
        "cursor",
        "lag",
        "last pass",
        "reconciled",
        "upserted",
        "deleted",
        "rejected",
        "passes"
    );
    let ago = |seconds: Option<f64>| {
        seconds
            .map(|seconds| format!("{} ago", human_seconds(seconds)))
            .unwrap_or_else(|| "never".to_owned())
    };
    for entity in &status.entities {
        println!(
            "{:<24} {:<28} {:>7} {:>10} {:>10} {:>9} {:>9} {:>9} {:>8}",
            entity.entity,
            entity.cursor.as_deref().unwrap_or("-"),
            entity
                .lag_seconds
                .map(human_seconds)
                .unwrap_or_else(|| "-".to_owned()),
            ago(entity.since_last_pass_seconds),
            ago(entity.since_last_reconcile_seconds),
            entity.state.upserted,
            entity.state.deleted,
            entity.state.rejected,
            entity.state.passes
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub fn diff_data(arguments: crate::cli::DiffDataArgs) -> anyhow::Result<ExitCode> {
    let reporter = Arc::new(TerminalReporter::new(arguments.json));
    let Some(url) = arguments.database.database_url.clone() else {
        bail!("diff needs a database: pass --database-url URL or set DATABASE_URL");
    };
    let mut options = LoadOptions::new(url, arguments.database.pg_schema.clone());
    options.mappings = arguments.mappings.clone();
    let workspace = Workspace::new(&arguments.workspace);
    let diff = match arguments.source {
        crate::cli::DiffDataSource::Workspace => runtime()?.block_on(
            offbase_pipeline::diff::diff_data(&workspace, &options, &*reporter),
        )?,
        crate::cli::DiffDataSource::Api => {
            let client = match (&arguments.api_url, &arguments.app_id) {
                (Some(api_url), Some(app_id)) => {
                    let mut config = ClientConfig::new(
                        api_url.clone(),
                        app_id.clone(),
                        api_key(&arguments.api_key_env)?,
                    );
                    config.requests_per_minute = arguments.requests_per_minute;
                    announced(Client::new(config)?, &reporter)
                }
                _ => announced(
                    workspace_client(
                        &workspace,
                        &arguments.api_key_env,
                        arguments.requests_per_minute,
                    )?,
                    &reporter,
                ),
            };
            runtime()?.block_on(offbase_pipeline::diff_api::diff_data_api(
                &workspace,
                &options,
                &client,
                arguments.page_size.clamp(1, offbase_base44::api::LIST_CAP),
                &*reporter,
            ))?
        }
    };
    offbase_pipeline::diff::write_reports(&workspace, &diff)?;
    reporter.clear();
    if arguments.json {
        println!("{}", serde_json::to_string_pretty(&diff)?);
    } else {
        println!(
            "{:<24} {:>9} {:>18} {:>10} {:>18} {:>10}",
            "entity", "same", "missing in target", "rejected", "missing in source", "different"
        );
        for entity in &diff.entities {
            println!(
                "{:<24} {:>9} {:>18} {:>10} {:>18} {:>10}   ({} range queries, {} hashes and {} rows read)",
                entity.entity,
                entity.same,
                entity.missing_in_target.len(),
                entity.rejected.len(),
                entity.missing_in_source.len(),
                entity.different.len(),
                entity.range_queries,
                entity.hashes_fetched,
                entity.rows_fetched
            );
            for record in entity.different.iter().take(3) {
                println!(
                    "  {} {}: {}",
                    entity.entity,
                    record.id,
                    record.fields.join(", ")
                );
            }
        }
        println!(
            "{} Report: {}",
            if diff.clean() {
                "Same: every record matches (rejected records aside)."
            } else {
                "Differences found."
            },
            workspace.reports_dir().join("diff-data.md").display()
        );
    }
    Ok(if diff.clean() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

pub fn diff_behaviour(arguments: crate::cli::DiffBehaviourArgs) -> anyhow::Result<ExitCode> {
    use offbase_pipeline::behaviour::{
        BehaviourOptions, NewBackend, Verdict, comparison_word, verdict_word,
    };
    let reporter = Arc::new(TerminalReporter::new(arguments.json));
    let workspace = Workspace::new(&arguments.workspace);
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
            &arguments.api_key_env,
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
            let Some(url) = arguments.database.database_url.clone() else {
                bail!(
                    "diff behaviour compares with PostgreSQL: pass --database-url URL or set DATABASE_URL (or --target-url for an API)"
                );
            };
            NewBackend::Postgres {
                database_url: url,
                pg_schema: arguments.database.pg_schema.clone(),
            }
        }
    };
    let options = BehaviourOptions {
        ignore_fields: arguments.ignore.clone(),
        float_tolerance: arguments.float_tolerance,
    };
    let diff = runtime()?.block_on(offbase_pipeline::behaviour::diff_behaviour(
        &workspace,
        arguments.mappings.as_deref(),
        &old,
        &new,
        &corpus,
        &options,
        &*reporter,
    ))?;
    offbase_pipeline::behaviour::write_reports(&workspace, &diff)?;
    reporter.clear();
    if arguments.json {
        println!("{}", serde_json::to_string_pretty(&diff)?);
    } else {
        for outcome in diff
            .requests
            .iter()
            .filter(|outcome| outcome.verdict != Verdict::Match)
        {
            println!(
                "#{:<4} {:<8} {}",
                outcome.number,
                verdict_word(outcome.verdict),
                outcome.label
            );
            match (&outcome.error, outcome.comparison) {
                (Some(error), _) => println!("       {error}"),
                (None, Some(comparison)) => println!(
                    "       old: {}; new: {} (compared {})",
                    outcome.old,
                    outcome.new,
                    comparison_word(comparison)
                ),
                (None, None) => {}
            }
        }
        println!(
            "{} requests: {} match, {} mismatch, {} error; match rate {:.1}%. Report: {}",
            diff.requests.len(),
            diff.matched,
            diff.mismatched,
            diff.errors,
            diff.match_rate(),
            workspace.reports_dir().join("diff-behaviour.md").display()
        );
    }
    Ok(if diff.clean() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

pub fn corpus_generate(arguments: crate::cli::CorpusGenerateArgs) -> anyhow::Result<ExitCode> {
    let workspace = Workspace::new(&arguments.workspace);
    let corpus =
        offbase_pipeline::corpus::generate_corpus(&workspace, arguments.mappings.as_deref())?;
    let text = offbase_base44::corpus::write_corpus(&corpus);
    match &arguments.out {
        Some(path) => {
            offbase_pipeline::files::write_atomic(path, text.as_bytes())?;
            eprintln!("{} requests written to {}", corpus.len(), path.display());
        }
        None => print!("{text}"),
    }
    Ok(ExitCode::SUCCESS)
}

pub fn corpus_from_har(arguments: crate::cli::CorpusFromHarArgs) -> anyhow::Result<ExitCode> {
    let text = std::fs::read_to_string(&arguments.har)
        .with_context(|| format!("cannot read {}", arguments.har.display()))?;
    let extract = offbase_base44::har::corpus_from_har(&text)
        .with_context(|| format!("in {}", arguments.har.display()))?;
    let corpus = offbase_base44::corpus::write_corpus(&extract.requests);
    match &arguments.out {
        Some(path) => offbase_pipeline::files::write_atomic(path, corpus.as_bytes())?,
        None => print!("{corpus}"),
    }
    let summary = serde_json::json!({
        "requests": extract.requests.len(),
        "skipped": extract.skip_counts(),
        "skipped_entries": extract.skipped.iter().map(ToString::to_string).collect::<Vec<_>>(),
    });
    if arguments.json {
        let text = serde_json::to_string_pretty(&summary)?;
        if arguments.out.is_some() {
            println!("{text}");
        } else {
            eprintln!("{text}");
        }
    } else {
        eprintln!(
            "{} requests{}",
            extract.requests.len(),
            arguments
                .out
                .as_ref()
                .map(|path| format!(" written to {}", path.display()))
                .unwrap_or_default()
        );
        for (reason, count) in extract.skip_counts() {
            eprintln!("  skipped {count}: {reason}");
        }
    }
    if extract.requests.is_empty() {
        bail!(
            "{} holds no entity read: capture the Network tab while using the app (lists, filters, record pages)",
            arguments.har.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}
