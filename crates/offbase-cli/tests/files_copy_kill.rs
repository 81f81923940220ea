//! `offbase files copy` killed with SIGKILL at random moments, then run again until it
//! finishes, ends like an uninterrupted copy: the same files with the same bytes, the same
//! manifest (sizes and hashes), no partial file left, and no file downloaded again once the
//! log counted it as copied. The same to an S3 bucket (moto in server mode, started by the
//! test; skipped without moto unless OFFBASE_REQUIRE_CORPUS=1), and a file larger than the
//! copy's memory uploaded to a bucket in parts while the process's peak RSS stays small.

#[path = "../../../tests/support/moto.rs"]
mod moto;
mod support;

use support::kill_window;

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

/// Runs `command` again and again, killing each run after a random time in `window`
/// (milliseconds), until one finishes by itself or twelve were started; at least five kills
/// must land. Returns the kills.
fn kill_repeatedly(
    mut command: impl FnMut() -> Command,
    window: std::ops::Range<u64>,
    seed: u64,
) -> usize {
    let mut random = rand::rngs::StdRng::seed_from_u64(seed);
    let mut kills = 0;
    for _ in 0..12 {
        let mut child = command().spawn().unwrap_or_else(|error| panic!("{error}"));
        std::thread::sleep(Duration::from_millis(random.random_range(window.clone())));
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
    kills
}

/// The killed workspace ends like the reference: the same file manifest (sizes and hashes),
/// and each of the `files` URLs logged once (nothing copied again once the log counted it).
fn assert_ends_like(killed: &Path, reference: &Path, files: usize) {
    let manifest = |workspace: &Path| {
        std::fs::read_to_string(workspace.join("files/manifest.json"))
            .unwrap_or_else(|error| panic!("{error}"))
    };
    assert_eq!(manifest(killed), manifest(reference));
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
    assert_eq!(urls.len(), files);
    assert!(
        urls.values().all(|count| *count == 1),
        "a file was copied again after it was logged"
    );
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
            max_upload_bytes: offbase_emulator::DEFAULT_MAX_UPLOAD_BYTES,
            max_upload_total_bytes: offbase_emulator::DEFAULT_MAX_UPLOAD_TOTAL_BYTES,
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
    let started = std::time::Instant::now();
    let output = run(&mut copy_command(&reference, &reference_copies, &via));
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let window = kill_window(started.elapsed());

    let killed = folder.path().join("killed");
    scanned_workspace(folder.path(), &killed);
    let killed_copies = folder.path().join("killed-copies");
    let kills = kill_repeatedly(
        || copy_command(&killed, &killed_copies, &via),
        window,
        20261204,
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
    assert_ends_like(&killed, &reference, expected.len());
    runtime.block_on(emulator.shutdown());
}

/// An emulator of the marketplace sample whose downloads each take `latency`, serving files of
/// `file_size` bytes when given.
fn start_emulator(
    runtime: &tokio::runtime::Runtime,
    app: &Path,
    latency: Duration,
    file_size: Option<usize>,
) -> offbase_emulator::RunningEmulator {
    runtime.block_on(async {
        let config = EmulatorConfig {
            app_dir: app.to_path_buf(),
            app_id: None,
            api_key: "files-copy-kill-key".to_owned(),
            rate_limits: RateLimits::Off,
            faults: Faults {
                latency,
                files: true,
                ..Faults::default()
            },
            writer: None,
            created_by: "emulator@example.com".to_owned(),
            deleted_files: Default::default(),
            file_size,
            max_upload_bytes: offbase_emulator::DEFAULT_MAX_UPLOAD_BYTES,
            max_upload_total_bytes: offbase_emulator::DEFAULT_MAX_UPLOAD_TOTAL_BYTES,
        };
        offbase_emulator::start(
            config,
            "127.0.0.1:0".parse().unwrap_or_else(|_| unreachable!()),
        )
        .await
        .unwrap_or_else(|error| panic!("{error}"))
    })
}

/// `files copy` to `to` (`s3://...`) with moto's endpoint and test credentials in the
/// environment, as a user would give them.
fn s3_copy_command(workspace: &Path, to: &str, via: &str, moto: &moto::Moto) -> Command {
    let mut command = copy_command(workspace, Path::new(to), via);
    for name in [
        "AWS_ENDPOINT_URL_S3",
        "AWS_ENDPOINT",
        "AWS_SESSION_TOKEN",
        "AWS_DEFAULT_REGION",
        "AWS_PROFILE",
    ] {
        command.env_remove(name);
    }
    command
        .env("AWS_ENDPOINT_URL", moto.endpoint())
        .env("AWS_REGION", moto::REGION)
        .env("AWS_ACCESS_KEY_ID", moto::ACCESS_KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", moto::SECRET_ACCESS_KEY);
    command
}

/// Every object below `prefix/` in `bucket`, by name after the prefix, with its ETag (the MD5
/// of its bytes: these files are small enough for a single PUT) and size.
fn objects_below(moto: &moto::Moto, bucket: &str, prefix: &str) -> BTreeMap<String, (String, u64)> {
    let prefix = format!("{prefix}/");
    moto.list_with_etags(bucket, &prefix)
        .into_iter()
        .map(|(name, etag)| (name.strip_prefix(&prefix).unwrap_or(&name).to_owned(), etag))
        .collect()
}

#[test]
fn a_copy_to_s3_killed_at_random_moments_ends_like_an_uninterrupted_one() {
    let test = "a_copy_to_s3_killed_at_random_moments_ends_like_an_uninterrupted_one";
    let Some(moto) = moto::Moto::start_or_skip(test) else {
        return;
    };
    let bucket = "offbase-kill";
    moto.create_bucket(bucket);
    let runtime = tokio::runtime::Runtime::new().unwrap_or_else(|error| panic!("{error}"));
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../samples/marketplace");
    let emulator = start_emulator(&runtime, &sample, Duration::from_millis(25), None);
    let via = emulator.api_url();
    let folder = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));

    let reference = folder.path().join("reference");
    scanned_workspace(folder.path(), &reference);
    let started = std::time::Instant::now();
    let output = run(&mut s3_copy_command(
        &reference,
        "s3://offbase-kill/reference",
        &via,
        &moto,
    ));
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let window = kill_window(started.elapsed());
    let printed = format!("{}{}", text(&output.stdout), text(&output.stderr));
    assert!(printed.contains("s3://offbase-kill/reference"), "{printed}");
    assert!(!printed.contains(moto::SECRET_ACCESS_KEY), "{printed}");

    let killed = folder.path().join("killed");
    scanned_workspace(folder.path(), &killed);
    let kills = kill_repeatedly(
        || s3_copy_command(&killed, "s3://offbase-kill/killed", &via, &moto),
        window,
        20261205,
    );
    let output = run(&mut s3_copy_command(
        &killed,
        "s3://offbase-kill/killed",
        &via,
        &moto,
    ));
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));

    // The same objects with the same bytes (MD5s, sizes), nothing else (no partial object),
    // and no staging file left in the workspace.
    let expected = objects_below(&moto, bucket, "reference");
    assert!(expected.len() > 400, "{}", expected.len());
    let found = objects_below(&moto, bucket, "killed");
    assert_eq!(
        found.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>()
    );
    assert!(
        found == expected,
        "the objects' bytes differ after {kills} kills"
    );
    assert!(!killed.join("files/staging").exists());
    assert_ends_like(&killed, &reference, expected.len());
    // A last run sends nothing.
    let output =
        run(s3_copy_command(&killed, "s3://offbase-kill/killed", &via, &moto).args(["--json"]));
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let summary: serde_json::Value =
        serde_json::from_slice(&output.stdout).unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(
        (summary["copied"].as_u64(), summary["bytes"].as_u64()),
        (Some(0), Some(0)),
        "{summary}"
    );
    runtime.block_on(emulator.shutdown());
}

/// The peak resident memory (VmHWM) of process `pid` so far, in bytes; `None` once it is gone.
fn peak_rss(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// One file of 192 MiB copied to a bucket: it goes up in parts from the staging file, and the
/// process's peak RSS stays far below the file's size (the file never sits in memory).
#[cfg(target_os = "linux")]
#[test]
fn a_large_file_goes_to_s3_in_parts_in_bounded_memory() {
    let test = "a_large_file_goes_to_s3_in_parts_in_bounded_memory";
    let Some(moto) = moto::Moto::start_or_skip(test) else {
        return;
    };
    let bucket = "offbase-large";
    moto.create_bucket(bucket);
    let folder = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    let app = folder.path().join("app");
    let app_id = "900e600cba18b8f276b74981";
    let url =
        format!("https://base44.app/api/apps/{app_id}/files/public/{app_id}/0a0a0a0a0_film.mp4");
    for (path, text) in [
        (
            "base44/entities/Doc.jsonc",
            r#"{"name": "Doc", "type": "object", "properties": {"file_url": {"type": "string"}}}"#
                .to_owned(),
        ),
        (
            "data/Doc.jsonl",
            format!("{}\n", serde_json::json!({"id": "d1", "file_url": url})),
        ),
    ] {
        let path = app.join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap_or_else(|error| panic!("{error}"));
        }
        std::fs::write(&path, text).unwrap_or_else(|error| panic!("{error}"));
    }
    let size = 192 << 20;
    let runtime = tokio::runtime::Runtime::new().unwrap_or_else(|error| panic!("{error}"));
    let emulator = start_emulator(&runtime, &app, Duration::ZERO, Some(size));
    let workspace = folder.path().join("ws");
    let staged = run(offbase()
        .args(["migrate", "--from"])
        .arg(&app)
        .arg("--workspace")
        .arg(&workspace)
        .arg("--bundle")
        .arg(folder.path().join("bundle.sql")));
    assert!(
        matches!(staged.status.code(), Some(0 | 1)),
        "{}",
        text(&staged.stderr)
    );
    let scanned = run(offbase()
        .args(["files", "scan", "--workspace"])
        .arg(&workspace));
    assert_eq!(scanned.status.code(), Some(0), "{}", text(&scanned.stderr));

    let mut child = s3_copy_command(
        &workspace,
        "s3://offbase-large/big",
        &emulator.api_url(),
        &moto,
    )
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .unwrap_or_else(|error| panic!("{error}"));
    let mut peak = 0;
    let status = loop {
        if let Some(rss) = peak_rss(child.id()) {
            peak = peak.max(rss);
        }
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(error) => panic!("{error}"),
        }
    };
    assert!(status.success(), "{status}");
    let path = format!("/api/apps/{app_id}/files/public/{app_id}/0a0a0a0a0_film.mp4");
    let (code, bytes) = moto.get(bucket, &format!("big/public/{app_id}/0a0a0a0a0_film.mp4"));
    assert_eq!(code, 200);
    assert!(
        bytes == offbase_emulator::file_bytes_of_length(&path, Some(size)),
        "the object's bytes differ ({} bytes)",
        bytes.len()
    );
    assert!(peak > 0, "no RSS reading");
    eprintln!(
        "{test}: peak RSS {} MiB for a file of {} MiB",
        peak >> 20,
        size >> 20
    );
    assert!(
        peak < 128 << 20,
        "peak RSS {} MiB for a file of {} MiB",
        peak >> 20,
        size >> 20
    );
    runtime.block_on(emulator.shutdown());
}
