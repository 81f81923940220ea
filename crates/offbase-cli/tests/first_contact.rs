//! What a new user met first, each pinned by a test named after what went wrong: the app id
//! asked for although the code export holds it, a workspace of another app refused in debug
//! text, an error repeating its cause, a folder of apps taken for an app, help examples cut in
//! two (see `cli.rs`), retries made in silence (see `misbehaving_server.rs`), and a diff after
//! a sync that did not say why it differed, and tables a migration made from the plan refused by
//! the load (now adopted with `--adopt` when empty and the plan's).

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use support::{database_url, forget, psql, samples, start_emulator, text};

const KEY: &str = "first-contact-key";
/// The app id of the staged export's `base44/.app.jsonc`.
const APP_ID: &str = "6989aa00bb11cc22dd33ee44";

fn offbase(arguments: &[&str], environment: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_offbase"));
    command
        .args(arguments)
        .env_remove("DATABASE_URL")
        .env_remove("BASE44_APP_ID")
        .env("BASE44_API_KEY", KEY)
        .stdin(Stdio::null());
    for (name, value) in environment {
        command.env(name, value);
    }
    command
        .output()
        .unwrap_or_else(|error| panic!("cannot run offbase: {error}"))
}

/// `samples/crm` copied into `folder/app` with a `base44/.app.jsonc` naming [`APP_ID`], as a
/// code export holds it.
fn staged_export(folder: &Path) -> PathBuf {
    let app = folder.join("app");
    copy(&samples().join("crm"), &app);
    std::fs::write(
        app.join("base44/.app.jsonc"),
        format!("// the app this export is of\n{{\"id\": \"{APP_ID}\"}}\n"),
    )
    .unwrap_or_else(|error| panic!("{error}"));
    app
}

fn copy(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap_or_else(|error| panic!("{}: {error}", to.display()));
    for entry in std::fs::read_dir(from)
        .unwrap_or_else(|error| panic!("{}: {error}", from.display()))
        .flatten()
    {
        let path = entry.path();
        let target = to.join(entry.file_name());
        if path.is_dir() {
            copy(&path, &target);
        } else {
            std::fs::copy(&path, &target).unwrap_or_else(|error| panic!("{error}"));
        }
    }
}

/// The emulator serving `app` with [`KEY`], no limits and no faults.
async fn emulator_of(app: &Path) -> offbase_emulator::RunningEmulator {
    start_emulator(
        app,
        KEY,
        offbase_emulator::RateLimits::Off,
        offbase_emulator::Faults::none(),
        None,
    )
    .await
}

/// A pull with extra environment variables.
type Pull = std::sync::Arc<dyn Fn(Vec<(&'static str, &'static str)>) -> Output + Send + Sync>;

/// Runs `pull` off the runtime's threads, so the emulator keeps answering.
async fn run(pull: Pull, environment: Vec<(&'static str, &'static str)>) -> Output {
    tokio::task::spawn_blocking(move || pull(environment))
        .await
        .unwrap_or_else(|error| panic!("{error}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pull_needed_the_app_id_the_export_holds_and_refused_another_app_in_debug_text() {
    let folder = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    let app = staged_export(folder.path());
    let emulator = emulator_of(&app).await;
    assert_eq!(emulator.app_id(), APP_ID);
    let api_url = emulator.api_url();
    let shown_api_url = api_url.clone();
    let app_text = app.display().to_string();
    let workspace = folder.path().join("ws").display().to_string();
    let pull = move |environment: Vec<(&'static str, &'static str)>| {
        let arguments = [
            "pull",
            "--api-url",
            &api_url,
            "--schema-from",
            &app_text,
            "--workspace",
            &workspace,
        ];
        offbase(&arguments, &environment)
    };
    let pull: Pull = std::sync::Arc::new(pull);
    let first = run(pull.clone(), Vec::new()).await;
    assert_eq!(first.status.code(), Some(0), "{}", text(&first.stderr));
    assert!(
        text(&first.stderr).contains(&format!(
            "app {APP_ID}, from {}'s base44/.app.jsonc",
            app.display()
        )),
        "{}",
        text(&first.stderr)
    );

    // Another app's id, from the environment: the workspace is refused in words, naming both
    // apps and the way out.
    let other = "0123456789abcdef01234567";
    let refused = run(pull, vec![("BASE44_APP_ID", other)]).await;
    let stderr = text(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("holds a pull of app {APP_ID} at {shown_api_url}"))
            && stderr.contains(&format!("not of app {other} at {shown_api_url}"))
            && stderr.contains("--fresh"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("Api {") && !stderr.contains("app_id:"),
        "{stderr}"
    );
    emulator.shutdown().await;
}

#[test]
fn an_error_repeated_its_cause() {
    let output = offbase(
        &[
            "pull",
            "--from-csv",
            "/no/such/folder",
            "--workspace",
            "/tmp/x",
        ],
        &[],
    );
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    let cause = "No such file or directory (os error 2)";
    assert_eq!(stderr.matches(cause).count(), 1, "{stderr}");
}

#[test]
fn a_folder_of_apps_was_taken_for_an_app() {
    let folder = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    let out = folder.path().join("plan");
    let output = offbase(
        &[
            "plan",
            &samples().display().to_string(),
            "--out",
            &out.display().to_string(),
        ],
        &[],
    );
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("holds several apps (crm, marketplace, tasks), not one")
            && stderr.contains("samples/crm"),
        "{stderr}"
    );
    assert!(!out.exists(), "a plan was written");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_diff_after_a_sync_did_not_say_the_workspace_was_older() {
    let folder = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    let app = samples().join("crm");
    let emulator = emulator_of(&app).await;
    let workspace = folder.path().join("ws").display().to_string();
    let schema = format!("first_contact_{}", std::process::id());
    forget(&schema);
    support::migrate_from_api(&emulator, KEY, &app, &workspace, &schema);
    // A change in the app after the pull, which the sync carries to the target.
    let company = emulator
        .store()
        .live_records("Company")
        .first()
        .and_then(|record| {
            record
                .get("id")
                .and_then(|id| id.as_str())
                .map(str::to_owned)
        })
        .unwrap_or_default();
    let mut renamed = serde_json::Map::new();
    renamed.insert("name".to_owned(), "Renamed after the pull".into());
    emulator
        .store()
        .update("Company", &company, renamed)
        .unwrap_or_else(|error| panic!("{error}"));
    let url = database_url();
    let (synced, diffed) = tokio::task::spawn_blocking({
        let workspace = workspace.clone();
        let schema = schema.clone();
        move || {
            let target = ["--database-url", &url, "--pg-schema", &schema];
            let synced = offbase(
                &[&["sync", "--once", "--workspace", &workspace][..], &target].concat(),
                &[],
            );
            let diffed = offbase(
                &[&["diff", "data", "--workspace", &workspace][..], &target].concat(),
                &[],
            );
            (synced, diffed)
        }
    })
    .await
    .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(synced.status.code(), Some(0), "{}", text(&synced.stderr));
    let stderr = text(&diffed.stderr);
    assert_eq!(diffed.status.code(), Some(1), "{}", text(&diffed.stdout));
    assert!(
        stderr.contains("the target was synced after the workspace was pulled")
            && stderr.contains("offbase diff data --source api"),
        "{stderr}"
    );
    // The rejected records are not counted as missing: the sample's six rejects have their
    // own column.
    let stdout = text(&diffed.stdout);
    let company_row = stdout
        .lines()
        .find(|line| line.starts_with("Company "))
        .unwrap_or_default()
        .to_owned();
    let figures: Vec<&str> = company_row.split_whitespace().collect();
    assert_eq!(figures.get(2), Some(&"0"), "missing in target: {stdout}");
    forget(&schema);
    emulator.shutdown().await;
}

#[test]
fn unenforced_access_rules_counted_no_warning() {
    let folder = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    let out = folder.path().join("plan");
    let output = offbase(
        &[
            "plan",
            &samples().join("tasks").display().to_string(),
            "--rls",
            "off",
            "--out",
            &out.display().to_string(),
        ],
        &[],
    );
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let report = std::fs::read_to_string(out.join("mapping-report.md"))
        .unwrap_or_else(|error| panic!("{error}"));
    let warnings = report
        .lines()
        .find_map(|line| line.strip_prefix("## Warnings ("))
        .and_then(|rest| rest.strip_suffix(')'))
        .and_then(|count| count.parse::<usize>().ok())
        .unwrap_or_default();
    let unenforced = report
        .lines()
        .filter(|line| line.contains("access rules not enforced (planned with --rls off)"))
        .count();
    // The sample's Task and Project have rules.
    assert_eq!(unenforced, 2, "{report}");
    assert!(warnings >= unenforced, "{report}");
    assert!(
        text(&output.stdout).contains(&format!("{warnings} warnings")),
        "{}",
        text(&output.stdout)
    );
}

#[test]
fn plan_sql_needed_a_migrate_up_line_added_by_hand_for_dbmate() {
    let folder = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    let out = folder.path().join("app-repo");
    for (format, file) in [
        ("dbmate", "db/migrations/20261205000000_offbase_tasks.sql"),
        ("sqlx", "migrations/20261205000000_offbase_tasks.sql"),
        (
            "supabase",
            "supabase/migrations/20261205000000_offbase_tasks.sql",
        ),
    ] {
        let output = offbase(
            &[
                "plan",
                &samples().join("tasks").display().to_string(),
                "--format",
                format,
                "--migration-version",
                "20261205000000",
                "--pg-schema",
                "app",
                "--out",
                &out.display().to_string(),
            ],
            &[],
        );
        assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
        let migration = std::fs::read_to_string(out.join(file))
            .unwrap_or_else(|error| panic!("{format}: {file}: {error}"));
        assert_eq!(
            migration.starts_with("-- migrate:up\n"),
            format == "dbmate",
            "{format}: {migration}"
        );
        assert!(migration.contains("SET LOCAL search_path TO \"app\";"));
        assert!(text(&output.stdout).contains(&format!("Wrote {}", out.join(file).display())));
    }
    let refused = offbase(
        &[
            "plan",
            &samples().join("tasks").display().to_string(),
            "--format",
            "sqlx",
            "--migration-version",
            "2026-12-05",
        ],
        &[],
    );
    assert_eq!(refused.status.code(), Some(2));
    assert!(text(&refused.stderr).contains("--migration-version"));
}

/// Applies a migration as the tools apply it: in one transaction.
fn apply_in_one_transaction(migration: &Path) {
    let applied = Command::new("psql")
        .arg(database_url())
        .args(["-X", "-q", "-1", "-v", "ON_ERROR_STOP=1", "-f"])
        .arg(migration)
        .output()
        .unwrap_or_else(|error| panic!("psql: {error}"));
    assert!(applied.status.success(), "{}", text(&applied.stderr));
}

#[test]
fn tables_a_migration_made_from_the_plan_were_refused_by_the_load() {
    let folder = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    let schema = format!("first_contact_adopt_{}", std::process::id());
    forget(&schema);
    let app = samples().join("tasks").display().to_string();
    let repo = folder.path().join("app-repo");
    let planned = offbase(
        &[
            "plan",
            &app,
            "--format",
            "sqlx",
            "--migration-version",
            "20261205000000",
            "--pg-schema",
            &schema,
            "--out",
            &repo.display().to_string(),
        ],
        &[],
    );
    assert_eq!(planned.status.code(), Some(0), "{}", text(&planned.stderr));
    let migration = repo.join("migrations/20261205000000_offbase_tasks.sql");
    apply_in_one_transaction(&migration);

    let url = database_url();
    let workspace = folder.path().join("ws").display().to_string();
    let migrate = |extra: &[&str]| {
        let arguments = [
            &[
                "migrate",
                "--from",
                &app,
                "--workspace",
                &workspace,
                "--database-url",
                &url,
                "--pg-schema",
                &schema,
            ][..],
            extra,
        ]
        .concat();
        offbase(&arguments, &[])
    };
    // Without --adopt: refused, and the refusal names the way in.
    let refused = migrate(&[]);
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused.stdout));
    let stderr = text(&refused.stderr);
    assert!(
        stderr.contains("already has tables or types this load creates")
            && stderr.contains("--adopt"),
        "{stderr}"
    );
    // A table that is not the plan's (a column added after the migration) is refused by name,
    // and nothing of the schema changes.
    psql(&format!(
        "ALTER TABLE \"{schema}\".task ADD COLUMN note text"
    ));
    let differs = migrate(&["--adopt"]);
    assert_eq!(differs.status.code(), Some(2), "{}", text(&differs.stdout));
    let stderr = text(&differs.stderr);
    assert!(
        stderr.contains("cannot be adopted")
            && stderr.contains("table task, column note: not in the plan (text)"),
        "{stderr}"
    );
    let keys = format!(
        "SELECT count(*) FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace \
         WHERE n.nspname = '{schema}' AND c.contype IN ('p', 'f')"
    );
    let before = psql(&keys);
    assert_ne!(before, "0");
    psql(&format!("ALTER TABLE \"{schema}\".task DROP COLUMN note"));

    let adopted = migrate(&["--adopt"]);
    assert_eq!(
        adopted.status.code(),
        Some(0),
        "{}{}",
        text(&adopted.stdout),
        text(&adopted.stderr)
    );
    assert!(text(&adopted.stderr).contains("--adopt: loading into the 4 empty tables"));
    // The keys the load took off during the data are back, and the data is the workspace's.
    assert_eq!(psql(&keys), before);
    let diffed = offbase(
        &[
            "diff",
            "data",
            "--workspace",
            &workspace,
            "--database-url",
            &url,
            "--pg-schema",
            &schema,
        ],
        &[],
    );
    assert_eq!(
        diffed.status.code(),
        Some(0),
        "{}{}",
        text(&diffed.stdout),
        text(&diffed.stderr)
    );
    // Tables that hold rows are never adopted.
    forget(&schema);
    apply_in_one_transaction(&migration);
    psql(&format!(
        "INSERT INTO \"{schema}\".project (id, name) VALUES ('kept-by-hand', 'kept')"
    ));
    let holding = offbase(
        &[
            "load",
            "--workspace",
            &workspace,
            "--database-url",
            &url,
            "--pg-schema",
            &schema,
            "--adopt",
        ],
        &[],
    );
    assert_eq!(holding.status.code(), Some(2), "{}", text(&holding.stdout));
    assert!(
        text(&holding.stderr).contains("it loads only into empty tables, and project holds rows"),
        "{}",
        text(&holding.stderr)
    );
    assert_eq!(
        psql(&format!("SELECT id FROM \"{schema}\".project")),
        "kept-by-hand"
    );
    forget(&schema);
}
