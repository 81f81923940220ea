//! Supabase Auth: one admin create-user payload a line (`supabase.auth.admin.createUser(...)`,
//! `POST /auth/v1/admin/users`), as documented in
//! <https://supabase.com/docs/reference/javascript/auth-admin-createuser> and the
//! `AdminUserAttributes` of auth-js
//! (<https://supabase.github.io/auth-js/v2/interfaces/AdminUserAttributes.html>): `id`
//! (a UUID), `email`, `email_confirm`, `password_hash` (bcrypt, scrypt or argon2),
//! `ban_duration`, `user_metadata`, `app_metadata`.

use super::{Artefact, Carries, Rendered, Rendering, json_line, server_metadata, with_email};
use crate::users::user::User;
use serde_json::{Map, Value};

/// The file.
pub const FILE: &str = "supabase-users.jsonl";

/// How long a disabled user is banned: 100 years, in the hours `ban_duration` takes (its
/// units stop at `h`).
pub const BANNED_FOR: &str = "876000h";

/// One user's payload: `id` is its UUID, `email` as Base44 has it, `email_confirm` from
/// `is_verified`, its bcrypt hash where the app kept one, a ban for a disabled user, the full
/// name in `user_metadata` (which the user may edit), the rest in `app_metadata` (which only
/// the service role may).
pub fn payload(user: &User, id: &str, email: &str) -> Value {
    let mut object = Map::new();
    object.insert("id".to_owned(), Value::String(id.to_owned()));
    object.insert("email".to_owned(), Value::String(email.to_owned()));
    object.insert(
        "email_confirm".to_owned(),
        Value::Bool(user.is_verified == Some(true)),
    );
    if let Some(hash) = &user.password_hash {
        object.insert(
            "password_hash".to_owned(),
            Value::String(hash.hash.expose().to_owned()),
        );
    }
    if user.disabled == Some(true) {
        object.insert(
            "ban_duration".to_owned(),
            Value::String(BANNED_FOR.to_owned()),
        );
    }
    let mut user_metadata = Map::new();
    if let Some(name) = &user.full_name {
        user_metadata.insert("full_name".to_owned(), Value::String(name.clone()));
    }
    object.insert("user_metadata".to_owned(), Value::Object(user_metadata));
    object.insert("app_metadata".to_owned(), server_metadata(user, true));
    Value::Object(object)
}

pub(super) fn render(users: &[&User], rendering: &Rendering<'_>) -> Rendered {
    let (taken, mut skipped) = with_email(users);
    let mut contents = Vec::new();
    let mut exported = Vec::new();
    let mut hashes = false;
    for (user, email) in taken {
        let Some(id) = rendering.ids.get(&user.id) else {
            skipped.push(super::Skipped {
                id: user.id.clone(),
                reason: "no new id was made for it".to_owned(),
            });
            continue;
        };
        hashes |= user.password_hash.is_some();
        json_line(&payload(user, id, email), &mut contents);
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
