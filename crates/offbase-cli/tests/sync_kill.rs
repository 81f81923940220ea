//! `offbase sync` killed with SIGKILL at random moments while the emulator's background writer
//! creates, updates and deletes records, then started again, five times and more; after the
//! writer stops, one `sync --once` leaves the target equal to the source: every row and value
//! (count and content hash against a fresh pull), deleted records gone, nothing applied twice.

use offbase_base44::client::{ApiKey, Client, ClientConfig};
use offbase_emulator::{EmulatorConfig, Faults, RateLimits, RunningEmulator, WriterConfig};
use offbase_pipeline::bundle::BundleOptions;
use offbase_pipeline::load::LoadOptions;
use offbase_pipeline::migrate::{Destination, MigrateOptions, MigrateSource, migrate};
use offbase_pipeline::progress::{NoProgress, Reporter};
use offbase_pipeline::verify::verify;
use offbase_pipeline::workspace::Workspace;
use rand::{Rng, SeedableRng};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

const KEY: &str = "sync-kill-key-0123456789";

fn database_url() -> String {
    std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://root@127.0.0.1:5432/test".to_owned())
}

fn crm() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../samples/crm")
}

fn client(emulator: &RunningEmulator) -> Client {
    Client::new(ClientConfig::new(
        emulator.api_url(),
        emulator.app_id(),
        ApiKey::new(KEY),
    ))
    .unwrap_or_else(|error| panic!("{error}"))
}

fn offbase(arguments: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_offbase"));
    command
        .args(arguments)
        .env("DATABASE_URL", database_url())
        .env("BASE44_API_KEY", KEY)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    command
}

fn psql(sql: &str) {
    let _ = Command::new("psql")
        .args(["-X", "-q", "-c", sql])
        .arg(database_url())
        .output();
}

fn forget(pg_schema: &str) {
    psql(&format!("DROP SCHEMA IF EXISTS \"{pg_schema}\" CASCADE"));
    for table in ["load_checkpoints", "load_runs", "sync_state", "cutovers"] {
        psql(&format!(
            "DELETE FROM offbase.{table} WHERE pg_schema = '{pg_schema}'"
        ));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_sync_restarts_and_ends_equal_to_the_source() {
    let config = EmulatorConfig {
        app_dir: crm(),
        app_id: None,
        api_key: KEY.to_owned(),
        rate_limits: RateLimits::Off,
        faults: Faults::default(),
        writer: Some(WriterConfig {
            rate_per_second: 50,
            duration: Duration::from_secs(10),
            seed: 4405,
        }),
        created_by: "emulator@example.com".to_owned(),
    };
    let address = "127.0.0.1:0".parse().unwrap_or_else(|_| unreachable!());
    let emulator = offbase_emulator::start(config, address)
        .await
        .unwrap_or_else(|error| panic!("the emulator did not start: {error}"));
    let folder = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    let workspace = folder.path().join("workspace");
    let workspace_text = workspace.display().to_string();
    let pg_schema = format!("offbase_sync_kill_{}", std::process::id());
    forget(&pg_schema);

    let crm_text = crm().display().to_string();
    let api_url = emulator.api_url();
    let migrated = offbase(&[
        "migrate",
        "--api-url",
        &api_url,
        "--app-id",
        emulator.app_id(),
        "--schema-from",
        &crm_text,
        "--workspace",
        &workspace_text,
        "--pg-schema",
        &pg_schema,
    ])
    .output()
    .unwrap_or_else(|error| panic!("{error}"));
    // Exit 1 is expected: the writer changes the counts while the pull reads.
    assert!(
        matches!(migrated.status.code(), Some(0 | 1)),
        "migrate: {}",
        String::from_utf8_lossy(&migrated.stderr)
    );

    let sync_arguments = [
        "sync",
        "--workspace",
        &workspace_text,
        "--pg-schema",
        &pg_schema,
        "--interval",
        "100ms",
        "--overlap",
        "500ms",
        "--requests-per-minute",
        "0",
    ];
    let mut random = rand::rngs::StdRng::seed_from_u64(4405);
    let mut kills = 0;
    while kills < 5 {
        let mut child = offbase(&sync_arguments)
            .spawn()
            .unwrap_or_else(|error| panic!("{error}"));
        let pause = Duration::from_millis(random.random_range(150..1200));
        tokio::time::sleep(pause).await;
        match child.try_wait() {
            Ok(Some(status)) => {
                let mut stderr = String::new();
                if let Some(mut pipe) = child.stderr.take() {
                    let _ = std::io::Read::read_to_string(&mut pipe, &mut stderr);
                }
                panic!("sync stopped by itself ({status}): {stderr}");
            }
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                kills += 1;
            }
        }
    }
    emulator.writer_done().await;
    let stats = emulator.stats();
    assert!(
        stats.writer_creates > 0 && stats.writer_updates > 0 && stats.writer_deletes > 0,
        "{stats:?}"
    );
    let last = offbase(&[&sync_arguments[..], &["--once"]].concat())
        .output()
        .unwrap_or_else(|error| panic!("{error}"));
    assert!(
        last.status.success(),
        "final sync: {}",
        String::from_utf8_lossy(&last.stderr)
    );

    // The source now, pulled afresh, against the target.
    let snapshot = Workspace::new(folder.path().join("snapshot"));
    let reporter: Arc<dyn Reporter> = Arc::new(NoProgress);
    let options = MigrateOptions {
        source: MigrateSource::Api {
            client: Box::new(client(&emulator)),
            schema_from: crm(),
        },
        workspace: snapshot.clone(),
        mappings: None,
        destination: Destination::Bundle {
            path: folder.path().join("snapshot.sql"),
            options: BundleOptions {
                pg_schema: "unused".into(),
                mappings: None,
                relax: Default::default(),
            },
        },
    };
    if let Err(error) = migrate(&options, reporter).await {
        panic!("snapshot: {error}");
    }
    let compared = verify(
        &snapshot,
        &LoadOptions::new(database_url(), &pg_schema),
        &NoProgress,
    )
    .await
    .unwrap_or_else(|error| panic!("verify: {error}"));
    assert!(
        compared.matches(),
        "after {kills} kills the target differs from the source: {compared:#?}"
    );
    emulator.shutdown().await;
    forget(&pg_schema);
}
