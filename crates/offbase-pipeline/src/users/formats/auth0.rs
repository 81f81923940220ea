//! Auth0 bulk user import: files holding a JSON array of users, each file under the 500 KB an
//! import job takes, as documented in
//! <https://auth0.com/docs/manage-users/user-migration/bulk-user-import-database-schema-and-examples>:
//! `email` (required), `email_verified`, `user_id` (free text: the Base44 id; Auth0 prefixes
//! it with the connection strategy, `auth0|<id>`), `name`, `blocked`, `custom_password_hash`
//! (`algorithm: bcrypt`, `hash.value` with `$2a$` or `$2b$`, `hash.encoding: utf8`),
//! `app_metadata`, `user_metadata`; no other key (the schema has `additionalProperties: false`).

use super::{Artefact, Carries, Rendered, Skipped, server_metadata, with_email};
use crate::users::fields::bcrypt_2b;
use crate::users::user::User;
use serde_json::{Map, Value, json};

/// The most bytes one file may hold: Auth0 takes files up to 500 KB; 500,000 bytes stays under
/// it whichever kilobyte Auth0 means.
pub const FILE_LIMIT: usize = 500_000;

/// The name of the `number`th file (from 1).
pub fn file_name(number: usize) -> String {
    format!("auth0-users-{number:04}.json")
}

/// One user of the import: the Base44 id as `user_id`, `is_verified` as `email_verified`,
/// `disabled` as `blocked`, the bcrypt hash as a `custom_password_hash` (`$2y$` written as
/// `$2b$`, the same algorithm under the prefix Auth0 documents), the role, the platform's data
/// and the app's fields in `app_metadata` (which users cannot edit).
pub fn user_object(user: &User, email: &str) -> Value {
    let mut object = Map::new();
    object.insert("email".to_owned(), Value::String(email.to_owned()));
    object.insert(
        "email_verified".to_owned(),
        Value::Bool(user.is_verified == Some(true)),
    );
    object.insert("user_id".to_owned(), Value::String(user.id.clone()));
    if let Some(name) = user
        .full_name
        .as_deref()
        .filter(|name| !name.trim().is_empty())
    {
        object.insert("name".to_owned(), Value::String(name.to_owned()));
    }
    object.insert(
        "blocked".to_owned(),
        Value::Bool(user.disabled == Some(true)),
    );
    if let Some(hash) = &user.password_hash {
        object.insert(
            "custom_password_hash".to_owned(),
            json!({
                "algorithm": "bcrypt",
                "hash": {"value": bcrypt_2b(hash.hash.expose()), "encoding": "utf8"}
            }),
        );
    }
    object.insert("app_metadata".to_owned(), server_metadata(user, true));
    Value::Object(object)
}

/// The users in files of at most `limit` bytes each: `[`, one user a line, `]`.
pub(super) fn render(users: &[&User], limit: usize) -> Rendered {
    let (taken, mut skipped) = with_email(users);
    let mut files: Vec<(Vec<u8>, usize, bool)> = Vec::new();
    let mut exported = Vec::new();
    // A file's frame: "[\n" before the first user, "\n]\n" after the last.
    const FRAME: usize = 5;
    for (user, email) in taken {
        let line = serde_json::to_vec(&user_object(user, email)).unwrap_or_default();
        if line.len() + FRAME > limit {
            skipped.push(Skipped {
                id: user.id.clone(),
                reason: format!(
                    "its import entry is {} bytes, more than an Auth0 import file may hold ({limit})",
                    line.len()
                ),
            });
            continue;
        }
        let fits = files
            .last()
            .is_some_and(|(contents, _, _)| contents.len() + 2 + line.len() + 3 <= limit);
        if !fits {
            files.push((b"[\n".to_vec(), 0, false));
        }
        if let Some((contents, count, hashes)) = files.last_mut() {
            if *count > 0 {
                contents.extend_from_slice(b",\n");
            }
            contents.extend_from_slice(&line);
            *count += 1;
            *hashes |= user.password_hash.is_some();
        }
        exported.push(user.id.clone());
    }
    let artefacts = files
        .into_iter()
        .enumerate()
        .map(|(index, (mut contents, users, hashes))| {
            contents.extend_from_slice(b"\n]\n");
            Artefact {
                file: file_name(index + 1),
                contents,
                users,
                carries: if hashes {
                    Carries::PasswordHashes
                } else {
                    Carries::Nothing
                },
            }
        })
        .collect();
    skipped.sort();
    Rendered {
        artefacts,
        exported,
        skipped,
    }
}
