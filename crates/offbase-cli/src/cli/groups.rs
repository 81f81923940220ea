//! The flag groups several commands share, each declared once and flattened into the commands
//! that take it (`#[command(flatten)]`). A command whose help says more about a flag than the
//! group does changes that one text with `mut_arg` (see `args.rs`); names, value names,
//! defaults and environment variables stay the group's.
//!
//! These groups are also what a project file (`offbase.toml`, see `project.rs`) gives
//! defaults to.

use super::parse;
use anyhow::bail;
use clap::Args;
use offbase_pipeline::target::Target;
use offbase_pipeline::workspace::Workspace;
use std::path::{Path, PathBuf};

/// `--workspace`: the folder of one migration's records, plans and reports.
#[derive(Debug, Args)]
pub struct WorkspaceFolderArgs {
    /// The workspace folder.
    #[arg(long, default_value = "offbase-workspace", value_name = "DIR")]
    pub workspace: PathBuf,
}

impl WorkspaceFolderArgs {
    pub fn workspace(&self) -> Workspace {
        Workspace::new(&self.workspace)
    }
}

/// `--mappings`: the app's mapping file.
#[derive(Debug, Args)]
pub struct MappingsArgs {
    /// A per-app mapping file (TOML); see docs/mapping.md.
    #[arg(long, value_name = "FILE")]
    pub mappings: Option<PathBuf>,
}

/// `--workspace` and `--mappings`: what the commands after the staging work from.
#[derive(Debug, Args)]
pub struct WorkspaceArgs {
    #[command(flatten)]
    pub folder: WorkspaceFolderArgs,
    #[command(flatten)]
    pub mappings: MappingsArgs,
}

impl WorkspaceArgs {
    pub fn workspace(&self) -> Workspace {
        self.folder.workspace()
    }

    pub fn mappings(&self) -> Option<&Path> {
        self.mappings.mappings.as_deref()
    }
}

/// `--database-url` (or `DATABASE_URL`) and `--pg-schema`: where PostgreSQL is. Shared by every
/// command that touches a database.
#[derive(Debug, Args)]
pub struct TargetArgs {
    /// PostgreSQL connection URL (a password in it is never printed).
    #[arg(long, env = "DATABASE_URL", hide_env_values = true, value_name = "URL")]
    pub database_url: Option<String>,
    /// The PostgreSQL schema to work in; created if missing (at most 63 bytes).
    #[arg(long, default_value = "public", value_name = "NAME", value_parser = parse::pg_schema)]
    pub pg_schema: String,
    /// The variable a project file named for the URL, when it is not set: said in the error
    /// of a command that needs a database.
    #[arg(skip)]
    pub unset_url_variable: Option<String>,
}

impl TargetArgs {
    /// The database URL, or an error starting with `needed` (e.g. "load needs a database")
    /// saying how to give one, then `otherwise` (another way, or nothing).
    pub fn url(&self, needed: &str, otherwise: &str) -> anyhow::Result<String> {
        match &self.database_url {
            Some(url) => Ok(url.clone()),
            None => {
                let project = self
                    .unset_url_variable
                    .as_deref()
                    .map(|named| format!(" (or set {named})"))
                    .unwrap_or_default();
                bail!("{needed}: pass --database-url URL or set DATABASE_URL{project}{otherwise}")
            }
        }
    }

    /// The target (database, schema and the mapping file at `mappings`, read now), or the
    /// error of [`TargetArgs::url`].
    pub fn target(&self, needed: &str, mappings: Option<&Path>) -> anyhow::Result<Target> {
        let url = self.url(needed, "")?;
        Ok(Target::new(url, self.pg_schema.clone()).with_mappings(mappings)?)
    }
}

/// `--api-key-env`: the variable holding the Base44 API key (never the key itself, so it stays
/// out of shell history and process lists).
#[derive(Debug, Args)]
pub struct ApiKeyArgs {
    /// The environment variable that holds the API key.
    #[arg(long, default_value = "BASE44_API_KEY", value_name = "NAME")]
    pub api_key_env: String,
}

/// `--api-url`, `--app-id` and `--api-key-env`: the Base44 app to read.
///
/// Which of them a command needs together is checked by the command, not here: a project file
/// may give the ones the command line leaves out.
#[derive(Debug, Args)]
pub struct ApiSourceArgs {
    /// The Base44 API origin, e.g. https://app.base44.com (or an emulator's URL).
    #[arg(long, value_name = "URL")]
    pub api_url: Option<String>,
    /// The app id (24 hex characters, in the app's URL; default: a code export's
    /// base44/.app.jsonc under --schema-from).
    #[arg(long, env = "BASE44_APP_ID", value_name = "ID")]
    pub app_id: Option<String>,
    #[command(flatten)]
    pub key: ApiKeyArgs,
}

/// `--json`: a machine-readable result on stdout instead of the human one.
#[derive(Debug, Args)]
pub struct OutputArgs {
    /// Print a machine-readable summary on stdout.
    #[arg(long)]
    pub json: bool,
}

/// `--rls`: whether the plan enforces the app's access rules with row level security, and in
/// which dialect.
#[derive(Debug, Args)]
pub struct RlsArgs {
    /// Enforce the app's access rules (`rls`) with PostgreSQL row level security, in the plan's
    /// access-rules section (roles, policies; see docs/access-rules.md): `on` with offbase's
    /// roles and the user in `app.*` session settings, `supabase` with Supabase's roles (anon,
    /// authenticated, service_role) and the user from its JWT claims (`auth.jwt()`; the target
    /// must be a Supabase database), or `off` to leave them out.
    #[arg(long, value_enum, default_value = "on", value_name = "on|off|supabase")]
    pub rls: RlsSwitch,
}

/// The values of `--rls`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RlsSwitch {
    On,
    Off,
    Supabase,
}

impl RlsArgs {
    pub fn mode(&self) -> offbase_pipeline::plan::RlsMode {
        match self.rls {
            RlsSwitch::On => offbase_pipeline::plan::RlsMode::On,
            RlsSwitch::Off => offbase_pipeline::plan::RlsMode::Off,
            RlsSwitch::Supabase => offbase_pipeline::plan::RlsMode::Supabase,
        }
    }
}

/// Options shared by `load` and `migrate`.
#[derive(Debug, Args)]
pub struct LoadTuning {
    /// Relax these constraints instead of rejecting the records that break them: `required`
    /// (NOT NULL of required fields), `enums` (enum CHECKs), or both. Each relaxed constraint is
    /// added back after the load when no row breaks it, and reported.
    #[arg(long, value_name = "required,enums", default_value = "")]
    pub relax: String,
    /// Drop the tables of an earlier load into the same schema and load again (on a terminal
    /// it asks first, unless --yes).
    #[arg(long)]
    pub replace: bool,
    /// Do not ask before --replace drops tables (scripts, CI).
    #[arg(long, requires = "replace")]
    pub yes: bool,
    /// Load into the plan's tables a migration already made (`offbase plan --format
    /// dbmate|sqlx|supabase`, applied by that tool), instead of refusing them: they must be
    /// empty and exactly the plan's. Their keys, indexes and foreign keys are taken off during
    /// the data and put back after it, as in any load.
    #[arg(long, conflicts_with = "replace")]
    pub adopt: bool,
    /// Records per batch; each batch is one transaction with its checkpoint.
    #[arg(long, default_value_t = 50_000, value_name = "N")]
    pub batch_records: usize,
    /// Rewrite Base44 file URLs to the URLs of their copies as the records load, through
    /// WORKSPACE/files/url-map.json (written by `offbase files copy --public-url`); counted per
    /// field in the load report. Verify, diff and the sync then rewrite the same way.
    #[arg(long)]
    pub rewrite_urls: bool,
    #[command(flatten)]
    pub rls: RlsArgs,
}
