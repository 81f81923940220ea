//! What the CLI tests share: the database, the samples, psql, and forgetting a schema. Each
//! test binary compiles this module on its own and uses part of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

pub fn database_url() -> String {
    std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://root@127.0.0.1:5432/test".to_owned())
}

/// The repository's `samples/` folder.
pub fn samples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../samples")
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// One value from psql (`-At`); panics with the error when psql fails.
pub fn psql(sql: &str) -> String {
    let output = Command::new("psql")
        .args(["-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-c", sql])
        .arg(database_url())
        .output()
        .unwrap_or_else(|error| panic!("psql: {error}"));
    assert!(
        output.status.success(),
        "psql {sql}: {}",
        text(&output.stderr)
    );
    text(&output.stdout).trim().to_owned()
}

/// Drops `pg_schema` and every row of offbase's state about it (the state tables may not exist
/// yet: each statement runs on its own, errors ignored).
pub fn forget(pg_schema: &str) {
    let mut statements = vec![format!("DROP SCHEMA IF EXISTS \"{pg_schema}\" CASCADE")];
    for table in ["load_checkpoints", "load_runs", "sync_state", "cutovers"] {
        statements.push(format!(
            "DELETE FROM offbase.{table} WHERE pg_schema = '{pg_schema}'"
        ));
    }
    for statement in statements {
        let _ = Command::new("psql")
            .args(["-X", "-q", "-c", &statement])
            .arg(database_url())
            .output();
    }
}

/// An emulator serving `app_dir` on a free port with `key`.
pub async fn start_emulator(
    app_dir: &Path,
    key: &str,
    rate_limits: offbase_emulator::RateLimits,
    faults: offbase_emulator::Faults,
    writer: Option<offbase_emulator::WriterConfig>,
) -> offbase_emulator::RunningEmulator {
    let config = offbase_emulator::EmulatorConfig {
        app_dir: app_dir.to_path_buf(),
        app_id: None,
        api_key: key.to_owned(),
        rate_limits,
        faults,
        writer,
        created_by: "emulator@example.com".to_owned(),
        deleted_files: Default::default(),
        file_size: None,
        max_upload_bytes: offbase_emulator::DEFAULT_MAX_UPLOAD_BYTES,
        max_upload_total_bytes: offbase_emulator::DEFAULT_MAX_UPLOAD_TOTAL_BYTES,
    };
    let address = "127.0.0.1:0".parse().unwrap_or_else(|_| unreachable!());
    offbase_emulator::start(config, address)
        .await
        .unwrap_or_else(|error| panic!("the emulator did not start: {error}"))
}

/// `offbase migrate` from the emulator's API into `pg_schema` (exit 1 is fine: the samples
/// plant rejects and orphans, and a writer changes counts while the pull reads).
pub fn migrate_from_api(
    emulator: &offbase_emulator::RunningEmulator,
    key: &str,
    app_dir: &Path,
    workspace: &str,
    pg_schema: &str,
) {
    let migrated = Command::new(env!("CARGO_BIN_EXE_offbase"))
        .args(["migrate", "--api-url", &emulator.api_url(), "--app-id"])
        .arg(emulator.app_id())
        .arg("--schema-from")
        .arg(app_dir)
        .args(["--workspace", workspace, "--pg-schema", pg_schema])
        .env("DATABASE_URL", database_url())
        .env("BASE44_API_KEY", key)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap_or_else(|error| panic!("migrate: {error}"));
    assert!(
        matches!(migrated.status.code(), Some(0 | 1)),
        "migrate: {}",
        text(&migrated.stderr)
    );
}

/// The source as it is now, pulled afresh into `folder`, compared with `pg_schema` (counts
/// and content hashes per entity), through the URL map of the workspace that was `loaded`
/// where the load rewrote file URLs.
pub async fn compare_with_source(
    emulator: &offbase_emulator::RunningEmulator,
    key: &str,
    app_dir: &Path,
    folder: &Path,
    loaded: &Path,
    pg_schema: &str,
) -> offbase_pipeline::compare::verify::VerifySummary {
    use offbase_base44::client::{ApiKey, Client, ClientConfig};
    use offbase_pipeline::migrate::{Destination, MigrateOptions, MigrateSource};
    let snapshot = offbase_pipeline::workspace::Workspace::new(folder.join("snapshot"));
    let client = Client::new(ClientConfig::new(
        emulator.api_url(),
        emulator.app_id(),
        ApiKey::new(key),
    ))
    .unwrap_or_else(|error| panic!("{error}"));
    let options = MigrateOptions {
        files: None,
        source: MigrateSource::Api {
            client: Box::new(client),
            schema_from: app_dir.to_path_buf(),
        },
        workspace: snapshot.clone(),
        mappings: None,
        destination: Destination::Bundle {
            path: folder.join("snapshot.sql"),
            options: offbase_pipeline::load::bundle::BundleOptions {
                pg_schema: "unused".into(),
                mappings: None,
                relax: Default::default(),
                rewrite_urls: false,
                rls: Default::default(),
            },
        },
    };
    let reporter = std::sync::Arc::new(offbase_pipeline::progress::NoProgress);
    if let Err(error) = offbase_pipeline::migrate::migrate(&options, reporter).await {
        panic!("snapshot: {error}");
    }
    let target = offbase_pipeline::target::Target::new(database_url(), pg_schema)
        .with_url_map_of(&offbase_pipeline::workspace::Workspace::new(loaded))
        .unwrap_or_else(|error| panic!("{error}"));
    offbase_pipeline::compare::verify::verify(
        &snapshot,
        &target,
        &offbase_pipeline::progress::NoProgress,
    )
    .await
    .unwrap_or_else(|error| panic!("verify: {error}"))
}

/// How long a killed run lives, in milliseconds: a twelfth to a sixth of an uninterrupted
/// run's time, so five kills cannot finish the run however fast this machine is today.
pub fn kill_window(whole: std::time::Duration) -> std::ops::Range<u64> {
    let whole = whole.as_millis() as u64;
    (whole / 12).max(60)..(whole / 6).max(120)
}
