//! Clerk: one Backend API create-user payload a line (`POST /v1/users`,
//! `clerkClient.users.createUser(...)`), as documented in
//! <https://clerk.com/docs/reference/backend/user/create-user> and the Backend API reference
//! (<https://clerk.com/docs/reference/backend-api/tag/users/post/users>): `external_id` (the
//! Base44 id), `email_address` (a list; Clerk marks addresses created this way verified),
//! `first_name`, `last_name`, `password_digest` with `password_hasher: "bcrypt"`,
//! `skip_password_requirement`, `public_metadata`, `private_metadata`, `created_at`
//! (RFC 3339).

use super::{Artefact, Carries, Rendered, json_line, server_metadata, with_email};
use crate::users::user::User;
use chrono::SecondsFormat;
use serde_json::{Map, Value};

/// The file.
pub const FILE: &str = "clerk-users.jsonl";

/// One user's payload: the Base44 id as `external_id`, the full name split at its last word,
/// the bcrypt hash as `password_digest` (or no password required, so users without one sign
/// in by email code or link), the role in `public_metadata` (readable by the frontend, not
/// writable by the user), the platform's data and the app's fields in `private_metadata`
/// (backend only), the Base44 creation time as `created_at`.
pub fn payload(user: &User, email: &str) -> Value {
    let mut object = Map::new();
    object.insert("external_id".to_owned(), Value::String(user.id.clone()));
    object.insert(
        "email_address".to_owned(),
        Value::Array(vec![Value::String(email.to_owned())]),
    );
    let (first, last) = user.name_parts();
    if let Some(first) = first {
        object.insert("first_name".to_owned(), Value::String(first));
    }
    if let Some(last) = last {
        object.insert("last_name".to_owned(), Value::String(last));
    }
    match &user.password_hash {
        Some(hash) => {
            object.insert(
                "password_digest".to_owned(),
                Value::String(hash.hash.expose().to_owned()),
            );
            object.insert(
                "password_hasher".to_owned(),
                Value::String("bcrypt".to_owned()),
            );
        }
        None => {
            object.insert("skip_password_requirement".to_owned(), Value::Bool(true));
        }
    }
    let mut public = Map::new();
    if let Some(role) = &user.role {
        public.insert("role".to_owned(), Value::String(role.clone()));
    }
    object.insert("public_metadata".to_owned(), Value::Object(public));
    object.insert("private_metadata".to_owned(), server_metadata(user, false));
    if let Some(created) = user
        .created_date
        .as_deref()
        .and_then(offbase_model::time::parse_timestamp)
    {
        object.insert(
            "created_at".to_owned(),
            Value::String(created.to_rfc3339_opts(SecondsFormat::Millis, true)),
        );
    }
    Value::Object(object)
}

pub(super) fn render(users: &[&User]) -> Rendered {
    let (taken, skipped) = with_email(users);
    let mut contents = Vec::new();
    let mut exported = Vec::new();
    let mut hashes = false;
    for (user, email) in taken {
        hashes |= user.password_hash.is_some();
        json_line(&payload(user, email), &mut contents);
        exported.push(user.id.clone());
    }
    Rendered {
        artefacts: vec![Artefact {
            file: FILE.to_owned(),
            contents,
            users: exported.len(),
            carries: if hashes {
                Carries::PasswordHashes
            } else {
                Carries::Nothing
            },
        }],
        exported,
        skipped,
    }
}
