//! The access rules of every corpus app with rules, enforced two ways and compared: PostgreSQL
//! under the plan's policies (each statement as the user's role with their session settings,
//! rolled back) and the emulator over HTTP (each request with the user's token, or none for
//! an anonymous visitor; writes it allows are undone with the API key). Users and records
//! come from the rules themselves (`offbase_tests::rules_data`): an admin, plain users, every
//! custom role the rules name, a user without a role, and records owned by each of them, so
//! every rule meets records it allows and records it denies. For every entity and every user:
//! the ids read are equal, and each record's update and delete, and the create of a record
//! like it, are allowed or denied alike. A wrong translation planted in one policy is caught
//! by the same comparison.
//!
//! Skipped (and said) on a clone without the corpus beside it, unless OFFBASE_REQUIRE_CORPUS=1.

use offbase_pg::query::WriteAttempt;
use offbase_pipeline::load::LoadOptions;
use offbase_pipeline::migrate::{Destination, MigrateOptions, MigrateSource, migrate};
use offbase_pipeline::plan::PlanOutput;
use offbase_pipeline::progress::{NoProgress, Reporter};
use offbase_pipeline::workspace::Workspace;
use offbase_sql::{Section, quote_identifier};
use offbase_tests::{TestSchema, corpus_apps_or_skip, database_url, plan_app};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[path = "support/rules_backends.rs"]
mod rules_backends;
#[path = "support/rules_data.rs"]
mod rules_data;

use rules_backends::{Columns, Emulator, Postgres, Verdict, Who};
use rules_data::rules_data;

/// The figures of a run, printed at the end.
#[derive(Debug, Default, Clone, Copy)]
struct Tally {
    apps: usize,
    entities: usize,
    users: usize,
    reads: usize,
    writes: usize,
    allowed: usize,
    denied: usize,
    inconclusive: usize,
}

impl Tally {
    fn add(&mut self, other: &Tally) {
        self.apps += other.apps;
        self.entities += other.entities;
        self.users += other.users;
        self.reads += other.reads;
        self.writes += other.writes;
        self.allowed += other.allowed;
        self.denied += other.denied;
        self.inconclusive += other.inconclusive;
    }
}

/// The corpus apps with access rules (entity or field `rls`), sorted.
fn apps_with_rules(root: &Path) -> Vec<PathBuf> {
    let mut apps: Vec<PathBuf> = match std::fs::read_dir(root) {
        Ok(entries) => entries
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .filter(|path| path.is_dir())
            .collect(),
        Err(error) => panic!("the corpus is missing at {}: {error}", root.display()),
    };
    apps.sort();
    apps.retain(|app| plan_app(app, None).access.enforced());
    apps
}

/// A folder holding the app's schemas (as the plan read them) and the generated records, in
/// the layout both `migrate` and the emulator read.
fn staged_app(output: &PlanOutput, folder: &Path) -> BTreeMap<String, Vec<Map<String, Value>>> {
    let entities = folder.join("base44/entities");
    let data = folder.join("data");
    for dir in [&entities, &data] {
        std::fs::create_dir_all(dir).unwrap_or_else(|error| panic!("{error}"));
    }
    for entity in &output.app.entities {
        let schema = offbase_base44::schema::entity_schema_json(entity);
        std::fs::write(
            entities.join(format!("{}.json", entity.name)),
            schema.to_string(),
        )
        .unwrap_or_else(|error| panic!("{error}"));
    }
    let generated = rules_data(&output.app, &output.target, 44);
    for (entity, records) in &generated.records {
        write_records(&data.join(format!("{entity}.jsonl")), records);
    }
    generated.records
}

fn write_records(path: &Path, records: &[Map<String, Value>]) {
    let mut text = String::new();
    for record in records {
        text.push_str(&Value::Object(record.clone()).to_string());
        text.push('\n');
    }
    std::fs::write(path, text).unwrap_or_else(|error| panic!("{error}"));
}

/// Loads the staged app into `schema` (records, then the access rules after post-load);
/// removes the records the load rejected from the staged data, so the emulator serves what
/// PostgreSQL holds; returns how many it removed.
async fn load(folder: &Path, mapping: Option<&Path>, schema: &TestSchema) -> usize {
    let workspace = Workspace::new(folder.join("workspace"));
    let options = MigrateOptions {
        files: None,
        source: MigrateSource::Folder {
            folder: folder.to_path_buf(),
            schema_from: None,
        },
        workspace: workspace.clone(),
        mappings: mapping.map(|path| {
            offbase_pipeline::target::MappingFile::read(path)
                .unwrap_or_else(|error| panic!("{error}"))
        }),
        destination: Destination::Database(LoadOptions::new(database_url(), &schema.name)),
    };
    let reporter: Arc<dyn Reporter> = Arc::new(NoProgress);
    if let Err(error) = migrate(&options, reporter).await {
        panic!("migrate {}: {error}", folder.display());
    }
    let mut removed = 0;
    let data = folder.join("data");
    let entries = std::fs::read_dir(&data).unwrap_or_else(|error| panic!("{error}"));
    for entry in entries.filter_map(Result::ok) {
        let path = entry.path();
        let entity = path
            .file_stem()
            .map(|stem| stem.to_string_lossy().into_owned())
            .unwrap_or_default();
        let rejects = workspace.rejects_path("", &entity);
        let Ok(text) = std::fs::read_to_string(&rejects) else {
            continue;
        };
        let rejected: BTreeSet<String> = text
            .lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .filter_map(|line| line.get("id").and_then(Value::as_str).map(str::to_owned))
            .collect();
        let kept: Vec<Map<String, Value>> = std::fs::read_to_string(&path)
            .unwrap_or_default()
            .lines()
            .filter_map(|line| match serde_json::from_str(line) {
                Ok(Value::Object(record)) => Some(record),
                _ => None,
            })
            .filter(|record| {
                let id = record.get("id").and_then(Value::as_str).unwrap_or_default();
                !rejected.contains(id)
            })
            .collect();
        removed += rejected.len();
        write_records(&path, &kept);
    }
    removed
}

/// The users of the staged data, each with the emulator's token for them.
fn people(
    records: &BTreeMap<String, Vec<Map<String, Value>>>,
    emulator: &offbase_emulator::RunningEmulator,
) -> Vec<Who> {
    let mut whos = vec![Who::Anonymous];
    for user in records.get("User").into_iter().flatten() {
        let text = |name: &str| user.get(name).and_then(Value::as_str).map(str::to_owned);
        let (Some(id), Some(email)) = (text("id"), text("email")) else {
            continue;
        };
        whos.push(Who::User {
            token: emulator.user_token(&id),
            id,
            email,
            role: text("role"),
        });
    }
    whos
}

/// Every difference between the two backends on the entities of `only` (all when `None`).
async fn compare(
    output: &PlanOutput,
    records: &BTreeMap<String, Vec<Map<String, Value>>>,
    whos: &[Who],
    postgres: &mut Postgres<'_>,
    emulator: &mut Emulator,
    only: Option<&str>,
    tally: &mut Tally,
) -> Vec<String> {
    let mut found = Vec::new();
    for entity in &output.app.entities {
        if only.is_some_and(|only| only != entity.name) {
            continue;
        }
        let Some(columns) = Columns::of(output, &entity.name) else {
            continue;
        };
        let entity_records = records.get(&entity.name).cloned().unwrap_or_default();
        tally.entities += 1;
        for (position, who) in whos.iter().enumerate() {
            postgres.act_as(who).await;
            let (old, new) =
                tokio::join!(emulator.read(who, &entity.name), postgres.read(&columns));
            tally.reads += 1;
            if old != new {
                found.push(format!(
                    "{who} reads {}: the emulator gives {old:?}, PostgreSQL {new:?}",
                    entity.name
                ));
            }
            // An entity without rules (nor the built-in ones of `User`) is open to everyone:
            // one record tells whether both backends let every write through.
            let open = entity.rls.is_none()
                && !entity.is_user()
                && entity.fields.iter().all(|field| field.rls.is_none());
            // Field rules differ by design (the platform hides or refuses a field where
            // PostgreSQL enforces only the constant rules, by column privileges: see
            // docs/access-rules.md): such an entity's reads are compared, not its writes.
            let field_rules = entity.fields.iter().any(|field| field.rls.is_some());
            let picked = if field_rules {
                BTreeSet::new()
            } else {
                picks(position, entity_records.len(), open)
            };
            for record in picked.iter().filter_map(|index| entity_records.get(*index)) {
                let Some(id) = record.get("id").and_then(Value::as_str) else {
                    continue;
                };
                let replaced = Postgres::created_by(who, &columns, id);
                // Each backend's answer to the same request, asked at once.
                let (old_update, new_update) = tokio::join!(
                    emulator.update(who, &entity.name, id),
                    postgres.write(who, &columns, id, WriteAttempt::Update)
                );
                let (old_delete, new_delete) = tokio::join!(
                    emulator.delete(who, &entity.name, id),
                    postgres.write(who, &columns, id, WriteAttempt::Delete)
                );
                let (old_create, new_create) = tokio::join!(
                    emulator.create_like(who, &entity.name, record),
                    postgres.write(
                        who,
                        &columns,
                        id,
                        WriteAttempt::CreateLike {
                            replaced: &replaced
                        }
                    )
                );
                let outcomes = [
                    ("update", old_update, new_update),
                    ("delete", old_delete, new_delete),
                    ("create", old_create, new_create),
                ];
                for (operation, old, new) in outcomes {
                    tally.writes += 1;
                    match (old, new) {
                        (Verdict::Inconclusive, _) | (_, Verdict::Inconclusive) => {
                            tally.inconclusive += 1;
                        }
                        (old, new) if old == new => {
                            if old == Verdict::Allowed {
                                tally.allowed += 1;
                            } else {
                                tally.denied += 1;
                            }
                        }
                        (old, new) => found.push(format!(
                            "{who}: {operation} {}/{id}: the emulator {old:?}, PostgreSQL {new:?}",
                            entity.name
                        )),
                    }
                }
            }
        }
    }
    postgres.reset().await;
    found
}

/// The records a user's writes are tried on: for the user at `position` of the people
/// (0: the anonymous visitor), their own two records (records are made two per user, in the
/// same order, then two of a stranger), the next user's first, and the stranger's two; on
/// an entity open to everyone, the first record alone.
fn picks(position: usize, records: usize, open: bool) -> BTreeSet<usize> {
    if open {
        return BTreeSet::from([0]);
    }
    let own = 2 * position.saturating_sub(1);
    [
        own,
        own + 1,
        own + 2,
        records.saturating_sub(2),
        records.saturating_sub(1),
    ]
    .into_iter()
    .filter(|index| *index < records)
    .collect()
}

/// What the comparison of one app found.
#[derive(Debug, Default)]
struct AppOutcome {
    tally: Tally,
    differences: Vec<String>,
    /// Generated records the load rejected.
    removed: usize,
    /// The entity a wrong policy was planted on, and what the comparison then found.
    planted: Option<(String, Vec<String>)>,
}

/// Stages, loads and compares one app; then plants a wrong owner test (the user's id where
/// the rule compares the email, or the other way) in one read policy, when the app has one,
/// and compares that entity again.
async fn check_app(app: PathBuf, mapping: Option<PathBuf>) -> AppOutcome {
    let name = app
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let folder = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    let original = plan_app(&app, mapping.as_deref());
    staged_app(&original, folder.path());
    // Planned again from the staged schemas: what migrate and the emulator read.
    let output = plan_app(folder.path(), mapping.as_deref());
    assert_eq!(
        output.access.statements, original.access.statements,
        "{name}: the staged schemas plan other policies"
    );
    let mut schema = TestSchema::new("rules_corpus").await;
    let mut outcome = AppOutcome {
        removed: load(folder.path(), mapping.as_deref(), &schema).await,
        ..AppOutcome::default()
    };
    let records = read_staged(folder.path());
    let mut emulator = Emulator::start(folder.path()).await;
    let whos = people(&records, emulator.running());
    outcome.tally.apps = 1;
    outcome.tally.users = whos.len();
    let schema_name = schema.name.clone();
    let mut postgres = Postgres {
        connection: &mut schema.connection,
        schema: schema_name.clone(),
    };
    let differences = compare(
        &output,
        &records,
        &whos,
        &mut postgres,
        &mut emulator,
        None,
        &mut outcome.tally,
    )
    .await;
    outcome.differences = differences
        .into_iter()
        .map(|line| format!("{name}: {line}"))
        .collect();
    if let Some((table, entity, swapped)) = owner_policy(&output) {
        let plant = format!(
            "SET search_path TO {}; DROP POLICY \"offbase_read\" ON {table}; {swapped}; RESET search_path",
            quote_identifier(&schema_name)
        );
        if let Err(error) = sqlx::raw_sql(&plant)
            .execute(&mut *postgres.connection)
            .await
        {
            panic!("{plant}: {error}");
        }
        let caught = compare(
            &output,
            &records,
            &whos,
            &mut postgres,
            &mut emulator,
            Some(&entity),
            &mut Tally::default(),
        )
        .await;
        outcome.planted = Some((format!("{name}: {entity}"), caught));
    }
    emulator.stop().await;
    schema.drop().await;
    outcome
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_corpus_apps_rules_answer_alike_on_postgres_and_the_emulator() {
    let Some(root) =
        corpus_apps_or_skip("every_corpus_apps_rules_answer_alike_on_postgres_and_the_emulator")
    else {
        return;
    };
    // Three apps at a time: most of a comparison is waiting on a round trip. On this
    // thread (sqlx's futures are not `Send` to the compiler's eyes in a spawned task); the
    // emulators serve from the runtime's workers.
    const AT_ONCE: usize = 3;
    let local = tokio::task::LocalSet::new();
    let outcomes = local
        .run_until(async {
            let mut running = tokio::task::JoinSet::new();
            let mut outcomes = Vec::new();
            for app in apps_with_rules(&root) {
                if running.len() == AT_ONCE
                    && let Some(done) = running.join_next().await
                {
                    outcomes.push(done.unwrap_or_else(|error| panic!("{error}")));
                }
                running.spawn_local(check_app(app, None));
            }
            while let Some(done) = running.join_next().await {
                outcomes.push(done.unwrap_or_else(|error| panic!("{error}")));
            }
            outcomes
        })
        .await;
    let mut tally = Tally::default();
    let (mut found, mut removed, mut planted) = (Vec::new(), 0, Vec::new());
    for outcome in outcomes {
        tally.add(&outcome.tally);
        found.extend(outcome.differences);
        removed += outcome.removed;
        planted.extend(outcome.planted);
    }
    found.sort();
    let _ = writeln!(
        std::io::stderr(),
        "access rules, corpus: {} apps, {} entity tables, {} users and visitors; {} reads and {} writes compared ({} allowed, {} denied alike, {} refused for other reasons); {} generated records rejected by the load; a wrong owner policy planted in {} apps",
        tally.apps,
        tally.entities,
        tally.users,
        tally.reads,
        tally.writes,
        tally.allowed,
        tally.denied,
        tally.inconclusive,
        removed,
        planted.len()
    );
    assert!(
        found.is_empty(),
        "{} differences:\n{}",
        found.len(),
        found.join("\n")
    );
    assert_eq!(tally.apps, 15, "the corpus has 15 apps with rules");
    assert!(tally.allowed > 1_000 && tally.denied > 1_000, "{tally:?}");
    assert!(
        tally.inconclusive * 20 < tally.writes,
        "too many writes refused for other reasons: {tally:?}"
    );
    assert!(
        planted.len() >= 12,
        "only {} apps had an owner policy",
        planted.len()
    );
    for (entity, caught) in &planted {
        assert!(
            caught.iter().any(|line| line.contains(" reads ")),
            "the wrong policy planted on {entity} went unnoticed"
        );
    }
}

/// The staged records, by entity.
fn read_staged(folder: &Path) -> BTreeMap<String, Vec<Map<String, Value>>> {
    let mut records = BTreeMap::new();
    let entries = std::fs::read_dir(folder.join("data")).unwrap_or_else(|error| panic!("{error}"));
    for entry in entries.filter_map(Result::ok) {
        let path = entry.path();
        let entity = path
            .file_stem()
            .map(|stem| stem.to_string_lossy().into_owned())
            .unwrap_or_default();
        let lines = std::fs::read_to_string(&path)
            .unwrap_or_default()
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

/// A read policy that compares something with the user's email or id: its table, entity,
/// statement, and the statement with the one function swapped for the other (a wrong
/// translation).
fn owner_policy(output: &PlanOutput) -> Option<(String, String, String)> {
    let (email, id) = (
        "(SELECT \"offbase_user_email\"())",
        "(SELECT \"offbase_user_id\"())",
    );
    output.access.tables.iter().find_map(|access| {
        let table = quote_identifier(&access.table);
        let prefix = format!("CREATE POLICY \"offbase_read\" ON {table} ");
        let sql = output
            .sql
            .section(Section::AccessRules)
            .map(|statement| statement.sql.clone())
            .find(|sql| sql.starts_with(&prefix))?;
        let swapped = if sql.contains(email) {
            sql.replace(email, id)
        } else if sql.contains(id) {
            sql.replace(id, email)
        } else {
            return None;
        };
        Some((table, access.entity.clone(), swapped))
    })
}

/// The fixture app of `tests/access_rules.rs` holds every rule shape (`$in`, `$nin`, `$ne`,
/// `$all`, `$nor`, `$query` one and two levels deep, `{{user.data.x}}`, bare keys, templates
/// inside text, a junction table, the built-in `User` rules): its rules meet generated
/// users of every role and records made from the rules, compared the same way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fixtures_rules_answer_alike_for_generated_users() {
    let fixture = offbase_tests::repo_root().join("tests/fixtures/access-rules");
    let outcome = check_app(fixture.clone(), Some(fixture.join("mapping.toml"))).await;
    let tally = outcome.tally;
    let _ = writeln!(
        std::io::stderr(),
        "access rules, fixture: {} users and visitors; {} reads and {} writes compared ({} allowed, {} denied alike)",
        tally.users,
        tally.reads,
        tally.writes,
        tally.allowed,
        tally.denied
    );
    assert!(
        outcome.differences.is_empty(),
        "{}",
        outcome.differences.join("\n")
    );
    assert_eq!(outcome.removed, 0, "the load rejected generated records");
    assert!(tally.allowed > 100 && tally.denied > 100, "{tally:?}");
    assert_eq!(tally.inconclusive, 0, "{tally:?}");
    let (entity, caught) = outcome
        .planted
        .unwrap_or_else(|| panic!("no owner policy to plant"));
    assert!(
        caught.iter().any(|line| line.contains(" reads ")),
        "the wrong policy planted on {entity} went unnoticed"
    );
}

/// The samples' rules (owners by email and by id, `write` beside `create`, admins by
/// `user_condition`, a field rule on a marketplace order, the marketplace's `User` schema):
/// generated users and records, compared the same way. A sample without rules is left out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_samples_rules_answer_alike_for_generated_users() {
    let mut compared = Vec::new();
    for sample in ["crm", "marketplace", "tasks"] {
        let app = offbase_tests::sample(sample);
        if !plan_app(&app, None).access.enforced() {
            continue;
        }
        let outcome = check_app(app, None).await;
        assert!(
            outcome.differences.is_empty(),
            "{}",
            outcome.differences.join("\n")
        );
        assert_eq!(
            outcome.removed, 0,
            "{sample}: the load rejected generated records"
        );
        assert!(
            outcome.tally.allowed > 0 && outcome.tally.denied > 0,
            "{sample}: {:?}",
            outcome.tally
        );
        let (entity, caught) = outcome
            .planted
            .unwrap_or_else(|| panic!("{sample}: no owner policy to plant"));
        assert!(
            caught.iter().any(|line| line.contains(" reads ")),
            "the wrong policy planted on {entity} went unnoticed"
        );
        compared.push(sample);
    }
    assert_eq!(compared, ["crm", "marketplace", "tasks"]);
}
