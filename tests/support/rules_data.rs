//! Users and records made from an app's access rules, so that two enforcements of the rules
//! (PostgreSQL's policies, the emulator's checks) meet every branch of every rule rather than
//! records no rule ever matches.
//!
//! - **Users**: one per role a `user_condition` names, plus an admin, two plain users and a
//!   user without a role. Each user gets distinct values for every user field a template reads
//!   (`{{user.data.x}}`), and the literal a `user_condition` asks of a user field goes to every
//!   other user, so half pass it.
//! - **Records** of every entity: two per user, owned by them (`created_by`, `created_by_id`),
//!   the first with every field a rule names set to what that rule asks for that user (a
//!   template's value, a literal, the first of an `$in` or `$all` list, a `$query`'s value
//!   for the user), the second the same but unlike every literal (so an `$or` passes through
//!   its user branch alone); then two records of a stranger: one holding the rules'
//!   literals, one holding neither.
//!   The other fields come from the project's seeded generator, so values fit the columns.
//!
//! A rule's value that does not fit its field's type is left out (the generator's value
//! stays), so the load rejects nothing this module makes.

use offbase_model::{App, Entity, Field, FieldKind, TargetSchema};
use offbase_pipeline::stage::generate::{GenerateCounts, Generator};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};

/// What [`rules_data`] makes.
#[derive(Debug, Clone, Default)]
pub struct RulesData {
    /// Records by entity, flat as the API returns them (`User`: the generated users).
    pub records: BTreeMap<String, Vec<Map<String, Value>>>,
}

/// One field condition of a rule: the key as written and its operand.
#[derive(Debug, Clone)]
struct Leaf {
    key: String,
    operand: Value,
}

/// What the rules of an app ask of users and records.
#[derive(Debug, Default)]
struct Census {
    roles: BTreeSet<String>,
    /// User fields templates read (`{{user.data.x}}`, `{{user.x}}` not a built-in).
    user_fields: BTreeSet<String>,
    /// User fields a `user_condition` compares with a literal, with that literal.
    user_literals: BTreeMap<String, Value>,
    /// Field conditions by entity.
    leaves: BTreeMap<String, Vec<Leaf>>,
}

const USER_BUILT_INS: [&str; 3] = ["id", "email", "role"];

/// Users and records for `app` (planned as `target`), the same for the same `seed`.
pub fn rules_data(app: &App, target: &TargetSchema, seed: u64) -> RulesData {
    let mut census = Census::default();
    for entity in &app.entities {
        let mut leaves = Vec::new();
        let mut conditions = Vec::new();
        if let Some(rls) = &entity.rls {
            for rule in [&rls.read, &rls.create, &rls.update, &rls.delete, &rls.write]
                .into_iter()
                .flatten()
            {
                if let offbase_model::RlsRule::Condition(condition) = rule {
                    conditions.push(condition.clone());
                }
            }
        }
        for field in &entity.fields {
            if let Some(Value::Object(rules)) = &field.rls {
                conditions.extend(rules.values().cloned());
            }
        }
        for condition in &conditions {
            census.walk(condition, &mut leaves);
        }
        census.leaves.insert(entity.name.clone(), leaves);
    }
    census.roles.insert("admin".to_owned());
    census.roles.insert("user".to_owned());

    let counts = GenerateCounts::uniform(16);
    let Ok(generator) = Generator::new(app, target, &counts, seed) else {
        return RulesData::default();
    };
    let user_entity = app.entity("User");
    let mut people: Vec<(String, Option<String>)> = Vec::new();
    for role in &census.roles {
        people.push((role.clone(), Some(role.clone())));
    }
    people.push(("user-b".to_owned(), Some("user".to_owned())));
    people.push(("no-role".to_owned(), None));
    let mut users = Vec::new();
    for (index, (label, role)) in people.iter().enumerate() {
        let mut record = generator
            .record("User", index as u64)
            .unwrap_or_else(|_| Map::new());
        let slug: String = label
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        record.insert("id".to_owned(), Value::String(user_id(index)));
        record.insert(
            "email".to_owned(),
            Value::String(format!("{slug}.{index}@example.com")),
        );
        match role {
            Some(role) => record.insert("role".to_owned(), Value::String(role.clone())),
            None => record.remove("role"),
        };
        for field in &census.user_fields {
            let value = user_entity
                .and_then(|entity| entity.fields.iter().find(|f| &f.name == field))
                .and_then(|_| record.get(field).cloned())
                .filter(|value| !value.is_null())
                .unwrap_or_else(|| Value::String(format!("{field}-{index}")));
            record.insert(field.clone(), value);
        }
        for (field, literal) in &census.user_literals {
            let fits = user_entity
                .and_then(|entity| entity.fields.iter().find(|f| &f.name == field))
                .is_none_or(|declared| fitted(declared, literal).is_some());
            if index % 2 == 0 && fits {
                record.insert(field.clone(), literal.clone());
            }
        }
        users.push(record);
    }

    let mut records = BTreeMap::new();
    // Two passes: a `$query` reads the records of another entity, made in the first.
    let mut pending = Vec::new();
    for entity in &app.entities {
        if entity.is_user() || generator.entity(&entity.name).is_none() {
            continue;
        }
        let leaves = census.leaves.get(&entity.name).cloned().unwrap_or_default();
        let mut made = Vec::new();
        let mut index = 0u64;
        let mut next_base = || {
            let record = generator
                .record(&entity.name, index)
                .unwrap_or_else(|_| Map::new());
            index += 1;
            record
        };
        for user in &users {
            for literals in [true, false] {
                let mut record = next_base();
                own(&mut record, user);
                made.push((
                    record,
                    Fill::Owner {
                        user: user.clone(),
                        literals,
                    },
                ));
            }
        }
        for literals in [true, false] {
            let mut record = next_base();
            record.insert(
                "created_by".to_owned(),
                Value::String("stranger@example.com".to_owned()),
            );
            record.insert(
                "created_by_id".to_owned(),
                Value::String(user_id(users.len() + 7)),
            );
            made.push((
                record,
                if literals {
                    Fill::Literals
                } else {
                    Fill::Nothing
                },
            ));
        }
        pending.push((entity, leaves, made));
    }
    let first: BTreeMap<String, Vec<Map<String, Value>>> = pending
        .iter()
        .map(|(entity, _, made)| {
            (
                entity.name.clone(),
                made.iter().map(|(record, _)| record.clone()).collect(),
            )
        })
        .chain(std::iter::once(("User".to_owned(), users.clone())))
        .collect();
    for (entity, leaves, made) in pending {
        let mut finished = Vec::new();
        for (mut record, fill) in made {
            for leaf in &leaves {
                let literal = literal_of(&leaf.operand);
                let value = match &fill {
                    Fill::Owner {
                        literals: false, ..
                    } if literal.is_some() => {
                        literal.and_then(|literal| unlike(entity, &leaf.key, &literal))
                    }
                    Fill::Owner { user, .. } => value_for(&leaf.operand, user, &first),
                    Fill::Literals => literal,
                    Fill::Nothing => None,
                };
                if let Some(value) = value {
                    set_leaf(entity, &mut record, &leaf.key, value);
                }
            }
            finished.push(record);
        }
        records.insert(entity.name.clone(), finished);
    }
    records.insert("User".to_owned(), users);
    RulesData { records }
}

/// What a made record's rule fields are set to.
enum Fill {
    /// What each rule asks for `user`; with `literals: false`, a value unlike each literal a
    /// rule asks for (so a record passes an `$or` through its user branch alone).
    Owner {
        user: Map<String, Value>,
        literals: bool,
    },
    /// The literals the rules ask for, no user's values.
    Literals,
    /// Nothing: the generator's values.
    Nothing,
}

/// A value of the field `key` names that differs from `literal`: another value of its enum,
/// the opposite boolean, another number or text; `None` when there is none.
fn unlike(entity: &Entity, key: &str, literal: &Value) -> Option<Value> {
    let name = key.strip_prefix("data.").unwrap_or(key);
    let field = entity.fields.iter().find(|field| field.name == name)?;
    if let Some(values) = &field.enum_values {
        return values.iter().find(|value| *value != literal).cloned();
    }
    match literal {
        Value::Bool(flag) => Some(Value::Bool(!flag)),
        Value::Number(number) => number
            .as_i64()
            .map(|number| Value::from(number.wrapping_add(1)))
            .or_else(|| number.as_f64().map(|number| Value::from(number + 1.0))),
        Value::String(text) => Some(Value::String(format!("not-{text}"))),
        _ => None,
    }
}

/// A Base44-like id (24 hex digits) for user `index`.
fn user_id(index: usize) -> String {
    format!("{:024x}", 0x5eed_0000_0000_u64 + index as u64)
}

/// Makes `user` the record's creator.
fn own(record: &mut Map<String, Value>, user: &Map<String, Value>) {
    for (field, built_in) in [("created_by", "email"), ("created_by_id", "id")] {
        if let Some(value) = user.get(built_in) {
            record.insert(field.to_owned(), value.clone());
        }
    }
}

impl Census {
    fn walk(&mut self, condition: &Value, leaves: &mut Vec<Leaf>) {
        let Value::Object(object) = condition else {
            return;
        };
        for (key, operand) in object {
            match key.as_str() {
                "$and" | "$or" | "$nor" => {
                    for branch in operand.as_array().into_iter().flatten() {
                        self.walk(branch, leaves);
                    }
                }
                "user_condition" => {
                    for (user_key, user_operand) in operand.as_object().into_iter().flatten() {
                        self.user_condition(user_key, user_operand);
                    }
                }
                _ => {
                    self.templates(operand);
                    leaves.push(Leaf {
                        key: key.clone(),
                        operand: operand.clone(),
                    });
                }
            }
        }
    }

    fn user_condition(&mut self, key: &str, operand: &Value) {
        let field = key.strip_prefix("data.").unwrap_or(key);
        let literals: Vec<&Value> = match operand {
            Value::Object(operators) => operators
                .iter()
                .filter(|(operator, _)| matches!(operator.as_str(), "$in" | "$eq" | "$all"))
                .flat_map(|(_, values)| match values {
                    Value::Array(values) => values.iter().collect::<Vec<_>>(),
                    value => vec![value],
                })
                .collect(),
            value => vec![value],
        };
        if field == "role" {
            for literal in literals {
                if let Some(role) = literal.as_str().filter(|role| !role.contains("{{")) {
                    self.roles.insert(role.to_owned());
                }
            }
        } else if !USER_BUILT_INS.contains(&field)
            && let Some(literal) = literals.first()
        {
            if literal.as_str().is_some_and(|text| text.contains("{{")) {
                self.user_fields.insert(field.to_owned());
            } else {
                self.user_literals
                    .entry(field.to_owned())
                    .or_insert_with(|| (*literal).clone());
            }
        }
        self.templates(operand);
    }

    /// Notes the user fields the templates inside `value` read.
    fn templates(&mut self, value: &Value) {
        match value {
            Value::String(text) => {
                for name in template_names(text) {
                    let field = name.strip_prefix("data.").unwrap_or(&name);
                    if !USER_BUILT_INS.contains(&field) {
                        self.user_fields.insert(field.to_owned());
                    }
                }
            }
            Value::Array(values) => values.iter().for_each(|value| self.templates(value)),
            Value::Object(object) => object.values().for_each(|value| self.templates(value)),
            _ => {}
        }
    }
}

/// The names inside `{{user.NAME}}` templates of `text`.
fn template_names(text: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else { break };
        if let Some(name) = after[..end].trim().strip_prefix("user.") {
            names.push(name.to_owned());
        }
        rest = &after[end + 2..];
    }
    names
}

/// A user's value of a template name (`id`, `email`, `data.x`, `x`).
fn user_value<'u>(user: &'u Map<String, Value>, name: &str) -> Option<&'u Value> {
    user.get(name.strip_prefix("data.").unwrap_or(name))
}

/// `text` with the user's values in its templates; a text that is one template takes the
/// value as it is.
fn substitute(text: &str, user: &Map<String, Value>) -> Option<Value> {
    let names = template_names(text);
    if names.is_empty() {
        return Some(Value::String(text.to_owned()));
    }
    let trimmed = text.trim();
    if names.len() == 1 && trimmed.starts_with("{{") && trimmed.ends_with("}}") {
        return user_value(user, &names[0]).cloned();
    }
    let mut out = text.to_owned();
    for name in names {
        let value = user_value(user, &name)?;
        let shown = match value {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        };
        let pattern = format!("{{{{user.{name}}}}}");
        out = out.replace(&pattern, &shown);
    }
    Some(Value::String(out))
}

/// The value a record needs for `operand` to hold for `user`.
fn value_for(
    operand: &Value,
    user: &Map<String, Value>,
    records: &BTreeMap<String, Vec<Map<String, Value>>>,
) -> Option<Value> {
    match operand {
        Value::String(text) => substitute(text, user),
        Value::Object(operators) => {
            for (operator, values) in operators {
                match (operator.as_str(), values) {
                    ("$eq", value) => return value_for(value, user, records),
                    ("$in" | "$all", Value::Array(values)) => {
                        for value in values {
                            if let Some(query) = value.get("$query") {
                                if let Some(found) = query_value(query, user, records) {
                                    return Some(found);
                                }
                            } else if let Some(found) = value_for(value, user, records) {
                                return Some(found);
                            }
                        }
                    }
                    _ => {}
                }
            }
            None
        }
        Value::Array(_) | Value::Null => None,
        literal => Some(literal.clone()),
    }
}

/// A literal the operand asks for, with no user (`None` when it needs one).
fn literal_of(operand: &Value) -> Option<Value> {
    match operand {
        Value::String(text) if text.contains("{{") => None,
        Value::Object(operators) => {
            operators
                .iter()
                .find_map(|(operator, values)| match (operator.as_str(), values) {
                    ("$eq", value) => literal_of(value),
                    ("$in" | "$all", Value::Array(values)) => values.iter().find_map(literal_of),
                    _ => None,
                })
        }
        Value::Array(_) | Value::Null => None,
        literal => Some(literal.clone()),
    }
}

/// What a `$query` gives `user`: the queried field of the first record of its entity that
/// is `user`'s (the user's own record on `User`, else a record they created).
fn query_value(
    query: &Value,
    user: &Map<String, Value>,
    records: &BTreeMap<String, Vec<Map<String, Value>>>,
) -> Option<Value> {
    let entity = query.get("entity")?.as_str()?;
    let field = query.get("field")?.as_str()?;
    let field = field.strip_prefix("data.").unwrap_or(field);
    let id = user.get("id")?;
    let email = user.get("email")?;
    let found = records.get(entity)?.iter().find(|record| {
        record.get("id") == Some(id)
            || record.get("created_by") == Some(email)
            || record.get("created_by_id") == Some(id)
    })?;
    match found.get(field)? {
        Value::Array(values) => values.first().cloned(),
        value => Some(value.clone()),
    }
}

/// Sets the field `key` names (`data.x`, `x`, `x.y`) to `value` where it fits the field's
/// type; built-ins other than the owner's are left alone.
fn set_leaf(entity: &Entity, record: &mut Map<String, Value>, key: &str, value: Value) {
    let path = key.strip_prefix("data.").unwrap_or(key);
    let mut segments = path.split('.');
    let Some(first) = segments.next() else {
        return;
    };
    let rest: Vec<&str> = segments.collect();
    if matches!(first, "created_by" | "created_by_id") && rest.is_empty() {
        if value.is_string() {
            record.insert(first.to_owned(), value);
        }
        return;
    }
    let Some(field) = entity.fields.iter().find(|field| field.name == first) else {
        return;
    };
    if rest.is_empty() {
        if let Some(fitted) = fitted(field, &value) {
            record.insert(first.to_owned(), fitted);
        }
        return;
    }
    if !matches!(field.kind, FieldKind::Object | FieldKind::Any) || rest.len() > 1 {
        return;
    }
    let mut object = match record.get(first) {
        Some(Value::Object(object)) => object.clone(),
        _ => Map::new(),
    };
    object.insert(rest[0].to_owned(), value);
    record.insert(first.to_owned(), Value::Object(object));
}

/// `value` as `field` can hold it: an array field holds it as its one element; `None` when
/// the types disagree or an enum does not list it.
fn fitted(field: &Field, value: &Value) -> Option<Value> {
    if let Some(values) = &field.enum_values
        && !values.contains(value)
    {
        return None;
    }
    let fits = match (&field.kind, value) {
        (FieldKind::String, Value::String(text)) => {
            field.format.is_none() || field.format.as_deref() == Some("email") && text.contains('@')
        }
        (FieldKind::Integer, Value::Number(number)) => number.is_i64() || number.is_u64(),
        (FieldKind::Number, Value::Number(_)) | (FieldKind::Boolean, Value::Bool(_)) => true,
        (FieldKind::Any | FieldKind::Union(_) | FieldKind::Unknown(_), _) => true,
        (FieldKind::Array, _) => {
            return match &field.items {
                Some(items) => fitted(items, value).map(|item| Value::Array(vec![item])),
                None => Some(Value::Array(vec![value.clone()])),
            };
        }
        _ => false,
    };
    fits.then(|| value.clone())
}
