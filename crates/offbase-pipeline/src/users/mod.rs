//! Users: the staged `User` entity (from the API, the dashboard's CSV export or seed files) into
//! the import format of the app's new sign-in provider, with ids kept or mapped, the loaded
//! tables' references to users rewritten to mapped ids, and a report of who can sign in how.
//!
//! Pure, and tested on hand-built users: which fields are secrets ([`fields`]), one user as the
//! export sees it ([`user`]), the ids ([`ids`]), the artefacts of each target ([`formats`]),
//! where records point at users ([`references`]), the rewrite plan ([`rewrite`]), the summary
//! and the report ([`report`]). The I/O is in [`export`]: reading the workspace, writing the
//! files, the map in the database.
//!
//! Invariant: no password hash, token or secret field's value reaches a report, a summary, an
//! error or a log; they reach only the artefact files meant to carry them.

pub mod export;
pub mod fields;
pub mod formats;
pub mod ids;
pub mod references;
pub mod report;
pub mod rewrite;
pub mod user;

pub use export::{ExportOptions, export};
pub use report::ExportSummary;

use serde::{Deserialize, Serialize};

/// Where the users go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// Supabase Auth: admin create-user payloads (JSONL); ids become UUIDs.
    Supabase,
    /// Auth0: bulk-import JSON files under 500 KB.
    Auth0,
    /// Clerk: Backend API create-user payloads (JSONL).
    Clerk,
    /// One CSV row per user.
    Csv,
    /// A plain `users` table for PostgreSQL, with one-time login tokens.
    Postgres,
}

impl Format {
    pub const ALL: [Format; 5] = [
        Format::Supabase,
        Format::Auth0,
        Format::Clerk,
        Format::Csv,
        Format::Postgres,
    ];

    pub fn name(self) -> &'static str {
        match self {
            // The name the map records, which the access rules' Supabase dialect looks up.
            Format::Supabase => offbase_sql::rls::SUPABASE_PROVIDER,
            Format::Auth0 => "auth0",
            Format::Clerk => "clerk",
            Format::Csv => "csv",
            Format::Postgres => "postgres",
        }
    }

    /// Whether users keep their Base44 id in the target (all but Supabase, whose ids are
    /// UUIDs).
    pub fn keeps_ids(self) -> bool {
        !matches!(self, Format::Supabase)
    }

    /// Whether the format takes a password hash.
    pub fn takes_hashes(self) -> bool {
        !matches!(self, Format::Csv)
    }

    /// Whether a file name is one this format writes (so a new run can clear an older run's
    /// files, e.g. an Auth0 file past the new last one).
    pub fn writes_file(self, name: &str) -> bool {
        match self {
            Format::Supabase => name == formats::supabase::FILE,
            Format::Auth0 => name.starts_with("auth0-users-") && name.ends_with(".json"),
            Format::Clerk => name == formats::clerk::FILE,
            Format::Csv => name == formats::csv::FILE,
            Format::Postgres => {
                name == formats::postgres::FILE || name == formats::postgres::TOKENS_FILE
            }
        }
    }
}
