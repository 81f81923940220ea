//! Importing records from the files of an export: the dashboard's CSV exports ([`csv`], also
//! reachable as `crate::csv_export`) and the CLI's local seed files ([`seed`]). Owns what both
//! importers share: the platform's columns of a record, the files of a folder, and which entity
//! of the app a file holds.

pub mod csv;
pub mod seed;

use offbase_model::{App, BuiltIn, Entity};
use std::fs;
use std::path::Path;

/// Columns of the `User` export that are not [`BuiltIn`]s of the IR but are platform columns.
const USER_EXPORT_COLUMNS: [&str; 4] = [
    "disabled_reason",
    "force_password_reset",
    "collaborator_role",
    "_app_role",
];

/// The platform's columns for an entity, in record key order: the built-ins of every record,
/// then (for `User`) the user built-ins and the other columns of the `User` export.
pub(crate) fn system_fields(is_user: bool) -> Vec<&'static str> {
    let mut names: Vec<&'static str> = BuiltIn::RECORD
        .iter()
        .map(|built_in| built_in.field_name())
        .collect();
    if is_user {
        names.extend(BuiltIn::USER.iter().map(|built_in| built_in.field_name()));
        names.extend(USER_EXPORT_COLUMNS);
    }
    names
}

/// The names of the regular files in a folder, sorted, without hidden files.
pub(crate) fn list_files(dir: &Path) -> Result<Vec<String>, std::io::Error> {
    let mut names = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        if !entry.file_type()?.is_file() && !entry.path().is_file() {
            continue;
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with('.') {
            names.push(name);
        }
    }
    names.sort();
    Ok(names)
}

/// What a "no export found" error adds about the files a folder held instead (empty: none).
pub(crate) fn found_only(skipped: &[String]) -> String {
    if skipped.is_empty() {
        String::new()
    } else {
        format!(" (found only: {})", skipped.join(", "))
    }
}

/// The entity of an app with this name: exactly, else ignoring case.
pub(crate) fn find_entity<'a>(app: &'a App, name: &str) -> Option<&'a Entity> {
    app.entity(name).or_else(|| {
        app.entities
            .iter()
            .find(|entity| entity.name.eq_ignore_ascii_case(name))
    })
}
