//! Concurrent runs over the binary: two loads into one schema, two migrates into one
//! workspace, a load and a sync beside another run on the same schema. One proceeds; the
//! others say who holds the lock; the row counts are exact (no row copied twice).

mod support;
use support::{database_url, forget, migrate_from_api, psql, samples, start_emulator, text};

use std::io::Write;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn offbase(arguments: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_offbase"));
    command
        .args(arguments)
        .env("DATABASE_URL", database_url())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

fn spawn(arguments: &[&str]) -> Child {
    offbase(arguments)
        .spawn()
        .unwrap_or_else(|error| panic!("offbase {arguments:?}: {error}"))
}

fn finish(child: Child) -> Output {
    child
        .wait_with_output()
        .unwrap_or_else(|error| panic!("{error}"))
}

/// Of two runs at once, exactly one went on and the other said who held the lock.
fn one_proceeded(outputs: &[Output; 2], lock: &str) {
    let codes: Vec<Option<i32>> = outputs.iter().map(|output| output.status.code()).collect();
    let refused: Vec<&Output> = outputs
        .iter()
        .filter(|output| output.status.code() == Some(2))
        .collect();
    let [refused] = refused.as_slice() else {
        panic!(
            "expected one run refused, got exits {codes:?}:\n{}",
            outputs
                .iter()
                .map(|output| text(&output.stderr))
                .collect::<Vec<_>>()
                .join("\n---\n")
        );
    };
    let stderr = text(&refused.stderr);
    assert!(
        stderr.contains(&format!("another offbase run holds {lock}")) && stderr.contains(", pid "),
        "{stderr}"
    );
    assert!(
        outputs
            .iter()
            .any(|output| matches!(output.status.code(), Some(0 | 1))),
        "{codes:?}"
    );
}

#[test]
fn two_loads_into_one_schema_at_once_doubled_every_row() {
    let folder = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    let workspace = folder.path().join("ws").display().to_string();
    let tasks = samples().join("tasks").display().to_string();
    let generated = offbase(&[
        "generate",
        "--schema-from",
        &tasks,
        "--records",
        "40000",
        "--workspace",
        &workspace,
        "--json",
    ])
    .output()
    .unwrap_or_else(|error| panic!("{error}"));
    assert!(generated.status.success(), "{}", text(&generated.stderr));
    let summary: serde_json::Value =
        serde_json::from_slice(&generated.stdout).unwrap_or_else(|error| panic!("{error}"));
    let pg_schema = format!("offbase_two_loads_{}", std::process::id());
    forget(&pg_schema);
    let load = ["load", "--workspace", &workspace, "--pg-schema", &pg_schema];
    // The same folder twice: the workspace's lock.
    let first = spawn(&load);
    let second = spawn(&load);
    one_proceeded(&[finish(first), finish(second)], "workspace");
    forget(&pg_schema);
    // A copy of the workspace beside it: the schema's lock.
    let copy = folder.path().join("copy").display().to_string();
    let copied = Command::new("cp")
        .args(["-r", &workspace, &copy])
        .status()
        .unwrap_or_else(|error| panic!("{error}"));
    assert!(copied.success());
    let first = spawn(&load);
    let second = spawn(&["load", "--workspace", &copy, "--pg-schema", &pg_schema]);
    one_proceeded(&[finish(first), finish(second)], "schema");
    // Every entity's rows: exactly the generated records, none twice.
    for entity in summary["entities"].as_array().into_iter().flatten() {
        let name = entity["entity"].as_str().unwrap_or_default();
        let records = entity["records"].as_u64().unwrap_or_default();
        let table = name.to_lowercase();
        let exists = psql(&format!(
            "SELECT to_regclass('\"{pg_schema}\".\"{table}\"') IS NOT NULL"
        ));
        if exists == "t" {
            assert_eq!(
                psql(&format!("SELECT count(*) FROM \"{pg_schema}\".\"{table}\"")),
                records.to_string(),
                "{name}"
            );
        }
    }
    // A second load afterwards does nothing and succeeds.
    let again = offbase(&load)
        .output()
        .unwrap_or_else(|error| panic!("{error}"));
    assert!(again.status.success(), "{}", text(&again.stderr));
    forget(&pg_schema);
}

#[test]
fn two_migrates_into_one_workspace_at_once_lost_a_part_file() {
    let folder = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    let workspace = folder.path().join("ws").display().to_string();
    let crm = samples().join("crm").display().to_string();
    let pg_schema = format!("offbase_two_migrates_{}", std::process::id());
    forget(&pg_schema);
    let migrate = [
        "migrate",
        "--from",
        &crm,
        "--workspace",
        &workspace,
        "--pg-schema",
        &pg_schema,
    ];
    let first = spawn(&migrate);
    let second = spawn(&migrate);
    let outputs = [finish(first), finish(second)];
    // The one that lost may have lost on the workspace or, once the other moved on to its
    // load, on the schema: either way it names the holder.
    let refused = outputs
        .iter()
        .find(|output| output.status.code() == Some(2))
        .map(|output| text(&output.stderr))
        .unwrap_or_default();
    let lock = if refused.contains("holds workspace") {
        "workspace"
    } else {
        "schema"
    };
    one_proceeded(&outputs, lock);
    // The sample's Deal file holds 3 records the load rejects; the rest are there once.
    let lines = std::fs::read_to_string(samples().join("crm/data/Deal.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter(|line| !line.trim().is_empty())
        .count();
    let rejected = std::fs::read_to_string(folder.path().join("ws/reports/rejects/Deal.jsonl"))
        .unwrap_or_default()
        .lines()
        .count();
    assert_eq!(
        psql(&format!("SELECT count(*) FROM \"{pg_schema}\".deal")),
        (lines - rejected).to_string()
    );
    forget(&pg_schema);
}

/// A psql session holding the target lock of a schema under a name, as another run would.
struct Holder {
    child: Child,
}

impl Holder {
    fn take(pg_schema: &str, name: &str) -> Holder {
        let mut child = Command::new("psql")
            .args(["-X", "-q", "-At"])
            .arg(database_url())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| panic!("psql: {error}"));
        if let Some(stdin) = child.stdin.as_mut() {
            let _ = writeln!(
                stdin,
                "SET application_name = '{name}'; SELECT pg_advisory_lock(44044, hashtext('{pg_schema}'));"
            );
        }
        // Wait until PostgreSQL shows the lock granted.
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(10) {
            let granted = psql(&format!(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted \
                 AND classid = 44044 AND objid = hashtext('{pg_schema}')::oid"
            ));
            if granted == "1" {
                return Holder { child };
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("the lock was not taken");
    }

    fn release(mut self) {
        if let Some(stdin) = self.child.stdin.as_mut() {
            let _ = writeln!(stdin, "\\q");
        }
        let _ = self.child.wait();
    }
}

#[test]
fn a_load_beside_another_run_on_one_schema_created_its_schema_anyway() {
    let folder = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    let workspace = folder.path().join("ws").display().to_string();
    let crm = samples().join("crm").display().to_string();
    let pg_schema = format!("offbase_beside_{}", std::process::id());
    forget(&pg_schema);
    let migrate = || {
        offbase(&[
            "migrate",
            "--from",
            &crm,
            "--workspace",
            &workspace,
            "--pg-schema",
            &pg_schema,
        ])
        .output()
        .unwrap_or_else(|error| panic!("{error}"))
    };
    let holder = Holder::take(
        &pg_schema,
        "offbase sync, pid 4242 on elsewhere, since 12:00:00Z",
    );
    let migrated = migrate();
    let stderr = text(&migrated.stderr);
    assert_eq!(migrated.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "another offbase run holds schema \"{pg_schema}\": offbase sync, pid 4242 on elsewhere, since 12:00:00Z"
        )),
        "{stderr}"
    );
    // Nothing was created while the lock was held.
    assert_eq!(
        psql(&format!(
            "SELECT count(*) FROM pg_namespace WHERE nspname = '{pg_schema}'"
        )),
        "0"
    );
    holder.release();
    let migrated = migrate();
    assert!(
        matches!(migrated.status.code(), Some(0 | 1)),
        "{}",
        text(&migrated.stderr)
    );
    forget(&pg_schema);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_load_beside_a_running_sync_says_the_sync_holds_the_schema() {
    use offbase_emulator::{Faults, RateLimits};
    const KEY: &str = "concurrent-sync-key-0123456789";
    // Slow answers, so a pass holds the schema most of the time.
    let emulator = start_emulator(
        &samples().join("crm"),
        KEY,
        RateLimits::Off,
        Faults {
            latency: Duration::from_millis(150),
            ..Faults::none()
        },
        None,
    )
    .await;
    let folder = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    let workspace = folder.path().join("ws").display().to_string();
    let pg_schema = format!("offbase_load_beside_sync_{}", std::process::id());
    forget(&pg_schema);
    let with_key = |arguments: &[&str]| {
        let mut command = offbase(arguments);
        command.env("BASE44_API_KEY", KEY);
        command
    };
    migrate_from_api(
        &emulator,
        KEY,
        &samples().join("crm"),
        &workspace,
        &pg_schema,
    );
    let count = || psql(&format!("SELECT count(*) FROM \"{pg_schema}\".deal"));
    let before = count();
    let sync = with_key(&[
        "sync",
        "--workspace",
        &workspace,
        "--pg-schema",
        &pg_schema,
        "--requests-per-minute",
        "0",
        "--interval",
        "10ms",
    ])
    .spawn()
    .unwrap_or_else(|error| panic!("{error}"));
    let sync_pid = sync.id();
    let mut refusals = 0;
    let started = Instant::now();
    while refusals == 0 && started.elapsed() < Duration::from_secs(60) {
        let output = offbase(&["load", "--workspace", &workspace, "--pg-schema", &pg_schema])
            .output()
            .unwrap_or_else(|error| panic!("{error}"));
        let stderr = text(&output.stderr);
        match output.status.code() {
            Some(2) => {
                assert!(
                    stderr.contains(&format!(
                        "another offbase run holds schema \"{pg_schema}\": offbase sync, pid {sync_pid} on"
                    )),
                    "{stderr}"
                );
                refusals += 1;
            }
            // Between two passes: the load finds its work done and says so.
            Some(0) => {}
            other => panic!("load exited {other:?}: {stderr}"),
        }
    }
    let _ = Command::new("kill").arg(sync_pid.to_string()).status();
    let stopped = sync
        .wait_with_output()
        .unwrap_or_else(|error| panic!("{error}"));
    assert!(stopped.status.success(), "{}", text(&stopped.stderr));
    assert_eq!(refusals, 1, "the load never met the sync");
    assert_eq!(count(), before, "rows changed though nothing was written");
    emulator.shutdown().await;
    forget(&pg_schema);
}
