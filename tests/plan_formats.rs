//! `offbase plan --format`: the plan of every sample written as a migration and applied by
//! the tool it is written for, as that tool applies it: dbmate (its published Linux x64 binary,
//! pinned in `tests/sdk/package.json`), `sqlx migrate run` (sqlx-cli 0.8.6, installed by
//! `.ci/run`; without it, the crate's migrator the command runs), and `psql -1` for the plain
//! `plan.sql` and the Supabase CLI's file (plain SQL the CLI runs in one transaction). Each lands in its own schema with exactly the plan's tables;
//! then the sample's records are loaded into those tables (`--adopt`) and `diff data` finds
//! the target equal to the workspace.
//!
//! dbmate is skipped (said on stderr) without `npm ci --prefix tests/sdk`, sqlx-cli replaced
//! by the crate without `target/tools/bin/sqlx`; `OFFBASE_REQUIRE_CORPUS=1` (CI) makes both
//! mandatory.

use offbase_pipeline::compare::diff::diff_data;
use offbase_pipeline::load::{LoadOptions, load};
use offbase_pipeline::migrate::{Destination, MigrateOptions, MigrateSource, migrate};
use offbase_pipeline::migrations::{MigrationFormat, migration_name, write_migration};
use offbase_pipeline::plan::write_plan;
use offbase_pipeline::progress::{NoProgress, Reporter};
use offbase_pipeline::workspace::Workspace;
use offbase_tests::{REQUIRE_CORPUS, TestSchema, database_url, plan_app, repo_root, sample};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;

const SAMPLES: [&str; 3] = ["crm", "marketplace", "tasks"];
const VERSION: &str = "20261205000000";

/// The tables of `pg_schema`, by name.
async fn tables(schema: &mut TestSchema, pg_schema: &str) -> BTreeSet<String> {
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables WHERE table_schema = $1",
    )
    .bind(pg_schema)
    .fetch_all(&mut schema.connection)
    .await
    .unwrap_or_else(|error| panic!("{error}"));
    names.into_iter().collect()
}

/// `psql -1 -f file`, with `search_path` set to `pg_schema` when given.
fn psql_once(file: &Path, pg_schema: Option<&str>) {
    let mut command = Command::new("psql");
    command
        .arg(database_url())
        .args(["-X", "-q", "-1", "-v", "ON_ERROR_STOP=1", "-f"])
        .arg(file)
        .stdout(Stdio::null());
    if let Some(pg_schema) = pg_schema {
        command.env("PGOPTIONS", format!("-c search_path={pg_schema}"));
    }
    let output = command
        .output()
        .unwrap_or_else(|error| panic!("psql: {error}"));
    assert!(
        output.status.success(),
        "psql -1 -f {}: {}",
        file.display(),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The dbmate binary of `tests/sdk`, or `None` after saying the test skipped it.
fn dbmate_or_skip() -> Option<PathBuf> {
    let dbmate = repo_root().join("tests/sdk/node_modules/@dbmate/linux-x64/bin/dbmate");
    if dbmate.is_file() {
        return Some(dbmate);
    }
    if std::env::var(REQUIRE_CORPUS).is_ok_and(|value| value == "1") {
        panic!(
            "dbmate is not installed (npm ci --prefix tests/sdk) and {REQUIRE_CORPUS}=1 makes it mandatory"
        );
    }
    eprintln!("plan_formats: dbmate skipped: not installed (npm ci --prefix tests/sdk)");
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_samples_plan_applies_with_dbmate_sqlx_and_psql() {
    let dbmate = dbmate_or_skip();
    let sqlx_cli = sqlx_cli_or_migrator();
    for name in SAMPLES {
        let output = plan_app(&sample(name), None);
        let expected: BTreeSet<String> = output
            .target
            .tables
            .iter()
            .map(|table| table.name.clone())
            .collect();
        let folder = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
        let mut schema = TestSchema::new(&format!("formats_{name}")).await;
        let base = schema.name.clone();

        // Plain: plan.sql with psql -1, search_path set by the caller as its header says.
        let plain = format!("{base}_plain");
        let written = write_plan(&output, &folder.path().join("plain"))
            .unwrap_or_else(|error| panic!("{error}"));
        schema_for(&mut schema, &plain).await;
        psql_once(&written[0], Some(&plain));
        assert_eq!(tables(&mut schema, &plain).await, expected, "{name} plain");
        // The sample staged and loaded into the tables psql made.
        let workspace = Workspace::new(folder.path().join("workspace"));
        let options = MigrateOptions {
            files: None,
            source: MigrateSource::Folder {
                folder: sample(name),
                schema_from: None,
            },
            workspace: workspace.clone(),
            mappings: None,
            destination: Destination::Database(adopting(&plain)),
        };
        let reporter: Arc<dyn Reporter> = Arc::new(NoProgress);
        if let Err(error) = migrate(&options, reporter).await {
            panic!("{name}: migrate --adopt into the plain plan's tables: {error}");
        }
        assert_clean(&workspace, &plain, name).await;

        // Supabase: its migration as the CLI runs it, in one transaction.
        let supabase = format!("{base}_supabase");
        let file = migration(&output, folder.path(), MigrationFormat::Supabase, &supabase);
        assert!(file.starts_with(folder.path().join("supabase/supabase/migrations")));
        psql_once(&file, None);
        assert_eq!(
            tables(&mut schema, &supabase).await,
            expected,
            "{name} supabase"
        );
        load_adopting(&workspace, &supabase, name).await;

        // sqlx: `sqlx migrate run` over the folder (sqlx-cli, installed by .ci/run), else the
        // crate's migrator, which the command runs; its bookkeeping in a schema of its own.
        let sqlx = format!("{base}_sqlx");
        migration(&output, folder.path(), MigrationFormat::Sqlx, &sqlx);
        let bookkeeping = format!("{base}_sqlx_state");
        schema_for(&mut schema, &bookkeeping).await;
        let migrations = folder.path().join("sqlx/migrations");
        match &sqlx_cli {
            Some(cli) => {
                let url = format!(
                    "{}&options=-c%20search_path%3D{bookkeeping}",
                    with_ssl_off(&database_url())
                );
                let applied = Command::new(cli)
                    .args(["migrate", "run", "--source"])
                    .arg(&migrations)
                    .args(["--database-url", &url])
                    .stdin(Stdio::null())
                    .output()
                    .unwrap_or_else(|error| panic!("sqlx: {error}"));
                assert!(
                    applied.status.success(),
                    "{name}: sqlx migrate run: {}{}",
                    String::from_utf8_lossy(&applied.stdout),
                    String::from_utf8_lossy(&applied.stderr)
                );
            }
            None => {
                let migrator = sqlx::migrate::Migrator::new(migrations.as_path())
                    .await
                    .unwrap_or_else(|error| panic!("{name}: sqlx reads the folder: {error}"));
                let options: sqlx::postgres::PgConnectOptions = database_url()
                    .parse::<sqlx::postgres::PgConnectOptions>()
                    .unwrap_or_else(|error| panic!("{error}"))
                    .options([("search_path", bookkeeping.as_str())]);
                let pool = sqlx::postgres::PgPoolOptions::new()
                    .max_connections(1)
                    .connect_with(options)
                    .await
                    .unwrap_or_else(|error| panic!("{error}"));
                migrator
                    .run(&pool)
                    .await
                    .unwrap_or_else(|error| panic!("{name}: sqlx migrate run: {error}"));
                pool.close().await;
            }
        }
        let recorded: i64 = sqlx::query_scalar(&format!(
            "SELECT count(*) FROM \"{bookkeeping}\"._sqlx_migrations WHERE success"
        ))
        .fetch_one(&mut schema.connection)
        .await
        .unwrap_or_else(|error| panic!("{name}: sqlx's record: {error}"));
        assert_eq!(recorded, 1, "{name}: sqlx recorded the migration");
        assert_eq!(tables(&mut schema, &sqlx).await, expected, "{name} sqlx");
        load_adopting(&workspace, &sqlx, name).await;

        // dbmate: `dbmate up` over the folder, as its users run it.
        if let Some(dbmate) = &dbmate {
            let target = format!("{base}_dbmate");
            migration(&output, folder.path(), MigrationFormat::Dbmate, &target);
            let url = with_ssl_off(&database_url());
            let applied = Command::new(dbmate)
                .args(["--url", &url, "--no-dump-schema", "--migrations-dir"])
                .arg(folder.path().join("dbmate/db/migrations"))
                .args(["--migrations-table", &format!("{target}_migrations"), "up"])
                .stdin(Stdio::null())
                .output()
                .unwrap_or_else(|error| panic!("dbmate: {error}"));
            assert!(
                applied.status.success(),
                "{name}: dbmate up: {}{}",
                String::from_utf8_lossy(&applied.stdout),
                String::from_utf8_lossy(&applied.stderr)
            );
            assert_eq!(
                tables(&mut schema, &target).await,
                expected,
                "{name} dbmate"
            );
            load_adopting(&workspace, &target, name).await;
            forget(&mut schema, &target).await;
            drop_schema(&mut schema, &target).await;
            let _ = sqlx::query(&format!(
                "DROP TABLE IF EXISTS public.\"{target}_migrations\""
            ))
            .execute(&mut schema.connection)
            .await;
        }
        for created in [&plain, &supabase, &sqlx, &bookkeeping] {
            drop_schema(&mut schema, created).await;
            forget(&mut schema, created).await;
        }
        schema.drop().await;
    }
}

/// sqlx-cli's `sqlx` (`.ci/run` installs it into `target/tools`; `SQLX_CLI` names another),
/// or `None` after saying the crate's migrator stands in for it.
fn sqlx_cli_or_migrator() -> Option<PathBuf> {
    let cli = std::env::var_os("SQLX_CLI")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target/tools/bin/sqlx"));
    if cli.is_file() {
        return Some(cli);
    }
    if std::env::var(REQUIRE_CORPUS).is_ok_and(|value| value == "1") {
        panic!(
            "sqlx-cli is not installed ({}; .ci/run installs it) and {REQUIRE_CORPUS}=1 makes it mandatory",
            cli.display()
        );
    }
    eprintln!(
        "plan_formats: sqlx-cli not installed ({}): sqlx's migrator crate, which `sqlx migrate run` runs, stands in",
        cli.display()
    );
    None
}

/// A load into `pg_schema` that adopts the tables a migration made there.
fn adopting(pg_schema: &str) -> LoadOptions {
    let mut options = LoadOptions::new(database_url(), pg_schema);
    options.adopt = true;
    options
}

/// Loads `workspace` into the tables a migration made in `pg_schema`, then diffs.
async fn load_adopting(workspace: &Workspace, pg_schema: &str, name: &str) {
    if let Err(error) = load(workspace, &adopting(pg_schema), &NoProgress).await {
        panic!("{name}: load --adopt into {pg_schema}: {error}");
    }
    assert_clean(workspace, pg_schema, name).await;
}

/// `diff data` of `workspace` against `pg_schema` is clean, over every record.
async fn assert_clean(workspace: &Workspace, pg_schema: &str, name: &str) {
    let target = adopting(pg_schema).target;
    let diff = diff_data(workspace, &target, &NoProgress)
        .await
        .unwrap_or_else(|error| panic!("{name}: diff data of {pg_schema}: {error}"));
    assert!(diff.clean(), "{name}: {pg_schema}: {:#?}", diff.entities);
    let same: u64 = diff.entities.iter().map(|entity| entity.same).sum();
    assert!(same > 100, "{name}: only {same} records compared");
}

/// Forgets offbase's load state of `pg_schema`.
async fn forget(schema: &mut TestSchema, pg_schema: &str) {
    for table in ["load_checkpoints", "load_runs"] {
        let _ = sqlx::query(&format!("DELETE FROM offbase.{table} WHERE pg_schema = $1"))
            .bind(pg_schema)
            .execute(&mut schema.connection)
            .await;
    }
}

/// Writes the migration of `format` under `folder/<format>/` into `pg_schema`; its path.
fn migration(
    output: &offbase_pipeline::plan::PlanOutput,
    folder: &Path,
    format: MigrationFormat,
    pg_schema: &str,
) -> PathBuf {
    let out = folder.join(match format {
        MigrationFormat::Dbmate => "dbmate",
        MigrationFormat::Sqlx => "sqlx",
        MigrationFormat::Supabase => "supabase",
    });
    let written = write_migration(output, &out, format, pg_schema, VERSION)
        .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(
        written[0],
        out.join(format.folder())
            .join(migration_name(VERSION, &output.target.app))
    );
    written[0].clone()
}

async fn schema_for(schema: &mut TestSchema, name: &str) {
    sqlx::query(&format!("CREATE SCHEMA \"{name}\""))
        .execute(&mut schema.connection)
        .await
        .unwrap_or_else(|error| panic!("{error}"));
}

async fn drop_schema(schema: &mut TestSchema, name: &str) {
    let _ = sqlx::query(&format!("DROP SCHEMA IF EXISTS \"{name}\" CASCADE"))
        .execute(&mut schema.connection)
        .await;
}

/// The database URL with `sslmode=disable` (dbmate asks the server for TLS otherwise, which
/// the test server does not offer).
fn with_ssl_off(url: &str) -> String {
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}sslmode=disable")
}
