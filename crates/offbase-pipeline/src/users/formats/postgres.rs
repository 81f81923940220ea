//! A plain users table for an app that signs its users in itself: `users.sql` creates
//! `<schema>.users` (ids kept, the built-in fields as columns, the app's fields in `data`, the
//! platform's extra columns in `platform`, the bcrypt hash in `password_hash`) and fills it
//! with one `COPY` (values travel as COPY data, never as SQL text). Every user gets a one-time
//! login token: the table keeps its SHA-256 (`login_token_sha256`), the tokens themselves go
//! to `login-tokens.csv`, a separate file to hand out and then delete.

use super::{Artefact, Carries, Rendered, Rendering, Skipped};
use crate::users::user::User;
/// The SHA-256 of a token, in hex, as the table keeps it (`encode(sha256(token::bytea),
/// 'hex')` in SQL): the one digest the servers look one-time tokens up by.
pub use offbase_base44::accounts::token_digest;
use offbase_copy::Cell;
use offbase_model::PgType;
use offbase_model::names::quote_identifier;
use serde_json::{Map, Value};
use std::borrow::Cow;

/// The SQL file.
pub const FILE: &str = "users.sql";
/// The tokens in the clear.
pub const TOKENS_FILE: &str = "login-tokens.csv";
/// The table.
pub const TABLE: &str = "users";

/// The columns, their types and their definitions, in table order.
const COLUMNS: [(&str, &str); 15] = [
    ("id", "text PRIMARY KEY"),
    ("email", "text"),
    ("full_name", "text"),
    ("role", "text"),
    ("disabled", "boolean"),
    ("is_verified", "boolean"),
    ("is_service", "boolean"),
    ("app_id", "text"),
    ("created_date", "timestamptz"),
    ("updated_date", "timestamptz"),
    ("password_hash", "text"),
    ("data", "jsonb NOT NULL DEFAULT '{}'::jsonb"),
    ("platform", "jsonb NOT NULL DEFAULT '{}'::jsonb"),
    ("login_token_sha256", "text UNIQUE"),
    ("login_token_used_at", "timestamptz"),
];

/// The columns the COPY fills (all but `login_token_used_at`).
const FILLED: usize = 14;

fn types() -> Vec<PgType> {
    vec![
        PgType::Text,
        PgType::Text,
        PgType::Text,
        PgType::Text,
        PgType::Boolean,
        PgType::Boolean,
        PgType::Boolean,
        PgType::Text,
        PgType::Timestamptz,
        PgType::Timestamptz,
        PgType::Text,
        PgType::Jsonb,
        PgType::Jsonb,
        PgType::Text,
    ]
}

fn text_cell(value: Option<&str>) -> Cell<'_> {
    value.map_or(Cell::Null, Cell::Text)
}

fn flag_cell(value: Option<bool>) -> Cell<'static> {
    value.map_or(Cell::Null, Cell::Bool)
}

/// A timestamp cell, or NULL with the text kept in `platform` when it does not parse.
fn time_cell(
    name: &str,
    value: Option<&String>,
    platform: &mut Map<String, Value>,
) -> Cell<'static> {
    match value {
        None => Cell::Null,
        Some(text) => match offbase_model::time::parse_timestamp(text) {
            Some(instant) => Cell::from_instant(instant),
            None => {
                platform.insert(name.to_owned(), Value::String(text.clone()));
                Cell::Null
            }
        },
    }
}

/// Whether any text of the user holds a NUL character, which PostgreSQL's text and jsonb
/// cannot store.
fn holds_nul(user: &User) -> bool {
    let texts = [
        Some(&user.id),
        user.email.as_ref(),
        user.full_name.as_ref(),
        user.role.as_ref(),
        user.app_id.as_ref(),
    ];
    texts.iter().flatten().any(|text| text.contains('\0'))
        || user
            .custom
            .iter()
            .chain(&user.platform)
            .any(|(key, value)| key.contains('\0') || value.to_string().contains("\\u0000"))
}

/// The head of `users.sql`: what it is, how to apply it, the table.
fn head(pg_schema: &str, users: usize) -> String {
    let table = format!(
        "{}.{}",
        quote_identifier(pg_schema),
        quote_identifier(TABLE)
    );
    let mut sql = format!(
        "-- offbase users export: a users table for PostgreSQL, {users} users, Base44 ids kept.\n\
         -- Apply once: psql \"$DATABASE_URL\" -v ON_ERROR_STOP=1 -f {FILE}\n\
         -- login_token_sha256 is the SHA-256 (hex) of each user's one-time login token; the tokens\n\
         -- are in {TOKENS_FILE} beside this file, never in here. To sign a user in with one:\n\
         --   UPDATE {table} SET login_token_used_at = now()\n\
         --   WHERE login_token_sha256 = encode(sha256(convert_to($1, 'UTF8')), 'hex')\n\
         --     AND login_token_used_at IS NULL RETURNING id;\n\
         BEGIN;\n\
         CREATE SCHEMA IF NOT EXISTS {};\n\
         CREATE TABLE {table} (\n",
        quote_identifier(pg_schema)
    );
    let definitions: Vec<String> = COLUMNS
        .iter()
        .map(|(name, definition)| format!("  {} {definition}", quote_identifier(name)))
        .collect();
    sql.push_str(&definitions.join(",\n"));
    sql.push_str("\n);\n");
    sql.push_str(&format!(
        "CREATE INDEX {} ON {table} (lower({}));\n",
        quote_identifier("users_lower_email_idx"),
        quote_identifier("email")
    ));
    let filled: Vec<String> = COLUMNS[..FILLED]
        .iter()
        .map(|(name, _)| quote_identifier(name))
        .collect();
    sql.push_str(&format!(
        "COPY {table} ({}) FROM stdin;\n",
        filled.join(", ")
    ));
    sql
}

pub(super) fn render(users: &[&User], rendering: &Rendering<'_>) -> Rendered {
    let types = types();
    let mut rows = Vec::new();
    let mut tokens = ::csv::WriterBuilder::new()
        .terminator(::csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    let _ = tokens.write_record(["id", "email", "login_token"]);
    let mut exported = Vec::new();
    let mut skipped = Vec::new();
    let mut hashes = false;
    for user in users {
        if holds_nul(user) {
            skipped.push(Skipped {
                id: user.id.clone(),
                reason: "a value holds a NUL character, which PostgreSQL cannot store".to_owned(),
            });
            continue;
        }
        let Some(token) = rendering.login_tokens.get(&user.id) else {
            skipped.push(Skipped {
                id: user.id.clone(),
                reason: "no login token was made for it".to_owned(),
            });
            continue;
        };
        let digest = token_digest(token.expose());
        let mut platform: Map<String, Value> = user
            .platform
            .iter()
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect();
        let created = time_cell("created_date", user.created_date.as_ref(), &mut platform);
        let updated = time_cell("updated_date", user.updated_date.as_ref(), &mut platform);
        let data = Value::Object(user.custom_object());
        let platform = Value::Object(platform);
        let cells = [
            Cell::Text(&user.id),
            text_cell(user.email.as_deref()),
            text_cell(user.full_name.as_deref()),
            text_cell(user.role.as_deref()),
            flag_cell(user.disabled),
            flag_cell(user.is_verified),
            flag_cell(user.is_service),
            text_cell(user.app_id.as_deref()),
            created,
            updated,
            text_cell(user.password_hash.as_ref().map(|hash| hash.hash.expose())),
            Cell::Json(Cow::Borrowed(&data)),
            Cell::Json(Cow::Borrowed(&platform)),
            Cell::Text(&digest),
        ];
        if let Err(error) = offbase_copy::text::encode_row(&cells, &types, &mut rows) {
            skipped.push(Skipped {
                id: user.id.clone(),
                reason: format!("cannot be written as a row: {error}"),
            });
            continue;
        }
        hashes |= user.password_hash.is_some();
        let _ = tokens.write_record([
            user.id.as_str(),
            user.email.as_deref().unwrap_or_default(),
            token.expose(),
        ]);
        exported.push(user.id.clone());
    }
    let mut sql = head(rendering.pg_schema, exported.len()).into_bytes();
    sql.extend_from_slice(&rows);
    sql.extend_from_slice(b"\\.\nCOMMIT;\n");
    Rendered {
        artefacts: vec![
            Artefact {
                file: FILE.to_owned(),
                contents: sql,
                users: exported.len(),
                carries: if hashes {
                    Carries::PasswordHashes
                } else {
                    Carries::Nothing
                },
            },
            Artefact {
                file: TOKENS_FILE.to_owned(),
                contents: tokens.into_inner().unwrap_or_default(),
                users: exported.len(),
                carries: Carries::LoginTokens,
            },
        ],
        exported,
        skipped,
    }
}
