//! `users export`: reads the staged `User` entity (the copies a load keeps), makes the ids,
//! renders the chosen format, counts the references to users in every entity's records,
//! and writes the artefacts (into `--out`, by default `users/<format>/`), `users/id-map.json`,
//! `users/rewrite-plan.sql` when ids change, `reports/users.md`, and, given a database, the
//! map in `offbase.user_map`.
//!
//! Users are held in memory (one entry per user, far fewer than records); the other entities'
//! records stream.

use super::Format;
use super::formats::{self, Carries, Rendering, Skipped};
use super::ids::{self, IdMap, IdMapEntry};
use super::references::{ReferenceCounter, USER_ENTITY, user_references};
use super::report::{
    ExportSummary, ExportedFile, IdSummary, SecretField, SignIn, UserMapWritten, users_report,
};
use super::rewrite::{self, RewritePlan};
use super::user::{Secret, SecretShape, User};
use crate::PipelineError;
use crate::plan::{MappingFile, plan_workspace};
use crate::progress::{NoProgress, Reporter};
use crate::target::Target;
use crate::workspace::duplicates::for_each_kept_line;
use crate::workspace::files::write_atomic;
use crate::workspace::parts::parse_record;
use crate::workspace::{Manifest, SourceInfo, Workspace};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// What to export, and where.
#[derive(Debug, Clone)]
pub struct ExportOptions {
    pub format: Format,
    /// The artefacts' folder (default: `users/<format>/` in the workspace).
    pub out: Option<PathBuf>,
    /// The app id (default: the API the workspace was pulled from, the users' `app_id`, the
    /// source folder's `.app.jsonc`). Needed where ids are made from it (Supabase).
    pub app_id: Option<String>,
    /// The mapping file the tables were loaded with (with a database, the load's is used).
    pub mappings: Option<MappingFile>,
    /// The loaded schema whose references a rewrite plan rewrites.
    pub pg_schema: String,
    /// Where to write `offbase.user_map` (none: the plan carries the map alone).
    pub database_url: Option<String>,
}

impl ExportOptions {
    pub fn new(format: Format) -> Self {
        ExportOptions {
            format,
            out: None,
            app_id: None,
            mappings: None,
            pg_schema: "public".to_owned(),
            database_url: None,
        }
    }
}

/// `users/` in the workspace: the id map, the rewrite plan, and by default the artefacts.
pub fn users_dir(workspace: &Workspace) -> PathBuf {
    workspace.root().join("users")
}

/// `users/id-map.json`.
pub fn id_map_path(workspace: &Workspace) -> PathBuf {
    users_dir(workspace).join("id-map.json")
}

/// `users/rewrite-plan.sql`.
pub fn rewrite_plan_path(workspace: &Workspace) -> PathBuf {
    users_dir(workspace).join(rewrite::FILE)
}

/// `reports/users.md`.
pub fn report_path(workspace: &Workspace) -> PathBuf {
    workspace.reports_dir().join("users.md")
}

/// Exports the workspace's users in `options.format`.
pub async fn export(
    workspace: &Workspace,
    options: &ExportOptions,
    reporter: &dyn Reporter,
) -> Result<ExportSummary, PipelineError> {
    let _lock = crate::lock::lock_workspace(workspace, "users export")?;
    let manifest = workspace.manifest()?;
    if manifest.entities.is_empty() && !workspace.manifest_path().exists() {
        return Err(PipelineError::NotStaged {
            path: workspace.root().to_path_buf(),
        });
    }
    let Some(entry) = manifest.entities.get(USER_ENTITY) else {
        return Err(PipelineError::NoUsers {
            path: workspace.root().to_path_buf(),
        });
    };
    let format = options.format;

    reporter.started(USER_ENTITY, Some(entry.records));
    let mut users = Vec::new();
    let mut not_exported = Vec::new();
    for_each_kept_line(workspace, &entry.parts, |file, line, bytes| {
        match parse_record(bytes, 0)
            .map_err(|_| super::user::NotAUser::NotAnObject)
            .and_then(|record| User::from_record(&record))
        {
            Ok(user) => users.push(user),
            Err(why) => not_exported.push(Skipped {
                id: format!("line {} of {file}", line + 1),
                reason: why.reason().to_owned(),
            }),
        }
        reporter.advanced(USER_ENTITY, 1);
    })?;
    reporter.finished(USER_ENTITY);
    users.sort_by(|left, right| left.id.cmp(&right.id));

    let (app_id, app_id_from) = app_id(options, &manifest, &users);
    let app_id = match (format.keeps_ids(), app_id) {
        (_, Some(app_id)) => Some(app_id),
        (true, None) => None,
        (false, None) => {
            return Err(PipelineError::AppIdUnknown {
                format: format.name().to_owned(),
                path: workspace.root().to_path_buf(),
            });
        }
    };

    // The tables the references live in: planned as the load planned them.
    let mut connection = None;
    let mut mappings = options.mappings.clone();
    if let Some(url) = &options.database_url {
        let mut opened = offbase_pg::connect(url).await?;
        let mut target = Target::new(url.clone(), options.pg_schema.clone());
        target.mappings = options.mappings.clone();
        mappings = target.settled(&mut opened).await?.mappings;
        connection = Some(opened);
    }
    let plan = plan_workspace(workspace, mappings.as_ref(), &NoProgress)?;
    let references = user_references(&plan);

    let new_ids: BTreeMap<String, String> = users
        .iter()
        .map(|user| {
            (
                user.id.clone(),
                ids::new_id(format, app_id.as_deref().unwrap_or_default(), &user.id),
            )
        })
        .collect();
    let login_tokens: BTreeMap<String, Secret> = if format == Format::Postgres {
        users
            .iter()
            .map(|user| (user.id.clone(), login_token()))
            .collect()
    } else {
        BTreeMap::new()
    };
    let rendered = formats::render(
        format,
        &users,
        &Rendering {
            ids: &new_ids,
            pg_schema: &options.pg_schema,
            login_tokens: &login_tokens,
        },
    );
    not_exported.extend(rendered.skipped.iter().cloned());

    // References, counted in every entity's records.
    let mut counter = ReferenceCounter::new(
        &references,
        users
            .iter()
            .map(|user| (user.id.as_str(), user.email.as_deref())),
    );
    for (entity, entry) in &manifest.entities {
        if !counter.counts_entity(entity) {
            continue;
        }
        reporter.started(entity, Some(entry.records));
        let mut unreported = 0;
        for_each_kept_line(workspace, &entry.parts, |_, _, bytes| {
            // A line that is no record is the load's to reject; it points at no one.
            if let Ok(record) = parse_record(bytes, 0) {
                counter.record(entity, &record);
            }
            unreported += 1;
            if unreported == 4096 {
                reporter.advanced(entity, unreported);
                unreported = 0;
            }
        })?;
        reporter.advanced(entity, unreported);
        reporter.finished(entity);
    }
    let (references_by_id, references_by_email) = counter.finish();

    // The artefacts.
    let default_out = options.out.is_none();
    let out = options
        .out
        .clone()
        .unwrap_or_else(|| users_dir(workspace).join(format.name()));
    std::fs::create_dir_all(&out).map_err(|error| PipelineError::io(&out, error))?;
    if default_out {
        // The folder holds password hashes or tokens: never picked up by git.
        let ignore = out.join(".gitignore");
        if !ignore.exists() {
            write_atomic(
                &ignore,
                b"# offbase: password hashes and login tokens, never committed\n*\n",
            )?;
        }
    }
    let written: BTreeSet<&str> = rendered
        .artefacts
        .iter()
        .map(|artefact| artefact.file.as_str())
        .collect();
    clear_older_files(&out, format, &written)?;
    let mut files = Vec::new();
    for artefact in &rendered.artefacts {
        let path = out.join(&artefact.file);
        if artefact.carries == Carries::Nothing {
            write_atomic(&path, &artefact.contents)?;
        } else {
            write_private(&path, &artefact.contents)?;
        }
        files.push(ExportedFile {
            path: path.display().to_string(),
            users: artefact.users,
            carries: artefact.carries,
        });
    }

    // The id map, the plan, the database's map.
    let exported: BTreeSet<&str> = rendered.exported.iter().map(String::as_str).collect();
    let map: Vec<IdMapEntry> = users
        .iter()
        .filter_map(|user| {
            Some(IdMapEntry {
                base44_id: user.id.clone(),
                new_id: new_ids.get(&user.id)?.clone(),
                email: user.email.clone(),
            })
        })
        .collect();
    workspace.write_json(
        &id_map_path(workspace),
        &IdMap {
            format: 1,
            provider: format,
            app_id: app_id.clone(),
            ids_kept: format.keeps_ids(),
            scheme: ids::scheme(format).to_owned(),
            users: map.clone(),
        },
    )?;
    let plan_path = rewrite_plan_path(workspace);
    let rewrite_plan = if format.keeps_ids() {
        match std::fs::remove_file(&plan_path) {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => return Err(PipelineError::io(&plan_path, error)),
        }
        None
    } else {
        let sql = RewritePlan {
            pg_schema: &options.pg_schema,
            provider: format.name(),
            app_id: app_id.as_deref(),
            user_table: references.user_table.as_deref(),
            references: &references.by_id,
            map: &map,
        }
        .render();
        write_atomic(&plan_path, sql.as_bytes())?;
        Some(plan_path.display().to_string())
    };
    let user_map = match (&mut connection, &options.database_url) {
        (Some(connection), Some(url)) => {
            let rows: Vec<offbase_pg::users::UserMapRow> = map
                .iter()
                .map(|entry| offbase_pg::users::UserMapRow {
                    base44_id: entry.base44_id.clone(),
                    new_id: entry.new_id.clone(),
                    email: entry.email.clone(),
                })
                .collect();
            let written = offbase_pg::users::replace_user_map(
                connection,
                &options.pg_schema,
                format.name(),
                app_id.as_deref(),
                &rows,
            )
            .await?;
            Some(UserMapWritten {
                database: offbase_pg::redact_url(url),
                pg_schema: options.pg_schema.clone(),
                rows: written,
            })
        }
        _ => None,
    };

    let mut summary = ExportSummary {
        workspace: workspace.root().display().to_string(),
        format,
        out: out.display().to_string(),
        users: users.len(),
        exported: rendered.exported.len(),
        not_exported,
        files,
        ids: IdSummary {
            kept: format.keeps_ids(),
            scheme: ids::scheme(format).to_owned(),
            app_id,
            app_id_from,
            map: id_map_path(workspace).display().to_string(),
            rewrite_plan,
            user_map,
        },
        sign_in: sign_in(format, &users, &exported, login_tokens.len()),
        secret_fields: secret_fields(&users),
        references_by_id,
        references_by_email,
        shared_emails: shared_emails(&users),
        warnings: warnings(format, &users, &exported),
        report: report_path(workspace).display().to_string(),
    };
    summary.not_exported.sort();
    for warning in &summary.warnings {
        reporter.message(warning);
    }
    write_atomic(&report_path(workspace), users_report(&summary).as_bytes())?;
    Ok(summary)
}

/// The app id, and where it came from.
fn app_id(
    options: &ExportOptions,
    manifest: &Manifest,
    users: &[User],
) -> (Option<String>, Option<String>) {
    if let Some(app_id) = &options.app_id {
        return (Some(app_id.clone()), Some("--app-id".to_owned()));
    }
    if let Some(SourceInfo::Api { app_id, .. }) = &manifest.source {
        return (
            Some(app_id.clone()),
            Some("the API the workspace was pulled from".to_owned()),
        );
    }
    let of_users: BTreeSet<&str> = users
        .iter()
        .filter_map(|user| user.app_id.as_deref())
        .collect();
    if of_users.len() == 1
        && let Some(app_id) = of_users.first()
    {
        return (
            Some((*app_id).to_owned()),
            Some("the users' app_id".to_owned()),
        );
    }
    let folder = match &manifest.source {
        Some(
            SourceInfo::Csv { folder }
            | SourceInfo::Seed { folder }
            | SourceInfo::Sample { folder },
        ) => Some(PathBuf::from(folder)),
        _ => None,
    };
    for root in folder
        .iter()
        .flat_map(|folder| {
            [
                Some(folder.clone()),
                folder
                    .parent()
                    .and_then(Path::parent)
                    .map(Path::to_path_buf),
            ]
        })
        .flatten()
    {
        if let Some(app_id) = offbase_base44::schema::read_app(&root)
            .ok()
            .and_then(|outcome| outcome.app.app_id)
        {
            return (
                Some(app_id),
                Some("the source folder's base44/.app.jsonc".to_owned()),
            );
        }
    }
    (None, None)
}

/// A one-time login token: 32 random bytes from the operating system's generator, in hex.
fn login_token() -> Secret {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    Secret::new(
        bytes
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect::<String>(),
    )
}

/// Removes the files an earlier export of `format` left in `out` that this one did not write
/// (an Auth0 file past the new last one would import users twice).
fn clear_older_files(
    out: &Path,
    format: Format,
    written: &BTreeSet<&str>,
) -> Result<(), PipelineError> {
    let entries = std::fs::read_dir(out).map_err(|error| PipelineError::io(out, error))?;
    for entry in entries {
        let entry = entry.map_err(|error| PipelineError::io(out, error))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if format.writes_file(&name) && !written.contains(name.as_str()) {
            let path = entry.path();
            std::fs::remove_file(&path).map_err(|error| PipelineError::io(&path, error))?;
        }
    }
    Ok(())
}

/// Writes a file only its owner may read (hashes, tokens): created with mode 0600 before a
/// byte is written, synced, then renamed into place.
fn write_private(path: &Path, contents: &[u8]) -> Result<(), PipelineError> {
    #[cfg(unix)]
    {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let parent = path.parent().unwrap_or(Path::new("."));
        let name = path
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        let temporary = parent.join(format!(".{name}.tmp-{}", std::process::id()));
        let result = (|| {
            let _ = std::fs::remove_file(&temporary);
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&temporary)?;
            file.write_all(contents)?;
            file.sync_all()?;
            std::fs::rename(&temporary, path)?;
            if let Ok(folder) = std::fs::File::open(parent) {
                let _ = folder.sync_all();
            }
            Ok(())
        })();
        result.map_err(|error: std::io::Error| {
            let _ = std::fs::remove_file(&temporary);
            PipelineError::io(path, error)
        })
    }
    #[cfg(not(unix))]
    {
        write_atomic(path, contents)
    }
}

fn sign_in(
    format: Format,
    users: &[User],
    exported: &BTreeSet<&str>,
    login_tokens: usize,
) -> SignIn {
    let mut sign_in = SignIn::default();
    for user in users {
        if exported.contains(user.id.as_str()) {
            if format.takes_hashes() && user.password_hash.is_some() {
                sign_in.keep_password += 1;
            } else {
                sign_in.need_reset_or_link += 1;
            }
        }
        match user.is_verified {
            Some(true) => sign_in.verified += 1,
            Some(false) => sign_in.not_verified += 1,
            None => sign_in.verification_unknown += 1,
        }
        sign_in.disabled += usize::from(user.disabled == Some(true));
        sign_in.service_accounts += usize::from(user.is_service == Some(true));
        sign_in.forced_reset += usize::from(user.forced_reset());
    }
    sign_in.login_tokens = login_tokens.min(exported.len());
    sign_in
}

fn secret_fields(users: &[User]) -> Vec<SecretField> {
    let mut fields: BTreeMap<&str, SecretField> = BTreeMap::new();
    for user in users {
        for (name, shape) in &user.secrets {
            let field = fields.entry(name).or_insert_with(|| SecretField {
                field: name.clone(),
                users: 0,
                bcrypt: 0,
                other: 0,
                sign_in_hash: 0,
            });
            field.users += 1;
            match shape {
                SecretShape::Bcrypt => field.bcrypt += 1,
                SecretShape::Other => field.other += 1,
            }
            if user
                .password_hash
                .as_ref()
                .is_some_and(|hash| &hash.field == name)
            {
                field.sign_in_hash += 1;
            }
        }
    }
    fields.into_values().collect()
}

/// Groups of users (by Base44 id) sharing one email once lowercased.
fn shared_emails(users: &[User]) -> Vec<Vec<String>> {
    let mut by_email: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for user in users {
        if let Some(email) = user.email.as_deref().filter(|email| !email.is_empty()) {
            by_email
                .entry(email.to_lowercase())
                .or_default()
                .push(user.id.clone());
        }
    }
    let mut groups: Vec<Vec<String>> = by_email.into_values().filter(|ids| ids.len() > 1).collect();
    groups.sort();
    groups
}

fn warnings(format: Format, users: &[User], exported: &BTreeSet<&str>) -> Vec<String> {
    let exported_users = || {
        users
            .iter()
            .filter(|user| exported.contains(user.id.as_str()))
    };
    let mut warnings = Vec::new();
    match format {
        Format::Auth0 => {
            let renamed = exported_users()
                .filter(|user| {
                    user.password_hash
                        .as_ref()
                        .is_some_and(|hash| hash.hash.expose().starts_with("$2y$"))
                })
                .count();
            if renamed > 0 {
                warnings.push(format!(
                    "{renamed} bcrypt hashes had PHP's $2y$ prefix and are written as $2b$ (the same algorithm; Auth0 documents $2a$ and $2b$)"
                ));
            }
        }
        Format::Clerk => {
            let disabled = exported_users()
                .filter(|user| user.disabled == Some(true))
                .count();
            if disabled > 0 {
                warnings.push(format!(
                    "{disabled} disabled users: Clerk takes no ban when a user is created; ban them after the import (Backend API POST /v1/users/{{user_id}}/ban; each has private_metadata.base44.disabled)"
                ));
            }
        }
        Format::Postgres => warnings.push(format!(
            "{} holds every user's one-time login token in the clear: hand each to its user (e.g. in a sign-in link), then delete the file; never commit it",
            formats::postgres::TOKENS_FILE
        )),
        Format::Supabase | Format::Csv => {}
    }
    warnings
}
