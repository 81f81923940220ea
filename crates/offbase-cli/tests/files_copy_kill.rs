//! `offbase files copy` killed with SIGKILL at random moments, then run again until it
//! finishes, ends like an uninterrupted copy: the same files with the same bytes, the same
//! manifest (sizes and hashes), no partial file left, and no file downloaded again once the
//! log counted it as copied.

use offbase_emulator::{EmulatorConfig, Faults, RateLimits};
use rand::{Rng, SeedableRng};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

fn offbase() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_offbase"));
    command
        .env_remove("OFFBASE_CONFIG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

fn run(command: &mut Command) -> Output {
    command
        .output()
        .unwrap_or_else(|error| panic!("offbase: {error}"))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The marketplace sample staged and scanned into `workspace`.
fn scanned_workspace(folder: &Path, workspace: &Path) {
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../samples/marketplace");
    let staged = run(offbase()
        .args(["migrate", "--from"])
        .arg(&sample)
        .arg("--workspace")
        .arg(workspace)
        .arg("--bundle")
        .arg(folder.join("bundle.sql")));
    assert!(
        matches!(staged.status.code(), Some(0 | 1)),
        "{}",
        text(&staged.stderr)
    );
    let scanned = run(offbase()
        .args(["files", "scan", "--workspace"])
        .arg(workspace));
    assert_eq!(scanned.status.code(), Some(0), "{}", text(&scanned.stderr));
}

fn copy_command(workspace: &Path, destination: &Path, via: &str) -> Command {
    let mut command = offbase();
    command
        .args([
            "files",
            "copy",
            "--concurrency",
            "4",
            "--via",
            via,
            "--workspace",
        ])
        .arg(workspace)
        .arg("--to")
        .arg(destination);
    command
}

/// Every file below `folder`, by relative path, with its bytes.
fn files_below(folder: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut found = BTreeMap::new();
    let mut pending = vec![folder.to_path_buf()];
    while let Some(path) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&path) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let bytes = std::fs::read(&path).unwrap_or_else(|error| panic!("{error}"));
                let relative = path.strip_prefix(folder).unwrap_or(&path).to_path_buf();
                found.insert(relative, bytes);
            }
        }
    }
    found
}

#[test]
fn a_copy_killed_at_random_moments_ends_like_an_uninterrupted_one() {
    let runtime = tokio::runtime::Runtime::new().unwrap_or_else(|error| panic!("{error}"));
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../samples/marketplace");
    let emulator = runtime.block_on(async {
        let config = EmulatorConfig {
            app_dir: sample,
            app_id: None,
            api_key: "files-copy-kill-key".to_owned(),
            rate_limits: RateLimits::Off,
            // A little latency on every download stretches the copy so the kills land mid-way.
            faults: Faults {
                latency: Duration::from_millis(25),
                files: true,
                ..Faults::default()
            },
            writer: None,
            created_by: "emulator@example.com".to_owned(),
            deleted_files: Default::default(),
            file_size: None,
        };
        offbase_emulator::start(
            config,
            "127.0.0.1:0".parse().unwrap_or_else(|_| unreachable!()),
        )
        .await
        .unwrap_or_else(|error| panic!("{error}"))
    });
    let via = emulator.api_url();
    let folder = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));

    let reference = folder.path().join("reference");
    scanned_workspace(folder.path(), &reference);
    let reference_copies = folder.path().join("reference-copies");
    let output = run(&mut copy_command(&reference, &reference_copies, &via));
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));

    let killed = folder.path().join("killed");
    scanned_workspace(folder.path(), &killed);
    let killed_copies = folder.path().join("killed-copies");
    let mut random = rand::rngs::StdRng::seed_from_u64(20261204);
    let mut kills = 0;
    for _ in 0..8 {
        let mut child = copy_command(&killed, &killed_copies, &via)
            .spawn()
            .unwrap_or_else(|error| panic!("{error}"));
        std::thread::sleep(Duration::from_millis(random.random_range(150..700)));
        match child.try_wait() {
            Ok(Some(_)) => break,
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                kills += 1;
            }
        }
    }
    assert!(
        kills >= 5,
        "only {kills} kills landed before the copy finished"
    );
    let output = run(&mut copy_command(&killed, &killed_copies, &via));
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));

    // The same files with the same bytes, and no partial file left.
    let expected = files_below(&reference_copies);
    assert!(expected.len() > 400, "{}", expected.len());
    let found = files_below(&killed_copies);
    assert_eq!(
        found.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>()
    );
    assert!(
        found == expected,
        "the copies' bytes differ after {kills} kills"
    );
    // The same manifest: sizes and hashes.
    let manifest = |workspace: &Path| {
        std::fs::read_to_string(workspace.join("files/manifest.json"))
            .unwrap_or_else(|error| panic!("{error}"))
    };
    assert_eq!(manifest(&killed), manifest(&reference));
    // Nothing was downloaded again once the log counted it: each URL is logged once.
    let log = std::fs::read_to_string(killed.join("files/copied.jsonl"))
        .unwrap_or_else(|error| panic!("{error}"));
    let mut urls: BTreeMap<String, usize> = BTreeMap::new();
    for line in log.lines() {
        if let Ok(entry) = serde_json::from_str::<serde_json::Value>(line)
            && let Some(url) = entry["url"].as_str()
        {
            *urls.entry(url.to_owned()).or_default() += 1;
        }
    }
    assert_eq!(urls.len(), expected.len());
    assert!(
        urls.values().all(|count| *count == 1),
        "a file was copied again after it was logged"
    );
    runtime.block_on(emulator.shutdown());
}
