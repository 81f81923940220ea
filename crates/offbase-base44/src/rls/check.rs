//! A rule compiled for one user ([`Check`]), evaluated on records with three-valued logic
//! ([`Truth`]). Compiling substitutes the templates, decides `user_condition` (it does not
//! depend on the record), runs `$query` sub-queries through a [`RecordSource`], and parses each
//! field condition with the query language, whose evaluator then matches records.

use super::rules::Rule;
use super::user::{BareKeys, Options, Target, User, resolve, target};
use crate::query::{Filter, QueryError, parse_filter};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// How deep `$query` sub-queries may nest (real apps nest two levels).
pub const MAX_QUERY_DEPTH: usize = 3;

/// The outcome of a condition on a record: only `True` allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Truth {
    True,
    False,
    /// The condition needs a user value there is none of (an anonymous visitor, a field the
    /// user lacks).
    Unknown,
}

impl Truth {
    fn of(value: bool) -> Truth {
        if value { Truth::True } else { Truth::False }
    }

    fn not(self) -> Truth {
        match self {
            Truth::True => Truth::False,
            Truth::False => Truth::True,
            Truth::Unknown => Truth::Unknown,
        }
    }
}

/// The records of other entities, for `$query` sub-queries.
pub trait RecordSource {
    /// Calls `visit` with every live record of `entity`, flat as the API returns them;
    /// `false` when the app has no such entity.
    fn visit_records(&self, entity: &str, visit: &mut dyn FnMut(&Map<String, Value>)) -> bool;
}

/// No records at all: every `$query` fails (its entity is unknown).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoRecords;

impl RecordSource for NoRecords {
    fn visit_records(&self, _: &str, _: &mut dyn FnMut(&Map<String, Value>)) -> bool {
        false
    }
}

/// Records by entity name.
impl RecordSource for BTreeMap<String, Vec<Map<String, Value>>> {
    fn visit_records(&self, entity: &str, visit: &mut dyn FnMut(&Map<String, Value>)) -> bool {
        match self.get(entity) {
            Some(records) => {
                records.iter().for_each(visit);
                true
            }
            None => false,
        }
    }
}

/// What a rule is compiled against.
#[derive(Clone, Copy)]
pub struct Context<'a> {
    /// The entity whose records the rule checks (`User` has top-level user built-ins).
    pub entity: &'a str,
    /// The signed-in user; `None` for an anonymous visitor.
    pub user: Option<&'a User>,
    /// Other entities' records, for `$query`.
    pub records: &'a dyn RecordSource,
    pub options: Options,
}

impl std::fmt::Debug for Context<'_> {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Context")
            .field("entity", &self.entity)
            .field("user", &self.user)
            .field("options", &self.options)
            .finish()
    }
}

/// Why a rule cannot be evaluated. A caller enforcing rules denies then.
#[derive(Debug, thiserror::Error)]
pub enum RlsError {
    #[error("{context} must be a JSON object, found {found}")]
    NotAnObject {
        context: String,
        found: &'static str,
    },
    #[error("`{operator}` needs a non-empty array of condition objects, found {found}")]
    InvalidList { operator: String, found: String },
    #[error(
        "unknown operator `{operator}` at the top level of a condition: use `$and`, `$or`, \
         `$nor`, `user_condition` or a field"
    )]
    UnknownOperator { operator: String },
    #[error("the condition on `{key}` is not valid: {source}")]
    Condition {
        key: String,
        #[source]
        source: QueryError,
    },
    #[error("invalid `$query`: {reason}")]
    InvalidQuery { reason: String },
    #[error("a `$query` reads the entity `{entity}`, which the app does not have")]
    UnknownEntity { entity: String },
    #[error("`$query` sub-queries nest more than {max} levels deep")]
    TooDeep { max: usize },
}

/// A rule compiled for one user: evaluate it on as many records as needed.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    node: Node,
}

#[derive(Debug, Clone, PartialEq)]
enum Node {
    /// Does not depend on the record.
    Constant(Truth),
    All(Vec<Node>),
    Any(Vec<Node>),
    NoneOf(Vec<Node>),
    /// A field condition of the query language, on the flat record.
    Field(Filter),
}

impl Node {
    fn evaluate(&self, record: &Map<String, Value>) -> Truth {
        match self {
            Node::Constant(truth) => *truth,
            Node::Field(filter) => Truth::of(filter.matches(record)),
            Node::All(nodes) => {
                let mut result = Truth::True;
                for node in nodes {
                    match node.evaluate(record) {
                        Truth::False => return Truth::False,
                        Truth::Unknown => result = Truth::Unknown,
                        Truth::True => {}
                    }
                }
                result
            }
            Node::Any(nodes) => any(nodes, record),
            Node::NoneOf(nodes) => any(nodes, record).not(),
        }
    }

    /// `nodes` combined by `kind`, folded to a constant when none depends on the record.
    fn combined(mut nodes: Vec<Node>, kind: Combine) -> Node {
        // `$and` or `$or` of one condition is that condition.
        if nodes.len() == 1
            && kind != Combine::NoneOf
            && let Some(node) = nodes.pop()
        {
            return node;
        }
        let constant = nodes.iter().all(|node| matches!(node, Node::Constant(_)));
        let node = match kind {
            Combine::All => Node::All(nodes),
            Combine::Any => Node::Any(nodes),
            Combine::NoneOf => Node::NoneOf(nodes),
        };
        if constant {
            Node::Constant(node.evaluate(&Map::new()))
        } else {
            node
        }
    }
}

/// How [`Node::combined`] combines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Combine {
    All,
    Any,
    NoneOf,
}

fn any(nodes: &[Node], record: &Map<String, Value>) -> Truth {
    let mut result = Truth::False;
    for node in nodes {
        match node.evaluate(record) {
            Truth::True => return Truth::True,
            Truth::Unknown => result = Truth::Unknown,
            Truth::False => {}
        }
    }
    result
}

/// What compiling one part of a rule needs.
#[derive(Clone, Copy)]
struct Scope<'a> {
    /// The records checked are `User` records.
    user_entity: bool,
    user: Option<&'a User>,
    records: &'a dyn RecordSource,
    bare_keys: BareKeys,
    /// How many `$query` levels enclose this part.
    depth: usize,
}

impl Check {
    /// `rule` compiled for the user of `context`. A condition that is not an object (or not
    /// `null`), or that does not parse, is an error.
    pub fn compile(rule: Rule<'_>, context: &Context<'_>) -> Result<Check, RlsError> {
        let scope = Scope {
            user_entity: context.entity == "User",
            user: context.user,
            records: context.records,
            bare_keys: context.options.bare_keys,
            depth: 0,
        };
        let node = match rule {
            Rule::Open | Rule::Condition(Value::Null) => Node::Constant(Truth::True),
            Rule::Closed => Node::Constant(Truth::False),
            Rule::Condition(Value::Object(object)) => document(object, &scope)?,
            Rule::Condition(other) => {
                return Err(RlsError::NotAnObject {
                    context: "a rule".to_owned(),
                    found: offbase_model::json_kind(other),
                });
            }
        };
        Ok(Check { node })
    }

    /// A check with the same outcome for every record (`False`: denies everything).
    pub fn constant(truth: Truth) -> Check {
        Check {
            node: Node::Constant(truth),
        }
    }

    /// The outcome on `record` (flat, as the API returns it).
    pub fn evaluate(&self, record: &Map<String, Value>) -> Truth {
        self.node.evaluate(record)
    }

    /// Whether the rule allows the operation on `record`.
    pub fn allows(&self, record: &Map<String, Value>) -> bool {
        self.evaluate(record) == Truth::True
    }

    /// The outcome when it does not depend on the record (an open or closed rule, a
    /// `user_condition` alone, ...).
    pub fn constant_outcome(&self) -> Option<Truth> {
        match self.node {
            Node::Constant(truth) => Some(truth),
            _ => None,
        }
    }
}

/// A condition object: every key must hold.
fn document(object: &Map<String, Value>, scope: &Scope<'_>) -> Result<Node, RlsError> {
    let mut nodes = Vec::with_capacity(object.len());
    for (key, value) in object {
        let node = match key.as_str() {
            "$and" => Node::combined(list(key, value, scope)?, Combine::All),
            "$or" => Node::combined(list(key, value, scope)?, Combine::Any),
            "$nor" => Node::combined(list(key, value, scope)?, Combine::NoneOf),
            "user_condition" => user_condition(value, scope)?,
            operator if operator.starts_with('$') => {
                return Err(RlsError::UnknownOperator {
                    operator: operator.to_owned(),
                });
            }
            field => field_condition(field, value, scope)?,
        };
        nodes.push(node);
    }
    Ok(Node::combined(nodes, Combine::All))
}

fn list(operator: &str, value: &Value, scope: &Scope<'_>) -> Result<Vec<Node>, RlsError> {
    let invalid = |found: String| RlsError::InvalidList {
        operator: operator.to_owned(),
        found,
    };
    let Value::Array(items) = value else {
        return Err(invalid(offbase_model::json_kind(value).to_owned()));
    };
    if items.is_empty() {
        return Err(invalid("an empty array".to_owned()));
    }
    items
        .iter()
        .map(|item| match item {
            Value::Object(object) => document(object, scope),
            other => Err(invalid(format!(
                "an array holding {}",
                offbase_model::json_kind(other)
            ))),
        })
        .collect()
}

/// `user_condition`: a condition on the user's record, decided now; unknown when anonymous.
fn user_condition(value: &Value, scope: &Scope<'_>) -> Result<Node, RlsError> {
    let Value::Object(object) = value else {
        return Err(RlsError::NotAnObject {
            context: "`user_condition`".to_owned(),
            found: offbase_model::json_kind(value),
        });
    };
    let Some(user) = scope.user else {
        return Ok(Node::Constant(Truth::Unknown));
    };
    let on_user = Scope {
        user_entity: true,
        ..*scope
    };
    let node = document(object, &on_user)?;
    Ok(Node::Constant(node.evaluate(user.record())))
}

/// `{key: operand}`: templates substituted, sub-queries run, then the query language.
fn field_condition(key: &str, operand: &Value, scope: &Scope<'_>) -> Result<Node, RlsError> {
    let Some(operand) = substitute(operand, scope) else {
        return Ok(Node::Constant(Truth::Unknown));
    };
    let operand = expand_queries(operand, scope)?;
    let target = target(key, scope.user_entity, scope.bare_keys);
    let path = match &target {
        Target::Field(path) => path.clone(),
        Target::Missing => key.to_owned(),
    };
    let mut condition = Map::new();
    condition.insert(path, operand);
    let filter = parse_filter(&Value::Object(condition)).map_err(|source| RlsError::Condition {
        key: key.to_owned(),
        source,
    })?;
    Ok(match target {
        Target::Field(_) => Node::Field(filter),
        Target::Missing => Node::Constant(Truth::of(filter.matches(&Map::new()))),
    })
}

// ---------------------------------------------------------------------------------------------
// Templates
// ---------------------------------------------------------------------------------------------

/// `value` with every `{{user.…}}` template replaced; `None` when one names no value (an
/// anonymous visitor, a field the user lacks or holds `null` in). `$query` objects are left to
/// the sub-query, which substitutes its own filter.
fn substitute(value: &Value, scope: &Scope<'_>) -> Option<Value> {
    match value {
        Value::String(text) => substitute_text(text, scope),
        Value::Array(items) => items
            .iter()
            .map(|item| substitute(item, scope))
            .collect::<Option<Vec<_>>>()
            .map(Value::Array),
        Value::Object(object) if object.contains_key("$query") => Some(value.clone()),
        Value::Object(object) => object
            .iter()
            .map(|(key, item)| Some((key.clone(), substitute(item, scope)?)))
            .collect::<Option<Map<_, _>>>()
            .map(Value::Object),
        other => Some(other.clone()),
    }
}

fn substitute_text(text: &str, scope: &Scope<'_>) -> Option<Value> {
    if !text.contains("{{") {
        return Some(Value::String(text.to_owned()));
    }
    if let Some(path) = whole_template(text).and_then(user_path) {
        return user_value(path, scope).cloned();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            break;
        };
        let inner = &after[..end];
        match user_path(inner) {
            Some(path) => match user_value(path, scope)? {
                Value::String(value) => out.push_str(value),
                value @ (Value::Number(_) | Value::Bool(_)) => out.push_str(&value.to_string()),
                _ => return None,
            },
            None => out.push_str(&rest[start..start + 2 + end + 2]),
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Some(Value::String(out))
}

/// The inside of a text that is exactly one `{{...}}`.
fn whole_template(text: &str) -> Option<&str> {
    let inner = text.trim().strip_prefix("{{")?.strip_suffix("}}")?;
    (!inner.contains("{{") && !inner.contains("}}")).then_some(inner)
}

/// The path after `user.` in a template's inside; `None` for any other template (left as text).
fn user_path(inner: &str) -> Option<&str> {
    inner.trim().strip_prefix("user.")
}

/// The user's value at a template path (`email`, `data.salon_id`, ...), not `null`.
fn user_value<'a>(path: &str, scope: &Scope<'a>) -> Option<&'a Value> {
    let user = scope.user?;
    let Target::Field(path) = target(path, true, scope.bare_keys) else {
        return None;
    };
    resolve(user.record(), &path).filter(|value| !value.is_null())
}

// ---------------------------------------------------------------------------------------------
// Sub-queries
// ---------------------------------------------------------------------------------------------

/// The operand with every `{"$query": ...}` element of `$in` and `$nin` replaced by the values
/// it selects.
fn expand_queries(operand: Value, scope: &Scope<'_>) -> Result<Value, RlsError> {
    let Value::Object(mut object) = operand else {
        return Ok(operand);
    };
    for operator in ["$in", "$nin"] {
        let Some(Value::Array(items)) = object.get_mut(operator) else {
            continue;
        };
        let mut expanded = Vec::with_capacity(items.len());
        for item in items.drain(..) {
            match item {
                Value::Object(spec) if spec.len() == 1 && spec.contains_key("$query") => {
                    if let Some(query) = spec.get("$query") {
                        expanded.extend(sub_query(query, scope)?);
                    }
                }
                other => expanded.push(other),
            }
        }
        *items = expanded;
    }
    Ok(Value::Object(object))
}

/// The values of `field` in the live records of `entity` matching `filter` (array values give
/// their elements; `null` and missing values none).
fn sub_query(query: &Value, scope: &Scope<'_>) -> Result<Vec<Value>, RlsError> {
    let depth = scope.depth + 1;
    if depth > MAX_QUERY_DEPTH {
        return Err(RlsError::TooDeep {
            max: MAX_QUERY_DEPTH,
        });
    }
    let invalid = |reason: String| RlsError::InvalidQuery { reason };
    let Value::Object(spec) = query else {
        return Err(invalid(format!(
            "`$query` must be an object with `entity`, `filter` and `field`, found {}",
            offbase_model::json_kind(query)
        )));
    };
    let text = |name: &str| {
        spec.get(name)
            .and_then(Value::as_str)
            .filter(|text| !text.is_empty())
            .ok_or_else(|| invalid(format!("`{name}` must be a non-empty string")))
    };
    let entity = text("entity")?;
    let field = text("field")?;
    let empty = Map::new();
    let filter = match spec.get("filter") {
        None | Some(Value::Null) => &empty,
        Some(Value::Object(filter)) => filter,
        Some(other) => {
            return Err(invalid(format!(
                "`filter` must be an object, found {}",
                offbase_model::json_kind(other)
            )));
        }
    };
    let inner = Scope {
        user_entity: entity == "User",
        bare_keys: BareKeys::Data,
        depth,
        ..*scope
    };
    let node = document(filter, &inner)?;
    let Target::Field(path) = target(field, inner.user_entity, BareKeys::Data) else {
        return Ok(Vec::new());
    };
    let mut values = Vec::new();
    let found = scope.records.visit_records(entity, &mut |record| {
        if node.evaluate(record) != Truth::True {
            return;
        }
        match resolve(record, &path) {
            None | Some(Value::Null) => {}
            Some(Value::Array(items)) => {
                values.extend(items.iter().filter(|item| !item.is_null()).cloned());
            }
            Some(value) => values.push(value.clone()),
        }
    });
    if !found {
        return Err(RlsError::UnknownEntity {
            entity: entity.to_owned(),
        });
    }
    Ok(values)
}
