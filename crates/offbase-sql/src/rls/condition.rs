//! One rule condition as a PostgreSQL boolean expression over a table's columns and the
//! request's user. Literal field conditions go through the query translation (`crate::query`),
//! so a rule matches the records a read with the same filter finds; what only rules have is
//! here: `user_condition`, `{{user.…}}` templates, and `$query` sub-queries (each a `SECURITY
//! DEFINER` function, collected for the access-rules section).
//!
//! A condition is three-valued, as the emulator evaluates it (`offbase_base44::rls`): a part
//! that needs a user value there is none of (an anonymous visitor, a field the user lacks) is
//! unknown, and stays unknown through `$nor`, `$ne` and `$nin`. [`Condition::exact`] is that
//! value (SQL `NULL` for unknown); [`Condition::positive`] is TRUE exactly where `exact` is,
//! in a simpler form (`"created_by" = (SELECT offbase_user_email())`) that an index can serve,
//! and is what a policy uses.
//!
//! One file: the translator and the expression helpers below it share the private types of a
//! condition (`Runtime`, `Kind`, `Target`) and the three-valued rule; the helpers have no
//! caller outside the translator. Its last fifth is unit tests.

use super::{
    USER_DATA_FUNCTION, USER_EMAIL_FUNCTION, USER_ID_FUNCTION, USER_ROLE_FUNCTION, Untranslatable,
    dollar_quoted,
};
use crate::query::{self, Target};
use offbase_base44::query::{Filter, parse_filter};
use offbase_model::rules::RlsBareKeys;
use offbase_model::{BuiltIn, PgType, Table, TargetSchema};
use sea_query::{Expr, ExprTrait};
use serde_json::{Map, Value};
use std::collections::BTreeSet;

/// How deep `$query` sub-queries may nest: the emulator's limit, so both refuse alike.
const MAX_QUERY_DEPTH: usize = offbase_base44::rls::MAX_QUERY_DEPTH;

/// The type of the session values (`id`, `email`, `role`), as a column type for the query
/// translation.
static SESSION_TYPE: PgType = PgType::Text;

/// A translated condition: `exact` is three-valued (NULL: unknown), `positive` is TRUE where
/// `exact` is TRUE and nowhere else.
#[derive(Debug, Clone)]
pub(super) struct Condition {
    pub positive: Expr,
    pub exact: Expr,
    /// `positive` is TRUE only for a signed-in user (so `user_condition` need not test it).
    requires_user: bool,
}

impl Condition {
    pub(super) fn constant(value: bool) -> Condition {
        Condition {
            positive: query::constant(value),
            exact: query::constant(value),
            requires_user: false,
        }
    }

    /// Unknown for every record: a template that names a field no user has.
    fn unknown() -> Condition {
        Condition {
            positive: query::constant(false),
            exact: Expr::cust("CAST(NULL AS boolean)"),
            requires_user: true,
        }
    }

    /// FALSE once the `guards` are there, unknown while one is NULL: a user value compared
    /// with a field that records do not have.
    fn never(guards: Vec<Expr>) -> Condition {
        let present = query::all_of(
            guards
                .into_iter()
                .map(|guard| guard.is_not_null())
                .collect(),
        );
        Condition {
            positive: query::constant(false),
            exact: Expr::cust_with_exprs("CASE WHEN $1 THEN FALSE END", [present]),
            requires_user: true,
        }
    }

    /// A field condition: `expression` two-valued on the record once the `guards` (the user
    /// values it compares with) are there; unknown while one of them is NULL. `simple`: the
    /// expression itself is TRUE only where every guard is there (a single equality), so it
    /// can serve as the positive form.
    fn leaf(expression: Expr, guards: Vec<Expr>, simple: bool) -> Condition {
        let coalesced = Expr::cust_with_exprs("COALESCE($1, FALSE)", [expression.clone()]);
        if guards.is_empty() {
            return Condition {
                positive: expression,
                exact: coalesced,
                requires_user: false,
            };
        }
        let present = query::all_of(
            guards
                .into_iter()
                .map(|guard| guard.is_not_null())
                .collect(),
        );
        let exact = Expr::cust_with_exprs("CASE WHEN $1 THEN $2 END", [present, coalesced]);
        Condition {
            positive: if simple { expression } else { exact.clone() },
            exact,
            requires_user: true,
        }
    }

    pub(super) fn all(mut parts: Vec<Condition>) -> Condition {
        if parts.len() == 1
            && let Some(part) = parts.pop()
        {
            return part;
        }
        Condition {
            requires_user: parts.iter().any(|part| part.requires_user),
            positive: query::all_of(parts.iter().map(|part| part.positive.clone()).collect()),
            exact: query::all_of(parts.into_iter().map(|part| part.exact).collect()),
        }
    }

    fn any(mut parts: Vec<Condition>) -> Condition {
        if parts.len() == 1
            && let Some(part) = parts.pop()
        {
            return part;
        }
        Condition {
            requires_user: !parts.is_empty() && parts.iter().all(|part| part.requires_user),
            positive: query::any_of(parts.iter().map(|part| part.positive.clone()).collect()),
            exact: query::any_of(parts.into_iter().map(|part| part.exact).collect()),
        }
    }

    /// `$nor`: NOT of the three-valued OR, so unknown stays unknown.
    fn none(parts: Vec<Condition>) -> Condition {
        let exact = Expr::cust_with_exprs(
            "NOT ($1)",
            [query::any_of(
                parts.into_iter().map(|part| part.exact).collect(),
            )],
        );
        Condition {
            positive: exact.clone(),
            exact,
            requires_user: false,
        }
    }
}

/// What condition keys name.
#[derive(Debug, Clone, Copy)]
enum Subject<'t> {
    /// The records of a table (a policy's table, or a sub-query's).
    Record(&'t Table),
    /// The request's user: session settings for `id`, `email`, `role`, the `User` row for the
    /// rest.
    User,
}

#[derive(Debug, Clone, Copy)]
struct Scope<'t> {
    subject: Subject<'t>,
    /// The records are `User` records, whose user built-ins are top-level too.
    user_entity: bool,
    bare_keys: RlsBareKeys,
    /// How many `$query` levels enclose this part.
    depth: usize,
}

/// A user value a condition compares with, SQL NULL when there is none.
#[derive(Debug, Clone)]
enum Runtime {
    /// Text: a session value, or text with templates inside.
    Text(Expr),
    /// Any JSON value of the user's record (never JSON `null`).
    Json(Expr),
}

impl Runtime {
    fn expression(&self) -> Expr {
        match self {
            Runtime::Text(expression) | Runtime::Json(expression) => expression.clone(),
        }
    }
}

/// A `$query` sub-query as a function: name, the query as written, its body and its `CREATE
/// FUNCTION` statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct QueryFunction {
    pub name: String,
    pub query: String,
    pub body: String,
    pub sql: String,
}

/// Translates the conditions of one app; collects the sub-query functions they need.
pub(super) struct Translator<'a> {
    schema: &'a TargetSchema,
    bare_keys: RlsBareKeys,
    /// The `User` table, whose row `{{user.data.x}}` and `user_condition` read.
    user_table: Option<&'a Table>,
    /// Sub-query functions, each after the ones it calls.
    pub functions: Vec<QueryFunction>,
    /// Fields the writer sets that the last rule compares with the user (ownership claimed by
    /// whoever writes the record).
    pub anchors: BTreeSet<String>,
    /// Warnings about the last rule (bare keys).
    pub warnings: Vec<String>,
}

impl<'a> Translator<'a> {
    pub(super) fn new(
        schema: &'a TargetSchema,
        bare_keys: RlsBareKeys,
        user_table: Option<&'a Table>,
    ) -> Translator<'a> {
        Translator {
            schema,
            bare_keys,
            user_table,
            functions: Vec::new(),
            anchors: BTreeSet::new(),
            warnings: Vec::new(),
        }
    }

    /// A rule's condition on the records of `table` (`user_entity`: the `User` table).
    pub(super) fn rule(
        &mut self,
        table: &Table,
        user_entity: bool,
        condition: &Value,
    ) -> Result<Condition, Untranslatable> {
        self.anchors.clear();
        self.warnings.clear();
        let scope = Scope {
            subject: Subject::Record(table),
            user_entity,
            bare_keys: self.bare_keys,
            depth: 0,
        };
        match condition {
            Value::Object(object) => self.document(scope, object),
            other => Err(Untranslatable(format!(
                "a rule must be true, false or a condition object, found {}",
                offbase_model::json_kind(other)
            ))),
        }
    }

    /// Every key of the object must hold.
    fn document(
        &mut self,
        scope: Scope<'_>,
        object: &Map<String, Value>,
    ) -> Result<Condition, Untranslatable> {
        let mut parts = Vec::with_capacity(object.len());
        for (key, value) in object {
            parts.push(match key.as_str() {
                "$and" => Condition::all(self.list(scope, key, value)?),
                "$or" => Condition::any(self.list(scope, key, value)?),
                "$nor" => Condition::none(self.list(scope, key, value)?),
                "user_condition" => self.user_condition(scope, value)?,
                operator if operator.starts_with('$') => {
                    return Err(Untranslatable(format!(
                        "unknown operator `{operator}` at the top level of a condition"
                    )));
                }
                field => self.field(scope, field, value)?,
            });
        }
        Ok(Condition::all(parts))
    }

    /// The conditions of `$and`, `$or` or `$nor`: a non-empty array of objects (a `true`
    /// inside is malformed on the platform's query engine, as in the emulator).
    fn list(
        &mut self,
        scope: Scope<'_>,
        operator: &str,
        value: &Value,
    ) -> Result<Vec<Condition>, Untranslatable> {
        let items = match value {
            Value::Array(items) if !items.is_empty() => items,
            other => {
                return Err(Untranslatable(format!(
                    "`{operator}` needs a non-empty array of condition objects, found {}",
                    describe(other)
                )));
            }
        };
        items
            .iter()
            .map(|item| match item {
                Value::Object(object) => self.document(scope, object),
                other => Err(Untranslatable(format!(
                    "`{operator}` holds {}, where a condition object belongs",
                    describe(other)
                ))),
            })
            .collect()
    }

    /// `user_condition`: the same condition language on the user's record; unknown for an
    /// anonymous visitor.
    fn user_condition(
        &mut self,
        scope: Scope<'_>,
        value: &Value,
    ) -> Result<Condition, Untranslatable> {
        let Value::Object(object) = value else {
            return Err(Untranslatable(format!(
                "`user_condition` must be an object, found {}",
                offbase_model::json_kind(value)
            )));
        };
        let on_user = Scope {
            subject: Subject::User,
            user_entity: true,
            ..scope
        };
        let inner = self.document(on_user, object)?;
        let signed_in = session(USER_ID_FUNCTION).is_not_null();
        let exact =
            Expr::cust_with_exprs("CASE WHEN $1 THEN $2 END", [signed_in.clone(), inner.exact]);
        let positive = if inner.requires_user {
            inner.positive
        } else {
            signed_in.and(inner.positive)
        };
        Ok(Condition {
            positive,
            exact,
            requires_user: true,
        })
    }

    /// `{key: operand}` on the scope's subject.
    fn field(
        &mut self,
        scope: Scope<'_>,
        key: &str,
        operand: &Value,
    ) -> Result<Condition, Untranslatable> {
        let path = self.key_path(scope, key);
        let target = match &path {
            Some(path) => self.target(scope, path)?,
            None => Target::Nothing,
        };
        let runtime = holds_user_value(operand);
        if runtime
            && scope.depth == 0
            && let (Subject::Record(_), Some(path)) = (scope.subject, &path)
        {
            let first = path.split('.').next().unwrap_or(path);
            if !is_built_in(first, scope.user_entity) {
                self.anchors.insert(first.to_owned());
            }
        }
        if !runtime {
            let mut condition = Condition::leaf(literal(&target, key, operand)?, Vec::new(), false);
            // On the user, a condition that needs a value is TRUE only for a signed-in user
            // (the session values and the user's row are NULL otherwise), so `user_condition`
            // need not say `signed in AND ...` around it.
            condition.requires_user =
                matches!(scope.subject, Subject::User) && needs_value(operand);
            return Ok(condition);
        }
        match operand {
            Value::String(text) => {
                let Some(value) = self.text_operand(text, scope)? else {
                    return Ok(Condition::unknown());
                };
                if matches!(target, Target::Nothing) {
                    return Ok(Condition::never(vec![value.expression()]));
                }
                let (expression, simple) = runtime_equal(&target, key, &value)?;
                Ok(Condition::leaf(
                    expression,
                    vec![value.expression()],
                    simple,
                ))
            }
            Value::Object(operators)
                if !operators.is_empty() && operators.keys().all(|key| key.starts_with('$')) =>
            {
                self.operators(scope, &target, key, operators)
            }
            _ => Err(Untranslatable(format!(
                "a template inside an array or object value of `{key}` (only a whole value, or an element of `$in`, `$nin`, `$all`)"
            ))),
        }
    }

    /// Where `key` points in the scope's subject: a field path, or `None` for a bare key read
    /// literally (a field the platform's records do not have at the top level).
    fn key_path(&mut self, scope: Scope<'_>, key: &str) -> Option<String> {
        if let Some(field) = key.strip_prefix("data.") {
            return Some(field.to_owned());
        }
        let first = key.split('.').next().unwrap_or(key);
        if is_built_in(first, scope.user_entity) {
            return Some(key.to_owned());
        }
        match scope.bare_keys {
            RlsBareKeys::Data => {
                self.warnings.push(format!(
                    "the key `{key}` has no `data.` prefix: read as `data.{key}` (rls_bare_keys = \"data\" in the mapping file)"
                ));
                Some(key.to_owned())
            }
            RlsBareKeys::Literal => {
                self.warnings.push(format!(
                    "the key `{key}` has no `data.` prefix: the platform keeps record fields under `data`, so as written it names nothing and is translated so (it never equals a value); set rls_bare_keys = \"data\" in the mapping file to read it as `data.{key}`"
                ));
                None
            }
        }
    }

    /// The value a field path names in the scope's subject.
    fn target<'t>(&self, scope: Scope<'t>, path: &str) -> Result<Target<'t>, Untranslatable> {
        match scope.subject {
            Subject::Record(table) => Ok(query::resolve(table, path)),
            Subject::User => {
                let (first, rest) = split_path(path);
                let session_function = match first {
                    "id" => Some(USER_ID_FUNCTION),
                    "email" => Some(USER_EMAIL_FUNCTION),
                    "role" => Some(USER_ROLE_FUNCTION),
                    _ => None,
                };
                match session_function {
                    Some(_) if !rest.is_empty() => Ok(Target::Nothing),
                    Some(function) => Ok(Target::Column {
                        column: session(function),
                        pg_type: &SESSION_TYPE,
                    }),
                    None => Ok(Target::Json(self.user_data(first, &rest)?)),
                }
            }
        }
    }

    /// The user's value of field `first` (and below it, `rest`), jsonb, never JSON null.
    fn user_data(&self, first: &str, rest: &[&str]) -> Result<Expr, Untranslatable> {
        if self.user_table.is_none() {
            return Err(Untranslatable(format!(
                "the rule reads the user's `{first}`, and the plan has no User table to read it from"
            )));
        }
        let value = sub_select(format!(
            "{}({})",
            super::quote_identifier(USER_DATA_FUNCTION),
            super::string_literal(first)
        ));
        if rest.is_empty() {
            return Ok(value);
        }
        Ok(Expr::cust_with_exprs(
            "NULLIF($1, CAST('null' AS jsonb))",
            [query::json_path(value, rest)],
        ))
    }

    /// A template's value (`{{user.email}}`, `{{user.data.salon_id}}`); `None`: no user has
    /// one (a bare name read literally). Bare names are read as `scope` reads bare keys.
    fn template_value(
        &mut self,
        scope: Scope<'_>,
        path: &str,
    ) -> Result<Option<Runtime>, Untranslatable> {
        let scope = Scope {
            subject: Subject::User,
            user_entity: true,
            ..scope
        };
        let Some(path) = self.key_path(scope, path) else {
            return Ok(None);
        };
        Ok(Some(match self.target(scope, &path)? {
            Target::Column { column, .. } => Runtime::Text(column),
            Target::Json(document) => Runtime::Json(document),
            Target::Nothing => return Ok(None),
        }))
    }

    /// A string operand holding templates: one whole template keeps the user's value as it is;
    /// templates inside longer text are replaced by the value's text.
    fn text_operand(
        &mut self,
        text: &str,
        scope: Scope<'_>,
    ) -> Result<Option<Runtime>, Untranslatable> {
        if let Some(path) = whole_template(text).and_then(user_path) {
            return self.template_value(scope, path);
        }
        let mut pieces: Vec<Expr> = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find("{{") {
            let after = &rest[start + 2..];
            let Some(end) = after.find("}}") else {
                break;
            };
            let inner = &after[..end];
            match user_path(inner) {
                Some(path) => {
                    if start > 0 {
                        pieces.push(Expr::val(rest[..start].to_owned()));
                    }
                    let Some(value) = self.template_value(scope, path)? else {
                        return Ok(None);
                    };
                    pieces.push(as_text(&value));
                }
                None => pieces.push(Expr::val(rest[..start + 2 + end + 2].to_owned())),
            }
            rest = &after[end + 2..];
        }
        if !rest.is_empty() {
            pieces.push(Expr::val(rest.to_owned()));
        }
        let mut pieces = pieces.into_iter();
        let Some(first) = pieces.next() else {
            return Ok(Some(Runtime::Text(Expr::val(String::new()))));
        };
        let joined = pieces.fold(first, |joined, piece| {
            Expr::cust_with_exprs("($1 || $2)", [joined, piece])
        });
        Ok(Some(Runtime::Text(joined)))
    }

    /// An operator object whose operands hold templates or sub-queries.
    fn operators(
        &mut self,
        scope: Scope<'_>,
        target: &Target<'_>,
        key: &str,
        operators: &Map<String, Value>,
    ) -> Result<Condition, Untranslatable> {
        let mut parts = Vec::new();
        let mut guards = Vec::new();
        let mut simple = operators.len() == 1;
        for (operator, operand) in operators {
            if !holds_user_value(operand) {
                let mut single = Map::new();
                single.insert(operator.clone(), operand.clone());
                parts.push(literal(target, key, &Value::Object(single))?);
                simple = false;
                continue;
            }
            match operator.as_str() {
                "$eq" | "$ne" => {
                    let Value::String(text) = operand else {
                        return Err(Untranslatable(format!(
                            "a template inside an array or object operand of `{operator}` on `{key}`"
                        )));
                    };
                    let Some(value) = self.text_operand(text, scope)? else {
                        return Ok(Condition::unknown());
                    };
                    let (equal, equal_simple) = runtime_equal(target, key, &value)?;
                    guards.push(value.expression());
                    if operator == "$eq" {
                        simple &= equal_simple;
                        parts.push(equal);
                    } else {
                        simple = false;
                        parts.push(query::negate(equal));
                    }
                }
                "$in" | "$nin" | "$all" => {
                    let Value::Array(items) = operand else {
                        return Err(Untranslatable(format!(
                            "`{operator}` on `{key}` needs an array"
                        )));
                    };
                    let mut equalities = Vec::new();
                    for item in items {
                        match item {
                            Value::String(text) if holds_user_value(item) => {
                                let Some(value) = self.text_operand(text, scope)? else {
                                    return Ok(Condition::unknown());
                                };
                                guards.push(value.expression());
                                equalities.push(runtime_equal(target, key, &value)?.0);
                            }
                            Value::Object(query_object)
                                if operator != "$all"
                                    && query_object.len() == 1
                                    && query_object.contains_key("$query") =>
                            {
                                let specification =
                                    query_object.get("$query").unwrap_or(&Value::Null);
                                let function = self.sub_query(scope, specification)?;
                                equalities.push(membership(target, key, &function)?);
                            }
                            other if holds_user_value(other) => {
                                return Err(Untranslatable(format!(
                                    "a template inside an array or object element of `{operator}` on `{key}`"
                                )));
                            }
                            other => equalities
                                .push(query::equal(target, key, other).map_err(untranslatable)?),
                        }
                    }
                    simple = false;
                    parts.push(match operator.as_str() {
                        "$in" => query::any_of(equalities),
                        "$nin" => query::negate(query::any_of(equalities)),
                        _ if equalities.is_empty() => query::constant(false),
                        _ => query::all_of(equalities),
                    });
                }
                other => {
                    return Err(Untranslatable(format!(
                        "a template in the operand of `{other}` on `{key}` (templates are translated in equality, `$ne`, `$in`, `$nin` and `$all`)"
                    )));
                }
            }
        }
        Ok(Condition::leaf(query::all_of(parts), guards, simple))
    }

    /// `{"$query": {"entity", "filter", "field"}}`: a `SECURITY DEFINER` function returning
    /// the values of `field` in the records of `entity` that match `filter` (an array's
    /// elements; no null). It reads the table as its owner, so the sub-query's table's own
    /// policies do not apply: a policy that read a table whose policy reads back would make
    /// PostgreSQL report infinite recursion.
    fn sub_query(
        &mut self,
        scope: Scope<'_>,
        specification: &Value,
    ) -> Result<String, Untranslatable> {
        let depth = scope.depth + 1;
        if depth > MAX_QUERY_DEPTH {
            return Err(Untranslatable(format!(
                "`$query` sub-queries nest more than {MAX_QUERY_DEPTH} levels deep"
            )));
        }
        let Value::Object(specification_object) = specification else {
            return Err(Untranslatable(format!(
                "`$query` must be an object with `entity`, `filter` and `field`, found {}",
                offbase_model::json_kind(specification)
            )));
        };
        let text = |name: &str| {
            specification_object
                .get(name)
                .and_then(Value::as_str)
                .filter(|text| !text.is_empty())
                .ok_or_else(|| {
                    Untranslatable(format!("`$query`: `{name}` must be a non-empty string"))
                })
        };
        let entity = text("entity")?;
        let field = text("field")?;
        let schema = self.schema;
        let Some(table) = schema.table_for_entity(entity) else {
            return Err(Untranslatable(format!(
                "a `$query` reads the entity `{entity}`, which has no table in the plan"
            )));
        };
        let empty = Map::new();
        let filter = match specification_object.get("filter") {
            None | Some(Value::Null) => &empty,
            Some(Value::Object(filter)) => filter,
            Some(other) => {
                return Err(Untranslatable(format!(
                    "`$query`: `filter` must be an object, found {}",
                    offbase_model::json_kind(other)
                )));
            }
        };
        // The filter and the field name fields as a read does: bare names are the schema's.
        let inner = Scope {
            subject: Subject::Record(table),
            user_entity: entity == "User",
            bare_keys: RlsBareKeys::Data,
            depth,
        };
        let saved_warnings = self.warnings.len();
        let condition = self.document(inner, filter)?;
        // Bare names are the rule here, not a shape to warn about.
        self.warnings.truncate(saved_warnings);
        let field_path = field.strip_prefix("data.").unwrap_or(field);
        let values = match query::resolve(table, field_path) {
            Target::Column { column, pg_type } if pg_type.element().is_some() => format!(
                "SELECT to_jsonb(\"element\") FROM (SELECT {column} AS \"value\" FROM {table} WHERE {filter}) AS \"matched\", unnest(\"matched\".\"value\") AS \"element\" WHERE \"element\" IS NOT NULL",
                column = super::render(column),
                table = super::quote_identifier(&table.name),
                filter = super::render(condition.positive),
            ),
            Target::Column { column, pg_type } => format!(
                "SELECT \"matched\".\"value\" FROM (SELECT to_jsonb({column}) AS \"value\" FROM {table} WHERE {filter}) AS \"matched\" WHERE \"matched\".\"value\" IS NOT NULL",
                column = super::render(query::column_value(column, pg_type)),
                table = super::quote_identifier(&table.name),
                filter = super::render(condition.positive),
            ),
            Target::Json(document) => format!(
                "SELECT \"element\" FROM (SELECT {document} AS \"value\" FROM {table} WHERE {filter}) AS \"matched\", jsonb_array_elements(CASE WHEN jsonb_typeof(\"matched\".\"value\") = 'array' THEN \"matched\".\"value\" ELSE jsonb_build_array(\"matched\".\"value\") END) AS \"element\" WHERE \"element\" <> CAST('null' AS jsonb)",
                document = super::render(document),
                table = super::quote_identifier(&table.name),
                filter = super::render(condition.positive),
            ),
            Target::Nothing => "SELECT CAST(NULL AS jsonb) WHERE FALSE".to_owned(),
        };
        let identity = format!(
            "{}\u{0}{}",
            table.name,
            serde_json::to_string(specification).unwrap_or_default()
        );
        let name = format!(
            "offbase_query_{}",
            offbase_model::names::short_hash(&identity)
        );
        if !self.functions.iter().any(|function| function.name == name) {
            self.functions.push(QueryFunction {
                sql: format!(
                    "CREATE OR REPLACE FUNCTION {}() RETURNS SETOF jsonb LANGUAGE sql STABLE SECURITY DEFINER SET search_path FROM CURRENT AS {}",
                    super::quote_identifier(&name),
                    dollar_quoted(&values)
                ),
                name: name.clone(),
                query: specification.to_string(),
                body: values,
            });
        }
        Ok(name)
    }
}

/// Whether `name` is a built-in field of records (of `User` records, with `user_entity`).
fn is_built_in(name: &str, user_entity: bool) -> bool {
    BuiltIn::RECORD
        .iter()
        .any(|built_in| built_in.field_name() == name)
        || (user_entity
            && BuiltIn::USER
                .iter()
                .any(|built_in| built_in.field_name() == name))
}

fn split_path(path: &str) -> (&str, Vec<&str>) {
    let mut segments = path.split('.');
    let first = segments.next().unwrap_or(path);
    (first, segments.collect())
}

/// `(SELECT function())`: a session value read once per statement (an init plan), not once
/// per row.
fn session(function: &str) -> Expr {
    sub_select(format!("{}()", super::quote_identifier(function)))
}

/// `(SELECT expression)`, as a sub-query sea-query does not wrap in more parentheses.
fn sub_select(expression: String) -> Expr {
    let select = sea_query::Query::select()
        .expr(Expr::cust(expression))
        .to_owned();
    Expr::SubQuery(
        None,
        Box::new(sea_query::SubQueryStatement::SelectStatement(select)),
    )
}

/// Whether a literal condition holds only where the value is there (not null, not missing):
/// equality with a value, `$in`, `$all`, ranges, `$regex`, `$size`, `$exists: true`.
fn needs_value(operand: &Value) -> bool {
    match operand {
        Value::Null => false,
        Value::Object(operators) if operators.keys().any(|key| key.starts_with('$')) => operators
            .iter()
            .all(|(operator, value)| match operator.as_str() {
                "$eq" | "$gt" | "$gte" | "$lt" | "$lte" => !value.is_null(),
                "$in" => value
                    .as_array()
                    .is_some_and(|items| items.iter().all(|item| !item.is_null())),
                "$all" | "$regex" | "$options" | "$size" => true,
                "$exists" => value == &Value::Bool(true),
                _ => false,
            }),
        _ => true,
    }
}

/// Whether a value holds a `{{user.…}}` template or a `$query` anywhere.
fn holds_user_value(value: &Value) -> bool {
    match value {
        Value::String(text) => holds_template(text),
        Value::Array(items) => items.iter().any(holds_user_value),
        Value::Object(object) => {
            object.contains_key("$query") || object.values().any(holds_user_value)
        }
        _ => false,
    }
}

fn holds_template(text: &str) -> bool {
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            return false;
        };
        if user_path(&after[..end]).is_some() {
            return true;
        }
        rest = &after[end + 2..];
    }
    false
}

/// The inside of a text that is exactly one `{{...}}`.
fn whole_template(text: &str) -> Option<&str> {
    let inner = text.trim().strip_prefix("{{")?.strip_suffix("}}")?;
    (!inner.contains("{{") && !inner.contains("}}")).then_some(inner)
}

/// The path after `user.` in a template's inside; `None` for any other template (kept as
/// text, as the platform leaves it).
fn user_path(inner: &str) -> Option<&str> {
    inner
        .trim()
        .strip_prefix("user.")
        .filter(|path| !path.is_empty())
}

/// A user value as text, for a template inside longer text: a string as it is, a number or a
/// boolean as its JSON text; NULL for anything else.
fn as_text(value: &Runtime) -> Expr {
    match value {
        Runtime::Text(text) => text.clone(),
        Runtime::Json(document) => Expr::cust_with_exprs(
            "(CASE WHEN jsonb_typeof($1) IN ('string', 'number', 'boolean') THEN $1 #>> '{}' END)",
            [document.clone()],
        ),
    }
}

fn untranslatable(error: query::TranslateError) -> Untranslatable {
    Untranslatable(error.to_string())
}

/// A literal condition (no template, no sub-query) through the query translation.
fn literal(target: &Target<'_>, key: &str, operand: &Value) -> Result<Expr, Untranslatable> {
    let mut single = Map::new();
    single.insert(key.to_owned(), operand.clone());
    let filter = parse_filter(&Value::Object(single))
        .map_err(|error| Untranslatable(format!("the condition on `{key}`: {error}")))?;
    let condition = match filter {
        Filter::Field { condition, .. } => condition,
        Filter::And(mut filters) if filters.len() == 1 => match filters.pop() {
            Some(Filter::Field { condition, .. }) => condition,
            _ => {
                return Err(Untranslatable(format!(
                    "the condition on `{key}` is not a field condition"
                )));
            }
        },
        _ => {
            return Err(Untranslatable(format!(
                "the condition on `{key}` is not a field condition"
            )));
        }
    };
    query::target_condition(target, key, &condition).map_err(untranslatable)
}

/// The scalar types a user value's JSON kind compares with.
enum Kind {
    Text,
    Number,
    Boolean,
}

fn kind_of(pg_type: &PgType) -> Option<Kind> {
    if pg_type.is_textual() || matches!(pg_type, PgType::Uuid) {
        Some(Kind::Text)
    } else if pg_type.is_numeric() {
        Some(Kind::Number)
    } else if matches!(pg_type, PgType::Boolean) {
        Some(Kind::Boolean)
    } else {
        None
    }
}

/// A typed column value as compared with a user value: text for enums and uuids.
fn comparable(column: Expr, pg_type: &PgType) -> Expr {
    match pg_type {
        PgType::Uuid => Expr::cust_with_exprs("CAST($1 AS text)", [column]),
        PgType::Array(element) if matches!(**element, PgType::Enum(_) | PgType::Uuid) => {
            Expr::cust_with_exprs("CAST($1 AS text[])", [column])
        }
        PgType::Array(element) if element.is_numeric() => {
            Expr::cust_with_exprs("CAST($1 AS numeric[])", [column])
        }
        _ => query::column_value(column, pg_type),
    }
}

/// A JSON value as a scalar of `kind`, NULL when it is of another kind.
fn json_as(kind: &Kind, value: Expr) -> Expr {
    match kind {
        Kind::Text => Expr::cust_with_exprs(
            "(CASE WHEN jsonb_typeof($1) = 'string' THEN $1 #>> '{}' END)",
            [value],
        ),
        Kind::Number => Expr::cust_with_exprs(
            "(CASE WHEN jsonb_typeof($1) = 'number' THEN CAST($1 AS numeric) END)",
            [value],
        ),
        Kind::Boolean => Expr::cust_with_exprs(
            "(CASE WHEN jsonb_typeof($1) = 'boolean' THEN CAST($1 AS boolean) END)",
            [value],
        ),
    }
}

/// JSON equality as the platform's: equal, or an array holding an equal element.
fn json_equal_value(document: Expr, value: Expr) -> Expr {
    Expr::cust_with_exprs(
        "($1 = $2 OR (jsonb_typeof($1) = 'array' AND $1 @> jsonb_build_array($2)))",
        [document, value],
    )
}

/// A target equal to a user value; `true` beside it when the expression is TRUE only where
/// the value is there (it can be a policy's condition as it is).
fn runtime_equal(
    target: &Target<'_>,
    key: &str,
    value: &Runtime,
) -> Result<(Expr, bool), Untranslatable> {
    let refuse_temporal = || {
        Untranslatable(format!(
            "`{key}` holds dates or times, compared with a user value (the platform compares such strings as instants)"
        ))
    };
    Ok(match target {
        Target::Nothing => (query::constant(false), false),
        Target::Json(document) => (json_equal_value(document.clone(), json_of(value)), false),
        Target::Column { column, pg_type } => {
            if pg_type.is_json() {
                return Ok((
                    json_equal_value(query::column_value(column.clone(), pg_type), json_of(value)),
                    false,
                ));
            }
            let element = pg_type.element();
            let scalar = element.unwrap_or(pg_type);
            let Some(kind) = kind_of(scalar) else {
                return Err(refuse_temporal());
            };
            let operand = match (value, &kind) {
                (Runtime::Text(text), Kind::Text) => text.clone(),
                // A text user value never equals a number or a boolean.
                (Runtime::Text(_), _) => return Ok((query::constant(false), false)),
                (Runtime::Json(document), kind) => json_as(kind, document.clone()),
            };
            let column = comparable(column.clone(), pg_type);
            match element {
                Some(_) => (
                    Expr::cust_with_exprs("$1 = ANY($2)", [operand, column]),
                    true,
                ),
                None => (column.eq(operand), true),
            }
        }
    })
}

/// A user value as jsonb.
fn json_of(value: &Runtime) -> Expr {
    match value {
        Runtime::Text(text) => Expr::cust_with_exprs("to_jsonb(CAST($1 AS text))", [text.clone()]),
        Runtime::Json(document) => document.clone(),
    }
}

/// A target holding one of the values a sub-query function returns. Every reference to the
/// target stays outside the sub-selects, so a column named like the sub-select's alias
/// (`value`) cannot be captured by it.
fn membership(target: &Target<'_>, key: &str, function: &str) -> Result<Expr, Untranslatable> {
    let call = format!("{}()", super::quote_identifier(function));
    let values = |kind: &Kind| {
        let (extract, test) = match kind {
            Kind::Text => ("\"value\" #>> '{}'", "string"),
            Kind::Number => ("CAST(\"value\" AS numeric)", "number"),
            Kind::Boolean => ("CAST(\"value\" AS boolean)", "boolean"),
        };
        format!(
            "SELECT {extract} FROM {call} AS \"value\" WHERE jsonb_typeof(\"value\") = '{test}'"
        )
    };
    Ok(match target {
        Target::Nothing => query::constant(false),
        Target::Json(document) => json_membership(document.clone(), &call),
        Target::Column { column, pg_type } => {
            if pg_type.is_json() {
                return Ok(json_membership(
                    query::column_value(column.clone(), pg_type),
                    &call,
                ));
            }
            let element = pg_type.element();
            let Some(kind) = kind_of(element.unwrap_or(pg_type)) else {
                return Err(Untranslatable(format!(
                    "`{key}` holds dates or times, compared with the values of a `$query`"
                )));
            };
            let column = comparable(column.clone(), pg_type);
            match element {
                Some(_) => {
                    Expr::cust_with_exprs(format!("($1 && ARRAY({}))", values(&kind)), [column])
                }
                None => Expr::cust_with_exprs(format!("($1 IN ({}))", values(&kind)), [column]),
            }
        }
    })
}

fn json_membership(document: Expr, call: &str) -> Expr {
    Expr::cust_with_exprs(
        format!(
            "($1 IN (SELECT \"value\" FROM {call} AS \"value\") OR (jsonb_typeof($1) = 'array' AND $1 @> ANY (ARRAY(SELECT jsonb_build_array(\"value\") FROM {call} AS \"value\"))))"
        ),
        [document],
    )
}

/// A JSON value named for a message: its kind, or the text of a boolean.
fn describe(value: &Value) -> String {
    match value {
        Value::Bool(flag) => format!("`{flag}`"),
        Value::Array(items) if items.is_empty() => "an empty array".to_owned(),
        other => offbase_model::json_kind(other).to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_are_found_whole_and_inside_text() {
        assert!(holds_template("{{user.email}}"));
        assert!(holds_template("team-{{ user.data.team }}"));
        assert!(!holds_template("{{app.name}}"));
        assert!(!holds_template("plain"));
        assert_eq!(
            whole_template(" {{user.email}} ").and_then(user_path),
            Some("email")
        );
        assert_eq!(whole_template("a {{user.email}}"), None);
    }

    #[test]
    fn a_sub_query_object_is_a_user_value() {
        assert!(holds_user_value(&serde_json::json!({
            "$in": [{"$query": {"entity": "A", "field": "b"}}]
        })));
        assert!(!holds_user_value(&serde_json::json!({"$in": ["a", 1]})));
    }
}
