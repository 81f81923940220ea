//! `users.csv`: one row per user, every user (with or without an email). Columns in a fixed
//! order: the built-in fields, then the platform columns any user has, then the app's fields
//! any user has, each group by name. Booleans as `true`/`false`, arrays and objects as JSON
//! text, a missing value as an empty cell. Secret-looking fields are left out: a CSV gets
//! opened in spreadsheets and mailed around.

use super::{Artefact, Carries, Rendered};
use crate::users::user::User;
use serde_json::Value;
use std::collections::BTreeSet;

/// The file.
pub const FILE: &str = "users.csv";

/// The built-in columns, first and in this order.
pub const BUILT_IN_COLUMNS: [&str; 10] = [
    "id",
    "email",
    "full_name",
    "role",
    "disabled",
    "is_verified",
    "is_service",
    "app_id",
    "created_date",
    "updated_date",
];

/// The header: the built-in columns, then the platform columns and the app's fields the users
/// have (a field named like a built-in column is the app's and comes again under its name).
pub fn columns(users: &[&User]) -> (Vec<String>, Vec<String>) {
    let platform: BTreeSet<&String> = users.iter().flat_map(|user| user.platform.keys()).collect();
    let custom: BTreeSet<&String> = users.iter().flat_map(|user| user.custom.keys()).collect();
    (
        platform.into_iter().cloned().collect(),
        custom.into_iter().cloned().collect(),
    )
}

fn cell(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(text)) => text.clone(),
        Some(Value::Bool(flag)) => flag.to_string(),
        Some(Value::Number(number)) => number.to_string(),
        Some(other) => other.to_string(),
    }
}

fn text(value: Option<&String>) -> String {
    value.cloned().unwrap_or_default()
}

fn flag(value: Option<bool>) -> String {
    value.map(|flag| flag.to_string()).unwrap_or_default()
}

pub(super) fn render(users: &[&User]) -> Rendered {
    let (platform, custom) = columns(users);
    let mut writer = ::csv::WriterBuilder::new()
        .terminator(::csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    let header: Vec<&str> = BUILT_IN_COLUMNS
        .iter()
        .copied()
        .chain(platform.iter().map(String::as_str))
        .chain(custom.iter().map(String::as_str))
        .collect();
    // Writing into memory fails only on a bad record length, which a fixed header rules out.
    let _ = writer.write_record(&header);
    let mut exported = Vec::new();
    for user in users {
        let mut row = vec![
            user.id.clone(),
            text(user.email.as_ref()),
            text(user.full_name.as_ref()),
            text(user.role.as_ref()),
            flag(user.disabled),
            flag(user.is_verified),
            flag(user.is_service),
            text(user.app_id.as_ref()),
            text(user.created_date.as_ref()),
            text(user.updated_date.as_ref()),
        ];
        row.extend(platform.iter().map(|name| cell(user.platform.get(name))));
        row.extend(custom.iter().map(|name| cell(user.custom.get(name))));
        let _ = writer.write_record(&row);
        exported.push(user.id.clone());
    }
    let contents = writer.into_inner().unwrap_or_default();
    Rendered {
        artefacts: vec![Artefact {
            file: FILE.to_owned(),
            contents,
            users: exported.len(),
            carries: Carries::Nothing,
        }],
        exported,
        skipped: Vec::new(),
    }
}
