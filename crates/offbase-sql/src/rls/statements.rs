//! The statements of the `access-rules` section: the roles, the schema's usage and the
//! functions every policy reads the request's user through (the prelude), then each table's
//! privileges and policies. Every statement can run again (roles created where missing,
//! functions replaced, privileges revoked then granted, policies dropped then created), so a
//! load that stops after the section and runs again applies it again without error.
//!
//! The dialects differ in the roles every statement names and in the prelude: offbase's reads
//! the user from `app.*` session settings, Supabase's from the JWT claims `auth.jwt()` gives.

use super::{
    ClosedColumns, Operation, PolicyOperation, RlsMode, Roles, SUPABASE_CLAIMS_FUNCTION,
    SUPABASE_PROVIDER, USER_DATA_FUNCTION, USER_EMAIL_FUNCTION, USER_EMAIL_SETTING,
    USER_ID_FUNCTION, USER_ID_SETTING, USER_MAP_SCHEMA, USER_MAP_TABLE, USER_ROLE_FUNCTION,
    USER_ROLE_SETTING, dollar_quoted, quote_identifier,
};
use offbase_model::{ColumnSource, Table};

/// One table's policy for one operation.
pub(super) struct Policy {
    pub operation: Operation,
    /// `USING (...)` and/or `WITH CHECK (...)`.
    pub clauses: String,
}

/// The roles policies apply to: every request but the service role's.
fn request_roles(roles: Roles) -> String {
    format!(
        "{}, {}",
        quote_identifier(roles.anonymous),
        quote_identifier(roles.signed_in)
    )
}

fn all_roles(roles: Roles) -> String {
    format!(
        "{}, {}",
        request_roles(roles),
        quote_identifier(roles.service)
    )
}

/// A string as an SQL literal: the fixed names here, and the field names of the user function.
fn text_literal(text: &str) -> String {
    super::string_literal(text)
}

/// Roles, schema usage and the user functions, before any table's policies, in `mode`'s
/// dialect.
pub(super) fn prelude(mode: RlsMode, user_table: Option<&Table>) -> Vec<String> {
    let roles = mode.roles();
    let (check, functions) = match mode {
        RlsMode::Supabase => (Some(supabase_check()), supabase_functions(user_table)),
        RlsMode::On | RlsMode::Off => (None, setting_functions()),
    };
    let mut statements = vec![roles_statement(roles, check), schema_usage(roles)];
    statements.extend(functions);
    if let Some(table) = user_table {
        statements.push(user_data_function(table));
    }
    statements
}

/// The functions of offbase's dialect: the user is what the serving code sets in `app.*`.
fn setting_functions() -> Vec<String> {
    let user_id = format!(
        "NULLIF(pg_catalog.current_setting({}, true), '')",
        text_literal(USER_ID_SETTING)
    );
    let mut statements = vec![session_function(USER_ID_FUNCTION, &user_id)];
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
    statements
}

/// Creates each role where the cluster lacks it, after `check` (a PL/pgSQL statement that
/// refuses a target the dialect does not fit). Roles are cluster-wide: several schemas (and
/// loads running at once) share them, so a role another session created meanwhile is fine.
fn roles_statement(roles: Roles, check: Option<String>) -> String {
    let mut body = String::from("BEGIN\n");
    if let Some(check) = check {
        body.push_str(&check);
    }
    for (role, attributes) in [
        (roles.anonymous, "NOLOGIN"),
        (roles.signed_in, "NOLOGIN"),
        (roles.service, "NOLOGIN BYPASSRLS"),
    ] {
        body.push_str(&format!(
            "  IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = {literal}) THEN\n    BEGIN\n      CREATE ROLE {quoted} {attributes};\n    EXCEPTION\n      WHEN duplicate_object OR unique_violation THEN NULL;\n      WHEN insufficient_privilege THEN\n        RAISE EXCEPTION 'offbase: cannot create the role {role}: the migration user lacks CREATEROLE (BYPASSRLS needs a superuser)'\n          USING HINT = 'create the roles once as a superuser (docs/access-rules.md), or plan and load with --rls off';\n    END;\n  END IF;\n",
            literal = text_literal(role),
            quoted = quote_identifier(role),
        ));
    }
    body.push_str(&format!(
        "  IF NOT (SELECT rolbypassrls FROM pg_catalog.pg_roles WHERE rolname = {literal}) THEN\n    RAISE WARNING 'offbase: the role {role} exists without BYPASSRLS: backend code running as it is held to the rules';\n  END IF;\nEND\n",
        literal = text_literal(roles.service),
        role = roles.service,
    ));
    format!("DO {}", dollar_quoted(&body))
}

/// Refuses a database without Supabase's `auth.jwt()`: the user functions read the request's
/// user from it, and defining it here would pass for Supabase a database that is not (its
/// claims would be whatever a session sets).
fn supabase_check() -> String {
    format!(
        "  IF pg_catalog.to_regprocedure({function}) IS NULL THEN\n    RAISE EXCEPTION 'offbase: the target is not a Supabase database: {name} is missing; use --rls on'\n      USING HINT = 'Supabase defines {name} in every project; offbase never defines it (docs/access-rules.md)';\n  END IF;\n",
        function = text_literal(SUPABASE_CLAIMS_FUNCTION),
        name = SUPABASE_CLAIMS_FUNCTION,
    )
}

/// [`supabase_check`] alone, as a statement.
pub(super) fn supabase_check_statement() -> String {
    format!(
        "DO {}",
        dollar_quoted(&format!("BEGIN\n{}END\n", supabase_check()))
    )
}

/// Pins the search path the functions below keep (`SET search_path FROM CURRENT`): the target
/// schema, then `pg_temp` last, so a temporary table cannot stand in for one of the app's
/// inside a `SECURITY DEFINER` function. Quiets the notices of `DROP POLICY IF EXISTS` on
/// a first run, for the rest of the transaction. Grants the roles the schema's usage.
fn schema_usage(roles: Roles) -> String {
    let body = format!(
        "BEGIN\n  IF pg_catalog.current_schema() IS NULL THEN\n    RAISE EXCEPTION 'offbase: no schema of the search_path exists: set search_path to the target schema first';\n  END IF;\n  PERFORM pg_catalog.set_config('search_path', pg_catalog.format('%I, pg_temp', pg_catalog.current_schema()), true);\n  PERFORM pg_catalog.set_config('client_min_messages', 'warning', true);\n  EXECUTE pg_catalog.format('GRANT USAGE ON SCHEMA %I TO {}', pg_catalog.current_schema());\nEND\n",
        all_roles(roles).replace('\'', "''")
    );
    format!("DO {}", dollar_quoted(&body))
}

/// The functions of Supabase's dialect: the user is the one whose JWT the request carries
/// (`auth.jwt()`, which PostgREST fills from the verified token). No `sub` claim: anonymous.
/// Email and role are claims; the id is the user's id as the loaded tables hold it
/// ([`supabase_user_id_function`]).
fn supabase_functions(user_table: Option<&Table>) -> Vec<String> {
    let mut statements = vec![supabase_user_id_function(user_table)];
    for (function, claim) in [
        (USER_EMAIL_FUNCTION, "claims ->> 'email'"),
        // `app_metadata`, which only the service role can change, not `user_metadata`, which
        // the user can: `users export --format supabase` writes the Base44 role there. The
        // top-level `role` claim is the database role (`authenticated`), not the app's.
        (USER_ROLE_FUNCTION, "claims -> 'app_metadata' ->> 'role'"),
    ] {
        // Only a signed-in user (a `sub`) has an email or a role, as in offbase's dialect.
        let value = format!(
            "CASE WHEN NULLIF(claims ->> 'sub', '') IS NOT NULL THEN NULLIF({claim}, '') END FROM (SELECT {SUPABASE_CLAIMS_FUNCTION} AS claims) AS token"
        );
        statements.push(session_function(function, &value));
    }
    statements
}

/// `offbase_user_id()` of Supabase's dialect: the request's user id as the loaded tables hold
/// it. Supabase's ids (`sub`) are UUIDs the users export made, while the tables keep the
/// Base44 ids until the export's rewrite plan (`users/rewrite-plan.sql`) swaps them, so, for a
/// `sub`:
/// - `sub` itself when the `User` table holds a row with that id (after the rewrite);
/// - else the Base44 id the export wrote into the token (`app_metadata.base44.id`);
/// - else the Base44 id `offbase.user_map` maps `sub` to, for this schema (a token issued
///   without that claim);
/// - else `sub`: a user the platform never had, whose rows the app writes with that id.
///
/// `SECURITY DEFINER` (it reads the `User` table past its policies, which call this function,
/// and the map, which the roles cannot read) with the target schema's search path pinned.
/// PL/pgSQL, so that the map may be missing (no users export yet): an SQL function would not
/// be created over a missing table. Columns are always qualified, and `use_variable` makes the
/// variables win over a column of the same name.
fn supabase_user_id_function(user_table: Option<&Table>) -> String {
    let mut body = format!(
        "#variable_conflict use_variable\nDECLARE\n  claims jsonb := {SUPABASE_CLAIMS_FUNCTION};\n  subject text := NULLIF(claims ->> 'sub', '');\n  user_id text;\nBEGIN\n  IF subject IS NULL THEN\n    RETURN NULL;\n  END IF;\n"
    );
    if let Some(table) = user_table {
        let row = "\"user_row\"";
        body.push_str(&format!(
            "  SELECT {row}.{id} INTO user_id FROM {table} AS {row} WHERE {row}.{id} = subject;\n  IF user_id IS NOT NULL THEN\n    RETURN user_id;\n  END IF;\n",
            id = quote_identifier(&id_column(table)),
            table = quote_identifier(&table.name),
        ));
    }
    let map = format!(
        "{}.{}",
        quote_identifier(USER_MAP_SCHEMA),
        quote_identifier(USER_MAP_TABLE)
    );
    body.push_str(&format!(
        "  user_id := NULLIF(claims #>> '{{app_metadata,base44,id}}', '');\n  IF user_id IS NOT NULL THEN\n    RETURN user_id;\n  END IF;\n  IF pg_catalog.to_regclass({map_literal}) IS NOT NULL THEN\n    SELECT \"map\".base44_id INTO user_id FROM {map} AS \"map\" WHERE \"map\".pg_schema = pg_catalog.current_schema() AND \"map\".provider = {provider} AND \"map\".new_id = subject;\n    IF user_id IS NOT NULL THEN\n      RETURN user_id;\n    END IF;\n  END IF;\n  RETURN subject;\nEND\n",
        map_literal = text_literal(&map),
        provider = text_literal(SUPABASE_PROVIDER),
    ));
    format!(
        "CREATE OR REPLACE FUNCTION {}() RETURNS text LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY DEFINER SET search_path FROM CURRENT AS {}",
        quote_identifier(USER_ID_FUNCTION),
        dollar_quoted(&body)
    )
}

/// The column of a table's `id` field.
fn id_column(table: &Table) -> String {
    table
        .columns
        .iter()
        .find(|column| column.field.as_deref() == Some("id"))
        .map_or_else(|| "id".to_owned(), |column| column.name.clone())
}

/// A function of the session settings alone (`app.*`, or the claims Supabase's `auth.jwt()`
/// reads from its settings): `STABLE` (one value per statement) and `PARALLEL SAFE` (parallel
/// workers share the leader's settings); it names only `pg_catalog` and schema-qualified
/// functions, so no search path matters.
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
    let id = id_column(table);
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
pub(super) fn table(
    roles: Roles,
    table: &Table,
    closed: &ClosedColumns,
    policies: &[Policy],
) -> Vec<String> {
    let name = quote_identifier(&table.name);
    let mut statements = vec![
        // ENABLE, not FORCE: the owner (the migration user, which loads and syncs with COPY,
        // refused under row security) is not held to the rules. See docs/access-rules.md.
        format!("ALTER TABLE {name} ENABLE ROW LEVEL SECURITY"),
        format!("REVOKE ALL ON {name} FROM {}", all_roles(roles)),
        format!(
            "GRANT SELECT, INSERT, UPDATE, DELETE ON {name} TO {}",
            quote_identifier(roles.service)
        ),
    ];
    let request = request_roles(roles);
    if closed.select.is_empty() && closed.insert.is_empty() && closed.update.is_empty() {
        statements.push(format!(
            "GRANT SELECT, INSERT, UPDATE, DELETE ON {name} TO {request}"
        ));
    } else {
        for (command, excluded) in [
            ("SELECT", &closed.select),
            ("INSERT", &closed.insert),
            ("UPDATE", &closed.update),
        ] {
            if excluded.is_empty() {
                statements.push(format!("GRANT {command} ON {name} TO {request}"));
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
                    "GRANT {command} ({}) ON {name} TO {request}",
                    columns.join(", ")
                ));
            }
        }
        statements.push(format!("GRANT DELETE ON {name} TO {request}"));
    }
    for policy in policies {
        let policy_name = quote_identifier(&policy.operation.policy_name());
        statements.push(format!("DROP POLICY IF EXISTS {policy_name} ON {name}"));
        statements.push(format!(
            "CREATE POLICY {policy_name} ON {name} AS PERMISSIVE FOR {} TO {request} {}",
            policy.operation.command(),
            policy.clauses
        ));
    }
    statements
}

/// A junction table: readable where its owner's row is (the owner's read policy applies to
/// the sub-select), written only by the owner of the tables (the load and the sync keep it in
/// step with the owner's array) and the service role.
pub(super) fn junction(roles: Roles, table: &Table, owner: Option<&Table>) -> Vec<String> {
    let name = quote_identifier(&table.name);
    let request = request_roles(roles);
    let visible = match (owner, table.primary_key.first()) {
        (Some(owner), Some(source)) => format!(
            "{} IN (SELECT {} FROM {})",
            quote_identifier(source),
            quote_identifier(&id_column(owner)),
            quote_identifier(&owner.name)
        ),
        _ => "FALSE".to_owned(),
    };
    let policy_name = quote_identifier(&Operation::Read.policy_name());
    vec![
        format!("ALTER TABLE {name} ENABLE ROW LEVEL SECURITY"),
        format!("REVOKE ALL ON {name} FROM {}", all_roles(roles)),
        format!(
            "GRANT SELECT, INSERT, UPDATE, DELETE ON {name} TO {}",
            quote_identifier(roles.service)
        ),
        format!("GRANT SELECT ON {name} TO {request}"),
        format!("DROP POLICY IF EXISTS {policy_name} ON {name}"),
        format!(
            "CREATE POLICY {policy_name} ON {name} AS PERMISSIVE FOR SELECT TO {request} USING ({visible})"
        ),
    ]
}
