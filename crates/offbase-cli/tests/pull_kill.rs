//! `offbase pull` killed with SIGKILL at random moments, then run again, ends with exactly the
//! workspace of an uninterrupted pull; and the API key is in no file and no output.

mod support;

use offbase_emulator::{EmulatorConfig, Faults, RateLimits, RunningEmulator};
use rand::{Rng, SeedableRng};
use serde_json::json;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;
use support::kill_window;

const KEY: &str = "kill-test-key-5f0c9a7e31d24b68";

fn big_app(folder: &Path, count: usize) {
    let entities = folder.join("base44/entities");
    let data = folder.join("data");
    for dir in [&entities, &data] {
        std::fs::create_dir_all(dir).unwrap_or_else(|error| panic!("{error}"));
    }
    for (entity, share) in [("Order", 3), ("Note", 1)] {
        std::fs::write(
            entities.join(format!("{entity}.jsonc")),
            format!(
                r#"{{"name": "{entity}", "type": "object", "properties": {{
                    "title": {{"type": "string"}}, "seq": {{"type": "integer"}}, "total": {{"type": "number"}}}}}}"#
            ),
        )
        .unwrap_or_else(|error| panic!("{error}"));
        let mut lines = String::new();
        for index in 0..count * share / 4 {
            let second = index / 5;
            // Groups of five records share one timestamp.
            let created = format!(
                "2026-03-{:02}T{:02}:{:02}:{:02}.000000",
                1 + second / 86_400,
                (second / 3600) % 24,
                (second / 60) % 60,
                second % 60
            );
            let record = json!({
                "id": format!("{:024x}", (index as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 4),
                "created_date": created, "updated_date": created, "created_by": "a@example.com",
                "title": format!("{entity} {index} «ünï» 😀"), "seq": index, "total": index as f64 / 8.0
            });
            lines.push_str(&record.to_string());
            lines.push('\n');
        }
        std::fs::write(data.join(format!("{entity}.jsonl")), lines)
            .unwrap_or_else(|error| panic!("{error}"));
    }
}

fn pull_command(emulator: &RunningEmulator, app: &Path, workspace: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_offbase"));
    command
        .args([
            "pull",
            "--api-url",
            &emulator.api_url(),
            "--app-id",
            emulator.app_id(),
        ])
        .arg("--schema-from")
        .arg(app)
        .arg("--workspace")
        .arg(workspace)
        .args([
            "--page-size",
            "400",
            "--concurrency",
            "2",
            "--checkpoint-interval-ms",
            "100",
        ])
        .env("BASE44_API_KEY", KEY)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

fn run_to_end(mut command: Command) -> Output {
    match command.output() {
        Ok(output) => output,
        Err(error) => panic!("cannot run offbase: {error}"),
    }
}

fn assert_key_absent(folder: &Path) {
    let mut stack = vec![folder.to_path_buf()];
    while let Some(path) = stack.pop() {
        if path.is_dir() {
            for entry in std::fs::read_dir(&path).into_iter().flatten().flatten() {
                stack.push(entry.path());
            }
        } else {
            let bytes = std::fs::read(&path).unwrap_or_default();
            let text = String::from_utf8_lossy(&bytes);
            assert!(!text.contains(KEY), "the API key is in {}", path.display());
        }
    }
}

#[test]
fn a_pull_killed_at_random_moments_ends_like_an_uninterrupted_one() {
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => panic!("{error}"),
    };
    let app = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    big_app(app.path(), 24_000);
    let emulator = runtime.block_on(async {
        let config = EmulatorConfig {
            app_dir: app.path().to_path_buf(),
            app_id: None,
            api_key: KEY.to_owned(),
            rate_limits: RateLimits::Off,
            // A little latency stretches the pull so the kills land mid-way.
            faults: Faults {
                latency: Duration::from_millis(20),
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

    let reference = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    let started = std::time::Instant::now();
    let output = run_to_end(pull_command(&emulator, app.path(), reference.path()));
    // Kills land within a sixth of an uninterrupted pull's time, so five of them (each run
    // resumes, and keeps at most what it checkpointed) cannot finish the pull, however fast or
    // slow this machine is today.
    let window = kill_window(started.elapsed());
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let expected =
        std::fs::read_to_string(reference.path().join("manifest.json")).unwrap_or_default();
    assert!(expected.contains("sha256"));

    let killed = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    let mut random = rand::rngs::StdRng::seed_from_u64(20261122);
    let mut kills = 0;
    for _ in 0..12 {
        let mut child = match pull_command(&emulator, app.path(), killed.path()).spawn() {
            Ok(child) => child,
            Err(error) => panic!("{error}"),
        };
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
        "only {kills} kills landed before the pull finished"
    );
    let output = run_to_end(pull_command(&emulator, app.path(), killed.path()));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(!stdout.contains(KEY) && !stderr.contains(KEY));
    let resumed = std::fs::read_to_string(killed.path().join("manifest.json")).unwrap_or_default();
    assert_eq!(
        resumed, expected,
        "the manifests differ after {kills} kills"
    );
    assert_key_absent(killed.path());
    assert_key_absent(reference.path());
    runtime.block_on(emulator.shutdown());
}

#[test]
fn a_wrong_key_exits_2_with_a_message_that_does_not_show_it() {
    let runtime = tokio::runtime::Runtime::new().unwrap_or_else(|error| panic!("{error}"));
    let app = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../samples/tasks");
    let emulator = runtime.block_on(async {
        let mut config = EmulatorConfig::new(&app, KEY);
        config.rate_limits = RateLimits::Off;
        offbase_emulator::start(
            config,
            "127.0.0.1:0".parse().unwrap_or_else(|_| unreachable!()),
        )
        .await
        .unwrap_or_else(|error| panic!("{error}"))
    });
    let workspace = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    let wrong = "wrong-key-7d1e0c55aa90";
    let mut command = pull_command(&emulator, &app, workspace.path());
    command.env("BASE44_API_KEY", wrong);
    let output = run_to_end(command);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("refused the key"), "{stderr}");
    assert!(!stderr.contains(wrong) && !stderr.contains(KEY), "{stderr}");
    runtime.block_on(emulator.shutdown());
}
