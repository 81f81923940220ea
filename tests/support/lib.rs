//! Shared helpers for the end-to-end tests: where the samples and the corpus are, planning an
//! app in-process, and a private PostgreSQL schema per test.

use offbase_pipeline::plan::{PlanOutput, load_rules, plan};
use offbase_pipeline::progress::NoProgress;
use sqlx::postgres::PgConnection;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

pub mod browser;
pub mod python;
pub mod sdk;
pub mod smtp;
pub mod staging;

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

pub fn sample(name: &str) -> PathBuf {
    repo_root().join("samples").join(name)
}

pub const SAMPLES: [&str; 3] = ["crm", "tasks", "marketplace"];

/// The corpus of real Base44 schemas, beside the repository (`../shared/corpus/apps`).
pub fn corpus_apps() -> PathBuf {
    repo_root().join("../shared/corpus/apps")
}

/// The environment variable that makes a missing corpus fail the corpus tests (`.ci/run`
/// sets it: there the corpus is always beside the checkout).
pub const REQUIRE_CORPUS: &str = "OFFBASE_REQUIRE_CORPUS";

/// The corpus folder for `test`, or `None` when it is not beside this checkout (a fresh clone)
/// and [`REQUIRE_CORPUS`] is not `1`: then the test says on stderr that it skipped and why,
/// and should return. With [`REQUIRE_CORPUS`]`=1`, a missing corpus fails the test.
pub fn corpus_apps_or_skip(test: &str) -> Option<PathBuf> {
    let required = std::env::var(REQUIRE_CORPUS).is_ok_and(|value| value == "1");
    match corpus_presence(&corpus_apps(), required) {
        Ok(Some(root)) => Some(root),
        Ok(None) => {
            // Straight to stderr, past the test harness's capture, so every run shows it.
            let _ = writeln!(
                std::io::stderr(),
                "{test}: skipped: ../shared/corpus/apps is not beside this checkout (CI makes it mandatory: {REQUIRE_CORPUS}=1)"
            );
            None
        }
        Err(message) => panic!("{test}: {message}"),
    }
}

/// Whether the corpus at `root` is there: `Ok(Some)` when it is, `Ok(None)` to skip, `Err`
/// when it is `required` and missing.
fn corpus_presence(root: &Path, required: bool) -> Result<Option<PathBuf>, String> {
    if root.is_dir() {
        Ok(Some(root.to_path_buf()))
    } else if required {
        Err(format!(
            "the corpus is missing at {} and {REQUIRE_CORPUS}=1 makes it mandatory",
            root.display()
        ))
    } else {
        Ok(None)
    }
}

/// Plans an app with the default rules, or with a mapping file from `mappings/`.
pub fn plan_app(source: &Path, mappings: Option<&Path>) -> PlanOutput {
    let rules = match load_rules(mappings) {
        Ok(rules) => rules,
        Err(error) => panic!("mapping rules: {error}"),
    };
    match plan(source, &rules, &NoProgress) {
        Ok(output) => output,
        Err(error) => panic!("planning {}: {error}", source.display()),
    }
}

pub fn database_url() -> String {
    std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://root@127.0.0.1:5432/test".to_owned())
}

static SCHEMA_COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A PostgreSQL schema that belongs to one test: created empty, dropped by [`TestSchema::drop`].
#[derive(Debug)]
pub struct TestSchema {
    pub name: String,
    pub connection: PgConnection,
}

impl TestSchema {
    /// Connects and makes a fresh schema named after the test. Fails with a message that says
    /// how to start PostgreSQL when it is not reachable.
    pub async fn new(label: &str) -> TestSchema {
        let url = database_url();
        let mut connection = match offbase_pg::connect(&url).await {
            Ok(connection) => connection,
            Err(error) => panic!(
                "these tests need a real PostgreSQL.\n{error}\n(set DATABASE_URL, default postgres://root@127.0.0.1:5432/test)"
            ),
        };
        let label: String = label
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '_'
                }
            })
            .take(30)
            .collect();
        let name = format!(
            "offbase_test_{label}_{}_{}",
            std::process::id(),
            SCHEMA_COUNTER.fetch_add(1, Ordering::SeqCst)
        );
        let sql = format!("DROP SCHEMA IF EXISTS \"{name}\" CASCADE");
        if let Err(error) = sqlx::raw_sql(&sql).execute(&mut connection).await {
            panic!("{sql}: {error}");
        }
        TestSchema { name, connection }
    }

    /// A fresh schema with `output`'s plan applied; panics with the plan's text if PostgreSQL
    /// refuses it.
    pub async fn with_plan(label: &str, output: &PlanOutput) -> TestSchema {
        let mut schema = TestSchema::new(label).await;
        if let Err(error) = offbase_pg::apply_plan(
            &mut schema.connection,
            &schema.name,
            &output.target,
            &output.sql,
        )
        .await
        {
            panic!(
                "{label}: the plan did not apply: {error}\n{}",
                output.plan_file
            );
        }
        schema
    }

    /// Drops the schema and everything in it, and forgets any load or sync of it.
    pub async fn drop(mut self) {
        let sql = format!("DROP SCHEMA IF EXISTS \"{}\" CASCADE", self.name);
        if let Err(error) = sqlx::raw_sql(&sql).execute(&mut self.connection).await {
            panic!("{sql}: {error}");
        }
        // The load and sync state live in the shared `offbase` schema; it may not exist.
        for table in ["load_checkpoints", "load_runs", "sync_state", "cutovers"] {
            let sql = format!("DELETE FROM offbase.{table} WHERE pg_schema = $1");
            let _ = sqlx::query(&sql)
                .bind(&self.name)
                .execute(&mut self.connection)
                .await;
        }
    }
}

/// The API key every test emulator asks for.
pub const EMULATOR_KEY: &str = "test-emulator-key-0123456789";

/// An emulator serving `app_dir` on a free port, without rate limits or faults, with the
/// background `writer` when given.
pub async fn start_emulator(
    app_dir: &Path,
    writer: Option<offbase_emulator::WriterConfig>,
) -> offbase_emulator::RunningEmulator {
    let config = offbase_emulator::EmulatorConfig {
        rate_limits: offbase_emulator::RateLimits::Off,
        faults: offbase_emulator::Faults::default(),
        writer,
        created_by: "emulator@example.com".to_owned(),
        ..offbase_emulator::EmulatorConfig::new(app_dir, EMULATOR_KEY)
    };
    let address = "127.0.0.1:0".parse().unwrap_or_else(|_| unreachable!());
    offbase_emulator::start(config, address)
        .await
        .unwrap_or_else(|error| panic!("the emulator did not start: {error}"))
}

/// A client of a test emulator, with short backoffs.
pub fn emulator_client(
    emulator: &offbase_emulator::RunningEmulator,
) -> offbase_base44::client::Client {
    api_client(&emulator.api_url(), emulator.app_id())
}

/// A client of any server speaking the API at `api_url` (an emulator, `offbase serve`) with
/// [`EMULATOR_KEY`], with short backoffs.
pub fn api_client(api_url: &str, app_id: &str) -> offbase_base44::client::Client {
    use offbase_base44::client::{ApiKey, Client, ClientConfig};
    let mut config = ClientConfig::new(api_url, app_id, ApiKey::new(EMULATOR_KEY));
    config.base_backoff = std::time::Duration::from_millis(5);
    config.max_backoff = std::time::Duration::from_millis(50);
    Client::new(config).unwrap_or_else(|error| panic!("{error}"))
}

/// What a statement did as a role: the rows it touched (or returned), or a refusal (SQLSTATE
/// 42501: a row security check or a missing privilege).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Rows(u64),
    Refused,
}

/// The first column of every row `sql` returns in `transaction` (begun as some role), which
/// is then rolled back.
pub async fn read_rolled_back(
    mut transaction: sqlx::Transaction<'_, sqlx::Postgres>,
    sql: &str,
) -> Result<std::collections::BTreeSet<String>, String> {
    use sqlx::Row;
    let result = sqlx::query(sql).fetch_all(&mut *transaction).await;
    let _ = transaction.rollback().await;
    match result {
        Ok(rows) => Ok(rows
            .iter()
            .map(|row| row.try_get::<String, _>(0).unwrap_or_default())
            .collect()),
        Err(error) => Err(error.to_string()),
    }
}

/// What `sql` does in `transaction` (begun as some role), which is then rolled back; any
/// error but a refusal is the caller's to report.
pub async fn write_rolled_back(
    mut transaction: sqlx::Transaction<'_, sqlx::Postgres>,
    sql: &str,
) -> Result<Outcome, sqlx::Error> {
    let result = sqlx::query(sql).execute(&mut *transaction).await;
    let _ = transaction.rollback().await;
    match result {
        Ok(done) => Ok(Outcome::Rows(done.rows_affected())),
        Err(sqlx::Error::Database(error)) if error.code().as_deref() == Some("42501") => {
            Ok(Outcome::Refused)
        }
        // A foreign key that still points at the row: the policies let the delete through.
        Err(sqlx::Error::Database(error)) if error.code().as_deref() == Some("23503") => {
            Ok(Outcome::Rows(1))
        }
        Err(error) => Err(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression: on a fresh clone (no ../shared beside it) the README's test command failed,
    /// because the corpus tests panicked on the missing folder.
    #[test]
    fn corpus_tests_failed_on_a_fresh_clone_without_shared() {
        let missing = Path::new("/definitely/not/a/corpus");
        assert_eq!(corpus_presence(missing, false), Ok(None));
        let required = corpus_presence(missing, true);
        assert!(
            required
                .as_ref()
                .is_err_and(|message| message.contains(REQUIRE_CORPUS)),
            "{required:?}"
        );
        let here = repo_root();
        assert_eq!(corpus_presence(&here, true), Ok(Some(here.clone())));
    }
}
