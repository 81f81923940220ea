//! `users export` end to end on `tests/fixtures/users/app` (a User entity with custom fields, a
//! custom role, its own bcrypt password and PIN hashes and planted secrets; tasks and comments
//! pointing at users by id, by an array of ids and by email), staged and loaded by `migrate`
//! into a schema of its own: every format written and validated against the JSON schemas
//! written from each target's documentation (`tests/fixtures/users/*.schema.json`), the same
//! bytes on a rerun, a complete id map (also in `offbase.user_map`), the rewrite plan applied
//! with psql giving exactly the expected ids in every reference (and nothing on a second run),
//! and the PostgreSQL users table signing a user in once with its token.

use offbase_pipeline::load::LoadOptions;
use offbase_pipeline::migrate::{Destination, MigrateOptions, MigrateSource, migrate};
use offbase_pipeline::progress::NoProgress;
use offbase_pipeline::users::export::{id_map_path, report_path, rewrite_plan_path};
use offbase_pipeline::users::ids::{IdMap, user_uuid};
use offbase_pipeline::users::{ExportOptions, ExportSummary, Format, export};
use offbase_pipeline::workspace::Workspace;
use offbase_tests::{TestSchema, database_url, repo_root};
use serde_json::Value;
use sqlx::Row;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

const APP_ID: &str = "6989205392f69694df37d206";

fn fixtures() -> PathBuf {
    repo_root().join("tests/fixtures/users")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

/// The fixture's records of one entity, by id.
fn fixture_records(entity: &str) -> BTreeMap<String, Value> {
    read(&fixtures().join("app/data").join(format!("{entity}.jsonl")))
        .lines()
        .map(|line| {
            let record: Value =
                serde_json::from_str(line).unwrap_or_else(|error| panic!("{error}"));
            (record["id"].as_str().unwrap_or_default().to_owned(), record)
        })
        .collect()
}

/// The fixture staged and loaded into `schema`.
async fn loaded(schema: &TestSchema) -> (tempfile::TempDir, Workspace) {
    let folder = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    let workspace = Workspace::new(folder.path().join("ws"));
    let options = MigrateOptions {
        source: MigrateSource::Folder {
            folder: fixtures().join("app"),
            schema_from: None,
        },
        workspace: workspace.clone(),
        mappings: None,
        destination: Destination::Database(LoadOptions::new(database_url(), &schema.name)),
        files: None,
    };
    let summary = migrate(&options, Arc::new(NoProgress))
        .await
        .unwrap_or_else(|error| panic!("migrate: {error}"));
    assert!(summary.clean(), "{:?}", summary.problems());
    (folder, workspace)
}

async fn exported(
    workspace: &Workspace,
    format: Format,
    pg_schema: &str,
    database: bool,
) -> ExportSummary {
    let mut options = ExportOptions::new(format);
    options.pg_schema = pg_schema.to_owned();
    options.database_url = database.then(database_url);
    export(workspace, &options, &NoProgress)
        .await
        .unwrap_or_else(|error| panic!("{format:?}: {error}"))
}

fn validator(name: &str) -> jsonschema::Validator {
    let schema: Value = serde_json::from_str(&read(&fixtures().join(name)))
        .unwrap_or_else(|error| panic!("{name}: {error}"));
    jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .unwrap_or_else(|error| panic!("{name}: {error}"))
}

fn assert_valid(validator: &jsonschema::Validator, instance: &Value, what: &str) {
    let errors: Vec<String> = validator
        .iter_errors(instance)
        .map(|error| format!("{error} at {}", error.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{what}: {errors:?}");
}

fn json_lines(path: &str) -> Vec<Value> {
    read(Path::new(path))
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|error| panic!("{error}")))
        .collect()
}

/// Every file an export wrote, by name, and its bytes.
fn files(summary: &ExportSummary) -> BTreeMap<String, Vec<u8>> {
    summary
        .files
        .iter()
        .map(|file| {
            (
                file.path.clone(),
                std::fs::read(&file.path).unwrap_or_else(|error| panic!("{error}")),
            )
        })
        .collect()
}

fn psql(file: &Path) {
    let output = std::process::Command::new("psql")
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-f"])
        .arg(file)
        .arg(database_url())
        .output();
    match output {
        Ok(output) if output.status.success() => {}
        Ok(output) => panic!(
            "psql refused {}: {}",
            file.display(),
            String::from_utf8_lossy(&output.stderr)
        ),
        Err(error) => panic!("cannot run psql: {error}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_format_exports_the_fixture_validly_and_the_same_twice() {
    let schema = TestSchema::new("users_formats").await;
    let (_folder, workspace) = loaded(&schema).await;
    let users = fixture_records("User");
    for format in Format::ALL {
        let first = exported(&workspace, format, &schema.name, false).await;
        let first_files = files(&first);
        let first_map = read(&id_map_path(&workspace));
        let first_report = read(&report_path(&workspace));
        let second = exported(&workspace, format, &schema.name, false).await;
        assert_eq!(first, second, "{format:?}: the summary changed on a rerun");
        assert_eq!(read(&id_map_path(&workspace)), first_map, "{format:?}");
        assert_eq!(read(&report_path(&workspace)), first_report, "{format:?}");
        if format != Format::Postgres {
            // Tokens are new on every run; everything else is byte for byte the same.
            assert_eq!(files(&second), first_files, "{format:?}");
        }

        // The map: every user once, sorted, ids kept or their UUID v5.
        let map: IdMap = serde_json::from_str(&first_map).unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(map.provider, format);
        let ids: Vec<&str> = map
            .users
            .iter()
            .map(|entry| entry.base44_id.as_str())
            .collect();
        assert_eq!(ids, users.keys().map(String::as_str).collect::<Vec<_>>());
        for entry in &map.users {
            let expected = if format.keeps_ids() {
                entry.base44_id.clone()
            } else {
                user_uuid(APP_ID, &entry.base44_id).to_string()
            };
            assert_eq!(entry.new_id, expected, "{format:?}");
            assert_eq!(
                entry.email.as_deref(),
                users[&entry.base44_id]["email"].as_str(),
                "emails are kept as they are"
            );
        }
        assert_eq!(first.users, 6);
        assert_eq!(
            rewrite_plan_path(&workspace).exists(),
            !format.keeps_ids(),
            "{format:?}: a rewrite plan exactly when ids change"
        );

        match format {
            Format::Supabase => {
                let validator = validator("supabase-admin-create-user.schema.json");
                let payloads = json_lines(&first.files[0].path);
                assert_eq!(payloads.len(), 5, "the user without an email is left out");
                for payload in &payloads {
                    assert_valid(&validator, payload, "supabase");
                    let base44 = payload["app_metadata"]["base44"]["id"]
                        .as_str()
                        .unwrap_or_default();
                    assert_eq!(payload["id"], user_uuid(APP_ID, base44).to_string());
                }
                assert_eq!(first.not_exported.len(), 1);
                assert_eq!(first.sign_in.keep_password, 2);
            }
            Format::Auth0 => {
                let validator = validator("auth0-bulk-import-user.schema.json");
                let mut seen = 0;
                for file in &first.files {
                    let bytes = &first_files[&file.path];
                    assert!(bytes.len() <= 500_000);
                    let users: Vec<Value> =
                        serde_json::from_slice(bytes).unwrap_or_else(|error| panic!("{error}"));
                    for user in &users {
                        assert_valid(&validator, user, "auth0");
                        assert!(users_has(&fixture_records("User"), &user["user_id"]));
                    }
                    seen += users.len();
                }
                assert_eq!(seen, 5);
            }
            Format::Clerk => {
                let validator = validator("clerk-create-user.schema.json");
                let payloads = json_lines(&first.files[0].path);
                assert_eq!(payloads.len(), 5);
                for payload in &payloads {
                    assert_valid(&validator, payload, "clerk");
                }
            }
            Format::Csv => {
                let text = read(Path::new(&first.files[0].path));
                assert_eq!(text.lines().count(), 7, "a header and every user");
                assert!(text.starts_with("id,email,full_name,role,disabled,is_verified,is_service,app_id,created_date,updated_date,"));
            }
            Format::Postgres => {
                assert_eq!(first.files.len(), 2);
                assert_eq!(first.sign_in.login_tokens, 6);
            }
        }
    }
    schema.drop().await;
}

fn users_has(users: &BTreeMap<String, Value>, id: &Value) -> bool {
    id.as_str().is_some_and(|id| users.contains_key(id))
}

/// Every row of a table as JSON text, in id order.
async fn dump(schema: &mut TestSchema, table: &str) -> Vec<String> {
    let sql = format!(
        "SELECT to_jsonb(t)::text AS row FROM \"{}\".\"{table}\" AS t ORDER BY t.id",
        schema.name
    );
    sqlx::query(&sql)
        .fetch_all(&mut schema.connection)
        .await
        .unwrap_or_else(|error| panic!("{sql}: {error}"))
        .iter()
        .map(|row| row.try_get::<String, _>("row").unwrap_or_default())
        .collect()
}

/// The foreign keys of the schema: name, definition, validated.
async fn foreign_keys(schema: &mut TestSchema) -> Vec<(String, String, bool)> {
    let sql = "SELECT conname::text AS name, pg_get_constraintdef(oid) AS definition, convalidated \
               FROM pg_constraint WHERE contype = 'f' AND connamespace = to_regnamespace($1) ORDER BY 1";
    sqlx::query(sql)
        .bind(&schema.name)
        .fetch_all(&mut schema.connection)
        .await
        .unwrap_or_else(|error| panic!("{error}"))
        .iter()
        .map(|row| {
            (
                row.try_get("name").unwrap_or_default(),
                row.try_get("definition").unwrap_or_default(),
                row.try_get("convalidated").unwrap_or_default(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rewrite_plan_puts_the_new_ids_into_the_loaded_tables_once() {
    let mut schema = TestSchema::new("users_rewrite").await;
    let (_folder, workspace) = loaded(&schema).await;
    let keys_before = foreign_keys(&mut schema).await;
    assert!(
        !keys_before.is_empty(),
        "the fixture's references have foreign keys"
    );
    let summary = exported(&workspace, Format::Supabase, &schema.name, true).await;

    // The map, in the database too.
    let map: IdMap = serde_json::from_str(&read(&id_map_path(&workspace)))
        .unwrap_or_else(|error| panic!("{error}"));
    let written = summary
        .ids
        .user_map
        .as_ref()
        .unwrap_or_else(|| panic!("no map written to the database"));
    assert_eq!(written.rows, 6);
    let in_database: Vec<(String, String, Option<String>)> = sqlx::query(
        "SELECT base44_id, new_id, email FROM offbase.user_map WHERE pg_schema = $1 AND provider = 'supabase' ORDER BY base44_id",
    )
    .bind(&schema.name)
    .fetch_all(&mut schema.connection)
    .await
    .unwrap_or_else(|error| panic!("{error}"))
    .iter()
    .map(|row| {
        (
            row.try_get("base44_id").unwrap_or_default(),
            row.try_get("new_id").unwrap_or_default(),
            row.try_get("email").unwrap_or_default(),
        )
    })
    .collect();
    let expected_map: Vec<(String, String, Option<String>)> = map
        .users
        .iter()
        .map(|entry| {
            (
                entry.base44_id.clone(),
                entry.new_id.clone(),
                entry.email.clone(),
            )
        })
        .collect();
    assert_eq!(in_database, expected_map);
    let new_id: BTreeMap<String, String> = map
        .users
        .iter()
        .map(|entry| (entry.base44_id.clone(), entry.new_id.clone()))
        .collect();
    let mapped = |value: &Value| -> Option<String> {
        value
            .as_str()
            .map(|old| new_id.get(old).cloned().unwrap_or_else(|| old.to_owned()))
    };

    psql(&rewrite_plan_path(&workspace));

    // Every user's row has its new id.
    let user_ids: Vec<String> = sqlx::query(&format!(
        "SELECT id FROM \"{}\".\"user\" ORDER BY id",
        schema.name
    ))
    .fetch_all(&mut schema.connection)
    .await
    .unwrap_or_else(|error| panic!("{error}"))
    .iter()
    .map(|row| row.try_get("id").unwrap_or_default())
    .collect();
    let mut expected_users: Vec<String> = new_id.values().cloned().collect();
    expected_users.sort();
    assert_eq!(user_ids, expected_users);

    // Tasks: the id, the array of ids and the creator rewritten (orphans, `anonymous` and a
    // service writer kept); the emails untouched.
    let sql = format!(
        "SELECT id, user_id, user_ids, created_by_id, created_by, assignee_email, reviewer_email FROM \"{}\".task",
        schema.name
    );
    let rows = sqlx::query(&sql)
        .fetch_all(&mut schema.connection)
        .await
        .unwrap_or_else(|error| panic!("{error}"));
    let tasks = fixture_records("Task");
    assert_eq!(rows.len(), tasks.len());
    for row in &rows {
        let id: String = row.try_get("id").unwrap_or_default();
        let task = &tasks[&id];
        let user_id: Option<String> = row.try_get("user_id").unwrap_or_default();
        assert_eq!(user_id, mapped(&task["user_id"]), "task {id} user_id");
        let array: Option<Vec<Option<String>>> = row.try_get("user_ids").unwrap_or_default();
        let expected_array: Option<Vec<Option<String>>> = task["user_ids"]
            .as_array()
            .map(|items| items.iter().map(&mapped).collect());
        assert_eq!(array, expected_array, "task {id} user_ids");
        let creator: Option<String> = row.try_get("created_by_id").unwrap_or_default();
        assert_eq!(
            creator,
            mapped(&task["created_by_id"]),
            "task {id} created_by_id"
        );
        for email in ["created_by", "assignee_email", "reviewer_email"] {
            let value: Option<String> = row.try_get(email).unwrap_or_default();
            assert_eq!(
                value.as_deref(),
                task[email].as_str(),
                "task {id} {email} is kept"
            );
        }
    }
    assert!(
        rows.iter().any(|row| {
            row.try_get::<Option<String>, _>("user_id")
                .ok()
                .flatten()
                .is_some_and(|value| value == "6affffffffffffffffffffff")
        }),
        "the orphan is still there"
    );

    // Comments: the id named by the description, and the creator.
    let sql = format!(
        "SELECT id, author_id, created_by_id, author_email FROM \"{}\".comment",
        schema.name
    );
    let comments = fixture_records("Comment");
    for row in sqlx::query(&sql)
        .fetch_all(&mut schema.connection)
        .await
        .unwrap_or_else(|error| panic!("{error}"))
    {
        let id: String = row.try_get("id").unwrap_or_default();
        let comment = &comments[&id];
        let author: Option<String> = row.try_get("author_id").unwrap_or_default();
        assert_eq!(author, mapped(&comment["author_id"]), "comment {id}");
        let creator: Option<String> = row.try_get("created_by_id").unwrap_or_default();
        assert_eq!(creator, mapped(&comment["created_by_id"]), "comment {id}");
        let email: Option<String> = row.try_get("author_email").unwrap_or_default();
        assert_eq!(email.as_deref(), comment["author_email"].as_str());
    }

    // The foreign keys are back as they were, and still hold.
    assert_eq!(foreign_keys(&mut schema).await, keys_before);

    // A second run finds no Base44 id left: nothing changes.
    let mut before = Vec::new();
    for table in ["user", "task", "comment"] {
        before.push(dump(&mut schema, table).await);
    }
    psql(&rewrite_plan_path(&workspace));
    let mut after = Vec::new();
    for table in ["user", "task", "comment"] {
        after.push(dump(&mut schema, table).await);
    }
    assert_eq!(after, before);
    assert_eq!(foreign_keys(&mut schema).await, keys_before);

    let sql = "DELETE FROM offbase.user_map WHERE pg_schema = $1";
    sqlx::query(sql)
        .bind(&schema.name)
        .execute(&mut schema.connection)
        .await
        .unwrap_or_else(|error| panic!("{error}"));
    schema.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_postgres_users_table_signs_a_user_in_once_with_its_token() {
    let loaded_schema = TestSchema::new("users_source").await;
    let (_folder, workspace) = loaded(&loaded_schema).await;
    let mut table_schema = TestSchema::new("users_table").await;
    let summary = exported(&workspace, Format::Postgres, &table_schema.name, false).await;
    let sql_file = summary
        .files
        .iter()
        .find(|file| file.path.ends_with("users.sql"))
        .map(|file| PathBuf::from(&file.path))
        .unwrap_or_else(|| panic!("no users.sql"));
    psql(&sql_file);
    let users = fixture_records("User");
    let rows = sqlx::query(&format!(
        "SELECT id, email, role, password_hash, data, login_token_sha256 FROM \"{}\".users ORDER BY id",
        table_schema.name
    ))
    .fetch_all(&mut table_schema.connection)
    .await
    .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(rows.len(), users.len());
    let secrets: BTreeMap<String, String> =
        serde_json::from_str(&read(&fixtures().join("planted-secrets.json")))
            .unwrap_or_else(|error| panic!("{error}"));
    for row in &rows {
        let id: String = row.try_get("id").unwrap_or_default();
        let user = &users[&id];
        let email: Option<String> = row.try_get("email").unwrap_or_default();
        assert_eq!(email.as_deref(), user["email"].as_str());
        let data: Value = row.try_get("data").unwrap_or_default();
        assert!(data.get("totp_secret").is_none() && data.get("api_key_encrypted").is_none());
        assert_eq!(
            data.get("salon_id"),
            user.get("salon_id").filter(|value| !value.is_null())
        );
        let hash: Option<String> = row.try_get("password_hash").unwrap_or_default();
        let expected = match id.as_str() {
            "6a0000000000000000000001" => Some(secrets["ann_password"].clone()),
            "6a0000000000000000000002" => Some(secrets["bob_pin"].clone()),
            _ => None,
        };
        assert_eq!(hash, expected, "user {id}");
    }

    // Each token signs its user in once.
    let tokens_file = Path::new(&summary.out).join("login-tokens.csv");
    let tokens = read(&tokens_file);
    let mut lines = tokens.lines();
    assert_eq!(lines.next(), Some("id,email,login_token"));
    let sign_in = format!(
        "UPDATE \"{}\".users SET login_token_used_at = now() \
         WHERE login_token_sha256 = encode(sha256(convert_to($1, 'UTF8')), 'hex') \
         AND login_token_used_at IS NULL RETURNING id",
        table_schema.name
    );
    let mut signed_in = 0;
    for line in lines {
        let fields: Vec<&str> = line.split(',').collect();
        let (id, token) = (fields[0], fields[fields.len() - 1]);
        assert_eq!(token.len(), 64, "32 random bytes in hex");
        let first: Option<String> = sqlx::query(&sign_in)
            .bind(token)
            .fetch_optional(&mut table_schema.connection)
            .await
            .unwrap_or_else(|error| panic!("{error}"))
            .map(|row| row.try_get("id").unwrap_or_default());
        assert_eq!(first.as_deref(), Some(id));
        let again = sqlx::query(&sign_in)
            .bind(token)
            .fetch_optional(&mut table_schema.connection)
            .await
            .unwrap_or_else(|error| panic!("{error}"));
        assert!(again.is_none(), "a token signs in once");
        signed_in += 1;
    }
    assert_eq!(signed_in, users.len());
    assert!(
        !read(&sql_file).contains(
            tokens
                .lines()
                .nth(1)
                .and_then(|line| line.rsplit(',').next())
                .unwrap_or("no token")
        )
    );
    table_schema.drop().await;
    loaded_schema.drop().await;
}

/// Stages `folder` (CSV exports, or an app folder with seeds) with the fixture app's schemas
/// into a bundle: no database needed.
async fn bundled(folder: PathBuf) -> (tempfile::TempDir, Workspace) {
    use offbase_pipeline::load::bundle::BundleOptions;
    let temporary = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    let workspace = Workspace::new(temporary.path().join("ws"));
    let options = MigrateOptions {
        source: MigrateSource::Folder {
            folder,
            schema_from: Some(fixtures().join("app")),
        },
        workspace: workspace.clone(),
        mappings: None,
        destination: Destination::Bundle {
            path: temporary.path().join("bundle.sql"),
            options: BundleOptions {
                pg_schema: "bundled".into(),
                mappings: None,
                relax: Default::default(),
                rewrite_urls: false,
                rls: Default::default(),
            },
        },
        files: None,
    };
    migrate(&options, Arc::new(NoProgress))
        .await
        .unwrap_or_else(|error| panic!("migrate: {error}"));
    (temporary, workspace)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_from_a_dashboard_csv_export_and_from_seed_files() {
    // The dashboard's User export: no `role` column (its `_app_role` is the role), and
    // `force_password_reset`, `disabled_reason`, `collaborator_role` kept as platform data.
    let (_csv_folder, workspace) = bundled(fixtures().join("csv")).await;
    let summary = exported(&workspace, Format::Supabase, "public", false).await;
    assert_eq!((summary.users, summary.exported), (2, 2));
    assert_eq!(summary.ids.app_id.as_deref(), Some(APP_ID));
    assert_eq!(summary.sign_in.keep_password, 1);
    assert_eq!(summary.sign_in.forced_reset, 1);
    assert_eq!(summary.sign_in.disabled, 1);
    let payloads = json_lines(&summary.files[0].path);
    let supabase_schema = validator("supabase-admin-create-user.schema.json");
    for payload in &payloads {
        assert_valid(&supabase_schema, payload, "supabase from csv");
    }
    assert_eq!(payloads[0]["app_metadata"]["role"], "admin");
    assert_eq!(
        payloads[1]["app_metadata"]["base44"]["disabled_reason"],
        "spam"
    );
    assert_eq!(payloads[1]["ban_duration"], "876000h");

    // Seeds: ids like `seed-user-1` are free text for Clerk and Auth0, and the app id of the
    // seeds' app makes the Supabase ids.
    let (_seed_folder, workspace) = bundled(fixtures().join("seeds")).await;
    let clerk = exported(&workspace, Format::Clerk, "public", false).await;
    let payloads = json_lines(&clerk.files[0].path);
    assert_eq!(payloads.len(), 2);
    let clerk_schema = validator("clerk-create-user.schema.json");
    for payload in &payloads {
        assert_valid(&clerk_schema, payload, "clerk from seeds");
    }
    assert_eq!(payloads[0]["external_id"], "seed-user-1");
    assert_eq!(payloads[0]["password_hasher"], "bcrypt");
    assert_eq!(payloads[1]["skip_password_requirement"], true);
    let mut options = ExportOptions::new(Format::Supabase);
    match export(&workspace, &options, &NoProgress).await {
        Err(error) => assert!(error.to_string().contains("--app-id"), "{error}"),
        Ok(summary) => panic!("no app id is known, yet: {summary:?}"),
    }
    options.app_id = Some(APP_ID.to_owned());
    let supabase = export(&workspace, &options, &NoProgress)
        .await
        .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(supabase.ids.app_id_from.as_deref(), Some("--app-id"));
    let payloads = json_lines(&supabase.files[0].path);
    assert_eq!(
        payloads[0]["id"],
        user_uuid(APP_ID, "seed-user-1").to_string()
    );
}
