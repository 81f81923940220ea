//! Access rules (`rls`) as PostgreSQL row level security: the `access-rules` section of a plan
//! and what the mapping report says of each rule. This module owns the translation: the roles
//! (anonymous, signed-in, service), the session settings that carry the request's user and the
//! functions that read them, one policy per operation and table, the column privileges of
//! constant field rules, and every decision and warning about them. Pure: no I/O.
//!
//! Two dialects share every policy: offbase's own (its roles, the user in `app.*` settings)
//! and Supabase's (`--rls supabase`: Supabase's roles, the user in its JWT claims). They differ
//! in the roles the statements name and in the prelude's functions, never in a policy's text:
//! policies call the user functions by the same names in both.
//!
//! Which rule governs an operation (a specific operation before `write`; the platform's
//! built-in `User` rules; field rules) is `offbase_base44::rls`, the same code the emulator
//! enforces rules with, so both answer alike; how a condition becomes SQL is `condition`;
//! the statements themselves are `statements`. docs/access-rules.md explains every decision.

mod condition;
mod session;
mod statements;

use condition::{Condition, Translator};
pub use offbase_base44::rls::Operation;
use offbase_base44::rls::{EntityRules, Rule};
use offbase_model::{
    App, ColumnSource, Entity, MappingRules, Note, NoteLevel, Rls, RlsRule, Table, TargetSchema,
};
use sea_query::{Expr, PostgresQueryBuilder, Query};
use serde::{Deserialize, Serialize};
use serde_json::Value;
pub use session::{Requester, Session, session};

pub use offbase_model::names::quote_identifier;

/// The role an anonymous visitor's requests run as.
pub const ANONYMOUS_ROLE: &str = "offbase_anon";
/// The role a signed-in user's requests run as (the user is in the session settings).
pub const SIGNED_IN_ROLE: &str = "offbase_user";
/// The role of backend code that bypasses the rules (the platform's `asServiceRole`).
pub const SERVICE_ROLE: &str = "offbase_service";
/// The session setting of the request's user id (`SET LOCAL app.user_id = '...'`).
pub const USER_ID_SETTING: &str = "app.user_id";
/// The session setting of the request's user email.
pub const USER_EMAIL_SETTING: &str = "app.user_email";
/// The session setting of the request's user role.
pub const USER_ROLE_SETTING: &str = "app.user_role";

/// `offbase_user_id()`: the request's user id, NULL when anonymous.
pub const USER_ID_FUNCTION: &str = "offbase_user_id";
/// `offbase_user_email()`: the request's user email, NULL when anonymous.
pub const USER_EMAIL_FUNCTION: &str = "offbase_user_email";
/// `offbase_user_role()`: the request's user role, NULL when anonymous.
pub const USER_ROLE_FUNCTION: &str = "offbase_user_role";
/// `offbase_user_data(field)`: a field of the request's user's `User` row, as jsonb.
pub const USER_DATA_FUNCTION: &str = "offbase_user_data";

/// Supabase's role of anonymous requests (the project's anon key).
pub const SUPABASE_ANONYMOUS_ROLE: &str = "anon";
/// Supabase's role of a signed-in user's requests (a user's JWT).
pub const SUPABASE_SIGNED_IN_ROLE: &str = "authenticated";
/// Supabase's role of backend code (the service key), `BYPASSRLS` on Supabase.
pub const SUPABASE_SERVICE_ROLE: &str = "service_role";
/// The function Supabase defines to give the request's JWT claims as `jsonb`. offbase calls
/// it, never defines it: a database without it is not a Supabase database.
pub const SUPABASE_CLAIMS_FUNCTION: &str = "auth.jwt()";
/// The setting Supabase's API (PostgREST) puts the verified JWT's claims in, per transaction;
/// `auth.jwt()` reads it.
pub const SUPABASE_CLAIMS_SETTING: &str = "request.jwt.claims";
/// The setting older versions of PostgREST used, which `auth.jwt()` reads first.
pub const SUPABASE_LEGACY_CLAIMS_SETTING: &str = "request.jwt.claim";
/// The schema of the users export's id map (offbase's state schema).
pub const USER_MAP_SCHEMA: &str = "offbase";
/// The users export's id map (`offbase.user_map`): a Base44 id per provider's id.
pub const USER_MAP_TABLE: &str = "user_map";
/// The provider `users export --format supabase` records its ids under in the map.
pub const SUPABASE_PROVIDER: &str = "supabase";

/// Whether a plan enforces the app's access rules (`--rls`), and in which dialect.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RlsMode {
    /// Row level security for apps with rules (the default), with offbase's roles and the
    /// request's user in `app.*` session settings.
    #[default]
    On,
    /// No access-rules section: the report describes the rules as not enforced.
    Off,
    /// Row level security as `On`, for a Supabase database: Supabase's roles (`anon`,
    /// `authenticated`, `service_role`) and the request's user from its JWT claims
    /// (`auth.jwt()`).
    Supabase,
}

impl RlsMode {
    /// The roles this mode's statements name (`Off` names none; it answers with offbase's).
    pub fn roles(self) -> Roles {
        match self {
            RlsMode::On | RlsMode::Off => Roles {
                anonymous: ANONYMOUS_ROLE,
                signed_in: SIGNED_IN_ROLE,
                service: SERVICE_ROLE,
            },
            RlsMode::Supabase => Roles {
                anonymous: SUPABASE_ANONYMOUS_ROLE,
                signed_in: SUPABASE_SIGNED_IN_ROLE,
                service: SUPABASE_SERVICE_ROLE,
            },
        }
    }
}

/// A statement that refuses a database without Supabase's `auth.jwt()`, with the message of
/// the Supabase section's own check: a load with `--rls supabase` runs it before it copies any
/// row, rather than fail at the end.
pub fn supabase_check() -> String {
    statements::supabase_check_statement()
}

/// The roles of a dialect: who requests run as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Roles {
    /// Anonymous visitors, held to the policies.
    pub anonymous: &'static str,
    /// Signed-in users, held to the policies.
    pub signed_in: &'static str,
    /// Backend code (the platform's `asServiceRole`), `BYPASSRLS`.
    pub service: &'static str,
}

/// The SQL side of an operation (the operations themselves are the rules' own,
/// [`offbase_base44::rls::Operation`]): the command and the name of its policy.
pub trait PolicyOperation {
    /// The SQL command its policy is for.
    fn command(self) -> &'static str;
    /// The policy's name (policy names are per table).
    fn policy_name(self) -> String;
}

impl PolicyOperation for Operation {
    fn command(self) -> &'static str {
        match self {
            Operation::Read => "SELECT",
            Operation::Create => "INSERT",
            Operation::Update => "UPDATE",
            Operation::Delete => "DELETE",
        }
    }

    fn policy_name(self) -> String {
        format!("offbase_{}", self.key())
    }
}

/// The access rules of an app as a plan enforces them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AccessRules {
    pub mode: RlsMode,
    /// Whether any entity or field of the app has `rls`.
    pub has_rules: bool,
    /// The `access-rules` section, statement by statement (without the semicolons); empty
    /// when not [`enforced`](Self::enforced).
    pub statements: Vec<String>,
    /// Per entity table, in the plan's table order.
    pub tables: Vec<TableAccess>,
    /// The `$query` sub-queries, each a function the policies call, in creation order.
    pub sub_queries: Vec<SubQuery>,
    /// Warnings (also among the plan's notes) and decisions, by entity.
    pub notes: Vec<Note>,
}

impl AccessRules {
    /// Whether the plan has an `access-rules` section: rules on, and the app has rules.
    pub fn enforced(&self) -> bool {
        self.mode != RlsMode::Off && self.has_rules
    }

    pub fn table(&self, table: &str) -> Option<&TableAccess> {
        self.tables.iter().find(|access| access.table == table)
    }

    /// The warnings, for the plan's notes.
    pub fn warnings(&self) -> impl Iterator<Item = &Note> {
        self.notes
            .iter()
            .filter(|note| note.level == NoteLevel::Warning)
    }
}

/// One table's policies.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TableAccess {
    pub entity: String,
    pub table: String,
    pub operations: Vec<OperationAccess>,
}

/// One operation's rule and the policy that enforces it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OperationAccess {
    pub operation: Operation,
    /// The rule as the report shows it (`open to anyone`, `closed`, or the condition).
    pub rule: String,
    /// The policy's clauses: `USING (...)`, `WITH CHECK (...)`.
    pub policy: String,
}

/// A `$query` sub-query as a `SECURITY DEFINER` function.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SubQuery {
    /// The function's name (`offbase_query_` and 8 hex digits of the query's hash).
    pub function: String,
    /// The `$query` object as the rule gives it.
    pub query: String,
    /// The function's body: a `SELECT` of the values.
    pub sql: String,
}

/// Why a condition cannot be enforced faithfully: its operation is closed instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Untranslatable(pub String);

/// The access rules of `app` planned as `schema`, under `rules` (its `rls_bare_keys`) and
/// `mode`.
pub fn access_rules(
    app: &App,
    schema: &TargetSchema,
    rules: &MappingRules,
    mode: RlsMode,
) -> AccessRules {
    let has_rules = app.entities.iter().any(|entity| {
        entity.rls.is_some() || entity.fields.iter().any(|field| field.rls.is_some())
    });
    let mut access = AccessRules {
        mode,
        has_rules,
        statements: Vec::new(),
        tables: Vec::new(),
        sub_queries: Vec::new(),
        notes: Vec::new(),
    };
    if !access.enforced() {
        // Rules the plan leaves out are a warning like any rule it cannot hold: with
        // `--rls off`, whoever may query a table reads and writes every row of it.
        if has_rules {
            for entity in app.entities.iter().filter(|entity| {
                entity.rls.is_some() || entity.fields.iter().any(|field| field.rls.is_some())
            }) {
                access.notes.push(Note::warning(
                    Some(&entity.name),
                    None,
                    "access rules not enforced (planned with --rls off): whoever may query the table reads and writes every row; plan without --rls off to enforce them",
                ));
            }
        }
        return access;
    }
    let bare_keys = rules.options.rls_bare_keys;
    let user_table = schema.table_for_entity("User");
    let mut translator = Translator::new(schema, bare_keys, user_table);
    let roles = mode.roles();
    let mut table_statements = Vec::new();
    let mut stored_functions = Vec::new();
    for table in &schema.tables {
        if let Some(junction) = &table.junction {
            let owner = schema.table_for_entity(&table.entity);
            table_statements.extend(statements::junction(roles, table, owner));
            access.notes.push(Note::decision(
                Some(&table.entity),
                Some(&junction.field),
                format!(
                    "junction table {:?}: readable where its owner's row is, written only by the load and the sync (and the service role)",
                    table.name
                ),
            ));
            continue;
        }
        let Some(entity) = app.entity(&table.entity) else {
            continue;
        };
        let mut planner = TablePlanner {
            translator: &mut translator,
            roles,
            entity,
            table,
            rules: EntityRules::of(entity),
            notes: Vec::new(),
            stored: Vec::new(),
        };
        let planned = planner.plan();
        stored_functions.append(&mut planner.stored);
        access.notes.append(&mut planner.notes);
        table_statements.extend(planned.statements);
        access.tables.push(planned.access);
    }
    access.statements = statements::prelude(mode, user_table);
    access.statements.extend(
        translator
            .functions
            .iter()
            .map(|function| function.sql.clone()),
    );
    access.statements.append(&mut stored_functions);
    access.statements.append(&mut table_statements);
    // Warnings first, then by entity; generation order within (stable sort).
    access
        .notes
        .sort_by(|left, right| (left.level, &left.entity).cmp(&(right.level, &right.entity)));
    access
}

/// What one table's translation gives.
struct PlannedTable {
    access: TableAccess,
    statements: Vec<String>,
}

/// The translation of one entity's rules into its table's privileges and policies.
struct TablePlanner<'p, 'a> {
    translator: &'p mut Translator<'a>,
    roles: Roles,
    entity: &'a Entity,
    table: &'a Table,
    rules: EntityRules,
    notes: Vec<Note>,
    /// `CREATE FUNCTION` statements of the stored-value functions update checks use.
    stored: Vec<String>,
}

/// The column privileges constant field rules take away from the anonymous and signed-in
/// roles, by command.
#[derive(Debug, Default)]
struct ClosedColumns {
    select: Vec<String>,
    insert: Vec<String>,
    update: Vec<String>,
}

impl TablePlanner<'_, '_> {
    fn warning(&mut self, field: Option<&str>, message: impl Into<String>) {
        self.notes
            .push(Note::warning(Some(&self.entity.name), field, message));
    }

    fn decision(&mut self, field: Option<&str>, message: impl Into<String>) {
        self.notes
            .push(Note::decision(Some(&self.entity.name), field, message));
    }

    fn plan(&mut self) -> PlannedTable {
        if let Some(rls) = &self.entity.rls {
            for key in rls.extra.keys() {
                self.warning(
                    None,
                    format!("the rls key `{key}` is not an operation (read, create, update, delete, write): ignored"),
                );
            }
        }
        let mut closed = ClosedColumns::default();
        // Reads first: an update check must know which columns the caller cannot read.
        self.read_field_rules(&mut closed);
        let create_checks = self.field_checks(Operation::Create, &mut closed);
        let update_checks = self.field_checks(Operation::Update, &mut closed);
        let mut operations = Vec::new();
        let mut policies = Vec::new();
        for operation in Operation::ALL {
            let (rule, condition) = self.operation_condition(operation);
            let positive = |condition: &Condition| render(condition.positive.clone());
            let (using, check) = match operation {
                Operation::Read | Operation::Delete => (Some(positive(&condition)), None),
                Operation::Create => (
                    None,
                    Some(with_checks(positive(&condition), &create_checks)),
                ),
                Operation::Update => (
                    Some(positive(&condition)),
                    Some(with_checks(positive(&condition), &update_checks)),
                ),
            };
            let mut clauses = Vec::new();
            if let Some(using) = &using {
                clauses.push(format!("USING ({using})"));
            }
            if let Some(check) = &check {
                clauses.push(format!("WITH CHECK ({check})"));
            }
            let policy = clauses.join(" ");
            policies.push(statements::Policy {
                operation,
                clauses: policy.clone(),
            });
            operations.push(OperationAccess {
                operation,
                rule,
                policy,
            });
        }
        PlannedTable {
            statements: statements::table(self.roles, self.table, &closed, &policies),
            access: TableAccess {
                entity: self.entity.name.clone(),
                table: self.table.name.clone(),
                operations,
            },
        }
    }

    /// The rule of `operation` as the report shows it, and its condition.
    fn operation_condition(&mut self, operation: Operation) -> (String, Condition) {
        let declared = self
            .entity
            .rls
            .as_ref()
            .and_then(|rls| declared_rule(rls, operation));
        let described = match &declared {
            Some((RlsRule::Allow(true), from)) => format!("open to anyone (`true`{from})"),
            Some((RlsRule::Allow(false), from)) => {
                format!("closed: only the service role (`false`{from})")
            }
            Some((RlsRule::Condition(Value::Null), from)) => {
                self.decision(
                    None,
                    format!(
                        "{}: `null` read as an omitted rule: open to anyone",
                        operation.key()
                    ),
                );
                format!("open to anyone (`null`{from})")
            }
            Some((RlsRule::Condition(Value::Object(object)), from)) if object.is_empty() => {
                self.decision(
                    None,
                    format!(
                        "{}: `{{}}` read as an omitted rule: open to anyone",
                        operation.key()
                    ),
                );
                format!("open to anyone (`{{}}`{from})")
            }
            Some((RlsRule::Condition(condition), from)) => format!("`{condition}`{from}"),
            None if self.entity.is_user() => match operation {
                Operation::Read | Operation::Update => {
                    "built in: the user's own record, or an admin".to_owned()
                }
                Operation::Create | Operation::Delete => "built in: admins".to_owned(),
            },
            None => "open to anyone (omitted)".to_owned(),
        };
        let rule = match self.rules.rule(operation) {
            Rule::Open => None,
            Rule::Closed => Some(Value::Bool(false)),
            Rule::Condition(condition) => Some(condition.clone()),
        };
        let condition = match rule {
            None => Condition::constant(true),
            Some(Value::Bool(false)) => Condition::constant(false),
            Some(condition) => self.condition(operation.key(), None, &condition),
        };
        (described, condition)
    }

    /// A condition of `what` (an operation, or a field's operation), or FALSE with a warning
    /// when it cannot be translated faithfully.
    fn condition(&mut self, what: &str, field: Option<&str>, condition: &Value) -> Condition {
        let translated = self
            .translator
            .rule(self.table, self.entity.is_user(), condition);
        let warnings = std::mem::take(&mut self.translator.warnings);
        for warning in warnings {
            self.warning(field, format!("{what}: {warning}"));
        }
        let anchors = std::mem::take(&mut self.translator.anchors);
        if !anchors.is_empty() && translated.is_ok() {
            let names: Vec<String> = anchors.iter().map(|name| format!("`{name}`")).collect();
            self.decision(
                field,
                format!(
                    "{what}: anchored on {}, set by whoever writes the record: the rule keeps the platform's behaviour, and is as forgeable as it was there",
                    names.join(", ")
                ),
            );
        }
        match translated {
            Ok(condition) => condition,
            Err(Untranslatable(reason)) => {
                self.warning(
                    field,
                    format!("{what}: closed (only the service role), because the rule cannot be translated faithfully: {reason}"),
                );
                Condition::constant(false)
            }
        }
    }

    /// Field rules of a write: closed ones become column privileges; conditions become
    /// `WITH CHECK` parts (a create that sets the field, an update that changes it, must
    /// satisfy the field's rule for the new record).
    fn field_checks(&mut self, operation: Operation, closed: &mut ClosedColumns) -> Vec<String> {
        let guarded: Vec<(String, Rule<'_>)> = self
            .rules
            .guarded_fields(operation)
            .into_iter()
            .map(|(name, rule)| (name.to_owned(), rule))
            .collect();
        let operation_rule = match self.rules.rule(operation) {
            Rule::Condition(condition) => Some(condition.clone()),
            _ => None,
        };
        let mut checks = Vec::new();
        let guarded: Vec<(String, Value)> = guarded
            .into_iter()
            .map(|(name, rule)| {
                let value = match rule {
                    Rule::Open => Value::Bool(true),
                    Rule::Closed => Value::Bool(false),
                    Rule::Condition(condition) => condition.clone(),
                };
                (name, value)
            })
            .collect();
        for (field, rule) in guarded {
            let what = format!("{} (field rule)", operation.key());
            if operation_rule.as_ref() == Some(&rule) {
                // The operation's own policy already asks exactly this of every row.
                self.decision(
                    Some(&field),
                    format!(
                        "{what}: the same condition as the {} rule: enforced by its policy",
                        operation.key()
                    ),
                );
                continue;
            }
            let Some(column) = self.column(&field) else {
                self.warning(
                    Some(&field),
                    format!("{what}: not enforced: the field has no column of its own (its values are in `_extra`)"),
                );
                continue;
            };
            if rule == Value::Bool(false) {
                let command = operation.command();
                match operation {
                    Operation::Create => closed.insert.push(column.clone()),
                    _ => closed.update.push(column.clone()),
                }
                let Roles {
                    anonymous,
                    signed_in,
                    ..
                } = self.roles;
                self.decision(
                    Some(&field),
                    format!("{what}: closed: {anonymous} and {signed_in} have no {command} privilege on column {column:?}"),
                );
                continue;
            }
            let condition = self.condition(&what, Some(&field), &rule);
            let quoted = quote_identifier(&column);
            let rule_sql = render(condition.positive);
            let check = match operation {
                Operation::Create => format!("({quoted} IS NULL OR {rule_sql})"),
                // The stored value is read with the caller's privileges: a column the caller
                // may not read cannot be compared, so every update must satisfy the rule.
                _ if closed.select.contains(&column) => format!("({rule_sql})"),
                _ => {
                    let function = self.stored_function(&column);
                    format!(
                        "(to_jsonb({quoted}) IS NOT DISTINCT FROM {function}({id}) OR {rule_sql})",
                        id = quote_identifier(&self.id_column())
                    )
                }
            };
            let change = match operation {
                Operation::Create => "a value given on create",
                _ => "a changed value",
            };
            self.decision(
                Some(&field),
                format!(
                    "{what}: enforced in the {} policy's WITH CHECK: {change} must satisfy the field's rule",
                    operation.command()
                ),
            );
            checks.push(check);
        }
        checks
    }

    /// Field rules of reads: closed ones become column privileges; a condition depends on
    /// the row, which a column privilege cannot, so it is reported as not enforced.
    fn read_field_rules(&mut self, closed: &mut ClosedColumns) {
        let guarded: Vec<(String, bool)> = self
            .rules
            .guarded_fields(Operation::Read)
            .into_iter()
            .map(|(name, rule)| (name.to_owned(), rule == Rule::Closed))
            .collect();
        let Roles {
            anonymous,
            signed_in,
            ..
        } = self.roles;
        for (field, is_closed) in guarded {
            match (self.column(&field), is_closed) {
                (Some(column), true) => {
                    self.decision(
                        Some(&field),
                        format!("read (field rule): closed: {anonymous} and {signed_in} have no SELECT privilege on column {column:?} (name the columns a query reads: `SELECT *` is refused)"),
                    );
                    closed.select.push(column);
                }
                (None, true) => self.warning(
                    Some(&field),
                    "read (field rule): not enforced: the field has no column of its own (its values are in `_extra`)",
                ),
                (_, false) => self.warning(
                    Some(&field),
                    "read (field rule): not enforced: a condition on the record cannot be a column privilege (a view or the serving layer must hide the field)",
                ),
            }
        }
    }

    /// The column of `field`, if it has one.
    fn column(&self, field: &str) -> Option<String> {
        self.table
            .columns
            .iter()
            .find(|column| {
                column.field.as_deref() == Some(field) && column.source != ColumnSource::Extra
            })
            .map(|column| column.name.clone())
    }

    fn id_column(&self) -> String {
        self.column("id").unwrap_or_else(|| "id".to_owned())
    }

    /// `offbase_stored_<table>_<column>(id)`: the stored value of a column as jsonb, read with
    /// the caller's privileges and policies (it reveals nothing the caller cannot read), for
    /// `WITH CHECK` to tell a changed value from the stored one. Returns the function's name,
    /// quoted.
    fn stored_function(&mut self, column: &str) -> String {
        // The hash keeps `a_b`.`c` and `a`.`b_c` apart; the names keep it readable.
        let name = offbase_model::names::with_suffix(
            &format!("offbase_stored_{}_{}", self.table.name, column),
            &format!(
                "_{}",
                offbase_model::names::short_hash(&format!("{}\u{0}{column}", self.table.name))
            ),
        );
        let quoted = quote_identifier(&name);
        let body = format!(
            "SELECT to_jsonb({column}) FROM {table} WHERE {id} = $1",
            column = quote_identifier(column),
            table = quote_identifier(&self.table.name),
            id = quote_identifier(&self.id_column()),
        );
        let statement = format!(
            "CREATE OR REPLACE FUNCTION {quoted}(text) RETURNS jsonb LANGUAGE sql STABLE SET search_path FROM CURRENT AS {}",
            dollar_quoted(&body)
        );
        if !self.stored.contains(&statement) {
            self.stored.push(statement);
        }
        quoted
    }
}

/// The policy condition with the field checks after it.
fn with_checks(condition: String, checks: &[String]) -> String {
    if checks.is_empty() {
        return condition;
    }
    let mut parts = vec![format!("({condition})")];
    parts.extend(checks.iter().cloned());
    parts.join(" AND ")
}

/// The declared rule of `operation` in `rls` (a specific key before `write`), with `, from
/// write` when it came from `write`.
fn declared_rule(rls: &Rls, operation: Operation) -> Option<(RlsRule, &'static str)> {
    let specific = match operation {
        Operation::Read => &rls.read,
        Operation::Create => &rls.create,
        Operation::Update => &rls.update,
        Operation::Delete => &rls.delete,
    };
    match (specific, operation) {
        (Some(rule), _) => Some((rule.clone(), "")),
        (None, Operation::Read) => None,
        (None, _) => rls.write.clone().map(|rule| (rule, ", from `write`")),
    }
}

/// A string as an SQL literal, escaped by sea-query.
pub(crate) fn string_literal(text: &str) -> String {
    render(Expr::val(text.to_owned()))
}

/// An expression as SQL text.
pub(crate) fn render(expression: Expr) -> String {
    let sql = Query::select()
        .expr(expression)
        .to_string(PostgresQueryBuilder);
    sql.strip_prefix("SELECT ").unwrap_or(&sql).to_owned()
}

/// A function body between dollar quotes whose tag the body does not hold (a literal in a
/// rule could hold `$offbase$`).
pub(crate) fn dollar_quoted(body: &str) -> String {
    let mut tag = "$offbase$".to_owned();
    let mut counter = 1;
    while body.contains(&tag) {
        tag = format!("$offbase_{counter}$");
        counter += 1;
    }
    format!("{tag}{body}{tag}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_holding_the_tag_gets_another_tag() {
        assert_eq!(dollar_quoted("SELECT 1"), "$offbase$SELECT 1$offbase$");
        assert_eq!(
            dollar_quoted("SELECT '$offbase$'"),
            "$offbase_1$SELECT '$offbase$'$offbase_1$"
        );
    }
}
