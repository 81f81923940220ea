//! Which rule governs an operation: the entity's `rls` (a specific operation before `write`),
//! the platform's built-in rules of the `User` entity, and field-level rules.

use crate::schema::rls::parse_rls;
use offbase_model::{Entity, Rls, RlsRule};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// An operation a rule governs. `write` in a schema stands for the three writes.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    Read,
    Create,
    Update,
    Delete,
}

impl Operation {
    /// Every operation, in the order above.
    pub const ALL: [Operation; 4] = [
        Operation::Read,
        Operation::Create,
        Operation::Update,
        Operation::Delete,
    ];

    /// The key of the operation in an `rls` object.
    pub fn key(self) -> &'static str {
        match self {
            Operation::Read => "read",
            Operation::Create => "create",
            Operation::Update => "update",
            Operation::Delete => "delete",
        }
    }
}

/// The rule of one operation, as a caller applies it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Rule<'a> {
    /// Everyone, anonymous visitors included (an omitted operation, `true`, `{}`, `null`).
    Open,
    /// No one (`false`).
    Closed,
    /// The records a condition object matches (anything else here is malformed: see
    /// [`crate::rls::Check::compile`]).
    Condition(&'a Value),
}

/// The rule `rls` gives `operation`: the operation's own key, else (for a write) `write`;
/// `None` when neither is there.
pub fn rule_of(rls: &Rls, operation: Operation) -> Option<Rule<'_>> {
    let specific = match operation {
        Operation::Read => &rls.read,
        Operation::Create => &rls.create,
        Operation::Update => &rls.update,
        Operation::Delete => &rls.delete,
    };
    let rule = match (specific, operation) {
        (Some(rule), _) => rule,
        (None, Operation::Read) => return None,
        (None, _) => rls.write.as_ref()?,
    };
    Some(match rule {
        RlsRule::Allow(true) => Rule::Open,
        RlsRule::Allow(false) => Rule::Closed,
        RlsRule::Condition(Value::Null) => Rule::Open,
        RlsRule::Condition(Value::Object(object)) if object.is_empty() => Rule::Open,
        RlsRule::Condition(condition) => Rule::Condition(condition),
    })
}

/// The `User` built-ins only admins may set (through create or update).
pub const USER_PROTECTED_FIELDS: [&str; 6] = [
    "role",
    "email",
    "disabled",
    "is_verified",
    "app_id",
    "is_service",
];

/// Every rule of one entity: its own `rls`, the platform's built-in rules (on `User`), and
/// its fields' rules.
#[derive(Debug, Clone, PartialEq)]
pub struct EntityRules {
    entity: String,
    declared: Option<Rls>,
    built_in: Option<Rls>,
    /// Field name to its declared rules (top-level fields with an object `rls`).
    fields: BTreeMap<String, Rls>,
    /// Field name to its built-in rules (on `User`).
    built_in_fields: BTreeMap<String, Rls>,
}

impl EntityRules {
    /// The rules of `entity` as the platform applies them.
    pub fn of(entity: &Entity) -> EntityRules {
        let fields = entity
            .fields
            .iter()
            .filter_map(|field| match &field.rls {
                Some(Value::Object(rules)) => Some((field.name.clone(), parse_rls(rules.clone()))),
                _ => None,
            })
            .collect();
        let (built_in, built_in_fields) = if entity.is_user() {
            user_rules()
        } else {
            (None, BTreeMap::new())
        };
        EntityRules {
            entity: entity.name.clone(),
            declared: entity.rls.clone(),
            built_in,
            fields,
            built_in_fields,
        }
    }

    /// The entity's name.
    pub fn entity(&self) -> &str {
        &self.entity
    }

    /// The rule of `operation` on records: the declared one, else the built-in one, else open.
    pub fn rule(&self, operation: Operation) -> Rule<'_> {
        resolve(self.declared.as_ref(), self.built_in.as_ref(), operation)
    }

    /// The rule of `operation` on `field`: its declared one, else its built-in one, else open.
    pub fn field_rule(&self, field: &str, operation: Operation) -> Rule<'_> {
        resolve(
            self.fields.get(field),
            self.built_in_fields.get(field),
            operation,
        )
    }

    /// The fields whose `operation` rule is not open, by name, with that rule.
    pub fn guarded_fields(&self, operation: Operation) -> Vec<(&str, Rule<'_>)> {
        let names: std::collections::BTreeSet<&String> = self
            .fields
            .keys()
            .chain(self.built_in_fields.keys())
            .collect();
        names
            .into_iter()
            .map(|name| (name.as_str(), self.field_rule(name, operation)))
            .filter(|(_, rule)| *rule != Rule::Open)
            .collect()
    }
}

fn resolve<'a>(
    declared: Option<&'a Rls>,
    built_in: Option<&'a Rls>,
    operation: Operation,
) -> Rule<'a> {
    declared
        .and_then(|rls| rule_of(rls, operation))
        .or_else(|| built_in.and_then(|rls| rule_of(rls, operation)))
        .unwrap_or(Rule::Open)
}

/// The platform's `User` rules: own record or admin to read and update, admin to create and
/// delete; admin to set the protected built-ins.
fn user_rules() -> (Option<Rls>, BTreeMap<String, Rls>) {
    let admin = json!({"user_condition": {"role": "admin"}});
    let own_or_admin =
        json!({"$or": [{"id": "{{user.id}}"}, {"user_condition": {"role": "admin"}}]});
    let rules = Rls {
        create: Some(RlsRule::Condition(admin.clone())),
        read: Some(RlsRule::Condition(own_or_admin.clone())),
        update: Some(RlsRule::Condition(own_or_admin)),
        delete: Some(RlsRule::Condition(admin.clone())),
        write: None,
        extra: BTreeMap::new(),
    };
    let protected = Rls {
        create: Some(RlsRule::Condition(admin.clone())),
        update: Some(RlsRule::Condition(admin)),
        ..Rls::default()
    };
    let fields = USER_PROTECTED_FIELDS
        .iter()
        .map(|name| ((*name).to_owned(), protected.clone()))
        .collect();
    (Some(rules), fields)
}
