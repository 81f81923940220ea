//! `migrate`: stage (pull from the API, or import a local folder), plan, load (or write a
//! bundle when there is no database), and verify, in one call. Every step resumes: run it
//! again after an interruption and it continues.

use crate::PipelineError;
use crate::compare::verify::{VerifySummary, verify};
use crate::load::bundle::{BundleOptions, BundleSummary, write_bundle};
use crate::load::{LoadOptions, LoadSummary, load};
use crate::plan::{plan_workspace_with_rls, write_plan};
use crate::progress::Reporter;
use crate::stage::import::{ImportSummary, import_csv, import_records, import_seed};
use crate::stage::pull::{PullOptions, PullSummary, pull};
use crate::workspace::Workspace;
use offbase_base44::client::Client;
use offbase_base44::platform::add_platform_entities;
use offbase_base44::schema::read_app;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where the records come from.
#[derive(Debug)]
pub enum MigrateSource {
    /// A local folder: an app folder with `data/<Entity>.jsonl` (like the samples), a folder of
    /// dashboard CSV exports, or an app folder with seed files (`base44/seed/`).
    Folder {
        folder: PathBuf,
        /// Schemas from elsewhere (for CSV exports); default: the folder itself.
        schema_from: Option<PathBuf>,
    },
    /// The Base44 entity API (or the emulator).
    Api {
        client: Box<Client>,
        schema_from: PathBuf,
    },
}

/// Where the data goes.
#[derive(Debug, Clone)]
pub enum Destination {
    Database(LoadOptions),
    /// No database: a self-contained SQL file.
    Bundle {
        path: PathBuf,
        options: BundleOptions,
    },
}

#[derive(Debug)]
pub struct MigrateOptions {
    pub source: MigrateSource,
    pub workspace: Workspace,
    pub mappings: Option<crate::target::MappingFile>,
    pub destination: Destination,
    /// Copy the files the records point at and rewrite their URLs (`--files-to`): scan, copy
    /// (with a public URL, for the URL map), and a load or bundle with `rewrite_urls`.
    pub files: Option<crate::files::copy::CopyOptions>,
}

/// How the records were staged.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Staged {
    Pull(PullSummary),
    Import(ImportSummary),
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MigrateSummary {
    pub workspace: String,
    pub staged: Staged,
    pub plan_files: Vec<String>,
    pub load: Option<LoadSummary>,
    pub bundle: Option<BundleSummary>,
    pub verify: Option<VerifySummary>,
    /// The files step (`--files-to`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub files: Option<MigrateFiles>,
}

/// What the files step of a migrate found and copied.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MigrateFiles {
    pub scan: crate::files::scan::ScanSummary,
    pub copy: crate::files::copy::CopySummary,
}

impl MigrateSummary {
    /// Whether everything staged is accounted for and the target matches the workspace.
    pub fn clean(&self) -> bool {
        self.problems().is_empty()
    }

    /// Why the run is not [`clean`](Self::clean), one clause each (what makes `offbase migrate`
    /// exit 1); empty when it is. Rejected records and foreign-key orphans are reported, not
    /// problems.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if let Staged::Pull(summary) = &self.staged {
            let differing: Vec<String> = summary
                .entities
                .iter()
                .filter(|entity| !entity.matches_source)
                .map(|entity| {
                    let counted = entity
                        .source_count
                        .map_or_else(|| "no count".to_owned(), |count| count.to_string());
                    format!(
                        "{} ({} pulled, the API counts {counted})",
                        entity.entity, entity.records
                    )
                })
                .collect();
            if !differing.is_empty() {
                problems.push(format!(
                    "the records pulled differ from the API's count for {} (did the app take writes meanwhile?)",
                    differing.join(", ")
                ));
            }
        }
        if self.load.as_ref().is_some_and(|load| !load.balanced()) {
            problems.push(
                "some staged records are neither loaded nor rejected (read ≠ loaded + rejected): see reports/load.md"
                    .to_owned(),
            );
        }
        if let Some(files) = self.files.as_ref().filter(|files| files.copy.rejected > 0) {
            problems.push(format!(
                "{} files could not be copied; their URLs are kept: see {}",
                files.copy.rejected,
                files
                    .copy
                    .rejects_file
                    .as_deref()
                    .unwrap_or("reports/rejects/files.jsonl")
            ));
        }
        if let Some(verify) = &self.verify {
            let differing: Vec<&str> = verify
                .entities
                .iter()
                .filter(|entity| !entity.matches())
                .map(|entity| entity.entity.as_str())
                .collect();
            if !differing.is_empty() {
                problems.push(format!(
                    "the verification found tables that differ from the workspace: {}",
                    differing.join(", ")
                ));
            }
        }
        problems
    }
}

/// What kind of local folder `folder` is.
fn folder_kind(folder: &Path) -> Option<&'static str> {
    let has = |path: PathBuf, extension: &str| {
        std::fs::read_dir(path).is_ok_and(|entries| {
            entries.flatten().any(|entry| {
                entry
                    .path()
                    .extension()
                    .is_some_and(|found| found == extension)
            })
        })
    };
    if has(folder.join("data"), "jsonl") {
        Some("records")
    } else if std::fs::read_dir(folder).is_ok_and(|entries| {
        entries
            .flatten()
            .any(|entry| entry.file_name().to_string_lossy().ends_with("_export.csv"))
    }) {
        Some("csv")
    } else if folder.join("base44").join("seed").is_dir() {
        Some("seed")
    } else {
        None
    }
}

pub async fn migrate(
    options: &MigrateOptions,
    reporter: Arc<dyn Reporter>,
) -> Result<MigrateSummary, PipelineError> {
    let workspace = &options.workspace;
    let _workspace_lock = crate::lock::lock_workspace(workspace, "migrate")?;
    let part_records = PullOptions::default().part_records;
    let staged = match &options.source {
        MigrateSource::Folder {
            folder,
            schema_from,
        } => {
            let kind = folder_kind(folder).ok_or_else(|| PipelineError::NoRecords {
                folder: folder.clone(),
            })?;
            let schema_source = schema_from.as_deref().unwrap_or(folder);
            let read_schemas = || -> Result<offbase_model::App, PipelineError> {
                let outcome = read_app(schema_source)?;
                for warning in &outcome.warnings {
                    reporter.message(&format!("{}: {}", warning.path, warning.message));
                }
                let mut app = outcome.app;
                add_platform_entities(&mut app);
                Ok(app)
            };
            let summary = match kind {
                "records" => import_records(
                    folder,
                    &read_schemas()?,
                    workspace,
                    part_records,
                    &*reporter,
                )?,
                "csv" => {
                    let schemas = if schema_from.is_some() {
                        Some(read_schemas()?)
                    } else {
                        read_app(folder).ok().map(|outcome| outcome.app)
                    };
                    import_csv(
                        folder,
                        schemas.as_ref(),
                        workspace,
                        part_records,
                        &*reporter,
                    )?
                }
                _ => import_seed(
                    &folder.join("base44").join("seed"),
                    Some(&read_schemas()?),
                    workspace,
                    part_records,
                    &*reporter,
                )?,
            };
            for warning in &summary.warnings {
                reporter.message(&format!("warning: {warning}"));
            }
            Staged::Import(summary)
        }
        MigrateSource::Api {
            client,
            schema_from,
        } => {
            let outcome = read_app(schema_from)?;
            for warning in &outcome.warnings {
                reporter.message(&format!("{}: {}", warning.path, warning.message));
            }
            let summary = pull(
                client,
                &outcome.app,
                workspace,
                &PullOptions::default(),
                Arc::clone(&reporter),
            )
            .await?;
            Staged::Pull(summary)
        }
    };

    // The plan files show the access rules as the load or bundle asks for them.
    let rls = match &options.destination {
        Destination::Database(load_options) => load_options.target.rls,
        Destination::Bundle {
            options: bundle, ..
        } => bundle.rls,
    };
    let output = plan_workspace_with_rls(workspace, options.mappings.as_ref(), rls, &*reporter)?;
    let plan_files = write_plan(&output, &workspace.plan_dir())?
        .iter()
        .map(|path| path.display().to_string())
        .collect();

    let mut summary = MigrateSummary {
        workspace: workspace.root().display().to_string(),
        staged,
        plan_files,
        load: None,
        bundle: None,
        verify: None,
        files: None,
    };
    if let Some(copy_options) = &options.files {
        if copy_options.public_url.is_none() {
            return Err(PipelineError::FilesNeedPublicUrl);
        }
        let scan = crate::files::scan::scan(workspace, None, &*reporter)?;
        let copy = crate::files::copy::copy(workspace, copy_options, &*reporter).await?;
        summary.files = Some(MigrateFiles { scan, copy });
    }
    let rewrite_urls = summary.files.is_some();
    match &options.destination {
        Destination::Database(load_options) => {
            let mut load_options = load_options.clone();
            load_options.target.mappings = options.mappings.clone();
            load_options.target.rewrite_urls |= rewrite_urls;
            let loaded = load(workspace, &load_options, &*reporter).await?;
            summary.verify = Some(verify(workspace, &load_options.target, &*reporter).await?);
            summary.load = Some(loaded);
        }
        Destination::Bundle {
            path,
            options: bundle_options,
        } => {
            let mut bundle_options = bundle_options.clone();
            bundle_options.mappings = options.mappings.clone();
            bundle_options.rewrite_urls |= rewrite_urls;
            summary.bundle = Some(write_bundle(workspace, &bundle_options, path, &*reporter)?);
        }
    }
    Ok(summary)
}
