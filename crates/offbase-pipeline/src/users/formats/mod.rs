//! The import artefacts each target documents, made from the users alone (pure: no file, no
//! clock, no randomness; the login tokens of the PostgreSQL table are handed in). Every format
//! sorts its users by Base44 id, so the same users give the same bytes.
//!
//! | format | files | ids | password hash |
//! |---|---|---|---|
//! | Supabase | `supabase-users.jsonl`: one admin create-user payload a line | UUID v5 | `password_hash` |
//! | Auth0 | `auth0-users-NNNN.json`: bulk-import arrays under 500 KB | `user_id` = Base44 id | `custom_password_hash` (bcrypt) |
//! | Clerk | `clerk-users.jsonl`: one create-user payload a line | `external_id` = Base44 id | `password_digest` + `password_hasher` |
//! | csv | `users.csv` | Base44 id | none |
//! | postgres | `users.sql` (a `users` table), `login-tokens.csv` | Base44 id | `password_hash` column |

pub mod auth0;
pub mod clerk;
pub mod csv;
pub mod postgres;
pub mod supabase;

use super::Format;
use super::user::{Secret, User};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// What a format is made from besides the users.
#[derive(Debug, Clone, Copy)]
pub struct Rendering<'a> {
    /// Every user's id in the target, by Base44 id.
    pub ids: &'a BTreeMap<String, String>,
    /// The PostgreSQL schema of the `users` table (`postgres`).
    pub pg_schema: &'a str,
    /// Each user's one-time login token, by Base44 id (`postgres`).
    pub login_tokens: &'a BTreeMap<String, Secret>,
}

/// What a file holds beyond user data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Carries {
    Nothing,
    /// Users' password hashes (bcrypt).
    PasswordHashes,
    /// One-time login tokens in the clear.
    LoginTokens,
}

/// One file of an export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Artefact {
    /// The file name (no folder).
    pub file: String,
    pub contents: Vec<u8>,
    /// The users it holds.
    pub users: usize,
    pub carries: Carries,
}

/// A user a format could not take, and why.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct Skipped {
    pub id: String,
    pub reason: String,
}

/// An export's files and the users it left out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rendered {
    pub artefacts: Vec<Artefact>,
    /// The Base44 ids of the users the files hold.
    pub exported: Vec<String>,
    pub skipped: Vec<Skipped>,
}

/// The files of `format` for `users` (any order: each format sorts them).
pub fn render(format: Format, users: &[User], rendering: &Rendering<'_>) -> Rendered {
    let mut sorted: Vec<&User> = users.iter().collect();
    sorted.sort_by(|left, right| left.id.cmp(&right.id));
    match format {
        Format::Supabase => supabase::render(&sorted, rendering),
        Format::Auth0 => auth0::render(&sorted, auth0::FILE_LIMIT),
        Format::Clerk => clerk::render(&sorted),
        Format::Csv => csv::render(&sorted),
        Format::Postgres => postgres::render(&sorted, rendering),
    }
}

/// The users a provider can take (those with an email: every provider signs in by it) and
/// the others, skipped.
pub(crate) fn with_email<'u>(users: &[&'u User]) -> (Vec<(&'u User, &'u str)>, Vec<Skipped>) {
    let mut taken = Vec::new();
    let mut skipped = Vec::new();
    for user in users {
        // The email as Base44 has it (not trimmed, not lowercased): emails are kept exactly.
        match user
            .email
            .as_deref()
            .filter(|email| !email.trim().is_empty())
        {
            Some(email) => taken.push((*user, email)),
            None => skipped.push(Skipped {
                id: user.id.clone(),
                reason: "no email: the provider signs users in by email".to_owned(),
            }),
        }
    }
    (taken, skipped)
}

/// The metadata only the app's server may change: the Base44 role, the platform's data under
/// `base44`, and the app's own fields under `data` (a field such as a tenant key decides what
/// a user may see, so it must not be editable by the user).
pub(crate) fn server_metadata(user: &User, with_role: bool) -> Value {
    let mut metadata = Map::new();
    if with_role && let Some(role) = &user.role {
        metadata.insert("role".to_owned(), Value::String(role.clone()));
    }
    metadata.insert("base44".to_owned(), Value::Object(user.base44_metadata()));
    metadata.insert("data".to_owned(), Value::Object(user.custom_object()));
    Value::Object(metadata)
}

/// A JSON document as one line of a JSONL file.
pub(crate) fn json_line(value: &Value, out: &mut Vec<u8>) {
    // A Value always serializes; the fallback writes an empty object rather than panic.
    match serde_json::to_vec(value) {
        Ok(bytes) => out.extend_from_slice(&bytes),
        Err(_) => out.extend_from_slice(b"{}"),
    }
    out.push(b'\n');
}

#[cfg(test)]
mod tests;
