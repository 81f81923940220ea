//! The Supabase dialect of the access rules (`--rls supabase`) on the fixture app
//! `tests/fixtures/access-rules`, against a PostgreSQL that has the stand-ins a Supabase
//! database has (schema `auth`, `auth.jwt()` as Supabase defines it, the roles `anon`,
//! `authenticated` and `service_role`):
//! - the section's prelude as an insta snapshot; past the prelude, the section is offbase's own
//!   with Supabase's roles;
//! - loaded by `migrate` with the Supabase dialect, each request reads and writes exactly the
//!   rows the rules allow, its user taken from its JWT claims: a token carrying the Base44 id
//!   (`app_metadata.base44.id`, as `users export --format supabase` writes it), a token whose
//!   `sub` only `offbase.user_map` knows, a `sub` the `User` table holds (after the users
//!   export's rewrite plan), a `sub` nobody knows, a role claim without a `sub`, anonymous
//!   visitors and the service role; the expected rows are those of `tests/access_rules.rs`;
//! - a wrong user function planted in the section is caught by those same checks;
//! - `diff behaviour --as` asks PostgreSQL with the user's claims, and answers as the emulator;
//! - a database without `auth.jwt()` is refused, by the load before it copies anything and by
//!   the section itself (in a scratch database, so the shared `auth` stand-ins stay).
//!
//! One file: the tests share the fixture, its people, their tokens and the expected rows.

use offbase_pipeline::load::LoadOptions;
use offbase_pipeline::migrate::{Destination, MigrateOptions, MigrateSource, migrate};
use offbase_pipeline::plan::{PlanOutput, RlsMode, load_rules, plan_with_rls};
use offbase_pipeline::progress::{NoProgress, Reporter};
use offbase_pipeline::target::MappingFile;
use offbase_pipeline::workspace::Workspace;
use offbase_sql::Section;
use offbase_tests::{
    Outcome, TestSchema, database_url, read_rolled_back, repo_root, write_rolled_back,
};
use serde_json::{Value, json};
use sqlx::Connection;
use sqlx::postgres::PgConnection;
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;

fn fixture() -> PathBuf {
    repo_root().join("tests/fixtures/access-rules")
}

fn mapping() -> PathBuf {
    fixture().join("mapping.toml")
}

fn mapping_file() -> MappingFile {
    MappingFile::read(&mapping()).unwrap_or_else(|error| panic!("{error}"))
}

fn planned(mode: RlsMode) -> PlanOutput {
    let rules = load_rules(Some(&mapping())).unwrap_or_else(|error| panic!("{error}"));
    plan_with_rls(&fixture(), &rules, mode, &NoProgress).unwrap_or_else(|error| panic!("{error}"))
}

fn section(output: &PlanOutput) -> Vec<String> {
    output
        .sql
        .section(Section::AccessRules)
        .map(|statement| statement.sql.clone())
        .collect()
}

/// How many statements the prelude has: through `offbase_user_data`, the last function every
/// app with a `User` table gets.
fn prelude_length(statements: &[String]) -> usize {
    statements
        .iter()
        .position(|sql| sql.starts_with("CREATE OR REPLACE FUNCTION \"offbase_user_data\""))
        .map_or_else(|| panic!("no offbase_user_data"), |index| index + 1)
}

#[test]
fn the_supabase_section_is_offbases_with_supabases_roles_and_claims() {
    let supabase = planned(RlsMode::Supabase);
    assert_eq!(supabase.plan_file, planned(RlsMode::Supabase).plan_file);
    let statements = section(&supabase);
    let length = prelude_length(&statements);
    insta::assert_snapshot!(
        "access_rules_supabase_prelude",
        statements[..length].join(";\n\n")
    );
    // Past the prelude, the same statements as offbase's dialect, for Supabase's roles.
    let on = section(&planned(RlsMode::On));
    let on_length = prelude_length(&on);
    assert_eq!(on.len() - on_length, statements.len() - length);
    for (ours, theirs) in on[on_length..].iter().zip(&statements[length..]) {
        let renamed = ours
            .replace("\"offbase_anon\"", "\"anon\"")
            .replace("\"offbase_user\"", "\"authenticated\"")
            .replace("\"offbase_service\"", "\"service_role\"");
        assert_eq!(&renamed, theirs);
    }
    assert!(
        supabase
            .report
            .contains("- Dialect: Supabase (`--rls supabase`)"),
        "{}",
        supabase.report
    );
    assert!(
        supabase
            .plan_file
            .contains("-- Run last, on a Supabase database")
    );
}

// ---------------------------------------------------------------------------------------------
// Against PostgreSQL
// ---------------------------------------------------------------------------------------------

/// The advisory lock the stand-ins are made under: `auth` and the roles are shared by every
/// test of the database (the roles by the cluster), and `CREATE ... IF NOT EXISTS` races with
/// itself.
const STAND_INS_LOCK: i64 = 4_404_400_045;

/// What a Supabase database has and a plain PostgreSQL lacks, as Supabase defines it: schema
/// `auth`, `auth.jwt()` (the claims PostgREST puts in `request.jwt.claims`), and the roles
/// `anon`, `authenticated`, `service_role` (BYPASSRLS), which may use `auth`. Made where
/// missing; never dropped (other tests may be using them).
async fn supabase_stand_ins(connection: &mut PgConnection) {
    let sql = format!(
        "BEGIN;
SELECT pg_advisory_xact_lock({STAND_INS_LOCK});
CREATE SCHEMA IF NOT EXISTS auth;
DO $stand_ins$
BEGIN
  IF pg_catalog.to_regprocedure('auth.jwt()') IS NULL THEN
    CREATE FUNCTION auth.jwt() RETURNS jsonb LANGUAGE sql STABLE AS $jwt$
      SELECT coalesce(
        nullif(current_setting('request.jwt.claim', true), ''),
        nullif(current_setting('request.jwt.claims', true), '')
      )::jsonb
    $jwt$;
  END IF;
  IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'anon') THEN
    BEGIN
      CREATE ROLE anon NOLOGIN NOINHERIT;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
    END;
  END IF;
  IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'authenticated') THEN
    BEGIN
      CREATE ROLE authenticated NOLOGIN NOINHERIT;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
    END;
  END IF;
  IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'service_role') THEN
    BEGIN
      CREATE ROLE service_role NOLOGIN NOINHERIT BYPASSRLS;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
    END;
  END IF;
END
$stand_ins$;
GRANT USAGE ON SCHEMA auth TO anon, authenticated, service_role;
COMMIT;"
    );
    if let Err(error) = sqlx::raw_sql(&sql).execute(&mut *connection).await {
        panic!("the Supabase stand-ins: {error}");
    }
}

/// A user of the fixture (`data/User.jsonl`) and the UUID Supabase knows them by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Person {
    id: &'static str,
    email: &'static str,
    role: &'static str,
    uuid: &'static str,
}

const ALICE: Person = Person {
    id: "u_alice",
    email: "alice@example.com",
    role: "user",
    uuid: "0b6f7a52-1d1e-5c3a-9a51-000000a11ce0",
};
const BOB: Person = Person {
    id: "u_bob",
    email: "bob@example.com",
    role: "user",
    uuid: "0b6f7a52-1d1e-5c3a-9a51-000000000b0b",
};
const CAROL: Person = Person {
    id: "u_carol",
    email: "carol@example.com",
    role: "admin",
    uuid: "0b6f7a52-1d1e-5c3a-9a51-0000000ca201",
};
const DAVE: Person = Person {
    id: "u_dave",
    email: "dave@example.com",
    role: "owner",
    uuid: "0b6f7a52-1d1e-5c3a-9a51-00000000da7e",
};
/// Signed in to Supabase, unknown to the platform: no row, no map entry, no Base44 id.
const EVE: Person = Person {
    id: "",
    email: "eve@example.com",
    role: "user",
    uuid: "0b6f7a52-1d1e-5c3a-9a51-000000000e7e",
};

/// Who a request runs as, and what its token says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    /// `anon`, without claims.
    Anonymous,
    /// `authenticated`, with the token `users export --format supabase` makes possible: `sub`
    /// the UUID, the Base44 id in `app_metadata.base44.id`.
    Exported(Person),
    /// `authenticated`, `sub` the UUID and nothing else but email and role: the id from
    /// `offbase.user_map`.
    Mapped(Person),
    /// `authenticated`, `sub` an id the `User` table holds (as after the users export's
    /// rewrite plan), with another user's Base44 id in `app_metadata`: the row wins.
    Rewritten {
        sub: &'static str,
        base44: &'static str,
    },
    /// `authenticated`, a role claim without a `sub`: a half-made token.
    RoleOnly(&'static str),
    /// `service_role`.
    Service,
}

use Who::{Anonymous, Exported, Mapped, RoleOnly, Service};

impl std::fmt::Display for Who {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Anonymous => formatter.write_str("anonymous"),
            Exported(person) => write!(formatter, "{} by its exported token", person.email),
            Mapped(person) => write!(formatter, "{} by the map", person.email),
            Who::Rewritten { sub, base44 } => {
                write!(formatter, "sub {sub} (base44 id {base44})")
            }
            RoleOnly(role) => write!(formatter, "role {role} without a sub"),
            Service => formatter.write_str("the service role"),
        }
    }
}

impl Who {
    fn role(self) -> &'static str {
        match self {
            Anonymous => "anon",
            Service => "service_role",
            _ => "authenticated",
        }
    }

    /// The JWT claims PostgREST would put in `request.jwt.claims`.
    fn claims(self) -> Option<Value> {
        match self {
            Anonymous | Service => None,
            Exported(person) => Some(json!({
                "sub": person.uuid,
                "email": person.email,
                "role": "authenticated",
                "app_metadata": {"role": person.role, "base44": {"id": person.id}},
            })),
            Mapped(person) => Some(json!({
                "sub": person.uuid,
                "email": person.email,
                "role": "authenticated",
                "app_metadata": {"role": person.role},
            })),
            Who::Rewritten { sub, base44 } => Some(json!({
                "sub": sub,
                "role": "authenticated",
                "app_metadata": {"base44": {"id": base44}},
            })),
            RoleOnly(role) => Some(json!({
                "role": "authenticated",
                "app_metadata": {"role": role},
            })),
        }
    }
}

/// Migrates the fixture from `source` into a schema of its own, with the Supabase dialect,
/// and maps Bob's and Dave's UUIDs to their Base44 ids in `offbase.user_map`, as the users
/// export does.
async fn loaded(label: &str, source: MigrateSource) -> (tempfile::TempDir, TestSchema) {
    let folder = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    let mut schema = TestSchema::new(label).await;
    supabase_stand_ins(&mut schema.connection).await;
    let mut load = LoadOptions::new(database_url(), &schema.name);
    load.target.rls = RlsMode::Supabase;
    let options = MigrateOptions {
        files: None,
        source,
        workspace: Workspace::new(folder.path().join("workspace")),
        mappings: Some(mapping_file()),
        destination: Destination::Database(load),
    };
    let reporter: Arc<dyn Reporter> = Arc::new(NoProgress);
    match migrate(&options, reporter).await {
        Ok(summary) => assert!(summary.clean(), "not clean: {:?}", summary.problems()),
        Err(error) => panic!("migrate --rls supabase: {error}"),
    }
    let rows: Vec<offbase_pg::users::UserMapRow> = [BOB, DAVE]
        .iter()
        .map(|person| offbase_pg::users::UserMapRow {
            base44_id: person.id.to_owned(),
            new_id: person.uuid.to_owned(),
            email: Some(person.email.to_owned()),
        })
        .collect();
    if let Err(error) = offbase_pg::users::replace_user_map(
        &mut schema.connection,
        &schema.name,
        offbase_sql::rls::SUPABASE_PROVIDER,
        None,
        &rows,
    )
    .await
    {
        panic!("the user map: {error}");
    }
    (folder, schema)
}

fn from_folder() -> MigrateSource {
    MigrateSource::Folder {
        folder: fixture(),
        schema_from: None,
    }
}

/// Drops the schema and its rows of the shared user map.
async fn drop_schema(mut schema: TestSchema) {
    let _ = sqlx::query("DELETE FROM offbase.user_map WHERE pg_schema = $1")
        .bind(&schema.name)
        .execute(&mut schema.connection)
        .await;
    schema.drop().await;
}

/// Opens a transaction as `who`: the role, and the claims as PostgREST sets them.
async fn begin_as<'c>(
    connection: &'c mut PgConnection,
    schema: &str,
    who: Who,
) -> sqlx::Transaction<'c, sqlx::Postgres> {
    let mut transaction = connection
        .begin()
        .await
        .unwrap_or_else(|error| panic!("BEGIN: {error}"));
    if let Some(claims) = who.claims()
        && let Err(error) = sqlx::query("SELECT set_config('request.jwt.claims', $1, true)")
            .bind(claims.to_string())
            .execute(&mut *transaction)
            .await
    {
        panic!("set_config(request.jwt.claims): {error}");
    }
    let setup = format!(
        "SET LOCAL search_path TO \"{schema}\"; SET LOCAL ROLE {}",
        who.role()
    );
    if let Err(error) = sqlx::raw_sql(&setup).execute(&mut *transaction).await {
        panic!("{setup}: {error}");
    }
    transaction
}

/// The first column of every row `sql` returns as `who` (rolled back).
async fn read_as(
    connection: &mut PgConnection,
    schema: &str,
    who: Who,
    sql: &str,
) -> Result<BTreeSet<String>, String> {
    read_rolled_back(begin_as(connection, schema, who).await, sql).await
}

/// What `sql` does as `who` (rolled back).
async fn write_as(connection: &mut PgConnection, schema: &str, who: Who, sql: &str) -> Outcome {
    write_rolled_back(begin_as(connection, schema, who).await, sql)
        .await
        .unwrap_or_else(|error| panic!("{who}: {sql}: {error}"))
}

/// The rows each request may read, table by table: those of `expected_reads()` in
/// tests/access_rules.rs for the same users, whichever way their token names them.
fn expected_reads() -> Vec<(Who, &'static str, Vec<&'static str>)> {
    let all_users = vec!["u_alice", "u_bob", "u_carol", "u_dave"];
    vec![
        // Owners by email, admins by their role claim.
        (Anonymous, "note", vec![]),
        (Exported(ALICE), "note", vec!["n1", "n3"]),
        (Mapped(BOB), "note", vec!["n2"]),
        (Exported(CAROL), "note", vec!["n1", "n2", "n3"]),
        (Mapped(DAVE), "note", vec![]),
        (RoleOnly("admin"), "note", vec![]),
        (Service, "note", vec!["n1", "n2", "n3"]),
        // Open to anyone, anonymous visitors included.
        (Anonymous, "announcement", vec!["a1", "a2"]),
        (Mapped(BOB), "announcement", vec!["a1", "a2"]),
        // Closed: only the service role.
        (Anonymous, "secret", vec![]),
        (Exported(CAROL), "secret", vec![]),
        (Service, "secret", vec!["s1"]),
        // A tenant key read from the user's own row: the id must be the row's.
        (Anonymous, "booking", vec![]),
        (Exported(ALICE), "booking", vec!["b1", "b2"]),
        (Mapped(BOB), "booking", vec!["b3", "b4"]),
        (Exported(CAROL), "booking", vec!["b1", "b2"]),
        (Mapped(DAVE), "booking", vec!["b3", "b4"]),
        (Exported(EVE), "booking", vec![]),
        (Mapped(EVE), "booking", vec![]),
        // Sub-queries by email, one and two levels deep.
        (Anonymous, "product", vec![]),
        (Exported(ALICE), "product", vec!["pr1", "pr3"]),
        (Mapped(BOB), "product", vec!["pr2"]),
        (Exported(ALICE), "purchase_order", vec!["o1"]),
        (Mapped(BOB), "purchase_order", vec!["o2"]),
        // `$in` of a template and a literal; a template inside text.
        (Anonymous, "ticket", vec![]),
        (Exported(ALICE), "ticket", vec!["t1", "t2"]),
        (Mapped(BOB), "ticket", vec!["t2", "t3"]),
        // The built-in User rules: the own record by id, or an admin.
        (Anonymous, "user", vec![]),
        (Exported(ALICE), "user", vec!["u_alice"]),
        (Mapped(BOB), "user", vec!["u_bob"]),
        (Mapped(DAVE), "user", vec!["u_dave"]),
        (Exported(CAROL), "user", all_users),
        (Mapped(EVE), "user", vec![]),
        (
            Who::Rewritten {
                sub: "u_bob",
                base44: "u_alice",
            },
            "user",
            vec!["u_bob"],
        ),
        (
            Who::Rewritten {
                sub: BOB.uuid,
                base44: "u_alice",
            },
            "user",
            vec!["u_alice"],
        ),
    ]
}

/// Writes and what the rules make of them.
fn expected_writes() -> Vec<(Who, &'static str, Outcome)> {
    use Outcome::{Refused, Rows};
    vec![
        (
            Anonymous,
            "INSERT INTO note (id, text) VALUES ('n9', 'x')",
            Rows(1),
        ),
        (
            Exported(ALICE),
            "UPDATE note SET text = 'x' WHERE id = 'n1'",
            Rows(1),
        ),
        (
            Exported(ALICE),
            "UPDATE note SET text = 'x' WHERE id = 'n2'",
            Rows(0),
        ),
        (
            Mapped(BOB),
            "UPDATE note SET text = 'x' WHERE id = 'n2'",
            Rows(1),
        ),
        (
            Exported(CAROL),
            "UPDATE note SET text = 'x' WHERE id = 'n2'",
            Rows(1),
        ),
        (Exported(ALICE), "DELETE FROM note WHERE id = 'n1'", Rows(0)),
        (Exported(CAROL), "DELETE FROM note WHERE id = 'n1'", Rows(1)),
        (
            Exported(ALICE),
            "INSERT INTO announcement (id, title) VALUES ('a9', 'x')",
            Refused,
        ),
        (
            Exported(CAROL),
            "INSERT INTO announcement (id, title) VALUES ('a9', 'x')",
            Rows(1),
        ),
        (Service, "DELETE FROM secret WHERE id = 's1'", Rows(1)),
        // The role claim and the mapped id together: an owner of the tenant.
        (Mapped(DAVE), "DELETE FROM booking WHERE id = 'b3'", Rows(1)),
        (
            Exported(ALICE),
            "INSERT INTO booking (id, salon_id, status) VALUES ('b9', 's1', 'open')",
            Rows(1),
        ),
        (
            Mapped(BOB),
            "INSERT INTO booking (id, salon_id, status) VALUES ('b9', 's1', 'open')",
            Refused,
        ),
    ]
}

/// Every difference between what the database does and what the rules say, one line each.
async fn mismatches(connection: &mut PgConnection, schema: &str) -> Vec<String> {
    let mut found = Vec::new();
    for (who, table, expected) in expected_reads() {
        let sql = format!("SELECT id FROM \"{table}\"");
        let expected: BTreeSet<String> = expected.iter().map(|id| (*id).to_owned()).collect();
        match read_as(connection, schema, who, &sql).await {
            Ok(rows) if rows == expected => {}
            Ok(rows) => found.push(format!(
                "{who} reads {table}: expected {expected:?}, got {rows:?}"
            )),
            Err(error) => found.push(format!("{who} reads {table}: {error}")),
        }
    }
    for (who, sql, expected) in expected_writes() {
        let outcome = write_as(connection, schema, who, sql).await;
        if outcome != expected {
            found.push(format!(
                "{who}: {sql}: expected {expected:?}, got {outcome:?}"
            ));
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_token_reads_and_writes_exactly_what_the_rules_allow() {
    let (_folder, mut schema) = loaded("supabase_rules", from_folder()).await;
    let name = schema.name.clone();
    // Every policy is for Supabase's roles, and the load recorded the dialect.
    let roles: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT array_to_string(roles, ',') FROM pg_policies WHERE schemaname = $1",
    )
    .bind(&name)
    .fetch_all(&mut schema.connection)
    .await
    .unwrap_or_else(|error| panic!("{error}"));
    let recorded: Option<String> =
        sqlx::query_scalar("SELECT settings ->> 'rls' FROM offbase.load_runs WHERE pg_schema = $1")
            .bind(&name)
            .fetch_optional(&mut schema.connection)
            .await
            .unwrap_or_else(|error| panic!("{error}"));
    let found = mismatches(&mut schema.connection, &name).await;

    // Plant: the email read from `user_metadata` (which the user can edit, and where the
    // token has none), the role from the top-level `role` claim (the database role).
    let plant = format!(
        "SET search_path TO \"{name}\";
CREATE OR REPLACE FUNCTION offbase_user_email() RETURNS text LANGUAGE sql STABLE AS $$SELECT auth.jwt() -> 'user_metadata' ->> 'email'$$;
CREATE OR REPLACE FUNCTION offbase_user_role() RETURNS text LANGUAGE sql STABLE AS $$SELECT auth.jwt() ->> 'role'$$;
RESET search_path"
    );
    if let Err(error) = sqlx::raw_sql(&plant).execute(&mut schema.connection).await {
        panic!("{plant}: {error}");
    }
    let planted = mismatches(&mut schema.connection, &name).await;
    drop_schema(schema).await;

    assert_eq!(roles, vec!["anon,authenticated".to_owned()]);
    assert_eq!(recorded.as_deref(), Some("supabase"));
    assert!(found.is_empty(), "{}", found.join("\n"));
    assert!(
        planted
            .iter()
            .any(|line| line.starts_with("alice@example.com by its exported token reads note")),
        "the email from user_metadata went unnoticed: {planted:?}"
    );
    assert!(
        planted
            .iter()
            .any(|line| line.starts_with("carol@example.com by its exported token reads user")),
        "the role from the top-level claim went unnoticed: {planted:?}"
    );
}

/// `diff behaviour --as` on a load with the Supabase dialect: PostgreSQL is asked as the
/// user's role with the user's claims, and answers every generated read as the emulator does
/// (which enforces the rules for the user's token). `Profile` is left out, as in
/// tests/access_rules.rs (its field rules hide values PostgreSQL refuses).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_asked_as_a_user_answer_alike_on_the_emulator_and_supabase() {
    use offbase_pipeline::compare::behaviour::{
        BehaviourOptions, NewBackend, Verdict, diff_behaviour,
    };
    use offbase_pipeline::target::Target;
    let emulator = offbase_tests::start_emulator(&fixture(), None).await;
    let source = MigrateSource::Api {
        client: Box::new(offbase_tests::emulator_client(&emulator)),
        schema_from: fixture(),
    };
    let (folder, schema) = loaded("supabase_as", source).await;
    let workspace = Workspace::new(folder.path().join("workspace"));
    let mapping_file = mapping_file();
    let corpus: Vec<_> =
        offbase_pipeline::compare::corpus::generate_corpus(&workspace, Some(&mapping_file))
            .unwrap_or_else(|error| panic!("corpus: {error}"))
            .into_iter()
            .filter(|request| request.entity != "Profile")
            .collect();
    let old = offbase_tests::emulator_client(&emulator);
    let mut differing = Vec::new();
    for who in ["alice@example.com", "carol@example.com", "anonymous"] {
        let options = BehaviourOptions {
            as_user: Some(who.to_owned()),
            ..BehaviourOptions::default()
        };
        let new = NewBackend::Postgres(Target::new(database_url(), schema.name.clone()));
        let diff = diff_behaviour(
            &workspace,
            Some(&mapping_file),
            &old,
            &new,
            &corpus,
            &options,
            &NoProgress,
        )
        .await
        .unwrap_or_else(|error| panic!("as {who}: {error}"));
        differing.extend(
            diff.requests
                .iter()
                .filter(|request| request.verdict != Verdict::Match)
                .map(|request| {
                    format!(
                        "as {who}: #{} {}: {}{}",
                        request.number,
                        request.label,
                        request.error.clone().unwrap_or_default(),
                        request.diff.clone().unwrap_or_default()
                    )
                }),
        );
    }
    emulator.shutdown().await;
    drop_schema(schema).await;
    assert!(corpus.len() > 40, "{}", corpus.len());
    assert!(differing.is_empty(), "{}", differing.join("\n"));
}

/// The URL of database `name` on the server of [`database_url`].
fn database_url_of(name: &str) -> String {
    let url = database_url();
    let (address, query) = match url.split_once('?') {
        Some((address, query)) => (address.to_owned(), format!("?{query}")),
        None => (url.clone(), String::new()),
    };
    let server = address
        .rsplit_once('/')
        .map_or(address.as_str(), |(server, _)| server);
    format!("{server}/{name}{query}")
}

/// A database without `auth.jwt()` (a scratch one, so the shared stand-ins stay): a load with
/// the Supabase dialect is refused before it makes a table, and the section itself refuses to
/// run, with a message that says what to do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_without_auth_jwt_is_refused() {
    const MESSAGE: &str =
        "the target is not a Supabase database: auth.jwt() is missing; use --rls on";
    let scratch = format!("offbase_test_not_supabase_{}", std::process::id());
    let mut server = offbase_pg::connect(&database_url())
        .await
        .unwrap_or_else(|error| panic!("{error}"));
    // One statement a call: several would be one transaction, which these refuse.
    for sql in [
        format!("DROP DATABASE IF EXISTS \"{scratch}\" WITH (FORCE)"),
        format!("CREATE DATABASE \"{scratch}\""),
    ] {
        if let Err(error) = sqlx::raw_sql(&sql).execute(&mut server).await {
            panic!("{sql}: {error}");
        }
    }
    let url = database_url_of(&scratch);

    let folder = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    let mut load = LoadOptions::new(url.clone(), "app");
    load.target.rls = RlsMode::Supabase;
    let options = MigrateOptions {
        files: None,
        source: from_folder(),
        workspace: Workspace::new(folder.path().join("workspace")),
        mappings: Some(mapping_file()),
        destination: Destination::Database(load),
    };
    let loaded = migrate(&options, Arc::new(NoProgress)).await;

    let mut connection = offbase_pg::connect(&url)
        .await
        .unwrap_or_else(|error| panic!("{error}"));
    let tables: i64 =
        sqlx::query_scalar("SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname = 'app'")
            .fetch_one(&mut connection)
            .await
            .unwrap_or_else(|error| panic!("{error}"));
    // The section on its own, as psql would run plan.sql.
    let statements = section(&planned(RlsMode::Supabase));
    let script = format!(
        "BEGIN; CREATE SCHEMA app; SET LOCAL search_path TO app; {}; COMMIT",
        statements.join(";\n")
    );
    let applied = sqlx::raw_sql(&script).execute(&mut connection).await;
    let _ = connection.close().await;
    let drop = format!("DROP DATABASE IF EXISTS \"{scratch}\" WITH (FORCE)");
    if let Err(error) = sqlx::raw_sql(&drop).execute(&mut server).await {
        panic!("{drop}: {error}");
    }

    match loaded {
        Ok(summary) => panic!("a load with --rls supabase into a plain PostgreSQL: {summary:?}"),
        Err(error) => assert!(error.to_string().contains(MESSAGE), "{error}"),
    }
    assert_eq!(tables, 0, "the refused load made tables");
    match applied {
        Ok(_) => panic!("the Supabase section ran on a plain PostgreSQL"),
        Err(error) => assert!(error.to_string().contains(MESSAGE), "{error}"),
    }
}
