//! Where records point at users, and how many of those values name a user.
//!
//! By id: `created_by_id` of every entity, and every field the planner makes a reference to
//! `User` (a foreign key such as `user_id`, an array such as `member_ids`, the columns of a
//! junction table that expands one, or one a mapping file declares). These are rewritten when
//! the target gives users new ids.
//!
//! By email: `created_by` of every entity, and every field whose name ends with the word
//! `email`/`emails` (`user_email`, `ownerEmail`, `party_emails`) or whose format is `email`,
//! the `User` entity's own `email` aside. These are kept as they are, and so are the users'
//! emails. The comparison rule: a value names a user when it equals the user's email after
//! both are lowercased (Unicode lowercase, nothing else: no trimming, no removal of dots or
//! `+tags`), because sign-in providers treat addresses without regard to case, and an
//! address typed with capitals in one record and without in another is one person. Values
//! that match only so are counted apart: a rule or join that compares emails exactly (as a
//! Base44 access rule does) would miss them, so whatever compares them after the cutover
//! should compare `lower(...)`.

use super::fields::name_words;
use crate::plan::PlanOutput;
use offbase_model::{BuiltIn, ColumnSource, FieldKind, PgType};
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};

/// The entity whose records are the users.
pub const USER_ENTITY: &str = "User";

/// How a column holds user ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IdShape {
    /// The users table's own primary key.
    UserId,
    /// One id in a text column.
    One,
    /// Ids in a `text[]` column.
    Many,
}

/// A column of the loaded tables that holds user ids.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct IdReference {
    pub table: String,
    pub column: String,
    pub shape: IdShape,
    pub entity: String,
    /// The record field the column holds (`None` for a junction table's column, which the
    /// load fills from its array field).
    pub field: Option<String>,
    /// Why it is a reference to users.
    pub why: String,
}

/// A field of the records that holds users' emails.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct EmailReference {
    pub entity: String,
    pub field: String,
}

/// Every place records point at users, in (table, column) and (entity, field) order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct UserReferences {
    /// The users table, when the plan has one.
    pub user_table: Option<String>,
    pub by_id: Vec<IdReference>,
    pub by_email: Vec<EmailReference>,
}

/// Whether a field name names an email (its last word is `email` or `emails`).
pub fn is_email_name(name: &str) -> bool {
    matches!(
        name_words(name).last().map(String::as_str),
        Some("email" | "emails")
    )
}

/// The references of a planned app.
pub fn user_references(plan: &PlanOutput) -> UserReferences {
    let target = &plan.target;
    let mut by_id = BTreeSet::new();
    let user_table = target.table_for_entity(USER_ENTITY);
    if let Some(table) = user_table
        && let Some(column) = built_in_column(table, BuiltIn::Id)
    {
        by_id.insert(IdReference {
            table: table.name.clone(),
            column,
            shape: IdShape::UserId,
            entity: USER_ENTITY.to_owned(),
            field: Some(BuiltIn::Id.field_name().to_owned()),
            why: "the users' own ids".to_owned(),
        });
    }
    for table in target
        .tables
        .iter()
        .filter(|table| table.junction.is_none())
    {
        if let Some(column) = built_in_column(table, BuiltIn::CreatedById) {
            by_id.insert(IdReference {
                table: table.name.clone(),
                column,
                shape: IdShape::One,
                entity: table.entity.clone(),
                field: Some(BuiltIn::CreatedById.field_name().to_owned()),
                why: "the creator's id (built in)".to_owned(),
            });
        }
    }
    for key in target
        .foreign_keys
        .iter()
        .filter(|key| key.target_entity == USER_ENTITY)
    {
        let junction = target
            .tables
            .iter()
            .any(|table| table.name == key.table && table.junction.is_some());
        by_id.insert(IdReference {
            table: key.table.clone(),
            column: key.column.clone(),
            shape: IdShape::One,
            entity: key.entity.clone(),
            field: (!junction).then(|| key.field.clone()),
            why: if junction {
                format!("junction table of {}.{}", key.entity, key.field)
            } else {
                format!("foreign key to User ({})", key.reason)
            },
        });
    }
    for reference in target
        .array_references
        .iter()
        .filter(|reference| reference.target_entity == USER_ENTITY)
    {
        let is_array = target
            .tables
            .iter()
            .find(|table| table.name == reference.table)
            .and_then(|table| table.column(&reference.column))
            .is_some_and(|column| matches!(column.pg_type, PgType::Array(_)));
        if is_array {
            by_id.insert(IdReference {
                table: reference.table.clone(),
                column: reference.column.clone(),
                shape: IdShape::Many,
                entity: reference.entity.clone(),
                field: Some(reference.field.clone()),
                why: "an array of references to User".to_owned(),
            });
        }
    }
    let mut by_email = BTreeSet::new();
    for entity in &plan.app.entities {
        by_email.insert(EmailReference {
            entity: entity.name.clone(),
            field: BuiltIn::CreatedBy.field_name().to_owned(),
        });
        for field in &entity.fields {
            if entity.is_user() && field.name == BuiltIn::Email.field_name() {
                continue;
            }
            let formatted = field.format.as_deref() == Some("email")
                || (field.kind == FieldKind::Array
                    && field
                        .items
                        .as_ref()
                        .is_some_and(|items| items.format.as_deref() == Some("email")));
            if formatted || is_email_name(&field.name) {
                by_email.insert(EmailReference {
                    entity: entity.name.clone(),
                    field: field.name.clone(),
                });
            }
        }
    }
    UserReferences {
        user_table: user_table.map(|table| table.name.clone()),
        by_id: by_id.into_iter().collect(),
        by_email: by_email.into_iter().collect(),
    }
}

fn built_in_column(table: &offbase_model::Table, built_in: BuiltIn) -> Option<String> {
    table
        .columns
        .iter()
        .find(|column| column.source == ColumnSource::BuiltIn(built_in))
        .map(|column| column.name.clone())
}

/// How the values of one id field fare against the users.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct IdCounts {
    pub entity: String,
    pub field: String,
    pub table: String,
    pub column: String,
    pub shape: Option<IdShape>,
    /// Values (each element of an array).
    pub values: u64,
    /// Values that are a user's id.
    pub users: u64,
    /// Values that are not (an orphan, `anonymous`, a `service_...` writer): left as they are.
    pub not_users: u64,
}

/// How the values of one email field fare against the users' emails.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct EmailCounts {
    pub entity: String,
    pub field: String,
    pub values: u64,
    /// Equal to a user's email as it is.
    pub exact: u64,
    /// Equal to a user's email only once both are lowercased.
    pub ignoring_case: u64,
    /// No user has it (`anonymous`, a contact who never signed up, a typo).
    pub no_user: u64,
}

/// Counts, record by record, how the references of every entity fare.
#[derive(Debug)]
pub struct ReferenceCounter {
    ids: BTreeSet<String>,
    emails: BTreeSet<String>,
    lowered: BTreeSet<String>,
    /// (entity, field) → counts.
    id_fields: BTreeMap<(String, String), IdCounts>,
    email_fields: BTreeMap<(String, String), EmailCounts>,
}

impl ReferenceCounter {
    /// A counter for `references`, against the users' ids and emails.
    pub fn new<'a>(
        references: &UserReferences,
        users: impl IntoIterator<Item = (&'a str, Option<&'a str>)>,
    ) -> Self {
        let mut ids = BTreeSet::new();
        let mut emails = BTreeSet::new();
        for (id, email) in users {
            ids.insert(id.to_owned());
            if let Some(email) = email {
                emails.insert(email.to_owned());
            }
        }
        let lowered = emails.iter().map(|email| email.to_lowercase()).collect();
        let mut id_fields = BTreeMap::new();
        for reference in &references.by_id {
            let Some(field) = &reference.field else {
                continue;
            };
            id_fields.insert(
                (reference.entity.clone(), field.clone()),
                IdCounts {
                    entity: reference.entity.clone(),
                    field: field.clone(),
                    table: reference.table.clone(),
                    column: reference.column.clone(),
                    shape: Some(reference.shape),
                    ..IdCounts::default()
                },
            );
        }
        let email_fields = references
            .by_email
            .iter()
            .map(|reference| {
                (
                    (reference.entity.clone(), reference.field.clone()),
                    EmailCounts {
                        entity: reference.entity.clone(),
                        field: reference.field.clone(),
                        ..EmailCounts::default()
                    },
                )
            })
            .collect();
        ReferenceCounter {
            ids,
            emails,
            lowered,
            id_fields,
            email_fields,
        }
    }

    /// Whether any field of `entity` is counted (else its records need not be read).
    pub fn counts_entity(&self, entity: &str) -> bool {
        self.id_fields.keys().any(|(name, _)| name == entity)
            || self.email_fields.keys().any(|(name, _)| name == entity)
    }

    /// Counts the references of one record of `entity`.
    pub fn record(&mut self, entity: &str, record: &Map<String, Value>) {
        for (key, value) in record {
            let place = (entity.to_owned(), key.clone());
            if let Some(counts) = self.id_fields.get_mut(&place) {
                for text in texts(value) {
                    counts.values += 1;
                    if self.ids.contains(text) {
                        counts.users += 1;
                    } else {
                        counts.not_users += 1;
                    }
                }
            }
            if let Some(counts) = self.email_fields.get_mut(&place) {
                for text in texts(value) {
                    counts.values += 1;
                    if self.emails.contains(text) {
                        counts.exact += 1;
                    } else if self.lowered.contains(&text.to_lowercase()) {
                        counts.ignoring_case += 1;
                    } else {
                        counts.no_user += 1;
                    }
                }
            }
        }
    }

    /// The counts, by (entity, field), fields with no value left out.
    pub fn finish(self) -> (Vec<IdCounts>, Vec<EmailCounts>) {
        (
            self.id_fields.into_values().collect(),
            self.email_fields
                .into_values()
                .filter(|counts| counts.values > 0)
                .collect(),
        )
    }
}

/// The non-empty strings of a value: itself, or the elements of an array.
fn texts(value: &Value) -> Vec<&str> {
    match value {
        Value::String(text) if !text.is_empty() => vec![text.as_str()],
        Value::Array(items) => items
            .iter()
            .filter_map(Value::as_str)
            .filter(|text| !text.is_empty())
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn email_names_end_with_the_word() {
        for name in [
            "email",
            "user_email",
            "ownerEmail",
            "party_emails",
            "CustomerEmail",
        ] {
            assert!(is_email_name(name), "{name}");
        }
        for name in ["email_verified", "emailing_list", "mail", "send_email_at"] {
            assert!(!is_email_name(name), "{name}");
        }
    }

    #[test]
    fn values_are_counted_exactly_then_ignoring_case() {
        let references = UserReferences {
            user_table: Some("user".to_owned()),
            by_id: vec![IdReference {
                table: "task".to_owned(),
                column: "user_id".to_owned(),
                shape: IdShape::One,
                entity: "Task".to_owned(),
                field: Some("user_id".to_owned()),
                why: String::new(),
            }],
            by_email: vec![EmailReference {
                entity: "Task".to_owned(),
                field: "assignee_email".to_owned(),
            }],
        };
        let mut counter =
            ReferenceCounter::new(&references, [("u1", Some("ann@example.com")), ("u2", None)]);
        for record in [
            json!({"user_id": "u1", "assignee_email": "ann@example.com"}),
            json!({"user_id": "gone", "assignee_email": "Ann@Example.com"}),
            json!({"user_id": null, "assignee_email": "bob@example.com"}),
        ] {
            if let Value::Object(map) = record {
                counter.record("Task", &map);
            }
        }
        assert!(counter.counts_entity("Task"));
        assert!(!counter.counts_entity("Note"));
        let (ids, emails) = counter.finish();
        assert_eq!((ids[0].values, ids[0].users, ids[0].not_users), (2, 1, 1));
        assert_eq!(
            (
                emails[0].values,
                emails[0].exact,
                emails[0].ignoring_case,
                emails[0].no_user
            ),
            (3, 1, 1, 1)
        );
    }
}
