//! User ids on the other side. Targets that take free text keep the Base44 id (Auth0's
//! `user_id`, Clerk's `external_id`, the CSV, the PostgreSQL table). Supabase wants a UUID:
//! each user gets a UUID v5 (RFC 9562, SHA-1 name-based), so every run, on any machine, gives
//! the same id:
//!
//! ```text
//! app namespace = UUIDv5(USER_NAMESPACE, app id)
//! user id       = UUIDv5(app namespace, Base44 user id)
//! ```
//!
//! Two levels, not one name like `app/user`, so no pair of (app id, user id) can spell
//! another pair. [`IdMap`] is what `users/id-map.json` holds: every user's Base44 id, new id
//! and email, sorted by Base44 id.

use super::Format;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The namespace of offbase's user ids. Fixed for good: changing it would give every migrated
/// user another id than the one its references were rewritten to.
pub const USER_NAMESPACE: Uuid = Uuid::from_u128(0xa898_cf98_6ede_4319_9ff8_20de_68e1_b29f);

/// How the ids of a format are made, as `id-map.json` and the report name it.
pub fn scheme(format: Format) -> &'static str {
    if format.keeps_ids() {
        "kept: the Base44 id"
    } else {
        "UUIDv5(UUIDv5(a898cf98-6ede-4319-9ff8-20de68e1b29f, app id), Base44 id)"
    }
}

/// The namespace of one app's user ids.
pub fn app_namespace(app_id: &str) -> Uuid {
    Uuid::new_v5(&USER_NAMESPACE, app_id.as_bytes())
}

/// The UUID a Base44 user of `app_id` gets where ids must be UUIDs.
pub fn user_uuid(app_id: &str, base44_id: &str) -> Uuid {
    Uuid::new_v5(&app_namespace(app_id), base44_id.as_bytes())
}

/// The id a user has in `format`: the Base44 id where it is kept, else its UUID.
pub fn new_id(format: Format, app_id: &str, base44_id: &str) -> String {
    if format.keeps_ids() {
        base44_id.to_owned()
    } else {
        user_uuid(app_id, base44_id).to_string()
    }
}

/// `users/id-map.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdMap {
    pub format: u32,
    /// The target the ids are for.
    pub provider: Format,
    pub app_id: Option<String>,
    /// Whether every new id is the Base44 id.
    pub ids_kept: bool,
    pub scheme: String,
    /// Sorted by Base44 id.
    pub users: Vec<IdMapEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct IdMapEntry {
    pub base44_id: String,
    pub new_id: String,
    pub email: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_and_depend_on_the_app() {
        let first = user_uuid("6989205392f69694df37d206", "69ad986c26e6d04c085ba8e1");
        assert_eq!(
            first,
            user_uuid("6989205392f69694df37d206", "69ad986c26e6d04c085ba8e1")
        );
        assert_eq!(first.get_version_num(), 5);
        // Python gives the same: uuid.uuid5(uuid.uuid5(NAMESPACE, app_id), base44_id).
        assert_eq!(first.to_string(), "291c9a64-5ff0-5f39-82ad-31fda7a64cdf");
        assert_ne!(
            first,
            user_uuid("6989205392f69694df37d207", "69ad986c26e6d04c085ba8e1")
        );
        // Pinned: a change here changes every migrated user's id.
        assert_eq!(
            USER_NAMESPACE.to_string(),
            "a898cf98-6ede-4319-9ff8-20de68e1b29f"
        );
        assert_eq!(
            new_id(Format::Auth0, "app", "69ad986c26e6d04c085ba8e1"),
            "69ad986c26e6d04c085ba8e1"
        );
        assert_eq!(
            new_id(Format::Supabase, "app", "u1"),
            user_uuid("app", "u1").to_string()
        );
    }
}
