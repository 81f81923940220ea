//! The commands: one function per command, grouped by family, each calling the pipeline and
//! handing the outcome to `print` (human tables) or to its reporter (`--json`). What they share
//! is here: the [`Context`] `run.rs` gives them, the async runtime, API clients and keys.

mod assess;
mod compare;
mod completions;
mod emulate;
mod files;
mod load;
mod plan;
mod serve;
mod stage;
mod sync;
mod users;

pub use assess::assess;
pub use compare::{corpus_from_har, corpus_generate, diff_behaviour, diff_data};
pub use completions::completions;
pub use emulate::emulate;
pub use files::{files_copy, files_rewrite, files_scan};
pub use load::{load, migrate, reseal, status};
pub use plan::plan;
pub use serve::serve;
pub use stage::{generate, pull};
pub use sync::{cutover, sync};
pub use users::users_export;

use crate::output::{Notes, TerminalReporter};
use anyhow::{Context as _, bail};
use offbase_base44::client::{ApiKey, Client, ClientConfig};
use offbase_pipeline::progress::Reporter;
use offbase_pipeline::workspace::Workspace;
use std::process::ExitCode;
use std::sync::Arc;

/// What every command is given besides its arguments.
#[derive(Debug, Clone, Default)]
pub struct Context {
    /// The project file that gave defaults (`./offbase.toml`), if one did.
    pub project_file: Option<String>,
}

impl Context {
    /// The command's reporter: bars on a terminal (none with `--json`), notes on stderr and
    /// kept for the JSON output; its first note names the project file used.
    pub fn reporter(&self, json: bool) -> Arc<TerminalReporter> {
        let reporter = TerminalReporter::new(json, self.notes());
        self.announce(&reporter);
        Arc::new(reporter)
    }

    /// The notes of a command with its own reporter.
    pub fn notes(&self) -> Notes {
        Notes::new(self.project_file.clone())
    }

    /// Says, once, which project file gave defaults.
    pub fn announce(&self, reporter: &dyn Reporter) {
        if let Some(file) = &self.project_file {
            reporter.message(&format!("using project file {file}"));
        }
    }
}

/// 0 when `ok`, else 1 (done, but the result differs from what was asked for).
fn exit_code(ok: bool) -> ExitCode {
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// The client, telling the reporter whenever it waits (throttled, retrying, paced).
fn announced(client: Client, reporter: &Arc<TerminalReporter>) -> Client {
    let reporter = Arc::clone(reporter);
    client.with_wait_notice(Arc::new(move |text: &str| reporter.message(text)))
}

/// The app to read from the API: `--app-id` (or `BASE44_APP_ID`), else the id in the code
/// export's `base44/.app.jsonc` under `--schema-from`, as the Base44 CLI reads it (said in a
/// note, so a wrong folder is seen at once).
fn app_id_for(
    given: Option<String>,
    schema_from: Option<&std::path::Path>,
    reporter: &dyn Reporter,
) -> anyhow::Result<String> {
    if let Some(app_id) = given {
        return Ok(app_id);
    }
    let from_export = schema_from.and_then(|folder| {
        offbase_base44::schema::read_app(folder)
            .ok()
            .and_then(|outcome| outcome.app.app_id)
            .map(|app_id| (folder, app_id))
    });
    match from_export {
        Some((folder, app_id)) => {
            reporter.message(&format!(
                "app {app_id}, from {}'s base44/.app.jsonc",
                folder.display()
            ));
            Ok(app_id)
        }
        None => bail!(
            "which app? give --app-id (or BASE44_APP_ID): the 24 hex characters in the app's \
             URL; a code export's base44/.app.jsonc under --schema-from gives it too"
        ),
    }
}

/// `--app-id` (or `BASE44_APP_ID`) without `--api-url` names the app the workspace was pulled
/// from, whose API is then used: refused when it names another.
fn same_app_as_workspace(workspace: &Workspace, app_id: &str) -> anyhow::Result<()> {
    use offbase_pipeline::workspace::{Manifest, SourceInfo};
    let manifest: Option<Manifest> = workspace.read_json(&workspace.manifest_path())?;
    match manifest.and_then(|manifest| manifest.source) {
        Some(SourceInfo::Api {
            app_id: pulled,
            api_url,
        }) if pulled != app_id => bail!(
            "{} was pulled from app {pulled} at {api_url}, not from app {app_id} (--app-id or \
             BASE44_APP_ID): give --api-url with the app id to read another app",
            workspace.root().display()
        ),
        _ => Ok(()),
    }
}

/// A client of the API the workspace was pulled from, paced at `requests_per_minute` when given.
fn workspace_client(
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
fn api_key(name: &str) -> anyhow::Result<ApiKey> {
    let Ok(key) = std::env::var(name) else {
        bail!(
            "no API key: set the environment variable {name} (or name another with --api-key-env)"
        );
    };
    crate::output::register_secret(&key);
    Ok(ApiKey::new(key))
}
