//! One user as the export sees it: the platform's built-in fields, the platform columns some
//! exports add, the app's own fields (secret-looking ones set apart, by name only), and the
//! bcrypt hash the user signs in with when the app keeps one. Built from a staged record of
//! the `User` entity, whatever staged it (the API, the dashboard's CSV export, seed files).

use super::fields::{credential_rank, is_bcrypt, is_secret_field};
use offbase_model::BuiltIn;
use offbase_model::record::FLAGS_KEY;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::fmt;

/// Columns the dashboard's User export has beyond the built-in fields: platform data, not the
/// app's (kept under `base44` in the metadata, never taken for custom fields). `_app_role` is
/// the role too when a record has no `role` (that export has no `role` column).
pub const PLATFORM_COLUMNS: [&str; 4] = [
    "_app_role",
    "collaborator_role",
    "disabled_reason",
    "force_password_reset",
];

/// A secret value: shown as `***` by `Debug`, so no panic, log or test failure prints it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The value, for the artefacts meant to carry it (and nothing else).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("***")
    }
}

/// The bcrypt hash a user signs in with, and the field it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordHash {
    pub field: String,
    pub hash: Secret,
}

/// What a user's secret-looking field holds, without its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SecretShape {
    Bcrypt,
    Other,
}

#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub id: String,
    pub email: Option<String>,
    pub full_name: Option<String>,
    pub role: Option<String>,
    pub disabled: Option<bool>,
    pub is_verified: Option<bool>,
    pub is_service: Option<bool>,
    pub app_id: Option<String>,
    pub created_date: Option<String>,
    pub updated_date: Option<String>,
    /// The [`PLATFORM_COLUMNS`] the record has.
    pub platform: BTreeMap<String, Value>,
    /// The app's own fields, by name, secret-looking ones left out.
    pub custom: BTreeMap<String, Value>,
    /// Each secret-looking field with a value, and its shape (never its value).
    pub secrets: BTreeMap<String, SecretShape>,
    /// The bcrypt hash the user signs in with, if a credential field holds one.
    pub password_hash: Option<PasswordHash>,
}

/// Why a staged line gave no user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotAUser {
    NotAnObject,
    NoId,
}

impl NotAUser {
    pub fn reason(&self) -> &'static str {
        match self {
            NotAUser::NotAnObject => "the line is not a JSON object",
            NotAUser::NoId => "the record has no id",
        }
    }
}

impl User {
    /// The user a staged `User` record describes.
    pub fn from_record(record: &Map<String, Value>) -> Result<User, NotAUser> {
        let text = |field: BuiltIn| {
            record
                .get(field.field_name())
                .and_then(|value| match value {
                    Value::String(text) if !text.is_empty() => Some(text.clone()),
                    Value::Number(number) => Some(number.to_string()),
                    _ => None,
                })
        };
        let flag = |field: BuiltIn| record.get(field.field_name()).and_then(boolean);
        let id = text(BuiltIn::Id).ok_or(NotAUser::NoId)?;
        let built_ins: Vec<&str> = BuiltIn::RECORD
            .iter()
            .chain(BuiltIn::USER.iter())
            .map(|field| field.field_name())
            .collect();
        let mut user = User {
            id,
            email: text(BuiltIn::Email),
            full_name: text(BuiltIn::FullName),
            role: text(BuiltIn::Role),
            disabled: flag(BuiltIn::Disabled),
            is_verified: flag(BuiltIn::IsVerified),
            is_service: flag(BuiltIn::IsService),
            app_id: text(BuiltIn::AppId),
            created_date: text(BuiltIn::CreatedDate),
            updated_date: text(BuiltIn::UpdatedDate),
            platform: BTreeMap::new(),
            custom: BTreeMap::new(),
            secrets: BTreeMap::new(),
            password_hash: None,
        };
        let mut credentials: Vec<(u8, &str, &str)> = Vec::new();
        for (key, value) in record {
            if key == FLAGS_KEY || built_ins.contains(&key.as_str()) {
                continue;
            }
            if PLATFORM_COLUMNS.contains(&key.as_str()) {
                if !value.is_null() {
                    user.platform.insert(key.clone(), value.clone());
                }
                continue;
            }
            if is_secret_field(key) {
                if is_empty(value) {
                    continue;
                }
                let bcrypt = value.as_str().filter(|text| is_bcrypt(text));
                user.secrets.insert(
                    key.clone(),
                    if bcrypt.is_some() {
                        SecretShape::Bcrypt
                    } else {
                        SecretShape::Other
                    },
                );
                if let (Some(hash), Some(rank)) = (bcrypt, credential_rank(key)) {
                    credentials.push((rank, key, hash));
                }
                continue;
            }
            user.custom.insert(key.clone(), value.clone());
        }
        // The dashboard's User export has no `role` column, only the platform's `_app_role`.
        if user.role.is_none()
            && let Some(Value::String(role)) = user.platform.get("_app_role")
            && !role.is_empty()
        {
            user.role = Some(role.clone());
        }
        credentials.sort();
        user.password_hash = credentials.first().map(|(_, field, hash)| PasswordHash {
            field: (*field).to_owned(),
            hash: Secret::new(*hash),
        });
        Ok(user)
    }

    /// Whether `force_password_reset` is set (some dashboard exports have the column).
    pub fn forced_reset(&self) -> bool {
        self.platform
            .get("force_password_reset")
            .and_then(boolean)
            .unwrap_or(false)
    }

    /// `full_name` as a first and a last name: the last word is the last name, the words
    /// before it the first name (`Mary Ann Smith` → `Mary Ann`, `Smith`); one word is a first
    /// name alone. The whole name is kept in the metadata as well.
    pub fn name_parts(&self) -> (Option<String>, Option<String>) {
        let Some(name) = self.full_name.as_deref().map(str::trim) else {
            return (None, None);
        };
        match name.rsplit_once(char::is_whitespace) {
            Some((first, last)) if !first.trim().is_empty() => {
                (Some(first.trim().to_owned()), Some(last.to_owned()))
            }
            _ if name.is_empty() => (None, None),
            _ => (Some(name.to_owned()), None),
        }
    }

    /// The platform's data about the user that no target has a field for: the Base44 id and
    /// app, the service flag, the timestamps and the platform columns, as one object.
    pub fn base44_metadata(&self) -> Map<String, Value> {
        let mut base44 = Map::new();
        base44.insert("id".to_owned(), Value::String(self.id.clone()));
        let optional = [
            ("app_id", self.app_id.clone().map(Value::String)),
            ("full_name", self.full_name.clone().map(Value::String)),
            ("is_service", self.is_service.map(Value::Bool)),
            ("is_verified", self.is_verified.map(Value::Bool)),
            ("disabled", self.disabled.map(Value::Bool)),
            ("created_date", self.created_date.clone().map(Value::String)),
            ("updated_date", self.updated_date.clone().map(Value::String)),
        ];
        for (key, value) in optional {
            if let Some(value) = value {
                base44.insert(key.to_owned(), value);
            }
        }
        for (key, value) in &self.platform {
            base44.insert(key.clone(), value.clone());
        }
        base44
    }

    /// The app's own fields (secret-looking ones left out), as one object.
    pub fn custom_object(&self) -> Map<String, Value> {
        self.custom
            .iter()
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect()
    }
}

/// A boolean as records hold one: JSON `true`/`false`, or the text of a CSV cell.
fn boolean(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(flag) => Some(*flag),
        Value::String(text) => match text.trim().to_ascii_lowercase().as_str() {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(text) => text.is_empty(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const HASH: &str = "$2b$10$nFguVi9LsCAcvTZFKQlRKeLVydo8ETv483lkNsSFI/Wl1Rz1Ypo1K";

    fn record(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => Map::new(),
        }
    }

    #[test]
    fn built_ins_custom_fields_and_secrets_are_told_apart() {
        let user = User::from_record(&record(json!({
            "id": "u1", "email": "a@example.com", "full_name": "Mary Ann Smith",
            "role": "teacher", "disabled": "false", "is_verified": true,
            "created_date": "2026-01-02T03:04:05.000000", "created_by_id": "x",
            "_app_role": "owner", "salon_id": "s1", "pinned": true,
            "password_hash": HASH, "pin_hash": HASH.replacen("$2b$", "$2y$", 1),
            "totp_secret": "JBSWY3DPEHPK3PXP", "api_key": ""
        })));
        let Ok(user) = user else {
            panic!("not a user: {user:?}")
        };
        assert_eq!(user.role.as_deref(), Some("teacher"));
        assert_eq!(user.disabled, Some(false));
        assert_eq!(user.is_verified, Some(true));
        assert_eq!(
            user.custom.keys().collect::<Vec<_>>(),
            ["pinned", "salon_id"]
        );
        assert_eq!(
            user.secrets,
            BTreeMap::from([
                ("password_hash".to_owned(), SecretShape::Bcrypt),
                ("pin_hash".to_owned(), SecretShape::Bcrypt),
                ("totp_secret".to_owned(), SecretShape::Other),
            ])
        );
        let hash = user.password_hash.as_ref().map(|hash| hash.field.as_str());
        assert_eq!(hash, Some("password_hash"));
        assert_eq!(user.platform.get("_app_role"), Some(&json!("owner")));
        assert_eq!(
            user.name_parts(),
            (Some("Mary Ann".to_owned()), Some("Smith".to_owned()))
        );
        assert!(!format!("{user:?}").contains(HASH), "Debug hides the hash");
    }

    #[test]
    fn a_pin_is_the_credential_when_no_password_hash_is_bcrypt() {
        let user = User::from_record(&record(json!({
            "id": "u2", "password_hash": "5f4dcc3b5aa765d61d8327deb882cf99", "pin_hash": HASH
        })));
        let field = user
            .ok()
            .and_then(|user| user.password_hash)
            .map(|hash| hash.field);
        assert_eq!(field.as_deref(), Some("pin_hash"));
    }

    #[test]
    fn a_record_without_id_is_no_user() {
        assert_eq!(
            User::from_record(&record(json!({"email": "a@example.com"}))),
            Err(NotAUser::NoId)
        );
        let single = User::from_record(&record(json!({"id": "u3", "full_name": " Cher "})));
        assert_eq!(
            single.map(|user| user.name_parts()),
            Ok((Some("Cher".to_owned()), None))
        );
    }
}
