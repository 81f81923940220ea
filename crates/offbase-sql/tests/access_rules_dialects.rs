//! The two dialects of the access-rules section on a hand-built app (a `User` and a `Note`
//! read by its author's email or an admin): Supabase's (`--rls supabase`) has the same
//! policies as offbase's own, other roles, and a prelude that reads the request's user from
//! Supabase's JWT claims; `--rls off` has no section. Without any database: the statements
//! run against PostgreSQL in `tests/access_rules_supabase.rs`.

use offbase_base44::platform::add_platform_entities;
use offbase_model::{
    App, Entity, Field, FieldKind, MappingRules, Rls, RlsRule, SchemaSource, SourceLayout,
};
use offbase_sql::rls::{Roles, USER_EMAIL_FUNCTION, USER_ID_FUNCTION, USER_ROLE_FUNCTION};
use offbase_sql::{AccessRules, RlsMode, access_rules, plan};
use serde_json::json;

fn app() -> App {
    let note = Entity {
        name: "Note".to_owned(),
        source: SchemaSource {
            path: "base44/entities/Note.jsonc".to_owned(),
            layout: SourceLayout::Base44Entities,
        },
        title: None,
        description: None,
        fields: vec![Field::new("text", FieldKind::String)],
        rls: Some(Rls {
            read: Some(RlsRule::Condition(json!({"$or": [
                {"created_by": "{{user.email}}"},
                {"user_condition": {"role": "admin"}}
            ]}))),
            write: Some(RlsRule::Condition(json!({"created_by_id": "{{user.id}}"}))),
            ..Rls::default()
        }),
        extra: Default::default(),
    };
    let mut app = App {
        name: "dialects".to_owned(),
        app_id: None,
        entities: vec![note],
    };
    add_platform_entities(&mut app);
    app
}

fn translated(mode: RlsMode) -> AccessRules {
    let app = app();
    let rules = MappingRules::defaults().unwrap_or_else(|error| panic!("{error}"));
    let target = plan(&app, &rules).unwrap_or_else(|error| panic!("{error}"));
    access_rules(&app, &target, &rules, mode)
}

/// The statement that starts with `prefix`.
fn statement<'a>(access: &'a AccessRules, prefix: &str) -> &'a str {
    access
        .statements
        .iter()
        .find(|sql| sql.starts_with(prefix))
        .map(String::as_str)
        .unwrap_or_else(|| {
            panic!(
                "no statement starts with {prefix}: {:#?}",
                access.statements
            )
        })
}

fn function(access: &AccessRules, name: &str) -> String {
    statement(access, &format!("CREATE OR REPLACE FUNCTION \"{name}\"")).to_owned()
}

#[test]
fn supabase_has_the_same_policies_for_supabases_roles() {
    let on = translated(RlsMode::On);
    let supabase = translated(RlsMode::Supabase);
    assert!(supabase.enforced());
    assert_eq!(
        RlsMode::Supabase.roles(),
        Roles {
            anonymous: "anon",
            signed_in: "authenticated",
            service: "service_role",
        }
    );
    // The same rules, operations and clauses: only the roles and the prelude differ.
    assert_eq!(on.tables, supabase.tables);
    assert_eq!(on.sub_queries, supabase.sub_queries);
    let policies = |access: &AccessRules, roles: &str| -> Vec<String> {
        access
            .statements
            .iter()
            .filter(|sql| sql.starts_with("CREATE POLICY"))
            .map(|sql| sql.replace(roles, "ROLES"))
            .collect()
    };
    let on_policies = policies(&on, "TO \"offbase_anon\", \"offbase_user\"");
    assert_eq!(on_policies.len(), 8, "{on_policies:#?}");
    assert_eq!(
        on_policies,
        policies(&supabase, "TO \"anon\", \"authenticated\"")
    );
    let note = statement(&supabase, "REVOKE ALL ON \"note\"");
    assert_eq!(
        note,
        "REVOKE ALL ON \"note\" FROM \"anon\", \"authenticated\", \"service_role\""
    );
    statement(
        &supabase,
        "GRANT SELECT, INSERT, UPDATE, DELETE ON \"note\" TO \"service_role\"",
    );
    statement(
        &supabase,
        "GRANT SELECT, INSERT, UPDATE, DELETE ON \"note\" TO \"anon\", \"authenticated\"",
    );
    // No statement of the Supabase section names offbase's roles or settings.
    for sql in &supabase.statements {
        for word in [
            "offbase_anon",
            "\"offbase_user\"",
            "offbase_service",
            "app.user_",
        ] {
            assert!(!sql.contains(word), "{word} in {sql}");
        }
    }
    assert_eq!(on.notes.len(), supabase.notes.len());
    for note in &supabase.notes {
        assert!(!note.message.contains("offbase_"), "{}", note.message);
    }
}

#[test]
fn the_supabase_prelude_checks_for_supabase_and_reads_the_jwt_claims() {
    let supabase = translated(RlsMode::Supabase);
    let roles = &supabase.statements[0];
    assert!(roles.starts_with("DO $offbase$BEGIN\n  IF pg_catalog.to_regprocedure('auth.jwt()') IS NULL THEN\n    RAISE EXCEPTION 'offbase: the target is not a Supabase database: auth.jwt() is missing; use --rls on'"), "{roles}");
    for role in ["anon", "authenticated"] {
        assert!(
            roles.contains(&format!("CREATE ROLE \"{role}\" NOLOGIN;")),
            "{roles}"
        );
    }
    assert!(roles.contains("CREATE ROLE \"service_role\" NOLOGIN BYPASSRLS;"));
    // The check comes before any role is created: a plain PostgreSQL is left untouched.
    assert!(roles.find("auth.jwt()") < roles.find("CREATE ROLE"));
    assert!(
        supabase.statements[1]
            .contains("GRANT USAGE ON SCHEMA %I TO \"anon\", \"authenticated\", \"service_role\""),
        "{}",
        supabase.statements[1]
    );
    // offbase calls Supabase's auth.jwt(), never defines it.
    assert!(
        supabase
            .statements
            .iter()
            .all(|sql| !sql.contains("FUNCTION auth.") && !sql.contains("FUNCTION \"auth\"")),
    );
    assert_eq!(
        function(&supabase, USER_EMAIL_FUNCTION),
        "CREATE OR REPLACE FUNCTION \"offbase_user_email\"() RETURNS text LANGUAGE sql STABLE PARALLEL SAFE AS $offbase$SELECT CASE WHEN NULLIF(claims ->> 'sub', '') IS NOT NULL THEN NULLIF(claims ->> 'email', '') END FROM (SELECT auth.jwt() AS claims) AS token$offbase$"
    );
    assert_eq!(
        function(&supabase, USER_ROLE_FUNCTION),
        "CREATE OR REPLACE FUNCTION \"offbase_user_role\"() RETURNS text LANGUAGE sql STABLE PARALLEL SAFE AS $offbase$SELECT CASE WHEN NULLIF(claims ->> 'sub', '') IS NOT NULL THEN NULLIF(claims -> 'app_metadata' ->> 'role', '') END FROM (SELECT auth.jwt() AS claims) AS token$offbase$"
    );
    assert_eq!(
        function(&supabase, USER_ID_FUNCTION),
        "CREATE OR REPLACE FUNCTION \"offbase_user_id\"() RETURNS text LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY DEFINER SET search_path FROM CURRENT AS $offbase$#variable_conflict use_variable
DECLARE
  claims jsonb := auth.jwt();
  subject text := NULLIF(claims ->> 'sub', '');
  user_id text;
BEGIN
  IF subject IS NULL THEN
    RETURN NULL;
  END IF;
  SELECT \"user_row\".\"id\" INTO user_id FROM \"user\" AS \"user_row\" WHERE \"user_row\".\"id\" = subject;
  IF user_id IS NOT NULL THEN
    RETURN user_id;
  END IF;
  user_id := NULLIF(claims #>> '{app_metadata,base44,id}', '');
  IF user_id IS NOT NULL THEN
    RETURN user_id;
  END IF;
  IF pg_catalog.to_regclass('\"offbase\".\"user_map\"') IS NOT NULL THEN
    SELECT \"map\".base44_id INTO user_id FROM \"offbase\".\"user_map\" AS \"map\" WHERE \"map\".pg_schema = pg_catalog.current_schema() AND \"map\".provider = 'supabase' AND \"map\".new_id = subject;
    IF user_id IS NOT NULL THEN
      RETURN user_id;
    END IF;
  END IF;
  RETURN subject;
END
$offbase$"
    );
    // offbase_user_data is the same in both dialects: it reads the row of offbase_user_id().
    let on = translated(RlsMode::On);
    assert_eq!(
        function(&supabase, "offbase_user_data"),
        function(&on, "offbase_user_data")
    );
}

#[test]
fn offbases_own_dialect_reads_the_session_settings() {
    let on = translated(RlsMode::On);
    assert!(!on.statements[0].contains("auth.jwt"));
    assert_eq!(
        function(&on, USER_ID_FUNCTION),
        "CREATE OR REPLACE FUNCTION \"offbase_user_id\"() RETURNS text LANGUAGE sql STABLE PARALLEL SAFE AS $offbase$SELECT NULLIF(pg_catalog.current_setting('app.user_id', true), '')$offbase$"
    );
    assert!(translated(RlsMode::Off).statements.is_empty());
}

#[test]
fn the_mode_is_recorded_as_the_command_line_spells_it() {
    for (mode, word) in [
        (RlsMode::On, "on"),
        (RlsMode::Off, "off"),
        (RlsMode::Supabase, "supabase"),
    ] {
        assert_eq!(
            serde_json::from_value::<RlsMode>(json!(word)).ok(),
            Some(mode)
        );
        assert_eq!(
            serde_json::to_value(mode).unwrap_or_default(),
            json!(word),
            "recorded with the load as the switch is spelled"
        );
    }
}
