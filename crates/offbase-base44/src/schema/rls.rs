//! Access rules (`rls`): the per-operation rules of an entity schema, read into the IR's [`Rls`]
//! and written back. Each operation (`create`, `read`, `update`, `delete`, `write`) holds
//! `true`/`false` or a condition object, kept as written; any other key is kept in
//! [`Rls::extra`]. A field's own `rls` is kept as written in `Field::rls`.

use super::extra::extend_missing;
use offbase_model::{Rls, RlsRule};
use serde_json::{Map, Value};

/// An `rls` object as the IR holds it (also a field's `rls`, read by `crate::rls`).
pub(crate) fn parse_rls(rules: Map<String, Value>) -> Rls {
    let mut rls = Rls::default();
    for (key, value) in rules {
        let slot = match key.as_str() {
            "create" => &mut rls.create,
            "read" => &mut rls.read,
            "update" => &mut rls.update,
            "delete" => &mut rls.delete,
            "write" => &mut rls.write,
            _ => {
                rls.extra.insert(key, value);
                continue;
            }
        };
        *slot = Some(match value {
            Value::Bool(allow) => RlsRule::Allow(allow),
            condition => RlsRule::Condition(condition),
        });
    }
    rls
}

/// The IR's rules as an `rls` object: the operations in the order above, then the kept keys.
pub(super) fn rls_json(rls: &Rls) -> Value {
    let mut rules = Map::new();
    for (key, rule) in [
        ("create", &rls.create),
        ("read", &rls.read),
        ("update", &rls.update),
        ("delete", &rls.delete),
        ("write", &rls.write),
    ] {
        if let Some(rule) = rule {
            let value = match rule {
                RlsRule::Allow(allow) => Value::Bool(*allow),
                RlsRule::Condition(condition) => condition.clone(),
            };
            rules.insert(key.to_owned(), value);
        }
    }
    extend_missing(&mut rules, &rls.extra);
    Value::Object(rules)
}
