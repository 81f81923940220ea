//! The statements of the `access-rules` section: the roles, the schema's usage and the
//! functions every policy reads the request's user through (the prelude), then each table's
//! privileges and policies. Every statement can run again (roles created where missing,
//! functions replaced, privileges revoked then granted, policies dropped then created), so a
//! load that stops after the section and runs again applies it again without error.

use super::{
    ANONYMOUS_ROLE, ClosedColumns, Operation, PolicyOperation, SERVICE_ROLE, SIGNED_IN_ROLE,
    USER_DATA_FUNCTION, USER_EMAIL_FUNCTION, USER_EMAIL_SETTING, USER_ID_FUNCTION, USER_ID_SETTING,
    USER_ROLE_FUNCTION, USER_ROLE_SETTING, dollar_quoted, quote_identifier,
};
use offbase_model::{ColumnSource, Table};

/// One table's policy for one operation.
pub(super) struct Policy {
    pub operation: Operation,
    /// `USING (...)` and/or `WITH CHECK (...)`.
    pub clauses: String,
}

/// The roles policies apply to: every request but the service role's.
fn request_roles() -> String {
    format!(
        "{}, {}",
        quote_identifier(ANONYMOUS_ROLE),
        quote_identifier(SIGNED_IN_ROLE)
    )
}

fn all_roles() -> String {
    format!("{}, {}", request_roles(), quote_identifier(SERVICE_ROLE))
}

/// A string as an SQL literal: the fixed names here, and the field names of the user function.
fn text_literal(text: &str) -> String {
    super::string_literal(text)
}

/// Roles, schema usage and the user functions, before any table's policies.
pub(super) fn prelude(user_table: Option<&Table>) -> Vec<String> {
    let mut statements = vec![roles(), schema_usage()];
    let user_id = format!(
        "NULLIF(pg_catalog.current_setting({}, true), '')",
        text_literal(USER_ID_SETTING)
    );
    statements.push(session_function(USER_ID_FUNCTION, &user_id));
    for (function, setting) in [
        (USER_EMAIL_FUNCTION, USER_EMAIL_SETTING),
        (USER_ROLE_FUNCTION, USER_ROLE_SETTING),
    ] {
        // Only a signed-in user has an email or a role: a role setting left over without a
        // user id never passes a rule.
        let value = format!(
            "CASE WHEN {user_id} IS NOT NULL THEN NULLIF(pg_catalog.current_setting({}, true), '') END",
            text_literal(setting)
        );
        statements.push(session_function(function, &value));
    }
    if let Some(table) = user_table {
        statements.push(user_data_function(table));
    }
    statements
}

/// Creates each role where the cluster lacks it. Roles are cluster-wide: several schemas (and
/// loads running at once) share them, so a role another session created meanwhile is fine.
fn roles() -> String {
    let mut body = String::from("BEGIN\n");
    for (role, attributes) in [
        (ANONYMOUS_ROLE, "NOLOGIN"),
        (SIGNED_IN_ROLE, "NOLOGIN"),
        (SERVICE_ROLE, "NOLOGIN BYPASSRLS"),
    ] {
        body.push_str(&format!(
            "  IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = {literal}) THEN\n    BEGIN\n      CREATE ROLE {quoted} {attributes};\n    EXCEPTION\n      WHEN duplicate_object OR unique_violation THEN NULL;\n      WHEN insufficient_privilege THEN\n        RAISE EXCEPTION 'offbase: cannot create the role {role}: the migration user lacks CREATEROLE (BYPASSRLS needs a superuser)'\n          USING HINT = 'create the roles once as a superuser (docs/access-rules.md), or plan and load with --rls off';\n    END;\n  END IF;\n",
            literal = text_literal(role),
            quoted = quote_identifier(role),
        ));
    }
    body.push_str(&format!(
        "  IF NOT (SELECT rolbypassrls FROM pg_catalog.pg_roles WHERE rolname = {literal}) THEN\n    RAISE WARNING 'offbase: the role {role} exists without BYPASSRLS: backend code running as it is held to the rules';\n  END IF;\nEND\n",
        literal = text_literal(SERVICE_ROLE),
        role = SERVICE_ROLE,
    ));
    format!("DO {}", dollar_quoted(&body))
}

/// Pins the search path the functions below keep (`SET search_path FROM CURRENT`): the target
/// schema, then `pg_temp` last, so a temporary table cannot stand in for one of the app's
/// inside a `SECURITY DEFINER` function. Quiets the notices of `DROP POLICY IF EXISTS` on
/// a first run, for the rest of the transaction. Grants the roles the schema's usage.
fn schema_usage() -> String {
    let body = format!(
        "BEGIN\n  IF pg_catalog.current_schema() IS NULL THEN\n    RAISE EXCEPTION 'offbase: no schema of the search_path exists: set search_path to the target schema first';\n  END IF;\n  PERFORM pg_catalog.set_config('search_path', pg_catalog.format('%I, pg_temp', pg_catalog.current_schema()), true);\n  PERFORM pg_catalog.set_config('client_min_messages', 'warning', true);\n  EXECUTE pg_catalog.format('GRANT USAGE ON SCHEMA %I TO {}', pg_catalog.current_schema());\nEND\n",
        all_roles().replace('\'', "''")
    );
    format!("DO {}", dollar_quoted(&body))
}

/// A function of the session settings alone: `STABLE` (one value per statement) and
/// `PARALLEL SAFE`; it names only `pg_catalog`, so no search path matters.
fn session_function(name: &str, value: &str) -> String {
    format!(
        "CREATE OR REPLACE FUNCTION {}() RETURNS text LANGUAGE sql STABLE PARALLEL SAFE AS {}",
        quote_identifier(name),
        dollar_quoted(&format!("SELECT {value}"))
    )
}

/// `offbase_user_data(field)`: a field of the request's user's `User` row as jsonb (NULL when
/// anonymous, missing or JSON null). `SECURITY DEFINER`: it reads the row as the table's owner,
/// past the `User` table's own policies, and only the row of the user the session names.
fn user_data_function(table: &Table) -> String {
    let row = "\"user_row\"";
    let mut cases = String::new();
    let mut extra = "NULL".to_owned();
    for column in &table.columns {
        let qualified = format!("{row}.{}", quote_identifier(&column.name));
        match (&column.source, &column.field) {
            (ColumnSource::Extra, _) => extra = format!("{qualified} -> $1"),
            (ColumnSource::Junction, _) | (_, None) => {}
            (_, Some(field)) => cases.push_str(&format!(
                " WHEN {} THEN to_jsonb({qualified})",
                text_literal(field)
            )),
        }
    }
    let id = table
        .columns
        .iter()
        .find(|column| column.field.as_deref() == Some("id"))
        .map_or_else(|| "id".to_owned(), |column| column.name.clone());
    let body = format!(
        "SELECT NULLIF(CASE $1{cases} ELSE {extra} END, CAST('null' AS jsonb)) FROM {table} AS {row} WHERE {row}.{id} = {user_id}()",
        table = quote_identifier(&table.name),
        id = quote_identifier(&id),
        user_id = quote_identifier(USER_ID_FUNCTION),
    );
    format!(
        "CREATE OR REPLACE FUNCTION {}(text) RETURNS jsonb LANGUAGE sql STABLE SECURITY DEFINER SET search_path FROM CURRENT AS {}",
        quote_identifier(USER_DATA_FUNCTION),
        dollar_quoted(&body)
    )
}

/// Row level security on, privileges afresh, then one policy per operation.
pub(super) fn table(table: &Table, closed: &ClosedColumns, policies: &[Policy]) -> Vec<String> {
    let name = quote_identifier(&table.name);
    let mut statements = vec![
        // ENABLE, not FORCE: the owner (the migration user, which loads and syncs with COPY,
        // refused under row security) is not held to the rules. See docs/access-rules.md.
        format!("ALTER TABLE {name} ENABLE ROW LEVEL SECURITY"),
        format!("REVOKE ALL ON {name} FROM {}", all_roles()),
        format!(
            "GRANT SELECT, INSERT, UPDATE, DELETE ON {name} TO {}",
            quote_identifier(SERVICE_ROLE)
        ),
    ];
    let roles = request_roles();
    if closed.select.is_empty() && closed.insert.is_empty() && closed.update.is_empty() {
        statements.push(format!(
            "GRANT SELECT, INSERT, UPDATE, DELETE ON {name} TO {roles}"
        ));
    } else {
        for (command, excluded) in [
            ("SELECT", &closed.select),
            ("INSERT", &closed.insert),
            ("UPDATE", &closed.update),
        ] {
            if excluded.is_empty() {
                statements.push(format!("GRANT {command} ON {name} TO {roles}"));
                continue;
            }
            let columns: Vec<String> = table
                .columns
                .iter()
                .filter(|column| !excluded.contains(&column.name))
                .map(|column| quote_identifier(&column.name))
                .collect();
            if !columns.is_empty() {
                statements.push(format!(
                    "GRANT {command} ({}) ON {name} TO {roles}",
                    columns.join(", ")
                ));
            }
        }
        statements.push(format!("GRANT DELETE ON {name} TO {roles}"));
    }
    for policy in policies {
        let policy_name = quote_identifier(&policy.operation.policy_name());
        statements.push(format!("DROP POLICY IF EXISTS {policy_name} ON {name}"));
        statements.push(format!(
            "CREATE POLICY {policy_name} ON {name} AS PERMISSIVE FOR {} TO {roles} {}",
            policy.operation.command(),
            policy.clauses
        ));
    }
    statements
}

/// A junction table: readable where its owner's row is (the owner's read policy applies to
/// the sub-select), written only by the owner of the tables (the load and the sync keep it in
/// step with the owner's array) and the service role.
pub(super) fn junction(table: &Table, owner: Option<&Table>) -> Vec<String> {
    let name = quote_identifier(&table.name);
    let roles = request_roles();
    let visible = match (owner, table.primary_key.first()) {
        (Some(owner), Some(source)) => {
            let id = owner
                .columns
                .iter()
                .find(|column| column.field.as_deref() == Some("id"))
                .map_or_else(|| "id".to_owned(), |column| column.name.clone());
            format!(
                "{} IN (SELECT {} FROM {})",
                quote_identifier(source),
                quote_identifier(&id),
                quote_identifier(&owner.name)
            )
        }
        _ => "FALSE".to_owned(),
    };
    let policy_name = quote_identifier(&Operation::Read.policy_name());
    vec![
        format!("ALTER TABLE {name} ENABLE ROW LEVEL SECURITY"),
        format!("REVOKE ALL ON {name} FROM {}", all_roles()),
        format!(
            "GRANT SELECT, INSERT, UPDATE, DELETE ON {name} TO {}",
            quote_identifier(SERVICE_ROLE)
        ),
        format!("GRANT SELECT ON {name} TO {roles}"),
        format!("DROP POLICY IF EXISTS {policy_name} ON {name}"),
        format!(
            "CREATE POLICY {policy_name} ON {name} AS PERMISSIVE FOR SELECT TO {roles} USING ({visible})"
        ),
    ]
}
