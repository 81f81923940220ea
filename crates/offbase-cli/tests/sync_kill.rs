//! `offbase sync` killed with SIGKILL at random moments while the emulator's background writer
//! creates, updates and deletes records, then started again, five times and more; after the
//! writer stops, one `sync --once` leaves the target equal to the source: every row and value
//! (count and content hash against a fresh pull), deleted records gone, nothing applied twice.

mod support;
use support::{compare_with_source, database_url, forget, migrate_from_api, start_emulator};

use offbase_emulator::{Faults, RateLimits, WriterConfig};
use rand::{Rng, SeedableRng};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

const KEY: &str = "sync-kill-key-0123456789";

fn crm() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../samples/crm")
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_sync_restarts_and_ends_equal_to_the_source() {
    let emulator = start_emulator(
        &crm(),
        KEY,
        RateLimits::Off,
        Faults::default(),
        Some(WriterConfig {
            rate_per_second: 50,
            duration: Duration::from_secs(10),
            seed: 4405,
        }),
    )
    .await;
    let folder = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    let workspace = folder.path().join("workspace");
    let workspace_text = workspace.display().to_string();
    let pg_schema = format!("offbase_sync_kill_{}", std::process::id());
    forget(&pg_schema);

    migrate_from_api(&emulator, KEY, &crm(), &workspace_text, &pg_schema);

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
    let compared = compare_with_source(
        &emulator,
        KEY,
        &crm(),
        folder.path(),
        &workspace,
        &pg_schema,
    )
    .await;
    assert!(
        compared.matches(),
        "after {kills} kills the target differs from the source: {compared:#?}"
    );
    emulator.shutdown().await;
    forget(&pg_schema);
}
