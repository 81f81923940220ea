//! The target: the PostgreSQL database and schema a load fills, with what shapes its tables
//! (the mapping file and the relaxed constraints). Every stage after the load (verify, diff,
//! sync, cutover) takes the same [`Target`], and the load records its mapping file and relax
//! in `offbase.load_runs`, so those stages plan the very tables the load made without being
//! given `--mappings` again.

use crate::PipelineError;
pub use crate::plan::MappingFile;
use crate::plan::{PlanOutput, plan_workspace};
use crate::progress::NoProgress;
use crate::workspace::Workspace;
use offbase_base44::files::UrlRewrite;
use offbase_copy::convert::Relax;
use offbase_pg::PgConnection;
use offbase_sql::RlsMode;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::path::Path;
use std::sync::Arc;

/// Where the data goes and what shapes its tables.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub database_url: String,
    pub pg_schema: String,
    /// The app's mapping file (`None`: the built-in rules alone).
    pub mappings: Option<MappingFile>,
    /// Constraints left off so records that break them still load.
    pub relax: Relax,
    /// Base44 file URLs are rewritten through the workspace's `files/url-map.json` (a load
    /// with `--rewrite-urls`, or `offbase files rewrite` after it).
    pub rewrite_urls: bool,
    /// The URL map itself, read from the workspace once ([`Target::with_url_map`]): the stages
    /// that compare a fresh pull (the cutover) use the map of the workspace that was loaded.
    pub url_map: Option<Arc<UrlRewrite>>,
    /// Whether the load enforces the app's access rules with row level security (`--rls`);
    /// recorded when the load starts, and applied after post-load.
    pub rls: RlsMode,
}

/// What a stage after the load starts from: a connection to the target, the target as the
/// load recorded it, and the plan of its tables from the workspace's schemas.
pub(crate) struct Opened {
    pub connection: PgConnection,
    pub target: Target,
    pub plan: PlanOutput,
}

/// What a load records of its target, to be read back by the stages after it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Settings {
    mappings: Option<MappingFile>,
    relax: Relax,
    #[serde(default)]
    rewrite_urls: bool,
    /// Absent in the settings of loads made before access rules were translated: on, the
    /// default.
    #[serde(default)]
    rls: RlsMode,
}

impl Target {
    pub fn new(database_url: impl Into<String>, pg_schema: impl Into<String>) -> Self {
        Target {
            database_url: database_url.into(),
            pg_schema: pg_schema.into(),
            mappings: None,
            relax: Relax::default(),
            rewrite_urls: false,
            url_map: None,
            rls: RlsMode::On,
        }
    }

    /// The same target with its URL map read from `workspace` when it rewrites URLs and has
    /// none yet; a target that rewrites without a map in the workspace is an error.
    pub fn with_url_map(self, workspace: &Workspace) -> Result<Self, PipelineError> {
        if !self.rewrite_urls || self.url_map.is_some() {
            return Ok(self);
        }
        let target = self.with_url_map_of(workspace)?;
        if target.url_map.is_none() {
            return Err(PipelineError::Workspace {
                path: workspace.files_dir().join("url-map.json"),
                message: "the loaded rows hold file URLs rewritten through a URL map, and this workspace has none: compare with the workspace that was loaded, or give its map (copy its files/url-map.json here)".to_owned(),
            });
        }
        Ok(target)
    }

    /// The same target with the URL map of `workspace` (the one that was loaded), if it has
    /// one: for comparing another workspace, a fresh pull, with rows whose URLs were rewritten.
    /// The map is used only where the load recorded a rewrite.
    pub fn with_url_map_of(mut self, workspace: &Workspace) -> Result<Self, PipelineError> {
        if workspace.files_dir().join("url-map.json").exists() {
            self.url_map = Some(Arc::new(crate::files::rewrite::read_url_map(workspace)?));
        }
        Ok(self)
    }

    /// The URL map when this target rewrites URLs.
    pub fn urls(&self) -> Option<&UrlRewrite> {
        self.url_map.as_deref().filter(|_| self.rewrite_urls)
    }

    /// The same target with the mapping file at `path` (read now), if one is given.
    pub fn with_mappings(mut self, path: Option<&Path>) -> Result<Self, PipelineError> {
        self.mappings = MappingFile::read_optional(path)?;
        Ok(self)
    }

    /// What the load stores in its run row.
    pub(crate) fn settings(&self) -> Value {
        serde_json::to_value(Settings {
            mappings: self.mappings.clone(),
            relax: self.relax,
            rewrite_urls: self.rewrite_urls,
            rls: self.rls,
        })
        .unwrap_or(Value::Null)
    }

    /// Connects, takes what the load recorded ([`Target::settled`]) and plans the workspace
    /// with it: the opening of every stage that compares with or writes into loaded tables.
    pub(crate) async fn open(&self, workspace: &Workspace) -> Result<Opened, PipelineError> {
        let mut connection = offbase_pg::connect(&self.database_url).await?;
        let target = self
            .settled(&mut connection)
            .await?
            .with_url_map(workspace)?;
        let plan = plan_workspace(workspace, target.mappings.as_ref(), &NoProgress)?;
        Ok(Opened {
            connection,
            target,
            plan,
        })
    }

    /// Takes the mapping file and relax the load of this schema recorded, where this run was
    /// not given its own; refuses a mapping file or relax that differs from the load's (the
    /// tables were made by the load's, so planning with another would compare other tables).
    /// A schema without a recorded load keeps what it was given.
    pub async fn settled(&self, connection: &mut PgConnection) -> Result<Target, PipelineError> {
        let mut target = self.clone();
        target.settle(connection).await?;
        Ok(target)
    }

    async fn settle(&mut self, connection: &mut PgConnection) -> Result<(), PipelineError> {
        let Some(stored) = stored_settings(connection, &self.pg_schema).await? else {
            return Ok(());
        };
        match (&self.mappings, stored.mappings) {
            (None, stored) => self.mappings = stored,
            (Some(given), Some(stored)) if *given == stored => {}
            (Some(given), stored) => {
                return Err(PipelineError::SettingsDiffer {
                    pg_schema: self.pg_schema.clone(),
                    what: "mapping file".to_owned(),
                    loaded: stored
                        .map(|file| file.origin)
                        .unwrap_or_else(|| "the built-in rules alone".to_owned()),
                    given: given.origin.clone(),
                });
            }
        }
        // URLs rewritten in the loaded rows are rewritten in every comparison with them.
        self.rewrite_urls |= stored.rewrite_urls;
        // No stage after the load takes --rls: what the load chose stays recorded as it was
        // (a files rewrite writes these settings back).
        self.rls = stored.rls;
        if self.relax == Relax::default() {
            self.relax = stored.relax;
        } else if self.relax != stored.relax {
            return Err(PipelineError::SettingsDiffer {
                pg_schema: self.pg_schema.clone(),
                what: "--relax".to_owned(),
                loaded: relax_words(stored.relax),
                given: relax_words(self.relax),
            });
        }
        Ok(())
    }
}

/// Whether the load of `pg_schema` enforces the access rules, as it recorded when it started
/// (a resumed load keeps the choice of the run that started it; on when nothing is recorded).
pub(crate) async fn recorded_rls(
    connection: &mut PgConnection,
    pg_schema: &str,
) -> Result<RlsMode, PipelineError> {
    Ok(stored_settings(connection, pg_schema)
        .await?
        .map(|stored| stored.rls)
        .unwrap_or_default())
}

/// What the load of `pg_schema` recorded of its target, if a load recorded anything.
async fn stored_settings(
    connection: &mut PgConnection,
    pg_schema: &str,
) -> Result<Option<Settings>, PipelineError> {
    let Some(stored) = offbase_pg::load::read_settings(connection, pg_schema).await? else {
        return Ok(None);
    };
    serde_json::from_value(stored)
        .map(Some)
        .map_err(|error| PipelineError::DamagedState {
            what: format!("the load settings of schema {pg_schema}"),
            message: error.to_string(),
            remedy: "load again with --replace".to_owned(),
        })
}

/// `--relax` as it is written on the command line (`none` for nothing relaxed).
fn relax_words(relax: Relax) -> String {
    match (relax.required, relax.enums) {
        (false, false) => "none".to_owned(),
        (true, false) => "required".to_owned(),
        (false, true) => "enums".to_owned(),
        (true, true) => "required,enums".to_owned(),
    }
}
