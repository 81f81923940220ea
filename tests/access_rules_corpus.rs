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

use offbase_pg::query::{WriteAttempt, attempt_write};
use offbase_pipeline::load::LoadOptions;
use offbase_pipeline::migrate::{Destination, MigrateOptions, MigrateSource, migrate};
use offbase_pipeline::plan::PlanOutput;
use offbase_pipeline::progress::{NoProgress, Reporter};
use offbase_pipeline::workspace::Workspace;
use offbase_sql::{Section, quote_identifier};
use offbase_tests::{EMULATOR_KEY, TestSchema, corpus_apps_or_skip, database_url, plan_app};
use serde_json::{Map, Value};
use sqlx::Row;
use sqlx::postgres::PgConnection;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[path = "support/rules_data.rs"]
mod rules_data;

use rules_data::rules_data;

/// Who a request runs as: an anonymous visitor or one of the generated users.
#[derive(Debug, Clone)]
enum Who {
    Anonymous,
    User {
        id: String,
        email: String,
        role: Option<String>,
        token: String,
    },
}

impl std::fmt::Display for Who {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Who::Anonymous => formatter.write_str("anonymous"),
            Who::User { email, role, .. } => {
                write!(
                    formatter,
                    "{email} (role {})",
                    role.as_deref().unwrap_or("none")
                )
            }
        }
    }
}

/// What one backend did with a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Allowed,
    Denied,
    /// Refused for a reason that is no rule's (a validation error): not compared.
    Inconclusive,
}

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

/// The names of a table's id, `created_by` and `created_by_id` columns.
struct Columns {
    table: String,
    id: String,
    created_by: Option<String>,
    created_by_id: Option<String>,
}

impl Columns {
    fn of(output: &PlanOutput, entity: &str) -> Option<Columns> {
        let table = output.target.table_for_entity(entity)?;
        let column = |field: &str| {
            table
                .column_for_field(field)
                .map(|column| column.name.clone())
        };
        Some(Columns {
            table: table.name.clone(),
            id: column("id")?,
            created_by: column("created_by"),
            created_by_id: column("created_by_id"),
        })
    }
}

/// The PostgreSQL side: the session acting as a user (the rules' role and the user's session
/// settings), each write tried and rolled back by `offbase_pg::query::attempt_write`, the
/// function `diff behaviour --writes` tries writes with.
struct Postgres<'c> {
    connection: &'c mut PgConnection,
    schema: String,
}

impl Postgres<'_> {
    async fn act_as(&mut self, who: &Who) {
        use offbase_sql::rls::{USER_EMAIL_SETTING, USER_ID_SETTING, USER_ROLE_SETTING};
        let (role, settings) = match who {
            Who::Anonymous => (
                offbase_sql::rls::ANONYMOUS_ROLE,
                [
                    (USER_ID_SETTING, ""),
                    (USER_EMAIL_SETTING, ""),
                    (USER_ROLE_SETTING, ""),
                ],
            ),
            Who::User {
                id, email, role, ..
            } => (
                offbase_sql::rls::SIGNED_IN_ROLE,
                [
                    (USER_ID_SETTING, id.as_str()),
                    (USER_EMAIL_SETTING, email.as_str()),
                    (USER_ROLE_SETTING, role.as_deref().unwrap_or_default()),
                ],
            ),
        };
        if let Err(error) = offbase_pg::query::act_as(self.connection, role, &settings).await {
            panic!("act as {who}: {error}");
        }
    }

    /// Back to the migration user, to drop the schema.
    async fn reset(&mut self) {
        if let Err(error) = sqlx::raw_sql("RESET ROLE")
            .execute(&mut *self.connection)
            .await
        {
            panic!("RESET ROLE: {error}");
        }
    }

    async fn read(&mut self, columns: &Columns) -> Result<BTreeSet<String>, String> {
        let sql = format!(
            "SELECT {}::text FROM {}.{}",
            quote_identifier(&columns.id),
            quote_identifier(&self.schema),
            quote_identifier(&columns.table)
        );
        match sqlx::query(&sql).fetch_all(&mut *self.connection).await {
            Ok(rows) => Ok(rows
                .iter()
                .filter_map(|row| row.try_get::<String, _>(0).ok())
                .collect()),
            Err(error) => Err(error.to_string()),
        }
    }

    async fn write(
        &mut self,
        who: &Who,
        columns: &Columns,
        id: &str,
        attempt: WriteAttempt<'_>,
    ) -> Verdict {
        match attempt_write(
            self.connection,
            &self.schema,
            &columns.table,
            &columns.id,
            id,
            attempt,
        )
        .await
        {
            Ok(true) => Verdict::Allowed,
            Ok(false) => Verdict::Denied,
            Err(error) => panic!("{who}: {attempt:?} {}/{id}: {error}", columns.table),
        }
    }

    /// The columns a create of a copy of a record replaces: a new id, and the creator as the
    /// platform stamps a create (the user's email and id; `anonymous` and no id for a visitor).
    fn created_by(who: &Who, columns: &Columns, id: &str) -> Value {
        let (email, user_id) = match who {
            Who::Anonymous => (Value::String("anonymous".to_owned()), Value::Null),
            Who::User { id, email, .. } => {
                (Value::String(email.clone()), Value::String(id.clone()))
            }
        };
        let mut replaced = Map::new();
        replaced.insert(columns.id.clone(), Value::String(format!("{id}-copy")));
        if let Some(column) = &columns.created_by {
            replaced.insert(column.clone(), email);
        }
        if let Some(column) = &columns.created_by_id {
            replaced.insert(column.clone(), user_id);
        }
        Value::Object(replaced)
    }
}

/// The emulator side, over HTTP.
struct Emulator {
    http: reqwest::Client,
    base: String,
    /// The staged app it serves, to start it afresh.
    folder: PathBuf,
    running: Option<offbase_emulator::RunningEmulator>,
}

impl Emulator {
    async fn start(folder: &Path) -> Emulator {
        let running = offbase_tests::start_emulator(folder, None).await;
        Emulator {
            http: reqwest::Client::new(),
            base: format!(
                "{}/api/apps/{}/entities",
                running.api_url(),
                running.app_id()
            ),
            folder: folder.to_path_buf(),
            running: Some(running),
        }
    }

    fn running(&self) -> &offbase_emulator::RunningEmulator {
        self.running
            .as_ref()
            .unwrap_or_else(|| panic!("the emulator is stopped"))
    }

    /// Starts the emulator afresh from the staged app: how a deleted user comes back (the
    /// platform has no trash for users).
    async fn restart(&mut self) {
        if let Some(running) = self.running.take() {
            running.shutdown().await;
        }
        *self = Emulator::start(&self.folder).await;
    }

    async fn stop(mut self) {
        if let Some(running) = self.running.take() {
            running.shutdown().await;
        }
    }

    fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        who: Option<&Who>,
    ) -> reqwest::RequestBuilder {
        let request = self.http.request(method, format!("{}/{path}", self.base));
        match who {
            None => request.header("api_key", EMULATOR_KEY),
            Some(Who::Anonymous) => request,
            Some(Who::User { token, .. }) => request.bearer_auth(token),
        }
    }

    async fn send(request: reqwest::RequestBuilder) -> (u16, Value) {
        let response = request
            .send()
            .await
            .unwrap_or_else(|error| panic!("the emulator: {error}"));
        let status = response.status().as_u16();
        let bytes = response.bytes().await.unwrap_or_default();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (status, body)
    }

    fn verdict(status: u16) -> Verdict {
        match status {
            200..=299 => Verdict::Allowed,
            403 | 404 => Verdict::Denied,
            _ => Verdict::Inconclusive,
        }
    }

    async fn read(&self, who: &Who, entity: &str) -> Result<BTreeSet<String>, String> {
        let request = self
            .request(reqwest::Method::GET, entity, Some(who))
            .query(&[("limit", "5000")]);
        match Self::send(request).await {
            (200, Value::Array(records)) => Ok(records
                .iter()
                .filter_map(|record| record.get("id").and_then(Value::as_str))
                .map(str::to_owned)
                .collect()),
            (status, body) => Err(format!("HTTP {status}: {body}")),
        }
    }

    async fn update(&self, who: &Who, entity: &str, id: &str) -> Verdict {
        let request = self
            .request(reqwest::Method::PUT, &format!("{entity}/{id}"), Some(who))
            .header("content-type", "application/json")
            .body("{}");
        Self::verdict(Self::send(request).await.0)
    }

    /// A delete, undone (restored from the trash, or a user by a fresh start) when it went
    /// through.
    async fn delete(&mut self, who: &Who, entity: &str, id: &str) -> Verdict {
        let path = format!("{entity}/{id}");
        let request = self.request(reqwest::Method::DELETE, &path, Some(who));
        let verdict = Self::verdict(Self::send(request).await.0);
        if verdict == Verdict::Allowed && entity == "User" {
            self.restart().await;
        } else if verdict == Verdict::Allowed {
            let restore = self.request(reqwest::Method::PUT, &format!("{path}/restore"), None);
            let (status, body) = Self::send(restore).await;
            assert_eq!(status, 200, "restore {path}: {body}");
        }
        verdict
    }

    /// The create of a record with `record`'s fields, erased again when it went through.
    async fn create_like(&self, who: &Who, entity: &str, record: &Map<String, Value>) -> Verdict {
        let body: Map<String, Value> = record
            .iter()
            .filter(|(name, _)| {
                !matches!(
                    name.as_str(),
                    "id" | "created_date" | "updated_date" | "created_by" | "created_by_id"
                )
            })
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect();
        let request = self
            .request(reqwest::Method::POST, entity, Some(who))
            .header("content-type", "application/json")
            .body(Value::Object(body).to_string());
        let (status, created) = Self::send(request).await;
        let verdict = Self::verdict(status);
        if verdict == Verdict::Allowed {
            let id = created
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let mut erase = vec![format!("{entity}/{id}")];
            if entity != "User" {
                erase.push(format!("{entity}/{id}/permanent"));
            }
            for path in erase {
                let method = reqwest::Method::DELETE;
                let (status, body) = Self::send(self.request(method, &path, None)).await;
                assert_eq!(status, 200, "erase {path}: {body}");
            }
        }
        verdict
    }
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
