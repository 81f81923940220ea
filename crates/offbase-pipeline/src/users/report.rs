//! What an export did, as the `--json` summary ([`ExportSummary`]) and as
//! `reports/users.md`. Both hold counts, field names, ids and file names only: never a
//! password hash, a token, a secret field's value, nor an email.

use super::Format;
use super::formats::{Carries, Skipped};
use super::references::{EmailCounts, IdCounts};
use serde::Serialize;

/// The machine-readable summary (`offbase users export --json`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExportSummary {
    pub workspace: String,
    pub format: Format,
    /// The folder the artefacts were written to.
    pub out: String,
    /// Users read from the staged `User` entity (one per id).
    pub users: usize,
    /// Users the artefacts hold.
    pub exported: usize,
    /// Users (and staged lines) left out, with the reason.
    pub not_exported: Vec<Skipped>,
    pub files: Vec<ExportedFile>,
    pub ids: IdSummary,
    pub sign_in: SignIn,
    /// Secret-looking fields of the users, by name (their values are never shown).
    pub secret_fields: Vec<SecretField>,
    pub references_by_id: Vec<IdCounts>,
    pub references_by_email: Vec<EmailCounts>,
    /// Users sharing one email once lowercased (each group by Base44 id): a provider keeps
    /// only one of each.
    pub shared_emails: Vec<Vec<String>>,
    pub warnings: Vec<String>,
    /// `reports/users.md`.
    pub report: String,
}

impl ExportSummary {
    /// Why the export is not complete, one clause each (exit code 1); empty when it is.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if !self.not_exported.is_empty() {
            problems.push(format!(
                "{} users (or staged lines) were not exported",
                self.not_exported.len()
            ));
        }
        if !self.shared_emails.is_empty() {
            problems.push(format!(
                "{} emails are shared by more than one user (ignoring case): the provider takes one of each",
                self.shared_emails.len()
            ));
        }
        problems
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExportedFile {
    pub path: String,
    pub users: usize,
    pub carries: Carries,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IdSummary {
    /// Whether every user keeps its Base44 id in the target.
    pub kept: bool,
    pub scheme: String,
    pub app_id: Option<String>,
    /// Where the app id came from (`--app-id`, the API the workspace was pulled from, the
    /// users' `app_id`, the schemas' `.app.jsonc`).
    pub app_id_from: Option<String>,
    /// `users/id-map.json`.
    pub map: String,
    /// `users/rewrite-plan.sql`, when ids change.
    pub rewrite_plan: Option<String>,
    /// The rows written to `offbase.user_map`, when a database was given.
    pub user_map: Option<UserMapWritten>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UserMapWritten {
    /// The database, its password hidden.
    pub database: String,
    pub pg_schema: String,
    pub rows: u64,
}

/// How the users will sign in on the other side, as far as the data can tell.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SignIn {
    /// Exported users whose bcrypt hash the artefacts carry: they keep their password.
    pub keep_password: usize,
    /// Exported users without one: a password reset, a magic link or an invitation (or the
    /// same OAuth provider, which the data cannot tell).
    pub need_reset_or_link: usize,
    /// Of all users: `is_verified` true, false, or absent.
    pub verified: usize,
    pub not_verified: usize,
    pub verification_unknown: usize,
    pub disabled: usize,
    pub service_accounts: usize,
    /// Users with `force_password_reset` set (a column of some dashboard exports).
    pub forced_reset: usize,
    /// One-time login tokens made (`postgres`).
    pub login_tokens: usize,
}

/// A secret-looking field: how many users have a value, and of what shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SecretField {
    pub field: String,
    pub users: usize,
    pub bcrypt: usize,
    pub other: usize,
    /// Users whose sign-in hash is this field's (carried where the format takes hashes).
    pub sign_in_hash: usize,
}

/// A value for a Markdown table cell: no line breaks, pipes escaped.
fn cell(text: &str) -> String {
    text.replace(['\n', '\r'], " ").replace('|', "\\|")
}

/// `reports/users.md`.
pub fn users_report(summary: &ExportSummary) -> String {
    let format = summary.format.name();
    let mut text = format!(
        "# Users: {} of {} exported to {format}\n\n",
        summary.exported, summary.users
    );
    text.push_str(&format!(
        "Read from the staged `User` entity of `{}`; written to `{}`.\n\n",
        cell(&summary.workspace),
        cell(&summary.out)
    ));
    text.push_str("| file | users | holds |\n|---|---:|---|\n");
    for file in &summary.files {
        let holds = match file.carries {
            Carries::Nothing => "user data",
            Carries::PasswordHashes => "user data and bcrypt password hashes: keep it private",
            Carries::LoginTokens => {
                "one-time login tokens in the clear: hand them out, then delete the file"
            }
        };
        text.push_str(&format!(
            "| `{}` | {} | {holds} |\n",
            cell(&file.path),
            file.users
        ));
    }

    text.push_str("\n## Ids\n\n");
    let ids = &summary.ids;
    if ids.kept {
        text.push_str(&format!(
            "Kept: every user has its Base44 id in {format}{}. References to users need no rewrite.\n",
            match summary.format {
                Format::Auth0 => " as `user_id` (Auth0 prefixes it with the connection: `auth0|<id>`)",
                Format::Clerk => " as `external_id` (Clerk gives each user an id of its own, `user_...`: look users up by `external_id`)",
                _ => "",
            }
        ));
    } else {
        text.push_str(&format!(
            "New: {format} needs UUIDs, so each user gets `{}`, the same on every run{}.\n",
            ids.scheme,
            ids.app_id
                .as_deref()
                .map(|app| format!(
                    " (app id `{}`, from {})",
                    cell(app),
                    ids.app_id_from.as_deref().unwrap_or("?")
                ))
                .unwrap_or_default()
        ));
    }
    text.push_str(&format!(
        "The map (Base44 id, new id, email): `{}`",
        cell(&ids.map)
    ));
    if let Some(written) = &ids.user_map {
        text.push_str(&format!(
            ", and {} rows in `offbase.user_map` of {} for schema `{}`",
            written.rows,
            cell(&written.database),
            cell(&written.pg_schema)
        ));
    }
    text.push_str(".\n");
    if let Some(plan) = &ids.rewrite_plan {
        text.push_str(&format!(
            "\nThe references below by id are rewritten to the new ids by `{}`: review it, then apply it once after the last sync with `psql \"$DATABASE_URL\" -v ON_ERROR_STOP=1 -f {}`. After it, `diff data` and `verify` differ in those columns, as they should.\n",
            cell(plan),
            cell(plan)
        ));
    }

    let sign_in = &summary.sign_in;
    text.push_str("\n## Signing in after the cutover\n\n");
    text.push_str("No password can be exported from Base44. What the data says:\n\n");
    text.push_str("| users | count |\n|---|---:|\n");
    let rows = [
        (
            "keep their password (a bcrypt hash the app stored itself, carried)",
            sign_in.keep_password,
        ),
        (
            "need a password reset, a magic link or an invitation",
            sign_in.need_reset_or_link,
        ),
        ("email verified (`is_verified`)", sign_in.verified),
        ("email not verified", sign_in.not_verified),
        (
            "verification unknown (no `is_verified`)",
            sign_in.verification_unknown,
        ),
        ("disabled (`disabled`)", sign_in.disabled),
        ("service accounts (`is_service`)", sign_in.service_accounts),
        (
            "asked to reset their password (`force_password_reset`)",
            sign_in.forced_reset,
        ),
    ];
    for (what, count) in rows {
        text.push_str(&format!("| {what} | {count} |\n"));
    }
    if sign_in.login_tokens > 0 {
        text.push_str(&format!(
            "| one-time login tokens made | {} |\n",
            sign_in.login_tokens
        ));
    }
    text.push_str(
        "\nWhat the data cannot say: how each user signed in. Base44 exports no login method, so \
         whether a user used Google (on by default) or another OAuth provider is unknown. Such a \
         user signs in the same way on the new provider once that OAuth provider is set up there \
         and the identity is matched to the user by email (automatic where the provider links \
         verified emails; Auth0 needs account linking). Everyone else gets a reset link, a magic \
         link or an invitation on cutover day: see docs/users.md.\n",
    );

    text.push_str("\n## Secret-looking fields\n\n");
    if summary.secret_fields.is_empty() {
        text.push_str("None: no user field is named like a password, hash, secret, token, key, TOTP or PIN.\n");
    } else {
        text.push_str(
            "Values are never shown. A bcrypt hash of a password (else PIN) field is the sign-in hash, \
             carried only by the formats that take hashes (Supabase `password_hash`, Auth0 \
             `custom_password_hash`, Clerk `password_digest`, the PostgreSQL `password_hash` column); \
             every other secret stays in the loaded `User` table and in no artefact.\n\n\
             | field | users with a value | bcrypt | other | sign-in hash of |\n|---|---:|---:|---:|---:|\n",
        );
        for field in &summary.secret_fields {
            text.push_str(&format!(
                "| `{}` | {} | {} | {} | {} |\n",
                cell(&field.field),
                field.users,
                field.bcrypt,
                field.other,
                field.sign_in_hash
            ));
        }
    }

    text.push_str("\n## References to users\n\n### By id\n\n");
    if summary.references_by_id.is_empty() {
        text.push_str("None.\n");
    } else {
        text.push_str(if ids.kept {
            "Kept as they are: the ids do not change.\n\n"
        } else {
            "Rewritten by the plan. A value that is no user's id (an orphan, `anonymous`, `service_...`) stays as it is.\n\n"
        });
        text.push_str("| entity | field | column | values | a user's id | not a user's id |\n|---|---|---|---:|---:|---:|\n");
        for counts in &summary.references_by_id {
            text.push_str(&format!(
                "| {} | `{}` | `{}.{}` | {} | {} | {} |\n",
                cell(&counts.entity),
                cell(&counts.field),
                cell(&counts.table),
                cell(&counts.column),
                counts.values,
                counts.users,
                counts.not_users
            ));
        }
    }
    text.push_str("\n### By email\n\n");
    text.push_str(
        "Kept as they are, and so are the users' emails. A value names a user when it equals the \
         user's email once both are lowercased (nothing else is normalised); values that match \
         only so would be missed by an exact comparison: compare `lower(...)` after the cutover.\n\n",
    );
    if summary.references_by_email.is_empty() {
        text.push_str("No record holds one.\n");
    } else {
        text.push_str("| entity | field | values | a user's email | only ignoring case | no user |\n|---|---|---:|---:|---:|---:|\n");
        for counts in &summary.references_by_email {
            text.push_str(&format!(
                "| {} | `{}` | {} | {} | {} | {} |\n",
                cell(&counts.entity),
                cell(&counts.field),
                counts.values,
                counts.exact,
                counts.ignoring_case,
                counts.no_user
            ));
        }
    }

    if !summary.shared_emails.is_empty() {
        text.push_str("\n## Emails shared by several users (ignoring case)\n\nA provider keeps one user per email: merge these before the import.\n\n| users (Base44 ids) |\n|---|\n");
        for group in &summary.shared_emails {
            text.push_str(&format!("| {} |\n", cell(&group.join(", "))));
        }
    }
    if !summary.not_exported.is_empty() {
        text.push_str("\n## Not exported\n\n| user | why |\n|---|---|\n");
        for skipped in &summary.not_exported {
            text.push_str(&format!(
                "| `{}` | {} |\n",
                cell(&skipped.id),
                cell(&skipped.reason)
            ));
        }
    }
    if !summary.warnings.is_empty() {
        text.push_str("\n## Warnings\n\n");
        for warning in &summary.warnings {
            text.push_str(&format!("- {}\n", cell(warning)));
        }
    }
    text
}
