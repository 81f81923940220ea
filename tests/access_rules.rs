//! Access rules as row level security, on the fixture app `tests/fixtures/access-rules` (every
//! rule shape: owner by email and id, admins by `user_condition`, open and closed operations,
//! `{}` and `null`, `write`, a tenant key through `{{user.data.salon_id}}`, array membership,
//! `$in`/`$nin`/`$ne`/`$all`/`$nor`, `$query` one and two levels deep, a bare key, a template
//! inside text, field rules, the built-in `User` rules, a junction table, shapes that cannot be
//! translated):
//! - the generated SQL and report as insta snapshots, the same bytes twice;
//! - loaded by `migrate` (which applies the rules after post-load), every role and user reads
//!   exactly the rows, and may write exactly the rows, the rules allow; reads, updates and
//!   deletes of every record also agree with the emulator's evaluation of the same rules
//!   (`offbase_base44::rls`) for every user and for anonymous visitors;
//! - a wrong translation planted in one policy is caught by those same checks;
//! - `--rls off` loads no policy, and a second run of the section changes nothing;
//! - names and values holding quotes and dollar-quote tags stay quoted.
//!
//! One file: the tests share the fixture, its people, the role and session set-up and the
//! tables of expected reads and writes; split, each part would repeat them.

use offbase_base44::rls::{EntityRules, Operation, Options, User, allowed};
use offbase_pipeline::load::LoadOptions;
use offbase_pipeline::migrate::{Destination, MigrateOptions, MigrateSource, migrate};
use offbase_pipeline::plan::{PlanOutput, RlsMode, load_rules, plan};
use offbase_pipeline::progress::{NoProgress, Reporter};
use offbase_pipeline::target::MappingFile;
use offbase_pipeline::workspace::Workspace;
use offbase_sql::Section;
use offbase_tests::{
    Outcome, TestSchema, database_url, plan_app, read_rolled_back, repo_root, write_rolled_back,
};
use serde_json::{Map, Value};
use sqlx::Connection;
use sqlx::postgres::PgConnection;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;

fn fixture() -> PathBuf {
    repo_root().join("tests/fixtures/access-rules")
}

fn mapping() -> PathBuf {
    fixture().join("mapping.toml")
}

fn planned() -> PlanOutput {
    plan_app(&fixture(), Some(&mapping()))
}

/// The access-rules section of a plan.sql, from its marker on.
fn access_section(plan_file: &str) -> &str {
    plan_file
        .find(Section::AccessRules.marker())
        .map_or("", |start| &plan_file[start..])
}

#[test]
fn the_fixture_translates_to_these_policies() {
    let output = planned();
    assert_eq!(output.plan_file, planned().plan_file, "plan.sql differs");
    assert_eq!(output.report, planned().report, "the report differs");
    assert!(output.access.enforced());
    insta::assert_snapshot!("access_rules_plan_sql", access_section(&output.plan_file));
    insta::assert_snapshot!("access_rules_mapping_report", output.report);
}

#[test]
fn bare_keys_read_as_data_fields_by_the_mapping_option() {
    let mut rules = load_rules(Some(&mapping())).unwrap_or_else(|error| panic!("{error}"));
    if let Err(error) = rules.merge("[options]\nrls_bare_keys = \"data\"\n", "bare.toml") {
        panic!("{error}");
    }
    let output = plan(&fixture(), &rules, &NoProgress).unwrap_or_else(|error| panic!("{error}"));
    let message_read = output
        .access
        .table("message")
        .and_then(|table| table.operations.first())
        .map(|operation| operation.policy.clone())
        .unwrap_or_default();
    assert_eq!(
        message_read,
        "USING (\"sender_email\" = (SELECT \"offbase_user_email\"()) OR (SELECT \"offbase_user_role\"()) = 'admin')"
    );
    let literal = planned();
    let literal_read = literal
        .access
        .table("message")
        .and_then(|table| table.operations.first())
        .map(|operation| operation.policy.clone())
        .unwrap_or_default();
    assert!(
        !literal_read.contains("sender_email"),
        "read literally, the bare key names no column: {literal_read}"
    );
}

#[test]
fn rls_off_plans_no_access_section_and_says_so() {
    let rules = load_rules(Some(&mapping())).unwrap_or_else(|error| panic!("{error}"));
    let output =
        offbase_pipeline::plan::plan_with_rls(&fixture(), &rules, RlsMode::Off, &NoProgress)
            .unwrap_or_else(|error| panic!("{error}"));
    assert!(output.sql.section(Section::AccessRules).next().is_none());
    assert!(!output.plan_file.contains(Section::AccessRules.marker()));
    assert!(
        output
            .report
            .contains("Access rules (not enforced: planned with --rls off)"),
        "{}",
        output.report
    );
}

// ---------------------------------------------------------------------------------------------
// Against PostgreSQL
// ---------------------------------------------------------------------------------------------

/// A user of the fixture (`data/User.jsonl`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Person {
    id: &'static str,
    email: &'static str,
    role: &'static str,
}

const ALICE: Person = Person {
    id: "u_alice",
    email: "alice@example.com",
    role: "user",
};
const BOB: Person = Person {
    id: "u_bob",
    email: "bob@example.com",
    role: "user",
};
const CAROL: Person = Person {
    id: "u_carol",
    email: "carol@example.com",
    role: "admin",
};
const DAVE: Person = Person {
    id: "u_dave",
    email: "dave@example.com",
    role: "owner",
};
const PEOPLE: [Person; 4] = [ALICE, BOB, CAROL, DAVE];

/// Who a request runs as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    Anonymous,
    User(Person),
    /// `offbase_user` with a role setting but no user id: a half-set session.
    RoleOnly(&'static str),
    Service,
}

impl std::fmt::Display for Who {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Who::Anonymous => formatter.write_str("anonymous"),
            Who::User(person) => formatter.write_str(person.id),
            Who::RoleOnly(role) => write!(formatter, "role {role} without a user id"),
            Who::Service => formatter.write_str("the service role"),
        }
    }
}

use Who::{Anonymous, RoleOnly, Service};

fn user(person: Person) -> Who {
    Who::User(person)
}

/// Migrates the fixture (records, then the plan with its access rules after post-load) into a
/// schema of its own.
async fn loaded(label: &str) -> (tempfile::TempDir, TestSchema) {
    let folder = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    let schema = TestSchema::new(label).await;
    let mapping_file = MappingFile::read(&mapping()).unwrap_or_else(|error| panic!("{error}"));
    let options = MigrateOptions {
        files: None,
        source: MigrateSource::Folder {
            folder: fixture(),
            schema_from: None,
        },
        workspace: Workspace::new(folder.path().join("workspace")),
        mappings: Some(mapping_file),
        destination: Destination::Database(LoadOptions::new(database_url(), &schema.name)),
    };
    let reporter: Arc<dyn Reporter> = Arc::new(NoProgress);
    match migrate(&options, reporter).await {
        Ok(summary) => assert!(summary.clean(), "not clean: {:?}", summary.problems()),
        Err(error) => panic!("migrate: {error}"),
    }
    (folder, schema)
}

/// Opens a transaction as `who`: the role, and the user in the session settings.
async fn begin_as<'c>(
    connection: &'c mut PgConnection,
    schema: &str,
    who: Who,
) -> sqlx::Transaction<'c, sqlx::Postgres> {
    let mut transaction = connection
        .begin()
        .await
        .unwrap_or_else(|error| panic!("BEGIN: {error}"));
    let role = match who {
        Anonymous => "offbase_anon",
        Who::User(_) | RoleOnly(_) => "offbase_user",
        Service => "offbase_service",
    };
    let setup = format!("SET LOCAL search_path TO \"{schema}\"; SET LOCAL ROLE {role}");
    if let Err(error) = sqlx::raw_sql(&setup).execute(&mut *transaction).await {
        panic!("{setup}: {error}");
    }
    let settings: Vec<(&str, &str)> = match who {
        Who::User(person) => vec![
            ("app.user_id", person.id),
            ("app.user_email", person.email),
            ("app.user_role", person.role),
        ],
        RoleOnly(role) => vec![("app.user_role", role)],
        Anonymous | Service => Vec::new(),
    };
    for (name, value) in settings {
        if let Err(error) = sqlx::query("SELECT set_config($1, $2, true)")
            .bind(name)
            .bind(value)
            .execute(&mut *transaction)
            .await
        {
            panic!("set_config({name}): {error}");
        }
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

/// The rows each user may read, table by table, as the rules say.
fn expected_reads() -> Vec<(Who, &'static str, Vec<&'static str>)> {
    vec![
        // Owners by email (read) and id (update), admins by user_condition.
        (Anonymous, "note", vec![]),
        (user(ALICE), "note", vec!["n1", "n3"]),
        (user(BOB), "note", vec!["n2"]),
        (user(CAROL), "note", vec!["n1", "n2", "n3"]),
        (user(DAVE), "note", vec![]),
        (RoleOnly("admin"), "note", vec![]),
        (Service, "note", vec!["n1", "n2", "n3"]),
        // Open to anyone, anonymous visitors included.
        (Anonymous, "announcement", vec!["a1", "a2"]),
        (user(BOB), "announcement", vec!["a1", "a2"]),
        // Closed: only the service role.
        (Anonymous, "secret", vec![]),
        (user(CAROL), "secret", vec![]),
        (Service, "secret", vec!["s1"]),
        // A tenant key read from the user's own row.
        (Anonymous, "booking", vec![]),
        (user(ALICE), "booking", vec!["b1", "b2"]),
        (user(BOB), "booking", vec!["b3", "b4"]),
        (user(CAROL), "booking", vec!["b1", "b2"]),
        (user(DAVE), "booking", vec!["b3", "b4"]),
        // An array holding the user's email.
        (Anonymous, "party", vec![]),
        (user(ALICE), "party", vec!["p1"]),
        (user(BOB), "party", vec!["p1", "p2"]),
        (user(CAROL), "party", vec![]),
        (user(ALICE), "vendor_staff", vec!["vs1", "vs3"]),
        (user(BOB), "vendor_staff", vec!["vs2"]),
        // A sub-query: the user's vendors' products; two levels: their orders.
        (Anonymous, "product", vec![]),
        (user(ALICE), "product", vec!["pr1", "pr3"]),
        (user(BOB), "product", vec!["pr2"]),
        (user(CAROL), "product", vec![]),
        (user(ALICE), "purchase_order", vec!["o1"]),
        (user(BOB), "purchase_order", vec!["o2"]),
        (user(CAROL), "purchase_order", vec![]),
        // A bare key read literally names nothing: only the admin branch is left.
        (user(ALICE), "message", vec![]),
        (user(CAROL), "message", vec!["m1", "m2"]),
        // `$in` of a template and a literal is unknown for anonymous visitors; a template
        // inside text.
        (Anonymous, "ticket", vec![]),
        (user(ALICE), "ticket", vec!["t1", "t2"]),
        (user(BOB), "ticket", vec!["t2", "t3"]),
        (user(CAROL), "ticket", vec!["t2"]),
        (user(DAVE), "ticket", vec!["t2"]),
        (Anonymous, "profile", vec!["pf1", "pf2"]),
        // Untranslatable: closed even to the admin the rule names.
        (user(CAROL), "gadget", vec![]),
        (Service, "gadget", vec!["g1"]),
        // The built-in User rules.
        (Anonymous, "user", vec![]),
        (user(ALICE), "user", vec!["u_alice"]),
        (user(DAVE), "user", vec!["u_dave"]),
        (
            user(CAROL),
            "user",
            vec!["u_alice", "u_bob", "u_carol", "u_dave"],
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
            user(ALICE),
            "UPDATE note SET text = 'x' WHERE id = 'n1'",
            Rows(1),
        ),
        (
            user(ALICE),
            "UPDATE note SET text = 'x' WHERE id = 'n2'",
            Rows(0),
        ),
        (
            user(CAROL),
            "UPDATE note SET text = 'x' WHERE id = 'n2'",
            Rows(1),
        ),
        (user(ALICE), "DELETE FROM note WHERE id = 'n1'", Rows(0)),
        (user(CAROL), "DELETE FROM note WHERE id = 'n1'", Rows(1)),
        // `write` for admins only.
        (
            user(ALICE),
            "INSERT INTO announcement (id, title) VALUES ('a9', 'x')",
            Refused,
        ),
        (
            user(CAROL),
            "INSERT INTO announcement (id, title) VALUES ('a9', 'x')",
            Rows(1),
        ),
        (
            Anonymous,
            "DELETE FROM announcement WHERE id = 'a1'",
            Rows(0),
        ),
        (
            user(ALICE),
            "UPDATE announcement SET title = 'x' WHERE id = 'a1'",
            Rows(0),
        ),
        (
            user(CAROL),
            "DELETE FROM announcement WHERE id = 'a1'",
            Rows(1),
        ),
        // `{}` opens create; `null` opens update, but PostgreSQL updates only rows the
        // caller can read (its WHERE reads them), and reads are closed.
        (
            Anonymous,
            "INSERT INTO secret (id, value) VALUES ('s9', 'x')",
            Rows(1),
        ),
        (
            user(ALICE),
            "UPDATE secret SET value = 'x' WHERE id = 's1'",
            Rows(0),
        ),
        (user(CAROL), "DELETE FROM secret WHERE id = 's1'", Rows(0)),
        (Service, "DELETE FROM secret WHERE id = 's1'", Rows(1)),
        // The tenant key on create and update (old and new row), `$ne`, `$nor` and a
        // `user_condition` with `$in`.
        (
            user(ALICE),
            "INSERT INTO booking (id, salon_id, status) VALUES ('b9', 's1', 'open')",
            Rows(1),
        ),
        (
            user(ALICE),
            "INSERT INTO booking (id, salon_id, status) VALUES ('b9', 's2', 'open')",
            Refused,
        ),
        (
            Anonymous,
            "INSERT INTO booking (id, salon_id, status) VALUES ('b9', 's1', 'open')",
            Refused,
        ),
        (
            user(ALICE),
            "UPDATE booking SET status = 'open' WHERE id = 'b1'",
            Rows(1),
        ),
        (
            user(ALICE),
            "UPDATE booking SET status = 'open' WHERE id = 'b2'",
            Rows(0),
        ),
        (
            user(ALICE),
            "UPDATE booking SET salon_id = 's2' WHERE id = 'b1'",
            Refused,
        ),
        (
            user(ALICE),
            "UPDATE booking SET status = 'open' WHERE id = 'b3'",
            Rows(0),
        ),
        (user(DAVE), "DELETE FROM booking WHERE id = 'b3'", Rows(1)),
        (user(DAVE), "DELETE FROM booking WHERE id = 'b4'", Rows(0)),
        (user(ALICE), "DELETE FROM booking WHERE id = 'b1'", Rows(0)),
        (user(CAROL), "DELETE FROM booking WHERE id = 'b1'", Rows(1)),
        // Array membership with `$all`; deletes by created_by_id.
        (
            user(ALICE),
            "UPDATE party SET title = 'x' WHERE id = 'p1'",
            Rows(1),
        ),
        (
            user(ALICE),
            "UPDATE party SET party_emails = ARRAY['bob@example.com'] WHERE id = 'p1'",
            Refused,
        ),
        (user(ALICE), "DELETE FROM party WHERE id = 'p1'", Rows(1)),
        (user(BOB), "DELETE FROM party WHERE id = 'p1'", Rows(0)),
        (
            user(ALICE),
            "INSERT INTO party_user_ids (source_id, position, target_id) VALUES ('p1', 9, 'u_alice')",
            Refused,
        ),
        // `$nin` with a template: unknown, so refused, for an anonymous visitor.
        (
            Anonymous,
            "INSERT INTO ticket (id, title, blocked) VALUES ('t9', 'x', '{}')",
            Refused,
        ),
        (
            user(ALICE),
            "INSERT INTO ticket (id, title, blocked) VALUES ('t9', 'x', '{}')",
            Rows(1),
        ),
        (
            user(ALICE),
            "INSERT INTO ticket (id, title, blocked) VALUES ('t9', 'x', ARRAY['alice@example.com'])",
            Refused,
        ),
        (
            user(BOB),
            "UPDATE ticket SET title = 'x' WHERE id = 't3'",
            Rows(1),
        ),
        (user(BOB), "DELETE FROM ticket WHERE id = 't3'", Rows(1)),
        (user(ALICE), "DELETE FROM ticket WHERE id = 't1'", Rows(1)),
        // Field rules: column privileges for constant ones, WITH CHECK for a write condition.
        (Anonymous, "SELECT id, internal_notes FROM profile", Refused),
        (Anonymous, "SELECT id, bio FROM profile", Rows(2)),
        (
            user(ALICE),
            "UPDATE profile SET bio = 'x' WHERE id = 'pf1'",
            Rows(1),
        ),
        (
            user(ALICE),
            "UPDATE profile SET verified = true WHERE id = 'pf1'",
            Refused,
        ),
        (
            user(ALICE),
            "UPDATE profile SET verified = false, bio = 'y' WHERE id = 'pf1'",
            Rows(1),
        ),
        (
            user(CAROL),
            "UPDATE profile SET verified = true WHERE id = 'pf1'",
            Rows(1),
        ),
        (
            user(ALICE),
            "UPDATE profile SET internal_notes = 'x' WHERE id = 'pf1'",
            Refused,
        ),
        (
            user(ALICE),
            "INSERT INTO profile (id, owner_email, verified) VALUES ('pf9', 'alice@example.com', true)",
            Refused,
        ),
        (
            user(ALICE),
            "INSERT INTO profile (id, owner_email) VALUES ('pf9', 'alice@example.com')",
            Rows(1),
        ),
        (
            user(ALICE),
            "UPDATE profile SET bio = 'x' WHERE id = 'pf2'",
            Rows(0),
        ),
        (user(CAROL), "DELETE FROM profile WHERE id = 'pf1'", Rows(0)),
        // Closed by an untranslatable rule; the service role is not held to rules.
        (
            user(CAROL),
            "UPDATE gadget SET level = 2 WHERE id = 'g1'",
            Rows(0),
        ),
        (
            Service,
            "UPDATE gadget SET level = 2 WHERE id = 'g1'",
            Rows(1),
        ),
        // The built-in User rules: own record, not its role; admins for the rest.
        (
            user(ALICE),
            "UPDATE \"user\" SET full_name = 'A' WHERE id = 'u_alice'",
            Rows(1),
        ),
        (
            user(ALICE),
            "UPDATE \"user\" SET role = 'admin' WHERE id = 'u_alice'",
            Refused,
        ),
        (
            user(ALICE),
            "UPDATE \"user\" SET full_name = 'A' WHERE id = 'u_bob'",
            Rows(0),
        ),
        (
            user(CAROL),
            "UPDATE \"user\" SET role = 'owner' WHERE id = 'u_bob'",
            Rows(1),
        ),
        (
            user(ALICE),
            "DELETE FROM \"user\" WHERE id = 'u_alice'",
            Rows(0),
        ),
        (
            user(CAROL),
            "DELETE FROM \"user\" WHERE id = 'u_dave'",
            Rows(1),
        ),
        (
            user(ALICE),
            "INSERT INTO \"user\" (id, email) VALUES ('u_x', 'x@example.com')",
            Refused,
        ),
        (
            user(CAROL),
            "INSERT INTO \"user\" (id, email, role) VALUES ('u_x', 'x@example.com', 'user')",
            Rows(1),
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
async fn every_role_reads_and_writes_exactly_what_the_rules_allow() {
    let (_folder, mut schema) = loaded("access_rules").await;
    let name = schema.name.clone();
    let found = mismatches(&mut schema.connection, &name).await;
    // The junction table: readable where the owning party is.
    let junction = "SELECT source_id || ':' || target_id FROM party_user_ids";
    let mut junction_found = Vec::new();
    for (who, expected) in [
        (user(ALICE), vec!["p1:u_alice", "p1:u_bob"]),
        (user(BOB), vec!["p1:u_alice", "p1:u_bob", "p2:u_bob"]),
        (user(CAROL), vec![]),
        (Service, vec!["p1:u_alice", "p1:u_bob", "p2:u_bob"]),
    ] {
        let rows = read_as(&mut schema.connection, &name, who, junction).await;
        let expected: BTreeSet<String> = expected.iter().map(|row| (*row).to_owned()).collect();
        if rows.as_ref() != Ok(&expected) {
            junction_found.push(format!("{who} reads party_user_ids: {rows:?}"));
        }
    }
    schema.drop().await;
    assert!(found.is_empty(), "{}", found.join("\n"));
    assert!(junction_found.is_empty(), "{}", junction_found.join("\n"));
}

/// The records of every entity, flat as the API returns them, from the fixture's data files.
fn fixture_records() -> BTreeMap<String, Vec<Map<String, Value>>> {
    let mut records = BTreeMap::new();
    let folder = fixture().join("data");
    let entries = std::fs::read_dir(&folder).unwrap_or_else(|error| panic!("{error}"));
    for entry in entries.filter_map(Result::ok) {
        let path = entry.path();
        let Some(entity) = path
            .file_stem()
            .map(|stem| stem.to_string_lossy().into_owned())
        else {
            continue;
        };
        let text = std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{error}"));
        let lines = text
            .lines()
            .filter_map(|line| match serde_json::from_str(line) {
                Ok(Value::Object(record)) => Some(record),
                _ => None,
            })
            .collect();
        records.insert(entity, lines);
    }
    records
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_and_writes_agree_with_the_emulators_evaluation_of_the_same_rules() {
    let output = planned();
    let records = fixture_records();
    let users = records.get("User").cloned().unwrap_or_default();
    let (_folder, mut schema) = loaded("access_rules_oracle").await;
    let name = schema.name.clone();
    let mut found = Vec::new();
    let mut compared = 0;
    for entity in &output.app.entities {
        let Some(table) = output.target.table_for_entity(&entity.name) else {
            continue;
        };
        let rules = EntityRules::of(entity);
        let entity_records = records.get(&entity.name).cloned().unwrap_or_default();
        let mut whos = vec![(Anonymous, None)];
        for person in PEOPLE {
            let record = users
                .iter()
                .find(|record| record.get("id").and_then(Value::as_str) == Some(person.id))
                .cloned()
                .unwrap_or_default();
            whos.push((user(person), Some(User::from_record(record))));
        }
        for (who, emulated_user) in whos {
            let allows = |operation: Operation, record: &Map<String, Value>| {
                allowed(
                    &rules,
                    operation,
                    emulated_user.as_ref(),
                    record,
                    &records,
                    Options::default(),
                )
                .unwrap_or(false)
            };
            let mut expected = BTreeSet::new();
            for record in &entity_records {
                if allows(Operation::Read, record)
                    && let Some(id) = record.get("id").and_then(Value::as_str)
                {
                    expected.insert(id.to_owned());
                }
            }
            let table_name = table.name.replace('"', "\"\"");
            let sql = format!("SELECT id FROM \"{table_name}\"");
            let rows = read_as(&mut schema.connection, &name, who, &sql).await;
            compared += 1;
            if rows.as_ref() != Ok(&expected) {
                found.push(format!(
                    "{who} reads {}: the emulator allows {expected:?}, PostgreSQL gives {rows:?}",
                    entity.name
                ));
            }
            // Writes of each record, unchanged: PostgreSQL also asks that the caller can read
            // the row (the statement's WHERE reads it).
            for record in &entity_records {
                let Some(id) = record.get("id").and_then(Value::as_str) else {
                    continue;
                };
                let readable = allows(Operation::Read, record);
                for (operation, statement) in [
                    (
                        Operation::Update,
                        format!("UPDATE \"{table_name}\" SET id = id WHERE id = '{id}'"),
                    ),
                    (
                        Operation::Delete,
                        format!("DELETE FROM \"{table_name}\" WHERE id = '{id}'"),
                    ),
                ] {
                    let expected = if readable && allows(operation, record) {
                        Outcome::Rows(1)
                    } else {
                        Outcome::Rows(0)
                    };
                    let outcome = write_as(&mut schema.connection, &name, who, &statement).await;
                    compared += 1;
                    if outcome != expected {
                        found.push(format!(
                            "{who}: {statement}: the emulator says {expected:?}, PostgreSQL gives {outcome:?}"
                        ));
                    }
                }
            }
        }
    }
    schema.drop().await;
    assert!(compared >= 13 * 5 * 3, "only {compared} comparisons");
    assert!(found.is_empty(), "{}", found.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_translation_planted_in_a_policy_is_caught() {
    let (_folder, mut schema) = loaded("access_rules_planted").await;
    let name = schema.name.clone();
    assert!(
        mismatches(&mut schema.connection, &name).await.is_empty(),
        "the translation is wrong before anything is planted"
    );
    // Plant: the owner test of Note reads compares the id, not the email; Booking's tenant key
    // compares with `<>`.
    let output = planned();
    let statements: Vec<String> = output
        .sql
        .section(Section::AccessRules)
        .map(|statement| statement.sql.clone())
        .collect();
    let note_read = statements
        .iter()
        .find(|sql| sql.starts_with("CREATE POLICY \"offbase_read\" ON \"note\""))
        .cloned()
        .unwrap_or_else(|| panic!("no read policy for note"));
    let swapped = note_read.replace("offbase_user_email", "offbase_user_id");
    assert_ne!(swapped, note_read);
    let booking_read = statements
        .iter()
        .find(|sql| sql.starts_with("CREATE POLICY \"offbase_read\" ON \"booking\""))
        .cloned()
        .unwrap_or_else(|| panic!("no read policy for booking"));
    let negated = booking_read.replacen("\"salon_id\" = ", "\"salon_id\" <> ", 1);
    assert_ne!(negated, booking_read);
    let plant = format!(
        "SET search_path TO \"{name}\"; DROP POLICY \"offbase_read\" ON \"note\"; {swapped}; DROP POLICY \"offbase_read\" ON \"booking\"; {negated}; RESET search_path"
    );
    if let Err(error) = sqlx::raw_sql(&plant).execute(&mut schema.connection).await {
        panic!("{plant}: {error}");
    }
    let found = mismatches(&mut schema.connection, &name).await;
    schema.drop().await;
    assert!(
        found
            .iter()
            .any(|line| line.starts_with("u_alice reads note")),
        "the swapped owner test went unnoticed: {found:?}"
    );
    assert!(
        found
            .iter()
            .any(|line| line.starts_with("u_alice reads booking")),
        "the negated tenant key went unnoticed: {found:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_section_runs_again_unchanged_and_rls_off_loads_no_policy() {
    let (_folder, mut schema) = loaded("access_rules_again").await;
    let name = schema.name.clone();
    let output = planned();
    let section: Vec<String> = output
        .sql
        .section(Section::AccessRules)
        .map(|statement| statement.sql.clone())
        .collect();
    let policies = "SELECT tablename || '.' || policyname || ':' || coalesce(qual, '') || ':' || coalesce(with_check, '') FROM pg_policies WHERE schemaname = $1";
    let before: Vec<String> = sqlx::query_scalar(policies)
        .bind(&name)
        .fetch_all(&mut schema.connection)
        .await
        .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(
        before.len(),
        13 * 4 + 1,
        "four policies a table, one on the junction"
    );
    let again = format!(
        "BEGIN; SET LOCAL search_path TO \"{name}\"; {}; COMMIT",
        section.join(";\n")
    );
    if let Err(error) = sqlx::raw_sql(&again).execute(&mut schema.connection).await {
        panic!("the section does not run again: {error}");
    }
    let mut after: Vec<String> = sqlx::query_scalar(policies)
        .bind(&name)
        .fetch_all(&mut schema.connection)
        .await
        .unwrap_or_else(|error| panic!("{error}"));
    let mut before = before;
    before.sort();
    after.sort();
    assert_eq!(before, after);
    schema.drop().await;

    // --rls off: recorded with the load, which then leaves every table without row security.
    let folder = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    let mut off = TestSchema::new("access_rules_off").await;
    let mut load = LoadOptions::new(database_url(), &off.name);
    load.target.rls = RlsMode::Off;
    let options = MigrateOptions {
        files: None,
        source: MigrateSource::Folder {
            folder: fixture(),
            schema_from: None,
        },
        workspace: Workspace::new(folder.path().join("workspace")),
        mappings: Some(MappingFile::read(&mapping()).unwrap_or_else(|error| panic!("{error}"))),
        destination: Destination::Database(load),
    };
    if let Err(error) = migrate(&options, Arc::new(NoProgress)).await {
        panic!("migrate --rls off: {error}");
    }
    let secured: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relrowsecurity",
    )
    .bind(&off.name)
    .fetch_one(&mut off.connection)
    .await
    .unwrap_or_else(|error| panic!("{error}"));
    off.drop().await;
    assert_eq!(secured, 0, "--rls off left row security on some table");
}

#[tokio::test]
async fn hostile_names_and_values_stay_quoted_in_the_section() {
    // Names and values holding quotes, dollar-quote tags and a placeholder-like `$1`.
    let folder = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    let entities = folder.path().join("base44/entities");
    std::fs::create_dir_all(&entities).unwrap_or_else(|error| panic!("{error}"));
    let odd = serde_json::json!({
        "name": "Odd$1",
        "type": "object",
        "properties": {
            "it's $offbase$ \"x\"": {"type": "string"},
            "tags": {"type": "array", "items": {"type": "string"}}
        },
        "rls": {
            "read": {"$or": [
                {"data.it's $offbase$ \"x\"": "it's $offbase$"},
                {"data.tags": "{{user.data.it's $offbase$ \"y\"}}"}
            ]},
            "update": {"data.it's $offbase$ \"x\"": {"$in": [{"$query": {
                "entity": "User", "filter": {"email": "{{user.email}}"}, "field": "it's $offbase$ \"y\""
            }}]}}
        }
    });
    let user = serde_json::json!({
        "name": "User",
        "type": "object",
        "properties": {"it's $offbase$ \"y\"": {"type": "string"}}
    });
    for (file, schema) in [("odd.json", odd), ("user.json", user)] {
        std::fs::write(entities.join(file), schema.to_string())
            .unwrap_or_else(|error| panic!("{error}"));
    }
    let output = plan_app(folder.path(), None);
    assert!(
        output.access.warnings().next().is_none(),
        "{:?}",
        output.access.notes
    );
    // The user function's body holds the field name, tag and all: it takes another tag.
    assert!(
        output.plan_file.contains("$offbase_1$"),
        "{}",
        output.plan_file
    );
    let schema = TestSchema::with_plan("access_rules_hostile", &output).await;
    schema.drop().await;
}

/// `diff behaviour --as` over real HTTP: the emulator (which enforces the rules for a user's
/// token, or for a visitor without one) and PostgreSQL (under the rules' role and the user's
/// session settings) answer every generated read alike, for an admin, plain users and an
/// anonymous visitor; the planted wrong policy of the test above is found by the same
/// comparison. `Profile` is left out: its field rules hide values on the platform that
/// PostgreSQL refuses or does not hide (reported as such in the mapping report).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_asked_as_each_user_answer_alike_on_the_emulator_and_postgres() {
    use offbase_pipeline::compare::behaviour::{BehaviourOptions, NewBackend, diff_behaviour};
    use offbase_pipeline::target::Target;
    let emulator = offbase_tests::start_emulator(&fixture(), None).await;
    let folder = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    let mut schema = TestSchema::new("access_rules_as").await;
    let mapping_file = MappingFile::read(&mapping()).unwrap_or_else(|error| panic!("{error}"));
    let workspace = Workspace::new(folder.path().join("workspace"));
    let options = MigrateOptions {
        files: None,
        source: MigrateSource::Api {
            client: Box::new(offbase_tests::emulator_client(&emulator)),
            schema_from: fixture(),
        },
        workspace: workspace.clone(),
        mappings: Some(mapping_file.clone()),
        destination: Destination::Database(LoadOptions::new(database_url(), &schema.name)),
    };
    let reporter: Arc<dyn Reporter> = Arc::new(NoProgress);
    if let Err(error) = migrate(&options, reporter).await {
        panic!("migrate: {error}");
    }
    let corpus: Vec<_> =
        offbase_pipeline::compare::corpus::generate_corpus(&workspace, Some(&mapping_file))
            .unwrap_or_else(|error| panic!("corpus: {error}"))
            .into_iter()
            .filter(|request| request.entity != "Profile")
            .collect();
    assert!(corpus.len() > 40, "{}", corpus.len());
    let old = offbase_tests::emulator_client(&emulator);
    let ask_as = |who: &str| {
        let who = who.to_owned();
        let options = BehaviourOptions {
            as_user: Some(who.clone()),
            writes: true,
            ..BehaviourOptions::default()
        };
        let new = NewBackend::Postgres(Target::new(database_url(), schema.name.clone()));
        let (workspace, corpus, old, mapping_file) = (
            workspace.clone(),
            corpus.clone(),
            old.clone(),
            mapping_file.clone(),
        );
        async move {
            diff_behaviour(
                &workspace,
                Some(&mapping_file),
                &old,
                &new,
                &corpus,
                &options,
                &NoProgress,
            )
            .await
            .unwrap_or_else(|error| panic!("as {who}: {error}"))
        }
    };
    let differing = |diff: &offbase_pipeline::compare::behaviour::BehaviourDiff| -> Vec<String> {
        diff.requests
            .iter()
            .filter(|request| {
                request.verdict != offbase_pipeline::compare::behaviour::Verdict::Match
            })
            .map(|request| {
                format!(
                    "#{} {}: {}{}",
                    request.number,
                    request.label,
                    request.error.clone().unwrap_or_default(),
                    request.diff.clone().unwrap_or_default()
                )
            })
            .collect()
    };
    // Writes: Profile's field rules are enforced by column privileges alone (see above).
    let differing_writes =
        |diff: &offbase_pipeline::compare::behaviour::BehaviourDiff| -> Vec<String> {
            diff.writes
                .iter()
                .filter(|write| write.entity != "Profile" && !write.matches())
                .map(|write| format!("{write:?}"))
                .collect()
        };
    let (mut allowed_writes, mut denied_writes) = (0, 0);
    for who in [
        "alice@example.com",
        "bob@example.com",
        "carol@example.com",
        "anonymous",
    ] {
        let diff = ask_as(who).await;
        assert_eq!(diff.as_user.as_deref(), Some(who));
        assert!(
            differing(&diff).is_empty(),
            "as {who}:\n{}",
            differing(&diff).join("\n")
        );
        let writes = differing_writes(&diff);
        assert!(writes.is_empty(), "as {who}:\n{}", writes.join("\n"));
        assert!(diff.writes.len() > 100, "{}", diff.writes.len());
        allowed_writes += diff.writes.iter().filter(|write| write.old).count();
        denied_writes += diff.writes.iter().filter(|write| !write.old).count();
    }
    assert!(
        allowed_writes > 50 && denied_writes > 50,
        "{allowed_writes} allowed, {denied_writes} denied"
    );

    // The planted wrong owner test on Note: Alice's reads of Note now differ.
    let output = planned();
    let note_read = output
        .sql
        .section(Section::AccessRules)
        .map(|statement| statement.sql.clone())
        .find(|sql| sql.starts_with("CREATE POLICY \"offbase_read\" ON \"note\""))
        .unwrap_or_else(|| panic!("no read policy for note"));
    let swapped = note_read.replace("offbase_user_email", "offbase_user_id");
    assert_ne!(swapped, note_read);
    let name = schema.name.clone();
    let plant = format!(
        "SET search_path TO \"{name}\"; DROP POLICY \"offbase_read\" ON \"note\"; {swapped}; RESET search_path"
    );
    if let Err(error) = sqlx::raw_sql(&plant).execute(&mut schema.connection).await {
        panic!("{plant}: {error}");
    }
    let diff = ask_as("alice@example.com").await;
    let found = differing(&diff);
    assert!(
        !found.is_empty() && found.iter().all(|line| line.contains("Note")),
        "{found:?}"
    );
    // Alice may no longer see her notes, so she may no longer update or delete them either.
    let writes = differing_writes(&diff);
    assert!(
        !writes.is_empty()
            && diff
                .writes
                .iter()
                .filter(|write| write.entity != "Profile" && !write.matches())
                .all(|write| write.entity == "Note" && write.old && write.new == Some(false)),
        "{writes:?}"
    );
    assert!(!diff.clean());
    emulator.shutdown().await;
    schema.drop().await;
}
